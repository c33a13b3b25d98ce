"""Spreadsheet columns for exports and imports (django-import-export resources).

Exports take the change list's queryset, so the list's filters, search and the merchant's scoping
apply. Money goes out in yuan ("184.00"), times in the shop's time zone.

The SKU sheet imports back: price, original price, stock, code and "on sale" per SKU id, checked by
the same form as the product page's SKU grid and written by the same service (`sku_update`). A SKU
of another shop is "not found", like one that does not exist. If the sheet keeps the column
原库存 (stock when exported) and the stock has moved since (a sale), that row is refused with the
current stock, so a sheet never silently undoes a sale.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets

from config.exceptions import DomainError
from shop.models import SKU, Order, Product
from shop.services.catalog import sku_update
from shop.services.staff_permissions import StaffPermission, staff_can
from shop.templatetags.money import format_fen


def _yuan(amount_fen) -> str:
    return "" if amount_fen is None else format_fen(amount_fen, symbol=False).replace(",", "")


class ScopedResourceMixin:
    """Rows limited to the shops of the signed-in merchant (`shop_ids`, None for operators)."""

    shop_path = "shop_id"

    def __init__(self, shop_ids: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.shop_ids = shop_ids

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.shop_ids is None:
            return queryset
        return queryset.filter(**{f"{self.shop_path}__in": self.shop_ids})


def _local_datetime(column: str, attribute: str) -> fields.Field:
    return fields.Field(
        attribute=attribute, column_name=column, widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S")
    )


class OrderResource(ScopedResourceMixin, resources.ModelResource):
    number = fields.Field(attribute="number", column_name=gettext_lazy("order number"))
    shop = fields.Field(attribute="shop__name", column_name=gettext_lazy("shop"))
    status = fields.Field(column_name=gettext_lazy("status"))
    buyer = fields.Field(attribute="buyer__phone", column_name=gettext_lazy("buyer"))
    recipient = fields.Field(attribute="recipient_name", column_name=gettext_lazy("recipient"))
    phone = fields.Field(attribute="recipient_phone", column_name=gettext_lazy("recipient phone"))
    address = fields.Field(column_name=gettext_lazy("address"))
    items = fields.Field(column_name=gettext_lazy("items (yuan)"))
    shipping = fields.Field(column_name=gettext_lazy("shipping (yuan)"))
    total = fields.Field(column_name=gettext_lazy("total (yuan)"))
    refunded = fields.Field(column_name=gettext_lazy("refunded (yuan)"))
    carrier = fields.Field(attribute="carrier", column_name=gettext_lazy("carrier"))
    tracking_number = fields.Field(attribute="tracking_number", column_name=gettext_lazy("tracking number"))
    created_at = _local_datetime(gettext_lazy("created"), "created_at")
    paid_at = _local_datetime(gettext_lazy("paid at"), "paid_at")
    shipped_at = _local_datetime(gettext_lazy("shipped at"), "shipped_at")

    class Meta:
        model = Order
        fields = export_order = (
            "number",
            "shop",
            "status",
            "buyer",
            "recipient",
            "phone",
            "address",
            "items",
            "shipping",
            "total",
            "refunded",
            "carrier",
            "tracking_number",
            "created_at",
            "paid_at",
            "shipped_at",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("shop", "buyer")

    def dehydrate_status(self, order):
        return order.get_status_display()

    def dehydrate_address(self, order):
        return order.address_one_line

    def dehydrate_items(self, order):
        return _yuan(order.items_fen)

    def dehydrate_shipping(self, order):
        return _yuan(order.shipping_fen)

    def dehydrate_total(self, order):
        return _yuan(order.total_fen)

    def dehydrate_refunded(self, order):
        return _yuan(order.refunded_fen)


class ProductSheetForm(forms.Form):
    """One product row (one SKU of it), checked like the product form and the SKU grid: a title within
    the model's length, a category that exists, specs as 名:值 pairs, and for a new product the SKU's
    price and original price (yuan), stock and code."""

    title = forms.CharField(max_length=Product._meta.get_field("title").max_length)
    category = forms.CharField()
    stock = forms.IntegerField(min_value=0, required=False)
    code = forms.CharField(required=False, max_length=SKU._meta.get_field("code").max_length)
    spec = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        from shop.admin.catalog import YuanField

        super().__init__(*args, **kwargs)
        self.fields["price"] = YuanField(label=_("price (yuan)"), required=False)
        self.fields["original_price"] = YuanField(label=_("original price (yuan)"), required=False)

    def clean_category(self):
        from django.db.models import Q

        from shop.models import Category

        name = self.cleaned_data["category"].strip()
        category = Category.objects.filter(Q(name=name) | Q(slug=name)).order_by("id").first()
        if category is None:
            raise ValidationError(_("No category %(name)s.") % {"name": name})
        return category

    def clean_spec(self) -> tuple[tuple[str, str], ...]:
        """ "颜色:红色; 尺码:M" -> (("颜色", "红色"), ("尺码", "M")); full-width colons and semicolons,
        "/" and new lines also separate."""
        text = self.cleaned_data["spec"].strip()
        if not text:
            return ()
        for separator in ("；", "\n", "/"):
            text = text.replace(separator, ";")
        pairs = []
        for part in text.split(";"):
            part = part.strip()
            if not part:
                continue
            name, colon, value = part.replace("：", ":").partition(":")
            if not colon or not name.strip() or not value.strip():
                raise ValidationError(
                    _("Write specs as name:value pairs, e.g. 颜色:红色; 尺码:M (“%(part)s”).")
                    % {"part": part}
                )
            pairs.append((name.strip(), value.strip()))
        names = [name for name, _value in pairs]
        if len(set(names)) != len(names):
            raise ValidationError(_("A spec name appears twice in this row."))
        return tuple(pairs)

    def clean(self):
        cleaned = super().clean()
        price, original = cleaned.get("price"), cleaned.get("original_price")
        if price is not None and original is not None and original < price:
            self.add_error("original_price", _("The original price cannot be below the price."))
        return cleaned


class ProductResource(ScopedResourceMixin, resources.ModelResource):
    """Export of products, and import of a merchant's product sheet.

    Rows with an ID rename or re-file existing products (title and category; their SKUs are edited
    in the SKU sheet). Rows without an ID are new products, one row per SKU: rows with the same title
    (and shop) are one product, its specs given per row as 名:值 pairs (颜色:红色; 尺码:M), with
    the SKU's price and original price in yuan, stock and code. Every row is checked on its own and
    against the other rows of its product (the same spec names, no combination twice, one row for a
    product without specs) and each row shows its own errors; nothing is written unless every row is
    good. A new product is written by the catalog services (`product_create`, `product_specs_set`,
    `sku_update`) as a draft; combinations the sheet does not list are made and left off sale.
    """

    id = fields.Field(attribute="id", column_name="ID")
    title = fields.Field(attribute="title", column_name=gettext_lazy("title"))
    shop = fields.Field(attribute="shop__name", column_name=gettext_lazy("shop"))
    category = fields.Field(attribute="category__name", column_name=gettext_lazy("category"))
    status = fields.Field(column_name=gettext_lazy("status"), readonly=True)
    price = fields.Field(column_name=gettext_lazy("price (yuan)"))
    stock = fields.Field(column_name=gettext_lazy("stock"))
    sales = fields.Field(attribute="sales_count", column_name=gettext_lazy("sales"), readonly=True)
    spec = fields.Field(column_name=gettext_lazy("spec (name:value; …)"))
    original_price = fields.Field(column_name=gettext_lazy("original price (yuan)"))
    code = fields.Field(column_name=gettext_lazy("code"))

    class Meta:
        model = Product
        fields = export_order = (
            "id",
            "title",
            "shop",
            "category",
            "status",
            "price",
            "stock",
            "sales",
            "spec",
            "original_price",
            "code",
        )
        import_id_fields = ("id",)
        use_transactions = True
        use_bulk = False
        skip_unchanged = False

    def filter_export(self, queryset, **kwargs):
        from django.db.models import Sum

        return queryset.select_related("shop", "category").annotate(sheet_stock=Sum("skus__stock"))

    def dehydrate_status(self, product):
        return product.get_status_display()

    def dehydrate_price(self, product):
        return _yuan(product.price_fen)

    def dehydrate_stock(self, product):
        return getattr(product, "sheet_stock", None) or 0

    # A product row carries no SKU's spec, original price or code (the SKU sheet has them); the
    # columns are there to be filled in for new products.
    def dehydrate_spec(self, product):
        return ""

    def dehydrate_original_price(self, product):
        return ""

    def dehydrate_code(self, product):
        return ""

    # --- import ---

    def _cell(self, row, name) -> str:
        value = row.get(self.fields[name].column_name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return "" if value is None else str(value).strip()

    def get_instance(self, instance_loader, row):
        raw = self._cell(row, "id")
        if not raw:
            return None  # a new product
        try:
            product_id = int(raw)
        except ValueError:
            product_id = None
        instance = self.get_queryset().filter(pk=product_id).first() if product_id else None
        if instance is None:  # unknown, or another shop's: the same answer
            raise ValidationError(_("Product %(id)s not found.") % {"id": raw})
        return instance

    def _check_row(self, row) -> tuple[dict | None, dict]:
        """(cleaned values or None, {field: [messages]}) for one row on its own."""
        form = ProductSheetForm(
            data={name: self._cell(row, name) for name in ("title", "category", "price", "stock")}
            | {name: self._cell(row, name) for name in ("spec", "original_price", "code")}
        )
        if not form.is_valid():
            return None, {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        return dict(form.cleaned_data), {}

    def before_import(self, dataset, **kwargs):
        """Read every row first: which new product each row belongs to, and what is wrong with it on
        its own or against the other rows of its product (kept per row number, shown on that row)."""
        from shop.models import Shop

        super().before_import(dataset, **kwargs)
        self.user = kwargs.get("user")
        self.row_plans: dict[int, dict] = {}
        self.new_products: dict[tuple, dict] = {}
        shops = Shop.objects.all() if self.shop_ids is None else Shop.objects.filter(pk__in=self.shop_ids)
        for number, data in enumerate(dataset, 1):
            row = dict(zip(dataset.headers, data, strict=False))
            if self._cell(row, "id"):
                continue  # an existing product: checked when its row is imported
            values, errors = self._check_row(row)
            plan = {"values": values, "errors": errors, "key": None}
            self.row_plans[number] = plan
            if values is None:
                continue
            name = self._cell(row, "shop")
            matches = list(shops.filter(name=name)[:2]) if name else list(shops[:2])
            if len(matches) != 1:
                errors["shop"] = [_("Name one of your shops.")]
                continue
            if values["price"] is None:
                errors["price"] = [_("Enter the price of the new product.")]
            elif not staff_can(
                user=self.user, shop_id=matches[0].pk, permission=StaffPermission.CHANGE_PRICES
            ):
                errors["price"] = [_("Only the shop owner, or staff the owner allowed, may change prices.")]
            key = (matches[0].pk, values["title"])
            plan["key"] = key
            product = self.new_products.setdefault(
                key, {"shop": matches[0], "first": number, "rows": [], "combos": {}}
            )
            self._check_against_product(number, values, errors, product)
            product["rows"].append(number)

    def _check_against_product(self, number: int, values: dict, errors: dict, product: dict) -> None:
        first = product["first"]
        combination = tuple(value for _name, value in values["spec"])
        if first == number:
            product["category"] = values["category"]
            product["names"] = [name for name, _value in values["spec"]]
            product["combos"][combination] = number
            return
        where = {"row": first}
        if values["category"] != product["category"]:
            errors.setdefault("category", []).append(
                _("Rows of one product need the same category as its row %(row)d.") % where
            )
        names = [name for name, _value in values["spec"]]
        if not product["names"] or not names:
            errors.setdefault("spec", []).append(
                _("Row %(row)d has the same title: a product of several rows names its specs in each.")
                % where
            )
        elif names != product["names"]:
            errors.setdefault("spec", []).append(
                _("Name the same specs in the same order as row %(row)d (%(names)s).")
                % {**where, "names": ", ".join(product["names"])}
            )
        if combination in product["combos"]:
            errors.setdefault("spec", []).append(
                _("Row %(row)d already has this combination.") % {"row": product["combos"][combination]}
            )
        product["combos"].setdefault(combination, number)

    def import_instance(self, instance, row, **kwargs):
        if instance.pk is not None:  # an existing product: title and category only
            values, errors = self._check_row(row)
            if errors:
                raise ValidationError(errors)
            instance.sheet_values = values
            instance.title, instance.category = values["title"], values["category"]
            return
        plan = self.row_plans[kwargs["row_number"]]
        if plan["errors"]:
            raise ValidationError(plan["errors"])
        product = self.new_products[plan["key"]]
        broken = [n for n in product["rows"] if self.row_plans[n]["errors"]]
        if broken:  # the product is written from all its rows, so none of them can be
            raise ValidationError(
                _("Another row of this product has errors (row %(rows)s).")
                % {"rows": ", ".join(map(str, broken))}
            )
        instance.sheet_values = plan["values"]
        instance.sheet_product = product
        instance.title, instance.category = plan["values"]["title"], plan["values"]["category"]

    def _create_product(self, product: dict) -> None:
        """The product of these rows, its specs (values in the order the rows give them) and every
        combination's SKU, those the sheet does not list left at ¥0 and off sale."""
        from shop.services.catalog import SpecInput, product_create, product_specs_set

        first = self.row_plans[product["first"]]["values"]
        created = product_create(shop=product["shop"], category=first["category"], title=first["title"])
        specs = [
            SpecInput(
                name=name,
                values=tuple(
                    dict.fromkeys(self.row_plans[n]["values"]["spec"][index][1] for n in product["rows"])
                ),
            )
            for index, name in enumerate(product["names"])
        ]
        grid = product_specs_set(product=created, specs=specs, price_new_skus=False)
        listed = {
            tuple(value for _name, value in self.row_plans[n]["values"]["spec"]) for n in product["rows"]
        }
        by_combination = {}
        for sku in grid:
            combination = tuple(part for part in sku.spec_label.split(" / ")) if sku.spec_label else ()
            by_combination[combination] = sku
            if combination not in listed:
                sku_update(sku=sku, is_active=False)
        product["product"], product["skus"] = created, by_combination

    def save_instance(self, instance, is_create, row, **kwargs):
        from shop.services.catalog import product_update

        values = instance.sheet_values
        try:
            with transaction.atomic():
                if not is_create:
                    product_update(product=instance, category=values["category"], title=values["title"])
                    return
                product = instance.sheet_product
                if "product" not in product:
                    self._create_product(product)
                combination = tuple(value for _name, value in values["spec"])
                sku_update(
                    sku=product["skus"][combination],
                    price_fen=values["price"],
                    original_price_fen=values["original_price"],
                    stock=values["stock"] or 0,
                    code=values["code"],
                    is_active=True,
                )
                instance.pk = instance.id = product["product"].pk
        except DomainError as error:
            raise ValidationError({error.field or "__all__": error.message}) from error


class SKUSheetForm(forms.Form):
    """One SKU row as the product page's SKU grid checks it (prices typed in yuan)."""

    code = forms.CharField(required=False, max_length=64)
    stock = forms.IntegerField(min_value=0)
    is_active = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        from shop.admin.catalog import YuanField

        super().__init__(*args, **kwargs)
        self.fields["price"] = YuanField(label=_("price (yuan)"))
        self.fields["original_price"] = YuanField(label=_("original price (yuan)"), required=False)

    def clean(self):
        cleaned = super().clean()
        price, original = cleaned.get("price"), cleaned.get("original_price")
        if price is not None and original is not None and original < price:
            self.add_error("original_price", _("The original price cannot be below the price."))
        return cleaned


class SKUResource(ScopedResourceMixin, resources.ModelResource):
    """Export and import of SKUs: one row per SKU, the columns a merchant edits in the SKU grid."""

    shop_path = "product__shop_id"
    id = fields.Field(attribute="id", column_name="SKU ID")
    product = fields.Field(attribute="product__title", column_name=gettext_lazy("product"), readonly=True)
    spec = fields.Field(attribute="spec_label", column_name=gettext_lazy("spec"), readonly=True)
    code = fields.Field(attribute="code", column_name=gettext_lazy("code"))
    price = fields.Field(column_name=gettext_lazy("price (yuan)"))
    original_price = fields.Field(column_name=gettext_lazy("original price (yuan)"))
    stock = fields.Field(attribute="stock", column_name=gettext_lazy("stock"), widget=widgets.IntegerWidget())
    stock_when_exported = fields.Field(column_name=gettext_lazy("stock when exported"))
    is_active = fields.Field(column_name=gettext_lazy("on sale (1/0)"))

    class Meta:
        model = SKU
        import_id_fields = ("id",)
        fields = export_order = (
            "id",
            "product",
            "spec",
            "code",
            "price",
            "original_price",
            "stock",
            "stock_when_exported",
            "is_active",
        )
        skip_unchanged = False
        use_transactions = True
        # Each row is written by the catalog service, one SKU at a time under its lock.
        use_bulk = False

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("product")

    def dehydrate_price(self, sku):
        return _yuan(sku.price_fen)

    def dehydrate_original_price(self, sku):
        return _yuan(sku.original_price_fen)

    def dehydrate_stock_when_exported(self, sku):
        return sku.stock

    def dehydrate_is_active(self, sku):
        return 1 if sku.is_active else 0

    # --- import ---

    def get_instance(self, instance_loader, row):
        raw = row.get(self.fields["id"].column_name)
        try:
            sku_id = int(float(raw))
        except (TypeError, ValueError):
            raise ValidationError(_("SKU %(id)s not found.") % {"id": raw or "?"}) from None
        instance = self.get_queryset().select_related("product").filter(pk=sku_id).first()
        if instance is None:  # unknown, or another shop's: the same answer
            raise ValidationError(_("SKU %(id)s not found.") % {"id": sku_id})
        return instance

    def import_instance(self, instance, row, **kwargs):
        def cell(name):
            value = row.get(self.fields[name].column_name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return "" if value is None else str(value).strip()

        active = cell("is_active")
        form = SKUSheetForm(
            data={
                "code": cell("code"),
                "price": cell("price"),
                "original_price": cell("original_price"),
                "stock": cell("stock"),
                "is_active": "on" if active.lower() in {"1", "true", "yes", "是", "y"} else "",
            }
        )
        if not form.is_valid():
            raise ValidationError(
                {field: [str(message) for message in messages] for field, messages in form.errors.items()}
            )
        seen = cell("stock_when_exported")
        instance.sheet_values = {**form.cleaned_data, "stock_when_exported": seen}
        instance.code = form.cleaned_data["code"]
        instance.price_fen = form.cleaned_data["price"]
        instance.original_price_fen = form.cleaned_data["original_price"]
        instance.stock = form.cleaned_data["stock"]
        instance.is_active = form.cleaned_data["is_active"]

    def save_instance(self, instance, is_create, row, **kwargs):
        values = instance.sheet_values
        with transaction.atomic():
            current = SKU.objects.select_for_update().get(pk=instance.pk)
            seen = values["stock_when_exported"]
            if seen != "" and str(current.stock) != seen and current.stock != values["stock"]:
                raise ValidationError(
                    {
                        "stock": _("Stock changed to %(stock)d since the sheet was exported.")
                        % {"stock": current.stock}
                    }
                )
            changes_price = (values["price"], values["original_price"]) != (
                current.price_fen,
                current.original_price_fen,
            )
            user = kwargs.get("user")
            if changes_price and not staff_can(
                user=user, shop_id=instance.product.shop_id, permission=StaffPermission.CHANGE_PRICES
            ):
                raise ValidationError(
                    {"price": _("Only the shop owner, or staff the owner allowed, may change prices.")}
                )
            try:
                sku_update(
                    sku=current,
                    price_fen=values["price"],
                    original_price_fen=values["original_price"],
                    stock=values["stock"],
                    code=values["code"],
                    is_active=values["is_active"],
                )
            except DomainError as error:
                raise ValidationError({error.field or "__all__": error.message}) from error
