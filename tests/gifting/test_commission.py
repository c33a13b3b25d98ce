"""A gift bought through a tracked link earns commission on claimed copies only, through the ledger's
own rules (derived from orders and refunds): the gift order earns nothing, each claimed copy's
sub-order earns on its line, a refunded claimed copy reverses its commission, and unclaimed copies
refunded at expiry never earned any."""

import pytest

from affiliates.ledger import ledger_sync
from affiliates.models import CommissionEntry
from gifting.models import Gift
from gifting.services import gift_by_token, gift_claim, gift_expire
from shop.models import Order
from shop.services.refunds import order_refund, refund_settle
from tests.affiliates.helpers import click, creator_link, make_promoter, offer
from tests.factories import UserFactory
from tests.gifting.helpers import ADDRESS, make_recipient, past_deadline
from tests.shop.order_factories import make_sku, pay_order

pytestmark = pytest.mark.django_db


def _commission(**filters):
    return sorted(
        CommissionEntry.objects.filter(role="creator", **filters).values_list(
            "kind", "status", "amount_fen", "base_fen"
        )
    )


def test_commission_on_claimed_copies_only(client):
    creator = make_promoter()
    sku = make_sku(price_fen=10000, stock=10)
    offer(sku, rate_bp=1000)
    link = creator_link(creator, sku)
    giver = UserFactory()
    client.force_login(giver)
    click(client, link)
    answer = client.post(
        "/api/v1/gifts/", {"sku_id": sku.pk, "copies": 3, "mode": "group"}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    gift = Gift.objects.get(token=answer.json()["token"])
    assert gift.order_line.attribution and gift.order_line.attribution["creator"] == creator.pk
    pay_order(gift.order)
    gift = gift_by_token(gift.token)
    ledger_sync()
    assert not CommissionEntry.objects.exists()  # the gift order itself earns nothing

    first = gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    second = gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    ledger_sync()
    assert _commission() == [("commission", "pending", 1000, 10000)] * 2
    assert set(CommissionEntry.objects.values_list("order_id", flat=True)) == {
        first.order_id,
        second.order_id,
    }

    refund = gift_expire(gift_id=gift.pk, now=past_deadline(gift))
    refund_settle(out_refund_no=refund.out_refund_no, refund_id="wx-gift-1", amount_fen=refund.amount_fen)
    assert Order.objects.get(pk=gift.order_id).status == Order.Status.CLOSED
    ledger_sync()
    assert _commission() == [("commission", "pending", 1000, 10000)] * 2

    # The second recipient's copy is refunded before shipping: its commission goes, the first stays.
    sub_refund = order_refund(order_id=second.order_id, actor=None, reason="不想要了", full=True)
    assert sub_refund.payment.order_id == gift.order_id  # paid back from the giver's payment
    refund_settle(out_refund_no=sub_refund.out_refund_no, refund_id="wx-gift-2", amount_fen=10000)
    ledger_sync()
    assert Order.objects.get(pk=second.order_id).status == Order.Status.CLOSED
    assert _commission(order_id=first.order_id) == [("commission", "pending", 1000, 10000)]
    assert _commission(order_id=second.order_id, kind="commission") == [
        ("commission", "cancelled", 1000, 10000)
    ]
    assert ledger_sync() == {"accrued": 0, "adjusted": 0, "cancelled": 0, "settled": 0}
