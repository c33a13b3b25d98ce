from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.me, name="me"),
    path("register/", views.register, name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("addresses/", views.address_list, name="addresses"),
    path("addresses/new/", views.address_create, name="address-create"),
    path("addresses/<int:address_id>/edit/", views.address_edit, name="address-edit"),
    path("addresses/<int:address_id>/delete/", views.address_delete, name="address-delete"),
    path("addresses/<int:address_id>/default/", views.address_set_default, name="address-default"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:notification_id>/open/", views.notification_open, name="notification-open"),
    path("inbox/read-all/", views.notification_mark_all_read, name="notification-read-all"),
    path("friends/", views.friends, name="friends"),
    path("friends/requests/<int:request_id>/accept/", views.friend_request_accept, name="friend-accept"),
    path("friends/requests/<int:request_id>/decline/", views.friend_request_decline, name="friend-decline"),
    path("friends/<int:user_id>/remove/", views.friend_remove, name="friend-remove"),
]
