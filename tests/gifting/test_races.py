"""Gifts under real concurrency: threads with their own PostgreSQL connections racing for copies,
against the expiry job, and for the last unit of a switched spec."""

import pytest

from config.exceptions import DomainError
from gifting.models import Gift, GiftClaim, GiftCopy
from gifting.services import gift_claim, gift_expire, gifts_expire_due
from shop.models import SKU, Order, Refund, RefundLine
from tests.gifting.helpers import ADDRESS, make_recipient, other_spec, paid_gift, past_deadline
from tests.load.test_checkout_race import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_people_race_for_a_five_copy_group_gift():
    gift = paid_gift(copies=5, stock=50)
    people = [make_recipient() for _ in range(20)]
    results, errors = race(20, lambda i: gift_claim(token=gift.token, recipient=people[i], address=ADDRESS))
    assert len(results) == 5, errors
    assert len(errors) == 15 and all(
        isinstance(e, DomainError) and e.code == "gift_all_taken" for e in errors
    ), errors
    assert all(("领完" in str(e.message)) or ("taken" in str(e.message)) for e in errors)
    gift.refresh_from_db()
    assert gift.claimed_count == 5 and gift.status == Gift.Status.FINISHED
    assert GiftClaim.objects.filter(gift=gift).count() == 5
    assert len(set(GiftClaim.objects.values_list("recipient_id", flat=True))) == 5
    assert Order.objects.filter(kind=Order.Kind.GIFT_CLAIM, parent_order=gift.order).count() == 5
    assert Order.objects.get(pk=gift.order_id).status == Order.Status.CLOSED


def test_the_same_person_claiming_twice_at_once_gets_one_copy():
    gift = paid_gift(copies=3)
    person = make_recipient()
    results, errors = race(
        4, lambda i: gift_claim(token=gift.token, recipient=person, address_id=person.addresses.get().pk)
    )
    assert len(results) == 1 and all(e.code == "gift_already_claimed" for e in errors), errors
    assert GiftClaim.objects.filter(gift=gift).count() == 1


@pytest.mark.parametrize("attempt", range(4))
def test_a_claim_racing_the_expiry_job_is_a_claim_or_a_refund_never_both(attempt):
    gift = paid_gift(copies=1, stock=5)
    person = make_recipient()
    when = past_deadline(gift)
    stock_before = SKU.objects.get(pk=gift.sku_id).stock

    def work(i):
        if i == 0:
            return gift_claim(token=gift.token, recipient=person, address=ADDRESS)
        return gift_expire(gift_id=gift.pk, now=when)

    results, errors = race(2, work)
    claims = GiftClaim.objects.filter(gift=gift).count()
    refunds = Refund.objects.filter(order_id=gift.order_id).count()
    assert claims + refunds == 1, (results, errors)
    if claims:
        assert not errors and SKU.objects.get(pk=gift.sku_id).stock == stock_before
    else:
        assert [e.code for e in errors] == ["gift_expired"]
        assert SKU.objects.get(pk=gift.sku_id).stock == stock_before + 1


def test_expiry_run_twice_at_once_refunds_once():
    gift = paid_gift(copies=4, stock=10)
    gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    when = past_deadline(gift)
    stock_before = SKU.objects.get(pk=gift.sku_id).stock
    results, errors = race(3, lambda i: gifts_expire_due(now=when))
    assert not errors
    refund = Refund.objects.get(order_id=gift.order_id)
    assert refund.amount_fen == 3 * 5000 and refund.lines.get().quantity == 3
    assert SKU.objects.get(pk=gift.sku_id).stock == stock_before + 3
    assert gifts_expire_due(now=when) == 0 and gift_expire(gift_id=gift.pk, now=when) is None
    assert Refund.objects.filter(order_id=gift.order_id).count() == 1


def test_a_spec_switch_racing_for_the_last_unit():
    gift = paid_gift(copies=6, stock=20)
    big = other_spec(gift.sku, stock=1)
    people = [make_recipient() for _ in range(6)]
    original_before = SKU.objects.get(pk=gift.sku_id).stock
    results, errors = race(
        6, lambda i: gift_claim(token=gift.token, recipient=people[i], sku_id=big.pk, address=ADDRESS)
    )
    assert len(results) == 1, errors
    assert len(errors) == 5 and all(e.code == "out_of_stock" for e in errors), errors
    assert SKU.objects.get(pk=big.pk).stock == 0
    assert SKU.objects.get(pk=gift.sku_id).stock == original_before + 1
    gift.refresh_from_db()
    assert gift.claimed_count == 1 and GiftClaim.objects.get().sku_id == big.pk


def test_claims_that_roll_back_give_their_copy_to_the_next_claimer():
    """Claimers skip copies other claims hold; a claim that fails after taking one (no stock for its
    switched spec) releases it, and those still waiting take it: exactly 3 claims, and nobody is
    told "all taken" while a copy could still be had."""
    gift = paid_gift(copies=3, stock=30)
    empty = other_spec(gift.sku, stock=0, label="售罄款")
    people = [make_recipient() for _ in range(12)]
    switchers = set(range(0, 12, 2))  # half of them ask for the sold-out spec

    def claim(i):
        sku_id = empty.pk if i in switchers else None
        return gift_claim(token=gift.token, recipient=people[i], sku_id=sku_id, address=ADDRESS)

    results, errors = race(12, claim)
    assert len(results) == 3, errors
    assert {r.recipient_id for r in results} <= {people[i].pk for i in range(12) if i not in switchers}
    assert all(e.code in ("out_of_stock", "gift_all_taken") for e in errors), errors
    gift.refresh_from_db()
    assert gift.status == Gift.Status.FINISHED and gift.claimed_count == 3
    assert GiftCopy.objects.filter(gift=gift, recipient__isnull=True).count() == 0
    assert Order.objects.get(pk=gift.order_id).status == Order.Status.CLOSED
    assert SKU.objects.get(pk=empty.pk).stock == 0


def test_many_claims_racing_the_expiry_job_share_the_copies_exactly():
    gift = paid_gift(copies=6, stock=20)
    people = [make_recipient() for _ in range(8)]
    when = past_deadline(gift)
    stock_before = SKU.objects.get(pk=gift.sku_id).stock

    def work(i):
        if i == 8:
            return gifts_expire_due(now=when)
        return gift_claim(token=gift.token, recipient=people[i], address=ADDRESS)

    results, errors = race(9, work)
    claims = GiftClaim.objects.filter(gift=gift).count()
    copies = GiftCopy.objects.filter(gift=gift)
    assert copies.filter(recipient__isnull=False).count() == claims
    assert copies.filter(closed_at__isnull=False).count() == 6 - claims
    assert all(e.code in ("gift_expired", "gift_all_taken") for e in errors), errors
    refunded = sum(line.quantity for line in RefundLine.objects.filter(refund__order_id=gift.order_id))
    assert claims + refunded == 6
    assert Refund.objects.filter(order_id=gift.order_id).count() == (1 if refunded else 0)
    assert SKU.objects.get(pk=gift.sku_id).stock == stock_before + refunded
