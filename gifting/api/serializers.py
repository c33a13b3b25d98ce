"""Gift API shapes. The giver's shapes carry no recipient address, phone or tracking number; the
recipient's carry no price. Amounts are integer fen."""

from rest_framework import serializers

from gifting.models import MESSAGE_MAX_LENGTH, THANKS_MAX_LENGTH, Gift
from gifting.services import DRAW_HOURS_CHOICES


class GiftAddressInputSerializer(serializers.Serializer):
    recipient_name = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=20)
    province = serializers.CharField(max_length=40)
    city = serializers.CharField(max_length=40)
    district = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    detail = serializers.CharField(max_length=200)


class GiftCreateInputSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField()
    copies = serializers.IntegerField(min_value=1, default=1)
    mode = serializers.ChoiceField(choices=Gift.Mode.choices, default=Gift.Mode.FRIEND)
    message = serializers.CharField(
        max_length=MESSAGE_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    channel = serializers.ChoiceField(choices=Gift.Channel.choices, default=Gift.Channel.FRIEND_CHAT)
    friends_only = serializers.BooleanField(default=False)
    draw_hours = serializers.ChoiceField(choices=DRAW_HOURS_CHOICES, required=False, allow_null=True)
    checkout_id = serializers.UUIDField(required=False, allow_null=True)


class ClaimInputSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(required=False, allow_null=True)
    address_id = serializers.IntegerField(required=False, allow_null=True)
    address = GiftAddressInputSerializer(required=False, allow_null=True)


class ThanksInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=THANKS_MAX_LENGTH)


class GiverClaimSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipient_nickname = serializers.CharField()
    spec_label = serializers.CharField()
    claimed_at = serializers.DateTimeField()
    shipping = serializers.ChoiceField(choices=["awaiting_shipment", "shipped", "delivered", "refunded"])
    shipping_label = serializers.CharField()
    thanks = serializers.CharField()
    thanked_at = serializers.DateTimeField(allow_null=True)


class DrawEntrySerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    nickname = serializers.CharField()
    key = serializers.CharField()
    won = serializers.BooleanField(allow_null=True)


class DrawRecordSerializer(serializers.Serializer):
    draw_at = serializers.DateTimeField(allow_null=True)
    drawn_at = serializers.DateTimeField(allow_null=True)
    seed_sha256 = serializers.CharField()
    seed = serializers.CharField(
        help_text="Revealed once drawn: key = SHA-256('seed:token:user_id'), smallest keys win."
    )
    entries = DrawEntrySerializer(many=True)


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    text = serializers.CharField()


class GiftSummarySerializer(serializers.Serializer):
    """A gift as its giver sees it in lists."""

    token = serializers.CharField()
    share_url = serializers.CharField()
    order_number = serializers.CharField()
    order_status = serializers.CharField()
    product_id = serializers.IntegerField()
    product_title = serializers.CharField()
    spec_label = serializers.CharField()
    mode = serializers.CharField()
    channel = serializers.CharField()
    friends_only = serializers.BooleanField()
    copies = serializers.IntegerField()
    claimed_count = serializers.IntegerField()
    status = serializers.CharField()
    message = serializers.CharField()
    total_fen = serializers.IntegerField()
    claim_deadline = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class GiftGiverDetailSerializer(GiftSummarySerializer):
    qr_url = serializers.CharField()
    refunded_fen = serializers.IntegerField()
    refunded_copies = serializers.IntegerField()
    claims = GiverClaimSerializer(many=True)
    timeline = TimelineEntrySerializer(many=True)
    draw = DrawRecordSerializer(allow_null=True)


class RecipientSkuSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    spec_label = serializers.CharField()
    in_stock = serializers.BooleanField()


class GiftRecipientSerializer(serializers.Serializer):
    """A gift as anyone with the link sees it: never a price."""

    token = serializers.CharField()
    giver_nickname = serializers.CharField()
    product_id = serializers.IntegerField()
    product_title = serializers.CharField()
    sku_id = serializers.IntegerField()
    spec_label = serializers.CharField()
    message = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()
    copies = serializers.IntegerField()
    copies_left = serializers.IntegerField()
    claim_deadline = serializers.DateTimeField(allow_null=True)
    draw_at = serializers.DateTimeField(allow_null=True)
    drawn_at = serializers.DateTimeField(allow_null=True)
    friends_only = serializers.BooleanField()
    skus = RecipientSkuSerializer(many=True)


class ReceivedClaimSerializer(serializers.Serializer):
    """A claim as its recipient sees it: their own sub-order, no price."""

    id = serializers.IntegerField()
    token = serializers.CharField()
    giver_nickname = serializers.CharField()
    product_title = serializers.CharField()
    spec_label = serializers.CharField()
    message = serializers.CharField()
    order_number = serializers.CharField()
    shipping = serializers.CharField()
    claimed_at = serializers.DateTimeField()
    thanks = serializers.CharField()


class DrawEntryOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    joined_at = serializers.DateTimeField()
    won = serializers.BooleanField(allow_null=True)
