"""Merchant admin for orders: scoped list with filters and search, ship one order or many at once
through an intermediate form, refusals shown as messages with nothing changed."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import Order
from tests.shop.order_factories import make_sku, pay_order, place_order

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:shop_order_changelist"


def _orders(shop, n, paid=True):
    sku = make_sku(shop=shop)
    orders = [place_order(sku=sku) for _ in range(n)]
    return [pay_order(o) for o in orders] if paid else orders


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_staff_see_only_their_shops_orders(client, shop, other_shop):
    mine = _orders(shop, 3)
    theirs = _orders(other_shop, 2)
    client.force_login(shop.owner)
    few = _count_queries(client, reverse(CHANGELIST))
    mine += _orders(shop, 6)
    # The change list costs the same whatever its length (no query per row).
    assert _count_queries(client, reverse(CHANGELIST)) == few
    page = client.get(reverse(CHANGELIST))
    html = page.content.decode()
    assert all(o.number in html for o in mine) and not any(o.number in html for o in theirs)
    assert client.get(reverse("admin:shop_order_change", args=[theirs[0].pk])).status_code in (302, 404)
    assert client.get(reverse("admin:shop_order_change", args=[mine[0].pk])).status_code == 200


def test_filter_by_status_and_search_by_number_and_phone(client, shop):
    paid = _orders(shop, 2)
    unpaid = _orders(shop, 1, paid=False)
    client.force_login(shop.owner)
    html = client.get(reverse(CHANGELIST) + "?status__exact=pending_payment").content.decode()
    assert unpaid[0].number in html and paid[0].number not in html
    html = client.get(reverse(CHANGELIST) + f"?q={paid[1].number}").content.decode()
    assert paid[1].number in html and paid[0].number not in html
    html = client.get(reverse(CHANGELIST) + f"?q={paid[0].buyer.phone}").content.decode()
    assert paid[0].number in html
    since = "?created_at__gte=2020-01-01+00%3A00%3A00%2B08%3A00"
    assert client.get(reverse(CHANGELIST) + since).status_code == 200


def test_ship_many_at_once_through_the_intermediate_form(client, shop):
    orders = _orders(shop, 3)
    unpaid = _orders(shop, 1, paid=False)[0]
    client.force_login(shop.owner)
    ids = [o.pk for o in orders] + [unpaid.pk]
    form = client.post(reverse(CHANGELIST), {"action": "ship_orders", ACTION_CHECKBOX_NAME: ids})
    assert form.status_code == 200 and 'data-testid="ship-form"' in form.content.decode()
    assert Order.objects.filter(status="shipped").count() == 0

    data = {"action": "ship_orders", ACTION_CHECKBOX_NAME: ids, "apply": "1", "carrier_all": "中通快递"}
    for i, order_id in enumerate(ids):
        data[f"tracking_{order_id}"] = f"ZT{i:06d}"
    data[f"carrier_{orders[0].pk}"] = "顺丰速运"
    response = client.post(reverse(CHANGELIST), data, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("3" in m for m in messages) and any(unpaid.number in m for m in messages)
    shipped = {o.pk: (o.carrier, o.tracking_number) for o in Order.objects.filter(status="shipped")}
    assert shipped == {
        orders[0].pk: ("顺丰速运", "ZT000000"),
        orders[1].pk: ("中通快递", "ZT000001"),
        orders[2].pk: ("中通快递", "ZT000002"),
    }
    assert Order.objects.get(pk=unpaid.pk).status == "pending_payment"


def test_ship_one_from_its_page_and_missing_tracking_reshows(client, shop):
    order = _orders(shop, 1)[0]
    client.force_login(shop.owner)
    change = client.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert 'data-testid="ship-order"' in change
    url = reverse("admin:shop_order_ship", args=[order.pk])
    assert client.get(url).status_code == 200
    again = client.post(url, {"apply": "1", f"carrier_{order.pk}": "顺丰速运", f"tracking_{order.pk}": ""})
    assert again.status_code == 200
    assert Order.objects.get(pk=order.pk).status == "paid"
    done = client.post(url, {"apply": "1", f"carrier_{order.pk}": "顺丰速运", f"tracking_{order.pk}": "SF9"})
    assert done.status_code == 302
    assert Order.objects.get(pk=order.pk).tracking_number == "SF9"


def test_other_shops_staff_cannot_ship_by_url_or_action(client, shop, other_shop):
    order = _orders(shop, 1)[0]
    client.force_login(other_shop.owner)
    response = client.post(
        reverse("admin:shop_order_ship", args=[order.pk]),
        {"apply": "1", f"carrier_{order.pk}": "EMS", f"tracking_{order.pk}": "E1"},
    )
    assert response.status_code in (302, 404)
    client.post(
        reverse(CHANGELIST),
        {
            "action": "ship_orders",
            ACTION_CHECKBOX_NAME: [order.pk],
            "apply": "1",
            f"carrier_{order.pk}": "EMS",
            f"tracking_{order.pk}": "E1",
        },
    )
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_operator_sees_all_and_orders_cannot_be_added_or_deleted(client, operator, shop, other_shop):
    a, b = _orders(shop, 1)[0], _orders(other_shop, 1)[0]
    client.force_login(operator)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert a.number in html and b.number in html
    assert client.get(reverse("admin:shop_order_add")).status_code == 403
    assert client.get(reverse("admin:shop_order_delete", args=[a.pk])).status_code == 403
