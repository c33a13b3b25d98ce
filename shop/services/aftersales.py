"""After-sales (售后): a buyer asks for a refund only, or a return and refund, on one order line.

Refund only: open → (merchant approves, optionally putting the units back on sale) approved → the
refund settles → refunded. Return and refund, as merchants run it: open → (approve) awaiting_return →
(the buyer enters the return carrier and tracking number) return_shipped → (the merchant confirms
receipt, choosing whether the units go back on sale) approved → refunded. The merchant may reject an
open request, or a returned parcel after looking at it; the buyer may withdraw before sending it.

Timers (settings, run by beat through `after_sales_run_timers`, idempotent): a request the merchant
has not answered within AFTER_SALES_MERCHANT_DAYS is approved; a return not sent within
AFTER_SALES_RETURN_DAYS of approval closes; a returned parcel not confirmed within
AFTER_SALES_RETURN_RECEIVE_DAYS of being sent is taken as received (no restock) and refunded.

Every request not yet finished holds the order's completion back and its shipping. Lock order (the
rule in shop.services.locking): the order row, the request, then the payment and refunds, then SKUs.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from config.exceptions import DomainError
from shop.models import AfterSalesPhoto, AfterSalesRequest, Order, OrderEvent, OrderLine, Refund
from shop.private_media import IMAGE_EXTENSIONS
from shop.services.errors import (
    AfterSalesAlreadyOpen,
    AfterSalesNotAllowed,
    AfterSalesNotFound,
    InvalidPhoto,
    InvalidQuantity,
    InvalidTransition,
    OrderNotFound,
)
from shop.services.locking import lock_one
from shop.services.orders import (
    OPEN_AFTER_SALES,
    buyer_order_url,
    merchant_user_ids,
    notify_user,
    order_event_log,
)
from shop.services.refunds import (
    LineBalance,
    RefundLineSpec,
    order_payment,
    order_refund_balances,
    refund_create,
    units_share_fen,
)
from shop.services.staff_permissions import StaffPermission, staff_require

logger = logging.getLogger(__name__)

R = AfterSalesRequest.Status
K = AfterSalesRequest.Kind
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


def after_sales_amount_fen(line: OrderLine, quantity: int, left: LineBalance | None = None) -> int:
    """The refund for `quantity` units of a line: its share of what was paid for the line; the last
    units take the remainder, so the parts add up to the line total exactly (shop.services.refunds).
    `left` is what is not yet refunded or being refunded (default: the line's settled figures)."""
    if left is None:
        left = LineBalance(line.quantity - line.refunded_quantity, line.total_fen - line.refunded_fen)
    return units_share_fen(
        line_total_fen=line.total_fen, line_quantity=line.quantity, quantity=quantity, left=left
    )


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
        if order.kind == Order.Kind.GIFT:
            # A gift's copies are refunded when unclaimed; a claimed copy's recipient asks on theirs.
            raise AfterSalesNotAllowed(
                _("Unclaimed gift copies are refunded by themselves; claimed ones by their recipients.")
            )
        if kind == AfterSalesRequest.Kind.RETURN_REFUND and order.status == Order.Status.PAID:
            raise AfterSalesNotAllowed(
                _("The order has not shipped yet: ask for a refund only."), field="kind"
            )
        if AfterSalesRequest.objects.filter(line=line, status__in=OPEN_AFTER_SALES).exists():
            raise AfterSalesAlreadyOpen()
        left = order_refund_balances(order)[0][line.pk]
        if not 1 <= quantity <= left.quantity_left:
            raise InvalidQuantity(
                _("Choose between 1 and %(n)s.") % {"n": left.quantity_left},
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
                    amount_fen=after_sales_amount_fen(line, quantity, left),
                    reason=reason[:300],
                )
        except IntegrityError:
            raise AfterSalesAlreadyOpen() from None
        for photo in photos:
            AfterSalesPhoto.objects.create(request=request, image=photo)
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_REQUESTED,
            actor=buyer,
            note=f"{request.get_kind_display()} {line.title} × {quantity}",
            data={
                "after_sales_id": request.pk,
                "kind": request.kind,
                "order_line_id": line.pk,
                "quantity": quantity,
                "amount_fen": request.amount_fen,
            },
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
    *, request_id: int, actor, restock: bool = False, note: str = "", shop_ids=None, now=None
) -> AfterSalesRequest:
    """Approve an open request. Refund only: the refund starts now (the units go back on sale if
    `restock`). Return and refund: the buyer is asked to send the goods back (→ awaiting_return); the
    refund waits for the merchant to confirm receipt. Tells the buyer. `actor` None: approved by the
    merchant-answer timer; a person needs the approve-refunds right (StaffPermissionDenied otherwise,
    shop/services/staff_permissions.py). `shop_ids` fences to the merchant's shops.

    Approving again (or a request already further on) changes nothing; approving a rejected, withdrawn
    or closed request raises InvalidTransition. Locks: the order, the request, the payment, SKUs."""
    now = now or timezone.now()
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, shop_ids=shop_ids)
        _require(actor, order, StaffPermission.APPROVE_REFUNDS)
        if request.status in (R.APPROVED, R.REFUNDED, R.AWAITING_RETURN, R.RETURN_SHIPPED):
            return request
        if request.status != R.OPEN:
            raise InvalidTransition(
                _("This request was already %(s)s.") % {"s": request.get_status_display()}
            )
        if order_payment(order) is None:
            raise InvalidTransition(_("This order has no payment to refund."))
        returning = request.kind == K.RETURN_REFUND
        request.status = R.AWAITING_RETURN if returning else R.APPROVED
        request.restock = bool(restock) and not returning
        request.decided_by = actor if getattr(actor, "pk", None) else None
        request.decided_at = now
        request.decision_note = (note or "").strip()[:300]
        if not request.decision_note and actor is None:
            request.decision_note = _("Approved automatically: the shop did not answer in time.")[:300]
        request.save(update_fields=["status", "restock", "decided_by", "decided_at", "decision_note"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_APPROVED,
            actor=actor,
            note=request.decision_note,
            data={"after_sales_id": request.pk, "kind": request.kind, "restock": request.restock},
        )
        if returning:
            deadline = now + timedelta(days=settings.AFTER_SALES_RETURN_DAYS)
            _tell_buyer(
                order,
                request,
                _("Please send %(title)s back by %(date)s and enter the tracking number")
                % {"title": request.line.title, "date": timezone.localtime(deadline).strftime("%Y-%m-%d")},
            )
        else:
            _refund_request(order, request, actor=actor, restock=request.restock)
            _tell_buyer(
                order,
                request,
                _("Your after-sales request for %(title)s was approved") % {"title": request.line.title},
            )
    return request


def after_sales_return_ship(
    *, request_id: int, buyer, carrier: str, tracking_number: str, now=None
) -> AfterSalesRequest:
    """awaiting_return → return_shipped: the buyer enters the carrier and tracking number of the
    parcel sent back; the merchant is told. Entering the same again changes nothing; correcting the
    number while the parcel is on its way is allowed. Locks the order, then the request."""
    carrier = (carrier or "").strip()
    tracking_number = (tracking_number or "").strip()
    if not carrier:
        raise DomainError(_("Enter the carrier."), field="carrier")
    if not tracking_number:
        raise DomainError(_("Enter the tracking number."), field="tracking_number")
    if len(carrier) > 40 or len(tracking_number) > 64:
        raise DomainError(_("Carrier or tracking number is too long."), field="tracking_number")
    now = now or timezone.now()
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, buyer=buyer)
        if request.status not in (R.AWAITING_RETURN, R.RETURN_SHIPPED):
            raise InvalidTransition(
                _("This request is %(s)s: no return is expected.") % {"s": request.get_status_display()}
            )
        if (request.return_carrier, request.return_tracking_number) == (carrier, tracking_number):
            return request
        request.status = R.RETURN_SHIPPED
        request.return_carrier = carrier
        request.return_tracking_number = tracking_number
        request.return_shipped_at = request.return_shipped_at or now
        request.save(
            update_fields=["status", "return_carrier", "return_tracking_number", "return_shipped_at"]
        )
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_RETURN_SHIPPED,
            actor=buyer,
            note=f"{carrier} {tracking_number}",
            data={"after_sales_id": request.pk, "carrier": carrier, "tracking_number": tracking_number},
        )
        from django.urls import reverse

        for user_id in merchant_user_ids(order.shop_id):
            notify_user(
                user_id=user_id,
                key=f"after-sales-return-shipped:{request.pk}:{tracking_number}:{user_id}",
                kind="after_sales_return_shipped",
                title=_("A return for order %(number)s is on its way") % {"number": order.number},
                body=f"{carrier} {tracking_number}",
                url=reverse("admin:shop_aftersalesrequest_change", args=[request.pk]),
            )
    return request


def after_sales_return_receive(
    *, request_id: int, actor, restock: bool = False, shop_ids=None, now=None
) -> AfterSalesRequest:
    """The merchant has the returned goods: return_shipped (or awaiting_return, when the parcel came
    before its tracking number) → approved, and the refund starts; `restock` puts the units back on
    sale. `actor` None: taken as received by the timer. Confirming again changes nothing. Locks: the
    order, the request, the payment, SKUs."""
    now = now or timezone.now()
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, shop_ids=shop_ids)
        _require(actor, order, StaffPermission.APPROVE_REFUNDS)
        if request.status in (R.APPROVED, R.REFUNDED):
            return request
        if request.status not in (R.AWAITING_RETURN, R.RETURN_SHIPPED):
            raise InvalidTransition(
                _("This request is %(s)s: there is no return to receive.")
                % {"s": request.get_status_display()}
            )
        request.status = R.APPROVED
        request.restock = bool(restock)
        request.return_received_at = now
        request.save(update_fields=["status", "restock", "return_received_at"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_RETURN_RECEIVED,
            actor=actor,
            note="" if actor is not None else _("Taken as received: the shop did not confirm in time."),
            data={"after_sales_id": request.pk, "restock": request.restock},
        )
        _refund_request(order, request, actor=actor, restock=request.restock)
        _tell_buyer(
            order,
            request,
            _("The shop received your return of %(title)s; the refund has started")
            % {"title": request.line.title},
        )
    return request


def after_sales_close_unreturned(*, request_id: int, now=None) -> AfterSalesRequest:
    """awaiting_return → closed: the buyer did not send the goods back within AFTER_SALES_RETURN_DAYS
    of approval. Anything else (sent meanwhile, withdrawn) is left as it is. Locks the order, then
    the request."""
    now = now or timezone.now()
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id)
        due = request.decided_at and request.decided_at <= now - timedelta(
            days=settings.AFTER_SALES_RETURN_DAYS
        )
        if request.status != R.AWAITING_RETURN or not due:
            return request
        request.status = R.CLOSED
        request.save(update_fields=["status"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_CLOSED,
            note=_("The goods were not sent back in time."),
            data={"after_sales_id": request.pk},
        )
        notify_user(
            user_id=order.buyer_id,
            key=f"after-sales-closed:{request.pk}",
            kind="after_sales_decided",
            title=_("Your return of %(title)s closed: it was not sent back in time")
            % {"title": request.line.title},
            url=buyer_order_url(order),
        )
    return request


def after_sales_run_timers(*, now=None, batch_size: int = 200) -> int:
    """Beat: the after-sales deadlines. Each request due is handled on its own, through the same
    services the people use (each re-checks its state and deadline under the locks), so a run twice,
    or two runs at once, reach the same end. Returns requests moved."""
    now = now or timezone.now()
    moved = 0
    unanswered = AfterSalesRequest.objects.filter(
        status=R.OPEN, created_at__lte=now - timedelta(days=settings.AFTER_SALES_MERCHANT_DAYS)
    )
    unreturned = AfterSalesRequest.objects.filter(
        status=R.AWAITING_RETURN, decided_at__lte=now - timedelta(days=settings.AFTER_SALES_RETURN_DAYS)
    )
    unconfirmed = AfterSalesRequest.objects.filter(
        status=R.RETURN_SHIPPED,
        return_shipped_at__lte=now - timedelta(days=settings.AFTER_SALES_RETURN_RECEIVE_DAYS),
    )
    steps = [
        (unanswered, lambda pk: after_sales_approve(request_id=pk, actor=None, now=now), R.OPEN),
        (unreturned, lambda pk: after_sales_close_unreturned(request_id=pk, now=now), R.AWAITING_RETURN),
        (
            unconfirmed,
            lambda pk: after_sales_return_receive(request_id=pk, actor=None, now=now),
            R.RETURN_SHIPPED,
        ),
    ]
    for queryset, step, before in steps:
        for pk in queryset.order_by("pk").values_list("pk", flat=True)[:batch_size]:
            try:
                with transaction.atomic():
                    # Under the request's locks: another run may have moved it since the query.
                    _order, request = _locked_request(request_id=pk)
                    if request.status != before:
                        continue
                    step(pk)
            except DomainError as error:
                logger.warning("after-sales %s: timer could not move it: %s", pk, error.message)
                continue
            moved += 1
    return moved


def _refund_request(order: Order, request: AfterSalesRequest, *, actor, restock: bool) -> Refund:
    """The refund of a request: its line, units and amount. Caller holds the order and request locks."""
    return refund_create(
        order=order,
        source=Refund.Source.AFTER_SALES,
        lines=[
            RefundLineSpec(line_id=request.line_id, quantity=request.quantity, amount_fen=request.amount_fen)
        ],
        reason=_("After-sales %(kind)s") % {"kind": request.get_kind_display()},
        after_sales=request,
        restock=restock,
        actor=actor,
    )


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
        if order_payment(order) is None:
            raise InvalidTransition(_("This order has no payment to refund."))
        # The units went back on sale (if chosen) with the first attempt.
        _refund_request(order, request, actor=actor, restock=False)
    return request


def after_sales_reject(*, request_id: int, actor, note: str = "", shop_ids=None) -> AfterSalesRequest:
    """open (or a returned parcel the merchant refuses after looking at it) → rejected, with a note for
    the buyer; tells the buyer. Needs the answer-after-sales right. Rejecting again changes nothing."""
    note = (note or "").strip()
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, shop_ids=shop_ids)
        _require(actor, order, StaffPermission.ANSWER_AFTER_SALES)
        if request.status == R.REJECTED:
            return request
        if request.status not in (R.OPEN, R.RETURN_SHIPPED):
            raise InvalidTransition(
                _("This request was already %(s)s.") % {"s": request.get_status_display()}
            )
        request.status = R.REJECTED
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.decision_note = note[:300]
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_REJECTED,
            actor=actor,
            note=request.decision_note,
            data={"after_sales_id": request.pk},
        )
        _tell_buyer(
            order,
            request,
            _("Your after-sales request for %(title)s was declined") % {"title": request.line.title},
        )
    return request


def after_sales_withdraw(*, request_id: int, buyer) -> AfterSalesRequest:
    """open (or approved for a return not yet sent back) → withdrawn by the buyer. Withdrawing again
    changes nothing."""
    with transaction.atomic():
        order, request = _locked_request(request_id=request_id, buyer=buyer)
        if request.status == R.WITHDRAWN:
            return request
        if request.status not in (R.OPEN, R.AWAITING_RETURN):
            raise InvalidTransition(
                _("This request was already %(s)s.") % {"s": request.get_status_display()}
            )
        request.status = R.WITHDRAWN
        request.save(update_fields=["status"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.AFTER_SALES_WITHDRAWN,
            actor=buyer,
            data={"after_sales_id": request.pk},
        )
    return request
