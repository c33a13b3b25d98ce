"""A refund of unclaimed copies the payment provider refuses is not lost: the beat job finds the
copies still owed (the order's balances, not a flag) and refunds them again after a wait, once;
the merchant and the operator see the refusal and its reason in the admin. The sandbox plays WeChat
Pay refusing (NOT_ENOUGH: the merchant's account lacks the money) and then, topped up, accepting."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gifting import tasks
from gifting.models import Gift
from gifting.selectors import gift_timeline
from gifting.services import (
    gift_by_token,
    gift_claim,
    gift_create,
    gift_expire,
    gifts_refund_owed,
    gifts_refund_retry,
)
from shop.models import SKU, Order, Refund
from shop.services.payments import payment_start
from tests.factories import UserFactory
from tests.gifting.helpers import ADDRESS, make_recipient, past_deadline
from tests.shop.order_factories import celery_eager, make_sku  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, REFUND_NOTIFY, post_notification

pytestmark = pytest.mark.django_db


def _gift_paid_through_the_sandbox(client, sandbox, *, copies: int) -> Gift:
    giver = UserFactory(nickname="送礼人")
    sku = make_sku(price_fen=5000, stock=20, title="玫瑰花束")
    gift = gift_create(giver=giver, sku_id=sku.pk, copies=copies, mode=Gift.Mode.GROUP)
    payment_start(order_id=gift.order_id, buyer=giver, client_ip="1.2.3.4", return_url="")
    payment = gift.order.payments.get()
    assert post_notification(client, NOTIFY, *sandbox.confirm(payment.prepay_id)).status_code == 204
    gift = gift_by_token(gift.token)  # opens it now (the order_paid event may come later)
    assert gift.status == Gift.Status.OPEN
    return gift


def last_sentence(gift: Gift) -> str:
    """The last line of the giver's gift timeline, in English."""
    from django.utils import translation

    gift = Gift.objects.select_related("order", "product").get(pk=gift.pk)
    with translation.override("en"):
        return gift_timeline(gift, [])[-1][1]


@pytest.mark.usefixtures("celery_eager")
def test_a_refused_refund_of_unclaimed_copies_is_tried_again_and_shown_with_its_reason(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    gift = _gift_paid_through_the_sandbox(client, wechatpay_sandbox, copies=3)
    gift_claim(token=gift.token, recipient=make_recipient(), address=ADDRESS)
    stock = SKU.objects.get(pk=gift.sku_id).stock
    when = past_deadline(gift)

    wechatpay_sandbox.configure(SANDBOX_REFUSE_REFUNDS=True)
    with django_capture_on_commit_callbacks(execute=True):
        first = gift_expire(gift_id=gift.pk, now=when)
    first.refresh_from_db()
    assert first.status == Refund.Status.FAILED and first.amount_fen == 2 * 5000
    # The units stay returned to stock once (the refund's restock stands); the copies stay owed.
    assert SKU.objects.get(pk=gift.sku_id).stock == stock + 2
    (owed,) = gifts_refund_owed()
    assert owed["gift_id"] == gift.pk and owed["failures"] == 1 and owed["retry_at"] > first.created_at
    # The giver's timeline does not say the money is back.
    assert last_sentence(gift).startswith("The refund of 2 unclaimed copies did not go through yet;")

    # The merchant (and the operator) see the refusal and WeChat Pay's reason on the gift.
    client.force_login(gift.order.shop.owner)
    listing = client.get(reverse("admin:gifting_gift_changelist") + "?refund=owed").content.decode()
    assert gift.token[:8] in listing and "余额不足" in listing
    page = client.get(reverse("admin:gifting_gift_change", args=[gift.pk])).content.decode()
    assert "NOT_ENOUGH" in page and "余额不足" in page
    stranger = UserFactory(is_staff=True)
    client.force_login(stranger)
    assert client.get(reverse("admin:gifting_gift_change", args=[gift.pk])).status_code in (302, 403, 404)

    # Before its wait is over nothing is tried; still refused after it: a second failure, a longer wait.
    assert gifts_refund_retry(now=first.created_at + timedelta(minutes=5)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert gifts_refund_retry(now=owed["retry_at"] + timedelta(seconds=1)) == 1
    (owed_again,) = gifts_refund_owed()
    assert owed_again["failures"] == 2
    assert owed_again["retry_at"] - owed_again["last_failed_at"] > owed["retry_at"] - owed["last_failed_at"]

    # The merchant tops up: the next try goes through, once, through the beat task.
    wechatpay_sandbox.configure(SANDBOX_REFUSE_REFUNDS=False)
    Refund.objects.filter(order_id=gift.order_id).update(created_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.gift_timers.apply().get()["refunds_retried"] == 1
    assert gifts_refund_retry() == 0 and gifts_refund_owed() == []
    retried = Refund.objects.filter(order_id=gift.order_id, status=Refund.Status.PROCESSING).get()
    assert retried.amount_fen == 2 * 5000 and [x.quantity for x in retried.lines.all()] == [2]
    assert last_sentence(gift) == "2 unclaimed copies are being refunded to you."
    assert SKU.objects.get(pk=gift.sku_id).stock == stock + 2  # no second return of the same units

    headers, body = wechatpay_sandbox.refund_notification(retried.out_refund_no)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    order = Order.objects.get(pk=gift.order_id)
    assert order.refunded_fen == 2 * 5000 and order.status == Order.Status.CLOSED
    assert last_sentence(gift) == "2 unclaimed copies were refunded to you."
    assert gifts_refund_retry(now=when + timedelta(days=30)) == 0
    assert Refund.objects.filter(order_id=gift.order_id).count() == 3
