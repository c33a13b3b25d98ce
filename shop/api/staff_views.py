"""/api/v1/merchant/shops/<shop_id>/staff/: who works for a shop and what each may do. Any member sees
the list; only the owner (or an operator) changes a staff member's permissions
(shop/services/staff_permissions.py). Another shop answers 404."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.models import ShopMembership
from shop.selectors.staff import shop_for_member, staff_list
from shop.services.staff_permissions import MEMBERSHIP_FIELDS, staff_permissions_set

TAG_STAFF = ["merchant staff"]


class StaffMemberOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="user.pk")
    phone = serializers.CharField(source="user.phone")
    display_name = serializers.CharField(source="user.display_name")
    role = serializers.ChoiceField(choices=ShopMembership.Role.choices)
    permissions = serializers.SerializerMethodField()

    def get_permissions(self, membership) -> dict[str, bool]:
        owner = membership.role == ShopMembership.Role.OWNER
        return {
            permission: owner or bool(getattr(membership, field))
            for permission, field in MEMBERSHIP_FIELDS.items()
        }


class StaffPermissionsInputSerializer(serializers.Serializer):
    ship = serializers.BooleanField(required=False)
    answer_after_sales = serializers.BooleanField(required=False)
    approve_refunds = serializers.BooleanField(required=False)
    change_prices = serializers.BooleanField(required=False)
    manage_commission = serializers.BooleanField(required=False)


def _shop(request, shop_id: int):
    shop = shop_for_member(user=request.user, shop_id=shop_id)
    if shop is None:
        raise Http404
    return shop


class StaffListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG_STAFF,
        responses={200: StaffMemberOutputSerializer(many=True)},
        summary="The shop's owner and staff, with what each may do",
    )
    def get(self, request, shop_id: int):
        members = staff_list(shop=_shop(request, shop_id))
        return Response(StaffMemberOutputSerializer(members, many=True).data)


class StaffPermissionsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG_STAFF,
        request=StaffPermissionsInputSerializer,
        responses={200: StaffMemberOutputSerializer},
        summary="The owner sets what a staff member may do (only the fields sent change)",
    )
    def patch(self, request, shop_id: int, user_id: int):
        shop = _shop(request, shop_id)
        data = StaffPermissionsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not staff_list(shop=shop).filter(user_id=user_id).exists():
            raise Http404
        membership = staff_permissions_set(
            shop=shop, member_id=user_id, actor=request.user, permissions=data.validated_data
        )
        membership = staff_list(shop=shop).get(pk=membership.pk)
        return Response(StaffMemberOutputSerializer(membership).data)
