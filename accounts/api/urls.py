from django.urls import path

from accounts.api import views

app_name = "accounts-api"
urlpatterns = [
    path("auth/register/", views.RegisterApi.as_view(), name="register"),
    path("auth/token/", views.TokenApi.as_view(), name="token"),
    path("auth/logout/", views.LogoutApi.as_view(), name="logout"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("addresses/", views.AddressListCreateApi.as_view(), name="addresses"),
    path("addresses/<int:address_id>/", views.AddressDetailApi.as_view(), name="address"),
    path("addresses/<int:address_id>/default/", views.AddressSetDefaultApi.as_view(), name="address-default"),
    path("friends/", views.FriendListApi.as_view(), name="friends"),
    path("friends/<int:user_id>/", views.FriendRemoveApi.as_view(), name="friend"),
    path("friends/requests/", views.FriendRequestListCreateApi.as_view(), name="friend-requests"),
    path(
        "friends/requests/<int:request_id>/accept/",
        views.FriendRequestAcceptApi.as_view(),
        name="friend-request-accept",
    ),
    path(
        "friends/requests/<int:request_id>/decline/",
        views.FriendRequestDeclineApi.as_view(),
        name="friend-request-decline",
    ),
    path("notifications/", views.NotificationListApi.as_view(), name="notifications"),
    path(
        "notifications/unread-count/", views.NotificationUnreadCountApi.as_view(), name="notifications-unread"
    ),
    path(
        "notifications/read-all/", views.NotificationMarkAllReadApi.as_view(), name="notifications-read-all"
    ),
    path(
        "notifications/<int:notification_id>/read/",
        views.NotificationMarkReadApi.as_view(),
        name="notification-read",
    ),
]
