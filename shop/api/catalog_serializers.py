"""Catalog API shapes: small output serializers for reads, small input serializers for each write."""

from rest_framework import serializers

from shop.models import SKU, Category, Product, ProductImage, Shop
from shop.selectors import catalog as selectors
from shop.services.catalog import MAX_POSITION, MAX_PRICE_FEN, MAX_STOCK

# --- Output ----------------------------------------------------------------------------------


class ShopOutput(serializers.ModelSerializer):
    logo_url = serializers.SerializerMethodField()

    class Meta:
        model = Shop
        fields = ["id", "name", "slug", "description", "logo_url"]

    def get_logo_url(self, shop) -> str | None:
        return shop.logo_thumbnail.url if shop.logo else None


class ShopBriefOutput(serializers.ModelSerializer):
    class Meta:
        model = Shop
        fields = ["id", "name", "slug"]


class CategoryBriefOutput(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]


class CategoryTreeOutput(serializers.ModelSerializer):
    children = CategoryBriefOutput(many=True, read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "children"]


class ProductCardOutput(serializers.ModelSerializer):
    shop = ShopBriefOutput(read_only=True)
    category = CategoryBriefOutput(read_only=True)
    cover_url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id",
            "title",
            "subtitle",
            "price_fen",
            "sales_count",
            "like_count",
            "shop",
            "category",
            "cover_url",
            "created_at",
        ]

    def get_cover_url(self, product) -> str | None:
        cover = selectors.product_cover(product)
        return cover.thumbnail.url if cover else None


class ProductImageOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "position", "url", "thumbnail_url"]

    def get_url(self, image) -> str:
        return image.large.url

    def get_thumbnail_url(self, image) -> str:
        return image.thumbnail.url


class SpecValueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    value = serializers.CharField()


class SpecDimensionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    values = SpecValueOutput(many=True)


class SKUOutput(serializers.ModelSerializer):
    spec_value_ids = serializers.SerializerMethodField()

    class Meta:
        model = SKU
        fields = [
            "id",
            "spec_label",
            "spec_value_ids",
            "price_fen",
            "original_price_fen",
            "stock",
            "is_active",
        ]

    def get_spec_value_ids(self, sku) -> list[int]:
        return sorted(v.pk for v in sku.spec_values.all())


class MerchantSKUOutput(SKUOutput):
    class Meta(SKUOutput.Meta):
        fields = [*SKUOutput.Meta.fields, "code"]


class ProductDetailOutput(ProductCardOutput):
    description = serializers.CharField()
    images = ProductImageOutput(many=True, read_only=True)
    specs = serializers.SerializerMethodField()
    skus = serializers.SerializerMethodField()
    liked = serializers.SerializerMethodField()

    class Meta(ProductCardOutput.Meta):
        fields = [*ProductCardOutput.Meta.fields, "description", "images", "specs", "skus", "liked"]

    def get_cover_url(self, product) -> str | None:
        images = list(product.images.all())
        return images[0].thumbnail.url if images else None

    def get_specs(self, product) -> list[dict]:
        dimensions = [
            {"id": d.pk, "name": d.name, "values": [{"id": v.pk, "value": v.value} for v in d.values.all()]}
            for d in product.spec_dimensions.all()
        ]
        return SpecDimensionOutput(dimensions, many=True).data

    def _skus(self, product):
        return [s for s in product.skus.all() if s.is_active]

    def get_skus(self, product) -> list[dict]:
        return SKUOutput(self._skus(product), many=True).data

    def get_liked(self, product) -> bool:
        return product.pk in self.context.get("liked_ids", set())


class MerchantProductOutput(ProductDetailOutput):
    class Meta(ProductDetailOutput.Meta):
        fields = [f for f in ProductDetailOutput.Meta.fields if f != "liked"] + ["status", "updated_at"]

    def _skus(self, product):
        return list(product.skus.all())

    def get_skus(self, product) -> list[dict]:
        return MerchantSKUOutput(self._skus(product), many=True).data


# --- Input -----------------------------------------------------------------------------------


class ProductListParams(serializers.Serializer):
    """Query parameters of GET /products/. Prices are in fen."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=60, help_text="搜一搜")
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(),
        required=False,
        help_text="Category id (a top category includes its children)",
    )
    shop = serializers.PrimaryKeyRelatedField(
        queryset=Shop.objects.active(), required=False, help_text="Shop id"
    )
    price_min = serializers.IntegerField(required=False, min_value=0, help_text="fen")
    price_max = serializers.IntegerField(required=False, min_value=0, help_text="fen")
    ordering = serializers.ChoiceField(choices=selectors.SearchOrder.choices, required=False)

    def validate(self, attrs):
        low, high = attrs.get("price_min"), attrs.get("price_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"price_max": ["Must not be below price_min."]})
        return attrs


class ProductCreateInput(serializers.Serializer):
    shop = serializers.PrimaryKeyRelatedField(queryset=Shop.objects.none())
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all())
    title = serializers.CharField(max_length=120)
    subtitle = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def __init__(self, *args, shops=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the caller's own shops are valid choices: another shop's id is "invalid pk", a 400.
        if shops is not None:
            self.fields["shop"].queryset = shops


class ProductUpdateInput(serializers.Serializer):
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), required=False)
    title = serializers.CharField(max_length=120, required=False)
    subtitle = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)


class ProductStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Product.Status.choices)


class SpecInput(serializers.Serializer):
    name = serializers.CharField(max_length=20)
    values = serializers.ListField(child=serializers.CharField(max_length=30), min_length=1, max_length=50)


class SpecsInput(serializers.Serializer):
    specs = SpecInput(many=True, max_length=3)


class ImageInput(serializers.Serializer):
    image = serializers.FileField()
    position = serializers.IntegerField(required=False, min_value=0, max_value=MAX_POSITION)


class SKUUpdateInput(serializers.Serializer):
    price_fen = serializers.IntegerField(required=False, min_value=0, max_value=MAX_PRICE_FEN)
    original_price_fen = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_PRICE_FEN, allow_null=True
    )
    stock = serializers.IntegerField(required=False, min_value=0, max_value=MAX_STOCK)
    code = serializers.CharField(required=False, allow_blank=True, max_length=64)
    is_active = serializers.BooleanField(required=False)
    # What the client read before editing: when given and the SKU moved since, the PATCH is refused
    # (409, "Stock changed to 7 while you were editing") instead of overwriting the newer value.
    expected_stock = serializers.IntegerField(required=False, min_value=0)
    expected_price_fen = serializers.IntegerField(required=False, min_value=0)
    expected_original_price_fen = serializers.IntegerField(required=False, min_value=0, allow_null=True)


class StockItemInput(serializers.Serializer):
    sku_id = serializers.IntegerField(min_value=1)
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK)


class StockInput(serializers.Serializer):
    items = StockItemInput(many=True, min_length=1, max_length=500)
