"""/api/v1/promoter/withdrawals/ (a promoter's own), /api/v1/promoter/wallet/, the same for an
agency's service fees (/api/v1/agency/withdrawals/, /api/v1/agency/wallet/, its owner only), and the
operators' review endpoint /api/v1/operator/withdrawals/review/."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from affiliates import selectors as affiliate_selectors
from affiliates.models import Promoter
from payouts import selectors, services
from payouts.api import serializers as s
from payouts.models import Withdrawal

TAG = ["withdrawals"]


class _Promoter(APIView):
    permission_classes = [IsAuthenticated]

    def promoter(self) -> Promoter:
        promoter = affiliate_selectors.promoter_of(self.request.user)
        if promoter is None or promoter.status != Promoter.Status.APPROVED:
            raise PermissionDenied("Approved promoters only.")
        return promoter


class WithdrawalsApi(_Promoter, ListAPIView):
    serializer_class = s.WithdrawalSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.withdrawals_of(promoter=self.promoter())

    @extend_schema(tags=TAG, summary="My withdrawals, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAG,
        request=s.WithdrawalInputSerializer,
        responses={201: s.WithdrawalSerializer},
        summary="Withdraw from my settled balance (once a day, at least WITHDRAWAL_MIN_FEN)",
    )
    def post(self, request, *args, **kwargs):
        self.promoter()
        data = s.WithdrawalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_request(
            user=request.user, amount_fen=data.validated_data["amount_fen"]
        )
        return Response(s.WithdrawalSerializer(withdrawal).data, status=status.HTTP_201_CREATED)


class WithdrawalApi(_Promoter):
    @extend_schema(tags=TAG, responses={200: s.WithdrawalSerializer}, summary="One of my withdrawals")
    def get(self, request, pk: int):
        withdrawal = get_object_or_404(Withdrawal, pk=pk, promoter=self.promoter())
        return Response(s.WithdrawalSerializer(withdrawal).data)


class WalletApi(_Promoter):
    @extend_schema(
        tags=TAG, responses={200: s.WalletSerializer}, summary="My balance: settled, pending, available"
    )
    def get(self, request):
        return Response(selectors.wallet_of(promoter=self.promoter()))


class _AgencyOwner(APIView):
    permission_classes = [IsAuthenticated]

    def agency(self):
        agency = affiliate_selectors.agency_of(self.request.user)
        if agency is None:
            raise PermissionDenied("Agency owners only.")
        return agency


class AgencyWithdrawalsApi(_AgencyOwner, ListAPIView):
    serializer_class = s.WithdrawalSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.withdrawals_of(agency=self.agency())

    @extend_schema(tags=TAG, summary="My agency's withdrawals of its service fees, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAG,
        request=s.WithdrawalInputSerializer,
        responses={201: s.WithdrawalSerializer},
        summary="Withdraw my agency's settled service fees to my WeChat balance (same rules as promoters)",
    )
    def post(self, request, *args, **kwargs):
        self.agency()
        data = s.WithdrawalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.agency_withdrawal_request(
            user=request.user, amount_fen=data.validated_data["amount_fen"]
        )
        return Response(s.WithdrawalSerializer(withdrawal).data, status=status.HTTP_201_CREATED)


class AgencyWalletApi(_AgencyOwner):
    @extend_schema(
        tags=TAG, responses={200: s.WalletSerializer}, summary="My agency's fees: settled, pending, available"
    )
    def get(self, request):
        return Response(selectors.wallet_of(agency=self.agency()))


class ReviewApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        request=s.WithdrawalReviewInputSerializer,
        responses={
            200: inline_serializer("WithdrawalReviewResult", {"changed": drf_serializers.IntegerField()})
        },
        summary="Operators: start reviewing, approve (pays through WeChat Pay) or reject withdrawals",
    )
    def post(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied("Operators only.")
        data = s.WithdrawalReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids, action = data.validated_data["withdrawal_ids"], data.validated_data["action"]
        if action == "start_review":
            changed = services.withdrawals_start_review(withdrawal_ids=ids, operator=request.user)
        elif action == "approve":
            changed = services.withdrawals_approve(withdrawal_ids=ids, operator=request.user)
        else:
            changed = services.withdrawals_reject(
                withdrawal_ids=ids, operator=request.user, reason=data.validated_data.get("reason", "")
            )
        return Response({"changed": changed})
