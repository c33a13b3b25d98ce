"""Batch ship from a spreadsheet: preview with an error per row, nothing shipped unless every row is
good, the same ship service and events as shipping one order, another shop's order revealing nothing."""

import re

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from import_export.formats.base_formats import XLSX

from accounts.models import Notification
from shop.models import Order, OrderEvent
from tests.shop.order_factories import celery_eager, make_sku, pay_order, place_order  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/admin/shop/order/batch-ship/"
HEADERS = ["订单号", "快递公司", "快递单号"]


def _paid(shop, n):
    sku = make_sku(shop=shop, stock=100)
    return [pay_order(place_order(sku=sku)) for _ in range(n)]


def _xlsx(rows, headers=HEADERS) -> SimpleUploadedFile:
    dataset = tablib.Dataset(*rows, headers=headers)
    return SimpleUploadedFile("ship.xlsx", XLSX().export_data(dataset))


def _csv(rows, headers=HEADERS) -> SimpleUploadedFile:
    dataset = tablib.Dataset(*rows, headers=headers)
    return SimpleUploadedFile("ship.csv", ("\ufeff" + dataset.export("csv")).encode())


def _preview(client, upload):
    response = client.post(URL, {"sheet": upload})
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<tr class="row-(ok|error)">(.*?)</tr>', html, re.S)
    token = re.search(r'name="token" value="([^"]+)"', html)
    return html, rows, token.group(1) if token else None


@pytest.mark.usefixtures("celery_eager")
def test_good_sheet_previews_then_ships_through_the_ship_service(
    client, shop, django_capture_on_commit_callbacks
):
    orders = _paid(shop, 3)
    client.force_login(shop.owner)
    sheet = _xlsx([[order.number, "顺丰速运", f"SF{index:010d}"] for index, order in enumerate(orders)])
    html, rows, token = _preview(client, sheet)
    assert [status for status, _ in rows] == ["ok", "ok", "ok"] and token
    # The preview shipped nothing.
    assert Order.objects.filter(status=Order.Status.SHIPPED).count() == 0
    assert not OrderEvent.objects.filter(kind="shipped").exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"confirm": "1", "token": token})
    assert response.status_code == 302
    for index, order in enumerate(orders):
        order.refresh_from_db()
        assert order.status == Order.Status.SHIPPED and order.tracking_number == f"SF{index:010d}"
        event = OrderEvent.objects.get(order=order, kind="shipped")
        assert event.actor == shop.owner and event.from_status == "paid"
        assert Notification.objects.filter(user=order.buyer, kind="order_shipped").count() == 1
    # Confirming the same preview again changes nothing (same tracking numbers: already shipped).
    assert client.post(URL, {"confirm": "1", "token": token}).status_code == 302
    assert OrderEvent.objects.filter(kind="shipped").count() == 3


def test_bad_duplicate_and_foreign_rows_are_shown_and_nothing_is_shipped(client, shop, other_shop):
    good, unpaid_source = _paid(shop, 2)
    unpaid = place_order(sku=make_sku(shop=shop))
    (foreign,) = _paid(other_shop, 1)
    client.force_login(shop.owner)
    sheet = _csv(
        [
            [good.number, "顺丰速运", "SF1"],
            [unpaid.number, "顺丰速运", "SF2"],
            [good.number, "中通快递", "ZT3"],  # the same order twice
            [foreign.number, "顺丰速运", "SF4"],  # another shop's order
            ["99999999999999999999", "顺丰速运", "SF5"],  # no such order
            [unpaid_source.number, "顺丰速运", ""],  # no tracking number
        ]
    )
    html, rows, token = _preview(client, sheet)
    statuses = [status for status, _ in rows]
    assert statuses == ["ok", "error", "error", "error", "error", "error"], html
    assert token is None and 'data-testid="batch-ship-confirm"' not in html
    errors = [re.search(r'class="row-error-text">([^<]*)<', cells) for _, cells in rows]
    messages = [match.group(1) if match else "" for match in errors]
    assert good.number in messages[2] and "2" in messages[2]  # "already on row 2"
    assert messages[1] and messages[5]
    # Another shop's order reads exactly like a number that does not exist.
    assert messages[3].replace(foreign.number, "N") == messages[4].replace("99999999999999999999", "N")
    assert other_shop.name not in html
    assert Order.objects.filter(status=Order.Status.SHIPPED).count() == 0


def test_a_forged_or_stale_confirmation_ships_nothing(client, shop):
    first, second = _paid(shop, 2)
    client.force_login(shop.owner)
    sheet = _xlsx([[first.number, "顺丰速运", "SF1"], [second.number, "顺丰速运", "SF2"]])
    _, _, token = _preview(client, sheet)
    # Between preview and confirmation the second order is shipped from its own page.
    client.post(
        reverse("admin:shop_order_ship", args=[second.pk]),
        {"apply": "1", f"carrier_{second.pk}": "中通快递", f"tracking_{second.pk}": "ZT9"},
    )
    second.refresh_from_db()
    assert second.status == Order.Status.SHIPPED
    response = client.post(URL, {"confirm": "1", "token": token})
    assert response.status_code == 200 and "row-error" in response.content.decode()
    first.refresh_from_db()
    assert first.status == Order.Status.PAID  # nothing applied
    assert client.post(URL, {"confirm": "1", "token": token[:-3] + "abc"}, follow=True).status_code == 200
    first.refresh_from_db()
    assert first.status == Order.Status.PAID


def test_template_round_trip_and_unreadable_files(client, shop, other_shop):
    mine = _paid(shop, 2)
    _paid(other_shop, 1)
    client.force_login(shop.owner)
    response = client.get(reverse("admin:shop_order_batch_ship_template", args=["xlsx"]))
    assert response.status_code == 200
    dataset = XLSX().create_dataset(response.content)
    assert dataset.headers[:3] == HEADERS
    assert sorted(row[0] for row in dataset) == sorted(order.number for order in mine)
    filled = [[row[0], "圆通速递", f"YT{index}"] for index, row in enumerate(dataset)]
    _, rows, token = _preview(client, _xlsx(filled))
    assert [status for status, _ in rows] == ["ok", "ok"] and token
    # Not a spreadsheet, a sheet without the columns: the form again with a message, nothing shipped.
    for upload in [
        SimpleUploadedFile("ship.xlsx", b"not a zip"),
        SimpleUploadedFile("ship.txt", b"a,b"),
        _xlsx([["x", "y"]], headers=["a", "b"]),
    ]:
        response = client.post(URL, {"sheet": upload})
        assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert Order.objects.filter(status=Order.Status.SHIPPED).count() == 0


def test_shoppers_and_other_shops_staff_cannot_use_it(client, shopper, other_shop, shop):
    (order,) = _paid(shop, 1)
    client.force_login(shopper)
    assert client.get(URL).status_code == 302
    client.force_login(other_shop.owner)
    _, rows, token = _preview(client, _xlsx([[order.number, "顺丰速运", "SF1"]]))
    assert [status for status, _ in rows] == ["error"] and token is None
    response = client.get(reverse("admin:shop_order_batch_ship_template", args=["csv"]))
    assert order.number not in response.content.decode("utf-8-sig")
