"""After-sales (售后): a buyer asks for a refund only, or a return and refund, on one order line.

The merchant approves (optionally putting the stock back) or rejects. An approved request is refunded
through the provider (shop.services.payments) and becomes `refunded` when the refund settles. An open
or approved request holds the order's completion back. Lock order: the order row first, then the
request, then payments and SKUs.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from config.exceptions import DomainError
from shop.models import AfterSalesPhoto, AfterSalesRequest, Order, OrderLine, Payment, Refund
from shop.private_media import IMAGE_EXTENSIONS
from shop.services.locking import lock_one
from shop.services.order_errors import (
    AfterSalesAlreadyOpen,
    AfterSalesNotAllowed,
    AfterSalesNotFound,
    InvalidPhoto,
    InvalidQuantity,
    InvalidTransition,
    OrderNotFound,
)
from shop.services.orders import OPEN_AFTER_SALES, buyer_order_url, notify_user, order_event_log
from shop.services.payments import refund_create
from shop.services.staff_permissions import StaffPermission, staff_require
from shop.services.stock import stock_return

R = AfterSalesRequest.Status
MAX_PHOTOS = 3
ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def after_sales_photos_validate(photos) -> list:
    """Every photo must be a real image (Pillow opens and verifies it) within MAX_IMAGE_UPLOAD_BYTES."""
    photos = [photo for photo in (photos or []) if photo]
    if len(photos) > MAX_PHOTOS:
        raise InvalidPhoto(_("Upload at most %(n)s photos.") % {"n": MAX_PHOTOS}, field="photos")
    for photo in photos:
        if photo.size > settings.MAX_IMAGE_UPLOAD_BYTES:
            raise InvalidPhoto(
                _("%(name)s is larger than %(mb)s MB.")
                % {"name": photo.name, "mb": settings.MAX_IMAGE_UPLOAD_BYTES // (1024 * 1024)},
                field="photos",
            )
        try:
            photo.seek(0)
            with Image.open(photo) as image:
                image_format = image.format
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise InvalidPhoto(field="photos") from None
        if image_format not in ALLOWED_IMAGE_FORMATS:
            raise InvalidPhoto(field="photos")
        photo.seek(0)
        # The buyer's file name is not kept (it may say who they are); the extension is the verified format's.
        photo.name = f"photo.{IMAGE_EXTENSIONS[image_format]}"
    return photos


def after_sales_amount_fen(line: OrderLine, quantity: int) -> int:
    """The refund for `quantity` units of a line: its share of what was paid for the line; the last
    units take the remainder, so the parts add up to the line total exactly."""
    if line.refunded_quantity + quantity >= line.quantity:
        return line.total_fen - line.refunded_fen
    return line.total_fen * quantity // line.quantity


def after_sales_window_open(order: Order, now=None) -> bool:
    now = now or timezone.now()
    if order.status in (Order.Status.PAID, Order.Status.SHIPPED):
        return True
    if order.status == Order.Status.RECEIVED and order.received_at:
        return order.received_at > now - timedelta(days=settings.AFTER_SALES_DAYS)
    return False


def after_sales_create(
    *, buyer, order_id: int, line_id: int, kind: str, quantity, reason: str, photos=()
) -> AfterSalesRequest:
    """Open a request on one line of the buyer's own order.

    Allowed while the order is paid, shipped, or received within AFTER_SALES_DAYS; a return needs the
    goods to have shipped. The quantity may not exceed what is not yet refunded; one open request per
    line. Photos are optional real images. Locks the order row.
    """
    if kind not in AfterSalesRequest.Kind.values:
        raise DomainError(_("Choose refund only or return and refund."), field="kind")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Tell the shop the reason."), field="reason")
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise InvalidQuantity(field="quantity") from None
    photos = after_sales_photos_validate(photos)
    with transaction.atomic():
        order = lock_one(Order.objects.filter(pk=order_id, buyer=buyer))
        if order is None:
            raise OrderNotFound()
        line = OrderLine.objects.filter(pk=line_id, order=order).first()
        if line is None:
            raise DomainError(_("Choose an item of this order."), field="line_id")
        if not after_sales_window_open(order):
            raise AfterSalesNotAllowed()
        if kind == AfterSalesRequest.Kind.RETURN_REFUND and order.status == Order.Status.PAID:
            raise AfterSalesNotAllowed(
                _("The order has not shipped yet: ask for a refund only."), field="kind"
            )
        if AfterSalesRequest.objects.filter(line=line, status__in=OPEN_AFTER_SALES).exists():
            raise AfterSalesAlreadyOpen()
        if not 1 <= quantity <= line.quantity - line.refunded_quantity:
            raise InvalidQuantity(
                _("Choose between 1 and %(n)s.") % {"n": line.quantity - line.refunded_quantity},
                field="quantity",
            )
        try:
            with transaction.atomic():
                request = AfterSalesRequest.objects.create(
                    order=order,
                    line=line,
                    requested_by=buyer,
                    kind=kind,
                    quantity=quantity,
                    amount_fen=after_sales_amount_fen(line, quantity),
                    reason=reason[:300],
                )
        except IntegrityError:
            raise AfterSalesAlreadyOpen() from None
        for photo in photos:
            AfterSalesPhoto.objects.create(request=request, image=photo)
        order_event_log(
            order=order,
            kind="after_sales_requested",
            actor=buyer,
            note=f"{request.get_kind_display()} {line.title} × {quantity}",
        )
    return request


def _locked_request(*, request_id: int, shop_ids=None, buyer=None) -> tuple[Order, AfterSalesRequest]:
    queryset = AfterSalesRequest.objects.filter(pk=request_id)
    if shop_ids is not None:
        queryset = queryset.filter(order__shop_id__in=list(shop_ids))
    if buyer is not None:
        queryset = queryset.filter(order__buyer=buyer)
    order_id = queryset.values_list("order_id", flat=True).first()
    if order_id is None:
        raise AfterSalesNotFound()
    order = lock_one(Order.objects.filter(pk=order_id))
    request = lock_one(AfterSalesRequest.objects.filter(pk=request_id).select_related("line"), of=("self",))
    return order, request


def _require(actor, order: Order, permission: str) -> None:
    # A person deciding for the shop needs the right (shop/services/staff_permissions.py); jobs pass no actor.
    if actor is not None:
        staff_require(user=actor, shop_id=order.shop_id, permission=permission)


def _tell_buyer(order: Order, request: AfterSalesRequest, title: str) -> None:
    notify_user(
        user_id=order.buyer_id,
        key=f"after-sales-decided:{request.pk}",
        kind="after_sales_decided",
        title=title,
        body=request.decision_note,
        url=buyer_order_url(order),
    )


def after_sales_approve(
    *, request_id: int, actor, restock: bool = False, note: str = "", shop_ids=None
) -> AfterSalesRequest:
    """open → approved: put the stock back if asked, refund the amount through the provider, tell the
    buyer. `shop_ids` fences to the merchant's shops. Approving again changes nothing; approving a
    rejected or withdrawn request raises InvalidTransition."""
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, shop_ids=shop_ids)
        _require(actor, order, StaffPermission.APPROVE_REFUNDS)
        if request.status in (R.APPROVED, R.REFUNDED):
            return request
        if request.status != R.OPEN:
            raise InvalidTransition(
                _("This request was already %(s)s.") % {"s": request.get_status_display()}
            )
        payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).order_by("pk").first()
        if payment is None:
            raise InvalidTransition(_("This order has no payment to refund."))
        request.status = R.APPROVED
        request.restock = bool(restock)
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.decision_note = (note or "").strip()[:300]
        request.save(update_fields=["status", "restock", "decided_by", "decided_at", "decision_note"])
        if request.restock and request.line.sku_id:
            stock_return(quantities={request.line.sku_id: request.quantity})
        order_event_log(order=order, kind="after_sales_approved", actor=actor, note=request.decision_note)
        refund_create(
            order=order,
            payment=payment,
            amount_fen=request.amount_fen,
            reason=_("After-sales %(kind)s") % {"kind": request.get_kind_display()},
            after_sales=request,
        )
        _tell_buyer(
            order,
            request,
            _("Your after-sales request for %(title)s was approved") % {"title": request.line.title},
        )
    return request


def after_sales_refund_retry(*, request_id: int, actor, shop_ids=None) -> AfterSalesRequest:
    """Submit the refund of an approved request again after the provider refused the last attempt.

    Only an `approved` request whose refunds all failed is retried (a new Refund with a new
    out_refund_no); while one is processing, or once refunded, this changes nothing. Locks as
    after_sales_approve."""
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, shop_ids=shop_ids)
        _require(actor, order, StaffPermission.APPROVE_REFUNDS)
        if request.status != R.APPROVED:
            if request.status == R.REFUNDED:
                return request
            raise InvalidTransition(
                _("Only an approved request can have its refund retried; this one is %(s)s.")
                % {"s": request.get_status_display()}
            )
        if request.refunds.exclude(status=Refund.Status.FAILED).exists():
            return request
        payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).order_by("pk").first()
        if payment is None:
            raise InvalidTransition(_("This order has no payment to refund."))
        refund_create(
            order=order,
            payment=payment,
            amount_fen=request.amount_fen,
            reason=_("After-sales %(kind)s") % {"kind": request.get_kind_display()},
            after_sales=request,
        )
    return request


def after_sales_reject(*, request_id: int, actor, note: str = "", shop_ids=None) -> AfterSalesRequest:
    """open → rejected with a note for the buyer; tells the buyer. Rejecting again changes nothing."""
    note = (note or "").strip()
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, shop_ids=shop_ids)
        _require(actor, order, StaffPermission.ANSWER_AFTER_SALES)
        if request.status == R.REJECTED:
            return request
        if request.status != R.OPEN:
            raise InvalidTransition(
                _("This request was already %(s)s.") % {"s": request.get_status_display()}
            )
        request.status = R.REJECTED
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.decision_note = note[:300]
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        order_event_log(order=order, kind="after_sales_rejected", actor=actor, note=request.decision_note)
        _tell_buyer(
            order,
            request,
            _("Your after-sales request for %(title)s was declined") % {"title": request.line.title},
        )
    return request


def after_sales_withdraw(*, request_id: int, buyer) -> AfterSalesRequest:
    """open → withdrawn by the buyer. Withdrawing again changes nothing."""
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, buyer=buyer)
        if request.status == R.WITHDRAWN:
            return request
        if request.status != R.OPEN:
            raise InvalidTransition(
                _("This request was already %(s)s.") % {"s": request.get_status_display()}
            )
        request.status = R.WITHDRAWN
        request.save(update_fields=["status"])
        order_event_log(order=order, kind="after_sales_withdrawn", actor=buyer)
    return request
