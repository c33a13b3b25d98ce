from django.urls import path

from shop.api import staff_views as views

urlpatterns = [
    path("merchant/shops/<int:shop_id>/staff/", views.StaffListApi.as_view(), name="merchant-staff"),
    path(
        "merchant/shops/<int:shop_id>/staff/<int:user_id>/",
        views.StaffPermissionsApi.as_view(),
        name="merchant-staff-permissions",
    ),
]
