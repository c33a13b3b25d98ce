"""Helpers for affiliates tests: promoters made through the real services, links, clicks and the
whole order flow up to completion."""

from datetime import timedelta

from django.utils import timezone

from affiliates import services
from affiliates.clicks import COOKIE_NAME, clicks_flush
from affiliates.ledger import ledger_sync
from affiliates.models import CommissionEntry, Promoter
from shop.models import Order
from shop.services.orders import order_complete
from tests.factories import UserFactory
from tests.shop.order_factories import make_buyer, make_sku, pay_order, receive_order, ship_order

_counter = iter(range(10**6))


def id_number() -> str:
    return f"11010119900101{next(_counter):04d}"


def make_promoter(
    *, role=Promoter.Role.CREATOR, operator=None, user=None, name=None, agency=None
) -> Promoter:
    user = user or UserFactory()
    operator = operator or UserFactory(is_staff=True, is_superuser=True)
    promoter = services.promoter_apply(
        user=user, role=role, display_name=name or f"达人{user.pk}", real_name="张三", id_number=id_number()
    )
    promoter = services.promoter_review(promoter_id=promoter.pk, operator=operator, approve=True)
    if agency is not None:
        services.creator_join_agency(promoter=promoter, agency=agency)
    return promoter


def make_sharer(*, under, **kwargs) -> Promoter:
    sharer = make_promoter(role=Promoter.Role.SHARER, **kwargs)
    code = under.invitation_code
    return services.sharer_bind(promoter=sharer, invitation_code=code)


def offer(sku, rate_bp=1000, **kwargs):
    return services.plan_set(
        product=sku.product, kind=kwargs.pop("kind", "public"), rate_bp=rate_bp, **kwargs
    )


def creator_link(creator, sku, scene="channels_video"):
    services.showcase_add(promoter=creator, product_id=sku.product_id)
    return services.link_create(promoter=creator, scene=scene, product_id=sku.product_id)


def click(client, link) -> None:
    """Open the link like a browser (the client keeps the cookie), then flush the buffer."""
    response = client.get(f"/t/{link.code}")
    assert response.status_code == 302, response.status_code
    clicks_flush()


def buy(client, buyer, sku, quantity=1) -> Order:
    """Buy through the real API (so the cookie goes through the checkout hook), then pay."""
    client.force_login(buyer)
    response = client.post(
        "/api/v1/checkout/buy-now/",
        {"sku_id": sku.pk, "quantity": quantity, "address_id": buyer.addresses.first().pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def complete(order: Order) -> Order:
    order = ship_order(order)
    order = receive_order(order, days_ago=30)
    return order_complete(order_id=order.pk)


def ledger_rows(**filters):
    return list(
        CommissionEntry.objects.filter(**filters)
        .order_by("order_line_id", "role", "kind", "refund_line_id")
        .values_list(
            "order_line_id", "role", "kind", "status", "amount_fen", "settled_at", "promoter_id", "agency_id"
        )
    )


__all__ = [
    "COOKIE_NAME",
    "make_buyer",
    "make_sku",
    "pay_order",
    "ledger_sync",
    "timezone",
    "timedelta",
]
