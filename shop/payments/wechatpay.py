"""WeChat Pay API v3 through the maintained `wechatpayv3` SDK.

Every request, every response-signature check and every notification's signature check and
AES-256-GCM decryption goes through the SDK, so the sandbox exercises the exact production path.
On top of the SDK this module checks what the SDK leaves to the merchant: the notification's
timestamp window (replays), that the notification is signed with our WeChat Pay public key, and
that it is addressed to our merchant number and app id.

Verification uses the "WeChat Pay public key" (`public_key` + `public_key_id`), not downloaded
platform certificates: a notification signed under any other serial is refused.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from wechatpayv3 import WeChatPay, WeChatPayType

from shop.payments.base import (
    CombinedPaymentNotification,
    InvalidNotification,
    PaymentNotification,
    PaymentProviderError,
    PaymentRefused,
    PrepayResult,
    RefundNotification,
    RefundResult,
    RefundState,
    SubOrder,
    TransactionAlreadyPaid,
    TransactionNotFound,
    TransactionState,
    TransferState,
)

logger = logging.getLogger(__name__)

OFFICIAL_GATEWAY = "https://api.mch.weixin.qq.com"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
CURRENCY = "CNY"
# We prepay H5 (WeChatPayType.H5); WeChat reports those payments with trade_type MWEB.
NOTIFIED_TRADE_TYPE = "MWEB"
CHINA_TIME = ZoneInfo("Asia/Shanghai")
# Connect and read timeouts for calls to WeChat Pay, in seconds.
REQUEST_TIMEOUT = (3, 10)
_NOTIFICATION_HEADERS = {
    "SIGNATURE": "Wechatpay-Signature",
    "TIMESTAMP": "Wechatpay-Timestamp",
    "NONCE": "Wechatpay-Nonce",
    "SERIAL": "Wechatpay-Serial",
    "SIGNATURE-TYPE": "Wechatpay-Signature-Type",
}


def normalize_notification_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The Wechatpay-* headers under their canonical names, whatever form they came in:
    Django's request.META (HTTP_WECHATPAY_SIGNATURE), request.headers, or any letter case."""
    found: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        name = key.upper().replace("_", "-")
        if name.startswith("HTTP-"):
            name = name[len("HTTP-") :]
        if name.startswith("WECHATPAY-"):
            canonical = _NOTIFICATION_HEADERS.get(name[len("WECHATPAY-") :])
            if canonical:
                found[canonical] = value.strip()
    return found


def parse_wechat_time(value: str | None) -> datetime | None:
    """WeChat's RFC 3339 times ("2018-06-08T10:34:56+08:00") as aware datetimes."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return parsed


def format_wechat_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TIME).isoformat(timespec="seconds")


class WeChatPayProvider:
    """PaymentProvider for WeChat Pay v3 H5 payments (shoppers pay from a phone browser)."""

    name = "wechatpay"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        cert_serial_no: str,
        private_key_pem: str,
        apiv3_key: str,
        public_key_pem: str,
        public_key_id: str,
        gateway: str,
        notify_url: str,
        refund_notify_url: str,
        timestamp_tolerance_seconds: int = 300,
        transfer_notify_url: str = "",
        transfer_scene_id: str = "1005",
        request_timeout: tuple[float, float] = REQUEST_TIMEOUT,
    ):
        self.mchid = mchid
        self.appid = appid
        self.public_key_id = public_key_id
        self.gateway = gateway.rstrip("/")
        self.notify_url = notify_url
        self.refund_notify_url = refund_notify_url
        self.timestamp_tolerance_seconds = timestamp_tolerance_seconds
        self.transfer_notify_url = transfer_notify_url
        self.transfer_scene_id = transfer_scene_id
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.H5,
            mchid=mchid,
            private_key=private_key_pem,
            cert_serial_no=cert_serial_no,
            appid=appid,
            apiv3_key=apiv3_key,
            notify_url=notify_url,
            # No SDK logger: at DEBUG it would log decrypted notifications (payer openids).
            timeout=request_timeout,
            public_key=public_key_pem,
            public_key_id=public_key_id,
        )
        # The SDK keeps its base address in one attribute; the sandbox (or a proxy) replaces it.
        self._client._core._gate_way = self.gateway

    @classmethod
    def from_settings(cls) -> WeChatPayProvider:
        """Built from settings.WECHATPAY: real credentials when MCHID is set, else the sandbox's."""
        config = settings.WECHATPAY
        common = {
            "notify_url": config["NOTIFY_URL"],
            "refund_notify_url": config["REFUND_NOTIFY_URL"],
            "timestamp_tolerance_seconds": int(config.get("TIMESTAMP_TOLERANCE_SECONDS", 300)),
            "transfer_notify_url": config.get("TRANSFER_NOTIFY_URL")
            or f"{settings.SITE_URL}/payments/notify/wechatpay/transfer/",
            "transfer_scene_id": str(config.get("TRANSFER_SCENE_ID") or "1005"),
            "request_timeout": (
                REQUEST_TIMEOUT[0],
                float(config.get("READ_TIMEOUT_SECONDS") or REQUEST_TIMEOUT[1]),
            ),
        }
        if config.get("MCHID"):
            required = [
                "APPID",
                "CERT_SERIAL_NO",
                "PRIVATE_KEY_PATH",
                "APIV3_KEY",
                "PUBLIC_KEY_PATH",
                "PUBLIC_KEY_ID",
            ]
            missing = [f"WECHATPAY_{name}" for name in required if not config.get(name)]
            if missing:
                raise ImproperlyConfigured(
                    "WECHATPAY_MCHID is set, so real WeChat Pay is used, but these are empty: "
                    + ", ".join(missing)
                )
            return cls(
                mchid=config["MCHID"],
                appid=config["APPID"],
                cert_serial_no=config["CERT_SERIAL_NO"],
                private_key_pem=Path(config["PRIVATE_KEY_PATH"]).read_text(encoding="utf-8"),
                apiv3_key=config["APIV3_KEY"],
                public_key_pem=Path(config["PUBLIC_KEY_PATH"]).read_text(encoding="utf-8"),
                public_key_id=config["PUBLIC_KEY_ID"],
                gateway=config.get("GATEWAY") or OFFICIAL_GATEWAY,
                **common,
            )

        if not config.get("SANDBOX"):
            raise ImproperlyConfigured(
                "WeChat Pay has no merchant credentials (WECHATPAY_MCHID and the rest) and the sandbox is "
                "off. Set the credentials for real payments, or WECHATPAY_SANDBOX=1 for a demo."
            )
        from shop.payments.sandbox.keys import load_or_create_credentials

        sandbox = load_or_create_credentials()
        return cls(
            mchid=sandbox.mchid,
            appid=sandbox.appid,
            cert_serial_no=sandbox.merchant_cert_serial_no,
            private_key_pem=sandbox.merchant_private_key_pem,
            apiv3_key=sandbox.apiv3_key,
            public_key_pem=sandbox.platform_public_key_pem,
            public_key_id=sandbox.public_key_id,
            gateway=config.get("GATEWAY") or f"{settings.SITE_URL}/sandbox/wechatpay",
            **common,
        )

    # --- Calls to WeChat Pay ---------------------------------------------------------------------

    def _call(self, what: str, method, /, **kwargs) -> tuple[int, dict]:
        """Run one SDK call; return (status, JSON body) for 2xx, raise a PaymentProviderError otherwise."""
        try:
            status_code, message = method(**kwargs)
        except requests.RequestException as exc:
            logger.warning("WeChat Pay %s: unreachable at %s: %s", what, self.gateway, exc)
            raise PaymentProviderError(
                f"WeChat Pay could not be reached ({what}). Please try again shortly."
            ) from exc
        except Exception as exc:  # the SDK raises bare Exception, e.g. for a bad response signature
            logger.error("WeChat Pay %s failed in the SDK: %s", what, exc)
            raise PaymentProviderError(f"WeChat Pay's answer to {what} could not be trusted.") from exc

        if isinstance(message, bytes):
            message = message.decode("utf-8", errors="replace")
        try:
            body = json.loads(message) if message else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if 200 <= status_code < 300:
            return status_code, body

        provider_code = str(body.get("code") or "")
        provider_message = str(body.get("message") or f"HTTP {status_code}")
        text = f"WeChat Pay refused {what}: {provider_message} ({provider_code or status_code})"
        logger.warning("%s", text)
        if status_code == 404 or provider_code in {"ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"}:
            raise TransactionNotFound(text, provider_code=provider_code)
        if provider_code == "ORDERPAID":
            raise TransactionAlreadyPaid(text, provider_code=provider_code)
        if status_code >= 500 or status_code == 429 or provider_code in {"SYSTEM_ERROR", "FREQUENCY_LIMITED"}:
            raise PaymentProviderError(text, provider_code=provider_code)
        if status_code == 401:
            # Our own signature was refused: a configuration problem, not the shopper's.
            raise PaymentProviderError(text, provider_code=provider_code or "SIGN_ERROR")
        raise PaymentRefused(text, provider_code=provider_code)

    def prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        client_ip: str,
        expires_at: datetime,
        return_url: str,
    ) -> PrepayResult:
        _, body = self._call(
            "prepay",
            self._client.pay,
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": int(amount_fen), "currency": "CNY"},
            time_expire=format_wechat_time(expires_at),
            scene_info={"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}},
            notify_url=self.notify_url,
            pay_type=WeChatPayType.H5,
        )
        return self._pay_url(body, return_url)

    def _pay_url(self, body: dict, return_url: str) -> PrepayResult:
        h5_url = body.get("h5_url")
        if not isinstance(h5_url, str) or not h5_url:
            raise PaymentProviderError("WeChat Pay answered the prepay without an h5_url.")
        # H5 prepay answers only with the cashier address; the prepay id is one of its parameters.
        prepay_id = (parse_qs(urlsplit(h5_url).query).get("prepay_id") or [""])[0]
        separator = "&" if urlsplit(h5_url).query else "?"
        pay_url = f"{h5_url}{separator}redirect_url={quote(return_url, safe='')}" if return_url else h5_url
        return PrepayResult(prepay_id=prepay_id, pay_url=pay_url)

    def combine_prepay(
        self,
        *,
        combine_out_trade_no: str,
        sub_orders: Sequence[SubOrder],
        client_ip: str,
        expires_at: datetime,
        return_url: str,
    ) -> PrepayResult:
        """Combined H5 payment (合单支付, /v3/combine-transactions/h5): one cashier trip pays every
        sub-order; each keeps its own out_trade_no, transaction id and refunds."""
        _, body = self._call(
            "combined prepay",
            self._client.combine_pay,
            combine_out_trade_no=combine_out_trade_no,
            sub_orders=[
                {
                    "mchid": self.mchid,
                    "attach": sub.out_trade_no,
                    "amount": {"total_amount": int(sub.amount_fen), "currency": "CNY"},
                    "out_trade_no": sub.out_trade_no,
                    "description": sub.description[:127],
                }
                for sub in sub_orders
            ],
            scene_info={"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}},
            time_expire=format_wechat_time(expires_at),
            notify_url=self.notify_url,
            pay_type=WeChatPayType.H5,
        )
        return self._pay_url(body, return_url)

    def combine_query(self, *, combine_out_trade_no: str) -> list[TransactionState]:
        _, body = self._call(
            "combined query", self._client.combine_query, combine_out_trade_no=combine_out_trade_no
        )
        try:
            return [
                TransactionState(
                    out_trade_no=str(sub["out_trade_no"]),
                    transaction_id=sub.get("transaction_id") or None,
                    trade_state=str(sub["trade_state"]),
                    amount_fen=int(sub.get("amount", {}).get("total_amount", 0)),
                )
                for sub in body["sub_orders"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PaymentProviderError("WeChat Pay answered the combined query strangely.") from exc

    def combine_close(self, *, combine_out_trade_no: str, out_trade_nos: Sequence[str]) -> None:
        self._call(
            "combined close",
            self._client.combine_close,
            combine_out_trade_no=combine_out_trade_no,
            sub_orders=[{"mchid": self.mchid, "out_trade_no": number} for number in out_trade_nos],
        )

    def query(self, *, out_trade_no: str) -> TransactionState:
        _, body = self._call("query", self._client.query, out_trade_no=out_trade_no)
        try:
            return TransactionState(
                out_trade_no=str(body["out_trade_no"]),
                transaction_id=body.get("transaction_id") or None,
                trade_state=str(body["trade_state"]),
                amount_fen=int(body.get("amount", {}).get("total", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PaymentProviderError("WeChat Pay answered the query with an unexpected body.") from exc

    def query_refund(self, *, out_refund_no: str) -> RefundState:
        _, body = self._call("refund query", self._client.query_refund, out_refund_no=out_refund_no)
        try:
            return RefundState(
                out_refund_no=str(body["out_refund_no"]),
                refund_id=str(body.get("refund_id") or ""),
                status=str(body["status"]),
                amount_fen=int(body["amount"]["refund"]),
                success_time=parse_wechat_time(body.get("success_time")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PaymentProviderError(
                "WeChat Pay answered the refund query with an unexpected body."
            ) from exc

    def close(self, *, out_trade_no: str) -> None:
        self._call("close", self._client.close, out_trade_no=out_trade_no)

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        _, body = self._call(
            "refund",
            self._client.refund,
            out_refund_no=out_refund_no,
            amount={"refund": int(amount_fen), "total": int(total_fen), "currency": "CNY"},
            out_trade_no=out_trade_no,
            reason=(reason or "")[:80] or None,
            notify_url=self.refund_notify_url,
        )
        refund_id = body.get("refund_id")
        refund_status = body.get("status")
        if not refund_id or not refund_status:
            raise PaymentProviderError("WeChat Pay answered the refund with an unexpected body.")
        return RefundResult(refund_id=str(refund_id), status=str(refund_status))

    # --- Merchant transfers (商家转账) to a user's WeChat balance ---------------------------------

    def transfer_create(
        self, *, out_bill_no: str, openid: str, amount_fen: int, remark: str, user_name: str = ""
    ) -> TransferState:
        """Start a transfer (`mch_transfer_bills`). WeChat keeps one bill per out_bill_no: sending the
        same number again answers the bill it already has, never a second payment. Raises
        PaymentProviderError when the answer is unknown (unreachable, timeout, 5xx): the caller must
        then query, and PaymentRefused when WeChat refused to create the bill."""
        _, body = self._call(
            "transfer",
            self._client.mch_transfer_bills,
            out_bill_no=out_bill_no,
            transfer_scene_id=self.transfer_scene_id,
            openid=openid,
            transfer_amount=int(amount_fen),
            transfer_remark=remark[:32],
            # WeChat wants the payee's name (encrypted by the SDK) from ¥2,000 on; below it is optional.
            user_name=user_name if amount_fen >= 200000 else None,
            user_recv_perception="佣金报酬",
            transfer_scene_report_infos=[
                {"info_type": "岗位类型", "info_content": "推广员"},
                {"info_type": "报酬说明", "info_content": "推广佣金提现"},
            ],
            notify_url=self.transfer_notify_url,
        )
        return _transfer_state(body, what="transfer")

    def transfer_query(self, *, out_bill_no: str) -> TransferState:
        """The provider's view of a transfer. Raises TransactionNotFound when it never got the bill."""
        _, body = self._call("transfer query", self._client.mch_transfer_bills_query, out_bill_no=out_bill_no)
        return _transfer_state(body, what="transfer query")

    def parse_transfer_notification(self, *, headers: Mapping[str, str], body: bytes) -> TransferState:
        """Verify and decrypt a MCHTRANSFER.BILL.FINISHED notification, or raise InvalidNotification."""
        data = self._verified_notification(headers=headers, body=body, kind="transfer")
        if not str(data.get("event_type", "")).startswith("MCHTRANSFER."):
            raise InvalidNotification(f"Not a transfer notification: {data.get('event_type')!r}.")
        resource = data["resource"]
        if resource.get("mch_id") != self.mchid:
            raise InvalidNotification("The transfer notification is addressed to another merchant.")
        try:
            return _transfer_state(resource, what="transfer notification", strict=True)
        except PaymentProviderError as exc:
            raise InvalidNotification("The transfer notification lacks required fields.") from exc

    # --- Notifications from WeChat Pay ---------------------------------------------------------

    def _verified_notification(self, *, headers: Mapping[str, str], body: bytes, kind: str) -> dict:
        """Check headers, timestamp and signature, decrypt the resource; the whole notification
        with `resource` replaced by its decrypted content."""
        wanted = normalize_notification_headers(headers)
        for name in ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"):
            if not wanted.get(name):
                raise InvalidNotification(f"The {kind} notification has no {name} header.")
        signature_type = wanted.setdefault("Wechatpay-Signature-Type", SIGNATURE_TYPE)
        if signature_type != SIGNATURE_TYPE:
            raise InvalidNotification(f"Unsupported signature type {signature_type!r}.")
        if wanted["Wechatpay-Serial"] != self.public_key_id:
            # Checked here so the SDK never goes looking for platform certificates over the network.
            raise InvalidNotification("The notification is signed with an unknown key serial.")
        try:
            timestamp = int(wanted["Wechatpay-Timestamp"])
        except ValueError:
            raise InvalidNotification("The notification timestamp is not a number.") from None
        if abs(time.time() - timestamp) > self.timestamp_tolerance_seconds:
            raise InvalidNotification("The notification timestamp is outside the accepted window (replay?).")
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidNotification("The notification body is not UTF-8.") from None
        try:
            data = self._client.callback(headers=wanted, body=text)
        except Exception as exc:  # the SDK raises bare Exception and json errors on malformed input
            raise InvalidNotification(f"The {kind} notification is malformed.") from exc
        if not data:
            # The SDK returns None for a bad signature, a failed decryption or an unencrypted resource.
            raise InvalidNotification(f"The {kind} notification's signature or encryption did not verify.")
        if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
            raise InvalidNotification(f"The {kind} notification is malformed.")
        return data

    def parse_payment_notification(
        self, *, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotification | CombinedPaymentNotification:
        data = self._verified_notification(headers=headers, body=body, kind="payment")
        if not str(data.get("event_type", "")).startswith("TRANSACTION."):
            raise InvalidNotification(f"Not a payment notification: {data.get('event_type')!r}.")
        resource = data["resource"]
        if "combine_out_trade_no" in resource:
            return self._combined_notification(data)
        if resource.get("mchid") != self.mchid or resource.get("appid") != self.appid:
            raise InvalidNotification("The payment notification is addressed to another merchant.")
        # We only ever ask for yuan through H5 payments: money in another currency or through another
        # kind of payment is not one of ours, however well it is signed.
        amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
        currencies = (amount.get("currency"), amount.get("payer_currency", CURRENCY))
        if currencies != (CURRENCY, CURRENCY):
            raise InvalidNotification(f"The payment notification is in {currencies!r}, not {CURRENCY}.")
        if resource.get("trade_type") != NOTIFIED_TRADE_TYPE:
            raise InvalidNotification(
                f"The payment notification's trade type {resource.get('trade_type')!r} is not "
                f"{NOTIFIED_TRADE_TYPE}, the H5 payment we asked for."
            )
        try:
            amount = resource["amount"]
            payer = resource.get("payer") or {}
            return PaymentNotification(
                out_trade_no=_required_text(resource, "out_trade_no"),
                transaction_id=_required_text(resource, "transaction_id"),
                amount_fen=_required_int(amount, "total"),
                payer_total_fen=_required_int(amount, "payer_total", default=amount.get("total")),
                trade_state=_required_text(resource, "trade_state"),
                success_time=parse_wechat_time(resource.get("success_time")),
                payer_openid=str(payer.get("openid") or ""),
                raw=data,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidNotification("The payment notification lacks required fields.") from exc

    def _combined_notification(self, data: dict) -> CombinedPaymentNotification:
        resource = data["resource"]
        if resource.get("combine_mchid") != self.mchid or resource.get("combine_appid") != self.appid:
            raise InvalidNotification("The payment notification is addressed to another merchant.")
        try:
            payer = resource.get("combine_payer_info") or {}
            subs = []
            for sub in resource["sub_orders"]:
                if sub.get("mchid") != self.mchid:
                    raise InvalidNotification("A sub-order is addressed to another merchant.")
                amount = sub["amount"]
                # As for single payments: yuan through H5 payments only.
                if (amount.get("currency"), amount.get("payer_currency", CURRENCY)) != (CURRENCY, CURRENCY):
                    raise InvalidNotification(f"A sub-order is not in {CURRENCY}.")
                if sub.get("trade_type") != NOTIFIED_TRADE_TYPE:
                    raise InvalidNotification(f"A sub-order's trade type is not {NOTIFIED_TRADE_TYPE}.")
                subs.append(
                    PaymentNotification(
                        out_trade_no=_required_text(sub, "out_trade_no"),
                        transaction_id=_required_text(sub, "transaction_id"),
                        amount_fen=_required_int(amount, "total_amount"),
                        payer_total_fen=_required_int(
                            amount, "payer_amount", default=amount.get("total_amount")
                        ),
                        trade_state=_required_text(sub, "trade_state"),
                        success_time=parse_wechat_time(sub.get("success_time")),
                        payer_openid=str(payer.get("openid") or ""),
                        raw={},
                    )
                )
            if not subs:
                raise ValueError("no sub-orders")
            return CombinedPaymentNotification(
                combine_out_trade_no=_required_text(resource, "combine_out_trade_no"),
                sub_orders=tuple(subs),
                raw=data,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidNotification("The combined payment notification lacks required fields.") from exc

    def parse_refund_notification(self, *, headers: Mapping[str, str], body: bytes) -> RefundNotification:
        data = self._verified_notification(headers=headers, body=body, kind="refund")
        if not str(data.get("event_type", "")).startswith("REFUND."):
            raise InvalidNotification(f"Not a refund notification: {data.get('event_type')!r}.")
        resource = data["resource"]
        if resource.get("mchid") != self.mchid:
            raise InvalidNotification("The refund notification is addressed to another merchant.")
        try:
            return RefundNotification(
                out_refund_no=_required_text(resource, "out_refund_no"),
                refund_id=_required_text(resource, "refund_id"),
                out_trade_no=_required_text(resource, "out_trade_no"),
                transaction_id=_required_text(resource, "transaction_id"),
                refund_status=_required_text(resource, "refund_status"),
                amount_fen=_required_int(resource["amount"], "refund"),
                success_time=parse_wechat_time(resource.get("success_time")),
                raw=data,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidNotification("The refund notification lacks required fields.") from exc


def _transfer_state(body: dict, *, what: str, strict: bool = False) -> TransferState:
    try:
        amount = body.get("transfer_amount")
        return TransferState(
            out_bill_no=_required_text(body, "out_bill_no"),
            transfer_bill_no=str(body.get("transfer_bill_no") or ""),
            state=_required_text(body, "state"),
            amount_fen=_required_int(body, "transfer_amount") if strict or amount is not None else None,
            fail_reason=str(body.get("fail_reason") or ""),
            package_info=str(body.get("package_info") or ""),
            raw=body,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PaymentProviderError(f"WeChat Pay answered the {what} with an unexpected body.") from exc


def _required_text(data: dict, key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


_MISSING = object()


def _required_int(data: dict, key: str, default=_MISSING) -> int:
    value = data.get(key, default)
    if value is _MISSING:
        raise KeyError(key)
    # bool is an int in Python; WeChat amounts are plain integers.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value
