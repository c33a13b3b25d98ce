"""Affiliate demo data for `manage.py seed_demo`: an agency with its owner, two creators with
showcases and links in several scenes, a 推客 under one of them, a 推客 in the agency whom a merchant
named on an exclusive plan (with their own link), clicks, and orders across scenes (some completed
and settled, one refunded after settlement). Made through the real services; a second run changes
nothing."""

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from affiliates import services
from affiliates.ledger import ledger_sync
from affiliates.models import Agency, Click, Promoter, TrackedLink

PASSWORD = "weshop-demo"
PEOPLE = {
    # phone: (nickname, role, display name)
    "13800000004": ("带货达人", "creator", "带货达人"),
    "13800000008": ("种草姐姐", "creator", "种草姐姐"),
    "13800000009": ("推客阿强", "sharer", "阿强"),
    "13800000021": ("推客小雨", "sharer", "小雨"),  # joined the agency; a merchant's exclusive 推客
}
AGENCY_OWNER = ("13800000020", "星河机构负责人")


def _user(phone: str, nickname: str):
    User = get_user_model()
    user = User.objects.filter(phone=phone).first()
    return user or User.objects.create_user(phone, PASSWORD, nickname=nickname)


def _pay(order) -> None:
    """Pay a demo order through the real notification service, as the sandbox would."""
    from shop.models import Payment
    from shop.payments.base import PaymentNotification
    from shop.services.payments import payment_record_success

    payment = Payment.objects.create(
        order=order,
        provider="wechatpay",
        out_trade_no=f"D{uuid.uuid4().hex[:24]}",
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


def _complete(order) -> None:
    from shop.models import Order
    from shop.services.orders import order_complete, order_confirm_receipt, order_ship

    order_ship(
        order_id=order.pk, actor=order.shop.owner, carrier="顺丰速运", tracking_number=f"SF{order.pk:010d}"
    )
    order_confirm_receipt(order_id=order.pk, buyer=order.buyer)
    Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - timedelta(days=30))
    order_complete(order_id=order.pk)


def seed(*, stdout) -> list[tuple[str, str, str]]:
    from shop.models import Product
    from shop.services.checkout import checkout_place

    logins = [(f"{role} · {nick}", phone, PASSWORD) for phone, (nick, role, _name) in PEOPLE.items()][1:]
    logins.append((f"agency · {AGENCY_OWNER[1]}", AGENCY_OWNER[0], PASSWORD))
    if Promoter.objects.filter(user__phone="13800000004").exists():
        stdout.write("affiliates: already seeded")
        return logins
    User = get_user_model()
    operator = User.objects.filter(is_superuser=True).order_by("pk").first()
    products = list(Product.objects.on_sale().order_by("pk")[:12])
    if operator is None or len(products) < 9:
        stdout.write("affiliates: no shop demo data to promote")
        return []
    agency = Agency.objects.filter(name="星河机构").first() or services.agency_create(
        name="星河机构", owner=_user(*AGENCY_OWNER), service_fee_bp=1000, default_share_bp=4000
    )
    promoters = {}
    for index, (phone, (nickname, role, name)) in enumerate(PEOPLE.items()):
        user = _user(phone, nickname)
        promoter = services.promoter_apply(
            user=user,
            role=role,
            display_name=name,
            real_name=nickname,
            id_number=f"44030519900101{index:03d}X",
        )
        promoters[phone] = services.promoter_review(promoter_id=promoter.pk, operator=operator, approve=True)
    star, grass, sharer, rain = (promoters[p] for p in PEOPLE)
    services.creator_join_agency(promoter=star, agency=agency)
    services.share_set(owner=star, share_bp=5000)
    sharer = services.sharer_bind(promoter=sharer, invitation_code=star.invitation_code)
    rain = services.sharer_bind(promoter=rain, invitation_code=agency.invitation_code)

    for index, product in enumerate(products):
        rate = 1000 + 200 * (index % 5)
        if index == 0:
            services.plan_set(product=product, kind="exclusive", rate_bp=3000, exclusive_promoter=star)
        elif index == 1:
            services.plan_set(product=product, kind="public", rate_bp=rate, targeted={grass: rate + 1000})
        elif index == 8:
            services.plan_set(product=product, kind="exclusive", rate_bp=2500, exclusive_promoter=rain)
        else:
            services.plan_set(product=product, kind="public", rate_bp=rate)
    for product in products[:5]:
        services.showcase_add(promoter=star, product_id=product.pk)
    for product in products[1:2] + products[5:8]:
        services.showcase_add(promoter=grass, product_id=product.pk)

    links = [
        services.link_create(promoter=star, scene="channels_video", product_id=products[0].pk),
        services.link_create(promoter=star, scene="moments"),
        services.link_create(promoter=grass, scene="official_article", product_id=products[5].pk),
        services.link_create(promoter=grass, scene="search", product_id=products[1].pk),
    ]
    links.append(services.child_link_create(promoter=sharer, parent_code=links[1].code, scene="group"))
    links.append(services.sharer_link_create(promoter=rain, scene="chat", product_id=products[8].pk))

    buyers = list(User.objects.filter(phone__in=["13800000003", "13800000005", "13800000006", "13800000007"]))
    now = timezone.now()
    sales = [  # (link, product, buyer index, complete?)
        (links[0], products[0], 0, True),
        (links[1], products[2], 1, True),
        (links[2], products[5], 2, True),
        (links[3], products[1], 3, False),
        (links[4], products[3], 0, True),
        (links[4], products[4], 1, False),
        (links[5], products[8], 2, True),
    ]
    orders = []
    for number, (link, product, buyer_index, finish) in enumerate(sales):
        buyer = buyers[buyer_index % len(buyers)]
        address = buyer.addresses.first()
        click = Click.objects.create(
            click_id=uuid.uuid4(),
            link=link,
            visitor=uuid.uuid4().hex,
            user=buyer,
            clicked_at=now - timedelta(hours=number + 1),
        )
        sku = product.skus.filter(is_active=True, stock__gt=0).order_by("pk").first()
        if sku is None or address is None:
            continue
        context = {"affiliate_clicks": [[link.pk, click.clicked_at.timestamp(), click.click_id.hex]]}
        order = checkout_place(
            buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)], checkout_context=context
        )[0]
        _pay(order)
        if finish:
            _complete(order)
        orders.append(order)
    if orders:  # the first completed sale is refunded after settlement: a clawback
        from shop.services.refunds import order_refund, refund_settle

        refund = order_refund(order_id=orders[0].pk, actor=None, reason="买家退货（演示）", full=True)
        refund_settle(
            out_refund_no=refund.out_refund_no, refund_id=f"50{refund.pk:020d}", amount_fen=refund.amount_fen
        )
    for link in TrackedLink.objects.filter(promoter__in=promoters.values()):
        for visitor in range(3):  # a few more visits per link, for the click counts
            Click.objects.create(
                click_id=uuid.uuid4(),
                link=link,
                visitor=f"demo{visitor}",
                clicked_at=now - timedelta(days=visitor),
            )
    counts = ledger_sync()
    stdout.write(
        f"affiliates: 1 agency, {len(promoters)} promoters, {len(links)} links, {len(orders)} orders;"
        f" ledger {counts}"
    )
    return logins
