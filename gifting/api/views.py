"""/api/v1/gifts/...: give, see what I sent (share card, claims, timeline, draw), open a gift by its
token, join a draw, claim, thank, see what I received. One view per operation, each calling a
service; shapes built by the functions below from gifting.selectors, which decide what each side
may see (the giver: no address or phone; the recipient: no price)."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gifting import selectors, services
from gifting.api import serializers as s
from gifting.models import Gift, GiftClaim
from shop import hooks

TAG = ["gifts"]


def summary(gift: Gift) -> dict:
    return {
        "token": gift.token,
        "share_url": selectors.share_url(gift),
        "order_number": gift.order.number,
        "order_status": gift.order.status,
        "product_id": gift.product_id,
        "product_title": gift.product.title,
        "spec_label": gift.sku.spec_label,
        "mode": gift.mode,
        "channel": gift.channel,
        "friends_only": gift.friends_only,
        "copies": gift.copies,
        "claimed_count": gift.claimed_count,
        "status": gift.status,
        "message": gift.message,
        "total_fen": gift.order.total_fen,
        "claim_deadline": gift.claim_deadline,
        "created_at": gift.created_at,
    }


def giver_detail(gift: Gift) -> dict:
    claims = list(gift.claims.all())
    return {
        **summary(gift),
        "qr_url": f"{selectors.share_url(gift)}qr.png",
        "refunded_fen": selectors.gift_refunded_fen(gift),
        "refunded_copies": gift.refunded_copies,
        "claims": [vars(selectors.giver_claim_view(claim)) for claim in claims],
        "timeline": [{"at": at, "text": text} for at, text in selectors.gift_timeline(gift, claims)],
        "draw": selectors.draw_record(gift) if gift.mode == Gift.Mode.DRAW else None,
    }


def recipient_view(gift: Gift) -> dict:
    return {
        "token": gift.token,
        "giver_nickname": gift.giver.display_name,
        "product_id": gift.product_id,
        "product_title": gift.product.title,
        "sku_id": gift.sku_id,
        "spec_label": gift.sku.spec_label,
        "message": gift.message,
        "mode": gift.mode,
        "status": gift.status,
        "copies": gift.copies,
        "copies_left": gift.copies_left,
        "claim_deadline": gift.claim_deadline,
        "draw_at": gift.draw_at,
        "drawn_at": gift.drawn_at,
        "friends_only": gift.friends_only,
        "skus": [
            {"id": sku.pk, "spec_label": sku.spec_label, "in_stock": sku.stock > 0 or sku.pk == gift.sku_id}
            for sku in selectors.gift_skus_for_recipient(gift)
        ],
    }


def received(claim: GiftClaim) -> dict:
    return {
        "id": claim.pk,
        "token": claim.gift.token,
        "giver_nickname": claim.gift.giver.display_name,
        "product_title": claim.gift.product.title,
        "spec_label": claim.sku.spec_label,
        "message": claim.gift.message,
        "order_number": claim.order.number,
        "shipping": selectors.shipping_stage(claim.order),
        "claimed_at": claim.created_at,
        "thanks": claim.thanks,
    }


class GiftsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAG, responses={200: s.GiftSummarySerializer(many=True)}, summary="Gifts I sent")
    def get(self, request):
        return Response([summary(gift) for gift in selectors.gifts_sent(request.user)])

    @extend_schema(
        tags=TAG,
        request=s.GiftCreateInputSerializer,
        responses={201: s.GiftGiverDetailSerializer},
        summary="Send a gift: places the gift order (no address); pay it with POST /orders/{number}/pay/",
    )
    def post(self, request):
        data = s.GiftCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gift = services.gift_create(
            giver=request.user, checkout_context=hooks.checkout_context(request), **data.validated_data
        )
        gift = selectors.gift_of_giver(user=request.user, token=gift.token)
        return Response(giver_detail(gift), status=status.HTTP_201_CREATED)


class SentGiftApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        responses={200: s.GiftGiverDetailSerializer},
        summary="One gift I sent: share card, who accepted, shipping stage, thanks, timeline, draw record",
    )
    def get(self, request, token):
        if selectors.gift_of_giver(user=request.user, token=token) is None:
            raise Http404
        services.gift_by_token(token)  # brings a just-paid gift up to date
        return Response(giver_detail(selectors.gift_of_giver(user=request.user, token=token)))


class ReceivedApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG, responses={200: s.ReceivedClaimSerializer(many=True)}, summary="Gifts I received"
    )
    def get(self, request):
        return Response([received(claim) for claim in selectors.claims_received(request.user)])


class GiftByTokenApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=TAG,
        responses={200: s.GiftRecipientSerializer},
        summary="Open a gift by its share token (no price)",
    )
    def get(self, request, token):
        gift = services.gift_by_token(token, with_copies_left=True)
        if request.user.is_authenticated:
            services.gift_mark_opened(gift=gift, user=request.user)
        return Response(recipient_view(gift))


class ClaimApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        request=s.ClaimInputSerializer,
        responses={201: s.ReceivedClaimSerializer},
        summary=(
            "Accept one copy: one of my addresses (address_id) or a new one (address); "
            "optionally another spec at the same price"
        ),
    )
    def post(self, request, token):
        data = s.ClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = services.gift_claim(token=token, recipient=request.user, **data.validated_data)
        return Response(received(claim), status=status.HTTP_201_CREATED)


class DrawEntryApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG, request=None, responses={201: s.DrawEntryOutputSerializer}, summary="Join a lucky draw"
    )
    def post(self, request, token):
        entry = services.gift_enter_draw(token=token, user=request.user)
        return Response(
            {"token": token, "joined_at": entry.created_at, "won": entry.won}, status=status.HTTP_201_CREATED
        )


class ThanksApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        request=s.ThanksInputSerializer,
        responses={200: s.ReceivedClaimSerializer},
        summary="Thank the giver",
    )
    def post(self, request, claim_id):
        data = s.ThanksInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.gift_thank(claim_id=claim_id, recipient=request.user, note=data.validated_data["note"])
        claim = GiftClaim.objects.select_related("gift__product", "gift__giver", "sku", "order").get(
            pk=claim_id
        )
        return Response(received(claim))
