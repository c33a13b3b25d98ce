"""Gifts made through the real services: a gift order placed by gift_create and paid through the
payment notification service, so a test starts from a state the shop itself reaches."""

from datetime import timedelta

from django.utils import timezone

from gifting.models import Gift
from gifting.services import gift_by_token, gift_create
from tests.factories import AddressFactory, UserFactory
from tests.shop.factories import SKUFactory
from tests.shop.order_factories import make_sku, pay_order

ADDRESS = {
    "recipient_name": "李雷",
    "phone": "13912345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园路 1 号 8 栋 802",
}


def make_recipient(**kwargs):
    person = UserFactory(**kwargs)
    AddressFactory(user=person, recipient_name="韩梅梅", phone="13700001111", detail="幸福路 9 号 3 单元 501")
    return person


def paid_gift(*, giver=None, sku=None, copies=1, mode=None, stock=100, price_fen=5000, **kwargs) -> Gift:
    giver = giver or UserFactory(nickname="送礼人")
    sku = sku or make_sku(price_fen=price_fen, stock=stock, title="玫瑰花束")
    mode = mode or (Gift.Mode.FRIEND if copies == 1 else Gift.Mode.GROUP)
    gift = gift_create(giver=giver, sku_id=sku.pk, copies=copies, mode=mode, message="生日快乐！", **kwargs)
    pay_order(gift.order)
    return gift_by_token(gift.token)


def other_spec(sku, *, price_fen=None, stock=10, label="大束"):
    return SKUFactory(
        product=sku.product,
        spec_label=label,
        price_fen=sku.price_fen if price_fen is None else price_fen,
        stock=stock,
    )


def past_deadline(gift: Gift):
    return gift.claim_deadline + timedelta(seconds=1)


def move_deadline_to_past(gift: Gift) -> Gift:
    Gift.objects.filter(pk=gift.pk).update(claim_deadline=timezone.now() - timedelta(minutes=1))
    gift.refresh_from_db()
    return gift
