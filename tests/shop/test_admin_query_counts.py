"""Every admin list costs a fixed number of queries, whoever looks (the shop's owner, a staff member of
the shop, an operator) and however many rows there are; searches and date filters too."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shop.models import Order, ShopMembership
from shop.services.aftersales import after_sales_create
from tests.factories import UserFactory
from tests.shop.factories import ShopMembershipFactory
from tests.shop.order_factories import make_sku, pay_order, place_order

pytestmark = pytest.mark.django_db

# Pinned budgets per list: at most this many queries for any role and any size.
# Measured as the shop's owner (operators need 4-8 fewer: no shop ids, no permission lookups; the theme
# asks once per bulk action whether a permission row of that name exists).
BUDGETS = {
    "admin:shop_order_changelist": 10,
    "admin:shop_aftersalesrequest_changelist": 15,
    "admin:shop_product_changelist": 16,  # + the "offer commission" action (affiliates)
    "admin:shop_sku_changelist": 11,
    "admin:shop_shop_changelist": 9,
    "admin:shop_category_changelist": 10,
}
OPERATOR_ONLY = {
    "admin:accounts_user_changelist": 6,
    "admin:accounts_address_changelist": 6,
    "admin:accounts_friendrequest_changelist": 6,
    "admin:accounts_notification_changelist": 9,
    "admin:outbox_message_changelist": 6,
}
EXTRA_URLS = [
    "/admin/today/",
    "/admin/shop/shop/dashboard/",
    "/admin/",
]


def _grow(shop, n):
    """n paid orders in `shop`, every other one with an open after-sales request."""
    sku = make_sku(shop=shop, stock=1000)
    for index in range(n):
        order = pay_order(place_order(sku=sku))
        if index % 2 == 0:
            after_sales_create(
                buyer=order.buyer,
                order_id=order.pk,
                line_id=order.lines.get().pk,
                kind="refund_only",
                quantity=1,
                reason="不想要了",
            )


def _login(client, user):
    """Sign in and load one page, so the session is in the cache as on every later request."""
    client.force_login(user)
    client.get(reverse("admin:index"))


def _queries(client, url) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    # The session is read from the cache, or from the database when the cache lost it: not the page's cost.
    sql = [q["sql"] for q in captured if '"django_session"' not in q["sql"]]
    return len(sql), sql


@pytest.fixture
def roles(shop, other_shop, operator):
    staff = UserFactory(is_staff=True)
    ShopMembershipFactory(shop=shop, user=staff, role=ShopMembership.Role.STAFF)
    return {"owner": shop.owner, "staff": staff, "operator": operator}


def _urls(role):
    urls = dict(BUDGETS)
    if role == "operator":
        urls.update(OPERATOR_ONLY)
    return urls


@pytest.mark.parametrize("role", ["owner", "staff", "operator"])
def test_every_admin_list_costs_the_same_at_any_size(client, roles, role, shop, other_shop):
    _login(client, roles[role])
    _grow(shop, 2)
    _grow(other_shop, 1)
    small = {name: _queries(client, reverse(name)) for name in _urls(role)}
    small.update({url: _queries(client, url) for url in EXTRA_URLS})
    _grow(shop, 6)
    _grow(other_shop, 3)
    for name, budget in _urls(role).items():
        count, sql = _queries(client, reverse(name))
        assert count == small[name][0], (name, count, small[name][0], sql)
        assert count <= budget, (name, count, sql)
    for url in EXTRA_URLS:
        count, sql = _queries(client, url)
        assert count == small[url][0], (url, count, small[url][0], sql)


@pytest.mark.parametrize("role", ["owner", "staff", "operator"])
def test_searches_and_date_filters_cost_the_same(client, roles, role, shop):
    _login(client, roles[role])
    _grow(shop, 3)
    order = shop.orders.first()
    today = timezone.localdate().isoformat()
    urls = [
        f"?q={order.number}",
        f"?q={order.recipient_phone}",
        f"?q={order.buyer.phone}",
        f"?created_at__gte={today} 00:00:00&created_at__lte={today} 23:59:59",
        "?status__exact=paid",
    ]
    base = reverse("admin:shop_order_changelist")
    counts = {url: _queries(client, base + url)[0] for url in urls}
    _grow(shop, 5)
    for url in urls:
        count, sql = _queries(client, base + url)
        # A phone number is first looked up among the buyers (one indexed query).
        assert count == counts[url] and count <= BUDGETS["admin:shop_order_changelist"] + 1, (url, count, sql)


def test_merchant_scoping_costs_a_fixed_number_of_queries(client, roles, shop):
    """The owner's order list costs a few queries more than the operator's (the shop ids, the user's
    permissions, the theme's check of the one bulk action), not one per permission check or row."""
    _grow(shop, 3)
    url = reverse("admin:shop_order_changelist")
    _login(client, roles["operator"])
    operator_count, _ = _queries(client, url)
    _login(client, roles["owner"])
    owner_count, sql = _queries(client, url)
    assert owner_count <= operator_count + 4, (owner_count, operator_count, sql)


def test_order_search_is_exact_through_indexes(client, shop, other_shop):
    _grow(shop, 3)
    _grow(other_shop, 1)
    mine = list(shop.orders.order_by("pk"))
    theirs = other_shop.orders.get()
    Order.objects.filter(pk=mine[1].pk).update(tracking_number="SF0000000001")
    _login(client, shop.owner)
    base = reverse("admin:shop_order_changelist")

    def found(term):
        with CaptureQueriesContext(connection) as captured:
            html = client.get(base, {"q": term}).content.decode()
        assert not any(" LIKE " in q["sql"] for q in captured), "searches never scan with LIKE"
        return set(re.findall(r'<th class="field-number"><a [^>]*>(\d+)</a>', html))

    assert found(mine[0].number) == {mine[0].number}
    assert found(mine[0].number[:10]) == set()  # exact, not a prefix
    assert found("SF0000000001") == {mine[1].number}
    assert found(mine[2].buyer.phone) == {mine[2].number}
    Order.objects.filter(pk=mine[2].pk).update(recipient_phone="13700001234")
    assert found("+86 137-0000-1234") == {mine[2].number}
    # Another shop's order is never found, even by its exact number.
    assert found(theirs.number) == set()


def test_lists_never_count_past_the_cap(client, shop, monkeypatch):
    from shop.admin.lists import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    _grow(shop, 5)
    _login(client, shop.owner)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("admin:shop_order_changelist")).content.decode()
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"] and "shop_order" in q["sql"]]
    list_counts = [sql for sql in counts if "LIMIT 4" in sql]
    assert list_counts and not [sql for sql in counts if "status" not in sql and "LIMIT" not in sql]
    assert 'data-testid="result-count"' in html and "3" in html


def test_operator_lists_never_count_past_the_cap_and_search_exactly(client, operator, monkeypatch):
    """People, addresses, friend requests and notifications grow with the platform: their lists count
    at most cap + 1 rows, sort by primary key and search by exact phone (or key), never with LIKE."""
    from config.admin_lists import CappedCountPaginator
    from tests.factories import AddressFactory, FriendRequestFactory, NotificationFactory

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    people = [AddressFactory().user for _ in range(5)]
    for person in people:
        NotificationFactory(user=person)
    for first, second in zip(people, people[1:], strict=False):
        FriendRequestFactory(from_user=first, to_user=second)
    _login(client, operator)
    target = people[2]
    for name, table in [
        ("admin:accounts_user_changelist", "accounts_user"),
        ("admin:accounts_address_changelist", "accounts_address"),
        ("admin:accounts_friendrequest_changelist", "accounts_friendrequest"),
        ("admin:accounts_notification_changelist", "accounts_notification"),
    ]:
        for params in ({}, {"q": target.phone}):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(reverse(name), params)
            assert response.status_code == 200, name
            sql = [q["sql"] for q in captured]
            counts = [q for q in sql if "COUNT(" in q and f'"{table}"' in q]
            assert counts and all("LIMIT 4" in q for q in counts), (name, counts)
            assert not any(" LIKE " in q for q in sql), name
            assert not any("DATE_TRUNC" in q.upper() for q in sql), name
        rows = response.context["cl"].result_list
        if table == "accounts_user":
            assert [row.pk for row in rows] == [target.pk]
        elif table == "accounts_friendrequest":
            assert {row.from_user_id for row in rows} | {row.to_user_id for row in rows} >= {target.pk}
            assert all(target.pk in (row.from_user_id, row.to_user_id) for row in rows) and len(rows) == 2
        else:
            assert [row.user_id for row in rows] == [target.pk]
