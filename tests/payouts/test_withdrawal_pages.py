"""The withdrawal pages (a promoter's own, an agency owner's) on the layered pattern: a warm view is
one Redis round trip and two statements, whatever the payee's rows; every step of a withdrawal and
every ledger change shows on the next request; two payees interleaved never see each other's page;
a form with errors is shown for its request only."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from affiliates import services as affiliate_services
from affiliates.ledger import ledger_sync
from payouts import services
from payouts.models import Withdrawal
from shop.payments.base import TransferState
from tests.affiliates.helpers import complete, make_promoter
from tests.factories import UserFactory
from tests.payouts.helpers import earn

pytestmark = pytest.mark.django_db

PROMOTER_PAGE = "/promoter/withdrawals/"
AGENCY_PAGE = "/promoter/agency/withdrawals/"


def signed_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def shown(body: str, testid: str) -> str:
    return body.split(f'data-testid="{testid}">')[1].split("<")[0]


def states(body: str) -> list[str]:
    return [part.split("<")[0] for part in body.split('data-testid="withdrawal-state">')[1:]]


def page(client, path=PROMOTER_PAGE) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def cached_views(client, path=PROMOTER_PAGE) -> int:
    """Queries of a view of `path` (after a first view that caches it)."""
    page(client, path)
    with CaptureQueriesContext(connection) as captured:
        page(client, path)
    return len(captured)


def _agency_with_fees(operator, *, commission_fen=10_000, name="星河机构"):
    owner = UserFactory(nickname="机构老板")
    make_promoter(operator=operator, user=owner, name="机构老板")
    agency = affiliate_services.agency_create(name=name, owner=owner)
    creator = make_promoter(operator=operator, agency=agency)
    earn(creator, commission_fen=commission_fen)  # the agency's 10%: settled
    return agency, creator


def test_warm_pages_are_two_queries_whatever_the_payees_rows(
    operator, settings, django_assert_max_num_queries
):
    settings.WITHDRAWALS_PER_DAY = 10
    creator = make_promoter(operator=operator, name="带货达人")
    earn(creator, commission_fen=5000)
    agency, member = _agency_with_fees(operator)
    mine, owner = signed_in(creator.user), signed_in(agency.owner)
    for client, path in ((mine, PROMOTER_PAGE), (owner, AGENCY_PAGE)):
        page(client, path)  # built and cached
        # The page's state (payee, menu, wallet, withdrawals' fingerprint), then the user with the
        # top bar's figures: nothing else, the list and the frame come from the cache.
        with django_assert_max_num_queries(2):
            body = page(client, path)
        assert 'data-testid="wallet"' in body and 'name="csrfmiddlewaretoken"' in body
    assert 'data-testid="promoter-page"' in page(mine)  # the promoter menu, layered on

    # More of everything: withdrawals in every state, commission settled, pending and clawed back.
    for amount in (100, 200, 300):
        done = services.withdrawal_request(user=creator.user, amount_fen=amount)
        services.agency_withdrawal_request(user=agency.owner, amount_fen=amount)
    services.withdrawals_reject(withdrawal_ids=[done.pk], operator=operator, reason="核对中")
    earn(creator, commission_fen=700, complete_order=False)
    earn(member, commission_fen=900)
    for client, path in ((mine, PROMOTER_PAGE), (owner, AGENCY_PAGE)):
        assert cached_views(client, path) == 2
    assert len(states(page(mine))) == 3 and len(states(page(owner, AGENCY_PAGE))) == 3


def test_each_step_of_a_withdrawal_shows_on_the_next_request(operator, settings):
    settings.WITHDRAWALS_PER_DAY = 3
    creator = make_promoter(operator=operator, name="带货达人")
    earn(creator, commission_fen=1000)
    client = signed_in(creator.user)
    body = page(client)
    assert (shown(body, "wallet-available"), states(body)) == ("¥10.00", [])
    assert cached_views(client) == 2  # the next steps each replace a cached page

    # Asked on the page: the flash message once, the withdrawal and the balance at once.
    response = client.post(PROMOTER_PAGE, {"amount": "3.00"}, follow=True)
    body = response.content.decode()
    first = Withdrawal.objects.get()
    assert response.status_code == 200 and first.out_bill_no in body
    assert body.count(first.out_bill_no) == 2  # in the message and in the list
    assert states(body) == ["Requested"]
    assert (shown(body, "wallet-available"), shown(body, "wallet-in-withdrawal")) == ("¥7.00", "¥3.00")
    assert page(client).count(first.out_bill_no) == 1  # the message was shown once

    services.withdrawals_start_review(withdrawal_ids=[first.pk], operator=operator)
    assert states(page(client)) == ["Under review"]
    services.withdrawals_approve(withdrawal_ids=[first.pk], operator=operator)
    assert states(page(client)) == ["Approved, paying"]
    services.payout_record_state(
        state=TransferState(
            out_bill_no=first.out_bill_no, transfer_bill_no="T1", state="SUCCESS", amount_fen=300
        )
    )
    body = page(client)
    assert states(body) == ["Paid"]
    assert (shown(body, "wallet-paid"), shown(body, "wallet-in-withdrawal")) == ("¥3.00", "¥0.00")
    assert shown(body, "wallet-available") == "¥7.00"

    # Failed at WeChat: the money is back, with WeChat's reason.
    second = services.withdrawal_request(user=creator.user, amount_fen=500)
    assert shown(page(client), "wallet-available") == "¥2.00"
    services.withdrawals_approve(withdrawal_ids=[second.pk], operator=operator)
    page(client)
    services.payout_record_state(
        state=TransferState(
            out_bill_no=second.out_bill_no,
            transfer_bill_no="T2",
            state="FAIL",
            amount_fen=500,
            fail_reason="REAL_NAME_CHECK_FAIL",
        )
    )
    body = page(client)
    assert states(body) == ["Payout failed", "Paid"] and "REAL_NAME_CHECK_FAIL" in body
    assert shown(body, "wallet-available") == "¥7.00"

    # Rejected by an operator: the money is back, with the operator's reason.
    third = services.withdrawal_request(user=creator.user, amount_fen=700)
    assert shown(page(client), "wallet-available") == "¥0.00"
    services.withdrawals_reject(withdrawal_ids=[third.pk], operator=operator, reason="信息不符")
    body = page(client)
    assert states(body) == ["Rejected", "Payout failed", "Paid"] and "信息不符" in body
    assert shown(body, "wallet-available") == "¥7.00"


def test_commission_settled_and_clawed_back_shows_on_the_next_request(operator):
    creator = make_promoter(operator=operator, name="带货达人")
    order = earn(creator, commission_fen=1200, complete_order=False)
    client = signed_in(creator.user)
    body = page(client)
    assert (shown(body, "wallet-pending"), shown(body, "wallet-available")) == ("¥12.00", "¥0.00")
    assert cached_views(client) == 2

    complete(order)
    ledger_sync()  # set-based SQL: the page reads the wallet on every view, so it cannot miss it
    body = page(client)
    assert (shown(body, "wallet-pending"), shown(body, "wallet-settled")) == ("¥0.00", "¥12.00")
    assert shown(body, "wallet-available") == "¥12.00"

    # A withdrawal of everything, then another order's commission: still never more than is there.
    services.withdrawal_request(user=creator.user, amount_fen=1200)
    assert shown(page(client), "wallet-available") == "¥0.00"
    earn(creator, commission_fen=300)
    body = page(client)
    assert (shown(body, "wallet-available"), shown(body, "wallet-in-withdrawal")) == ("¥3.00", "¥12.00")


def test_two_promoters_interleaved_never_see_each_others_page(operator):
    first = make_promoter(operator=operator, name="甲达人")
    second = make_promoter(operator=operator, name="乙达人")
    earn(first, commission_fen=1000)
    earn(second, commission_fen=2000)
    mine = services.withdrawal_request(user=first.user, amount_fen=400).out_bill_no
    theirs = services.withdrawal_request(user=second.user, amount_fen=900).out_bill_no
    first_client, second_client = signed_in(first.user), signed_in(second.user)
    for _ in range(3):  # built, then cached: each time their own
        one, two = page(first_client), page(second_client)
        assert mine in one and theirs not in one and shown(one, "wallet-available") == "¥6.00"
        assert theirs in two and mine not in two and shown(two, "wallet-available") == "¥11.00"

    # One browser, signed out and in as the other: a new session, never the last one's page.
    first_client.logout()
    first_client.force_login(second.user)
    body = page(first_client)
    assert theirs in body and mine not in body and shown(body, "wallet-available") == "¥11.00"
    # And the agency page is nobody's here.
    assert first_client.get(AGENCY_PAGE).status_code == 404


def test_two_agencies_interleaved_never_see_each_others_page(operator):
    one, one_creator = _agency_with_fees(operator, commission_fen=10_000, name="甲机构")
    two, _ = _agency_with_fees(operator, commission_fen=30_000, name="乙机构")
    mine = services.agency_withdrawal_request(user=one.owner, amount_fen=200).out_bill_no
    theirs = services.agency_withdrawal_request(user=two.owner, amount_fen=500).out_bill_no
    first, second = signed_in(one.owner), signed_in(two.owner)
    for _ in range(3):
        a, b = page(first, AGENCY_PAGE), page(second, AGENCY_PAGE)
        assert "甲机构" in a and mine in a and theirs not in a and shown(a, "wallet-available") == "¥8.00"
        assert "乙机构" in b and theirs in b and mine not in b and shown(b, "wallet-available") == "¥25.00"
        # The owner's own promoter page, in the same session, is theirs and not the agency's.
        own = page(first)
        assert mine not in own and shown(own, "wallet-available") == "¥0.00"
    # The agency's member has no agency page; their own page shows their commission only.
    member = signed_in(one_creator.user)
    assert member.get(AGENCY_PAGE).status_code == 404
    body = page(member)
    assert mine not in body and shown(body, "wallet-available") == "¥90.00"


def test_a_page_cached_for_a_promoter_is_not_shown_once_they_are_frozen(operator):
    creator = make_promoter(operator=operator, name="带货达人")
    earn(creator, commission_fen=1000)
    client = signed_in(creator.user)
    assert cached_views(client) == 2
    affiliate_services.promoter_freeze(promoter_id=creator.pk, operator=operator)
    assert client.get(PROMOTER_PAGE).status_code == 404
    anonymous = Client()
    response = anonymous.get(PROMOTER_PAGE)
    assert (response.status_code, response.url) == (302, "/accounts/login/?next=/promoter/withdrawals/")


def test_a_form_with_errors_is_shown_for_its_request_only(operator):
    creator = make_promoter(operator=operator, name="带货达人")
    earn(creator, commission_fen=1000)
    client = signed_in(creator.user)
    page(client)
    response = client.post(PROMOTER_PAGE, {"amount": "20.00"})
    body = response.content.decode()
    assert response.status_code == 400 and "errorlist" in body and "¥10.00" in body
    assert 'value="20.00"' in body and shown(body, "wallet-available") == "¥10.00"
    body = page(client)
    assert "errorlist" not in body and 'value="20.00"' not in body


def test_the_orm_reading_off_postgresql_agrees_with_the_statement(operator):
    """The local demo's SQLite reads the page's state through the ORM (and never caches the page)."""
    from payouts.selectors import _withdrawal_page_state_orm, withdrawal_page_state

    agency, creator = _agency_with_fees(operator)
    earn(creator, commission_fen=400, complete_order=False)
    services.withdrawal_request(user=creator.user, amount_fen=500)
    services.agency_withdrawal_request(user=agency.owner, amount_fen=300)
    for user, payee in ((creator.user, "promoter"), (agency.owner, "agency"), (agency.owner, "promoter")):
        statement = withdrawal_page_state(user_id=user.pk, payee=payee)
        orm = _withdrawal_page_state_orm(user_id=user.pk, payee=payee)
        assert statement.listed is not None and orm.listed is None
        assert orm == statement.__class__(**{**statement.__dict__, "listed": None}), payee
    assert withdrawal_page_state(user_id=creator.user.pk, payee="agency") is None
    assert _withdrawal_page_state_orm(user_id=creator.user.pk, payee="agency") is None
