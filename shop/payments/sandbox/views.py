"""The sandbox's HTTP side: WeChat Pay v3's API endpoints and its H5 cashier page.

API calls are checked as WeChat Pay checks them: the merchant's `Authorization:
WECHATPAY2-SHA256-RSA2048 ...` header must carry a valid RSA-SHA256 signature over
"METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n" made with the merchant key whose certificate serial
it names (else 401 SIGN_ERROR). Every answer is signed with the platform key, so the SDK's own
response verification runs. Errors are WeChat's JSON `{"code": ..., "message": ...}`.

No view here touches our database: state lives in the cache (see state.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
from functools import wraps
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from shop.payments.sandbox import state
from shop.payments.sandbox.keys import SandboxCredentials, load_or_create_credentials
from shop.payments.sandbox.notify import deliver, signed_headers
from shop.payments.wechatpay import parse_wechat_time

logger = logging.getLogger(__name__)

AUTHORIZATION_SCHEME = "WECHATPAY2-SHA256-RSA2048"
# How far the merchant's request timestamp may be from the sandbox clock, as at WeChat Pay.
REQUEST_TIMESTAMP_TOLERANCE_SECONDS = 300
_AUTHORIZATION_FIELD = re.compile(r'(\w+)="([^"]*)"')
_OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
_OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")


# --- Signatures --------------------------------------------------------------------------------


def merchant_signature_problem(request, credentials: SandboxCredentials) -> str | None:
    """Why the request's merchant signature is not acceptable, or None when it is."""
    header = request.headers.get("Authorization", "")
    scheme, _, parameters = header.partition(" ")
    if scheme != AUTHORIZATION_SCHEME:
        return "Authorization 头缺失或认证类型不正确"
    fields = dict(_AUTHORIZATION_FIELD.findall(parameters))
    missing = [
        name for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no") if not fields.get(name)
    ]
    if missing:
        return "Authorization 头缺少 " + ", ".join(missing)
    if fields["mchid"] != credentials.mchid:
        return "商户号不存在"
    if fields["serial_no"].upper() != credentials.merchant_cert_serial_no.upper():
        return "商户证书序列号有误"
    try:
        timestamp = int(fields["timestamp"])
    except ValueError:
        return "timestamp 格式错误"
    if abs(time.time() - timestamp) > REQUEST_TIMESTAMP_TOLERANCE_SECONDS:
        return "请求时间戳已过期"
    # The merchant signs the path below the gateway (/v3/...), whatever prefix mounts the sandbox.
    full_path = request.get_full_path()
    signed_path = full_path[full_path.find("/v3/") :]
    message = (
        f"{request.method}\n{signed_path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
        + request.body
        + b"\n"
    )
    try:
        signature = base64.b64decode(fields["signature"], validate=True)
        credentials.merchant_public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return "签名错误"
    return None


def _signed_json(credentials: SandboxCredentials, status: int, payload: dict | None) -> HttpResponse:
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    for name, value in signed_headers(body, credentials=credentials).items():
        if name != "Content-Type":
            response[name] = value
    response["Request-ID"] = secrets.token_hex(16)
    return response


def sandbox_api(*methods: str):
    """Wrap an API view: only `methods`, merchant signature checked, answer signed. The view gets
    (request, credentials, **kwargs) and returns (status, payload-or-None) or raises SandboxError."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, **kwargs):
            credentials = load_or_create_credentials()
            if request.method not in methods:
                return _signed_json(
                    credentials, 405, {"code": "METHOD_NOT_ALLOWED", "message": "请求方法错误"}
                )
            problem = merchant_signature_problem(request, credentials)
            if problem:
                return _signed_json(credentials, 401, {"code": "SIGN_ERROR", "message": problem})
            try:
                status, payload = view(request, credentials, **kwargs)
            except state.SandboxError as error:
                status, payload = error.status, error.as_json()
            return _signed_json(credentials, status, payload)

        return wrapper

    return decorate


# --- Request checks ----------------------------------------------------------------------------


def _json_body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise state.SandboxError(400, "PARAM_ERROR", "请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise state.SandboxError(400, "PARAM_ERROR", "请求体必须是 JSON 对象")
    return data


def _positive_int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise state.SandboxError(400, "PARAM_ERROR", f"{name} 必须是正整数（单位：分）")
    return value


def _text(data: dict, name: str, *, max_length: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise state.SandboxError(400, "PARAM_ERROR", f"缺少参数 {name}")
    if len(value) > max_length:
        raise state.SandboxError(400, "PARAM_ERROR", f"{name} 长度超过 {max_length}")
    return value


def _check_mchid(given, credentials: SandboxCredentials) -> None:
    if given != credentials.mchid:
        raise state.SandboxError(400, "MCH_NOT_EXISTS", "商户号不存在或与签名商户号不一致")


# --- API endpoints -----------------------------------------------------------------------------


@sandbox_api("POST")
def h5_prepay(request, credentials):
    data = _json_body(request)
    _check_mchid(data.get("mchid"), credentials)
    if data.get("appid") != credentials.appid:
        raise state.SandboxError(400, "APPID_MCHID_NOT_MATCH", "appid 和 mch_id 不匹配")
    description = _text(data, "description", max_length=127)
    out_trade_no = _text(data, "out_trade_no", max_length=32)
    if not _OUT_TRADE_NO.match(out_trade_no):
        raise state.SandboxError(400, "PARAM_ERROR", "out_trade_no 须为 6-32 位字母、数字或 _-|*")
    notify_url = _text(data, "notify_url", max_length=255)
    if urlsplit(notify_url).scheme not in {"http", "https"}:
        raise state.SandboxError(400, "PARAM_ERROR", "notify_url 必须是 http(s) 地址")
    amount = data.get("amount") or {}
    if not isinstance(amount, dict):
        raise state.SandboxError(400, "PARAM_ERROR", "amount 格式错误")
    total = _positive_int(amount.get("total"), "amount.total")
    if amount.get("currency", "CNY") != "CNY":
        raise state.SandboxError(400, "PARAM_ERROR", "只支持人民币 CNY")
    scene = data.get("scene_info") or {}
    if not isinstance(scene, dict) or not scene.get("payer_client_ip"):
        raise state.SandboxError(400, "PARAM_ERROR", "H5 支付须传 scene_info.payer_client_ip")
    if not isinstance(scene.get("h5_info"), dict) or not scene["h5_info"].get("type"):
        raise state.SandboxError(400, "PARAM_ERROR", "H5 支付须传 scene_info.h5_info.type")
    time_expire = data.get("time_expire")
    if time_expire is not None:
        try:
            if parse_wechat_time(time_expire) is None:
                raise ValueError(time_expire)
        except (TypeError, ValueError):
            raise state.SandboxError(400, "PARAM_ERROR", "time_expire 须为 RFC 3339 时间") from None

    transaction = state.transaction_create(
        mchid=credentials.mchid,
        appid=credentials.appid,
        out_trade_no=out_trade_no,
        description=description,
        amount_fen=total,
        notify_url=notify_url,
        time_expire=time_expire,
        client_ip=str(scene["payer_client_ip"]),
    )
    pay_page = request.build_absolute_uri(
        reverse("wechatpay-sandbox:pay", kwargs={"prepay_id": transaction["prepay_id"]})
    )
    package = "".join(secrets.choice("0123456789") for _ in range(10))
    return 200, {"h5_url": f"{pay_page}?prepay_id={transaction['prepay_id']}&package={package}"}


@sandbox_api("POST")
def combined_h5_prepay(request, credentials):
    """合单支付 H5 prepay: one cashier page for several sub-orders, each with its own number."""
    data = _json_body(request)
    _check_mchid(data.get("combine_mchid"), credentials)
    if data.get("combine_appid") != credentials.appid:
        raise state.SandboxError(400, "APPID_MCHID_NOT_MATCH", "appid 和 mch_id 不匹配")
    combine_out_trade_no = _text(data, "combine_out_trade_no", max_length=32)
    if not _OUT_TRADE_NO.match(combine_out_trade_no):
        raise state.SandboxError(400, "PARAM_ERROR", "combine_out_trade_no 须为 6-32 位字母、数字或 _-|*")
    notify_url = _text(data, "notify_url", max_length=255)
    if urlsplit(notify_url).scheme not in {"http", "https"}:
        raise state.SandboxError(400, "PARAM_ERROR", "notify_url 必须是 http(s) 地址")
    raw_subs = data.get("sub_orders")
    if not isinstance(raw_subs, list) or not 1 <= len(raw_subs) <= 50:
        raise state.SandboxError(400, "PARAM_ERROR", "sub_orders 须为 1-50 个子单")
    sub_orders, seen = [], set()
    for sub in raw_subs:
        if not isinstance(sub, dict):
            raise state.SandboxError(400, "PARAM_ERROR", "sub_orders 格式错误")
        _check_mchid(sub.get("mchid"), credentials)
        out_trade_no = _text(sub, "out_trade_no", max_length=32)
        if not _OUT_TRADE_NO.match(out_trade_no) or out_trade_no in seen:
            raise state.SandboxError(400, "PARAM_ERROR", "子单 out_trade_no 格式错误或重复")
        seen.add(out_trade_no)
        _text(sub, "attach", max_length=128)
        amount = sub.get("amount") or {}
        if not isinstance(amount, dict) or amount.get("currency", "CNY") != "CNY":
            raise state.SandboxError(400, "PARAM_ERROR", "子单 amount 格式错误（只支持 CNY）")
        sub_orders.append(
            {
                "out_trade_no": out_trade_no,
                "description": _text(sub, "description", max_length=127),
                "amount_fen": _positive_int(amount.get("total_amount"), "amount.total_amount"),
            }
        )
    scene = data.get("scene_info") or {}
    if not isinstance(scene, dict) or not scene.get("payer_client_ip"):
        raise state.SandboxError(400, "PARAM_ERROR", "H5 支付须传 scene_info.payer_client_ip")
    time_expire = data.get("time_expire")
    if time_expire is not None:
        try:
            if parse_wechat_time(time_expire) is None:
                raise ValueError(time_expire)
        except (TypeError, ValueError):
            raise state.SandboxError(400, "PARAM_ERROR", "time_expire 须为 RFC 3339 时间") from None
    combined = state.combined_create(
        mchid=credentials.mchid,
        appid=credentials.appid,
        combine_out_trade_no=combine_out_trade_no,
        sub_orders=sub_orders,
        notify_url=notify_url,
        time_expire=time_expire,
        client_ip=str(scene["payer_client_ip"]),
    )
    pay_page = request.build_absolute_uri(
        reverse("wechatpay-sandbox:pay", kwargs={"prepay_id": combined["prepay_id"]})
    )
    package = "".join(secrets.choice("0123456789") for _ in range(10))
    return 200, {"h5_url": f"{pay_page}?prepay_id={combined['prepay_id']}&package={package}"}


@sandbox_api("GET")
def combined_by_out_trade_no(request, credentials, combine_out_trade_no):
    combined = state.transaction_get(combine_out_trade_no)
    if combined is None or combined.get("kind") != "combined":
        raise state.SandboxError(404, "ORDER_NOT_EXIST", "订单不存在")
    return 200, state.combined_as_json(combined)


@sandbox_api("POST")
def combined_close(request, credentials, combine_out_trade_no):
    data = _json_body(request)
    if data.get("combine_appid") != credentials.appid:
        raise state.SandboxError(400, "APPID_MCHID_NOT_MATCH", "appid 和 mch_id 不匹配")
    combined = state.transaction_get(combine_out_trade_no)
    named = {sub.get("out_trade_no") for sub in data.get("sub_orders") or [] if isinstance(sub, dict)}
    if combined is not None and named != {sub["out_trade_no"] for sub in combined.get("sub_orders", [])}:
        raise state.SandboxError(400, "PARAM_ERROR", "sub_orders 须列出合单的全部子单")
    state.combined_close(combine_out_trade_no)
    return 204, None


@sandbox_api("GET")
def transaction_by_out_trade_no(request, credentials, out_trade_no):
    _check_mchid(request.GET.get("mchid"), credentials)
    transaction = state.transaction_get(out_trade_no)
    if transaction is None:
        raise state.SandboxError(404, "ORDER_NOT_EXIST", "订单不存在")
    return 200, state.transaction_as_json(transaction)


@sandbox_api("GET")
def transaction_by_id(request, credentials, transaction_id):
    _check_mchid(request.GET.get("mchid"), credentials)
    transaction = state.transaction_find(transaction_id)
    if transaction is None or transaction.get("transaction_id") != transaction_id:
        raise state.SandboxError(404, "ORDER_NOT_EXIST", "订单不存在")
    return 200, state.transaction_as_json(transaction)


@sandbox_api("POST")
def transaction_close(request, credentials, out_trade_no):
    _check_mchid(_json_body(request).get("mchid"), credentials)
    state.transaction_close(out_trade_no)
    return 204, None


@sandbox_api("POST")
def refund_create(request, credentials):
    data = _json_body(request)
    out_refund_no = _text(data, "out_refund_no", max_length=64)
    if not _OUT_REFUND_NO.match(out_refund_no):
        raise state.SandboxError(400, "PARAM_ERROR", "out_refund_no 格式错误")
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise state.SandboxError(400, "PARAM_ERROR", "缺少参数 amount")
    refund_fen = _positive_int(amount.get("refund"), "amount.refund")
    total_fen = _positive_int(amount.get("total"), "amount.total")
    if not data.get("out_trade_no") and not data.get("transaction_id"):
        raise state.SandboxError(400, "PARAM_ERROR", "须传 transaction_id 或 out_trade_no")
    reason = data.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 80:
        raise state.SandboxError(400, "PARAM_ERROR", "reason 长度超过 80")
    notify_url = data.get("notify_url") or settings.WECHATPAY["REFUND_NOTIFY_URL"]
    if settings.WECHATPAY.get("SANDBOX_REFUSE_REFUNDS"):
        # WeChat Pay refuses refunds while the merchant's account lacks the money (NOT_ENOUGH):
        # set to play a merchant who has not topped up yet.
        raise state.SandboxError(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起")

    refund = state.refund_create(
        out_refund_no=out_refund_no,
        refund_fen=refund_fen,
        total_fen=total_fen,
        reason=reason,
        notify_url=notify_url,
        out_trade_no=data.get("out_trade_no") or None,
        transaction_id=data.get("transaction_id") or None,
    )
    if refund["status"] == "PROCESSING":
        _complete_refund_later(out_refund_no)
    return 200, state.refund_as_json(refund)


@sandbox_api("GET")
def refund_query(request, credentials, out_refund_no):
    refund = state.refund_get(out_refund_no)
    if refund is None:
        raise state.SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return 200, state.refund_as_json(refund)


def _complete_refund_later(out_refund_no: str) -> None:
    """Like WeChat Pay: the refund answer says PROCESSING, the money moves a moment later and the
    refund notification follows. WECHATPAY["SANDBOX_AUTO_REFUND_SECONDS"] is the delay (default 1);
    None turns it off so a test completes refunds itself (see the wechatpay_sandbox fixture)."""
    delay = settings.WECHATPAY.get("SANDBOX_AUTO_REFUND_SECONDS", 1.0)
    if delay is None:
        return

    def complete() -> None:
        time.sleep(float(delay))
        try:
            refund = state.refund_complete(out_refund_no)
            headers, body = state.refund_notification(refund)
            if not deliver(refund["notify_url"], headers, body):
                logger.warning("sandbox refund notification for %s was not accepted", out_refund_no)
        except Exception:
            logger.exception("sandbox could not complete refund %s", out_refund_no)

    threading.Thread(target=complete, name=f"sandbox-refund-{out_refund_no}", daemon=True).start()


# --- The H5 cashier page -----------------------------------------------------------------------


def _safe_redirect(request, url: str) -> str:
    """The return address if it stays on our site (relative, SITE_URL's host or this host), else ""."""
    if not url:
        return ""
    allowed = {request.get_host(), urlsplit(settings.SITE_URL).netloc}
    if url_has_allowed_host_and_scheme(url, allowed_hosts=allowed, require_https=False):
        return url
    return ""


def _cashier(request, transaction: dict | None, *, status: int = 200, **extra) -> HttpResponse:
    # Rendered without the request context: the context processors would look up the signed-in
    # user in our database, and the sandbox stands apart from it.
    payable = bool(
        transaction
        and transaction["trade_state"] == "NOTPAY"
        and not state.transaction_is_expired(transaction)
    )
    context = {
        "transaction": transaction,
        "payable": payable,
        "paid": bool(transaction and transaction["trade_state"] in {"SUCCESS", "REFUND"}),
        "expired": bool(
            transaction
            and transaction["trade_state"] == "NOTPAY"
            and state.transaction_is_expired(transaction)
        ),
        "closed": bool(transaction and transaction["trade_state"] == "CLOSED"),
        "merchant_name": settings.WECHATPAY.get("SANDBOX_MERCHANT_NAME") or gettext("小店"),
        "redirect_url": _safe_redirect(
            request, request.POST.get("redirect_url") or request.GET.get("redirect_url", "")
        ),
        "csrf_token": get_token(request),
        **extra,
    }
    html = render_to_string("shop/payments/sandbox/pay.html", context)
    return HttpResponse(html, status=status)


@require_http_methods(["GET", "POST"])
def pay_page(request, prepay_id: str):
    """GET shows the cashier; POST `action=confirm` pays (then the notification is delivered and
    the browser returns to redirect_url), `action=cancel` goes back without paying."""
    transaction = state.transaction_find(prepay_id)
    if transaction is None or transaction["prepay_id"] != prepay_id:
        return _cashier(request, None, status=404)
    if request.method == "GET":
        return _cashier(request, transaction)

    redirect_url = _safe_redirect(request, request.POST.get("redirect_url", ""))
    if request.POST.get("action") == "cancel":
        if redirect_url:
            return HttpResponseRedirect(redirect_url)
        return _cashier(request, transaction, cancelled=True)

    try:
        transaction, newly_paid = state.transaction_confirm(prepay_id)
    except state.SandboxError as error:
        return _cashier(
            request,
            state.transaction_get(transaction["out_trade_no"]),
            status=400,
            error=gettext(error.message),
        )
    delivered = True
    if newly_paid:
        headers, body = state.payment_notification(transaction)
        delivered = deliver(transaction["notify_url"], headers, body)
        if not delivered:
            logger.warning(
                "sandbox payment notification for %s was not accepted", transaction["out_trade_no"]
            )
    if redirect_url:
        return HttpResponseRedirect(redirect_url)
    return _cashier(request, transaction, just_paid=newly_paid, delivered=delivered)
