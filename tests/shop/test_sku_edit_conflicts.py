"""Editing a SKU never undoes what happened while the editor was open (issue 7, defect 1).

The admin's product page and the API's SKU PATCH write only the fields the merchant changed, and
refuse a change based on a value that moved since it was read ("stock changed to 7 while you were
editing"), instead of writing the page-load number back over a sale.
"""

from html.parser import HTMLParser

import pytest

from shop.models import SKU, Product
from shop.services import catalog as services
from tests.shop.factories import product_with_grid
from tests.shop.order_factories import place_order

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """The fields a browser would post from the page's main form (inputs, checked boxes, selects,
    textareas), as shown."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._select = None
        self._textarea = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "file", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value", "on")
            else:
                self.data[name] = attrs.get("value", "") or ""
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def form_as_shown(html: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(html)
    return parser.data


def sku_row(data: dict[str, str], sku: SKU) -> str:
    """The inline prefix ("skus-0") of this SKU's row in the posted form."""
    for key, value in data.items():
        if key.startswith("skus-") and key.endswith("-id") and value == str(sku.pk):
            return key[: -len("-id")]
    raise AssertionError(f"SKU {sku.pk} not on the form")


@pytest.fixture
def product(shop):
    return product_with_grid(shop=shop, title="旧标题", colors=("红色",), sizes=(), price_fen=1000, stock=10)


def open_change_form(client, product) -> dict[str, str]:
    response = client.get(f"/admin/shop/product/{product.pk}/change/")
    assert response.status_code == 200
    return form_as_shown(response.content.decode())


def test_a_title_edit_keeps_the_stock_an_order_took_while_the_page_was_open(client, merchant, product):
    client.force_login(merchant)
    sku = product.skus.get()
    data = open_change_form(client, product)
    assert data[f"{sku_row(data, sku)}-stock"] == "10"
    place_order(sku=sku, quantity=3)  # a shopper buys 3 while the merchant is typing
    data["title"] = "新标题"
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    sku.refresh_from_db()
    product.refresh_from_db()
    assert (product.title, sku.stock, sku.price_fen) == ("新标题", 7, 1000)


def test_a_stock_edit_on_a_number_that_moved_is_refused_then_applies_when_saved_again(
    client, merchant, product
):
    client.force_login(merchant)
    sku = product.skus.get()
    data = open_change_form(client, product)
    row = sku_row(data, sku)
    place_order(sku=sku, quantity=3)
    data[f"{row}-stock"] = "12"
    data["title"] = "新标题"
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "库存在你编辑期间变成了 7" in html
    sku.refresh_from_db()
    product.refresh_from_db()
    assert (product.title, sku.stock) == ("旧标题", 7)  # nothing of the refused save was written

    # The form comes back with the merchant's input and the new number as its starting point:
    # saving it again is a deliberate choice, and it applies.
    again = form_as_shown(html)
    assert again[f"{row}-stock"] == "12" and again[f"initial-{row}-stock"] == "7"
    response = client.post(f"/admin/shop/product/{product.pk}/change/", again)
    assert response.status_code == 302, response.content.decode()[:3000]
    sku.refresh_from_db()
    assert sku.stock == 12


def test_a_price_edit_on_a_price_that_moved_is_refused(client, merchant, product):
    client.force_login(merchant)
    sku = product.skus.get()
    data = open_change_form(client, product)
    services.sku_update(sku=sku, price_fen=1500)  # a colleague changes the price meanwhile
    data[f"{sku_row(data, sku)}-price"] = "9.90"
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 200
    assert "¥15.00" in response.content.decode()
    sku.refresh_from_db()
    assert sku.price_fen == 1500


def test_a_stock_edit_on_an_unmoved_number_applies(client, merchant, product):
    client.force_login(merchant)
    sku = product.skus.get()
    data = open_change_form(client, product)
    data[f"{sku_row(data, sku)}-stock"] = "25"
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    sku.refresh_from_db()
    assert sku.stock == 25


# --- The API's SKU PATCH ----------------------------------------------------------------------


@pytest.fixture
def api(merchant):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(merchant)
    return client


def test_api_patch_of_the_price_leaves_stock_an_order_took_alone(api, product):
    sku = product.skus.get()
    read = api.get(f"/api/v1/merchant/products/{product.pk}/").json()
    assert read["skus"][0]["stock"] == 10
    place_order(sku=sku, quantity=3)
    response = api.patch(f"/api/v1/merchant/skus/{sku.pk}/", {"price_fen": 1200}, format="json")
    assert response.status_code == 200, response.json()
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (1200, 7)


def test_api_patch_with_the_stock_it_read_is_refused_once_stock_moved(api, product):
    sku = product.skus.get()
    place_order(sku=sku, quantity=3)
    response = api.patch(
        f"/api/v1/merchant/skus/{sku.pk}/", {"stock": 12, "expected_stock": 10}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "edit_conflict" and "7" in response.json()["stock"][0]
    sku.refresh_from_db()
    assert sku.stock == 7
    response = api.patch(
        f"/api/v1/merchant/skus/{sku.pk}/", {"stock": 12, "expected_stock": 7}, format="json"
    )
    assert response.status_code == 200
    sku.refresh_from_db()
    assert sku.stock == 12


def test_service_writes_only_the_fields_it_is_given(product):
    sku = product.skus.get()
    SKU.objects.filter(pk=sku.pk).update(stock=4)  # a sale, seen by nobody holding `sku`
    services.sku_update(sku=sku, code="R-1")
    sku.refresh_from_db()
    assert (sku.stock, sku.code) == (4, "R-1")
    assert Product.objects.get(pk=product.pk).status == Product.Status.ON_SALE
