"""/api/v1/promoter/stats/, /api/v1/promoter/team/… and /api/v1/agency/…: the promoter centre's
statistics (from the daily rollups) and teams. A leader sees only their own team's members; anyone
else's member answers 404."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from affiliates import selectors, stats, team
from affiliates.models import Promoter

TAG = ["promoter centre"]
PERIOD_PARAMETERS = [
    OpenApiParameter("range", str, enum=["today", "7", "30", "custom"], description="default 30"),
    OpenApiParameter("start", str, description="YYYY-MM-DD, with range=custom"),
    OpenApiParameter("end", str, description="YYYY-MM-DD, with range=custom (at most a year)"),
]


class FiguresSerializer(serializers.Serializer):
    clicks = serializers.IntegerField()
    visits = serializers.IntegerField(help_text="clicks, a visitor's repeats within 30 minutes once")
    visitors = serializers.IntegerField(help_text="distinct visitors per day and cell, summed")
    orders = serializers.IntegerField()
    gmv_fen = serializers.IntegerField()
    pending_fen = serializers.IntegerField()
    settled_fen = serializers.IntegerField()
    cancelled_fen = serializers.IntegerField()
    clawed_back_fen = serializers.IntegerField()
    commission_fen = serializers.IntegerField(help_text="pending + settled - clawed back")
    conversion_bp = serializers.IntegerField(help_text="orders per visit, basis points")


class DayFiguresSerializer(FiguresSerializer):
    day = serializers.DateField()


class SceneFiguresSerializer(FiguresSerializer):
    scene = serializers.CharField()
    scene_name = serializers.CharField()


class ProductFiguresSerializer(FiguresSerializer):
    product_id = serializers.IntegerField(help_text="0: a whole showcase")
    title = serializers.CharField()


class StatsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    totals = FiguresSerializer()
    days = DayFiguresSerializer(many=True)
    scenes = SceneFiguresSerializer(many=True)
    products = ProductFiguresSerializer(many=True)


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.CharField()
    totals = FiguresSerializer()


class TeamSerializer(serializers.Serializer):
    invitation_code = serializers.CharField()
    default_share_bp = serializers.IntegerField()
    service_fee_bp = serializers.IntegerField(required=False)
    start = serializers.DateField()
    end = serializers.DateField()
    members = MemberSerializer(many=True)


class AgencySettingsSerializer(serializers.Serializer):
    service_fee_bp = serializers.IntegerField(required=False, min_value=0, max_value=team.MAX_AGENCY_FEE_BP)
    default_share_bp = serializers.IntegerField(required=False, min_value=1000, max_value=10000)


def _period(request) -> stats.Period:
    params = request.query_params
    try:
        return stats.period_from(key=params.get("range"), start=params.get("start"), end=params.get("end"))
    except ValueError:
        raise ValidationError(
            {"start": ["Give start and end as YYYY-MM-DD, start first, at most a year."]}
        ) from None


def _stats_payload(promoter_ids, period) -> dict:
    result = stats.promoter_stats(promoter_ids=promoter_ids, period=period)
    return {
        "start": period.start,
        "end": period.end,
        **{k: result[k] for k in ("totals", "days", "scenes", "products")},
    }


def _team_payload(leader: team.Team, period) -> dict:
    members = list(leader.members())
    results = stats.members_stats(promoter_ids=[m.pk for m in members], period=period)
    payload = {
        "invitation_code": leader.invitation_code,
        "default_share_bp": leader.default_share_bp,
        "start": period.start,
        "end": period.end,
        "members": [
            {
                "id": m.pk,
                "display_name": m.display_name,
                "role": m.role,
                "status": m.status,
                "totals": results[m.pk],
            }
            for m in members
        ],
    }
    if leader.agency is not None:
        payload["service_fee_bp"] = leader.agency.service_fee_bp
    return payload


class StatsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG, parameters=PERIOD_PARAMETERS, responses={200: StatsSerializer}, summary="My statistics"
    )
    def get(self, request):
        promoter = selectors.promoter_of(request.user)
        if promoter is None or promoter.status != Promoter.Status.APPROVED:
            raise PermissionDenied("Approved promoters only.")
        return Response(StatsSerializer(_stats_payload([promoter.pk], _period(request))).data)


def _creator_team(request) -> team.Team:
    leader = team.creator_team(selectors.promoter_of(request.user))
    if leader is None:
        raise PermissionDenied("Approved creators only.")
    return leader


def _agency_team(request) -> team.Team:
    leader = team.agency_team(request.user)
    if leader is None:
        raise PermissionDenied("Agency owners only.")
    return leader


class CreatorTeamApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        parameters=PERIOD_PARAMETERS,
        responses={200: TeamSerializer},
        summary="Creator: my 推客 and results",
    )
    def get(self, request):
        return Response(TeamSerializer(_team_payload(_creator_team(request), _period(request))).data)


def _member_stats_response(leader, member_id: int, request) -> Response:
    """One member's statistics, fenced to the leader's own team (anyone else's member: 404)."""
    member = team.team_member(leader, member_id)
    if member is None:
        raise Http404
    return Response(StatsSerializer(_stats_payload([member.pk], _period(request))).data)


class CreatorMemberStatsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        parameters=PERIOD_PARAMETERS,
        responses={200: StatsSerializer},
        summary="Creator: one 推客's statistics",
    )
    def get(self, request, member_id: int):
        return _member_stats_response(_creator_team(request), member_id, request)


class AgencyTeamApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        parameters=PERIOD_PARAMETERS,
        responses={200: TeamSerializer},
        summary="Agency owner: my creators and 推客 and their results",
    )
    def get(self, request):
        return Response(TeamSerializer(_team_payload(_agency_team(request), _period(request))).data)

    @extend_schema(
        tags=TAG,
        request=AgencySettingsSerializer,
        responses={200: TeamSerializer},
        summary="Agency owner: set the service fee and/or the 推客 default share (fields sent only)",
    )
    def patch(self, request):
        leader = _agency_team(request)
        data = AgencySettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team.agency_settings_set(agency=leader.agency, **data.validated_data)
        return Response(TeamSerializer(_team_payload(leader, _period(request))).data)


class AgencyMemberStatsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAG,
        parameters=PERIOD_PARAMETERS,
        responses={200: StatsSerializer},
        summary="Agency owner: one member's statistics",
    )
    def get(self, request, member_id: int):
        return _member_stats_response(_agency_team(request), member_id, request)
