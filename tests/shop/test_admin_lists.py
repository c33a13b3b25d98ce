"""The admin's cheaper row rendering (shop/admin/lists.py FastRowsMixin) writes exactly what Django's
own would: the same action checkbox and the same change links."""

import pytest
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.test import RequestFactory
from django.urls import reverse

from shop.models import Order
from tests.shop.order_factories import make_sku, place_order

pytestmark = pytest.mark.django_db


def test_rows_render_the_same_checkbox_and_links_as_django(client, shop):
    order = place_order(sku=make_sku(shop=shop, stock=5))
    model_admin = admin.site._registry[Order]
    assert str(model_admin.action_checkbox(order)) == str(ModelAdmin.action_checkbox(model_admin, order))

    request = RequestFactory().get("/admin/shop/order/")
    request.user = shop.owner
    changelist = model_admin.get_changelist_instance(request)
    assert changelist.url_for_result(order) == reverse("admin:shop_order_change", args=[order.pk])

    client.force_login(shop.owner)
    html = client.get(reverse("admin:shop_order_changelist")).content.decode()
    assert str(model_admin.action_checkbox(order)) in html
    assert f'href="{reverse("admin:shop_order_change", args=[order.pk])}"' in html


def test_later_pages_fetch_ids_first_and_show_the_same_rows_in_the_same_order(client, shop, monkeypatch):
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    model_admin = admin.site._registry[Order]
    monkeypatch.setattr(type(model_admin), "list_per_page", 3)
    sku = make_sku(shop=shop, stock=50)
    for _ in range(8):
        place_order(sku=sku)
    expected = list(shop.orders.order_by("-created_at", "-pk").values_list("number", flat=True))
    client.force_login(shop.owner)
    url = reverse("admin:shop_order_changelist")
    shown = []
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url, {"p": page}).content.decode()
        shown += re.findall(r'<th class="field-number"><a [^>]*>(\d+)</a>', html)
        ids_only = 'SELECT "shop_order"."id" AS "pk" FROM'
        ids_first = [q["sql"] for q in captured if q["sql"].startswith(ids_only)]
        assert bool(ids_first) == (page > 1)  # the deferred join, only where rows are skipped
    assert shown == expected


def test_a_merchant_with_one_shop_gets_no_shop_column_or_filter(client, shop, other_shop, operator):
    place_order(sku=make_sku(shop=shop, stock=5))
    url = reverse("admin:shop_order_changelist")
    client.force_login(shop.owner)
    html = client.get(url).content.decode()
    assert 'class="field-number"' in html and "field-shop" not in html
    assert "shop__id__exact" not in html
    client.force_login(operator)
    html = client.get(url).content.decode()
    assert "field-shop" in html and "shop__id__exact" in html
