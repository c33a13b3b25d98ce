"""Sandbox credentials: generated once, shaped like real ones, safe when processes race to create them."""

import json
import multiprocessing
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from shop.payments.sandbox.keys import CREDENTIALS_FILE, load_or_create_credentials


def test_credentials_are_created_once_and_then_reused(tmp_path):
    directory = tmp_path / "nested" / "sandbox"

    first = load_or_create_credentials(directory)
    second = load_or_create_credentials(directory)

    assert first == second
    assert [path.name for path in directory.iterdir()] == [CREDENTIALS_FILE]
    assert (directory / CREDENTIALS_FILE).stat().st_mode & 0o777 == 0o600
    assert json.loads((directory / CREDENTIALS_FILE).read_text())["public_key_id"] == first.public_key_id


def test_credentials_look_like_wechat_pays_and_the_keys_fit_together(tmp_path):
    credentials = load_or_create_credentials(tmp_path)

    assert re.fullmatch(r"19\d{8}", credentials.mchid)
    assert re.fullmatch(r"wx[0-9a-f]{16}", credentials.appid)
    assert re.fullmatch(r"PUB_KEY_ID_0114\d{24}", credentials.public_key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", credentials.apiv3_key)
    certificate = x509.load_pem_x509_certificate(credentials.merchant_certificate_pem.encode())
    assert f"{certificate.serial_number:X}" == credentials.merchant_cert_serial_no
    assert re.fullmatch(r"[0-9A-F]{40}", credentials.merchant_cert_serial_no)
    merchant_key = load_pem_private_key(credentials.merchant_private_key_pem.encode(), password=None)
    assert merchant_key.key_size == 2048
    assert merchant_key.public_key().public_numbers() == certificate.public_key().public_numbers()
    platform_public = load_pem_public_key(credentials.platform_public_key_pem.encode())
    signature = credentials.platform_private_key.sign(b"x", padding.PKCS1v15(), hashes.SHA256())
    platform_public.verify(signature, b"x", padding.PKCS1v15(), hashes.SHA256())


def test_two_directories_get_different_credentials(tmp_path):
    assert load_or_create_credentials(tmp_path / "a") != load_or_create_credentials(tmp_path / "b")


def _create_in_child(directory: str, barrier, results) -> None:
    barrier.wait()
    results.put(load_or_create_credentials(directory).public_key_id)


@pytest.mark.parametrize("attempt", range(2))
def test_processes_racing_to_create_them_all_end_up_with_the_same_keys(tmp_path, attempt):
    context = multiprocessing.get_context("spawn")
    workers = 6
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_create_in_child, args=(str(tmp_path), barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0

    ids = {results.get(timeout=5) for _ in range(workers)}

    assert len(ids) == 1
    assert ids == {load_or_create_credentials(tmp_path).public_key_id}
    # Losers leave nothing behind: no temporary files, one complete credentials file.
    assert [path.name for path in tmp_path.iterdir()] == [CREDENTIALS_FILE]
