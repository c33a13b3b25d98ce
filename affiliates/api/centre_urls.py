from django.urls import path

from affiliates.api import centre as v

urlpatterns = [
    path("promoter/stats/", v.StatsApi.as_view(), name="promoter-stats"),
    path("promoter/team/", v.CreatorTeamApi.as_view(), name="promoter-team"),
    path(
        "promoter/team/<int:member_id>/stats/", v.CreatorMemberStatsApi.as_view(), name="promoter-team-member"
    ),
    path("agency/team/", v.AgencyTeamApi.as_view(), name="agency-team"),
    path("agency/team/<int:member_id>/stats/", v.AgencyMemberStatsApi.as_view(), name="agency-team-member"),
]
