"""The showcase and share card are built like the catalog's pages: the shared part cached (a warm
page costs no query signed out, and only the visitor's own facts signed in), the visitor's parts
layered on (never stored with the shared part), and dropped on commit of what changes them."""

import pytest
from django.core.cache import cache
from django.test import Client

from affiliates import services
from tests.affiliates.helpers import creator_link, make_promoter, make_sku, offer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def showcase():
    sku = make_sku(price_fen=1990)
    offer(sku, 1000)
    creator = make_promoter(name="缓存达人")
    link = creator_link(creator, sku)
    return sku, creator, link


def test_warm_showcase_costs_no_query_signed_out_and_layers_the_visitor(
    showcase, django_assert_max_num_queries
):
    sku, creator, link = showcase
    url = f"/s/{creator.showcase_code}/"
    first = Client().get(url)
    assert first.status_code == 200 and sku.product.title in first.content.decode()
    with django_assert_max_num_queries(0):
        again = Client().get(url)
    assert again.status_code == 200 and sku.product.title in again.content.decode()
    shopper = UserFactory(nickname="逛橱窗的人")
    signed_in = Client()
    signed_in.force_login(shopper)
    signed_in.get(url)
    with django_assert_max_num_queries(3):  # the user, the visitor's facts (badges), the session
        mine = signed_in.get(url).content.decode()
    assert "逛橱窗的人" in mine and sku.product.title in mine
    assert "逛橱窗的人" not in Client().get(url).content.decode()  # never stored with the shared part
    card = f"/card/{link.code}/"
    Client().get(card)
    with django_assert_max_num_queries(0):
        assert f"/t/{link.code}" in Client().get(card).content.decode()


def test_showcase_changes_show_at_once(showcase, operator):
    sku, creator, _link = showcase
    url = f"/s/{creator.showcase_code}/"
    assert sku.product.title in Client().get(url).content.decode()
    services.showcase_remove(promoter=creator, product_id=sku.product_id)
    assert sku.product.title not in Client().get(url).content.decode()
    services.showcase_add(promoter=creator, product_id=sku.product_id)
    assert sku.product.title in Client().get(url).content.decode()
    # A merchant renames the product: the catalog generation retires the page.
    from shop.catalog_cache import catalog_cache_invalidate
    from shop.models import Product

    Product.objects.filter(pk=sku.product_id).update(title="改名后的商品")
    catalog_cache_invalidate(product_ids=[sku.product_id])
    assert "改名后的商品" in Client().get(url).content.decode()
    services.promoter_freeze(promoter_id=creator.pk, operator=operator)
    assert Client().get(url).status_code == 404
    services.promoter_unfreeze(promoter_id=creator.pk, operator=operator)
    assert Client().get(url).status_code == 200
