from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from affiliates.reports import report_view as affiliate_report_view
from config.health import healthz
from shop.views.backoffice import backoffice_today_view

# Unknown /api/ URLs answer in JSON like the rest of the API (pages keep the HTML 404).
handler404 = "config.handlers.not_found"

urlpatterns = [
    # The API first: Django tries patterns in order, and a checkout or a product call should not be
    # matched against the admin's first (the storefront's pages come after it either way).
    path("api/v1/", include("config.api_urls")),
    path("healthz", healthz, name="healthz"),
    # The merchant's home (the admin's first tab), before the admin's own catch-all URLs.
    path("admin/today/", admin.site.admin_view(backoffice_today_view), name="admin-today"),
    path(
        "admin/affiliate-report/", admin.site.admin_view(affiliate_report_view), name="admin-affiliate-report"
    ),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Of the apps sharing the root, the storefront first: its pages are the ones most asked for.
    path("", include("shop.urls")),
    path("", include("payouts.urls")),
    path("", include("affiliates.centre_urls")),
    path("", include("affiliates.urls")),
    path("", include("gifting.urls")),
]

if not settings.WECHATPAY["MCHID"] and settings.WECHATPAY["SANDBOX"]:
    # No merchant credentials: the local sandbox plays WeChat Pay's side (see shop/payments/sandbox/).
    urlpatterns.insert(0, path("sandbox/wechatpay/", include("shop.payments.sandbox.urls")))

if settings.DEBUG or not settings.REDIS_URL:
    # Local demo serves uploads itself; production puts them behind the web server or object storage.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
