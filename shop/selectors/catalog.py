"""Catalog reads shared by the storefront pages, the API and the admin.

Every selector fetches what its callers show in a fixed number of queries, however many products,
SKUs or images there are (the tests pin the counts). What is cached of them, and when it is dropped,
is shop.catalog_cache's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from shop.models import SKU, Category, Product, ProductImage, ProductLike, Shop, SpecDimension

# --- Categories and shops --------------------------------------------------------------------


def category_tree() -> list[Category]:
    """Top-level categories, each with `.children` prefetched, in display order. Two queries."""
    return list(
        Category.objects.filter(parent__isnull=True).prefetch_related(
            Prefetch("children", queryset=Category.objects.order_by("position", "id"))
        )
    )


def category_with_descendant_ids(category: Category) -> list[int]:
    """A top-level category lists its children's products too."""
    if category.parent_id:
        return [category.pk]
    return [category.pk, *category.children.values_list("pk", flat=True)]


def shops_active() -> QuerySet[Shop]:
    return Shop.objects.active().order_by("id")


def shop_visible_or_none(*, slug: str) -> Shop | None:
    return Shop.objects.active().filter(slug=slug).first()


# --- Product lists ---------------------------------------------------------------------------


def _cover_image_subquery():
    return Subquery(
        ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id").values("image")[:1]
    )


def product_cards(queryset: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """What a product card shows: product, shop, category and the cover image path (`cover_path`),
    in one query whatever the number of images."""
    queryset = Product.objects.on_sale() if queryset is None else queryset
    return queryset.select_related("shop", "category").annotate(cover_path=_cover_image_subquery())


def product_cover(product: Product) -> ProductImage | None:
    """An unsaved ProductImage for the annotated cover path, so templates can ask for its thumbnail
    without another query."""
    path = getattr(product, "cover_path", None)
    if not path:
        return None
    return ProductImage(product=product, image=path)


def product_feed() -> QuerySet[Product]:
    """On-sale products of active shops, newest first."""
    return product_cards().order_by("-created_at", "-id")


class SearchOrder:
    RELEVANCE = "relevance"
    PRICE_ASC = "price"
    PRICE_DESC = "-price"
    SALES = "sales"
    NEWEST = "newest"

    choices = [RELEVANCE, PRICE_ASC, PRICE_DESC, SALES, NEWEST]


ORDERINGS = {
    SearchOrder.PRICE_ASC: ("price_fen", "-id"),
    SearchOrder.PRICE_DESC: ("-price_fen", "-id"),
    SearchOrder.SALES: ("-sales_count", "-id"),
    SearchOrder.NEWEST: ("-created_at", "-id"),
}


@dataclass(frozen=True)
class ProductFilters:
    query: str = ""
    category: Category | None = None
    shop: Shop | None = None
    price_min_fen: int | None = None
    price_max_fen: int | None = None
    order: str = SearchOrder.RELEVANCE


def product_search(filters: ProductFilters, base: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """Search titles, subtitles and descriptions, filter and order; on-sale products of active shops.

    Matching is a case-insensitive substring match (`icontains`), which works for Chinese, where
    words are not separated by spaces: 连衣 finds 连衣裙. pg_trgm GIN indexes on UPPER(column) make
    it fast for queries of three characters or more (see the catalog_search_trigram migration).
    Relevance puts title matches first (title starting with the query highest), then subtitle, then
    description, then best sellers.
    """
    queryset = product_cards(base)
    query = filters.query.strip()
    if query:
        queryset = queryset.filter(
            Q(title__icontains=query) | Q(subtitle__icontains=query) | Q(description__icontains=query)
        )
    if filters.category is not None:
        queryset = queryset.filter(category_id__in=category_with_descendant_ids(filters.category))
    if filters.shop is not None:
        queryset = queryset.filter(shop=filters.shop)
    if filters.price_min_fen is not None:
        queryset = queryset.filter(price_fen__gte=filters.price_min_fen)
    if filters.price_max_fen is not None:
        queryset = queryset.filter(price_fen__lte=filters.price_max_fen)
    if filters.order in ORDERINGS:
        return queryset.order_by(*ORDERINGS[filters.order])
    if query:
        queryset = queryset.annotate(
            relevance=Case(
                When(title__istartswith=query, then=Value(4)),
                When(title__icontains=query, then=Value(3)),
                When(subtitle__icontains=query, then=Value(2)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        return queryset.order_by("-relevance", "-sales_count", "-id")
    return queryset.order_by("-created_at", "-id")


# --- Friends' likes ---------------------------------------------------------------------------


def _friend_ids_of(user):
    try:
        from accounts.selectors import friend_ids
    except ImportError:  # the friends feature may land after the catalog
        from accounts.models import Friendship

        return Friendship.objects.filter(user=user).values("friend_id")
    return friend_ids(user=user)


def friends_liked_products(*, user, limit: int = 10) -> list[Product]:
    """Products the user's friends liked, ranked by how many friends liked each (then newest like).

    Each product carries `friend_like_count` and `friend_likers` (up to the users who liked it, for
    avatars and names). Three queries however many friends or likes there are.
    """
    if not user.is_authenticated:
        return []
    friends = _friend_ids_of(user)
    if not isinstance(friends, QuerySet):
        friends = list(friends)
        if not friends:
            return []
    friend_likes = Q(likes__user_id__in=friends)
    products = list(
        product_cards()
        .annotate(friend_like_count=Count("likes", filter=friend_likes, distinct=True))
        .filter(friend_like_count__gt=0)
        .order_by("-friend_like_count", "-like_count", "-id")[:limit]
    )
    if products:
        likes = (
            ProductLike.objects.filter(product__in=products, user_id__in=friends)
            .select_related("user")
            .order_by("-created_at")
        )
        by_product: dict[int, list] = {}
        for like in likes:
            by_product.setdefault(like.product_id, []).append(like.user)
        for product in products:
            product.friend_likers = by_product.get(product.pk, [])
    return products


def liked_product_ids(*, user, product_ids) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(
        ProductLike.objects.filter(user=user, product_id__in=list(product_ids)).values_list(
            "product_id", flat=True
        )
    )


# --- Product detail ---------------------------------------------------------------------------


def product_detail_queryset(base: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """A product with everything its page shows: shop, category, images in order, spec dimensions
    with values, and SKUs with their spec values. Six queries whatever the counts."""
    base = Product.objects.all() if base is None else base
    return base.select_related("shop", "category", "category__parent").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
        Prefetch(
            "spec_dimensions",
            queryset=SpecDimension.objects.order_by("position", "id").prefetch_related("values"),
        ),
        Prefetch("skus", queryset=SKU.objects.order_by("id").prefetch_related("spec_values")),
    )


def product_visible_or_none(*, product_id: int) -> Product | None:
    """An on-sale product of an active shop, ready for its page, or None."""
    return product_detail_queryset(Product.objects.on_sale()).filter(pk=product_id).first()


def sku_picker_data(product: Product) -> dict:
    """What the spec picker needs, as plain data: dimensions with values, and each active SKU's
    value ids, price and stock. Uses only the prefetched rows."""
    dimensions = [
        {"id": d.pk, "name": d.name, "values": [{"id": v.pk, "value": v.value} for v in d.values.all()]}
        for d in product.spec_dimensions.all()
    ]
    skus = [
        {
            "id": sku.pk,
            "values": sorted(v.pk for v in sku.spec_values.all()),
            "label": sku.spec_label,
            "price_fen": sku.price_fen,
            "original_price_fen": sku.original_price_fen,
            "stock": sku.stock,
        }
        for sku in product.skus.all()
        if sku.is_active and sku.price_fen > 0
    ]
    return {"dimensions": dimensions, "skus": skus}


def price_range(product: Product) -> tuple[int, int]:
    prices = [s.price_fen for s in product.skus.all() if s.is_active and s.price_fen > 0]
    return (min(prices), max(prices)) if prices else (0, 0)
