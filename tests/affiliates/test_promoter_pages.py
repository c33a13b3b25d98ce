"""The promoter's own pages (product pool, showcase editing, links, ledger): their query counts are
pinned and do not grow with the promoter's rows; the pool and showcase editing are cached per
creator and retired by what changes them (their showcase, a plan, a merchant's edit); a creator
never gets another's cached page; the ledger and links are built per request."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from affiliates import services
from affiliates.ledger import ledger_sync
from affiliates.models import Scene
from shop.catalog_cache import catalog_cache_invalidate
from tests.affiliates.helpers import (
    buy,
    click,
    complete,
    creator_link,
    make_buyer,
    make_promoter,
    make_sku,
    offer,
    pay_order,
)

pytestmark = pytest.mark.django_db

PAGES = ("pool", "showcase-edit", "links", "ledger")


@pytest.fixture
def creator(shop):
    sku = make_sku(shop=shop, price_fen=20000)
    offer(sku, 1000)
    creator = make_promoter(name="橱窗达人")
    link = creator_link(creator, sku)
    client = Client()
    click(client, link)
    complete(pay_order(buy(client, make_buyer(), sku)))
    ledger_sync()
    return creator


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queries_of(client, path) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured), response.content.decode()


def test_query_counts_are_pinned_and_flat_in_the_promoters_rows(creator, shop, django_assert_max_num_queries):
    client = signed_in(creator.user)
    paths = {name: reverse(f"affiliates:{name}") for name in PAGES}
    for path in paths.values():
        client.get(path)  # warm: the session and the cached pages
    before = {name: queries_of(client, path)[0] for name, path in paths.items()}
    # The cached pages: the user, the promoter (with agency) and the visitor's badges.
    # The cached pages: the user, the promoter (with agency) and the visitor's badges; the links
    # page also reads its links' state and click counts, the ledger its balance and fingerprint.
    for name, most in (("pool", 3), ("showcase-edit", 3), ("links", 5), ("ledger", 4)):
        with django_assert_max_num_queries(most):
            client.get(paths[name])

    # More of everything: products in the pool and the showcase, links, orders in the ledger.
    skus = [make_sku(shop=shop, price_fen=1000 * (i + 1)) for i in range(4)]
    for sku in skus:
        offer(sku, 1500)
    for sku, scene in zip(skus, [Scene.CHAT, Scene.GROUP, Scene.MOMENTS, Scene.SEARCH], strict=True):
        link = creator_link(creator, sku, scene=scene)
        shopper = Client()
        click(shopper, link)
        complete(pay_order(buy(shopper, make_buyer(), sku)))
    ledger_sync()
    for name, path in paths.items():
        client.get(path)
        count, body = queries_of(client, path)
        assert count == before[name], f"{name}: {before[name]} queries with one row, {count} with more"
    assert body.count('data-testid="ledger-entry"') == 5


def test_pool_and_showcase_follow_their_changes(creator, shop, django_capture_on_commit_callbacks):
    client = signed_in(creator.user)
    sku = make_sku(shop=shop, price_fen=3000)
    offer(sku, 1200)
    pool = client.get(reverse("affiliates:pool")).content.decode()
    assert sku.product.title in pool and "12%" in pool

    with django_capture_on_commit_callbacks(execute=True):  # the creator's own change
        services.showcase_add(promoter=creator, product_id=sku.product_id)
    pool = client.get(reverse("affiliates:pool")).content.decode()
    assert pool.count('data-testid="pool-product"') == 2 and pool.count('data-testid="in-showcase"') == 2
    showcase = client.get(reverse("affiliates:showcase-edit")).content.decode()
    assert showcase.count('data-testid="showcase-item"') == 2

    with django_capture_on_commit_callbacks(execute=True):  # a plan change: every creator's pool
        offer(sku, 1800)
    assert "18%" in client.get(reverse("affiliates:pool")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # a merchant's edit: the catalog generation
        sku.product.title = "改过名的商品"
        sku.product.save()
        catalog_cache_invalidate(product_ids=[sku.product_id], lists=True)
    assert "改过名的商品" in client.get(reverse("affiliates:showcase-edit")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("affiliates:showcase-edit"), {"remove": sku.product_id})
    showcase = client.get(reverse("affiliates:showcase-edit")).content.decode()
    assert showcase.count('data-testid="showcase-item"') == 1 and "改过名的商品" not in showcase


def test_a_creator_never_gets_another_creators_cached_page(creator, shop):
    other = make_promoter(name="另一位达人")
    mine = signed_in(creator.user)
    theirs = signed_in(other.user)
    for name in ("pool", "showcase-edit"):
        mine_body = mine.get(reverse(f"affiliates:{name}")).content.decode()
        their_body = theirs.get(reverse(f"affiliates:{name}")).content.decode()
        assert 'data-testid="in-showcase"' not in their_body
        assert creator.showcase_code in mine_body or name == "pool"
        assert creator.showcase_code not in their_body
        assert creator.user.display_name not in their_body or not creator.user.display_name


def test_a_frozen_creator_gets_no_cached_page(creator):
    client = signed_in(creator.user)
    assert client.get(reverse("affiliates:pool")).status_code == 200
    from tests.factories import UserFactory

    services.promoter_freeze(promoter_id=creator.pk, operator=UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("affiliates:pool")).status_code == 404
    assert client.get(reverse("affiliates:showcase-edit")).status_code == 404


def test_bad_pool_filters_reshow_the_form_uncached(creator):
    client = signed_in(creator.user)
    response = client.get(reverse("affiliates:pool") + "?rate_min=abc")
    assert response.status_code == 400 and 'data-testid="pool-product"' in response.content.decode()


def test_the_ledger_page_is_never_older_than_the_ledger(shop, django_capture_on_commit_callbacks):
    sku = make_sku(shop=shop, price_fen=20000)
    offer(sku, 1000)
    creator = make_promoter(name="账本达人")
    link = creator_link(creator, sku)
    shopper = Client()
    click(shopper, link)
    order = pay_order(buy(shopper, make_buyer(), sku))
    ledger_sync()
    client = signed_in(creator.user)
    page = client.get(reverse("affiliates:ledger")).content.decode()
    assert 'data-testid="entry-state">待结算' in page or 'data-testid="entry-state">Pending' in page
    pending = page.split('data-testid="balance-pending">')[1].split("<")[0]
    assert pending == "¥20.00"
    complete(order)
    ledger_sync()  # set-based SQL: no signal reaches the page cache
    page = client.get(reverse("affiliates:ledger")).content.decode()
    assert page.split('data-testid="balance-settled">')[1].split("<")[0] == "¥20.00"
    assert page.split('data-testid="balance-pending">')[1].split("<")[0] == "¥0.00"


def test_the_links_page_follows_clicks_and_a_disabled_link(creator):
    client = signed_in(creator.user)
    [link] = creator.links.all()
    page = client.get(reverse("affiliates:links")).content.decode()
    assert page.count('data-testid="link"') == 1 and "disabled-link" not in page
    before = page.split('data-clicks="')[1].split('"')[0]
    click(Client(), link)  # recorded and flushed: the counts move
    page = client.get(reverse("affiliates:links")).content.decode()
    assert page.split('data-clicks="')[1].split('"')[0] == str(int(before) + 1)
    services.link_set_active(promoter=creator, link_id=link.pk, active=False)
    assert 'data-testid="disabled-link"' in client.get(reverse("affiliates:links")).content.decode()
