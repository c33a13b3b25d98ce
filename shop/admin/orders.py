"""Admin for orders, shipping and after-sales, scoped to the staff member's own shops.

Orders are read-only here except through the services: "ship" (one order from its page, or many at
once from the list through an intermediate form with a carrier and tracking number per order), and
the after-sales queue's approve / approve-and-restock / reject (actions and buttons on the page).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.exceptions import DomainError
from shop.admin.batch_ship import BatchShipAdminMixin
from shop.admin.lists import ConstantTimeListMixin
from shop.admin.presentation import RecordPageMixin, yuan_display
from shop.admin.resources import OrderResource
from shop.admin.scoping import ShopScopedAdminMixin, register_shop_path, request_shop_ids
from shop.admin.sheets import SheetExportMixin
from shop.models import AfterSalesPhoto, AfterSalesRequest, Order, OrderEvent, OrderLine, Payment, Refund
from shop.selectors.orders import managed_shop_ids
from shop.selectors.timeline import merchant_event_sentence
from shop.services.aftersales import (
    after_sales_approve,
    after_sales_refund_retry,
    after_sales_reject,
    after_sales_return_receive,
)
from shop.services.orders import orders_ship_many
from shop.services.refunds import MERCHANT_REFUNDABLE, RefundLineSpec, order_refund, order_refund_balances
from shop.services.staff_permissions import StaffPermission, staff_can, staff_permissions_anywhere
from shop.templatetags.money import format_fen, parse_yuan

register_shop_path(OrderEvent, "order__shop")
register_shop_path(Payment, "order__shop")
register_shop_path(Refund, "order__shop")
register_shop_path(AfterSalesRequest, "order__shop")
register_shop_path(AfterSalesPhoto, "request__order__shop")

User = get_user_model()

CARRIERS = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "京东物流", "EMS", "极兔速递"]


class ReadOnlyInline(ShopScopedAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "id"]


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    shop_path = "order__shop"
    fields = ["title", "spec_label", "unit_price", "quantity", "total", "refunded_quantity", "refunded"]
    readonly_fields = fields

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description=_("unit price"))
    def unit_price(self, line):
        return format_fen(line.unit_price_fen)

    @admin.display(description=_("total"))
    def total(self, line):
        return format_fen(line.total_fen)

    @admin.display(description=_("refunded"))
    def refunded(self, line):
        return format_fen(line.refunded_fen)


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    shop_path = "order__shop"
    fields = ["created_at", "kind", "from_label", "to_label", "actor", "details"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description=_("details"))
    def details(self, event):
        return merchant_event_sentence(event)

    @admin.display(description=_("from status"))
    def from_label(self, event):
        return event.from_status_label

    @admin.display(description=_("to status"))
    def to_label(self, event):
        return event.to_status_label

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PaymentInline(ReadOnlyInline):
    model = Payment
    shop_path = "order__shop"
    # combine_out_trade_no: the one payment of a checkout across shops (WeChat Pay 合单支付), as the
    # buyer's bill and the WeChat Pay merchant platform show it; blank for an order paid alone.
    fields = ["out_trade_no", "combine_out_trade_no", "transaction_id", "amount", "status", "paid_at"]
    amount = yuan_display("amount_fen", _("amount"))

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class RefundInline(ReadOnlyInline):
    model = Refund
    shop_path = "order__shop"
    fields = ["out_refund_no", "source", "amount", "what", "status", "reason", "created_at", "succeeded_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines__line")

    @admin.display(description=_("amount"))
    def amount(self, refund):
        return format_fen(refund.amount_fen)

    @admin.display(description=_("lines"))
    def what(self, refund):
        parts = [
            f"{line.line.title} × {line.quantity} {format_fen(line.amount_fen)}"
            for line in refund.lines.all()
        ]
        if refund.shipping_fen:
            parts.append(f"{_('shipping')} {format_fen(refund.shipping_fen)}")
        return "; ".join(parts)


class SubOrderInline(ReadOnlyInline):
    """A gift order's claimed copies: each one a sub-order the merchant ships like any order."""

    model = Order
    fk_name = "parent_order"
    shop_path = "shop"
    verbose_name = _("sub-order")
    verbose_name_plural = _("sub-orders (claimed gift copies)")
    fields = ["sub_order_link", "status", "recipient_name", "province", "city", "tracking_number", "paid_at"]
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description=_("order number"))
    def sub_order_link(self, order):
        from django.urls import reverse
        from django.utils.html import format_html

        return format_html(
            '<a href="{}">{}</a>', reverse("admin:shop_order_change", args=[order.pk]), order.number
        )


class ShipForm(forms.Form):
    carrier = forms.CharField(label=_("carrier"), max_length=40)
    tracking_number = forms.CharField(label=_("tracking number"), max_length=64)


@admin.register(Order)
class OrderAdmin(
    SheetExportMixin,
    BatchShipAdminMixin,
    RecordPageMixin,
    ConstantTimeListMixin,
    ShopScopedAdminMixin,
    admin.ModelAdmin,
):
    resource_classes = [OrderResource]
    list_display = [
        "number",
        "shop",
        "buyer_display",
        "status",
        "kind",
        "total",
        "recipient_phone",
        "created_at",
        "tracking",
    ]
    list_filter = ["status", "kind", "created_at", "paid_at", "shop"]
    # Searches are exact and indexed (shop/admin/lists.py): order number, tracking number, the
    # recipient's or the buyer's phone, a payment's or combined payment's trade number.
    search_fields = ["number"]
    exact_search_fields = ("number", "tracking_number")
    phone_search_fields = ("recipient_phone",)
    exact_search_sort = "created_at"
    list_select_related = ["shop", "buyer"]
    actions = ["ship_orders"]
    inlines = [OrderLineInline, SubOrderInline, PaymentInline, RefundInline, OrderEventInline]
    change_form_template = "admin/shop/order/change_form.html"
    change_list_template = "admin/shop/order/change_list.html"
    fieldsets = [
        (None, {"fields": ["number", "shop", "buyer", "status", "kind", "parent_order", "checkout_id"]}),
        (_("Money"), {"fields": ["items", "shipping", "total", "refunded"]}),
        (
            _("Ship to"),
            {
                "fields": [
                    "recipient_name",
                    "recipient_phone",
                    "province",
                    "city",
                    "district",
                    "address_detail",
                    "note",
                ]
            },
        ),
        (_("Shipping"), {"fields": ["carrier", "tracking_number"]}),
        (
            _("Times"),
            {
                "fields": [
                    "created_at",
                    "payment_deadline",
                    "paid_at",
                    "shipped_at",
                    "received_at",
                    "completed_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Order._meta.fields] + ["items", "shipping", "total", "refunded"]

    def get_inlines(self, request, obj):
        # Only a gift order has sub-orders: other orders' pages spend no query looking for them.
        inlines = super().get_inlines(request, obj)
        if obj is None or obj.kind != Order.Kind.GIFT:
            inlines = [inline for inline in inlines if inline is not SubOrderInline]
        return inlines

    def _one_shop(self, request) -> bool:
        shop_ids = request_shop_ids(request)
        return shop_ids is not None and len(shop_ids) == 1

    # A merchant with one shop sees no shop column or shop filter: every row is theirs.
    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return [c for c in columns if c != "shop"] if self._one_shop(request) else columns

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not self._one_shop(request):
            return filters
        return [f for f in filters if (f[0] if isinstance(f, tuple) else f) != "shop"]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    items = yuan_display("items_fen", _("items"))
    shipping = yuan_display("shipping_fen", _("shipping"))
    refunded = yuan_display("refunded_fen", _("refunded"))

    def search_related_ids(self, request, term, phone):
        if phone:
            return {"buyer_id": list(User.objects.filter(phone=phone).values_list("pk", flat=True))}
        if term[:1].isalpha() and len(term) <= 32:
            # A trade number from a WeChat Pay bill: the order's own payment, or a combined payment
            # that paid it with other shops' orders (only this shop's orders are listed).
            payments = Payment.objects.filter(Q(out_trade_no=term) | Q(combine_out_trade_no=term))
            return {"pk": list(payments.values_list("order_id", flat=True))}
        return {}

    @admin.display(description=_("buyer"))
    def buyer_display(self, order):
        return order.buyer.display_name

    @admin.display(description=_("total"), ordering="total_fen")
    def total(self, order):
        return format_fen(order.total_fen)

    @admin.display(description=_("tracking"))
    def tracking(self, order):
        return f"{order.carrier} {order.tracking_number}".strip()

    def get_urls(self):
        return [
            path(
                "<int:order_id>/ship/", self.admin_site.admin_view(self.ship_one_view), name="shop_order_ship"
            ),
            path(
                "<int:order_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="shop_order_refund",
            ),
            *super().get_urls(),
        ]

    def _ship(self, request, orders, rows) -> tuple[int, list[str]]:
        outcome = orders_ship_many(
            shipments=[(order.pk, *rows.get(order.pk, ("", ""))) for order in orders],
            actor=request.user,
            shop_ids=managed_shop_ids(request.user),
        )
        errors = [f"{order.number}: {outcome[order.pk].message}" for order in orders if outcome[order.pk]]
        return len(orders) - len(errors), errors

    def _ship_page(self, request, orders, *, action_form: bool):
        rows = {}
        if request.POST.get("apply"):
            default_carrier = request.POST.get("carrier_all", "").strip()
            for order in orders:
                carrier = request.POST.get(f"carrier_{order.pk}", "").strip() or default_carrier
                rows[order.pk] = (carrier, request.POST.get(f"tracking_{order.pk}", "").strip())
            shipped, errors = self._ship(request, orders, rows)
            if shipped:
                self.message_user(
                    request,
                    ngettext("%(n)d order shipped.", "%(n)d orders shipped.", shipped) % {"n": shipped},
                    messages.SUCCESS,
                )
            for error in errors:
                self.message_user(request, error, messages.ERROR)
            if not errors:
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ship orders"),
            "opts": self.model._meta,
            "orders": orders,
            "rows": rows,
            "carriers": CARRIERS,
            "action_form": action_form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/shop/order/ship.html", context)

    @admin.action(description=_("Ship selected orders (enter tracking numbers)"))
    def ship_orders(self, request, queryset):
        orders = list(queryset.select_related("shop").order_by("pk"))
        return self._ship_page(request, orders, action_form=True)

    def ship_one_view(self, request, order_id: int):
        order = get_object_or_404(self.get_queryset(request), pk=order_id)
        if not self.has_change_permission(request, order):
            return redirect("admin:index")
        response = self._ship_page(request, [order], action_form=False) if request.method == "POST" else None
        if response is None and request.method == "POST":
            return redirect(reverse("admin:shop_order_change", args=[order.pk]))
        return response or self._ship_page(request, [order], action_form=False)

    def refund_view(self, request, order_id: int):
        """The merchant refunds an order directly: units and/or amounts per line, part of the
        shipping fee, or everything left; optionally putting the units back on sale."""
        order = get_object_or_404(self.get_queryset(request), pk=order_id)
        if not self.has_change_permission(request, order):
            return redirect("admin:index")
        balances, shipping_left = order_refund_balances(order)
        lines = [(line, balances[line.pk]) for line in order.lines.all()]
        errors: list[str] = []
        if request.method == "POST":
            try:
                specs = []
                for line, _left in lines:
                    quantity = int(request.POST.get(f"quantity_{line.pk}") or 0)
                    amount_text = (request.POST.get(f"amount_{line.pk}") or "").strip()
                    amount = parse_yuan(amount_text) if amount_text else None
                    if quantity or amount:
                        specs.append(RefundLineSpec(line_id=line.pk, quantity=quantity, amount_fen=amount))
                shipping_text = (request.POST.get("shipping") or "").strip()
                shipping_fen = parse_yuan(shipping_text) if shipping_text else 0
            except ValueError:
                errors.append(_("Enter units as whole numbers and amounts in yuan, e.g. 12.50."))
            if not errors:
                try:
                    refund = order_refund(
                        order_id=order.pk,
                        actor=request.user,
                        reason=request.POST.get("reason", ""),
                        full=bool(request.POST.get("full")),
                        lines=specs,
                        shipping_fen=shipping_fen,
                        restock=bool(request.POST.get("restock")),
                        shop_ids=managed_shop_ids(request.user),
                    )
                except DomainError as error:
                    errors.append(str(error.message))
                else:
                    self.message_user(
                        request,
                        _("Refund of %(amount)s started; the buyer is told when it succeeds.")
                        % {"amount": format_fen(refund.amount_fen)},
                        messages.SUCCESS,
                    )
                    return redirect(reverse("admin:shop_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund order %(number)s") % {"number": order.number},
            "opts": self.model._meta,
            "order": order,
            "lines": lines,
            "shipping_left": shipping_left,
            "refundable": order.status in MERCHANT_REFUNDABLE,
            "errors": errors,
            "posted": request.POST if request.method == "POST" else {},
        }
        return TemplateResponse(request, "admin/shop/order/refund.html", context)


class AfterSalesPhotoInline(ReadOnlyInline):
    model = AfterSalesPhoto
    shop_path = "request__order__shop"
    fields = ["preview"]

    def get_readonly_fields(self, request, obj=None):
        return ["preview"]

    @admin.display(description=_("photo"))
    def preview(self, photo):
        return format_html(
            '<a href="{0}" target="_blank"><img src="{0}" style="max-height:160px"></a>',
            photo.get_absolute_url(),
        )


@admin.register(AfterSalesRequest)
class AfterSalesRequestAdmin(RecordPageMixin, ConstantTimeListMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "order__shop"
    list_display = ["id", "order_link", "line", "kind", "quantity", "amount", "status", "created_at"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["order__number"]
    exact_search_fields = ("order__number",)
    phone_search_fields = ("order__recipient_phone",)
    list_select_related = ["order", "line"]
    ordering = ["status", "-created_at"]
    actions = [
        "approve",
        "approve_and_restock",
        "receive_return",
        "receive_return_and_restock",
        "reject",
        "retry_refund",
    ]
    inlines = [AfterSalesPhotoInline]
    change_form_template = "admin/shop/aftersalesrequest/change_form.html"

    def get_fields(self, request, obj=None):
        # Every field, amounts shown in yuan instead of fen.
        return [
            "amount" if f.name == "amount_fen" else f.name
            for f in AfterSalesRequest._meta.fields
            if f.name != "id"
        ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AfterSalesRequest._meta.fields] + ["amount"]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # Who may decide what comes from shop/services/staff_permissions.py; the services enforce it too, so
    # hiding here is for clarity, not the fence.
    REFUND_ACTIONS = (
        "approve",
        "approve_and_restock",
        "receive_return",
        "receive_return_and_restock",
        "retry_refund",
    )

    def get_actions(self, request):
        actions = super().get_actions(request)
        granted = staff_permissions_anywhere(request.user)
        if StaffPermission.APPROVE_REFUNDS not in granted:
            for name in self.REFUND_ACTIONS:
                actions.pop(name, None)
        if StaffPermission.ANSWER_AFTER_SALES not in granted:
            actions.pop("reject", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        row = self.get_queryset(request).filter(pk=object_id).values("order__shop_id").first()
        allowed = bool(row) and staff_can(
            user=request.user, shop_id=row["order__shop_id"], permission=StaffPermission.APPROVE_REFUNDS
        )
        extra_context = {**(extra_context or {}), "can_approve_refunds": allowed}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("order"), ordering="order__number")
    def order_link(self, request_row):
        url = reverse("admin:shop_order_change", args=[request_row.order_id])
        return format_html('<a href="{}">{}</a>', url, request_row.order.number)

    @admin.display(description=_("refund"), ordering="amount_fen")
    def amount(self, request_row):
        return format_fen(request_row.amount_fen)

    def get_urls(self):
        return [
            path(
                "<int:request_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="shop_aftersalesrequest_decide",
            ),
            *super().get_urls(),
        ]

    def _decide(self, request, ids, decision: str, note: str = "") -> None:
        done, shop_ids = 0, managed_shop_ids(request.user)
        for request_id in ids:
            try:
                if decision == "reject":
                    after_sales_reject(
                        request_id=request_id, actor=request.user, note=note, shop_ids=shop_ids
                    )
                elif decision == "retry_refund":
                    after_sales_refund_retry(request_id=request_id, actor=request.user, shop_ids=shop_ids)
                elif decision in ("receive", "receive_restock"):
                    after_sales_return_receive(
                        request_id=request_id,
                        actor=request.user,
                        restock=decision == "receive_restock",
                        shop_ids=shop_ids,
                    )
                else:
                    after_sales_approve(
                        request_id=request_id,
                        actor=request.user,
                        restock=decision == "approve_restock",
                        note=note,
                        shop_ids=shop_ids,
                    )
                done += 1
            except DomainError as error:
                self.message_user(request, f"#{request_id}: {error.message}", messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d request decided.", "%(n)d requests decided.", done) % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Approve (refund only: refund now; return: ask for the goods back)"))
    def approve(self, request, queryset):
        self._decide(request, list(queryset.values_list("pk", flat=True)), "approve")

    @admin.action(description=_("Approve, refund and return the stock"))
    def approve_and_restock(self, request, queryset):
        self._decide(request, list(queryset.values_list("pk", flat=True)), "approve_restock")

    @admin.action(description=_("Return received: refund"))
    def receive_return(self, request, queryset):
        self._decide(request, list(queryset.values_list("pk", flat=True)), "receive")

    @admin.action(description=_("Return received: refund and return the stock"))
    def receive_return_and_restock(self, request, queryset):
        self._decide(request, list(queryset.values_list("pk", flat=True)), "receive_restock")

    @admin.action(description=_("Reject"))
    def reject(self, request, queryset):
        self._decide(request, list(queryset.values_list("pk", flat=True)), "reject")

    @admin.action(description=_("Retry the failed refund"))
    def retry_refund(self, request, queryset):
        self._decide(request, list(queryset.values_list("pk", flat=True)), "retry_refund")

    def decide_view(self, request, request_id: int):
        row = get_object_or_404(self.get_queryset(request), pk=request_id)
        decision = request.POST.get("decision")
        if request.method == "POST" and decision in {
            "approve",
            "approve_restock",
            "reject",
            "receive",
            "receive_restock",
        }:
            self._decide(request, [row.pk], decision, note=request.POST.get("decision_note", ""))
        return redirect(reverse("admin:shop_aftersalesrequest_change", args=[row.pk]))
