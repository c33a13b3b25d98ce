"""After-sales: requests on a line with photos, approve (refund through the sandbox, optional restock),
reject, withdraw; an open request holds completion back; others' orders are out of reach."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import Notification
from shop.models import SKU, AfterSalesRequest, Order, Refund
from shop.payments.sandbox.notify import build_refund_notification
from shop.services.aftersales import (
    after_sales_approve,
    after_sales_create,
    after_sales_refund_retry,
    after_sales_reject,
    after_sales_withdraw,
)
from shop.services.errors import (
    AfterSalesAlreadyOpen,
    AfterSalesNotAllowed,
    AfterSalesNotFound,
    InvalidPhoto,
    InvalidQuantity,
    InvalidTransition,
)
from shop.services.orders import orders_complete_due
from shop.services.payments import payment_start
from tests.shop.order_factories import celery_eager, make_sku, place_order, receive_order, ship_order  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, REFUND_NOTIFY, post_notification

pytestmark = pytest.mark.django_db


def png(name="p.png", size=(8, 8)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def paid_order(client, wechatpay_sandbox):
    sku = make_sku(stock=10, price_fen=1000)
    order = place_order(sku=sku, quantity=3)
    payment_start(order_id=order.pk, buyer=order.buyer, client_ip="1.2.3.4", return_url="")
    payment = order.payments.get()
    assert post_notification(client, NOTIFY, *wechatpay_sandbox.confirm(payment.prepay_id)).status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


def _request(order, **overrides):
    data = {
        "buyer": order.buyer,
        "order_id": order.pk,
        "line_id": order.lines.get().pk,
        "kind": "refund_only",
        "quantity": 1,
        "reason": "不想要了",
    }
    data.update(overrides)
    return after_sales_create(**data)


@pytest.mark.usefixtures("celery_eager")
def test_approve_refunds_through_the_provider_restocks_and_tells_the_buyer(
    client, paid_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = paid_order
    request = _request(order, quantity=2, photos=[png()])
    assert request.amount_fen == 2000 and request.photos.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        after_sales_approve(request_id=request.pk, actor=order.shop.owner, restock=True, note="已同意")
    request.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.APPROVED
    assert SKU.objects.get(pk=order.lines.get().sku_id).stock == 10 - 3 + 2
    refund = Refund.objects.get(after_sales=request)
    assert refund.amount_fen == 2000 and refund.refund_id
    assert Notification.objects.filter(user=order.buyer, key=f"after-sales-decided:{request.pk}").count() == 1

    headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    request.refresh_from_db(), order.refresh_from_db()
    line = order.lines.get()
    assert request.status == AfterSalesRequest.Status.REFUNDED
    assert (line.refunded_quantity, line.refunded_fen, order.refunded_fen) == (2, 2000, 2000)

    # Approving again changes nothing.
    after_sales_approve(request_id=request.pk, actor=order.shop.owner, restock=True)
    assert Refund.objects.filter(after_sales=request).count() == 1
    assert SKU.objects.get(pk=line.sku_id).stock == 9


def test_last_units_take_the_remainder_so_parts_add_up():
    sku = make_sku(price_fen=1000)
    order = place_order(sku=sku, quantity=3)
    line = order.lines.get()
    line.total_fen = 1001  # as if a discount left an odd total
    from shop.services.aftersales import after_sales_amount_fen

    assert after_sales_amount_fen(line, 1) == 333
    line.refunded_quantity, line.refunded_fen = 2, 666
    assert after_sales_amount_fen(line, 1) == 335


def test_reject_and_withdraw(paid_order):
    order = paid_order
    request = _request(order)
    after_sales_reject(request_id=request.pk, actor=order.shop.owner, note="已发货无法退")
    after_sales_reject(request_id=request.pk, actor=order.shop.owner, note="again")
    request.refresh_from_db()
    assert request.status == "rejected" and request.decision_note == "已发货无法退"
    with pytest.raises(InvalidTransition):
        after_sales_approve(request_id=request.pk, actor=order.shop.owner)
    second = _request(order)
    after_sales_withdraw(request_id=second.pk, buyer=order.buyer)
    assert AfterSalesRequest.objects.get(pk=second.pk).status == "withdrawn"
    assert not Refund.objects.exists()


def test_refusals(paid_order, other_shopper, other_shop):
    order = paid_order
    with pytest.raises(AfterSalesNotAllowed):
        _request(order, kind="return_refund")  # not shipped yet
    with pytest.raises(InvalidQuantity):
        _request(order, quantity=4)
    _request(order)
    with pytest.raises(AfterSalesAlreadyOpen):
        _request(order)
    from shop.services.errors import OrderNotFound

    with pytest.raises(OrderNotFound):
        _request(order, buyer=other_shopper)
    request = AfterSalesRequest.objects.get()
    with pytest.raises(AfterSalesNotFound):
        after_sales_approve(request_id=request.pk, actor=other_shop.owner, shop_ids=[other_shop.pk])
    with pytest.raises(AfterSalesNotFound):
        after_sales_withdraw(request_id=request.pk, buyer=other_shopper)
    assert AfterSalesRequest.objects.get().status == "open"


def test_photos_must_be_real_images_within_the_limit(paid_order, settings):
    with pytest.raises(InvalidPhoto):
        _request(paid_order, photos=[SimpleUploadedFile("x.png", b"not an image", content_type="image/png")])
    settings.MAX_IMAGE_UPLOAD_BYTES = 10
    with pytest.raises(InvalidPhoto):
        _request(paid_order, photos=[png()])
    assert not AfterSalesRequest.objects.exists()


def test_window_closes_after_the_days_and_an_open_request_holds_completion(paid_order):
    order = receive_order(ship_order(paid_order), days_ago=3)
    request = _request(order, kind="return_refund")
    Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - timedelta(days=30))
    assert orders_complete_due() == 0
    after_sales_reject(request_id=request.pk, actor=order.shop.owner)
    assert orders_complete_due() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    with pytest.raises(AfterSalesNotAllowed):
        _request(order)


def test_request_page_with_photo_and_bad_input(client, paid_order):
    order = paid_order
    client.force_login(order.buyer)
    url = reverse("shop:after-sales-new", args=[order.number])
    line = order.lines.get()
    assert client.get(url + f"?line={line.pk}").status_code == 200
    bad = client.post(url, {"line_id": line.pk, "kind": "refund_only", "quantity": 9, "reason": "坏了"})
    assert bad.status_code == 200 and bad.context["form"].errors
    not_image = client.post(
        url,
        {
            "line_id": line.pk,
            "kind": "refund_only",
            "quantity": 1,
            "reason": "坏了",
            "photos": [SimpleUploadedFile("a.jpg", b"zzz", content_type="image/jpeg")],
        },
    )
    assert not_image.status_code == 200 and not_image.context["form"].errors
    ok = client.post(
        url,
        {
            "line_id": line.pk,
            "kind": "refund_only",
            "quantity": 1,
            "reason": "坏了",
            "photos": [png(), png("b.png")],
        },
    )
    assert ok.status_code == 302
    request = AfterSalesRequest.objects.get()
    assert request.photos.count() == 2
    listing = client.get(reverse("shop:after-sales"))
    assert "坏了" in listing.content.decode()
    detail = client.get(reverse("shop:order-detail", args=[order.number]))
    assert 'data-testid="after-sales-item"' in detail.content.decode()


def test_admin_queue_decides_within_the_merchants_shops(client, paid_order, other_shop):
    order = paid_order
    request = _request(order)
    outsider = other_shop.owner
    client.force_login(outsider)
    change = reverse("admin:shop_aftersalesrequest_change", args=[request.pk])
    assert client.get(change).status_code in (302, 404)
    client.post(reverse("admin:shop_aftersalesrequest_decide", args=[request.pk]), {"decision": "reject"})
    assert AfterSalesRequest.objects.get().status == "open"

    client.force_login(order.shop.owner)
    listing = client.get(reverse("admin:shop_aftersalesrequest_changelist"))
    assert listing.status_code == 200 and order.number in listing.content.decode()
    assert client.get(change).status_code == 200
    client.post(
        reverse("admin:shop_aftersalesrequest_decide", args=[request.pk]),
        {"decision": "reject", "decision_note": "不行"},
    )
    request.refresh_from_db()
    assert request.status == "rejected" and request.decision_note == "不行"


@pytest.mark.usefixtures("celery_eager")
def test_a_refused_refund_can_be_retried_from_the_admin_and_then_settles(
    client, paid_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = paid_order
    request = _request(order, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        after_sales_approve(request_id=request.pk, actor=order.shop.owner)
    first = Refund.objects.get(after_sales=request)
    payment = order.payments.get()
    # WeChat Pay closes the refund (it was not made): it fails and may be retried. (ABNORMAL is not a
    # failure: the money is held at the provider; see tests/shop/test_refunds.py.)
    headers, body = build_refund_notification(
        out_refund_no=first.out_refund_no,
        refund_id=first.refund_id,
        out_trade_no=payment.out_trade_no,
        transaction_id=payment.transaction_id,
        amount_fen=first.amount_fen,
        total_fen=payment.amount_fen,
        refund_status="CLOSED",
    )
    assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    first.refresh_from_db(), request.refresh_from_db()
    assert first.status == Refund.Status.FAILED and request.status == AfterSalesRequest.Status.APPROVED

    # Retrying while nothing is processing submits a new refund, once.
    client.force_login(order.shop.owner)
    changelist = reverse("admin:shop_aftersalesrequest_changelist")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(changelist, {"action": "retry_refund", "_selected_action": [request.pk]})
        assert response.status_code == 302
    refunds = list(Refund.objects.filter(after_sales=request).order_by("pk"))
    assert len(refunds) == 2 and refunds[1].status == Refund.Status.PROCESSING

    headers, body = wechatpay_sandbox.refund_notification(refunds[1].out_refund_no)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    request.refresh_from_db(), order.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.REFUNDED and order.refunded_fen == request.amount_fen

    # A refunded request has nothing left to retry; a rejected one refuses.
    after_sales_refund_retry(request_id=request.pk, actor=order.shop.owner)
    assert Refund.objects.filter(after_sales=request).count() == 2


def test_retrying_a_refund_of_a_request_never_approved_is_refused(paid_order):
    request = _request(paid_order)
    with pytest.raises(InvalidTransition):
        after_sales_refund_retry(request_id=request.pk, actor=paid_order.shop.owner)
