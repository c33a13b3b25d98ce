"""Notifications as WeChat Pay v3 sends them, built and signed on WeChat Pay's side.

The body is the v3 envelope (`id`, `create_time`, `event_type`, `resource_type`, `summary`) around a
resource encrypted with AEAD_AES_256_GCM under the merchant's APIv3 key; the headers carry an
RSA-SHA256 signature of "timestamp\\nnonce\\nbody\\n" made with the platform private key, and the
serial of the "WeChat Pay public key" that verifies it.

Written here directly with `cryptography`, independently of the SDK that checks it, so tests show
the SDK verifying something it did not produce. Tests use the builders to tamper with a body,
signature or timestamp; the sandbox views use them to deliver real notifications.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import string
import time
import uuid
from datetime import datetime

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils import timezone

from shop.payments.sandbox.keys import SandboxCredentials, load_or_create_credentials
from shop.payments.wechatpay import SIGNATURE_TYPE, format_wechat_time

logger = logging.getLogger(__name__)

_NONCE_ALPHABET = string.ascii_letters + string.digits


def _nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def sign_message(credentials: SandboxCredentials, *, timestamp: str, nonce: str, body: bytes) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) signature over WeChat's "timestamp\\nnonce\\nbody\\n"."""
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    signature = credentials.platform_private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signed_headers(
    body: bytes, *, timestamp: int | None = None, credentials: SandboxCredentials | None = None
) -> dict[str, str]:
    """The Wechatpay-* headers WeChat Pay puts on a notification or an API response with `body`."""
    credentials = credentials or load_or_create_credentials()
    stamp = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = _nonce()
    return {
        "Content-Type": "application/json",
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": credentials.public_key_id,
        "Wechatpay-Signature": sign_message(credentials, timestamp=stamp, nonce=nonce, body=body),
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        "Wechatpay-Timestamp": stamp,
    }


def encrypt_resource(
    content: dict, *, original_type: str, apiv3_key: str, associated_data: str | None = None
) -> dict:
    """The `resource` object: `content` as JSON, AES-256-GCM encrypted with the APIv3 key."""
    associated_data = original_type if associated_data is None else associated_data
    nonce = _nonce(12)
    plaintext = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def _envelope(*, event_type: str, summary: str, resource: dict) -> bytes:
    body = {
        "id": str(uuid.uuid4()),
        "create_time": format_wechat_time(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def build_payment_notification(
    *,
    out_trade_no: str,
    transaction_id: str,
    amount_fen: int,
    mchid: str | None = None,
    appid: str | None = None,
    trade_state: str = "SUCCESS",
    timestamp: int | None = None,
    payer_openid: str = "oSandboxPayer0000000000000000",
    payer_total_fen: int | None = None,
    success_time: datetime | None = None,
    credentials: SandboxCredentials | None = None,
    currency: str = "CNY",
    trade_type: str = "MWEB",
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a TRANSACTION.SUCCESS notification. mchid/appid default to the sandbox's;
    currency and trade_type are what an H5 payment in yuan reports (tests change them to forge)."""
    credentials = credentials or load_or_create_credentials()
    transaction = {
        "mchid": credentials.mchid if mchid is None else mchid,
        "appid": credentials.appid if appid is None else appid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": trade_type,
        "trade_state": trade_state,
        "trade_state_desc": "支付成功" if trade_state == "SUCCESS" else trade_state,
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": format_wechat_time(success_time or timezone.now()),
        "payer": {"openid": payer_openid},
        "amount": {
            "total": amount_fen,
            "payer_total": amount_fen if payer_total_fen is None else payer_total_fen,
            "currency": currency,
            "payer_currency": currency,
        },
    }
    resource = encrypt_resource(transaction, original_type="transaction", apiv3_key=credentials.apiv3_key)
    body = _envelope(event_type="TRANSACTION.SUCCESS", summary="支付成功", resource=resource)
    return signed_headers(body, timestamp=timestamp, credentials=credentials), body


def build_combined_notification(
    content: dict, *, timestamp: int | None = None, credentials: SandboxCredentials | None = None
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a combined payment's TRANSACTION.SUCCESS notification: `content` is the
    decrypted resource (combine_out_trade_no, sub_orders with their own transaction ids and amounts,
    combine_payer_info), as the combined query answers it. Tests change it to tamper."""
    credentials = credentials or load_or_create_credentials()
    resource = encrypt_resource(content, original_type="transaction", apiv3_key=credentials.apiv3_key)
    body = _envelope(event_type="TRANSACTION.SUCCESS", summary="支付成功", resource=resource)
    return signed_headers(body, timestamp=timestamp, credentials=credentials), body


def build_refund_notification(
    *,
    out_refund_no: str,
    refund_id: str,
    out_trade_no: str,
    transaction_id: str,
    amount_fen: int,
    total_fen: int,
    refund_status: str = "SUCCESS",
    mchid: str | None = None,
    timestamp: int | None = None,
    success_time: datetime | None = None,
    credentials: SandboxCredentials | None = None,
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a REFUND.<refund_status> notification. mchid defaults to the sandbox's."""
    credentials = credentials or load_or_create_credentials()
    refund = {
        "mchid": credentials.mchid if mchid is None else mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": out_refund_no,
        "refund_id": refund_id,
        "refund_status": refund_status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": total_fen,
            "refund": amount_fen,
            "payer_total": total_fen,
            "payer_refund": amount_fen,
        },
    }
    if refund_status == "SUCCESS":
        refund["success_time"] = format_wechat_time(success_time or timezone.now())
    summaries = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}
    resource = encrypt_resource(refund, original_type="refund", apiv3_key=credentials.apiv3_key)
    body = _envelope(
        event_type=f"REFUND.{refund_status}", summary=summaries.get(refund_status, "退款"), resource=resource
    )
    return signed_headers(body, timestamp=timestamp, credentials=credentials), body


def deliver(
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    attempts: int = 3,
    timeout: float = 5.0,
    pause_seconds: float = 0.3,
) -> bool:
    """POST a notification to the merchant, retrying on errors and non-2xx answers as WeChat Pay
    does (here a few quick attempts instead of WeChat's hours-long schedule). True once accepted."""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, data=body, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            logger.warning("sandbox notification to %s, attempt %s: %s", url, attempt, exc)
        else:
            if 200 <= response.status_code < 300:
                return True
            logger.warning(
                "sandbox notification to %s, attempt %s: HTTP %s %s",
                url,
                attempt,
                response.status_code,
                response.text[:200],
            )
        if attempt < attempts:
            time.sleep(pause_seconds * attempt)
    return False
