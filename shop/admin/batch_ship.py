"""Batch ship from a spreadsheet, the way 小店 merchants do it: download the orders waiting to be
shipped, fill in carrier and tracking number, upload, check the preview, confirm.

Sheets are read and written by django-import-export's formats (xlsx and csv, through tablib and
openpyxl). The rows are checked and shipped by shop.services.batch_ship.orders_ship_batch: the
preview shows each row's error, and nothing is shipped unless every row is good.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core import signing
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from import_export.formats.base_formats import CSV, XLSX

from shop.admin.scoping import request_shop_ids
from shop.selectors.backoffice import orders_to_ship
from shop.services.batch_ship import MAX_ROWS, ShipRow, orders_ship_batch

# Accepted column titles (the template's are the first of each).
COLUMNS = {
    "number": ("订单号", "订单编号", "order number", "number"),
    "carrier": ("快递公司", "carrier"),
    "tracking_number": ("快递单号", "物流单号", "tracking number", "tracking_number"),
}
TEMPLATE_EXTRA_COLUMNS = ("收货人", "收货人手机号", "商品")
SIGNING_SALT = "shop.batch-ship"
FORMATS = {"xlsx": XLSX, "csv": CSV}


class SheetError(Exception):
    pass


class BatchShipUploadForm(forms.Form):
    sheet = forms.FileField(
        label=gettext_lazy("Spreadsheet (xlsx or csv)"),
        help_text=gettext_lazy(
            "Columns: 订单号, 快递公司, 快递单号 (order number, carrier, tracking number)."
        ),
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_ship_rows(upload) -> list[ShipRow]:
    """The rows of an uploaded xlsx or csv sheet. Raises SheetError for a file that is not one, or
    whose header lacks a column."""
    name = (upload.name or "").lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension not in FORMATS:
        raise SheetError(_("Upload an .xlsx or .csv file."))
    content = upload.read()
    try:
        if extension == "csv":
            dataset = CSV(encoding="utf-8-sig").create_dataset(content)
        else:
            dataset = XLSX().create_dataset(content)
    except Exception as error:  # a broken file is the merchant's input, not our failure
        raise SheetError(_("The file could not be read as a spreadsheet.")) from error
    headers = [_cell(header).lower() for header in (dataset.headers or [])]
    where = {}
    for key, titles in COLUMNS.items():
        found = [index for index, header in enumerate(headers) if header in titles]
        if not found:
            raise SheetError(_("The sheet has no column %(title)s.") % {"title": titles[0]})
        where[key] = found[0]
    rows = []
    for offset, values in enumerate(dataset, start=2):
        cells = [_cell(values[where[key]]) if where[key] < len(values) else "" for key in COLUMNS]
        if not any(cells):
            continue  # blank lines at the end of a sheet
        rows.append(ShipRow(line=offset, number=cells[0], carrier=cells[1], tracking_number=cells[2]))
    if not rows:
        raise SheetError(_("The sheet has no rows."))
    return rows


def _signed(rows: list[ShipRow]) -> str:
    return signing.dumps(
        [[row.line, row.number, row.carrier, row.tracking_number] for row in rows], salt=SIGNING_SALT
    )


def _unsigned(token: str) -> list[ShipRow]:
    data = signing.loads(token, salt=SIGNING_SALT, max_age=3600)
    return [
        ShipRow(line=line, number=number, carrier=carrier, tracking_number=tracking)
        for line, number, carrier, tracking in data
    ]


class BatchShipAdminMixin:
    """Adds "batch ship from a sheet" (upload, preview, confirm) and its template to the order admin."""

    def get_urls(self):
        return [
            path(
                "batch-ship/", self.admin_site.admin_view(self.batch_ship_view), name="shop_order_batch_ship"
            ),
            path(
                "batch-ship/template.<str:extension>",
                self.admin_site.admin_view(self.batch_ship_template_view),
                name="shop_order_batch_ship_template",
            ),
            *super().get_urls(),
        ]

    def _batch_ship_page(self, request, *, form, rows=None, token="", applied_failed=False):
        errors = sum(1 for row in rows or [] if row.error)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Batch ship from a spreadsheet"),
            "opts": self.model._meta,
            "form": form,
            "rows": rows,
            "error_count": errors,
            "token": token if rows and not errors else "",
            "applied_failed": applied_failed,
            "max_rows": MAX_ROWS,
        }
        return TemplateResponse(request, "admin/shop/order/batch_ship.html", context)

    def batch_ship_view(self, request):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        shop_ids = request_shop_ids(request)
        if request.method == "POST" and "confirm" in request.POST:
            try:
                rows = _unsigned(request.POST.get("token", ""))
            except signing.BadSignature:
                messages.error(request, _("The preview has expired; upload the sheet again."))
                return redirect("admin:shop_order_batch_ship")
            if orders_ship_batch(rows=rows, actor=request.user, shop_ids=shop_ids, apply=True):
                messages.success(
                    request,
                    ngettext("%(n)d order shipped.", "%(n)d orders shipped.", len(rows)) % {"n": len(rows)},
                )
                return redirect(reverse("admin:shop_order_changelist"))
            messages.error(request, _("Nothing was shipped: some rows are no longer valid."))
            return self._batch_ship_page(request, form=BatchShipUploadForm(), rows=rows, applied_failed=True)
        if request.method == "POST":
            form = BatchShipUploadForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    rows = read_ship_rows(form.cleaned_data["sheet"])
                except SheetError as error:
                    form.add_error("sheet", str(error))
                else:
                    orders_ship_batch(rows=rows, actor=request.user, shop_ids=shop_ids, apply=False)
                    return self._batch_ship_page(
                        request, form=BatchShipUploadForm(), rows=rows, token=_signed(rows)
                    )
            return self._batch_ship_page(request, form=form)
        return self._batch_ship_page(request, form=BatchShipUploadForm())

    def batch_ship_template_view(self, request, extension: str):
        """The orders waiting to be shipped as a sheet to fill in: number, empty carrier and tracking
        number, and the recipient and items to help find the parcel."""
        if extension not in FORMATS or not self.has_view_permission(request):
            return redirect("admin:shop_order_batch_ship")
        import tablib

        dataset = tablib.Dataset(headers=[COLUMNS[key][0] for key in COLUMNS] + list(TEMPLATE_EXTRA_COLUMNS))
        orders = orders_to_ship(shop_ids=request_shop_ids(request)).prefetch_related("lines")[:MAX_ROWS]
        for order in orders:
            items = "; ".join(
                f"{line.title} {line.spec_label} × {line.quantity}".strip() for line in order.lines.all()
            )
            dataset.append([order.number, "", "", order.recipient_name, order.recipient_phone, items])
        file_format = FORMATS[extension]()
        body = file_format.export_data(dataset)
        if extension == "csv":
            body = "\ufeff" + body  # so spreadsheet programs read the Chinese text as UTF-8
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(body, content_type=file_format.get_content_type())
        response["Content-Disposition"] = f'attachment; filename="to-ship-{stamp}.{extension}"'
        return response
