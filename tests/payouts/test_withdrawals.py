"""Withdrawals: from the settled balance only, minimum, fee, once a day, real-name promoters only;
review; payment through the sandbox's merchant transfer (signed calls and notifications); failures
return the money; a timed-out transfer is queried, never paid twice; racing requests never overdraw."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Notification
from affiliates.models import Promoter
from outbox.models import Message
from payouts import errors, services
from payouts.models import BalanceEntry, Withdrawal
from payouts.selectors import wallet_of
from tests.affiliates.helpers import make_promoter
from tests.factories import UserFactory
from tests.payouts.helpers import earn
from tests.shop.order_factories import celery_eager  # noqa: F401

pytestmark = pytest.mark.django_db


def _deliver_outbox():
    """Run the outbox messages now, as the worker would."""
    from outbox.services import outbox_deliver

    for message_id in Message.objects.filter(done_at__isnull=True).values_list("pk", flat=True):
        outbox_deliver(message_id=message_id)


@pytest.fixture
def creator(operator):
    return make_promoter(operator=operator, name="带货达人")


def test_only_the_settled_balance_can_be_withdrawn(creator, settings):
    earn(creator, commission_fen=1000)
    earn(creator, commission_fen=500, complete_order=False)
    wallet = wallet_of(promoter=creator)
    assert (wallet["settled_fen"], wallet["pending_fen"], wallet["available_fen"]) == (1000, 500, 1000)

    with pytest.raises(errors.InsufficientBalance):
        services.withdrawal_request(user=creator.user, amount_fen=1001)
    with pytest.raises(errors.WithdrawalTooSmall):
        services.withdrawal_request(user=creator.user, amount_fen=99)

    withdrawal = services.withdrawal_request(user=creator.user, amount_fen=1000)
    assert (withdrawal.status, withdrawal.fee_fen, withdrawal.payout_fen) == ("requested", 0, 1000)
    wallet = wallet_of(promoter=creator)
    assert (wallet["available_fen"], wallet["in_withdrawal_fen"]) == (0, 1000)
    assert list(BalanceEntry.objects.values_list("kind", "amount_fen")) == [("withdrawal", -1000)]


def test_fee_and_minimum_come_from_settings(creator, settings):
    settings.WITHDRAWAL_FEE_BP = 60  # 0.6%
    settings.WITHDRAWAL_MIN_FEN = 500
    earn(creator, commission_fen=1000)
    with pytest.raises(errors.WithdrawalTooSmall):
        services.withdrawal_request(user=creator.user, amount_fen=499)
    withdrawal = services.withdrawal_request(user=creator.user, amount_fen=1000)
    assert (withdrawal.amount_fen, withdrawal.fee_fen, withdrawal.payout_fen) == (1000, 6, 994)


def test_once_a_day_and_a_rejection_frees_the_day(creator, operator):
    earn(creator, commission_fen=1000)
    first = services.withdrawal_request(user=creator.user, amount_fen=300)
    with pytest.raises(errors.OneWithdrawalADay):
        services.withdrawal_request(user=creator.user, amount_fen=300)
    assert services.withdrawals_reject(withdrawal_ids=[first.pk], operator=operator, reason="信息不符") == 1
    first.refresh_from_db()
    assert (first.status, first.reason) == ("rejected", "信息不符")
    assert wallet_of(promoter=creator)["available_fen"] == 1000
    services.withdrawal_request(user=creator.user, amount_fen=300)


def test_only_approved_real_name_promoters_withdraw(creator, operator):
    earn(creator, commission_fen=1000)
    Promoter.objects.filter(pk=creator.pk).update(real_name="")
    with pytest.raises(errors.WithdrawalNotAllowed):
        services.withdrawal_request(user=creator.user, amount_fen=100)
    Promoter.objects.filter(pk=creator.pk).update(real_name="张三", status="frozen")
    client = Client()
    client.force_login(creator.user)
    assert client.post("/api/v1/promoter/withdrawals/", {"amount_fen": 100}).status_code == 403
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.post("/api/v1/promoter/withdrawals/", {"amount_fen": 100}).status_code == 403
    assert stranger.get("/promoter/withdrawals/").status_code == 404


def test_api_answers_bad_input_with_field_messages(creator):
    earn(creator, commission_fen=1000)
    client = Client()
    client.force_login(creator.user)
    response = client.post("/api/v1/promoter/withdrawals/", {"amount_fen": "lots"})
    assert response.status_code == 400 and "amount_fen" in response.json()
    response = client.post("/api/v1/promoter/withdrawals/", {"amount_fen": 5000})
    assert response.status_code == 400 and response.json()["code"] == "insufficient_balance"
    response = client.post("/api/v1/promoter/withdrawals/", {"amount_fen": 400})
    assert response.status_code == 201, response.content
    own = response.json()["id"]
    assert client.get(f"/api/v1/promoter/withdrawals/{own}/").status_code == 200
    assert client.get("/api/v1/promoter/wallet/").json()["available_fen"] == 600
    other = Client()
    other.force_login(make_promoter(name="别人").user)
    assert other.get(f"/api/v1/promoter/withdrawals/{own}/").status_code == 404


def test_page_withdraws_and_shows_errors(creator, django_assert_max_num_queries):
    earn(creator, commission_fen=1000)
    client = Client()
    client.force_login(creator.user)
    client.get("/promoter/withdrawals/")
    with django_assert_max_num_queries(2):  # cached: the page's state, the user (test_withdrawal_pages)
        assert client.get("/promoter/withdrawals/").status_code == 200
    response = client.post("/promoter/withdrawals/", {"amount": "20.00"})
    assert response.status_code == 400
    assert "10.00" in response.content.decode()  # "at most ¥10.00"
    response = client.post("/promoter/withdrawals/", {"amount": "3.50"}, follow=True)
    assert response.status_code == 200
    assert Withdrawal.objects.get().amount_fen == 350


# --- paying through the sandbox ------------------------------------------------------------------


def _approved(creator, operator, amount_fen=1000):
    earn(creator, commission_fen=amount_fen)
    withdrawal = services.withdrawal_request(user=creator.user, amount_fen=amount_fen)
    assert services.withdrawals_start_review(withdrawal_ids=[withdrawal.pk], operator=operator) == 1
    assert services.withdrawals_approve(withdrawal_ids=[withdrawal.pk], operator=operator) == 1
    return Withdrawal.objects.get(pk=withdrawal.pk)


def test_approved_withdrawal_is_paid_by_transfer_and_notification(creator, operator, wechatpay_sandbox):
    withdrawal = _approved(creator, operator)
    _deliver_outbox()  # payout_submit: one signed create call to the sandbox
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transfer_state, withdrawal.attempts) == (
        "approved",
        "PROCESSING",
        1,
    )
    bill = wechatpay_sandbox.transfer(withdrawal.out_bill_no)
    assert (bill["amount_fen"], bill["openid"], bill["state"]) == (1000, withdrawal.openid, "PROCESSING")

    headers, body = wechatpay_sandbox.transfer_finish(withdrawal.out_bill_no)
    client = Client()
    tampered = body.replace(b'"ciphertext":"', b'"ciphertext":"A')
    assert (
        client.post(
            "/payments/notify/wechatpay/transfer/",
            tampered,
            content_type="application/json",
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
        ).status_code
        == 400
    )
    withdrawal.refresh_from_db()
    assert withdrawal.status == "approved"

    for _ in range(2):  # WeChat may send it twice
        response = client.post(
            "/payments/notify/wechatpay/transfer/",
            body,
            content_type="application/json",
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
        )
        assert response.status_code == 204, response.content
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transfer_state) == ("paid", "SUCCESS")
    assert withdrawal.transfer_bill_no == bill["transfer_bill_no"]
    wallet = wallet_of(promoter=creator)
    assert (wallet["available_fen"], wallet["paid_out_fen"], wallet["in_withdrawal_fen"]) == (0, 1000, 0)
    _deliver_outbox()
    kinds = set(Notification.objects.filter(user=creator.user).values_list("kind", flat=True))
    assert {"withdrawal_approved", "withdrawal_paid"} <= kinds


def test_failed_payout_returns_the_money_with_the_reason(creator, operator, wechatpay_sandbox):
    wechatpay_sandbox.transfer_plan(outcome="FAIL")
    withdrawal = _approved(creator, operator)
    services.payout_submit(withdrawal_id=withdrawal.pk)
    wechatpay_sandbox.transfer_finish(withdrawal.out_bill_no)
    # No notification delivered: the reconcile job asks WeChat once the transfer has been quiet.
    assert services.payouts_reconcile(now=timezone.now() + timedelta(minutes=5)) == 1
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.reason) == ("failed", "REAL_NAME_CHECK_FAIL")
    assert wallet_of(promoter=creator)["available_fen"] == 1000
    assert sorted(BalanceEntry.objects.values_list("kind", "amount_fen")) == [
        ("return", 1000),
        ("withdrawal", -1000),
    ]
    services.payouts_reconcile(now=timezone.now() + timedelta(minutes=10))  # nothing changes again
    assert BalanceEntry.objects.count() == 2
    _deliver_outbox()
    assert Notification.objects.filter(user=creator.user, kind="withdrawal_failed").count() == 1
    # The money can be withdrawn again, the same day.
    again = services.withdrawal_request(user=creator.user, amount_fen=1000)
    assert again.out_bill_no != withdrawal.out_bill_no


def test_payout_retried_after_a_timeout_is_queried_and_paid_once(creator, operator, wechatpay_sandbox):
    wechatpay_sandbox.configure(READ_TIMEOUT_SECONDS=0.5)
    wechatpay_sandbox.transfer_plan(outcome="SUCCESS", delay_seconds=1.5)
    withdrawal = _approved(creator, operator)
    services.payout_submit(withdrawal_id=withdrawal.pk)  # the answer never arrives in time
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transfer_state, withdrawal.attempts) == ("approved", "", 1)
    assert wechatpay_sandbox.transfer(withdrawal.out_bill_no)["requests"] == 1  # WeChat has the bill

    wechatpay_sandbox.transfer_plan(outcome="SUCCESS")  # answers are quick again
    services.payout_submit(withdrawal_id=withdrawal.pk)  # the outbox retries: it queries, never re-sends
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transfer_state) == ("approved", "PROCESSING")
    wechatpay_sandbox.transfer_finish(withdrawal.out_bill_no)
    services.payouts_reconcile(now=timezone.now() + timedelta(minutes=5))
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert wechatpay_sandbox.transfer(withdrawal.out_bill_no)["requests"] == 1
    assert wallet_of(promoter=creator)["paid_out_fen"] == 1000


def test_a_bill_wechat_never_got_is_sent_again_under_the_same_number(creator, operator, wechatpay_sandbox):
    withdrawal = _approved(creator, operator)
    # As if the process died after marking it sent but before the request left.
    Withdrawal.objects.filter(pk=withdrawal.pk).update(submitted_at=timezone.now(), attempts=1)
    assert wechatpay_sandbox.transfer(withdrawal.out_bill_no) is None
    services.payouts_reconcile(now=timezone.now() + timedelta(minutes=5))
    bill = wechatpay_sandbox.transfer(withdrawal.out_bill_no)
    assert bill is not None and bill["requests"] == 1
    withdrawal.refresh_from_db()
    assert (withdrawal.transfer_state, withdrawal.attempts) == ("PROCESSING", 2)


def test_operator_bulk_actions_in_admin(creator, operator, wechatpay_sandbox):
    others = [make_promoter(operator=operator) for _ in range(2)]
    ids = []
    for promoter in [creator, *others]:
        earn(promoter, commission_fen=500)
        ids.append(services.withdrawal_request(user=promoter.user, amount_fen=500).pk)
    client = Client()
    client.force_login(operator)
    page = client.get("/admin/payouts/withdrawal/")
    assert page.status_code == 200
    response = client.post(
        "/admin/payouts/withdrawal/",
        {"action": "reject", "_selected_action": [ids[0]], "reason": ""},
    )
    assert response.status_code == 200 and 'data-testid="reject-form"' in response.content.decode()
    assert Withdrawal.objects.get(pk=ids[0]).status == "requested"  # a rejection asks for its reason
    client.post(
        "/admin/payouts/withdrawal/", {"action": "reject", "_selected_action": [ids[0]], "reason": "资料不全"}
    )
    client.post("/admin/payouts/withdrawal/", {"action": "approve", "_selected_action": ids})
    assert dict(Withdrawal.objects.values_list("pk", "status")) == {
        ids[0]: "rejected",
        ids[1]: "approved",
        ids[2]: "approved",
    }
    merchant = UserFactory(is_staff=True)
    client.force_login(merchant)
    assert client.get("/admin/payouts/withdrawal/").status_code in {302, 403}


# --- races ----------------------------------------------------------------------------------------


def _race(user, amounts):
    barrier = threading.Barrier(len(amounts))
    outcomes = []

    def attempt(amount):
        try:
            barrier.wait()
            services.withdrawal_request(user=user, amount_fen=amount)
            outcomes.append("ok")
        except (errors.InsufficientBalance, errors.OneWithdrawalADay) as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_racing_withdrawals_never_overdraw(settings):
    settings.WITHDRAWALS_PER_DAY = 10  # only the balance stands between them
    creator = make_promoter()
    earn(creator, commission_fen=1000)
    outcomes = _race(creator.user, [700, 700])
    assert sorted(outcomes) == ["insufficient_balance", "ok"]
    assert wallet_of(promoter=creator)["available_fen"] == 300


@pytest.mark.django_db(transaction=True)
def test_ten_racing_withdrawals_never_overdraw(settings):
    settings.WITHDRAWALS_PER_DAY = 100
    creator = make_promoter()
    earn(creator, commission_fen=1000)
    outcomes = _race(creator.user, [300] * 10)
    assert outcomes.count("ok") == 3 and outcomes.count("insufficient_balance") == 7
    wallet = wallet_of(promoter=creator)
    assert wallet["available_fen"] == 100
    assert Withdrawal.objects.filter(promoter=creator).count() == 3


@pytest.mark.django_db(transaction=True)
def test_racing_withdrawals_keep_once_a_day():
    creator = make_promoter()
    earn(creator, commission_fen=1000)
    outcomes = _race(creator.user, [100] * 5)
    assert sorted(outcomes) == ["ok"] + ["one_withdrawal_a_day"] * 4
