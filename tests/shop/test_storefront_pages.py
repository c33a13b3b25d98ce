"""Storefront pages: what shoppers see, the 朋友♡ ranking, Chinese search, likes, bad input,
fixed query counts, and the whole-page cache (CSRF per visitor, dropped on edit)."""

import re

import pytest
from django.core.cache import cache

from accounts.models import Friendship
from shop.models import Product, Shop
from shop.services import catalog as services
from tests.factories import UserFactory
from tests.shop.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    ProductLikeFactory,
    ShopFactory,
    product_with_grid,
)

pytestmark = pytest.mark.django_db


def befriend(a, b):
    Friendship.objects.create(user=a, friend=b)
    Friendship.objects.create(user=b, friend=a)


def card_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-testid="product-card" data-product-id="(\d+)"', html)]


def test_home_lists_on_sale_products_of_active_shops_only(client, shop):
    visible = product_with_grid(shop=shop, title="连衣裙")
    ProductFactory(shop=shop, status=Product.Status.DRAFT, title="草稿")
    ProductFactory(shop=shop, status=Product.Status.OFF_SHELF, title="下架")
    suspended = ShopFactory(status=Shop.Status.SUSPENDED)
    hidden = product_with_grid(shop=suspended, title="停业店的商品")
    top = CategoryFactory(name="女装")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert card_ids(html) == [visible.pk]
    assert hidden.title not in html
    assert top.name in html
    assert "朋友♡" in html


def test_friends_section_ranks_products_by_how_many_friends_liked_them(client, shop, shopper):
    friends = [UserFactory(nickname=f"朋友{i}") for i in range(3)]
    stranger = UserFactory()
    for friend in friends:
        befriend(shopper, friend)
    popular = product_with_grid(shop=shop, title="三人喜欢")
    liked_once = product_with_grid(shop=shop, title="一人喜欢")
    stranger_only = product_with_grid(shop=shop, title="陌生人喜欢")
    for friend in friends:
        ProductLikeFactory(user=friend, product=popular)
    ProductLikeFactory(user=friends[0], product=liked_once)
    for _ in range(5):
        ProductLikeFactory(user=UserFactory(), product=stranger_only)
    ProductLikeFactory(user=stranger, product=liked_once)
    client.force_login(shopper)
    html = client.get("/").content.decode()
    section = html.split('data-testid="friends-liked"')[1].split("</section>")[0]
    assert section.index("三人喜欢") < section.index("一人喜欢")
    assert "陌生人喜欢" not in section
    assert "3 位朋友喜欢" in section and "1 位朋友喜欢" in section


def test_product_page_shows_gallery_specs_prices_stock_and_buy_forms(client, shop):
    product = product_with_grid(shop=shop, title="连衣裙", price_fen=19900, stock=3)
    sold_out = product.skus.get(spec_label="蓝色 / M")
    services.sku_update(sku=sold_out, price_fen=25900, original_price_fen=29900, stock=0)
    ProductImageFactory(product=product)
    response = client.get(f"/products/{product.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "连衣裙" in html and "¥199.00" in html and "¥259.00" in html and "¥299.00" in html
    assert html.count('class="spec-value"') == 4
    assert 'action="/cart/add/"' in html and 'action="/checkout/buy-now/"' in html
    assert html.count('name="sku_id"') == 2 and html.count('name="quantity"') == 2
    assert html.count("csrfmiddlewaretoken") >= 3
    assert 'id="sku-data"' in html and '"stock": 0' in html
    assert 'class="sold-out"' in html
    assert "js/spec-picker.js" in html


@pytest.mark.parametrize("status", [Product.Status.DRAFT, Product.Status.OFF_SHELF])
def test_hidden_products_and_unknown_ids_are_404(client, shop, status):
    product = ProductFactory(shop=shop, status=status)
    assert client.get(f"/products/{product.pk}/").status_code == 404
    assert client.get("/products/999999/").status_code == 404
    assert client.get("/shops/no-such-shop/").status_code == 404
    assert client.get("/categories/no-such-category/").status_code == 404


def test_suspended_shop_and_its_products_are_404(client):
    product = product_with_grid()
    services.shop_set_status(shop=product.shop, status=Shop.Status.SUSPENDED)
    assert client.get(f"/products/{product.pk}/").status_code == 404
    assert client.get(f"/shops/{product.shop.slug}/").status_code == 404


def test_shop_and_category_pages(client, shop):
    top = CategoryFactory(name="女装")
    child = CategoryFactory(name="连衣裙", parent=top)
    in_child = product_with_grid(shop=shop, title="碎花裙", category=child)
    elsewhere = product_with_grid(title="别家的", category=CategoryFactory())
    assert card_ids(client.get(f"/categories/{top.slug}/").content.decode()) == [in_child.pk]
    assert card_ids(client.get(f"/categories/{child.slug}/").content.decode()) == [in_child.pk]
    assert card_ids(client.get(f"/shops/{shop.slug}/").content.decode()) == [in_child.pk]
    assert elsewhere.pk not in card_ids(client.get(f"/shops/{shop.slug}/").content.decode())


def test_search_finds_chinese_by_two_characters_in_title_subtitle_and_description(client, shop):
    dress = product_with_grid(shop=shop, title="夏季碎花连衣裙")
    by_subtitle = product_with_grid(shop=shop, title="半身裙", subtitle="可搭配连衣款")
    by_description = product_with_grid(shop=shop, title="外套", description="<p>和连衣裙很配</p>")
    product_with_grid(shop=shop, title="衬衫")
    html = client.get("/search/", {"q": "连衣"}).content.decode()
    # Relevance: title match first, then subtitle, then description.
    assert card_ids(html) == [dress.pk, by_subtitle.pk, by_description.pk]
    assert "找到 3 件商品" in html


def test_search_filters_sorting_and_pagination(client, shop, other_shop):
    cheap = product_with_grid(shop=shop, title="连衣裙 A", price_fen=5000)
    dear = product_with_grid(shop=shop, title="连衣裙 B", price_fen=50000)
    theirs = product_with_grid(shop=other_shop, title="连衣裙 C", price_fen=8000)
    Product.objects.filter(pk=theirs.pk).update(sales_count=99)
    get = lambda **params: card_ids(client.get("/search/", params).content.decode())  # noqa: E731
    assert get(q="连衣", sort="price") == [cheap.pk, theirs.pk, dear.pk]
    assert get(q="连衣", sort="-price") == [dear.pk, theirs.pk, cheap.pk]
    assert get(q="连衣", sort="sales")[0] == theirs.pk
    assert get(q="连衣", price_min="60", price_max="100") == [theirs.pk]
    assert get(q="连衣", shop=shop.slug, sort="price") == [cheap.pk, dear.pk]
    for i in range(21):
        product_with_grid(shop=shop, title=f"连衣裙 {i}", colors=("红",), sizes=())
    assert len(get(q="连衣")) == 20
    assert len(get(q="连衣", page=2)) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"q": "裙", "price_min": "abc"},
        {"q": "裙", "price_min": "-5"},
        {"q": "裙", "price_min": "100", "price_max": "10"},
        {"q": "裙", "category": "no-such"},
        {"q": "裙", "sort": "bogus"},
        {"q": "裙", "page": "x"},
    ],
)
def test_bad_search_input_reshows_the_form_with_a_400(client, params):
    response = client.get("/search/", params)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()


def test_like_and_unlike_from_the_product_page(client, shopper, shop):
    product = product_with_grid(shop=shop)
    response = client.post(f"/products/{product.pk}/like/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(shopper)
    client.post(f"/products/{product.pk}/like/")
    client.post(f"/products/{product.pk}/like/")
    product.refresh_from_db()
    assert product.like_count == 1
    html = client.get(f"/products/{product.pk}/").content.decode()
    assert 'aria-pressed="true"' in html
    client.post(f"/products/{product.pk}/like/", {"action": "unlike"})
    product.refresh_from_db()
    assert product.like_count == 0
    assert client.get(f"/products/{product.pk}/like/").status_code == 405


def test_like_redirect_stays_on_this_site(client, shopper, shop):
    product = product_with_grid(shop=shop)
    client.force_login(shopper)
    response = client.post(f"/products/{product.pk}/like/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/products/{product.pk}/"


# --- The whole-page cache -----------------------------------------------------------------------


def test_cached_product_page_gives_each_visitor_their_own_csrf_token(shop):
    from django.test import Client

    product = product_with_grid(shop=shop)
    first, second = Client(), Client()
    html_one = first.get(f"/products/{product.pk}/").content.decode()
    html_two = second.get(f"/products/{product.pk}/").content.decode()
    token_one = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html_one).group(1)
    token_two = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html_two).group(1)
    assert "__weshop_csrf" not in html_two
    assert token_one != token_two
    # The token really works for the second visitor (a POST with CSRF checks on).
    checked = Client(enforce_csrf_checks=True)
    page = checked.get(f"/products/{product.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = checked.post(f"/products/{product.pk}/like/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302  # to sign in, not 403


def test_edits_show_at_once_on_cached_pages(client, shop, django_capture_on_commit_callbacks):
    product = product_with_grid(shop=shop, title="旧标题", stock=5)
    assert "旧标题" in client.get(f"/products/{product.pk}/").content.decode()
    assert "旧标题" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product=product, title="新标题")
    assert "新标题" in client.get(f"/products/{product.pk}/").content.decode()
    assert "新标题" in client.get("/").content.decode()
    # Stock changes (orders, merchants) show too.
    sku = product.skus.first()
    with django_capture_on_commit_callbacks(execute=True):
        services.sku_stock_set(sku=sku, stock=0)
    html = client.get(f"/products/{product.pk}/").content.decode()
    assert f'<tr data-sku="{sku.pk}" class="sold-out">' in html
    with django_capture_on_commit_callbacks(execute=True):
        services.product_set_status(product=product, status=Product.Status.OFF_SHELF)
    assert client.get(f"/products/{product.pk}/").status_code == 404
    assert "新标题" not in client.get("/").content.decode()


def test_cached_pages_cost_no_queries_the_second_time(client, shop, django_assert_num_queries):
    product = product_with_grid(shop=shop)
    client.get(f"/products/{product.pk}/")
    client.get("/")
    with django_assert_num_queries(0):
        assert client.get(f"/products/{product.pk}/").status_code == 200
        assert client.get("/").status_code == 200


def test_order_events_drop_cached_product_pages(client, shop, shopper, django_capture_on_commit_callbacks):
    from shop import signals
    from shop.models import Order, OrderLine

    product = product_with_grid(shop=shop, stock=5)
    client.get(f"/products/{product.pk}/")
    assert cache.get(f"catalog:product:page:{product.pk}:zh-hans:split")
    from django.utils import timezone

    order = Order.objects.create(
        number="T1", buyer=shopper, shop=shop, items_fen=100, total_fen=100, payment_deadline=timezone.now()
    )
    OrderLine.objects.create(
        order=order, product=product, title="t", unit_price_fen=100, quantity=1, total_fen=100
    )
    with django_capture_on_commit_callbacks(execute=True):
        signals.order_placed.send(sender=Order, order=order)
    assert cache.get(f"catalog:product:page:{product.pk}:zh-hans:split") is None


def test_signed_in_pages_are_not_served_from_the_shared_cache(client, shop, shopper):
    product = product_with_grid(shop=shop)
    client.get(f"/products/{product.pk}/")
    client.force_login(shopper)
    html = client.get(f"/products/{product.pk}/").content.decode()
    assert shopper.display_name in html


# --- Query counts: fixed however many products, SKUs and images ---------------------------------


@pytest.fixture
def big_catalog(shop):
    category = CategoryFactory(name="女装")
    products = []
    for i in range(25):
        product = product_with_grid(
            shop=shop, title=f"连衣裙{i}", colors=("红", "蓝", "白"), sizes=("S", "M", "L"), category=category
        )
        for _ in range(3):
            ProductImageFactory(product=product)
        products.append(product)
    return products


def _count_queries(client, url, django_assert_max_num_queries, limit):
    cache.clear()
    with django_assert_max_num_queries(limit):
        response = client.get(url)
    assert response.status_code == 200
    return response


def test_list_pages_use_a_fixed_number_of_queries(
    client, shop, shopper, big_catalog, django_assert_max_num_queries
):
    category = big_catalog[0].category
    for url in ["/", f"/shops/{shop.slug}/", f"/categories/{category.slug}/", "/search/?q=连衣"]:
        _count_queries(client, url, django_assert_max_num_queries, 6)
    client.force_login(shopper)
    for friend in [UserFactory() for _ in range(4)]:
        befriend(shopper, friend)
        for product in big_catalog[:10]:
            ProductLikeFactory(user=friend, product=product)
    # Signed in: session, user, one query for the personal figures and the 朋友♡ section on top.
    for url in ["/", f"/categories/{category.slug}/", "/search/?q=连衣"]:
        _count_queries(client, url, django_assert_max_num_queries, 11)


def test_product_page_uses_a_fixed_number_of_queries(
    client, shopper, big_catalog, django_assert_max_num_queries
):
    product = big_catalog[0]
    _count_queries(client, f"/products/{product.pk}/", django_assert_max_num_queries, 6)
    client.force_login(shopper)
    # Signed in, cache cold: the shared part (six), the session, the user, and one query for every
    # personal figure. Warm counts are pinned in test_catalog_cache.py.
    _count_queries(client, f"/products/{product.pk}/", django_assert_max_num_queries, 9)
