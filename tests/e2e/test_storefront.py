"""The storefront in a phone-sized Chromium: home → product → pick a spec. A sold-out combination
is disabled, picking an in-stock one shows its price and stock and arms the buy buttons."""

import pytest

from shop.services import catalog as services
from tests.shop.factories import CategoryFactory, ProductImageFactory, product_with_grid

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_home_to_product_to_spec(page, live_server, screenshot):
    category = CategoryFactory(name="连衣裙")
    product = product_with_grid(
        title="夏季碎花连衣裙",
        colors=("红色", "蓝色"),
        sizes=("S", "M"),
        price_fen=19900,
        stock=5,
        category=category,
    )
    for _ in range(2):
        ProductImageFactory(product=product)
    blue_m = product.skus.get(spec_label="蓝色 / M")
    services.sku_update(sku=blue_m, price_fen=25900, original_price_fen=None, stock=0)
    red_m = product.skus.get(spec_label="红色 / M")
    services.sku_update(sku=red_m, price_fen=21900, original_price_fen=None, stock=2)

    page.goto("/")
    page.wait_for_selector("[data-testid=product-card]")
    assert page.locator("[data-testid=category]", has_text="连衣裙").count() == 1
    screenshot(page, "home")

    page.locator("[data-testid=product-card]", has_text="夏季碎花连衣裙").click()
    page.wait_for_selector("[data-testid=spec-picker]")
    assert page.locator("[data-testid=buy-now]").is_disabled()
    screenshot(page, "product")

    picker = page.locator("[data-testid=spec-picker]")
    picker.get_by_role("button", name="蓝色").click()
    # Blue comes only in S now: M is sold out for blue, so it is disabled.
    assert picker.get_by_role("button", name="M").is_disabled()
    assert picker.get_by_role("button", name="S").is_enabled()
    screenshot(page, "blue-picked-m-disabled")

    picker.get_by_role("button", name="蓝色").click()  # un-pick blue
    picker.get_by_role("button", name="红色").click()
    picker.get_by_role("button", name="M").click()
    assert page.locator("[data-testid=price]").inner_text() == "¥219.00"
    assert "2" in page.locator("#picker-status").inner_text()
    assert page.locator("[data-testid=buy-now]").is_enabled()
    assert page.locator("#buy-form input[name=sku_id]").input_value() == str(red_m.pk)
    assert page.locator("#cart-form input[name=sku_id]").input_value() == str(red_m.pk)
    screenshot(page, "red-m-picked")
