"""Serializers of the order API: small input serializers per operation, output shapes shared.
Money is integer fen everywhere; the client never sends a price."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from shop.models import AfterSalesRequest, CartLine, Order, OrderEvent, Refund

# --- cart ---------------------------------------------------------------------------------------


class CartLineOutputSerializer(serializers.ModelSerializer):
    sku_id = serializers.IntegerField()
    product_id = serializers.IntegerField(source="sku.product_id")
    shop_id = serializers.IntegerField(source="sku.product.shop_id")
    title = serializers.CharField(source="sku.product.title")
    spec_label = serializers.CharField(source="sku.spec_label")
    unit_price_fen = serializers.IntegerField(source="sku.price_fen")
    line_total_fen = serializers.IntegerField()
    stock = serializers.IntegerField(source="sku.stock")
    on_sale = serializers.BooleanField()

    class Meta:
        model = CartLine
        fields = [
            "sku_id",
            "product_id",
            "shop_id",
            "title",
            "spec_label",
            "unit_price_fen",
            "quantity",
            "line_total_fen",
            "stock",
            "on_sale",
        ]


class CartShopSerializer(serializers.Serializer):
    shop_id = serializers.IntegerField(source="shop.pk")
    shop_name = serializers.CharField(source="shop.name")
    subtotal_fen = serializers.IntegerField()
    lines = CartLineOutputSerializer(many=True)


class CartOutputSerializer(serializers.Serializer):
    shops = CartShopSerializer(many=True)
    total_fen = serializers.IntegerField()


class CartAddInputSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=99, default=1)


class CartQuantityInputSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=0, max_value=99)


# --- checkout -----------------------------------------------------------------------------------


class CheckoutInputSerializer(serializers.Serializer):
    address_id = serializers.IntegerField(min_value=1)
    notes = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        required=False,
        default=dict,
        help_text="A note per shop: {shop_id: note}.",
    )
    checkout_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Idempotency key: the same key again returns the orders already placed.",
    )
    sku_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_null=True,
        default=None,
        help_text="Check out only these cart lines (default: the whole cart).",
    )

    def validate_notes(self, notes):
        try:
            return {int(shop_id): note for shop_id, note in notes.items()}
        except ValueError:
            raise serializers.ValidationError("Keys must be shop ids.") from None


class BuyNowInputSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=99, default=1)
    address_id = serializers.IntegerField(min_value=1)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    checkout_id = serializers.UUIDField(required=False, allow_null=True, default=None)


# --- orders -------------------------------------------------------------------------------------


class OrderLineOutputSerializer(serializers.Serializer):
    # Plain serializers (not ModelSerializer) for the hot checkout answer: no per-request field
    # introspection of the model.
    id = serializers.IntegerField()
    sku_id = serializers.IntegerField(allow_null=True)
    product_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    spec_label = serializers.CharField()
    image_url = serializers.CharField()
    # null on a gift's claimed copy: its recipient never reads what the giver paid.
    unit_price_fen = serializers.IntegerField(allow_null=True)
    quantity = serializers.IntegerField()
    total_fen = serializers.IntegerField(allow_null=True)
    refunded_quantity = serializers.IntegerField()
    refunded_fen = serializers.IntegerField(allow_null=True)


class OrderOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    shop_id = serializers.IntegerField()
    shop_name = serializers.CharField(source="shop.name")
    status = serializers.ChoiceField(choices=Order.Status.choices)
    kind = serializers.ChoiceField(choices=Order.Kind.choices)
    checkout_id = serializers.UUIDField(allow_null=True)
    # The amounts are null on a gift's claimed copy (kind gift_claim): its recipient never reads
    # what the giver paid.
    items_fen = serializers.IntegerField(allow_null=True)
    shipping_fen = serializers.IntegerField(allow_null=True)
    total_fen = serializers.IntegerField(allow_null=True)
    refunded_fen = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    created_at = serializers.DateTimeField()
    payment_deadline = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    lines = OrderLineOutputSerializer(many=True)

    def to_representation(self, order):
        data = super().to_representation(order)
        if getattr(order, "kind", None) == Order.Kind.GIFT_CLAIM:
            for name in ("items_fen", "shipping_fen", "total_fen", "refunded_fen"):
                data[name] = None
            for line in data["lines"]:
                line["unit_price_fen"] = line["total_fen"] = line["refunded_fen"] = None
        return data


_MOMENT = serializers.DateTimeField()  # DRF's own rendering of a moment (ISO 8601, local zone)


def _moment(value):
    return None if value is None else _MOMENT.to_representation(value)


def _text(value):
    return None if value is None else str(value)


class PlacedOrderOutputSerializer(OrderOutputSerializer):
    """OrderOutputSerializer's shape for checkout's answers, the hottest responses of the API: the
    same fields, written out, so that each answer skips DRF's per-instance copy of ~35 field objects.
    tests/shop/test_api_orders.py pins it to OrderOutputSerializer's output."""

    def to_representation(self, order):
        return {
            "number": _text(order.number),
            "shop_id": order.shop_id,
            "shop_name": _text(order.shop.name),
            "status": _text(order.status),
            "kind": _text(order.kind),
            "checkout_id": _text(order.checkout_id),
            "items_fen": int(order.items_fen),
            "shipping_fen": int(order.shipping_fen),
            "total_fen": int(order.total_fen),
            "refunded_fen": int(order.refunded_fen),
            "note": _text(order.note),
            "carrier": _text(order.carrier),
            "tracking_number": _text(order.tracking_number),
            "created_at": _moment(order.created_at),
            "payment_deadline": _moment(order.payment_deadline),
            "paid_at": _moment(order.paid_at),
            "shipped_at": _moment(order.shipped_at),
            "received_at": _moment(order.received_at),
            "completed_at": _moment(order.completed_at),
            "cancelled_at": _moment(order.cancelled_at),
            "cancel_reason": _text(order.cancel_reason),
            "lines": [
                {
                    "id": line.id,
                    "sku_id": line.sku_id,
                    "product_id": line.product_id,
                    "title": _text(line.title),
                    "spec_label": _text(line.spec_label),
                    "image_url": _text(line.image_url),
                    "unit_price_fen": int(line.unit_price_fen),
                    "quantity": int(line.quantity),
                    "total_fen": int(line.total_fen),
                    "refunded_quantity": int(line.refunded_quantity),
                    "refunded_fen": int(line.refunded_fen),
                }
                for line in order.lines.all()
            ],
        }


class OrderEventOutputSerializer(serializers.ModelSerializer):
    """`text`: the event as a sentence for people; `data`: what a program needs (amounts in fen)."""

    text = serializers.SerializerMethodField()

    class Meta:
        model = OrderEvent
        fields = ["kind", "text", "from_status", "to_status", "note", "data", "created_at"]

    def get_text(self, event) -> str:
        from shop.selectors.timeline import event_sentence

        return event_sentence(event, event.order)

    def to_representation(self, event):
        data = super().to_representation(event)
        if event.order.kind == Order.Kind.GIFT_CLAIM:
            data["data"] = {}  # amounts a gift's recipient must not read
        return data


class AfterSalesOutputSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")
    line_title = serializers.CharField(source="line.title")
    photos = serializers.SerializerMethodField()

    class Meta:
        model = AfterSalesRequest
        fields = [
            "id",
            "order_number",
            "line_id",
            "line_title",
            "kind",
            "quantity",
            "amount_fen",
            "reason",
            "status",
            "restock",
            "decision_note",
            "decided_at",
            "return_carrier",
            "return_tracking_number",
            "return_shipped_at",
            "return_received_at",
            "created_at",
            "photos",
        ]

    def get_photos(self, obj) -> list[str]:
        return [photo.get_absolute_url() for photo in obj.photos.all()]


class RefundLineOutputSerializer(serializers.Serializer):
    line_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    amount_fen = serializers.IntegerField()


class RefundOutputSerializer(serializers.ModelSerializer):
    lines = RefundLineOutputSerializer(many=True)

    class Meta:
        model = Refund
        fields = [
            "out_refund_no",
            "source",
            "amount_fen",
            "shipping_fen",
            "status",
            "reason",
            "lines",
            "created_at",
            "succeeded_at",
        ]


class RefundLineInputSerializer(serializers.Serializer):
    line_id = serializers.IntegerField(min_value=1, max_value=2**62)
    quantity = serializers.IntegerField(min_value=0, max_value=99999, default=0)
    amount_fen = serializers.IntegerField(
        min_value=0, max_value=10**13, required=False, allow_null=True, default=None
    )


class MerchantRefundInputSerializer(serializers.Serializer):
    """Name `lines` (units, and optionally an amount per line; omitted: the units' share) and/or a
    `shipping_fen`; or an order-level `amount_fen` split over the lines; or `full`."""

    reason = serializers.CharField(max_length=80)
    full = serializers.BooleanField(default=False)
    lines = RefundLineInputSerializer(many=True, required=False, max_length=200)
    shipping_fen = serializers.IntegerField(min_value=0, max_value=10**13, default=0)
    amount_fen = serializers.IntegerField(min_value=1, max_value=10**13, required=False, allow_null=True)
    restock = serializers.BooleanField(default=False)

    def validate(self, attrs):
        named = sum(bool(x) for x in (attrs.get("full"), attrs.get("lines"), attrs.get("amount_fen")))
        if named != 1 and not (attrs.get("shipping_fen") and named == 0):
            raise serializers.ValidationError(
                {"lines": [_("Give exactly one of: full, lines (with shipping_fen), or amount_fen.")]}
            )
        return attrs


class OrderDetailOutputSerializer(OrderOutputSerializer):
    recipient_name = serializers.CharField()
    recipient_phone = serializers.CharField()
    address = serializers.CharField(source="address_one_line")
    events = OrderEventOutputSerializer(many=True)
    after_sales = AfterSalesOutputSerializer(many=True)
    refunds = RefundOutputSerializer(many=True)


class MerchantOrderOutputSerializer(OrderOutputSerializer):
    buyer_id = serializers.IntegerField()
    recipient_name = serializers.CharField()
    recipient_phone = serializers.CharField()
    address = serializers.CharField(source="address_one_line")


class PaymentStartOutputSerializer(serializers.Serializer):
    pay_url = serializers.URLField()
    prepay_id = serializers.CharField()


class ShipInputSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40)
    tracking_number = serializers.CharField(max_length=64)


class BulkShipItemSerializer(ShipInputSerializer):
    number = serializers.CharField(max_length=32)


class BulkShipInputSerializer(serializers.Serializer):
    items = BulkShipItemSerializer(many=True, allow_empty=False, max_length=200)


class BulkShipResultSerializer(serializers.Serializer):
    number = serializers.CharField()
    shipped = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)


# --- after-sales --------------------------------------------------------------------------------


class AfterSalesCreateInputSerializer(serializers.Serializer):
    order_number = serializers.CharField(max_length=32)
    line_id = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=AfterSalesRequest.Kind.choices)
    quantity = serializers.IntegerField(min_value=1, max_value=99)
    reason = serializers.CharField(max_length=300)
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list, max_length=3)


class AfterSalesApproveInputSerializer(serializers.Serializer):
    restock = serializers.BooleanField(default=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReturnShipmentInputSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40)
    tracking_number = serializers.CharField(max_length=64)


class ReturnReceivedInputSerializer(serializers.Serializer):
    restock = serializers.BooleanField(default=False)


class AfterSalesRejectInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
