"""The promoter centre's pages (affiliates/centre.py)."""

from django.urls import path

from affiliates import centre

app_name = "promoter-centre"
urlpatterns = [
    path("promoter/centre/", centre.centre, name="stats"),
    path("promoter/team/", centre.creator_team, name="team"),
    path("promoter/team/share/", centre.creator_share_override, name="team-share"),
    path("promoter/team/<int:member_id>/", centre.creator_member, name="team-member"),
    path("promoter/agency/", centre.agency_home, name="agency"),
    path("promoter/agency/<int:member_id>/", centre.agency_member, name="agency-member"),
]
