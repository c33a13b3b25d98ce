"""Incoming WeChat Pay v3 notifications: what WeChatPayProvider accepts and what it refuses.

Notifications are built on "WeChat Pay's side" by shop.payments.sandbox.notify (signed with the
platform key, resource encrypted with the APIv3 key) and checked by the SDK inside the provider.
"""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import RequestFactory

from shop.payments import get_payment_provider
from shop.payments.base import InvalidNotification
from shop.payments.sandbox.keys import load_or_create_credentials
from shop.payments.sandbox.notify import (
    build_payment_notification,
    build_refund_notification,
    encrypt_resource,
    signed_headers,
)


@pytest.fixture
def provider():
    return get_payment_provider()


def payment(**overrides):
    arguments = {
        "out_trade_no": "WS20260101000001",
        "transaction_id": "4200000001202601010000000001",
        "amount_fen": 12800,
    }
    arguments.update(overrides)
    return build_payment_notification(**arguments)


def refund(**overrides):
    arguments = {
        "out_refund_no": "RF1",
        "refund_id": "50000000012026010100000000001",
        "out_trade_no": "WS20260101000001",
        "transaction_id": "4200000001202601010000000001",
        "amount_fen": 3000,
        "total_fen": 12800,
    }
    arguments.update(overrides)
    return build_refund_notification(**arguments)


def signed(envelope: dict, **header_overrides) -> tuple[dict, bytes]:
    """A body of our choosing, correctly signed with the platform key."""
    body = json.dumps(envelope, ensure_ascii=False).encode()
    headers = signed_headers(body)
    headers.update(header_overrides)
    return headers, body


def envelope_with(
    resource: dict, *, event_type="TRANSACTION.SUCCESS", original_type="transaction", apiv3_key=None
):
    credentials = load_or_create_credentials()
    return {
        "id": "EV-1",
        "create_time": "2026-01-01T10:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": encrypt_resource(
            resource, original_type=original_type, apiv3_key=apiv3_key or credentials.apiv3_key
        ),
    }


def valid_transaction_resource(**overrides) -> dict:
    credentials = load_or_create_credentials()
    resource = {
        "mchid": credentials.mchid,
        "appid": credentials.appid,
        "out_trade_no": "WS20260101000001",
        "transaction_id": "4200000001202601010000000001",
        "trade_type": "MWEB",
        "trade_state": "SUCCESS",
        "success_time": "2026-01-01T10:00:00+08:00",
        "payer": {"openid": "o1"},
        "amount": {"total": 12800, "payer_total": 12800, "currency": "CNY"},
    }
    resource.update(overrides)
    return resource


# --- Accepted ----------------------------------------------------------------------------------


def test_a_genuine_payment_notification_is_verified_and_decrypted(provider):
    headers, body = payment(payer_total_fen=12000, payer_openid="oBuyer1")

    notification = provider.parse_payment_notification(headers=headers, body=body)

    assert notification.out_trade_no == "WS20260101000001"
    assert notification.transaction_id == "4200000001202601010000000001"
    assert notification.amount_fen == 12800
    assert notification.payer_total_fen == 12000
    assert notification.trade_state == "SUCCESS"
    assert notification.payer_openid == "oBuyer1"
    assert notification.success_time.utcoffset().total_seconds() == 8 * 3600
    assert notification.raw["resource"]["amount"]["total"] == 12800


@pytest.mark.parametrize("style", ["plain", "lowercase", "django_meta", "django_headers"])
def test_headers_are_accepted_in_every_form_a_view_may_pass(provider, style):
    headers, body = payment()
    if style == "lowercase":
        headers = {key.lower(): value for key, value in headers.items()}
    elif style.startswith("django"):
        request = RequestFactory().post(
            "/payments/notify/wechatpay/", data=body, content_type="application/json", headers=headers
        )
        headers = request.META if style == "django_meta" else request.headers
        body = request.body

    assert provider.parse_payment_notification(headers=headers, body=body).amount_fen == 12800


def test_a_timestamp_inside_the_window_is_accepted(provider):
    headers, body = payment(timestamp=int(time.time()) - 200)
    assert provider.parse_payment_notification(headers=headers, body=body).transaction_id


def test_a_genuine_refund_notification_is_verified_and_decrypted(provider):
    headers, body = refund()

    notification = provider.parse_refund_notification(headers=headers, body=body)

    assert notification.out_refund_no == "RF1"
    assert notification.refund_id == "50000000012026010100000000001"
    assert notification.out_trade_no == "WS20260101000001"
    assert notification.transaction_id == "4200000001202601010000000001"
    assert notification.refund_status == "SUCCESS"
    assert notification.amount_fen == 3000
    assert notification.success_time is not None


def test_a_refund_that_failed_is_reported_as_such(provider):
    headers, body = refund(refund_status="ABNORMAL")

    notification = provider.parse_refund_notification(headers=headers, body=body)

    assert notification.refund_status == "ABNORMAL" and not notification.succeeded
    assert notification.success_time is None


# --- Refused -----------------------------------------------------------------------------------


def refused(provider, headers, body, *, kind="payment") -> str:
    parse = provider.parse_payment_notification if kind == "payment" else provider.parse_refund_notification
    with pytest.raises(InvalidNotification) as error:
        parse(headers=headers, body=body)
    assert error.value.status_code == 400
    return error.value.message


def test_a_tampered_body_is_refused(provider):
    headers, body = payment()
    tampered = body.replace("支付成功".encode(), "支付成功!".encode())
    assert tampered != body
    assert "signature" in refused(provider, headers, tampered)


def test_a_signature_from_another_key_is_refused(provider):
    headers, body = payment()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n"
    headers["Wechatpay-Signature"] = base64.b64encode(
        stranger.sign(message, padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    assert "signature" in refused(provider, headers, body)


def test_a_signature_for_another_nonce_is_refused(provider):
    headers, body = payment()
    headers["Wechatpay-Nonce"] = "another-nonce"
    refused(provider, headers, body)


@pytest.mark.parametrize("signature", ["", "not base64 at all!", base64.b64encode(b"short").decode()])
def test_a_garbage_signature_is_refused(provider, signature):
    headers, body = payment()
    headers["Wechatpay-Signature"] = signature
    refused(provider, headers, body)


def test_an_unknown_key_serial_is_refused_without_fetching_certificates(provider):
    headers, body = payment()
    headers["Wechatpay-Serial"] = "PUB_KEY_ID_0114999999999999999999999999"
    assert "serial" in refused(provider, headers, body)
    headers["Wechatpay-Serial"] = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    refused(provider, headers, body)


@pytest.mark.parametrize("age_seconds", [301, 3600, -301, -3600])
def test_a_stale_or_future_timestamp_is_refused_as_a_replay(provider, age_seconds):
    headers, body = payment(timestamp=int(time.time()) - age_seconds)
    assert "window" in refused(provider, headers, body)


def test_the_replay_window_follows_the_setting(settings):
    import copy

    config = copy.deepcopy(settings.WECHATPAY)
    config["TIMESTAMP_TOLERANCE_SECONDS"] = 30
    settings.WECHATPAY = config
    headers, body = payment(timestamp=int(time.time()) - 60)
    refused(get_payment_provider(), headers, body)


@pytest.mark.parametrize(
    "missing", ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"]
)
def test_a_missing_header_is_refused(provider, missing):
    headers, body = payment()
    del headers[missing]
    refused(provider, headers, body)


def test_another_signature_type_is_refused(provider):
    headers, body = payment()
    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    refused(provider, headers, body)


def test_a_non_numeric_timestamp_is_refused(provider):
    headers, body = payment()
    headers["Wechatpay-Timestamp"] = "yesterday"
    refused(provider, headers, body)


@pytest.mark.parametrize("body", [b"", b"garbage", b"[1, 2, 3]", b"\xff\xfe\x00", b'{"resource": "x"}'])
def test_a_garbage_body_even_correctly_signed_is_refused(provider, body):
    headers = signed_headers(body)
    refused(provider, headers, body)


def test_a_resource_encrypted_with_another_apiv3_key_is_refused(provider):
    headers, body = signed(envelope_with(valid_transaction_resource(), apiv3_key="0" * 32))
    assert "encryption" in refused(provider, headers, body)


def test_a_corrupted_ciphertext_is_refused(provider):
    envelope = envelope_with(valid_transaction_resource())
    ciphertext = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    ciphertext[0] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    headers, body = signed(envelope)
    refused(provider, headers, body)


def test_an_unencrypted_resource_is_refused(provider):
    envelope = envelope_with(valid_transaction_resource())
    envelope["resource_type"] = "plain"
    headers, body = signed(envelope)
    refused(provider, headers, body)


def test_a_notification_for_another_merchant_or_app_is_refused(provider):
    headers, body = payment(mchid="1900000001")
    assert "another merchant" in refused(provider, headers, body)
    headers, body = payment(appid="wx0000000000000000")
    assert "another merchant" in refused(provider, headers, body)
    headers, body = refund(mchid="1900000001")
    assert "another merchant" in refused(provider, headers, body, kind="refund")


@pytest.mark.parametrize(
    "change",
    [
        {"transaction_id": ""},
        {"out_trade_no": None},
        {"amount": {"payer_total": 1}},
        {"amount": {"total": "12800"}},
        {"amount": {"total": -1}},
        {"amount": {"total": True}},
        {"success_time": "yesterday"},
    ],
)
def test_a_payment_resource_lacking_fields_is_refused(provider, change):
    headers, body = signed(envelope_with(valid_transaction_resource(**change)))
    refused(provider, headers, body)


def test_a_payment_parser_refuses_refund_notifications_and_back(provider):
    headers, body = refund()
    assert "Not a payment" in refused(provider, headers, body)
    headers, body = payment()
    assert "Not a refund" in refused(provider, headers, body, kind="refund")
