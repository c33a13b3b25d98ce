"""Gifting demo data for `manage.py seed_demo`: jewellery and education marked not giftable, and four
gifts from the demo shopper 小明 to their friends: one just sent, one claimed, shipped and thanked for,
a lucky draw that has been drawn, and one expired with its unclaimed copy refunded. Made through the
real services; a second run changes nothing."""

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from gifting.models import Gift, NonGiftableCategory
from gifting.services import (
    gift_by_token,
    gift_claim,
    gift_create,
    gift_enter_draw,
    gift_expire,
    gift_thank,
    gifts_draw_due,
)
from shop.models import SKU, Category, Payment, Product

NOT_GIFTABLE = {"jewellery": ("珠宝首饰", 3), "education": ("教育培训", 4)}


def _pay(order) -> None:
    """Pay a demo order through the real notification service, as the sandbox would."""
    from shop.payments.base import PaymentNotification
    from shop.services.payments import payment_record_success

    payment = Payment.objects.create(
        order=order,
        provider="wechatpay",
        out_trade_no=f"G{uuid.uuid4().hex[:24]}",
        amount_fen=order.total_fen,
    )
    payment_record_success(
        notification=PaymentNotification(
            out_trade_no=payment.out_trade_no,
            transaction_id=f"42{uuid.uuid4().int % 10**26:026d}",
            amount_fen=payment.amount_fen,
            payer_total_fen=payment.amount_fen,
            trade_state="SUCCESS",
            success_time=timezone.now(),
            payer_openid="o-demo",
            raw={},
        )
    )


def _paid_gift(giver, sku, **kwargs) -> Gift:
    gift = gift_create(giver=giver, sku_id=sku.pk, **kwargs)
    _pay(gift.order)
    return gift_by_token(gift.token)


def seed(*, stdout=None) -> list:
    from django.db import connection

    if connection.vendor != "postgresql":
        # Claims, expiry and the draw are written in PostgreSQL's SQL; the SQLite demo has no gifts.
        if stdout is not None:
            stdout.write("gifting needs PostgreSQL: no demo gifts on this database")
        return []
    for slug, (name, position) in NOT_GIFTABLE.items():
        category = Category.objects.filter(slug=slug).first() or Category.objects.create(
            slug=slug, name=name, position=position
        )
        NonGiftableCategory.objects.get_or_create(category=category)

    User = get_user_model()
    people = {
        user.phone: user
        for user in User.objects.filter(phone__in=[f"1380000000{i}" for i in (1, 3, 5, 6, 7)])
    }
    giver = people.get("13800000003")
    friends = [people.get(phone) for phone in ("13800000005", "13800000006", "13800000007")]
    if giver is None or None in friends or Gift.objects.filter(giver=giver).exists():
        return []
    skus = list(
        SKU.objects.filter(
            is_active=True, stock__gte=20, price_fen__gt=0, product__status=Product.Status.ON_SALE
        )
        .select_related("product")
        .order_by("price_fen", "pk")[:2]
    )
    if len(skus) < 2:
        return []
    cheap, other = skus
    for friend in friends:
        if not friend.addresses.exists():
            from accounts.services import address_create

            address_create(
                user=friend,
                recipient_name=friend.nickname or "朋友",
                phone=friend.phone,
                province="浙江省",
                city="杭州市",
                district="西湖区",
                detail="文三路 90 号",
            )
    red, gang = friends[0], friends[1]

    # 1. Just sent to a group: three copies, nobody has accepted yet.
    _paid_gift(
        giver,
        cheap,
        copies=3,
        mode=Gift.Mode.GROUP,
        message="周末快乐，先到先得！",
        channel=Gift.Channel.GROUP_CHAT,
    )

    # 2. For one friend: accepted, shipped by the shop, and thanked for.
    claimed = _paid_gift(
        giver, other, copies=1, mode=Gift.Mode.FRIEND, message="生日快乐！", friends_only=True
    )
    claim = gift_claim(token=claimed.token, recipient=red, address_id=red.addresses.first().pk)
    from shop.services.orders import order_ship

    order_ship(order_id=claim.order_id, actor=None, carrier="顺丰速运", tracking_number="SF1000000001")
    gift_thank(claim_id=claim.pk, recipient=red, note="收到啦，谢谢小明！")

    # 3. A lucky draw for two copies among three friends, drawn; the winners may accept.
    draw = _paid_gift(giver, cheap, copies=2, mode=Gift.Mode.DRAW, message="抽两位好运的朋友", draw_hours=1)
    for friend in friends:
        gift_enter_draw(token=draw.token, user=friend)
    Gift.objects.filter(pk=draw.pk).update(draw_at=timezone.now() - timedelta(minutes=1))
    gifts_draw_due()

    # 4. Expired: one of two copies accepted in time, the other refunded to 小明.
    expired = _paid_gift(
        giver, cheap, copies=2, mode=Gift.Mode.GROUP, message="先到先得", channel=Gift.Channel.GROUP_CHAT
    )
    gift_claim(token=expired.token, recipient=gang, address_id=gang.addresses.first().pk)
    Gift.objects.filter(pk=expired.pk).update(claim_deadline=timezone.now() - timedelta(minutes=1))
    gift_expire(gift_id=expired.pk)
    if stdout is not None:
        stdout.write("gifts: one sent, one claimed and shipped, one drawn, one expired and refunded")
    return []
