"""The merchant admin. Catalog and order screens live in their own modules."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shop.admin import catalog, orders  # noqa: F401

admin.site.site_header = _("小店商家后台")
admin.site.site_title = _("小店商家后台")
admin.site.index_title = _("店铺管理")
