"""What the sandbox's "WeChat Pay" remembers: transactions and refunds, kept in Django's cache.

The cache (Redis in tests and production, a file cache in the local demo) is shared by every web
process, and the sandbox never touches our database, so it behaves like a separate service.
Entries live for 30 days. Changes to one transaction (and its refunds) are serialized by a short
lock made with the atomic `cache.add`, so two confirmations give one transaction id and two
refunds can never exceed what was paid.

Rules follow WeChat Pay v3: prepay is idempotent per out_trade_no (a different amount is refused),
an expired or closed transaction cannot be paid, closing a paid one is refused with ORDERPAID,
refunds are idempotent per out_refund_no and never exceed the amount left.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from datetime import datetime

from django.core.cache import caches
from django.utils import timezone
from django.utils.translation import gettext_noop

from shop.payments.sandbox.keys import load_or_create_credentials
from shop.payments.wechatpay import format_wechat_time, parse_wechat_time

ENTRY_TTL_SECONDS = 30 * 24 * 3600


def _cache():
    # Its own alias: unlike the shop's cache, errors here are not ignored (see config/settings.py).
    return caches["sandbox"]


LOCK_TTL_SECONDS = 10
_PREFIX = "wechatpay-sandbox"


class SandboxError(Exception):
    """A refusal in WeChat Pay's own words: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict:
        return {"code": self.code, "message": self.message}


def _transaction_key(out_trade_no: str) -> str:
    return f"{_PREFIX}:txn:{out_trade_no}"


def _prepay_key(prepay_id: str) -> str:
    return f"{_PREFIX}:prepay:{prepay_id}"


def _transaction_id_key(transaction_id: str) -> str:
    return f"{_PREFIX}:txnid:{transaction_id}"


def _refund_key(out_refund_no: str) -> str:
    return f"{_PREFIX}:refund:{out_refund_no}"


@contextlib.contextmanager
def _locked(out_trade_no: str):
    key = f"{_PREFIX}:lock:{out_trade_no}"
    token = uuid.uuid4().hex
    deadline = time.monotonic() + LOCK_TTL_SECONDS
    while not _cache().add(key, token, timeout=LOCK_TTL_SECONDS):
        if time.monotonic() > deadline:
            raise SandboxError(500, "SYSTEM_ERROR", gettext_noop("系统繁忙，请稍后重试"))
        time.sleep(0.005)
    try:
        yield
    finally:
        if _cache().get(key) == token:
            _cache().delete(key)


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def _now_text() -> str:
    return format_wechat_time(timezone.now())


def _save_transaction(transaction: dict) -> None:
    _cache().set(_transaction_key(transaction["out_trade_no"]), transaction, ENTRY_TTL_SECONDS)


# --- Transactions ------------------------------------------------------------------------------


def transaction_get(out_trade_no: str) -> dict | None:
    return _cache().get(_transaction_key(out_trade_no))


def transaction_find(reference: str) -> dict | None:
    """A transaction by prepay_id, out_trade_no or WeChat transaction_id."""
    for key in (_prepay_key(reference), _transaction_id_key(reference)):
        out_trade_no = _cache().get(key)
        if out_trade_no:
            return transaction_get(out_trade_no)
    return transaction_get(reference)


def transaction_is_expired(transaction: dict, *, now: datetime | None = None) -> bool:
    expires = parse_wechat_time(transaction.get("time_expire"))
    return bool(expires and (now or timezone.now()) >= expires)


def transaction_create(
    *,
    mchid: str,
    appid: str,
    out_trade_no: str,
    description: str,
    amount_fen: int,
    notify_url: str,
    time_expire: str | None,
    client_ip: str,
) -> dict:
    """Open a transaction (WeChat's prepay). The same out_trade_no with the same amount and
    description gives back the same prepay_id; anything else about it is refused."""
    with _locked(out_trade_no):
        existing = transaction_get(out_trade_no)
        if existing:
            if existing["trade_state"] in {"SUCCESS", "REFUND"}:
                raise SandboxError(403, "ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                raise SandboxError(400, "ORDER_CLOSED", gettext_noop("该订单已关闭"))
            if existing["amount_fen"] != amount_fen or existing["description"] != description:
                raise SandboxError(400, "INVALID_REQUEST", "201 商户订单号重复")
            return existing
        prepay_id = "wx" + timezone.now().strftime("%d%H%M%S") + secrets.token_hex(13)
        transaction = {
            "mchid": mchid,
            "appid": appid,
            "out_trade_no": out_trade_no,
            "description": description,
            "amount_fen": amount_fen,
            "notify_url": notify_url,
            "time_expire": time_expire,
            "client_ip": client_ip,
            "prepay_id": prepay_id,
            "created_at": _now_text(),
            "trade_state": "NOTPAY",
            "transaction_id": None,
            "success_time": None,
            "payer_openid": "",
            "refunded_fen": 0,
        }
        _save_transaction(transaction)
        _cache().set(_prepay_key(prepay_id), out_trade_no, ENTRY_TTL_SECONDS)
        return transaction


def combined_create(
    *,
    mchid: str,
    appid: str,
    combine_out_trade_no: str,
    sub_orders: list[dict],
    notify_url: str,
    time_expire: str | None,
    client_ip: str,
) -> dict:
    """Open a combined payment (合单支付): one entry for the buyer's single cashier trip, keyed by
    combine_out_trade_no, plus one ordinary transaction per sub-order (so each is paid, queried
    and refunded by its own out_trade_no). `sub_orders`: [{out_trade_no, description, amount_fen}].
    The same number with the same sub-orders gives back the same prepay_id."""
    with _locked(combine_out_trade_no):
        existing = transaction_get(combine_out_trade_no)
        wanted = [(sub["out_trade_no"], sub["amount_fen"]) for sub in sub_orders]
        if existing:
            if existing["trade_state"] in {"SUCCESS", "REFUND"}:
                raise SandboxError(403, "ORDERPAID", "该订单已支付")
            if existing["trade_state"] == "CLOSED":
                raise SandboxError(400, "ORDER_CLOSED", gettext_noop("该订单已关闭"))
            if [(sub["out_trade_no"], sub["amount_fen"]) for sub in existing["sub_orders"]] != wanted:
                raise SandboxError(400, "INVALID_REQUEST", "201 商户订单号重复")
            return existing
        for number, _amount in wanted:
            if transaction_get(number) is not None:
                raise SandboxError(400, "INVALID_REQUEST", "子单商户订单号重复")
        prepay_id = "wx" + timezone.now().strftime("%d%H%M%S") + secrets.token_hex(13)
        combined = {
            "kind": "combined",
            "mchid": mchid,
            "appid": appid,
            "out_trade_no": combine_out_trade_no,
            "description": f"合单支付 ×{len(sub_orders)}",
            "amount_fen": sum(amount for _number, amount in wanted),
            "sub_orders": [dict(sub) for sub in sub_orders],
            "notify_url": notify_url,
            "time_expire": time_expire,
            "client_ip": client_ip,
            "prepay_id": prepay_id,
            "created_at": _now_text(),
            "trade_state": "NOTPAY",
            "transaction_id": None,
            "success_time": None,
            "payer_openid": "",
            "refunded_fen": 0,
        }
        for sub in sub_orders:
            _save_transaction(
                {
                    **{key: combined[key] for key in ("mchid", "appid", "notify_url", "time_expire")},
                    "combine_out_trade_no": combine_out_trade_no,
                    "out_trade_no": sub["out_trade_no"],
                    "description": sub["description"],
                    "amount_fen": sub["amount_fen"],
                    "client_ip": client_ip,
                    "prepay_id": prepay_id,
                    "created_at": combined["created_at"],
                    "trade_state": "NOTPAY",
                    "transaction_id": None,
                    "success_time": None,
                    "payer_openid": "",
                    "refunded_fen": 0,
                }
            )
        _save_transaction(combined)
        _cache().set(_prepay_key(prepay_id), combine_out_trade_no, ENTRY_TTL_SECONDS)
        return combined


def combined_sub_transactions(combined: dict) -> list[dict]:
    return [transaction_get(sub["out_trade_no"]) for sub in combined["sub_orders"]]


def combined_close(combine_out_trade_no: str) -> dict:
    """Close an unpaid combined payment and every sub-order; a paid one is refused (ORDERPAID)."""
    with _locked(combine_out_trade_no):
        combined = transaction_get(combine_out_trade_no)
        if combined is None or combined.get("kind") != "combined":
            raise SandboxError(404, "ORDER_NOT_EXIST", gettext_noop("订单不存在"))
        if combined["trade_state"] in {"SUCCESS", "REFUND"}:
            raise SandboxError(403, "ORDERPAID", "该订单已支付")
        if combined["trade_state"] != "CLOSED":
            now = _now_text()
            for sub in [combined, *combined_sub_transactions(combined)]:
                sub.update(trade_state="CLOSED", closed_at=now)
                _save_transaction(sub)
        return combined


def combined_as_json(combined: dict) -> dict:
    """The v3 combined query answer (and the decrypted combined notification's content)."""
    subs = []
    for sub in combined_sub_transactions(combined):
        trade_state = sub["trade_state"]
        if trade_state == "NOTPAY" and transaction_is_expired(sub):
            trade_state = "CLOSED"
        item = {
            "mchid": sub["mchid"],
            "trade_type": "MWEB",
            "trade_state": "SUCCESS" if trade_state == "REFUND" else trade_state,
            "attach": sub["out_trade_no"],
            "out_trade_no": sub["out_trade_no"],
            "amount": {"total_amount": sub["amount_fen"], "currency": "CNY"},
        }
        if sub["transaction_id"]:
            item.update(
                bank_type="OTHERS",
                success_time=sub["success_time"],
                transaction_id=sub["transaction_id"],
            )
            item["amount"].update(payer_amount=sub["amount_fen"], payer_currency="CNY")
        subs.append(item)
    answer = {
        "combine_appid": combined["appid"],
        "combine_mchid": combined["mchid"],
        "combine_out_trade_no": combined["out_trade_no"],
        "scene_info": {"device_id": ""},
        "sub_orders": subs,
    }
    if combined["payer_openid"]:
        answer["combine_payer_info"] = {"openid": combined["payer_openid"]}
    return answer


def transaction_close(out_trade_no: str) -> dict:
    """Close an unpaid transaction; closing a closed one changes nothing; a paid one is refused."""
    with _locked(out_trade_no):
        transaction = transaction_get(out_trade_no)
        if transaction is None:
            raise SandboxError(404, "ORDER_NOT_EXIST", gettext_noop("订单不存在"))
        if transaction["trade_state"] in {"SUCCESS", "REFUND"}:
            raise SandboxError(403, "ORDERPAID", "该订单已支付")
        if transaction["trade_state"] != "CLOSED":
            transaction["trade_state"] = "CLOSED"
            transaction["closed_at"] = _now_text()
            _save_transaction(transaction)
        return transaction


def transaction_confirm(reference: str, *, force: bool = False, payer_openid: str = "") -> tuple[dict, bool]:
    """The shopper confirms on the pay page: NOTPAY becomes SUCCESS with a new transaction id.
    Returns (transaction, whether this call paid it). Confirming a paid transaction again changes
    nothing. Closed or expired ones are refused unless `force` (a test simulating money that
    arrives after the merchant gave up on the order). `reference`: prepay_id or out_trade_no."""
    found = transaction_find(reference)
    if found is None:
        raise SandboxError(404, "ORDER_NOT_EXIST", gettext_noop("订单不存在"))
    with _locked(found["out_trade_no"]):
        transaction = transaction_get(found["out_trade_no"])
        if transaction["trade_state"] in {"SUCCESS", "REFUND"}:
            return transaction, False
        if not force:
            if transaction["trade_state"] == "CLOSED":
                raise SandboxError(400, "ORDER_CLOSED", gettext_noop("该订单已关闭"))
            if transaction_is_expired(transaction):
                raise SandboxError(400, "ORDER_CLOSED", gettext_noop("该订单已过期"))
        payer_openid = payer_openid or "oSandbox" + secrets.token_hex(10)
        paid_at = _now_text()
        # A combined payment pays every sub-order at once, each with its own transaction id.
        subs = combined_sub_transactions(transaction) if transaction.get("kind") == "combined" else []
        for paid in [transaction, *subs]:
            transaction_id = "42000" + timezone.now().strftime("%Y%m%d") + _digits(15)
            paid.update(
                trade_state="SUCCESS",
                transaction_id=transaction_id,
                success_time=paid_at,
                payer_openid=payer_openid,
            )
            _save_transaction(paid)
            _cache().set(_transaction_id_key(transaction_id), paid["out_trade_no"], ENTRY_TTL_SECONDS)
        return transaction, True


def transaction_as_json(transaction: dict) -> dict:
    """The v3 query answer for a transaction."""
    trade_state = transaction["trade_state"]
    if trade_state == "NOTPAY" and transaction_is_expired(transaction):
        trade_state = "CLOSED"
    descriptions = {
        "NOTPAY": "订单未支付",
        "SUCCESS": "支付成功",
        "CLOSED": "订单已关闭",
        "REFUND": "订单发生过退款",
    }
    answer = {
        "appid": transaction["appid"],
        "mchid": transaction["mchid"],
        "out_trade_no": transaction["out_trade_no"],
        "trade_state": trade_state,
        "trade_state_desc": descriptions.get(trade_state, trade_state),
        "amount": {"total": transaction["amount_fen"], "currency": "CNY"},
        "attach": "",
    }
    if transaction["transaction_id"]:
        answer.update(
            transaction_id=transaction["transaction_id"],
            trade_type="MWEB",
            bank_type="OTHERS",
            success_time=transaction["success_time"],
            payer={"openid": transaction["payer_openid"]},
        )
        answer["amount"].update(payer_total=transaction["amount_fen"], payer_currency="CNY", currency="CNY")
    return answer


def payment_notification(transaction: dict, *, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """The signed TRANSACTION.SUCCESS notification for a paid transaction."""
    from shop.payments.sandbox.notify import build_combined_notification, build_payment_notification

    if not transaction.get("transaction_id"):
        raise SandboxError(400, "INVALID_REQUEST", "订单未支付")
    if transaction.get("kind") == "combined":
        return build_combined_notification(combined_as_json(transaction), timestamp=timestamp)
    return build_payment_notification(
        out_trade_no=transaction["out_trade_no"],
        transaction_id=transaction["transaction_id"],
        amount_fen=transaction["amount_fen"],
        mchid=transaction["mchid"],
        appid=transaction["appid"],
        payer_openid=transaction["payer_openid"],
        success_time=parse_wechat_time(transaction["success_time"]),
        timestamp=timestamp,
    )


# --- Refunds -----------------------------------------------------------------------------------


def refund_get(out_refund_no: str) -> dict | None:
    return _cache().get(_refund_key(out_refund_no))


def refund_create(
    *,
    out_refund_no: str,
    refund_fen: int,
    total_fen: int,
    reason: str,
    notify_url: str,
    out_trade_no: str | None = None,
    transaction_id: str | None = None,
) -> dict:
    """Accept a refund as PROCESSING. The same out_refund_no gives back the same refund; a refund
    above what is left of the payment, of an unpaid payment or with the wrong total is refused."""
    reference = out_trade_no or transaction_id or ""
    found = transaction_find(reference)
    if found is None:
        raise SandboxError(404, "RESOURCE_NOT_EXISTS", gettext_noop("订单不存在"))
    with _locked(found["out_trade_no"]):
        existing = refund_get(out_refund_no)
        if existing:
            if existing["out_trade_no"] != found["out_trade_no"] or existing["refund_fen"] != refund_fen:
                raise SandboxError(400, "INVALID_REQUEST", "退款单号已存在，请检查退款参数")
            return existing
        transaction = transaction_get(found["out_trade_no"])
        if transaction["trade_state"] not in {"SUCCESS", "REFUND"}:
            raise SandboxError(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if total_fen != transaction["amount_fen"]:
            raise SandboxError(400, "INVALID_REQUEST", "订单金额与原订单金额不一致")
        remaining = transaction["amount_fen"] - transaction["refunded_fen"]
        if refund_fen <= 0 or refund_fen > remaining:
            raise SandboxError(400, "INVALID_REQUEST", f"申请退款金额超过订单可退金额（可退 {remaining} 分）")
        refund = {
            "refund_id": "50" + timezone.now().strftime("%Y%m%d") + _digits(19),
            "out_refund_no": out_refund_no,
            "out_trade_no": transaction["out_trade_no"],
            "transaction_id": transaction["transaction_id"],
            "mchid": transaction["mchid"],
            "refund_fen": refund_fen,
            "total_fen": transaction["amount_fen"],
            "reason": reason,
            "notify_url": notify_url,
            "status": "PROCESSING",
            "create_time": _now_text(),
            "success_time": None,
        }
        transaction["refunded_fen"] += refund_fen
        transaction["trade_state"] = "REFUND"
        _save_transaction(transaction)
        _cache().set(_refund_key(out_refund_no), refund, ENTRY_TTL_SECONDS)
        return refund


def refund_complete(out_refund_no: str) -> dict:
    """The money went back: PROCESSING becomes SUCCESS. Completing twice changes nothing."""
    refund = refund_get(out_refund_no)
    if refund is None:
        raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    with _locked(refund["out_trade_no"]):
        refund = refund_get(out_refund_no)
        if refund["status"] == "PROCESSING":
            refund["status"] = "SUCCESS"
            refund["success_time"] = _now_text()
            _cache().set(_refund_key(out_refund_no), refund, ENTRY_TTL_SECONDS)
        return refund


def refund_set_status(out_refund_no: str, status: str) -> dict:
    """Play what WeChat Pay does to a refund after accepting it: ABNORMAL (the buyer's account could
    not take the money), back to PROCESSING and on to SUCCESS once the merchant settles an abnormal
    refund, or CLOSED (the amount becomes refundable again)."""
    refund = refund_get(out_refund_no)
    if refund is None:
        raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    with _locked(refund["out_trade_no"]):
        refund = refund_get(out_refund_no)
        if refund["status"] in {"SUCCESS", "CLOSED"}:
            return refund
        if status == "CLOSED":
            transaction = transaction_get(refund["out_trade_no"])
            transaction["refunded_fen"] -= refund["refund_fen"]
            _save_transaction(transaction)
        refund["status"] = status
        if status == "SUCCESS":
            refund["success_time"] = _now_text()
        _cache().set(_refund_key(out_refund_no), refund, ENTRY_TTL_SECONDS)
        return refund


def refund_as_json(refund: dict) -> dict:
    """The v3 answer for a refund (create and query)."""
    answer = {
        "refund_id": refund["refund_id"],
        "out_refund_no": refund["out_refund_no"],
        "transaction_id": refund["transaction_id"],
        "out_trade_no": refund["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": refund["create_time"],
        "status": refund["status"],
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund["total_fen"],
            "refund": refund["refund_fen"],
            "payer_total": refund["total_fen"],
            "payer_refund": refund["refund_fen"],
            "settlement_refund": refund["refund_fen"],
            "settlement_total": refund["total_fen"],
            "discount_refund": 0,
            "currency": "CNY",
        },
    }
    if refund["success_time"]:
        answer["success_time"] = refund["success_time"]
    return answer


def refund_notification(refund: dict, *, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """The signed REFUND.<status> notification for a refund that is no longer processing."""
    from shop.payments.sandbox.notify import build_refund_notification

    return build_refund_notification(
        out_refund_no=refund["out_refund_no"],
        refund_id=refund["refund_id"],
        out_trade_no=refund["out_trade_no"],
        transaction_id=refund["transaction_id"],
        amount_fen=refund["refund_fen"],
        total_fen=refund["total_fen"],
        refund_status=refund["status"],
        mchid=refund["mchid"],
        success_time=parse_wechat_time(refund["success_time"]),
        timestamp=timestamp,
    )


def sandbox_identity() -> tuple[str, str]:
    """(mchid, appid) of the sandbox merchant."""
    credentials = load_or_create_credentials()
    return credentials.mchid, credentials.appid
