"""Gifting's timers and events for real: the Celery beat task run through Celery (in-process), the
order events delivered through the outbox and Celery, and the same outcome when those events are
lost; the lucky draw, recomputed from its recorded seed; the giver's notices."""

import pytest
from django.utils import timezone

from accounts.models import Notification
from config.exceptions import DomainError
from gifting import tasks
from gifting.draw import draw_key, seed_digest
from gifting.models import Gift, GiftEntry
from gifting.services import (
    gift_claim,
    gift_create,
    gift_enter_draw,
    gifts_draw_due,
    gifts_remind,
)
from shop.models import SKU, Order, Refund
from shop.services.orders import order_ship
from tests.factories import UserFactory
from tests.gifting.helpers import ADDRESS, make_recipient, paid_gift, past_deadline
from tests.shop.order_factories import celery_eager, make_sku, pay_order  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _kinds(user):
    return sorted(Notification.objects.filter(user=user).values_list("kind", flat=True))


@pytest.mark.usefixtures("celery_eager")
def test_the_beat_task_refunds_unclaimed_copies_and_tells_the_giver():
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=3, stock=10)
    gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    stock = SKU.objects.get(pk=gift.sku_id).stock
    Gift.objects.filter(pk=gift.pk).update(claim_deadline=timezone.now() - timezone.timedelta(minutes=1))
    result = tasks.gift_timers.apply().get()
    assert result["expired"] == 1
    refund = Refund.objects.get(order_id=gift.order_id)
    assert refund.source == "gift" and refund.amount_fen == 2 * 5000
    assert SKU.objects.get(pk=gift.sku_id).stock == stock + 2
    assert "gift_refunded" in _kinds(giver) and "gift_accepted" in _kinds(giver)
    assert tasks.gift_timers.apply().get()["expired"] == 0
    assert Refund.objects.filter(order_id=gift.order_id).count() == 1


@pytest.mark.usefixtures("celery_eager")
def test_events_open_the_gift_at_once_and_tell_the_giver_of_shipping():
    giver = UserFactory()
    sku = make_sku(price_fen=3000, stock=5)
    gift = gift_create(giver=giver, sku_id=sku.pk, copies=1, message="hi")
    pay_order(gift.order)  # order_paid goes through the outbox and Celery to gifting's receiver
    gift.refresh_from_db()
    assert gift.status == Gift.Status.OPEN and gift.claim_deadline
    claim = gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    order_ship(order_id=claim.order_id, actor=None, carrier="顺丰速运", tracking_number="SF9")
    assert "gift_shipped" in _kinds(giver)
    assert "order_shipped" in _kinds(claim.recipient)


def test_lost_events_change_nothing_but_timing():
    """No worker ran the order_paid receiver: the gift still opens, on the first read of its link or
    at the next beat, with the same deadline the event would have given it."""
    giver = UserFactory()
    sku = make_sku(price_fen=3000, stock=5)
    first = gift_create(giver=giver, sku_id=sku.pk, copies=1)
    second = gift_create(giver=giver, sku_id=sku.pk, copies=1)
    pay_order(first.order), pay_order(second.order)
    assert set(Gift.objects.values_list("status", flat=True)) == {"awaiting_payment"}
    tasks.gift_timers.apply()
    for gift in (first, second):
        gift.refresh_from_db()
        order = Order.objects.get(pk=gift.order_id)
        assert gift.status == Gift.Status.OPEN
        assert gift.claim_deadline == order.paid_at + timezone.timedelta(hours=24)


@pytest.mark.usefixtures("celery_eager")
def test_the_lucky_draw_is_seeded_recorded_and_verifiable():
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=2, mode=Gift.Mode.DRAW, draw_hours=2, stock=10)
    assert len(gift.draw_seed_sha256) == 64 and gift.draw_at < gift.claim_deadline
    people = [make_recipient() for _ in range(5)]
    with pytest.raises(DomainError) as caught:
        gift_claim(token=gift.token, recipient=people[0], address=ADDRESS)
    assert caught.value.code == "gift_not_winner"
    for person in people:
        gift_enter_draw(token=gift.token, user=person)
    gift_enter_draw(token=gift.token, user=people[0])  # joining twice is one entry
    assert GiftEntry.objects.filter(gift=gift).count() == 5
    assert gifts_draw_due() == 0  # not yet
    Gift.objects.filter(pk=gift.pk).update(draw_at=timezone.now() - timezone.timedelta(seconds=1))
    assert gifts_draw_due() == 1 and gifts_draw_due() == 0
    gift.refresh_from_db()
    # Verifiable: the revealed seed hashes to what was shown before, and the keys and winners follow.
    assert seed_digest(gift.draw_seed) == gift.draw_seed_sha256
    entries = list(GiftEntry.objects.filter(gift=gift))
    for entry in entries:
        assert entry.draw_key == draw_key(seed=gift.draw_seed, token=gift.token, user_id=entry.user_id)
    expected = sorted(entries, key=lambda e: (e.draw_key, e.user_id))[:2]
    assert {e.user_id for e in entries if e.won} == {e.user_id for e in expected}
    winners = [p for p in people if p.pk in {e.user_id for e in expected}]
    losers = [p for p in people if p not in winners]
    with pytest.raises(DomainError) as caught:
        gift_claim(token=gift.token, recipient=losers[0], address=ADDRESS)
    assert caught.value.code == "gift_not_winner"
    with pytest.raises(DomainError) as caught:
        gift_enter_draw(token=gift.token, user=make_recipient())
    assert caught.value.code == "gift_draw_closed"
    for person in winners:
        gift_claim(token=gift.token, recipient=person, address=ADDRESS)
    gift.refresh_from_db()
    assert gift.status == Gift.Status.FINISHED
    assert Notification.objects.filter(kind="gift_draw").count() == 5


@pytest.mark.usefixtures("celery_eager")
def test_the_giver_is_reminded_once_before_expiry():
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=2)
    assert gifts_remind() == 0
    soon = gift.claim_deadline - timezone.timedelta(hours=1)
    assert gifts_remind(now=soon) == 1 and gifts_remind(now=soon) == 0
    assert "gift_expiring" in _kinds(giver)
    assert past_deadline(gift) > soon


def test_the_beat_finishes_a_gift_whose_last_claimer_stopped_before_finishing_it():
    """A claimer finishes the gift after its commit; if its process stopped in between, the beat
    job does it: the gift finished and its order closed, once."""
    gift = paid_gift(copies=2)
    for _ in range(2):
        gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    # The state the last claimer's commit leaves before its finishing step.
    Gift.objects.filter(pk=gift.pk).update(status=Gift.Status.OPEN)
    Order.objects.filter(pk=gift.order_id).update(status=Order.Status.PAID, closed_at=None)
    assert tasks.gift_timers.apply().get()["finished"] == 1
    gift.refresh_from_db()
    assert gift.status == Gift.Status.FINISHED and gift.claimed_count == 2
    assert Order.objects.get(pk=gift.order_id).status == Order.Status.CLOSED
    assert tasks.gift_timers.apply().get()["finished"] == 0
