"""The catalog cache (shop.catalog_cache): shared parts cached once for every shopper, personal parts
layered per request, and every change showing on the next request.

- two shoppers with different carts, likes, friends and purchases, requests interleaved over warm
  caches: each page and API answer carries only the asker's own data;
- a price change, a sale that empties a SKU and a product taken off shelf show on the next request
  for every shopper, pages and API alike;
- query counts of every page and endpoint, signed in, with the cache cold and warm.
"""

import json
import re

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Friendship
from shop import catalog_cache
from shop.models import CartLine, Order, Product
from shop.services import catalog as services
from shop.services.cart import cart_add, cart_get_or_create
from shop.services.checkout import checkout_place
from tests.factories import AddressFactory, UserFactory
from tests.shop.factories import CategoryFactory, ProductImageFactory, ProductLikeFactory, product_with_grid
from tests.shop.order_factories import celery_eager  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def befriend(a, b):
    Friendship.objects.create(user=a, friend=b)
    Friendship.objects.create(user=b, friend=a)


def hearts(html: str) -> dict[int, bool]:
    """Card id -> whether its heart is filled, for every card on the page."""
    cards = re.findall(r'data-product-id="(\d+)">(.*?)</a>', html, flags=re.S)
    return {int(pk): 'data-testid="liked"' in body for pk, body in cards if "product-card-body" in body}


def friends_section(html: str) -> str:
    return html.split('data-testid="friends-liked"')[1].split("</section>")[0]


def like_button(html: str) -> str:
    return re.search(r'<button[^>]*data-testid="like-button"[^>]*>.*?</button>', html, flags=re.S).group(0)


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


@pytest.fixture
def catalog(shop):
    category = CategoryFactory(name="女装", slug="nvzhuang")
    products = [
        product_with_grid(shop=shop, title=f"连衣裙{i}", category=category, price_fen=10000 + i)
        for i in range(3)
    ]
    for product in products:
        ProductImageFactory(product=product)
    return products


@pytest.fixture
def two_shoppers(catalog, django_capture_on_commit_callbacks):
    """阿花: 2 items in her cart, ♡ product 0, a friend who ♡ product 2.
    阿草: 5 items in his cart, ♡ product 1, no friends, has bought product 0."""
    first, second, third = catalog
    hua, cao = UserFactory(nickname="阿花"), UserFactory(nickname="阿草")
    friend = UserFactory(nickname="花的朋友")
    befriend(hua, friend)
    ProductLikeFactory(user=friend, product=third)
    ProductLikeFactory(user=hua, product=first)
    ProductLikeFactory(user=cao, product=second)
    cart_add(cart=cart_get_or_create(user=hua), sku_id=first.skus.first().pk, quantity=2)
    cart_add(cart=cart_get_or_create(user=cao), sku_id=third.skus.first().pk, quantity=5)
    AddressFactory(user=cao)
    with django_capture_on_commit_callbacks(execute=True):
        order = checkout_place(
            buyer=cao, address_id=cao.addresses.get().pk, items=[(first.skus.last().pk, 1)]
        )[0]
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    Product.objects.filter(pk__in=[p.pk for p in catalog]).update(like_count=0)  # a figure all share
    cache.clear()
    return hua, cao


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_shared_parts_never_carry_one_shoppers_data_into_anothers_page(catalog, two_shoppers):
    hua, cao = two_shoppers
    first, second, third = catalog
    clients = {"hua": signed_in(hua), "cao": signed_in(cao), "anonymous": Client()}
    pages = [
        "/",
        "/shops/" + first.shop.slug + "/",
        "/categories/nvzhuang/",
        "/search/?q=连衣",
        f"/products/{first.pk}/",
    ]
    seen: dict[tuple[str, str], str] = {}
    # Interleaved, twice over: the first visitor of each page fills the cache, the others read it.
    for _round in range(2):
        for url in pages:
            for name in ("cao", "hua", "anonymous") if _round else ("hua", "anonymous", "cao"):
                response = clients[name].get(url)
                assert response.status_code == 200, (name, url)
                seen[name, url] = response.content.decode()

    for url in pages:
        hua_html, cao_html, anon_html = seen["hua", url], seen["cao", url], seen["anonymous", url]
        assert "阿花" in hua_html and "阿草" not in hua_html
        assert "阿草" in cao_html and "阿花" not in cao_html
        assert "阿花" not in anon_html and "阿草" not in anon_html and "/accounts/login/?next=" in anon_html
        assert 'data-testid="cart-count">2<' in hua_html
        assert 'data-testid="cart-count">5<' in cao_html
        assert 'data-testid="cart-count"' not in anon_html
        assert "<!--personal:" not in hua_html + cao_html + anon_html
        assert "__weshop_csrf_placeholder__" not in hua_html + cao_html + anon_html
        # Each visitor's own CSRF token, never another's.
        assert csrf_tokens(hua_html).isdisjoint(csrf_tokens(cao_html))
        if url != f"/products/{first.pk}/":
            assert hearts(hua_html) == {first.pk: True, second.pk: False, third.pk: False}
            assert hearts(cao_html) == {first.pk: False, second.pk: True, third.pk: False}
            assert not any(hearts(anon_html).values())

    home = {name: friends_section(seen[name, "/"]) for name in ("hua", "cao", "anonymous")}
    assert third.title in home["hua"] and "花的朋友" in home["hua"]
    assert third.title not in home["cao"] and "朋友们还没有喜欢的商品" in home["cao"]
    assert third.title not in home["anonymous"] and "/accounts/login/" in home["anonymous"]

    product = f"/products/{first.pk}/"
    assert 'aria-pressed="true"' in like_button(seen["hua", product])
    assert 'aria-pressed="false"' in like_button(seen["cao", product])
    assert 'data-testid="bought"' in seen["cao", product]
    assert 'data-testid="bought"' not in seen["hua", product] + seen["anonymous", product]


def test_api_answers_are_shared_but_liked_is_the_askers_own(catalog, two_shoppers):
    hua, cao = two_shoppers
    first, second, _third = catalog
    clients = {"hua": APIClient(), "cao": APIClient(), "anonymous": APIClient()}
    clients["hua"].force_authenticate(hua)
    clients["cao"].force_authenticate(cao)
    answers = {}
    for _round in range(2):
        for name in ("hua", "anonymous", "cao") if _round else ("cao", "hua", "anonymous"):
            for pk in (first.pk, second.pk):
                answers[name, pk] = clients[name].get(f"/api/v1/products/{pk}/").json()
            answers[name, "list"] = clients[name].get("/api/v1/products/?q=连衣").json()
    assert [answers["hua", pk]["liked"] for pk in (first.pk, second.pk)] == [True, False]
    assert [answers["cao", pk]["liked"] for pk in (first.pk, second.pk)] == [False, True]
    assert [answers["anonymous", pk]["liked"] for pk in (first.pk, second.pk)] == [False, False]
    for pk in (first.pk, second.pk):
        without_liked = [{k: v for k, v in answers[name, pk].items() if k != "liked"} for name in clients]
        assert without_liked[0] == without_liked[1] == without_liked[2]
    assert answers["hua", "list"] == answers["cao", "list"] == answers["anonymous", "list"]
    assert answers["hua", "list"]["count"] == 3


def test_a_token_callers_liked_is_read_with_the_token_and_is_theirs_alone(
    catalog, two_shoppers, django_assert_max_num_queries
):
    """The product detail reads the caller's token and their ♡ of the product in one statement; the
    ♡ is the caller's own whoever asked before, and a refused token still gets no answer."""
    from rest_framework.authtoken.models import Token

    hua, cao = two_shoppers
    first, second, _third = catalog
    keys = {user: Token.objects.create(user=user).key for user in (hua, cao)}
    liked = {}
    for _round in range(2):
        for user in (cao, hua) if _round else (hua, cao):
            for product in (first, second):
                client = APIClient()
                client.credentials(HTTP_AUTHORIZATION=f"Token {keys[user]}")
                with django_assert_max_num_queries(1 if _round else 8):
                    answer = client.get(f"/api/v1/products/{product.pk}/")
                assert answer.status_code == 200
                liked[user.nickname, product.pk, _round] = answer.json()["liked"]
    for _round in (0, 1):
        assert [liked["阿花", p.pk, _round] for p in (first, second)] == [True, False]
        assert [liked["阿草", p.pk, _round] for p in (first, second)] == [False, True]

    # Signed in by session as 阿花 and sending 阿草's token: session authentication comes first in
    # DRF's list, so the answer is 阿花's, and so is the ♡.
    both = APIClient()
    both.force_login(hua)
    both.credentials(HTTP_AUTHORIZATION=f"Token {keys[cao]}")
    assert both.get(f"/api/v1/products/{first.pk}/").json()["liked"] is True
    assert both.get(f"/api/v1/products/{second.pk}/").json()["liked"] is False

    refused = APIClient()
    refused.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert refused.get(f"/api/v1/products/{first.pk}/").status_code in (401, 403)
    type(hua).objects.filter(pk=hua.pk).update(is_active=False)
    refused.credentials(HTTP_AUTHORIZATION=f"Token {keys[hua]}")
    assert refused.get(f"/api/v1/products/{first.pk}/").status_code in (401, 403)
    missing = APIClient()
    missing.credentials(HTTP_AUTHORIZATION=f"Token {keys[cao]}")
    assert missing.get("/api/v1/products/999999999/").status_code == 404
    assert missing.get(f"/api/v1/products/{2**63}/").status_code == 404  # beyond any key: not read ahead


def test_plain_json_callers_skip_negotiation_and_others_still_get_theirs(catalog):
    client = APIClient()
    url = f"/api/v1/products/{catalog[0].pk}/"
    for accept in (None, "*/*", "application/json"):
        headers = {"HTTP_ACCEPT": accept} if accept else {}
        answer = client.get(url, **headers)
        assert answer["Content-Type"] == "application/json" and answer.json()["id"] == catalog[0].pk
    assert client.get(url, HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")
    assert client.get(url + "?format=api", HTTP_ACCEPT="*/*")["Content-Type"].startswith("text/html")
    indented = client.get(url, HTTP_ACCEPT="application/json; indent=2")
    assert indented.content.decode().startswith('{\n  "')
    assert client.get(url, HTTP_ACCEPT="image/png").status_code == 406


def test_a_marker_typed_by_a_merchant_is_text_not_a_hole(shop, shopper):
    product = product_with_grid(shop=shop)
    services.product_update(
        product=product, title="<!--personal:nav-->", description="<p><!--personal:nav--></p>"
    )
    html = signed_in(shopper).get(f"/products/{product.pk}/").content.decode()
    assert "&lt;!--personal:nav--&gt;" in html
    assert html.count('class="inbox-link"') == 1  # the real nav only


def test_a_percent_sign_typed_by_a_merchant_survives_the_split_page(shop, shopper):
    """A stored page is joined with `%` (split_page doubles every other `%` of its text): a title
    and description with `%` and `%s` in them show as typed, built and then read from the cache."""
    product = product_with_grid(shop=shop)
    services.product_update(product=product, title="纯棉100% 满%s减%d", description="<p>50%off %(x)s</p>")
    client = signed_in(shopper)
    for _ in range(2):
        html = client.get(f"/products/{product.pk}/").content.decode()
        assert "纯棉100% 满%s减%d" in html and "50%off %(x)s" in html
        assert "纯棉100% 满%s减%d" in client.get("/").content.decode()


def test_pages_are_stored_split_under_keys_of_their_own_apart_from_earlier_versions(catalog, shopper):
    """A page's shared part is stored as split_page cuts it, under layered_key: a process of an
    earlier version (the HTML string under the bare key) and this one never read each other's entry."""
    first = catalog[0]
    bare = catalog_cache.product_key(catalog_cache.PAGE_KIND, first.pk, "zh-hans")
    cache.set(bare, "<p>an earlier version's page</p>")
    html = signed_in(shopper).get(f"/products/{first.pk}/").content.decode()
    assert "earlier version" not in html and first.title in html
    text, markers, slots, ids = cache.get(catalog_cache.layered_key(bare))
    assert ("nav", ()) in markers and (catalog_cache.CSRF_SLOT, ()) in markers
    assert ("like_form", (first.pk, first.like_count)) in markers
    assert "<!--personal:" not in text and catalog_cache.CSRF_PLACEHOLDER not in text
    assert text.count("%s") == len(slots) and ids["like_form"] == {first.pk}
    assert cache.get(bare) == "<p>an earlier version's page</p>"  # left to the earlier version


def _session_request(rf, client):
    """A request carrying `client`'s session, through the session and auth middleware."""
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    request = rf.get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    return request


def test_one_split_page_is_filled_per_shopper_as_its_plain_string_is(two_shoppers, catalog, rf):
    """The same stored split page, filled for two shoppers in turn, shows each only their own parts,
    exactly as the page's HTML string filled directly (which personalize still takes); a marker that
    recurs is filled everywhere it stands, and every CSRF placeholder, in the page or in the ♡ form,
    gets the same token, which is the asker's alone."""
    hua, cao = two_shoppers
    first, second, _third = catalog
    html = (
        "<p>100% 棉, %s %%</p><!--personal:cart_badge-->"
        f"<!--personal:heart:{first.pk}--><!--personal:heart:{second.pk}--><!--personal:heart:{first.pk}-->"
        f"<!--personal:like_form:{first.pk}:7--><!--personal:bought:{first.pk}-->"
        '<input name="csrfmiddlewaretoken" value="__weshop_csrf_placeholder__"><p>end</p>'
    )
    stored = catalog_cache.split_page(html)
    clients = {hua.pk: signed_in(hua), cao.pk: signed_in(cao)}
    pages = {}
    for user in (hua, cao, hua, cao):
        from_split = catalog_cache.personalize(_session_request(rf, clients[user.pk]), stored)
        from_string = catalog_cache.personalize(_session_request(rf, clients[user.pk]), html)
        token = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')
        assert token.sub(r"\1", from_split) == token.sub(r"\1", from_string)
        assert len(csrf_tokens(from_split)) == 1 and from_split.count("csrfmiddlewaretoken") == 2
        pages.setdefault(user.pk, []).append(from_split)
    for hua_page, cao_page in zip(pages[hua.pk], pages[cao.pk], strict=True):
        for page in (hua_page, cao_page):
            assert page.startswith("<p>100% 棉, %s %%</p>") and page.endswith("<p>end</p>")
            assert "<!--personal:" not in page and catalog_cache.CSRF_PLACEHOLDER not in page
        assert cart_count(hua_page) == "2" and cart_count(cao_page) == "5"
        assert hua_page.count('data-testid="liked"') == 2 and cao_page.count('data-testid="liked"') == 1
        assert 'aria-pressed="true"' in like_button(hua_page) and 'aria-pressed="false"' in like_button(
            cao_page
        )
        assert 'data-testid="bought"' in cao_page and 'data-testid="bought"' not in hua_page
        assert csrf_tokens(hua_page).isdisjoint(csrf_tokens(cao_page))


class Visitors:
    """A signed-in shopper, another one, and a signed-out visitor, reading pages and the API."""

    def __init__(self, users):
        self.pages = [signed_in(user) for user in users] + [Client()]
        self.api = []
        for user in [*users, None]:
            client = APIClient()
            if user:
                client.force_authenticate(user)
            self.api.append(client)

    def page(self, url) -> list:
        return [client.get(url) for client in self.pages]

    def api_get(self, url) -> list:
        return [client.get(url) for client in self.api]


@pytest.mark.usefixtures("celery_eager")  # order events reach the cache's receiver through the outbox
def test_price_change_sale_and_off_shelf_show_on_the_next_request_for_everyone(
    catalog, shopper, other_shopper, django_capture_on_commit_callbacks
):
    first, second, _third = catalog
    visitors = Visitors([shopper, other_shopper])
    product_url, api_url = f"/products/{first.pk}/", f"/api/v1/products/{first.pk}/"

    def warm():
        for url in ("/", product_url, "/search/?q=连衣", "/categories/nvzhuang/"):
            visitors.page(url)
        visitors.api_get(api_url)
        visitors.api_get("/api/v1/products/")

    # A price change.
    warm()
    sku = first.skus.order_by("pk").first()
    with django_capture_on_commit_callbacks(execute=True):
        services.sku_update(sku=sku, price_fen=8800, original_price_fen=None, stock=sku.stock)
    for response in visitors.page(product_url) + visitors.page("/") + visitors.page("/search/?q=连衣"):
        assert "¥88.00" in response.content.decode()
    for response in visitors.api_get(api_url):
        assert {s["id"]: s["price_fen"] for s in response.json()["skus"]}[sku.pk] == 8800
    for response in visitors.api_get("/api/v1/products/"):
        assert {p["id"]: p["price_fen"] for p in response.json()["results"]}[first.pk] == 8800

    # A sale that empties a SKU (through checkout and its order event).
    warm()
    buyer = UserFactory()
    AddressFactory(user=buyer)
    with django_capture_on_commit_callbacks(execute=True):
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, sku.stock)])
    for response in visitors.page(product_url):
        row = re.search(
            rf'<tr data-sku="{sku.pk}"[^>]*>.*?</tr>', response.content.decode(), flags=re.S
        ).group(0)
        assert "sold-out" in row and "售罄" in row
    for response in visitors.api_get(api_url):
        assert {s["id"]: s["stock"] for s in response.json()["skus"]}[sku.pk] == 0

    # Taken off shelf.
    warm()
    with django_capture_on_commit_callbacks(execute=True):
        services.product_set_status(product=first, status=Product.Status.OFF_SHELF)
    assert [r.status_code for r in visitors.page(product_url)] == [404, 404, 404]
    assert [r.status_code for r in visitors.api_get(api_url)] == [404, 404, 404]
    for url in ("/", "/search/?q=连衣", "/categories/nvzhuang/"):
        for response in visitors.page(url):
            assert f'data-product-id="{first.pk}"' not in response.content.decode()
            assert f'data-product-id="{second.pk}"' in response.content.decode()
    for response in visitors.api_get("/api/v1/products/"):
        assert first.pk not in [p["id"] for p in response.json()["results"]]


def test_an_order_or_a_like_drops_the_products_own_parts_and_leaves_list_pages(
    catalog, shopper, django_capture_on_commit_callbacks
):
    first = catalog[0]
    client = signed_in(shopper)
    client.get("/")
    client.get(f"/products/{first.pk}/")
    home = catalog_cache.layered_key(catalog_cache.list_key(name="home", language="zh-hans", parts=(1,)))
    generation = catalog_cache.generation()
    assert cache.get(home)[0] == generation
    with django_capture_on_commit_callbacks(execute=True):
        services.product_like(user=shopper, product=first)
    assert (
        cache.get(catalog_cache.layered_key(catalog_cache.product_key("page", first.pk, "zh-hans"))) is None
    )
    assert catalog_cache.generation() == generation
    assert cache.get(home)[0] == generation  # still there, still current
    # The liker sees the ♥ at once on the cached list page: it is a personal part.
    assert hearts(client.get("/").content.decode())[first.pk] is True


# --- Query counts, signed in -------------------------------------------------------------------


@pytest.fixture
def big_catalog(shop):
    category = CategoryFactory(name="女装", slug="nvzhuang")
    products = []
    for i in range(22):
        product = product_with_grid(
            shop=shop, title=f"连衣裙{i}", category=category, colors=("红", "蓝", "白")
        )
        ProductImageFactory(product=product)
        ProductImageFactory(product=product)
        products.append(product)
    return products


@pytest.fixture
def busy_shopper(shopper, big_catalog):
    """Friends who like things, likes of their own, a cart and a past order: every personal part shows."""
    for _ in range(3):
        friend = UserFactory()
        befriend(shopper, friend)
        for product in big_catalog[:6]:
            ProductLikeFactory(user=friend, product=product)
    for product in big_catalog[::3]:
        ProductLikeFactory(user=shopper, product=product)
    cart = cart_get_or_create(user=shopper)
    for product in big_catalog[:3]:
        CartLine.objects.create(cart=cart, sku=product.skus.first(), quantity=1)
    return shopper


# (page, cold: shared part built too, warm: the shared part from the cache). Warm is one query: the
# user and every personal figure (♥ of the page's cards, cart and inbox badges, "you bought this")
# in one statement; 朋友♡ is cached per shopper after the first view. Session reads hit Redis, and
# the connection's health check reads its socket (no SELECT 1).
SIGNED_IN_PAGE_QUERIES = [
    ("/", 9, 1),
    ("/shops/{shop}/", 5, 1),
    ("/categories/nvzhuang/", 7, 1),
    ("/search/?q=连衣", 6, 1),
    ("/products/{product}/", 8, 1),
]


@pytest.mark.parametrize(("url", "cold", "warm"), SIGNED_IN_PAGE_QUERIES)
def test_signed_in_pages_run_a_fixed_number_of_queries(
    busy_shopper, big_catalog, shop, url, cold, warm, django_assert_max_num_queries
):
    url = url.format(shop=shop.slug, product=big_catalog[0].pk)
    client = signed_in(busy_shopper)
    cache.clear()
    client.get("/accounts/")  # the session is in the cache from here on, as for a real shopper
    with django_assert_max_num_queries(cold):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(warm):
        response = client.get(url)
    assert response.status_code == 200
    assert 'data-testid="cart-count">3<' in response.content.decode()


@pytest.mark.parametrize(
    ("url", "cold", "warm"), [("/api/v1/products/{product}/", 7, 1), ("/api/v1/products/?q=连衣", 3, 1)]
)
def test_signed_in_api_runs_a_fixed_number_of_queries(
    busy_shopper, big_catalog, url, cold, warm, django_assert_max_num_queries
):
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=busy_shopper).key}")
    url = url.format(product=big_catalog[0].pk)
    with django_assert_max_num_queries(cold):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(warm):
        assert client.get(url).status_code == 200


def test_friends_section_is_cached_per_shopper_and_follows_friends_likes_and_friendships(
    catalog, shopper, other_shopper, django_capture_on_commit_callbacks
):
    from accounts.services import friendship_create, friendship_remove

    first, second, _third = catalog
    befriend(shopper, other_shopper)
    client = signed_in(shopper)
    assert first.title not in friends_section(client.get("/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        services.product_like(user=other_shopper, product=first)
    assert first.title in friends_section(client.get("/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        services.product_unlike(user=other_shopper, product=first)
    assert first.title not in friends_section(client.get("/").content.decode())

    newcomer = UserFactory(nickname="新朋友")
    ProductLikeFactory(user=newcomer, product=second)
    assert second.title not in friends_section(client.get("/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        friendship_create(user=shopper, friend=newcomer)
    assert "新朋友" in friends_section(client.get("/").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        friendship_remove(user=shopper, friend_id=newcomer.pk)
    assert "新朋友" not in friends_section(client.get("/").content.decode())
    # A price change (a catalog generation) shows in the section too.
    with django_capture_on_commit_callbacks(execute=True):
        services.product_like(user=other_shopper, product=first)
        sku = first.skus.order_by("pk").first()
        services.sku_update(sku=sku, price_fen=7700, original_price_fen=None, stock=sku.stock)
    assert "¥77.00" in friends_section(client.get("/").content.decode())


def test_signed_out_visitors_see_their_own_cart_badge_only(catalog):
    first = catalog[0]
    with_cart, without = Client(), Client()
    response = with_cart.post("/cart/add/", {"sku_id": first.skus.first().pk, "quantity": 3, "next": "/"})
    assert response.status_code == 302
    for _round in range(2):
        for client in (without, with_cart):
            client.get("/")
    assert 'data-testid="cart-count">3<' in with_cart.get("/").content.decode()
    assert 'data-testid="cart-count"' not in without.get("/").content.decode()
    assert 'data-testid="cart-count"' not in without.get(f"/products/{first.pk}/").content.decode()


def test_personal_parts_rendered_once_follow_language_path_and_visitor(catalog, two_shoppers):
    """Personal parts are rendered once per distinct set of values (catalog_cache._fragment): the
    sign-in link still names the page asked for, the language asked in, and each shopper's own
    name and badges, whatever was rendered just before."""
    hua, cao = two_shoppers
    first, second, _third = catalog
    clients = {"hua": signed_in(hua), "cao": signed_in(cao)}
    for _round in range(2):
        for product in (first, second):
            for language, sign_in in (("zh-hans", "登录"), ("en", "Sign in")):
                html = Client(HTTP_ACCEPT_LANGUAGE=language).get(f"/products/{product.pk}/").content.decode()
                assert f'/accounts/login/?next=/products/{product.pk}/">{sign_in}</a>' in html
            for name, other in (("hua", "阿草"), ("cao", "阿花")):
                html = clients[name].get(f"/products/{product.pk}/").content.decode()
                assert other not in html and "/accounts/login/?next=" not in html
    assert ">阿花</a>" in clients["hua"].get("/").content.decode()
    assert ">阿草</a>" in clients["cao"].get("/").content.decode()


@pytest.fixture
def redis_round_trips(monkeypatch):
    """How many times this process wrote a command (or a pipeline) to Redis: a spy on redis-py's
    connection, which still sends everything to the real server."""
    import redis.connection

    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.mark.parametrize("url", ["/", "/search/?q=连衣", "/products/{product}/"])
def test_a_warm_signed_in_page_reads_its_session_with_its_shared_part(
    busy_shopper, big_catalog, url, redis_round_trips, django_assert_max_num_queries
):
    """The session (cached_db) is read from Redis in the same round trip as the page's shared part:
    one Redis round trip for a warm product or search page, two for home (朋友♡ is its own entry,
    read once the shopper is known). Queries stay at two (the shopper, and every personal figure)."""
    url = url.format(product=big_catalog[0].pk)
    client = signed_in(busy_shopper)
    client.get("/accounts/")  # the session is in the cache from here on
    assert client.get(url).status_code == 200  # the shared part is in the cache from here on
    redis_round_trips.clear()
    with django_assert_max_num_queries(2):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert busy_shopper.display_name in html and 'data-testid="cart-count">3<' in html
    assert len(redis_round_trips) == (2 if url == "/" else 1), redis_round_trips


def test_a_session_the_cache_lost_is_read_from_the_database(busy_shopper, big_catalog):
    client = signed_in(busy_shopper)
    url = f"/products/{big_catalog[0].pk}/"
    assert busy_shopper.display_name in client.get(url).content.decode()
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    cache.delete(SessionStore.cache_key_prefix + session_key)  # evicted, or Redis restarted empty
    html = client.get(url).content.decode()
    assert busy_shopper.display_name in html and "/accounts/login/?next=" not in html
    assert cache.get(SessionStore.cache_key_prefix + session_key) is not None  # and cached again


def test_a_signed_out_session_is_not_taken_from_the_prefetch(busy_shopper, big_catalog):
    client = signed_in(busy_shopper)
    url = f"/products/{big_catalog[0].pk}/"
    assert busy_shopper.display_name in client.get(url).content.decode()
    client.post("/accounts/logout/")
    html = client.get(url).content.decode()
    assert busy_shopper.display_name not in html and "/accounts/login/?next=" in html


def test_api_answers_are_the_stored_json_with_the_callers_own_fields_added(catalog, two_shoppers):
    """Plain JSON answers are the stored bytes (+ `liked`); other formats still go through DRF."""
    hua, _cao = two_shoppers
    first = catalog[0]
    client = APIClient()
    client.force_authenticate(hua)
    url = f"/api/v1/products/{first.pk}/"
    cold, warm = client.get(url), client.get(url)
    assert cold.status_code == warm.status_code == 200
    assert cold["Content-Type"] == warm["Content-Type"] == "application/json"
    assert json.loads(warm.content) == json.loads(cold.content)
    assert json.loads(warm.content)["liked"] is True and json.loads(warm.content)["id"] == first.pk
    assert warm.content.endswith(b',"liked":true}')
    indented = client.get(url, HTTP_ACCEPT="application/json; indent=2")
    assert indented.status_code == 200 and b'\n  "liked": true' in indented.content
    browsable = client.get(url, HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200 and b"liked" in browsable.content
    listing = [client.get("/api/v1/products/?q=连衣") for _ in range(2)]
    assert listing[0].content == listing[1].content and json.loads(listing[1].content)["count"] == 3
    assert client.get("/api/v1/products/?q=连衣&format=api").status_code == 200


def test_an_api_entry_not_stored_as_json_bytes_is_rebuilt(catalog, two_shoppers):
    """An entry of another shape under an API key (written by another version during a deploy) is
    a miss, never a 500."""
    hua, _cao = two_shoppers
    first = catalog[0]
    client = APIClient()
    client.force_authenticate(hua)
    cache.set(catalog_cache.product_key(catalog_cache.API_KIND, first.pk, "zh-hans"), {"id": first.pk})
    answer = client.get(f"/api/v1/products/{first.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert answer.status_code == 200 and answer.json()["liked"] is True and answer.json()["skus"]
    listing = client.get("/api/v1/products/?q=连衣")
    key = next(k for k in cache.keys("*api-products*"))  # django-redis: keys without the prefix
    cache.set(key, (catalog_cache.generation(), {"results": []}))
    again = client.get("/api/v1/products/?q=连衣")
    assert again.status_code == 200 and again.json() == listing.json()


# --- the user and the personal figures in one statement (Visitor.load_signed_in) -----------------
def cart_count(html: str) -> str:
    """The cart badge's figure ('' when the page shows none)."""
    found = re.search(r'data-testid="cart-count">([^<]*)<', html)
    return found.group(1) if found else ""


def test_a_session_whose_password_changed_elsewhere_shows_nobodys_figures(two_shoppers, catalog):
    """The user read with the figures is only a candidate: django.contrib.auth still checks the
    session's password hash against it, and a failed check shows the page signed out."""
    hua, _cao = two_shoppers
    client = signed_in(hua)
    page = client.get(f"/products/{catalog[0].pk}/").content.decode()
    assert cart_count(page) == "2" and "阿花" in page
    hua.set_password("a-new-password-123")
    hua.save(update_fields=["password"])
    page = client.get(f"/products/{catalog[0].pk}/").content.decode()
    assert "阿花" not in page and cart_count(page) in ("", "0")
    assert not like_button(page).count('data-testid="liked"')


def test_a_deactivated_shopper_is_signed_out_on_the_next_layered_page(two_shoppers, catalog):
    hua, _cao = two_shoppers
    client = signed_in(hua)
    assert "阿花" in client.get("/").content.decode()
    type(hua).objects.filter(pk=hua.pk).update(is_active=False)
    page = client.get("/").content.decode()
    assert "阿花" not in page and cart_count(page) in ("", "0")


def test_a_page_that_loaded_the_user_first_still_reads_the_figures_once(two_shoppers, catalog, rf):
    """When something earlier in the request already loaded the user, the figures are read on their
    own, for that user (two queries, as before the combined statement)."""
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    hua, cao = two_shoppers
    client = signed_in(cao)
    request = rf.get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    assert request.user.pk == cao.pk  # loaded before the page
    shared = f"<!--personal:cart_badge--><!--personal:heart:{catalog[1].pk}-->"
    with CaptureQueriesContext(connection) as queries:
        html = catalog_cache.personalize(request, shared)
    assert len(queries) == 1
    assert ">5<" in html and 'data-testid="liked"' in html


def test_friends_section_is_read_with_the_page_and_a_wrong_hint_shows_only_the_askers_own(
    two_shoppers, catalog, monkeypatch
):
    """Home reads 朋友♡ in the page's one Redis round trip, under the user this process last saw
    on the session. The hint only picks a key to read: a hint naming another shopper (whose section
    is cached) still shows the asker's own friends."""
    hua, cao = two_shoppers
    third = catalog[2]  # 阿花's friend ♡ it; 阿草 has no friends
    hua_client, cao_client = signed_in(hua), signed_in(cao)
    cao_section = friends_section(cao_client.get("/").content.decode())  # cached for 阿草
    assert third.title not in cao_section
    hua_client.get("/")  # the hint for 阿花's session is now 阿花
    trips = []
    real_get_many, real_get = cache.get_many, cache.get
    # Counting the real calls (each is one round trip), not replacing them.
    monkeypatch.setattr(cache, "get_many", lambda keys, **kw: trips.append(keys) or real_get_many(keys, **kw))
    monkeypatch.setattr(cache, "get", lambda key, *a, **kw: trips.append(key) or real_get(key, *a, **kw))
    page = hua_client.get("/").content.decode()
    assert third.title in friends_section(page)
    assert len(trips) == 1  # the page, the generation, the session and 朋友♡ together

    hua_session = hua_client.cookies[settings.SESSION_COOKIE_NAME].value
    catalog_cache.session_user_remember(hua_session, cao.pk)  # a wrong hint
    trips.clear()
    page = hua_client.get("/").content.decode()
    assert third.title in friends_section(page) and friends_section(page) != cao_section
    assert len(trips) == 2  # the wrong key read for nothing, then 阿花's own
