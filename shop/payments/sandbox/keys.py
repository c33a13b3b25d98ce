"""The sandbox's credentials, generated locally on first use.

Both sides of a WeChat Pay v3 exchange get their keys here: the merchant's RSA key and self-signed
certificate (whose serial number is the merchant `cert_serial_no`), the platform key pair that WeChat
Pay would hold (published to merchants as the "WeChat Pay public key" with a `PUB_KEY_ID_...` id),
the APIv3 key, and a merchant number and app id.

Everything lives in one JSON file in WECHATPAY["SANDBOX_DIR"]. Several processes may start at once
(web workers, Celery, test workers), so the file is written under a temporary name and hard-linked
into place: the first process to link wins and every other one discards its own keys and reads the
winner's. A reader therefore never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import string
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

CREDENTIALS_FILE = "credentials.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SandboxCredentials:
    mchid: str
    appid: str
    merchant_private_key_pem: str
    merchant_certificate_pem: str
    merchant_cert_serial_no: str
    platform_private_key_pem: str
    platform_public_key_pem: str
    public_key_id: str
    apiv3_key: str

    @cached_property
    def merchant_public_key(self):
        return x509.load_pem_x509_certificate(self.merchant_certificate_pem.encode()).public_key()

    @cached_property
    def platform_private_key(self):
        return serialization.load_pem_private_key(self.platform_private_key_pem.encode(), password=None)

    def as_dict(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "mchid": self.mchid,
            "appid": self.appid,
            "merchant_private_key_pem": self.merchant_private_key_pem,
            "merchant_certificate_pem": self.merchant_certificate_pem,
            "merchant_cert_serial_no": self.merchant_cert_serial_no,
            "platform_private_key_pem": self.platform_private_key_pem,
            "platform_public_key_pem": self.platform_public_key_pem,
            "public_key_id": self.public_key_id,
            "apiv3_key": self.apiv3_key,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SandboxCredentials:
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        return cls(**fields)


def sandbox_dir() -> Path:
    configured = settings.WECHATPAY.get("SANDBOX_DIR") or str(Path(settings.VAR_DIR) / "wechatpay-sandbox")
    return Path(configured)


def _private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def generate_credentials() -> SandboxCredentials:
    """Fresh keys and identifiers, shaped like the real ones (not written anywhere)."""
    merchant_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mchid = "19" + "".join(secrets.choice(string.digits) for _ in range(8))
    # A merchant API certificate serial is 40 hex digits; x509 serials must stay below 2**159.
    serial = secrets.randbits(159) | (1 << 156)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "WeChat Pay sandbox merchant"),
            x509.NameAttribute(NameOID.COMMON_NAME, mchid),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(merchant_key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(merchant_key, hashes.SHA256())
    )
    alphabet = string.ascii_letters + string.digits
    return SandboxCredentials(
        mchid=mchid,
        appid="wx" + secrets.token_hex(8),
        merchant_private_key_pem=_private_key_pem(merchant_key),
        merchant_certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        merchant_cert_serial_no=f"{serial:X}",
        platform_private_key_pem=_private_key_pem(platform_key),
        platform_public_key_pem=platform_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        public_key_id="PUB_KEY_ID_0114" + "".join(secrets.choice(string.digits) for _ in range(24)),
        apiv3_key="".join(secrets.choice(alphabet) for _ in range(32)),
    )


def _read(path: Path) -> SandboxCredentials:
    return SandboxCredentials.from_dict(json.loads(path.read_text(encoding="utf-8")))


_loaded: dict[str, tuple[float, SandboxCredentials]] = {}


def load_or_create_credentials(directory: Path | None = None) -> SandboxCredentials:
    """The sandbox credentials in `directory` (default: WECHATPAY["SANDBOX_DIR"]), created on first use."""
    directory = Path(directory) if directory is not None else sandbox_dir()
    path = directory / CREDENTIALS_FILE
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        modified = None
    if modified is not None:
        cached = _loaded.get(str(path))
        if cached and cached[0] == modified:
            return cached[1]
        credentials = _read(path)
        _loaded[str(path)] = (modified, credentials)
        return credentials

    directory.mkdir(parents=True, exist_ok=True)
    credentials = generate_credentials()
    handle, temporary = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(credentials.as_dict(), out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        # link() fails if the name exists, unlike rename(): the first complete file wins.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return load_or_create_credentials(directory)
