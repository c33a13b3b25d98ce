"""X-Frame-Options: DENY everywhere, except SAMEORIGIN on the admin, whose theme (django-simpleui)
shows each admin page in a tab frame of its own same-origin page. Listed after Django's
XFrameOptionsMiddleware, so it answers first and Django's leaves the header as set here."""

from django.middleware.clickjacking import XFrameOptionsMiddleware


class AdminFramesSameOriginMiddleware(XFrameOptionsMiddleware):
    def get_xframe_options_value(self, request, response):
        if request.path.startswith("/admin/"):
            return "SAMEORIGIN"
        return super().get_xframe_options_value(request, response)
