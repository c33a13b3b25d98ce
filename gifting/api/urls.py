"""Gift API routes (joined into /api/v1/ by config/api_urls.py)."""

from django.urls import path

from gifting.api import views

app_name = "gifting-api"
urlpatterns = [
    path("gifts/", views.GiftsApi.as_view(), name="gifts"),
    path("gifts/received/", views.ReceivedApi.as_view(), name="received"),
    path("gifts/sent/<str:token>/", views.SentGiftApi.as_view(), name="sent-detail"),
    path("gifts/claims/<int:claim_id>/thanks/", views.ThanksApi.as_view(), name="thanks"),
    path("gifts/<str:token>/", views.GiftByTokenApi.as_view(), name="gift"),
    path("gifts/<str:token>/claim/", views.ClaimApi.as_view(), name="claim"),
    path("gifts/<str:token>/draw/", views.DrawEntryApi.as_view(), name="draw"),
]
