from rest_framework import serializers

from affiliates.models import Agency, Click, CommissionEntry, CommissionPlan, Promoter, Scene, TrackedLink


class PromoterOutputSerializer(serializers.ModelSerializer):
    id_number = serializers.CharField(source="masked_id_number")

    class Meta:
        model = Promoter
        fields = [
            "id",
            "role",
            "status",
            "display_name",
            "bio",
            "real_name",
            "id_number",
            "showcase_code",
            "invitation_code",
            "default_share_bp",
            "agency",
            "bound_creator",
            "bound_agency",
            "review_note",
        ]


class ApplyInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Promoter.Role.choices)
    display_name = serializers.CharField(max_length=40)
    real_name = serializers.CharField(max_length=40)
    id_number = serializers.CharField(min_length=18, max_length=18)
    bio = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class JoinInputSerializer(serializers.Serializer):
    invitation_code = serializers.CharField(max_length=16)


class ShareInputSerializer(serializers.Serializer):
    share_bp = serializers.IntegerField(min_value=1000, max_value=10000)
    product_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class PoolQuerySerializer(serializers.Serializer):
    category = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    rate_min_bp = serializers.IntegerField(required=False, min_value=0, max_value=9000)
    price_min_fen = serializers.IntegerField(required=False, min_value=0, max_value=10**12)
    price_max_fen = serializers.IntegerField(required=False, min_value=0, max_value=10**12)
    ordering = serializers.ChoiceField(choices=["sales", "rate", "price", "-price", "newest"], required=False)


class PoolProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    shop = serializers.CharField(source="shop.name")
    category = serializers.IntegerField(source="category_id", allow_null=True)
    min_price_fen = serializers.IntegerField(source="min_price", allow_null=True)
    rate_bp = serializers.IntegerField(source="pool_rate_bp")
    sales_count = serializers.IntegerField()


class ShowcaseItemSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    title = serializers.CharField(source="product.title")
    min_price_fen = serializers.IntegerField(source="min_price", allow_null=True)
    position = serializers.IntegerField()


class ShowcaseAddSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class LinkInputSerializer(serializers.Serializer):
    scene = serializers.ChoiceField(choices=Scene.choices)
    product_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Creator: a showcase product (none: the whole showcase). 推客: a product whose "
        "exclusive plan names you (instead of parent_code).",
    )
    parent_code = serializers.CharField(
        required=False, max_length=16, help_text="推客: the creator's link code"
    )


class LinkOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    qr_url = serializers.SerializerMethodField()
    clicks = serializers.SerializerMethodField()
    visits = serializers.SerializerMethodField()

    class Meta:
        model = TrackedLink
        fields = [
            "id",
            "code",
            "target",
            "product",
            "scene",
            "parent",
            "is_active",
            "created_at",
            "url",
            "qr_url",
            "clicks",
            "visits",
        ]

    def get_url(self, link) -> str:
        from django.conf import settings

        return f"{settings.SITE_URL}/t/{link.code}"

    def get_qr_url(self, link) -> str:
        from django.urls import reverse

        return reverse("affiliates:link-qr", args=[link.code])

    def get_clicks(self, link) -> int:
        return self.context.get("stats", {}).get(link.pk, {}).get("clicks", 0)

    def get_visits(self, link) -> int:
        return self.context.get("stats", {}).get(link.pk, {}).get("visits", 0)


class LinkPatchSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()


class ClickOutputSerializer(serializers.ModelSerializer):
    link = serializers.CharField(source="link.code")

    class Meta:
        model = Click
        fields = ["click_id", "link", "clicked_at"]


class LedgerEntrySerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")

    class Meta:
        model = CommissionEntry
        fields = [
            "id",
            "kind",
            "role",
            "status",
            "order_number",
            "product",
            "scene",
            "rate_bp",
            "base_fen",
            "commission_fen",
            "agency_fee_bp",
            "share_bp",
            "amount_fen",
            "created_at",
            "settled_at",
        ]


class AgencyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "name", "service_fee_bp", "default_share_bp", "invitation_code", "is_active"]


class BalanceSerializer(serializers.Serializer):
    settled_fen = serializers.IntegerField()
    pending_fen = serializers.IntegerField()


class PlanInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CommissionPlan.Kind.choices)
    rate_bp = serializers.IntegerField(min_value=0, max_value=9000)
    exclusive_promoter = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    is_active = serializers.BooleanField(default=True)
    targeted = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=9000),
        required=False,
        help_text="{promoter id: rate_bp}",
    )


class PlanOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    rate_bp = serializers.IntegerField()
    exclusive_promoter = serializers.IntegerField(source="exclusive_promoter_id", allow_null=True)
    is_active = serializers.BooleanField()
    targeted = serializers.SerializerMethodField()

    def get_targeted(self, plan) -> dict[str, int]:
        return {str(t.promoter_id): t.rate_bp for t in plan.targeted_rates.all()}


class ReviewInputSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class UnfreezeInputSerializer(serializers.Serializer):
    restore_commission = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Put back to pending what the freeze cancelled on orders not cancelled or closed.",
    )


class SalesRowSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True)
    orders = serializers.IntegerField()
    sales_fen = serializers.IntegerField()
    commission_fen = serializers.IntegerField()
