"""django-import-export wired into the merchant admin: xlsx and csv, the merchant's own shops only,
permissions following the admin's (view to export, change to import), all or nothing on import."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from shop.admin.scoping import request_shop_ids


class _SheetPermissionsMixin:
    formats = [XLSX, CSV]
    import_formats = [XLSX, CSV]
    export_formats = [XLSX, CSV]
    # The Excel that merchants use reads a CSV as UTF-8 only with a byte-order mark.
    to_encoding = "utf-8-sig"
    from_encoding = "utf-8-sig"

    def get_resource_kwargs(self, request, *args, **kwargs):
        kwargs = dict(kwargs)
        kwargs.pop("form", None)
        return {**kwargs, "shop_ids": request_shop_ids(request)}

    def has_export_permission(self, request):
        return self.has_view_permission(request)


class SheetExportMixin(_SheetPermissionsMixin, ExportMixin):
    """An "Export" button on the change list: the list as filtered and searched, as xlsx or csv."""


class SheetImportExportMixin(_SheetPermissionsMixin, ImportExportMixin):
    """Export as above, and import with a preview; nothing is written unless every row is good."""

    skip_admin_log = True
    # Row errors as messages; never a traceback on the merchant's screen.
    import_error_display = ("message",)

    def has_import_permission(self, request):
        return self.has_change_permission(request)

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            # Rows changed between the preview and the confirmation: all was rolled back.
            messages.error(
                request, _("Nothing was imported: some rows are no longer valid. Upload the sheet again.")
            )
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))
        return super().process_result(result, request)
