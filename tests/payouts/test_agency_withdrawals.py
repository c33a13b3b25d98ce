"""Agencies withdraw their settled service fees: the agency's own ledger rows and balance entries, the
promoters' rules (minimum, fee, once a day, a verified real name: the owner's), paid to the owner's
WeChat balance through the sandbox's merchant transfer, a failure returns the money, racing requests
never overdraw; only the agency's owner asks or sees them."""

import threading

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Notification
from affiliates import services as affiliate_services
from affiliates.selectors import balance_of
from payouts import errors, services
from payouts.models import BalanceEntry, Withdrawal
from payouts.selectors import wallet_of
from tests.affiliates.helpers import make_promoter
from tests.factories import UserFactory
from tests.payouts.helpers import earn
from tests.payouts.test_withdrawals import _deliver_outbox
from tests.shop.order_factories import celery_eager  # noqa: F401

pytestmark = pytest.mark.django_db


def _agency_with_fees(operator=None, *, commission_fen=10_000, owner_verified=True):
    """An agency (10% service fee) whose creator earned `commission_fen` (settled), so the agency holds
    a tenth of it; its owner is an approved promoter with a real name unless not `owner_verified`."""
    owner_user = UserFactory(nickname="机构老板")
    if owner_verified:
        make_promoter(operator=operator, user=owner_user, name="机构老板")
    agency = affiliate_services.agency_create(name=f"星河机构{owner_user.pk}", owner=owner_user)
    creator = make_promoter(operator=operator, agency=agency)
    earn(creator, commission_fen=commission_fen)
    return agency, creator


def test_an_agency_withdraws_its_settled_fees_under_the_same_rules(operator, settings):
    agency, creator = _agency_with_fees(operator)
    assert balance_of(agency=agency)["settled_fen"] == 1000
    assert wallet_of(agency=agency)["available_fen"] == 1000
    owner = agency.owner
    with pytest.raises(errors.WithdrawalTooSmall):
        services.agency_withdrawal_request(user=owner, amount_fen=settings.WITHDRAWAL_MIN_FEN - 1)
    with pytest.raises(errors.InsufficientBalance):
        services.agency_withdrawal_request(user=owner, amount_fen=1001)
    settings.WITHDRAWAL_FEE_BP = 100  # 1%
    withdrawal = services.agency_withdrawal_request(user=owner, amount_fen=600)
    assert (withdrawal.agency_id, withdrawal.promoter_id) == (agency.pk, None)
    assert (withdrawal.fee_fen, withdrawal.payout_fen, withdrawal.real_name) == (6, 594, "张三")
    with pytest.raises(errors.OneWithdrawalADay):
        services.agency_withdrawal_request(user=owner, amount_fen=100)
    assert wallet_of(agency=agency)["available_fen"] == 400
    # The creator's own balance is theirs alone, and the owner's own (none) too.
    assert wallet_of(promoter=creator)["available_fen"] == 9000
    assert wallet_of(promoter=owner.promoter)["available_fen"] == 0
    # A rejection frees the day and returns the money to the agency.
    services.withdrawals_reject(withdrawal_ids=[withdrawal.pk], operator=operator, reason="核对中")
    assert wallet_of(agency=agency)["available_fen"] == 1000
    assert BalanceEntry.objects.filter(agency=agency).count() == 2
    assert services.agency_withdrawal_request(user=owner, amount_fen=1000).amount_fen == 1000


def test_only_a_verified_owner_withdraws_an_agencys_fees(operator):
    agency, creator = _agency_with_fees(operator, owner_verified=False)
    with pytest.raises(errors.WithdrawalNotAllowed):
        services.agency_withdrawal_request(user=agency.owner, amount_fen=500)  # no verified real name
    with pytest.raises(errors.WithdrawalNotAllowed):
        services.agency_withdrawal_request(user=creator.user, amount_fen=500)  # a member, not the owner
    # The creator's own withdrawal takes only their commission, never the agency's fees.
    with pytest.raises(errors.InsufficientBalance):
        services.withdrawal_request(user=creator.user, amount_fen=9001)
    assert Withdrawal.objects.count() == 0


def test_agency_fee_withdrawal_is_paid_to_the_owner_and_a_failure_returns_it(
    operator, wechatpay_sandbox, settings
):
    settings.WITHDRAWALS_PER_DAY = 2
    agency, creator = _agency_with_fees(operator)
    withdrawal = services.agency_withdrawal_request(user=agency.owner, amount_fen=1000)
    assert services.withdrawals_approve(withdrawal_ids=[withdrawal.pk], operator=operator) == 1
    _deliver_outbox()  # payout_submit: the signed create call
    withdrawal.refresh_from_db()
    bill = wechatpay_sandbox.transfer(withdrawal.out_bill_no)
    assert (bill["amount_fen"], bill["openid"]) == (1000, withdrawal.openid)
    wechatpay_sandbox.transfer_finish(withdrawal.out_bill_no)
    services.payout_reconcile_one(withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    wallet = wallet_of(agency=agency)
    assert (wallet["paid_out_fen"], wallet["available_fen"], wallet["in_withdrawal_fen"]) == (1000, 0, 0)
    _deliver_outbox()
    kinds = set(Notification.objects.filter(user=agency.owner).values_list("kind", flat=True))
    assert {"withdrawal_approved", "withdrawal_paid"} <= kinds

    # A second one fails at WeChat: the money is back in the agency's balance.
    earn(creator, commission_fen=5000)
    wechatpay_sandbox.transfer_plan(outcome="FAIL")
    failing = services.agency_withdrawal_request(user=agency.owner, amount_fen=500)
    services.withdrawals_approve(withdrawal_ids=[failing.pk], operator=operator)
    services.payout_submit(withdrawal_id=failing.pk)
    wechatpay_sandbox.transfer_finish(failing.out_bill_no)
    services.payout_reconcile_one(withdrawal_id=failing.pk)
    failing.refresh_from_db()
    assert failing.status == "failed" and failing.reason
    assert wallet_of(agency=agency)["available_fen"] == 500


def test_agency_withdrawal_page_and_api_are_the_owners_only(operator, django_assert_max_num_queries):
    agency, creator = _agency_with_fees(operator)
    owner = Client()
    owner.force_login(agency.owner)
    owner.get("/promoter/agency/withdrawals/")
    with django_assert_max_num_queries(2):  # cached: the page's state, the user (test_withdrawal_pages)
        page = owner.get("/promoter/agency/withdrawals/")
    assert page.status_code == 200 and 'data-testid="wallet-available">¥10.00<' in page.content.decode()
    bad = owner.post("/promoter/agency/withdrawals/", {"amount": "10.01"})
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    assert owner.post("/promoter/agency/withdrawals/", {"amount": "abc"}).status_code == 400
    done = owner.post("/promoter/agency/withdrawals/", {"amount": "3.00"})
    assert done.status_code == 302 and done.url == "/promoter/agency/withdrawals/"
    assert owner.get("/api/v1/agency/wallet/").json()["available_fen"] == 700
    listed = owner.get("/api/v1/agency/withdrawals/").json()
    assert [row["amount_fen"] for row in listed["results"]] == [300]
    again = owner.post("/api/v1/agency/withdrawals/", {"amount_fen": 100}, content_type="application/json")
    assert again.status_code == 400 and again.json()["code"] == "one_withdrawal_a_day"
    # A member or a stranger: no agency page, no agency API, and the member's own list shows none of it.
    member = Client()
    member.force_login(creator.user)
    assert member.get("/promoter/agency/withdrawals/").status_code == 404
    assert member.get("/api/v1/agency/wallet/").status_code == 403
    assert member.post("/api/v1/agency/withdrawals/", {"amount_fen": 100}).status_code == 403
    assert member.get("/api/v1/promoter/withdrawals/").json()["results"] == []


def _race(user, amounts):
    barrier = threading.Barrier(len(amounts))
    outcomes = []

    def attempt(amount):
        try:
            barrier.wait()
            services.agency_withdrawal_request(user=user, amount_fen=amount)
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
def test_racing_agency_withdrawals_never_overdraw(settings):
    settings.WITHDRAWALS_PER_DAY = 100  # only the balance stands between them
    agency, _creator = _agency_with_fees()
    outcomes = _race(agency.owner, [300] * 6)
    assert outcomes.count("ok") == 3 and outcomes.count("insufficient_balance") == 3
    assert wallet_of(agency=agency)["available_fen"] == 100
    assert Withdrawal.objects.filter(agency=agency).count() == 3


@pytest.mark.django_db(transaction=True)
def test_racing_agency_withdrawals_keep_once_a_day():
    agency, _creator = _agency_with_fees()
    outcomes = _race(agency.owner, [100] * 4)
    assert sorted(outcomes) == ["ok"] + ["one_withdrawal_a_day"] * 3
