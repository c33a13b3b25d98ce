from django.urls import path

from affiliates import views

app_name = "affiliates"
urlpatterns = [
    path("promoter/", views.home, name="home"),
    path("promoter/apply/", views.apply, name="apply"),
    path("promoter/join/", views.join, name="join"),
    path("promoter/share/", views.share, name="share"),
    path("promoter/pool/", views.pool, name="pool"),
    path("promoter/showcase/", views.showcase_edit, name="showcase-edit"),
    path("promoter/showcase/add/", views.showcase_add, name="showcase-add"),
    path("promoter/links/", views.links, name="links"),
    path("promoter/ledger/", views.ledger, name="ledger"),
    path("promoter/leave/", views.leave, name="leave"),
    path("promoter/invite/<str:code>/", views.invite, name="invite"),
    path("promoter/sharers/<int:sharer_id>/remove/", views.sharer_remove, name="sharer-remove"),
    path("promoter/agency/ledger/", views.agency_ledger, name="agency-ledger"),
    path("s/<str:code>/", views.showcase, name="showcase"),
    path("card/<str:code>/", views.link_card, name="link-card"),
    path("card/<str:code>/qr.png", views.link_qr, name="link-qr"),
]
