"""The WeChat Pay provider through the real wechatpayv3 SDK, against the sandbox over real HTTP.

None of these tests is marked for the database: pytest-django blocks database access in every
thread, so they also prove the sandbox views never touch it.
"""

import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from django.utils import timezone

from shop.payments.base import (
    PaymentProviderError,
    PaymentRefused,
    TransactionAlreadyPaid,
    TransactionNotFound,
)
from shop.payments.sandbox import state


def prepay(provider, out_trade_no="WS20260101000001", amount_fen=12800, minutes=15, return_url="/orders/1/"):
    return provider.prepay(
        out_trade_no=out_trade_no,
        description="甜品小店-草莓蛋糕",
        amount_fen=amount_fen,
        client_ip="203.0.113.7",
        expires_at=timezone.now() + timedelta(minutes=minutes),
        return_url=return_url,
    )


def test_prepay_opens_a_transaction_and_gives_an_h5_pay_url(provider, wechatpay_sandbox):
    result = prepay(provider, return_url="http://127.0.0.1:8000/orders/7/?paid=1")

    assert re.fullmatch(r"wx[0-9a-f]{34}", result.prepay_id)
    parts = urlsplit(result.pay_url)
    assert result.pay_url.startswith(f"{wechatpay_sandbox.url}/pay/{result.prepay_id}/?prepay_id=")
    query = parse_qs(parts.query)
    assert query["prepay_id"] == [result.prepay_id]
    assert unquote(query["redirect_url"][0]) == "http://127.0.0.1:8000/orders/7/?paid=1"
    transaction = wechatpay_sandbox.transaction("WS20260101000001")
    assert transaction["amount_fen"] == 12800
    assert transaction["client_ip"] == "203.0.113.7"
    assert transaction["notify_url"] == provider.notify_url
    assert transaction["time_expire"].endswith("+08:00")


def test_prepay_is_idempotent_per_out_trade_no_but_refuses_another_amount(provider):
    first = prepay(provider)
    again = prepay(provider)
    assert again.prepay_id == first.prepay_id

    with pytest.raises(PaymentRefused) as refused:
        prepay(provider, amount_fen=9900)
    assert refused.value.provider_code == "INVALID_REQUEST"
    assert refused.value.status_code == 400


def test_query_follows_the_transaction_from_unpaid_to_paid(provider, wechatpay_sandbox):
    result = prepay(provider)
    unpaid = provider.query(out_trade_no="WS20260101000001")
    assert (unpaid.trade_state, unpaid.transaction_id, unpaid.amount_fen) == ("NOTPAY", None, 12800)

    wechatpay_sandbox.confirm(result.prepay_id)

    paid = provider.query(out_trade_no="WS20260101000001")
    assert paid.trade_state == "SUCCESS"
    assert paid.transaction_id == wechatpay_sandbox.transaction(result.prepay_id)["transaction_id"]
    assert paid.transaction_id.startswith("42000")


def test_query_of_an_unknown_payment_is_not_found(provider):
    with pytest.raises(TransactionNotFound) as missing:
        provider.query(out_trade_no="NEVER00000001")
    assert missing.value.provider_code == "ORDER_NOT_EXIST"


def test_close_makes_a_payment_unpayable_and_is_idempotent(provider, wechatpay_sandbox):
    result = prepay(provider)
    provider.close(out_trade_no="WS20260101000001")
    provider.close(out_trade_no="WS20260101000001")

    assert provider.query(out_trade_no="WS20260101000001").trade_state == "CLOSED"
    with pytest.raises(state.SandboxError):
        wechatpay_sandbox.confirm(result.prepay_id)
    with pytest.raises(PaymentRefused):
        prepay(provider)


def test_closing_a_paid_payment_is_refused_as_already_paid(provider, wechatpay_sandbox):
    result = prepay(provider)
    wechatpay_sandbox.confirm(result.prepay_id)

    with pytest.raises(TransactionAlreadyPaid):
        provider.close(out_trade_no="WS20260101000001")
    assert provider.query(out_trade_no="WS20260101000001").trade_state == "SUCCESS"


def test_a_closed_payment_can_still_be_forced_through_to_simulate_late_money(provider, wechatpay_sandbox):
    result = prepay(provider)
    provider.close(out_trade_no="WS20260101000001")

    headers, body = wechatpay_sandbox.confirm(result.prepay_id, force=True)

    notification = provider.parse_payment_notification(headers=headers, body=body)
    assert notification.out_trade_no == "WS20260101000001"
    assert notification.succeeded
    assert provider.query(out_trade_no="WS20260101000001").trade_state == "SUCCESS"


def test_an_expired_payment_reads_closed_and_cannot_be_paid(provider, wechatpay_sandbox):
    result = prepay(provider, minutes=-1)

    assert provider.query(out_trade_no="WS20260101000001").trade_state == "CLOSED"
    with pytest.raises(state.SandboxError) as refused:
        wechatpay_sandbox.confirm(result.prepay_id)
    assert refused.value.code == "ORDER_CLOSED"


def test_confirming_twice_pays_once(provider, wechatpay_sandbox):
    result = prepay(provider)
    first_headers, first_body = wechatpay_sandbox.confirm(result.prepay_id)
    second_headers, second_body = wechatpay_sandbox.confirm("WS20260101000001")

    first = provider.parse_payment_notification(headers=first_headers, body=first_body)
    second = provider.parse_payment_notification(headers=second_headers, body=second_body)
    assert first.transaction_id == second.transaction_id


def _pay_in_the_cashier(pay_url: str, action: str = "confirm") -> requests.Response:
    """What a phone browser does on the sandbox cashier: load it, press a button."""
    session = requests.Session()
    page = session.get(pay_url, timeout=10)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    redirect_url = re.search(r'name="redirect_url" value="([^"]*)"', page.text).group(1)
    return session.post(
        pay_url,
        data={
            "csrfmiddlewaretoken": token,
            "action": action,
            "redirect_url": redirect_url.replace("&amp;", "&"),
        },
        headers={"Referer": pay_url},
        allow_redirects=False,
        timeout=10,
    )


def test_cashier_page_shows_the_payment_and_confirm_delivers_a_verifiable_notification(
    provider, wechatpay_sandbox, recorder
):
    result = prepay(provider, return_url="/orders/7/")

    page = requests.get(result.pay_url, timeout=10)
    assert page.status_code == 200
    assert "确认支付" in page.text and "取消支付" in page.text
    assert "甜品小店-草莓蛋糕" in page.text and "128.00" in page.text

    answer = _pay_in_the_cashier(result.pay_url)

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/orders/7/"
    [received] = recorder.wait_for(1)
    assert received.path == "/notify/"
    assert received.headers["Wechatpay-Serial"] == provider.public_key_id
    notification = provider.parse_payment_notification(headers=received.headers, body=received.body)
    transaction = wechatpay_sandbox.transaction(result.prepay_id)
    assert notification.out_trade_no == "WS20260101000001"
    assert notification.transaction_id == transaction["transaction_id"]
    assert notification.amount_fen == notification.payer_total_fen == 12800
    assert notification.trade_state == "SUCCESS"
    assert notification.payer_openid == transaction["payer_openid"]
    assert notification.success_time is not None
    assert notification.raw["event_type"] == "TRANSACTION.SUCCESS"


def test_notification_is_retried_until_the_merchant_accepts_it(provider, wechatpay_sandbox, recorder):
    recorder._statuses.extend([500, 503])
    result = prepay(provider)

    _pay_in_the_cashier(result.pay_url)

    received = recorder.wait_for(3)
    assert len({request.body for request in received}) == 1
    assert wechatpay_sandbox.transaction(result.prepay_id)["trade_state"] == "SUCCESS"


def test_cancel_in_the_cashier_returns_without_paying(provider, wechatpay_sandbox, recorder):
    result = prepay(provider, return_url="/orders/7/")

    answer = _pay_in_the_cashier(result.pay_url, action="cancel")

    assert answer.status_code == 302 and answer.headers["Location"] == "/orders/7/"
    assert provider.query(out_trade_no="WS20260101000001").trade_state == "NOTPAY"
    assert recorder.received == []


def test_cashier_never_redirects_off_site(provider, wechatpay_sandbox, recorder):
    result = prepay(provider, return_url="https://evil.example/steal")

    answer = _pay_in_the_cashier(result.pay_url)

    assert answer.status_code == 200
    assert "evil.example" not in answer.text
    assert "支付成功" in answer.text


def test_cashier_of_an_unknown_or_closed_payment_offers_no_pay_button(provider, wechatpay_sandbox):
    unknown = requests.get(f"{wechatpay_sandbox.url}/pay/wx00000000000000/", timeout=10)
    assert unknown.status_code == 404 and "确认支付" not in unknown.text

    result = prepay(provider)
    provider.close(out_trade_no="WS20260101000001")
    closed = requests.get(result.pay_url, timeout=10)
    assert closed.status_code == 200
    assert "订单已关闭" in closed.text and "确认支付" not in closed.text


def test_refund_is_accepted_as_processing_and_its_notification_verifies(provider, wechatpay_sandbox):
    result = prepay(provider)
    wechatpay_sandbox.confirm(result.prepay_id)

    refund = provider.refund(
        out_trade_no="WS20260101000001",
        out_refund_no="RF1",
        amount_fen=3000,
        total_fen=12800,
        reason="少发一件",
    )
    assert refund.status == "PROCESSING"
    assert refund.refund_id.startswith("50")
    assert (
        provider.refund(
            out_trade_no="WS20260101000001",
            out_refund_no="RF1",
            amount_fen=3000,
            total_fen=12800,
            reason="少发一件",
        )
        == refund
    )
    assert wechatpay_sandbox.refund("RF1")["notify_url"] == provider.refund_notify_url

    headers, body = wechatpay_sandbox.refund_notification("RF1")

    notification = provider.parse_refund_notification(headers=headers, body=body)
    transaction = wechatpay_sandbox.transaction(result.prepay_id)
    assert notification.out_refund_no == "RF1"
    assert notification.refund_id == refund.refund_id
    assert notification.out_trade_no == "WS20260101000001"
    assert notification.transaction_id == transaction["transaction_id"]
    assert notification.refund_status == "SUCCESS" and notification.succeeded
    assert notification.amount_fen == 3000
    assert notification.success_time is not None
    code, message = provider._client.query_refund(out_refund_no="RF1")
    assert code == 200 and '"status": "SUCCESS"' in message


def test_refund_above_what_is_left_is_refused_with_a_400(provider, wechatpay_sandbox):
    result = prepay(provider)
    wechatpay_sandbox.confirm(result.prepay_id)
    provider.refund(
        out_trade_no="WS20260101000001", out_refund_no="RF1", amount_fen=10000, total_fen=12800, reason=""
    )

    with pytest.raises(PaymentRefused) as refused:
        provider.refund(
            out_trade_no="WS20260101000001", out_refund_no="RF2", amount_fen=2801, total_fen=12800, reason=""
        )
    assert refused.value.status_code == 400
    assert refused.value.provider_code == "INVALID_REQUEST"
    assert "可退金额" in refused.value.message
    assert wechatpay_sandbox.refund("RF2") is None
    assert wechatpay_sandbox.transaction(result.prepay_id)["refunded_fen"] == 10000
    # Exactly what is left is fine.
    provider.refund(
        out_trade_no="WS20260101000001", out_refund_no="RF3", amount_fen=2800, total_fen=12800, reason=""
    )


def test_refund_of_an_unpaid_payment_is_refused(provider):
    prepay(provider)
    with pytest.raises(PaymentRefused):
        provider.refund(
            out_trade_no="WS20260101000001", out_refund_no="RF1", amount_fen=1, total_fen=12800, reason=""
        )


def test_sandbox_completes_refunds_by_itself_and_notifies_the_merchant(provider, wechatpay_sandbox, recorder):
    wechatpay_sandbox.auto_refund_seconds(0)
    from shop.payments import get_payment_provider

    provider = get_payment_provider()
    result = prepay(provider)
    wechatpay_sandbox.confirm(result.prepay_id)

    refund = provider.refund(
        out_trade_no="WS20260101000001",
        out_refund_no="RF1",
        amount_fen=12800,
        total_fen=12800,
        reason="不想要了",
    )

    [received] = recorder.wait_for(1)
    assert received.path == "/notify/refund/"
    notification = provider.parse_refund_notification(headers=received.headers, body=received.body)
    assert (notification.refund_id, notification.amount_fen) == (refund.refund_id, 12800)
    assert wechatpay_sandbox.refund("RF1")["status"] == "SUCCESS"


def test_sandbox_refuses_a_request_signed_with_another_merchant_key(provider, wechatpay_sandbox):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from shop.payments.sandbox.keys import load_or_create_credentials
    from shop.payments.wechatpay import WeChatPayProvider

    credentials = load_or_create_credentials()
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    impostor = WeChatPayProvider(
        mchid=credentials.mchid,
        appid=credentials.appid,
        cert_serial_no=credentials.merchant_cert_serial_no,
        private_key_pem=stranger_key.decode(),
        apiv3_key=credentials.apiv3_key,
        public_key_pem=credentials.platform_public_key_pem,
        public_key_id=credentials.public_key_id,
        gateway=wechatpay_sandbox.url,
        notify_url=provider.notify_url,
        refund_notify_url=provider.refund_notify_url,
    )

    with pytest.raises(PaymentProviderError) as refused:
        prepay(impostor)
    assert refused.value.provider_code == "SIGN_ERROR"
    assert wechatpay_sandbox.transaction("WS20260101000001") is None


def test_sandbox_answers_401_without_a_valid_authorization_header(wechatpay_sandbox, provider):
    url = f"{wechatpay_sandbox.url}/v3/pay/transactions/h5"
    unsigned = requests.post(url, json={"mchid": provider.mchid}, timeout=10)
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "SIGN_ERROR"

    # A genuine header for one body does not cover another body.
    from wechatpayv3.utils import build_authorization

    authorization = build_authorization(
        "/v3/pay/transactions/h5",
        "POST",
        provider.mchid,
        provider._client._core._cert_serial_no,
        provider._client._core._private_key,
        data={"amount": {"total": 1}},
    )
    replayed = requests.post(
        url, json={"amount": {"total": 100000}}, headers={"Authorization": authorization}, timeout=10
    )
    assert replayed.status_code == 401


def test_sdk_refuses_an_answer_not_signed_by_the_platform_key(provider, wechatpay_sandbox):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from shop.payments.sandbox.keys import load_or_create_credentials
    from shop.payments.wechatpay import WeChatPayProvider

    credentials = load_or_create_credentials()
    other_public_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    distrustful = WeChatPayProvider(
        mchid=credentials.mchid,
        appid=credentials.appid,
        cert_serial_no=credentials.merchant_cert_serial_no,
        private_key_pem=credentials.merchant_private_key_pem,
        apiv3_key=credentials.apiv3_key,
        public_key_pem=other_public_key.decode(),
        public_key_id=credentials.public_key_id,
        gateway=wechatpay_sandbox.url,
        notify_url=provider.notify_url,
        refund_notify_url=provider.refund_notify_url,
    )

    with pytest.raises(PaymentProviderError) as untrusted:
        prepay(distrustful)
    assert "could not be trusted" in untrusted.value.message


def test_an_unreachable_gateway_is_a_clear_503(wechatpay_sandbox):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    wechatpay_sandbox.configure(GATEWAY=f"http://127.0.0.1:{closed_port}")
    from shop.payments import get_payment_provider

    with pytest.raises(PaymentProviderError) as unavailable:
        prepay(get_payment_provider())
    assert unavailable.value.status_code == 503
    assert unavailable.value.code == "payment_provider_unavailable"


def test_racing_confirmations_pay_once_with_one_transaction_id(provider, wechatpay_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    result = prepay(provider)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: state.transaction_confirm(result.prepay_id), range(8)))

    assert len({transaction["transaction_id"] for transaction, _ in outcomes}) == 1
    assert sum(newly_paid for _, newly_paid in outcomes) == 1


def test_racing_refunds_never_exceed_what_was_paid(provider, wechatpay_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    result = prepay(provider)
    wechatpay_sandbox.confirm(result.prepay_id)

    def ask(number):
        try:
            return provider.refund(
                out_trade_no="WS20260101000001",
                out_refund_no=f"RF{number}",
                amount_fen=3000,
                total_fen=12800,
                reason="",
            )
        except PaymentRefused:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(8)))

    accepted = [answer for answer in answers if answer is not None]
    assert len(accepted) == 4  # 4 x 30.00 fits in 128.00, a fifth does not
    assert wechatpay_sandbox.transaction(result.prepay_id)["refunded_fen"] == 12000
