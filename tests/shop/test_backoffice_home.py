"""The back office as a merchant sees it: the themed admin, the "today" page and the to-do badge,
money in yuan, times in the shop's time zone, record pages without a Save button."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from shop.models import SKU, AfterSalesRequest, Order, OrderEvent
from shop.services.aftersales import after_sales_create
from tests.shop.order_factories import make_sku, pay_order, place_order

pytestmark = pytest.mark.django_db

TODAY = "/admin/today/"


def _paid(shop, n=1, price_fen=18400):
    sku = make_sku(shop=shop, price_fen=price_fen, stock=50)
    return [pay_order(place_order(sku=sku)) for _ in range(n)]


def _after_sales(order) -> AfterSalesRequest:
    return after_sales_create(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        quantity=1,
        reason="不想要了",
    )


def test_the_admin_is_themed_chinese_first_with_the_shops_name_and_opens_on_today(client, merchant):
    client.force_login(merchant)
    html = client.get("/admin/").content.decode()
    assert "simpleui-x" in html  # the theme's own static files, served by the app
    assert "小店商家后台" in html
    assert TODAY in html and "今日待办" in html
    # No CDN or outside address in the page the merchant loads.
    assert not re.search(r'(src|href)="https?://', html)


def test_today_page_says_what_to_do_for_the_merchants_shops_only(client, merchant, shop, other_shop):
    mine = _paid(shop, 2)
    _after_sales(mine[0])
    theirs = _paid(other_shop, 3, price_fen=99999)
    _after_sales(theirs[0])
    SKU.objects.filter(product__shop=shop).update(stock=2)
    client.force_login(merchant)
    response = client.get(TODAY)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'data-figure="to_ship">2<', html)
    assert re.search(r'data-figure="after_sales">1<', html)
    assert re.search(r'data-figure="low_stock">1<', html)
    assert re.search(r'data-figure="sales_total">¥368.00<', html)
    assert all(order.number in html for order in mine)
    assert not any(order.number in html for order in theirs) and "¥999.99" not in html
    assert reverse("admin:shop_shop_dashboard") in html
    # Times in the shop's time zone (Asia/Shanghai), not UTC.
    paid_local = timezone.localtime(mine[0].paid_at).strftime("%m-%d %H:%M")
    assert paid_local in html


def test_rows_that_arrived_since_the_last_visit_are_marked_new(client, merchant, shop):
    client.force_login(merchant)
    _paid(shop, 1)
    assert "today-new" not in client.get(TODAY).content.decode()  # first visit: nothing to compare with
    (later,) = _paid(shop, 1)
    Order.objects.filter(pk=later.pk).update(paid_at=timezone.now() + timedelta(seconds=1))
    html = client.get(TODAY).content.decode()
    assert html.count('class="today-new"') == 1


def test_every_admin_page_carries_the_to_do_badge(client, merchant, shop, other_shop):
    (order,) = _paid(shop, 1)
    _after_sales(order)
    _paid(other_shop, 2)
    client.force_login(merchant)
    for url in [
        reverse("admin:shop_product_changelist"),
        reverse("admin:shop_order_change", args=[order.pk]),
    ]:
        html = client.get(url).content.decode()
        assert 'data-testid="todo-badge"' in html
        assert re.search(r'data-count="to_ship">1<', html) and re.search(r'data-count="after_sales">1<', html)
        # Whose back office this is: the merchant's shop, named on every page (not another shop's).
        assert re.search(rf'data-testid="shop-name">{re.escape(shop.name)}<', html)
        assert other_shop.name not in html


def test_shoppers_get_no_back_office(client, shopper):
    client.force_login(shopper)
    assert client.get(TODAY).status_code == 302  # to the admin's sign-in


def test_order_page_is_a_record_in_yuan_and_local_time_without_save(client, merchant, shop):
    (order,) = _paid(shop, 1)
    client.force_login(merchant)
    url = reverse("admin:shop_order_change", args=[order.pk])
    html = client.get(url).content.decode()
    assert "¥184.00" in html and "18400" not in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    event = OrderEvent.objects.filter(order=order, kind="paid").get()
    assert timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M") in str(event)
    # A POST to the page saves nothing, even a changed status.
    response = client.post(url, {"status": "completed", "_save": "1"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_after_sales_page_shows_the_refund_in_yuan_without_save(client, merchant, shop):
    (order,) = _paid(shop, 1)
    request_row = _after_sales(order)
    client.force_login(merchant)
    html = client.get(reverse("admin:shop_aftersalesrequest_change", args=[request_row.pk])).content.decode()
    assert "¥184.00" in html and 'name="_save"' not in html
    assert 'data-testid="decide-form"' in html


def test_messages_stay_on_the_page_escaped(client, merchant, shop):
    """The theme shows messages as pop-ups built from unescaped HTML; ours are an escaped list."""
    from tests.shop.factories import ProductFactory

    product = ProductFactory(shop=shop, status="draft", title="<b>没定价</b>")
    client.force_login(merchant)
    response = client.post(
        reverse("admin:shop_product_changelist"),
        {"action": "put_on_sale", "_selected_action": [product.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert 'class="messagelist"' in html and "&lt;b&gt;没定价&lt;/b&gt;" in html
    assert "<b>没定价</b>" not in html
