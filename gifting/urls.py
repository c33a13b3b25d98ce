from django.urls import path

from gifting import views

app_name = "gifting"
urlpatterns = [
    path("gifts/new/<int:product_id>/", views.gift_new, name="new"),
    path("gifts/sent/", views.sent_list, name="sent"),
    path("gifts/sent/<str:token>/", views.sent_detail, name="sent-detail"),
    path("gifts/received/", views.received_list, name="received"),
    path("gifts/order/<str:number>/", views.gift_of_order, name="of-order"),
    path("gifts/thanks/<int:claim_id>/", views.thank, name="thank"),
    path("g/<str:token>/", views.claim, name="claim"),
    path("g/<str:token>/qr.png", views.gift_qr, name="qr"),
    path("g/<str:token>/draw/", views.draw_enter, name="draw-enter"),
]
