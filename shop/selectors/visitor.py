"""What is a visitor's own on a shopper page, read in one query (see shop.catalog_cache's layering).

One round trip for every personal figure a page shows: which of its products the visitor ♡s and has
bought, how many items the cart holds, how many notifications are unread.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import CharField, Count, IntegerField, Sum, Value

from accounts.models import Notification
from shop.models import CartLine, OrderLine, ProductLike
from shop.selectors.orders import BOUGHT_STATUSES


@dataclass
class VisitorFacts:
    liked: set[int] = field(default_factory=set)
    bought: set[int] = field(default_factory=set)
    cart_count: int = 0
    unread: int = 0


def _part(queryset, kind: str, value: str, *, aggregate=None):
    queryset = queryset.order_by().annotate(fact_kind=Value(kind, output_field=CharField()))
    if aggregate is not None:
        return (
            queryset.values("fact_kind").annotate(fact_value=aggregate).values_list("fact_kind", "fact_value")
        )
    return queryset.values_list("fact_kind", value)


def visitor_facts(
    *, user, liked_among: Collection[int] = (), bought_among: Collection[int] = (), cart_id: int | None = None
) -> VisitorFacts:
    """The visitor's ♡s among `liked_among`, purchases among `bought_among`, cart items and unread
    notifications: one query (a UNION ALL of the parts asked for), none for a visitor with nothing."""
    facts = VisitorFacts()
    parts = []
    if user.is_authenticated:
        if liked_among:
            likes = ProductLike.objects.filter(user_id=user.pk, product_id__in=list(liked_among))
            parts.append(_part(likes, "liked", "product_id"))
        if bought_among:
            lines = OrderLine.objects.filter(
                order__buyer_id=user.pk, order__status__in=BOUGHT_STATUSES, product_id__in=list(bought_among)
            )
            parts.append(_part(lines, "bought", "product_id"))
        cart_lines = CartLine.objects.filter(cart__user_id=user.pk)
        unread = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)  # the inbox badge
        parts.append(_part(unread, "unread", "", aggregate=Count("id")))
    elif cart_id:
        cart_lines = CartLine.objects.filter(cart_id=cart_id, cart__user__isnull=True)
    else:
        return facts
    parts.append(_part(cart_lines, "cart", "", aggregate=Sum("quantity", output_field=IntegerField())))
    query = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    for kind, value in query:
        if kind == "liked":
            facts.liked.add(value)
        elif kind == "bought":
            facts.bought.add(value)
        elif kind == "cart":
            facts.cart_count = value or 0
        elif kind == "unread":
            facts.unread = value or 0
    return facts
