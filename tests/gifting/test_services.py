"""Giving and claiming through the services: the happy paths and every refusal, each leaving
nothing changed (PostgreSQL)."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Address
from accounts.services import friendship_create
from config.exceptions import DomainError
from gifting.models import Gift, GiftClaim, NonGiftableCategory
from gifting.services import FINISH_CHECK_BELOW, gift_claim, gift_create, gift_expire, gift_thank
from shop.models import SKU, Order, OrderEvent
from shop.services.errors import InvalidTransition
from shop.services.orders import order_ship
from tests.factories import UserFactory
from tests.gifting.helpers import ADDRESS, make_recipient, move_deadline_to_past, other_spec, paid_gift
from tests.shop.order_factories import make_sku

pytestmark = pytest.mark.django_db


def _state(gift):
    gift.refresh_from_db()
    return (
        gift.status,
        gift.claimed_count,
        GiftClaim.objects.count(),
        Order.objects.filter(kind=Order.Kind.GIFT_CLAIM).count(),
        sorted(SKU.objects.values_list("pk", "stock")),
        Address.objects.count(),
    )


def test_only_claims_near_the_last_copy_check_whether_the_gift_is_finished():
    """A claim that saw FINISH_CHECK_BELOW or more free copies left cannot have been the last one, so
    it skips the finishing statement after its commit; the claims near the end run it, and the last
    one finishes the gift and closes its order."""
    copies = FINISH_CHECK_BELOW + 2
    gift = paid_gift(copies=copies, stock=copies + 10, price_fen=100)
    people = [make_recipient() for _ in range(copies)]

    def claim(person):
        with CaptureQueriesContext(connection) as captured:
            gift_claim(token=gift.token, recipient=person, address_id=person.addresses.get().pk)
        return any("SET status = 'finished'" in query["sql"] for query in captured.captured_queries)

    checked = [claim(person) for person in people]
    assert checked == [False, False] + [True] * FINISH_CHECK_BELOW
    gift.refresh_from_db(), gift.order.refresh_from_db()
    assert gift.status == Gift.Status.FINISHED and gift.claimed_count == copies
    assert gift.order.status == Order.Status.CLOSED


def test_a_paid_gift_opens_with_a_deadline_and_ships_nothing_itself():
    gift = paid_gift(copies=3)
    assert gift.status == Gift.Status.OPEN and gift.claim_deadline is not None
    order = gift.order
    order.refresh_from_db()
    assert order.kind == Order.Kind.GIFT and order.status == Order.Status.PAID
    assert order.recipient_name == "" and order.address_detail == ""
    with pytest.raises(InvalidTransition):
        order_ship(order_id=order.pk, actor=order.shop.owner, carrier="顺丰", tracking_number="SF1")
    assert len(gift.token) >= 24


def test_claiming_makes_a_paid_sub_order_with_the_recipients_address_and_closes_the_parent_at_the_last():
    gift = paid_gift(copies=2)
    first, second = make_recipient(), make_recipient()
    claim = gift_claim(token=gift.token, recipient=first, address=ADDRESS)
    sub = claim.order
    assert sub.kind == Order.Kind.GIFT_CLAIM and sub.status == Order.Status.PAID and sub.paid_at
    assert sub.parent_order_id == gift.order_id and sub.parent_line_id == gift.order_line_id
    assert (sub.recipient_name, sub.recipient_phone, sub.address_detail) == (
        "李雷",
        "13912345678",
        ADDRESS["detail"],
    )
    assert sub.total_fen == 5000 and "生日快乐" in sub.note
    assert first.addresses.filter(detail=ADDRESS["detail"]).exists()
    gift.order.refresh_from_db()
    assert gift.order.status == Order.Status.PAID
    gift_claim(token=gift.token, recipient=second, address_id=second.addresses.get().pk)
    gift.refresh_from_db(), gift.order.refresh_from_db()
    assert gift.status == Gift.Status.FINISHED and gift.claimed_count == 2
    assert gift.order.status == Order.Status.CLOSED
    assert gift.order.events.filter(kind=OrderEvent.Kind.SUB_ORDER).count() == 2
    # The sub-order ships like any order.
    order_ship(order_id=sub.pk, actor=sub.shop.owner, carrier="顺丰速运", tracking_number="SF100")


def test_switching_to_another_spec_at_the_same_price_moves_one_unit_of_stock():
    gift = paid_gift(copies=2, stock=10)
    big = other_spec(gift.sku, stock=4)
    before = SKU.objects.get(pk=gift.sku_id).stock
    claim = gift_claim(token=gift.token, recipient=make_recipient(), sku_id=big.pk, address=ADDRESS)
    assert claim.sku_id == big.pk and claim.order.lines.get().spec_label == "大束"
    assert SKU.objects.get(pk=gift.sku_id).stock == before + 1
    assert SKU.objects.get(pk=big.pk).stock == 3


def test_refusals_are_clear_and_change_nothing(settings):
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=2)
    other_price = other_spec(gift.sku, price_fen=9900, label="豪华")
    foreign = make_sku(price_fen=5000)
    person = make_recipient()
    someone_elses = make_recipient().addresses.get()
    before = _state(gift)
    cases = [
        ({"token": "not-a-token", "address": ADDRESS}, "gift_not_found"),
        ({"token": gift.token + "x", "address": ADDRESS}, "gift_not_found"),
        ({"token": "", "address": ADDRESS}, "gift_not_found"),
        ({"token": gift.token, "sku_id": other_price.pk, "address": ADDRESS}, "gift_sku_price_differs"),
        ({"token": gift.token, "sku_id": foreign.pk, "address": ADDRESS}, "invalid_gift"),
        ({"token": gift.token, "address_id": 999999}, "invalid_gift"),
        ({"token": gift.token, "address_id": someone_elses.pk}, "invalid_gift"),  # someone else's
        ({"token": gift.token, "address_id": "1; DROP"}, "invalid_gift"),
        ({"token": gift.token, "address_id": 2**70}, "invalid_gift"),
        ({"token": gift.token}, "invalid_gift"),  # no address
        ({"token": gift.token, "address": {**ADDRESS, "phone": "123"}}, "invalid"),
    ]
    for kwargs, code in cases:
        with pytest.raises(DomainError) as caught:
            gift_claim(recipient=person, **kwargs)
        assert caught.value.code == code, (kwargs, caught.value.code)
        assert _state(gift) == before
    with pytest.raises(DomainError) as caught:
        gift_claim(token=gift.token, recipient=giver, address=ADDRESS)
    assert caught.value.code == "gift_own" and _state(gift) == before

    gift_claim(token=gift.token, recipient=person, address=ADDRESS)
    after_one = _state(gift)
    with pytest.raises(DomainError) as caught:
        gift_claim(token=gift.token, recipient=person, address=ADDRESS)
    assert caught.value.code == "gift_already_claimed" and _state(gift) == after_one

    move_deadline_to_past(gift)
    latecomer = make_recipient()
    late = _state(gift)
    with pytest.raises(DomainError) as caught:
        gift_claim(token=gift.token, recipient=latecomer, address=ADDRESS)
    assert caught.value.code == "gift_expired" and _state(gift)[1:] == late[1:]


def test_friends_only_gifts_are_for_the_givers_friends():
    giver = UserFactory()
    gift = paid_gift(giver=giver, copies=2, friends_only=True)
    stranger, friend = make_recipient(), make_recipient()
    with pytest.raises(DomainError) as caught:
        gift_claim(token=gift.token, recipient=stranger, address=ADDRESS)
    assert caught.value.code == "gift_friends_only" and caught.value.status_code == 403
    friendship_create(user=giver, friend=friend)
    assert gift_claim(token=gift.token, recipient=friend, address=ADDRESS).order.buyer == friend


def test_giving_refuses_non_giftable_categories_prices_over_the_cap_and_bad_input():
    giver = UserFactory()
    jewellery = make_sku(price_fen=5000)
    NonGiftableCategory.objects.create(category=jewellery.product.category)
    pricey = make_sku(price_fen=1_000_001)
    fine = make_sku(price_fen=5000, stock=5)
    cases = [
        ({"sku_id": jewellery.pk}, "not_giftable"),
        ({"sku_id": pricey.pk}, "gift_price_too_high"),
        ({"sku_id": fine.pk, "message": "祝" * 101}, "invalid_gift"),
        ({"sku_id": fine.pk, "copies": 2, "mode": "friend"}, "invalid_gift"),
        ({"sku_id": fine.pk, "copies": 0, "mode": "group"}, "invalid_gift"),
        ({"sku_id": fine.pk, "copies": 6, "mode": "group"}, "out_of_stock"),
        ({"sku_id": fine.pk, "mode": "draw", "copies": 2, "draw_hours": 5}, "invalid_gift"),
        ({"sku_id": fine.pk, "channel": "fax"}, "invalid_gift"),
        ({"sku_id": 999999}, "not_purchasable"),
    ]
    for kwargs, code in cases:
        with pytest.raises(DomainError) as caught:
            gift_create(giver=giver, **kwargs)
        assert caught.value.code == code, (kwargs, caught.value.code)
    assert not Gift.objects.exists() and not Order.objects.exists()
    assert SKU.objects.get(pk=fine.pk).stock == 5
    with override_settings(GIFT_MAX_PRICE_FEN=2_000_000):
        gift_create(giver=giver, sku_id=pricey.pk)


def test_a_thank_you_note_reaches_the_giver():
    gift = paid_gift()
    person = make_recipient()
    claim = gift_claim(token=gift.token, recipient=person, address=ADDRESS)
    gift_thank(claim_id=claim.pk, recipient=person, note="谢谢你的花！")
    claim.refresh_from_db()
    assert claim.thanks == "谢谢你的花！"
    with pytest.raises(DomainError):
        gift_thank(claim_id=claim.pk, recipient=UserFactory(), note="冒充")


def test_expiry_refunds_the_unclaimed_copies_once_with_stock_back():
    gift = paid_gift(copies=3, stock=10)
    gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    stock = SKU.objects.get(pk=gift.sku_id).stock
    move_deadline_to_past(gift)
    refund = gift_expire(gift_id=gift.pk)
    assert refund.amount_fen == 2 * 5000 and refund.source == "gift"
    assert [(line.quantity, line.amount_fen) for line in refund.lines.all()] == [(2, 10000)]
    assert SKU.objects.get(pk=gift.sku_id).stock == stock + 2
    assert gift_expire(gift_id=gift.pk) is None
    gift.refresh_from_db()
    assert gift.status == Gift.Status.EXPIRED and gift.refunded_copies == 2
