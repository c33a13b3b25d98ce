"""Catalog API under /api/v1/: one view per operation, reads through selectors, writes through services.

Shoppers: shops, categories, products (filters, search, ordering, pagination), product detail, likes.
Merchant staff (/merchant/...): their own shops' products, specs and SKU grid, images, SKUs and stock.
Another shop's product or SKU is simply not found (404) by id in the URL; sent inside a body (a
stock list, a shop to create in) it is refused as bad input (400). Nothing is revealed either way.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import MAX_ID, token_key, token_preloaded
from shop import catalog_cache
from shop.admin.scoping import managed_shops
from shop.api import catalog_serializers as io
from shop.models import SKU, Product
from shop.selectors import catalog as selectors
from shop.selectors.visitor import token_and_liked, visitor_facts
from shop.services import catalog as services
from shop.services.staff_permissions import StaffPermission, staff_can, staff_require

# --- Shoppers --------------------------------------------------------------------------------


class ShopListView(generics.ListAPIView):
    """Active shops."""

    serializer_class = io.ShopOutput
    queryset = selectors.shops_active()


class ShopDetailView(generics.RetrieveAPIView):
    serializer_class = io.ShopOutput
    queryset = selectors.shops_active()


class CategoryTreeView(APIView):
    """Top-level categories with their children (two levels)."""

    @extend_schema(responses=io.CategoryTreeOutput(many=True))
    def get(self, request):
        return Response(io.CategoryTreeOutput(selectors.category_tree(), many=True).data)


class ProductListView(generics.ListAPIView):
    """On-sale products of active shops. Filter by category, shop and price range (fen), search with
    `q` (substring match, works for Chinese), order by relevance, price, -price, sales or newest."""

    serializer_class = io.ProductCardOutput

    def get_queryset(self):
        params = io.ProductListParams(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = selectors.ProductFilters(
            query=data.get("q", ""),
            category=data.get("category"),
            shop=data.get("shop"),
            price_min_fen=data.get("price_min"),
            price_max_fen=data.get("price_max"),
            order=data.get("ordering")
            or (selectors.SearchOrder.RELEVANCE if data.get("q") else selectors.SearchOrder.NEWEST),
        )
        return selectors.product_search(filters)

    @extend_schema(parameters=[io.ProductListParams])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        # A page of cards is the same for everyone asking the same thing (no personal fields), so
        # it is cached like the storefront's lists: per query, language and the host its links name.
        key = catalog_cache.list_key(
            name="api-products-json",  # JSON bytes; earlier versions kept data under "api-products"
            language=get_language(),
            parts=(request.scheme, request.get_host(), catalog_cache.query_digest(request.query_params)),
        )
        built_at, body = catalog_cache.list_get(key)
        if not isinstance(body, bytes):  # not cached (or not as bytes): built now
            response = super().list(request, *args, **kwargs)  # bad filters raise: a 400, never cached
            body = catalog_cache.json_render(response.data)
            catalog_cache.list_set(key, built_at, body)
        return catalog_cache.json_response(request, body)


class ProductDetailView(APIView):
    """A product with its images, spec dimensions and active SKUs (price, stock).

    Its representation is shared by every caller and cached (shop.catalog_cache); `liked`, the
    caller's own, is added per request. A caller with an API token gets it from the statement that
    reads the token (one query, not two): see perform_authentication."""

    liked_by_caller: bool | None = None  # read with the caller's token, once it has vouched for them

    def perform_authentication(self, request):
        """DRF authenticates the caller as for any view, but a token is read together with whether
        its user ♡s this product (shop.selectors.visitor.token_and_liked) and handed to DRF's token
        authentication (accounts.authentication.token_preloaded), which checks it as usual; the ♡ is
        used only if that token is what authenticated the request."""
        self.liked_by_caller = None
        key, product_id = token_key(request), self.kwargs.get("pk")
        if key is None or not isinstance(product_id, int) or not 0 < product_id <= MAX_ID:
            return super().perform_authentication(request)
        token, liked = token_and_liked(key=key, product_id=product_id)
        with token_preloaded(token):
            super().perform_authentication(request)
        if token is not None and request.auth is token:
            self.liked_by_caller = liked

    @extend_schema(responses=io.ProductDetailOutput)
    def get(self, request, pk: int):
        key = catalog_cache.product_key(catalog_cache.API_KIND, pk, get_language())
        shared = catalog_cache.shared_get(key)  # the representation as JSON bytes
        if not isinstance(shared, bytes):  # not cached (or not as bytes): built now
            product = selectors.product_visible_or_none(product_id=pk)
            if product is None:
                return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
            shared = catalog_cache.json_render(io.ProductDetailOutput(product).data)
            catalog_cache.shared_set(key, shared)
        liked = self.liked_by_caller
        if liked is None:  # signed in by session, or not at all
            liked = pk in visitor_facts(user=request.user, liked_among=[pk], badges=False).liked
        return catalog_cache.json_response(request, shared, add={"liked": liked})


class ProductLikeView(APIView):
    """POST ♡s the product, DELETE takes the ♡ back. Both are safe to repeat."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: OpenApiResponse(description="liked, like_count")})
    def post(self, request, pk: int):
        product = get_object_or_404(Product.objects.on_sale(), pk=pk)
        services.product_like(user=request.user, product=product)
        product.refresh_from_db(fields=["like_count"])
        return Response({"liked": True, "like_count": product.like_count})

    @extend_schema(request=None, responses={200: OpenApiResponse(description="liked, like_count")})
    def delete(self, request, pk: int):
        product = get_object_or_404(Product.objects.all(), pk=pk)
        services.product_unlike(user=request.user, product=product)
        product.refresh_from_db(fields=["like_count"])
        return Response({"liked": False, "like_count": product.like_count})


class FriendsLikedView(APIView):
    """朋友♡: products the caller's friends liked, most-liked first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=io.ProductCardOutput(many=True))
    def get(self, request):
        products = selectors.friends_liked_products(user=request.user, limit=20)
        data = io.ProductCardOutput(products, many=True).data
        for item, product in zip(data, products, strict=True):
            item["friend_like_count"] = product.friend_like_count
        return Response(data)


# --- Merchant staff --------------------------------------------------------------------------


def _own_products(user):
    return Product.objects.filter(shop__in=managed_shops(user))


def _own_product(user, pk) -> Product:
    return get_object_or_404(selectors.product_detail_queryset(_own_products(user)), pk=pk)


def _product_output(user, pk) -> dict:
    return io.MerchantProductOutput(_own_product(user, pk)).data


class MerchantProductListView(generics.ListCreateAPIView):
    """The caller's shops' products in every status. POST creates a draft with one default SKU."""

    permission_classes = [IsAuthenticated]
    serializer_class = io.MerchantProductOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Product.objects.none()
        return selectors.product_detail_queryset(_own_products(self.request.user)).order_by("-id")

    @extend_schema(request=io.ProductCreateInput, responses={201: io.MerchantProductOutput})
    def post(self, request):
        params = io.ProductCreateInput(data=request.data, shops=managed_shops(request.user))
        params.is_valid(raise_exception=True)
        product = services.product_create(**params.validated_data)
        return Response(_product_output(request.user, product.pk), status=status.HTTP_201_CREATED)


class MerchantProductDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=io.MerchantProductOutput)
    def get(self, request, pk: int):
        return Response(_product_output(request.user, pk))

    @extend_schema(request=io.ProductUpdateInput, responses=io.MerchantProductOutput)
    def patch(self, request, pk: int):
        product = _own_product(request.user, pk)
        params = io.ProductUpdateInput(data=request.data)
        params.is_valid(raise_exception=True)
        services.product_update(product=product, **params.validated_data)
        return Response(_product_output(request.user, pk))


class MerchantProductStatusView(APIView):
    """Put on sale, take off shelf or back to draft. On sale needs an active SKU priced above zero."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=io.ProductStatusInput, responses=io.MerchantProductOutput)
    def post(self, request, pk: int):
        product = _own_product(request.user, pk)
        params = io.ProductStatusInput(data=request.data)
        params.is_valid(raise_exception=True)
        services.product_set_status(product=product, status=params.validated_data["status"])
        return Response(_product_output(request.user, pk))


class MerchantProductSpecsView(APIView):
    """Replace the spec dimensions and values; the SKU grid is regenerated (one SKU per combination)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=io.SpecsInput, responses=io.MerchantProductOutput)
    def put(self, request, pk: int):
        product = _own_product(request.user, pk)
        params = io.SpecsInput(data=request.data)
        params.is_valid(raise_exception=True)
        specs = [
            services.SpecInput(name=spec["name"], values=tuple(spec["values"]))
            for spec in params.validated_data["specs"]
        ]
        services.product_specs_set(
            product=product,
            specs=specs,
            price_new_skus=staff_can(
                user=request.user, shop_id=product.shop_id, permission=StaffPermission.CHANGE_PRICES
            ),
        )
        return Response(_product_output(request.user, pk))


class MerchantProductImagesView(APIView):
    """Upload an image (multipart `image`, optional `position`). Non-images and oversized files: 400."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=io.ImageInput, responses={201: io.MerchantProductOutput})
    def post(self, request, pk: int):
        product = _own_product(request.user, pk)
        params = io.ImageInput(data=request.data)
        params.is_valid(raise_exception=True)
        services.product_image_add(
            product=product,
            upload=params.validated_data["image"],
            position=params.validated_data.get("position"),
        )
        return Response(_product_output(request.user, pk), status=status.HTTP_201_CREATED)


class MerchantSKUView(APIView):
    """Change one SKU's price, original price, stock, code or whether it is sold (partial update).

    Only the fields sent are written. Send `expected_stock` (and `expected_price_fen`,
    `expected_original_price_fen`) with the values you read to have the change refused with 409 if
    the SKU moved since (an order took stock meanwhile) rather than overwrite it.
    """

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=io.SKUUpdateInput, responses=io.MerchantSKUOutput)
    def patch(self, request, pk: int):
        sku = get_object_or_404(
            SKU.objects.filter(product__shop__in=managed_shops(request.user)).select_related("product"),
            pk=pk,
        )
        params = io.SKUUpdateInput(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        if any(
            name in data and data[name] != getattr(sku, name) for name in ("price_fen", "original_price_fen")
        ):
            staff_require(
                user=request.user, shop_id=sku.product.shop_id, permission=StaffPermission.CHANGE_PRICES
            )
        expected = {
            field: data.pop(f"expected_{field}")
            for field in ("stock", "price_fen", "original_price_fen")
            if f"expected_{field}" in data
        }
        services.sku_update(sku=sku, expected=expected, **data)
        sku = SKU.objects.prefetch_related("spec_values").get(pk=pk)
        return Response(io.MerchantSKUOutput(sku).data)


class MerchantStockView(APIView):
    """Set stock of many SKUs at once. Any SKU not of the caller's shops refuses the whole list (400)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=io.StockInput, responses={200: OpenApiResponse(description="changed: count")})
    def post(self, request):
        params = io.StockInput(data=request.data)
        params.is_valid(raise_exception=True)
        shop_ids = (
            None
            if request.user.is_superuser
            else list(managed_shops(request.user).values_list("pk", flat=True))
        )
        changed = services.skus_stock_set(
            shop_ids=shop_ids,
            items=[(item["sku_id"], item["stock"]) for item in params.validated_data["items"]],
        )
        return Response({"changed": changed})
