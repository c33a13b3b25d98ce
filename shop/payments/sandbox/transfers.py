"""The sandbox plays WeChat Pay's merchant transfer (商家转账):
`POST /v3/fund-app/mch-transfer/transfer-bills`
and its query by out_bill_no, with the MCHTRANSFER.BILL.FINISHED notification.

Like the rest of the sandbox, requests must carry the merchant's signature, answers are signed with
the platform key, the notification is signed and its resource AES-256-GCM encrypted, and the state
lives in the cache (never our database). Rules follow WeChat: one bill per out_bill_no (sending it
again answers the same bill; other parameters under the same number are refused), a new bill answers
PROCESSING and finishes later as SUCCESS or FAIL.

What a transfer does is chosen by the test or the demo (`transfer_plan`): its outcome (SUCCESS, FAIL
or PROCESSING, which stays open until `transfer_finish`), and a delay before answering the create
call (the bill is stored first, so a client that times out finds it by querying). With
WECHATPAY["SANDBOX_AUTO_TRANSFER_SECONDS"] (default 1; None turns it off, as the test fixture does)
the sandbox finishes the bill by itself after that delay and delivers the notification.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.utils import timezone

from shop.payments.sandbox import state
from shop.payments.sandbox.keys import load_or_create_credentials
from shop.payments.sandbox.notify import _envelope, deliver, encrypt_resource, signed_headers
from shop.payments.sandbox.views import _json_body, _text, sandbox_api

logger = logging.getLogger(__name__)

_OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{5,32}$")
MIN_TRANSFER_FEN = 10  # WeChat's smallest transfer is ¥0.10
NAME_REQUIRED_FROM_FEN = 200000
OUTCOMES = {"SUCCESS", "FAIL", "PROCESSING"}
FAIL_REASON = "REAL_NAME_CHECK_FAIL"


def _key(out_bill_no: str) -> str:
    return f"{state._PREFIX}:transfer:{out_bill_no}"


_PLAN_KEY = f"{state._PREFIX}:transfer-plan"


def transfer_plan(*, outcome: str = "SUCCESS", delay_seconds: float = 0.0, openid: str = "") -> None:
    """What the next transfers do (for `openid` only, or for everyone): finish as `outcome`, and wait
    `delay_seconds` before answering the create call."""
    if outcome not in OUTCOMES:
        raise ValueError(outcome)
    key = f"{_PLAN_KEY}:{openid}" if openid else _PLAN_KEY
    state._cache().set(key, {"outcome": outcome, "delay": float(delay_seconds)}, state.ENTRY_TTL_SECONDS)


def _plan_for(openid: str) -> dict:
    cache = state._cache()
    return cache.get(f"{_PLAN_KEY}:{openid}") or cache.get(_PLAN_KEY) or {"outcome": "SUCCESS", "delay": 0.0}


def transfer_get(out_bill_no: str) -> dict | None:
    return state._cache().get(_key(out_bill_no))


def _save(bill: dict) -> None:
    state._cache().set(_key(bill["out_bill_no"]), bill, state.ENTRY_TTL_SECONDS)


def transfer_create(*, mchid: str, appid: str, data: dict) -> tuple[dict, bool]:
    """Store the bill (or find the one with this out_bill_no). Returns (bill, created)."""
    out_bill_no = data["out_bill_no"]
    with state._locked(f"transfer-{out_bill_no}"):
        existing = transfer_get(out_bill_no)
        if existing is not None:
            same = (existing["openid"], existing["amount_fen"]) == (data["openid"], data["transfer_amount"])
            if not same:
                raise state.SandboxError(400, "INVALID_REQUEST", "商户单号已存在，请检查转账参数")
            existing["requests"] += 1  # how often the merchant sent this bill (tests read it)
            _save(existing)
            return existing, False
        plan = _plan_for(data["openid"])
        bill = {
            "mch_id": mchid,
            "appid": appid,
            "out_bill_no": out_bill_no,
            "transfer_bill_no": "1330" + timezone.now().strftime("%Y%m%d") + state._digits(28),
            "openid": data["openid"],
            "amount_fen": data["transfer_amount"],
            "remark": data["transfer_remark"],
            "scene_id": data["transfer_scene_id"],
            "user_name": data.get("user_name", ""),
            "notify_url": data.get("notify_url") or "",
            "state": "PROCESSING",
            "outcome": plan["outcome"],
            "delay": plan["delay"],
            "fail_reason": "",
            "requests": 1,
            "create_time": state._now_text(),
            "update_time": state._now_text(),
        }
        _save(bill)
        return bill, True


def transfer_finish(out_bill_no: str, outcome: str | None = None) -> dict:
    """The money moved (SUCCESS) or could not (FAIL): the bill takes its planned outcome, or `outcome`.
    A finished bill stays as it is."""
    with state._locked(f"transfer-{out_bill_no}"):
        bill = transfer_get(out_bill_no)
        if bill is None:
            raise state.SandboxError(404, "NOT_FOUND", "转账单不存在")
        if bill["state"] in {"SUCCESS", "FAIL", "CANCELLED"}:
            return bill
        final = outcome or bill["outcome"]
        if final == "PROCESSING":
            return bill
        bill["state"] = final
        bill["fail_reason"] = FAIL_REASON if final == "FAIL" else ""
        bill["update_time"] = state._now_text()
        _save(bill)
        return bill


def transfer_as_json(bill: dict) -> dict:
    """The v3 query answer (and the notification's decrypted content, with mch_id)."""
    answer = {
        "mch_id": bill["mch_id"],
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "appid": bill["appid"],
        "state": bill["state"],
        "transfer_amount": bill["amount_fen"],
        "transfer_remark": bill["remark"],
        "openid": bill["openid"],
        "create_time": bill["create_time"],
        "update_time": bill["update_time"],
    }
    if bill["fail_reason"]:
        answer["fail_reason"] = bill["fail_reason"]
    return answer


def transfer_notification(bill: dict, *, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the signed MCHTRANSFER.BILL.FINISHED notification for a finished bill."""
    credentials = load_or_create_credentials()
    content = {
        key: value
        for key, value in transfer_as_json(bill).items()
        if key
        in {
            "out_bill_no",
            "transfer_bill_no",
            "state",
            "mch_id",
            "transfer_amount",
            "openid",
            "fail_reason",
            "create_time",
            "update_time",
        }
    }
    resource = encrypt_resource(content, original_type="mch_payment", apiv3_key=credentials.apiv3_key)
    body = _envelope(
        event_type="MCHTRANSFER.BILL.FINISHED", summary="商家转账单据终态通知", resource=resource
    )
    return signed_headers(body, timestamp=timestamp, credentials=credentials), body


def _finish_later(out_bill_no: str) -> None:
    delay = settings.WECHATPAY.get("SANDBOX_AUTO_TRANSFER_SECONDS", 1.0)
    if delay is None:
        return

    def finish() -> None:
        time.sleep(float(delay))
        try:
            bill = transfer_finish(out_bill_no)
            if bill["state"] != "PROCESSING" and bill["notify_url"]:
                headers, body = transfer_notification(bill)
                if not deliver(bill["notify_url"], headers, body):
                    logger.warning("sandbox transfer notification for %s was not accepted", out_bill_no)
        except Exception:
            logger.exception("sandbox could not finish transfer %s", out_bill_no)

    threading.Thread(target=finish, name=f"sandbox-transfer-{out_bill_no}", daemon=True).start()


def _decrypt_name(ciphertext: str) -> str:
    """The SDK encrypts the payee's name with the platform public key (RSA-OAEP); read it back."""
    credentials = load_or_create_credentials()
    try:
        return credentials.platform_private_key.decrypt(
            base64.b64decode(ciphertext),
            padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
        ).decode()
    except Exception:
        raise state.SandboxError(400, "PARAM_ERROR", "user_name 解密失败") from None


@sandbox_api("POST")
def transfer_bills(request, credentials):
    data = _json_body(request)
    if data.get("appid") != credentials.appid:
        raise state.SandboxError(400, "APPID_MCHID_NOT_MATCH", "appid 和 mch_id 不匹配")
    out_bill_no = _text(data, "out_bill_no", max_length=32)
    if not _OUT_BILL_NO.match(out_bill_no):
        raise state.SandboxError(400, "PARAM_ERROR", "out_bill_no 须为 5-32 位字母或数字")
    _text(data, "transfer_scene_id", max_length=36)
    _text(data, "openid", max_length=64)
    _text(data, "transfer_remark", max_length=32)
    amount = data.get("transfer_amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < MIN_TRANSFER_FEN:
        raise state.SandboxError(400, "PARAM_ERROR", "transfer_amount 须为不少于 10 的整数（单位：分）")
    if data.get("user_name"):
        if request.headers.get("Wechatpay-Serial") != credentials.public_key_id:
            raise state.SandboxError(400, "PARAM_ERROR", "加密敏感信息须带 Wechatpay-Serial 头")
        data["user_name"] = _decrypt_name(data["user_name"])
    elif amount >= NAME_REQUIRED_FROM_FEN:
        raise state.SandboxError(400, "PARAM_ERROR", "转账金额 >= 2000 元时须填写收款用户姓名")
    bill, created = transfer_create(mchid=credentials.mchid, appid=credentials.appid, data=data)
    if created:
        _finish_later(out_bill_no)
    if bill["delay"]:
        # The bill exists already; the answer is late, as when the network drops it.
        time.sleep(bill["delay"])
    answer = {
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "create_time": bill["create_time"],
        "state": bill["state"],
    }
    if bill["fail_reason"]:
        answer["fail_reason"] = bill["fail_reason"]
    return 200, answer


@sandbox_api("GET")
def transfer_bill(request, credentials, out_bill_no):
    bill = transfer_get(out_bill_no)
    if bill is None:
        raise state.SandboxError(404, "NOT_FOUND", "记录不存在")
    return 200, transfer_as_json(bill)
