"""/api/v1/promoter/... (a promoter's own data only), merchant plans and sales, operator reviews."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from affiliates import selectors, services
from affiliates.api import serializers as s
from affiliates.models import Click, Promoter
from config.exceptions import DomainError
from config.schema import ApiErrorSerializer
from shop.admin.scoping import is_merchant_staff, managed_shops
from shop.models import Category, Product

TAG = ["affiliates"]


class _Promoter(APIView):
    permission_classes = [IsAuthenticated]
    role: str | None = None

    def promoter(self) -> Promoter:
        promoter = selectors.promoter_of(self.request.user)
        if (
            promoter is None
            or promoter.status != Promoter.Status.APPROVED
            or (self.role and promoter.role != self.role)
        ):
            raise PermissionDenied("Approved promoters only.")
        return promoter


class _PromoterList(_Promoter, ListAPIView):
    """A paginated list of the signed-in promoter's own rows."""


class MeApi(_Promoter):
    @extend_schema(
        tags=TAG,
        responses={
            200: s.PromoterOutputSerializer,
            404: OpenApiResponse(ApiErrorSerializer, description="Not a promoter (never applied)"),
        },
        summary="My promoter profile",
    )
    def get(self, request):
        promoter = selectors.promoter_of(request.user)
        if promoter is None:
            raise Http404
        return Response(s.PromoterOutputSerializer(promoter).data)

    @extend_schema(
        tags=TAG,
        request=s.ApplyInputSerializer,
        responses={201: s.PromoterOutputSerializer},
        summary="Apply to be a creator or 推客",
    )
    def post(self, request):
        data = s.ApplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promoter = services.promoter_apply(user=request.user, **data.validated_data)
        return Response(s.PromoterOutputSerializer(promoter).data, status=status.HTTP_201_CREATED)


class JoinApi(_Promoter):
    role = Promoter.Role.SHARER

    @extend_schema(
        tags=TAG,
        request=s.JoinInputSerializer,
        responses={200: s.PromoterOutputSerializer},
        summary="推客: join a creator or agency by invitation code",
    )
    def post(self, request):
        data = s.JoinInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promoter = services.sharer_bind(promoter=self.promoter(), **data.validated_data)
        return Response(s.PromoterOutputSerializer(promoter).data)

    @extend_schema(
        tags=TAG,
        request=None,
        responses={200: s.PromoterOutputSerializer},
        summary="推客: leave the creator or agency joined (child links of its links are disabled)",
    )
    def delete(self, request):
        promoter = services.sharer_unbind(sharer_id=self.promoter().pk, actor=request.user)
        return Response(s.PromoterOutputSerializer(promoter).data)


class SharerRemoveApi(_Promoter):
    role = Promoter.Role.CREATOR

    @extend_schema(
        tags=TAG,
        request=None,
        responses={
            204: None,
            404: OpenApiResponse(ApiErrorSerializer, description="Not a 推客 of yours"),
        },
        summary="Creator: remove a 推客 from my team",
    )
    def delete(self, request, pk: int):
        self.promoter()
        try:
            services.sharer_unbind(sharer_id=pk, actor=request.user)
        except DomainError:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareApi(_Promoter):
    role = Promoter.Role.CREATOR

    @extend_schema(
        tags=TAG,
        request=s.ShareInputSerializer,
        responses={204: None},
        summary="Creator: set the 推客 share, for all products or one",
    )
    def post(self, request):
        data = s.ShareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = None
        if data.validated_data.get("product_id"):
            product = get_object_or_404(Product, pk=data.validated_data["product_id"])
        services.share_set(owner=self.promoter(), share_bp=data.validated_data["share_bp"], product=product)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PoolApi(_PromoterList):
    role = Promoter.Role.CREATOR
    serializer_class = s.PoolProductSerializer
    filter_backends = []

    def get_queryset(self):
        query = s.PoolQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        category = None
        if data.pop("category", None):
            category = Category.objects.filter(pk=query.validated_data["category"]).first()
            if category is None:
                raise drf_serializers.ValidationError({"category": ["Unknown category."]})
        return selectors.pool_products(promoter=self.promoter(), category=category, **data)

    @extend_schema(tags=TAG, parameters=[s.PoolQuerySerializer], summary="The product pool (选品中心)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ShowcaseApi(_PromoterList):
    role = Promoter.Role.CREATOR
    serializer_class = s.ShowcaseItemSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.showcase_products(creator=self.promoter())

    @extend_schema(tags=TAG, summary="My showcase")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAG,
        request=s.ShowcaseAddSerializer,
        responses={201: None},
        summary="Add a pool product to my showcase",
    )
    def post(self, request):
        data = s.ShowcaseAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.showcase_add(promoter=self.promoter(), product_id=data.validated_data["product_id"])
        return Response(status=status.HTTP_201_CREATED)


class ShowcaseItemApi(_Promoter):
    role = Promoter.Role.CREATOR

    @extend_schema(tags=TAG, responses={204: None}, summary="Remove a product from my showcase")
    def delete(self, request, product_id: int):
        services.showcase_remove(promoter=self.promoter(), product_id=product_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinksApi(_PromoterList):
    serializer_class = s.LinkOutputSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.promoter_links(promoter=self.promoter())

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self.stats = selectors.link_stats([link.pk for link in page or []])
        return page

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "stats": getattr(self, "stats", {})}

    @extend_schema(tags=TAG, summary="My tracked links with click counts")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAG,
        request=s.LinkInputSerializer,
        responses={201: s.LinkOutputSerializer},
        summary="Make a link (creator: product or showcase; 推客: child of a creator's link, or own link "
        "for a product whose exclusive plan names them)",
    )
    def post(self, request):
        data = s.LinkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promoter, values = self.promoter(), data.validated_data
        if promoter.is_creator:
            link = services.link_create(
                promoter=promoter, scene=values["scene"], product_id=values.get("product_id")
            )
        elif values.get("product_id") and not values.get("parent_code"):
            link = services.sharer_link_create(
                promoter=promoter, scene=values["scene"], product_id=values["product_id"]
            )
        else:
            link = services.child_link_create(
                promoter=promoter, parent_code=values.get("parent_code", ""), scene=values["scene"]
            )
        return Response(s.LinkOutputSerializer(link).data, status=status.HTTP_201_CREATED)


class LinkApi(_Promoter):
    @extend_schema(
        tags=TAG,
        request=s.LinkPatchSerializer,
        responses={200: s.LinkOutputSerializer},
        summary="Disable or enable my link",
    )
    def patch(self, request, pk: int):
        data = s.LinkPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.link_set_active(
            promoter=self.promoter(), link_id=pk, active=data.validated_data["is_active"]
        )
        return Response(s.LinkOutputSerializer(link, context={"stats": selectors.link_stats([link.pk])}).data)


class ClicksApi(_PromoterList):
    serializer_class = s.ClickOutputSerializer
    filter_backends = []

    def get_queryset(self):
        promoter = self.promoter()
        return (
            Click.objects.filter(link__promoter=promoter)
            .select_related("link")
            .order_by("-clicked_at", "-id")
        )

    @extend_schema(tags=TAG, summary="Clicks on my links")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LedgerApi(_PromoterList):
    serializer_class = s.LedgerEntrySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.promoter_ledger(promoter=self.promoter())

    @extend_schema(tags=TAG, summary="My commission ledger")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BalanceApi(_Promoter):
    @extend_schema(
        tags=TAG, responses={200: s.BalanceSerializer}, summary="My balance, derived from the ledger"
    )
    def get(self, request):
        return Response(selectors.balance_of(promoter=self.promoter()))


# --- agencies (their owners) -----------------------------------------------------------------------
class _AgencyOwner(APIView):
    permission_classes = [IsAuthenticated]

    def agency(self):
        agency = selectors.agency_of(self.request.user)
        if agency is None:
            raise PermissionDenied("Agency owners only.")
        return agency


class AgencyApi(_AgencyOwner):
    @extend_schema(tags=TAG, responses={200: s.AgencyOutputSerializer}, summary="My agency")
    def get(self, request):
        return Response(s.AgencyOutputSerializer(self.agency()).data)


class AgencyLedgerApi(_AgencyOwner, ListAPIView):
    serializer_class = s.LedgerEntrySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.agency_ledger(agency=self.agency())

    @extend_schema(tags=TAG, summary="My agency's ledger (its service fees)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AgencyBalanceApi(_AgencyOwner):
    @extend_schema(tags=TAG, responses={200: s.BalanceSerializer}, summary="My agency's balance")
    def get(self, request):
        return Response(selectors.balance_of(agency=self.agency()))


class AgencySharerRemoveApi(_AgencyOwner):
    @extend_schema(
        tags=TAG,
        request=None,
        responses={
            204: None,
            404: OpenApiResponse(ApiErrorSerializer, description="Not a 推客 of this agency"),
        },
        summary="Agency: remove a 推客 who joined it",
    )
    def delete(self, request, pk: int):
        agency = self.agency()
        if not Promoter.objects.filter(pk=pk, bound_agency=agency).exists():
            raise Http404
        services.sharer_unbind(sharer_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- merchants ------------------------------------------------------------------------------------
class _Merchant(APIView):
    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_merchant_staff(request.user):
            raise PermissionDenied("Merchant staff only.")


class PlanApi(_Merchant):
    def product(self, pk):
        return get_object_or_404(Product.objects.filter(shop__in=managed_shops(self.request.user)), pk=pk)

    @extend_schema(tags=TAG, responses={200: s.PlanOutputSerializer}, summary="A product's commission plan")
    def get(self, request, pk: int):
        product = self.product(pk)
        plan = getattr(product, "commission_plan", None)
        if plan is None:
            raise Http404
        return Response(s.PlanOutputSerializer(plan).data)

    @extend_schema(
        tags=TAG,
        request=s.PlanInputSerializer,
        responses={200: s.PlanOutputSerializer},
        summary="Set a product's commission plan (public with targeted rates, or exclusive)",
    )
    def put(self, request, pk: int):
        product = self.product(pk)
        data = s.PlanInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        exclusive = None
        if values.get("exclusive_promoter"):
            exclusive = Promoter.objects.approved().filter(pk=values["exclusive_promoter"]).first()
            if exclusive is None:
                return Response({"exclusive_promoter": ["Unknown promoter."]}, status=400)
        targeted = None
        if "targeted" in values:
            found = {
                p.pk: p
                for p in Promoter.objects.approved().filter(
                    pk__in=[int(k) for k in values["targeted"] if str(k).isdigit()]
                )
            }
            if len(found) != len(values["targeted"]):
                return Response({"targeted": ["Unknown promoter."]}, status=400)
            targeted = {found[int(k)]: rate for k, rate in values["targeted"].items()}
        plan = services.plan_set(
            actor=request.user,
            product=product,
            kind=values["kind"],
            rate_bp=values["rate_bp"],
            exclusive_promoter=exclusive,
            is_active=values["is_active"],
            targeted=targeted,
        )
        return Response(s.PlanOutputSerializer(plan).data)


class SalesApi(_Merchant):
    @extend_schema(
        tags=TAG,
        responses={200: s.SalesRowSerializer(many=True)},
        summary="Affiliate sales of my shops by promoter, product or scene",
    )
    def get(self, request):
        group_by = request.query_params.get("group_by", "promoter")
        if group_by not in ("promoter", "product", "scene"):
            return Response({"group_by": ["Choose promoter, product or scene."]}, status=400)
        shops = None if request.user.is_superuser else managed_shops(request.user)
        key = {"promoter": "promoter__display_name", "product": "product__title", "scene": "scene"}[group_by]
        rows = [
            {"key": row[key], **{k: row[k] for k in ("orders", "sales_fen", "commission_fen")}}
            for row in selectors.affiliate_sales(shops=shops, group_by=group_by)
        ]
        return Response(s.SalesRowSerializer(rows, many=True).data)


# --- operators ------------------------------------------------------------------------------------
class _Operator(APIView):
    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.is_superuser:
            raise PermissionDenied("Operators only.")


class ReviewApi(_Operator):
    @extend_schema(
        tags=TAG,
        request=s.ReviewInputSerializer,
        responses={200: s.PromoterOutputSerializer},
        summary="Approve or reject an application",
    )
    def post(self, request, pk: int):
        get_object_or_404(Promoter, pk=pk)
        data = s.ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promoter = services.promoter_review(promoter_id=pk, operator=request.user, **data.validated_data)
        return Response(s.PromoterOutputSerializer(promoter).data)


class FreezeApi(_Operator):
    @extend_schema(
        tags=TAG,
        request=None,
        responses={200: s.PromoterOutputSerializer},
        summary="Freeze a promoter (pending commission on unfinished orders is cancelled)",
    )
    def post(self, request, pk: int):
        get_object_or_404(Promoter, pk=pk)
        promoter = services.promoter_freeze(promoter_id=pk, operator=request.user)
        return Response(s.PromoterOutputSerializer(promoter).data)


class UnfreezeApi(_Operator):
    @extend_schema(
        tags=TAG,
        request=s.UnfreezeInputSerializer,
        responses={200: s.PromoterOutputSerializer},
        summary="Unfreeze a promoter (by default restoring what the freeze cancelled on live orders)",
    )
    def post(self, request, pk: int):
        get_object_or_404(Promoter, pk=pk)
        data = s.UnfreezeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promoter = services.promoter_unfreeze(promoter_id=pk, operator=request.user, **data.validated_data)
        return Response(s.PromoterOutputSerializer(promoter).data)


class ShowcasePublicApi(APIView):
    permission_classes = []

    @extend_schema(
        tags=TAG,
        responses={
            200: inline_serializer(
                "PublicShowcase",
                {"display_name": drf_serializers.CharField(), "items": s.ShowcaseItemSerializer(many=True)},
            )
        },
        summary="A creator's public showcase",
    )
    def get(self, request, code: str):
        creator = get_object_or_404(
            Promoter, showcase_code=code, role=Promoter.Role.CREATOR, status=Promoter.Status.APPROVED
        )
        items = selectors.showcase_products(creator=creator)
        return Response(
            {"display_name": creator.display_name, "items": s.ShowcaseItemSerializer(items, many=True).data}
        )
