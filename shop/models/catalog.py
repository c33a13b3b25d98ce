"""Shops and their catalog: categories, products, spec dimensions and values, SKUs, images, likes."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from imagekit.models import ImageSpecField
from imagekit.processors import ResizeToFill, ResizeToFit


class ShopQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Shop.Status.ACTIVE)

    def managed_by(self, user):
        """Shops the user may manage: all for operators, their memberships for merchant staff."""
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user)


class Shop(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")

    name = models.CharField(_("name"), max_length=80)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    logo = models.ImageField(_("logo"), upload_to="shops/logos/%Y/%m/", blank=True)
    logo_thumbnail = ImageSpecField(source="logo", processors=[ResizeToFill(160, 160)], format="JPEG")
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_shops",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    objects = ShopQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ShopMembership(models.Model):
    """A merchant staff member of a shop. The owner has one too, with role owner."""

    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        STAFF = "staff", _("staff")

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("shop")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shop_memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF, verbose_name=_("role"))
    # What a staff member may do, decided by the owner (the owner and operators may do everything).
    # Read only through shop.services.staff_permissions, the one place the rules live.
    can_ship = models.BooleanField(_("may ship orders"), default=True)
    can_answer_after_sales = models.BooleanField(_("may answer after-sales requests"), default=True)
    can_approve_refunds = models.BooleanField(_("may approve refunds"), default=False)
    can_change_prices = models.BooleanField(_("may change prices"), default=False)
    can_manage_commission = models.BooleanField(_("may change commission plans"), default=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("shop member")
        verbose_name_plural = _("shop members")
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="unique_shop_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop}"


class Category(models.Model):
    """Two levels: top categories (parent empty) and their children. Platform-wide, kept by operators."""

    name = models.CharField(_("name"), max_length=40)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.parent_id:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": _("A category cannot be its own parent.")})
            if self.parent.parent_id:
                raise ValidationError({"parent": _("Categories have two levels: pick a top-level parent.")})
            if self.pk and self.children.exists():
                raise ValidationError({"parent": _("This category has children, so it must stay top-level.")})


class ProductQuerySet(models.QuerySet):
    def on_sale(self):
        """What shoppers may see and buy: on sale, in an active shop."""
        return self.filter(status=Product.Status.ON_SALE, shop__status=Shop.Status.ACTIVE)


class Product(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ON_SALE = "on_sale", _("on sale")
        OFF_SHELF = "off_shelf", _("off shelf")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="products", verbose_name=_("shop"))
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    title = models.CharField(_("title"), max_length=120)
    subtitle = models.CharField(_("subtitle"), max_length=200, blank=True)
    # Sanitised HTML (see shop.services.catalog); never rendered unsanitised.
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Lowest active SKU price, kept by the catalog services so lists can sort and filter by price
    # without aggregating SKUs on every page.
    price_fen = models.BigIntegerField(_("price (fen)"), default=0)
    sales_count = models.PositiveIntegerField(_("sales"), default=0)
    like_count = models.PositiveIntegerField(_("likes"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [
            models.Index(fields=["status", "-created_at"], name="product_feed_idx"),
            models.Index(fields=["shop", "status"], name="product_shop_idx"),
            models.Index(fields=["category", "status"], name="product_category_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price_fen__gte=0), name="product_price_non_negative")
        ]

    def __str__(self) -> str:
        return self.title


class ProductImage(models.Model):
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="images", verbose_name=_("product")
    )
    image = models.ImageField(_("image"), upload_to="products/%Y/%m/")
    thumbnail = ImageSpecField(
        source="image", processors=[ResizeToFill(360, 360)], format="JPEG", options={"quality": 82}
    )
    large = ImageSpecField(
        source="image", processors=[ResizeToFit(960, 960)], format="JPEG", options={"quality": 85}
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.product_id}#{self.position}"


class SpecDimension(models.Model):
    """A spec dimension of one product, such as 颜色 or 尺码."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="spec_dimensions", verbose_name=_("product")
    )
    name = models.CharField(_("name"), max_length=20)
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        verbose_name = _("spec dimension")
        verbose_name_plural = _("spec dimensions")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="unique_spec_dimension")]

    def __str__(self) -> str:
        return self.name


class SpecValue(models.Model):
    dimension = models.ForeignKey(
        SpecDimension, on_delete=models.CASCADE, related_name="values", verbose_name=_("spec dimension")
    )
    value = models.CharField(_("value"), max_length=30)
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        verbose_name = _("spec value")
        verbose_name_plural = _("spec values")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["dimension", "value"], name="unique_spec_value")]

    def __str__(self) -> str:
        return self.value


class SKU(models.Model):
    """One buyable combination of spec values, with its own price and stock.

    Stock only changes through the stock services, by conditional UPDATE; the constraint below is the
    database's last word that it never goes negative.
    """

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="skus", verbose_name=_("product")
    )
    spec_values = models.ManyToManyField(
        SpecValue, related_name="skus", blank=True, verbose_name=_("spec values")
    )
    # "红色 / M", kept with the SKU so lists and order lines need not join the spec tables.
    spec_label = models.CharField(_("spec"), max_length=120, blank=True)
    code = models.CharField(_("code"), max_length=64, blank=True)
    price_fen = models.BigIntegerField(_("price (fen)"), default=0)
    original_price_fen = models.BigIntegerField(_("original price (fen)"), null=True, blank=True)
    stock = models.IntegerField(_("stock"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["product_id", "id"]
        verbose_name = "SKU"
        verbose_name_plural = "SKUs"
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="sku_stock_non_negative"),
            models.CheckConstraint(condition=Q(price_fen__gte=0), name="sku_price_non_negative"),
            models.CheckConstraint(
                condition=Q(original_price_fen__isnull=True) | Q(original_price_fen__gte=F("price_fen")),
                name="sku_original_price_not_below_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.title} {self.spec_label}".strip() if self.product_id else self.spec_label


class ProductLike(models.Model):
    """A shopper's ♡ on a product. Friends' likes feed the 朋友♡ section."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="product_likes")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="unique_product_like")]
        indexes = [models.Index(fields=["product"], name="like_product_idx")]
