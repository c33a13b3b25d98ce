"""Reads of the affiliates app shared by pages, API and admin."""

from django.db import connection
from django.db.models import Case, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from affiliates.models import (
    CommissionEntry,
    CommissionPlan,
    Promoter,
    ShowcaseItem,
    TargetedRate,
    TrackedLink,
)
from shop.models import Product, Shop

REPEAT_CLICK_SECONDS = 30 * 60


def promoter_of(user) -> Promoter | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Promoter.objects.filter(user=user).select_related("agency", "bound_creator", "bound_agency").first()
    )


def agency_of(user):
    """The active agency `user` owns (the first by name if several), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    from affiliates.models import Agency

    return Agency.objects.filter(owner=user, is_active=True).order_by("name", "pk").first()


def agency_ledger(*, agency):
    return (
        CommissionEntry.objects.filter(agency=agency)
        .select_related("order", "product", "link")
        .order_by("-created_at", "-id")
    )


def pool_rate_for(*, promoter: Promoter, product: Product) -> int | None:
    """The rate `product` offers `promoter` (a creator) now, or None."""
    plan = CommissionPlan.objects.filter(product=product, is_active=True).first()
    if plan is None or product.status != Product.Status.ON_SALE:
        return None
    if plan.kind == CommissionPlan.Kind.EXCLUSIVE:
        return plan.rate_bp if plan.exclusive_promoter_id == promoter.pk else None
    targeted = (
        TargetedRate.objects.filter(plan=plan, promoter=promoter).values_list("rate_bp", flat=True).first()
    )
    return targeted if targeted is not None else plan.rate_bp


POOL_ORDERINGS = {
    "rate": "-pool_rate_bp",
    "price": "min_price",
    "-price": "-min_price",
    "sales": "-sales_count",
    "newest": "-created_at",
}


def pool_products(
    *,
    promoter: Promoter | None,
    category=None,
    rate_min_bp=None,
    price_min_fen=None,
    price_max_fen=None,
    ordering="sales",
):
    """The product pool (选品中心): products on sale in active shops with a live plan that offers
    `promoter` a rate (public plans to everyone, exclusive ones to their promoter), annotated with
    `pool_rate_bp` (a targeted rate where one names the promoter)."""
    from django.db.models import Min

    promoter_id = promoter.pk if promoter else None
    targeted = TargetedRate.objects.filter(plan__product=OuterRef("pk"), promoter_id=promoter_id).values(
        "rate_bp"
    )[:1]
    products = (
        Product.objects.filter(
            status=Product.Status.ON_SALE,
            shop__status=Shop.Status.ACTIVE,
            commission_plan__is_active=True,
        )
        .filter(Q(commission_plan__kind="public") | Q(commission_plan__exclusive_promoter_id=promoter_id))
        .annotate(
            pool_rate_bp=Coalesce(
                Case(
                    When(commission_plan__kind="public", then=Subquery(targeted)), output_field=IntegerField()
                ),
                "commission_plan__rate_bp",
                output_field=IntegerField(),
            ),
            min_price=Min("skus__price_fen", filter=Q(skus__is_active=True)),
        )
        .select_related("shop", "category", "commission_plan")
    )
    if category is not None:
        products = products.filter(Q(category=category) | Q(category__parent=category))
    if rate_min_bp is not None:
        products = products.filter(pool_rate_bp__gte=rate_min_bp)
    if price_min_fen is not None:
        products = products.filter(min_price__gte=price_min_fen)
    if price_max_fen is not None:
        products = products.filter(min_price__lte=price_max_fen)
    return products.order_by(POOL_ORDERINGS.get(ordering, "-sales_count"), "-id")


def exclusive_products_for(*, promoter: Promoter):
    """Products on sale whose live exclusive plan names `promoter` (a creator or a 推客)."""
    return Product.objects.filter(
        status=Product.Status.ON_SALE,
        shop__status=Shop.Status.ACTIVE,
        commission_plan__is_active=True,
        commission_plan__kind=CommissionPlan.Kind.EXCLUSIVE,
        commission_plan__exclusive_promoter=promoter,
    ).order_by("-id")


def showcase_products(*, creator: Promoter):
    from django.db.models import Min

    return (
        ShowcaseItem.objects.filter(creator=creator, product__status=Product.Status.ON_SALE)
        .select_related("product", "product__shop", "product__commission_plan")
        .annotate(min_price=Min("product__skus__price_fen", filter=Q(product__skus__is_active=True)))
        .order_by("position", "-id")
    )


def link_stats(link_ids) -> dict[int, dict]:
    """{link_id: {"clicks": all clicks, "visits": clicks counted once per visitor per 30 minutes}}."""
    link_ids = [int(i) for i in link_ids]
    if not link_ids:
        return {}
    sql = """
    SELECT link_id, COUNT(*),
           COUNT(*) FILTER (WHERE previous IS NULL OR clicked_at - previous > %s * interval '1 second')
    FROM (SELECT link_id, clicked_at,
                 LAG(clicked_at) OVER (PARTITION BY link_id, visitor ORDER BY clicked_at) AS previous
          FROM affiliates_click WHERE link_id = ANY(%s)) AS c
    GROUP BY link_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [REPEAT_CLICK_SECONDS, link_ids])
        rows = cursor.fetchall()
    stats = {link_id: {"clicks": 0, "visits": 0} for link_id in link_ids}
    for link_id, clicks, visits in rows:
        stats[link_id] = {"clicks": clicks, "visits": visits}
    return stats


def promoter_links(*, promoter: Promoter):
    return TrackedLink.objects.filter(promoter=promoter).select_related("product", "parent", "creator")


def promoter_ledger(*, promoter: Promoter):
    return (
        CommissionEntry.objects.filter(promoter=promoter)
        .select_related("order", "product", "link")
        .order_by("-created_at", "-id")
    )


def balance_of(*, promoter: Promoter | None = None, agency=None) -> dict[str, int]:
    """Derived from the ledger: settled (withdrawable, may be negative after clawbacks) and pending."""
    entries = (
        CommissionEntry.objects.filter(promoter=promoter)
        if promoter
        else CommissionEntry.objects.filter(agency=agency)
    )
    totals = entries.aggregate(
        settled=Coalesce(Sum("amount_fen", filter=Q(status="settled")), Value(0)),
        pending=Coalesce(Sum("amount_fen", filter=Q(status="pending")), Value(0)),
    )
    return {"settled_fen": int(totals["settled"]), "pending_fen": int(totals["pending"])}


def affiliate_sales(*, shops=None, group_by: str = "promoter"):
    """Affiliate sales (settled or pending, net of refunds) per promoter, product or scene, for the
    merchant's shops (all shops for operators: shops=None)."""
    fields = {"promoter": ["promoter__display_name"], "product": ["product__title"], "scene": ["scene"]}[
        group_by
    ]
    # One row per attributed line: the link owner's (the creator's, or the 推客's on their own link
    # for an exclusive plan naming them).
    entries = CommissionEntry.objects.exclude(status="cancelled").filter(
        Q(role="creator") | Q(role="sharer", link__parent__isnull=True)
    )
    if shops is not None:
        entries = entries.filter(shop__in=shops)
    return (
        entries.values(*fields)
        .annotate(
            orders=Sum(
                Case(When(kind="commission", then=Value(1)), default=Value(0), output_field=IntegerField())
            ),
            sales_fen=Sum(Case(When(kind="commission", then="base_fen"), default=Value(0))),
            commission_fen=Sum(Case(When(kind="commission", then="commission_fen"), default=Value(0))),
        )
        .order_by("-sales_fen")
    )
