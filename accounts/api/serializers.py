"""Small input and output serializers, one pair per operation where they differ."""

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import Throttled

from accounts.models import Address, FriendRequest, Notification, User
from accounts.signin import lockout_message
from accounts.validators import normalize_phone, validate_cn_mobile


class PhoneField(serializers.CharField):
    """A mainland mobile number; spaces, dashes and a +86 prefix are removed."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = normalize_phone(super().to_internal_value(data))
        try:
            validate_cn_mobile(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


# --- Auth and profile ---------------------------------------------------------------------------


class RegisterInputSerializer(serializers.Serializer):
    phone = PhoneField()
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    nickname = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class TokenInputSerializer(serializers.Serializer):
    phone = PhoneField()
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)

    def validate(self, attrs):
        # The Django request, not DRF's wrapper: the sign-in guard (accounts/signin.py) marks a lockout on it.
        request = self.context["request"]._request
        user = authenticate(request, phone=attrs["phone"], password=attrs["password"])
        if user is None and getattr(request, "axes_locked_out", False):
            raise Throttled(detail=lockout_message(), code="locked_out")  # Retry-After: the middleware
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Phone number or password is wrong.")]}, code="authorization"
            )
        attrs["user"] = user
        return attrs


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeOutputSerializer(serializers.ModelSerializer):
    avatar = serializers.ImageField(read_only=True, allow_null=True)
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "phone", "nickname", "display_name", "email", "avatar", "is_staff", "date_joined"]
        read_only_fields = fields


class RegisterOutputSerializer(serializers.Serializer):
    user = MeOutputSerializer()
    token = serializers.CharField()


class MeUpdateInputSerializer(serializers.Serializer):
    nickname = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    avatar = serializers.ImageField(required=False)


class UserBriefSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "nickname", "display_name"]
        read_only_fields = fields


# --- Addresses ----------------------------------------------------------------------------------


class AddressOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "recipient_name",
            "phone",
            "province",
            "city",
            "district",
            "detail",
            "is_default",
            "created_at",
        ]
        read_only_fields = fields


class AddressInputSerializer(serializers.Serializer):
    recipient_name = serializers.CharField(max_length=40)
    phone = PhoneField()
    province = serializers.CharField(max_length=40)
    city = serializers.CharField(max_length=40)
    district = serializers.CharField(max_length=40)
    detail = serializers.CharField(max_length=200)
    is_default = serializers.BooleanField(required=False, default=False)


# --- Friends ------------------------------------------------------------------------------------


class FriendRequestInputSerializer(serializers.Serializer):
    phone = PhoneField()


class FriendRequestOutputSerializer(serializers.ModelSerializer):
    from_user = UserBriefSerializer(read_only=True)
    to_user = UserBriefSerializer(read_only=True)

    class Meta:
        model = FriendRequest
        fields = ["id", "from_user", "to_user", "status", "created_at", "answered_at"]
        read_only_fields = fields


class FriendRequestListOutputSerializer(serializers.Serializer):
    incoming = FriendRequestOutputSerializer(many=True)
    outgoing = FriendRequestOutputSerializer(many=True)


# --- Notifications ------------------------------------------------------------------------------


class NotificationOutputSerializer(serializers.ModelSerializer):
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read_at", "is_read"]
        read_only_fields = fields


class UnreadCountOutputSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkAllReadOutputSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
