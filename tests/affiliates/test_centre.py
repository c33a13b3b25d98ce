"""The promoter centre: statistics pages and API from the rollups (pinned query counts, bad periods
answered 400), and teams: a creator or agency sees only their own members (403/404 otherwise), sets
per-product shares and the agency fee."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from affiliates import centre, services, stats
from affiliates.models import Agency, Click, ShareOverride
from tests.affiliates.helpers import creator_link, make_promoter, make_sharer, make_sku, offer
from tests.factories import UserFactory
from tests.payouts.helpers import earn

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(operator):
    agency = services.agency_create(name="星河机构", owner=UserFactory(nickname="机构老板"))
    creator = make_promoter(operator=operator, name="带货达人", agency=agency)
    sharer = make_sharer(under=creator, operator=operator, name="阿强")
    other_creator = make_promoter(operator=operator, name="别家达人")
    other_sharer = make_sharer(under=other_creator, operator=operator, name="别家推客")
    agency_sharer = make_sharer(under=agency, operator=operator, name="机构推客")
    earn(creator, commission_fen=1000)
    sku = make_sku()
    offer(sku)
    link = creator_link(creator, sku, scene="moments")
    for n in range(5):
        Click.objects.create(
            click_id=uuid.uuid4(), link=link, visitor=f"v{n}", clicked_at=timezone.now() - timedelta(days=n)
        )
    stats.stats_rollup()
    return {
        "agency": agency,
        "creator": creator,
        "sharer": sharer,
        "other_creator": other_creator,
        "other_sharer": other_sharer,
        "agency_sharer": agency_sharer,
    }


def _figures(page: str) -> dict[str, str]:
    """The headline figures of a statistics page, by their data-figure name."""
    return dict(re.findall(r'data-figure="([a-z-]+)">([^<]*)<', page))


def _chart(page: str) -> dict:
    return json.loads(
        re.search(r'id="stats-chart-data" type="application/json">(.*?)</script>', page).group(1)
    )


def test_centre_page_shows_rollups_with_a_fixed_number_of_queries(world, django_assert_num_queries):
    client = _signed_in(world["creator"].user)
    first = client.get("/promoter/centre/")  # builds and stores the shared part
    result = first.context["stats"]
    assert result["totals"]["orders"] == 1 and result["totals"]["clicks"] == 6
    assert result["totals"]["settled_fen"] == 900  # the agency takes its 10% fee
    # Warm: the promoter, then the user with the top bar's figures; nothing grows with the history.
    with django_assert_num_queries(2):
        response = client.get("/promoter/centre/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="stats-chart"' in page and "vendor/chartjs/chart.umd.min.js" in page
    assert page == first.content.decode().replace(
        _csrf_of(first.content.decode()), _csrf_of(page)
    )  # the cached page is the page
    assert _figures(page)["orders"] == "1" and _figures(page)["settled"] == "¥9.00"
    assert len(_chart(page)["orders"]) == 30 and sum(_chart(page)["orders"]) == 1
    assert "<!--personal:" not in page and "__weshop_csrf_placeholder__" not in page
    for key in ("today", "7"):
        assert client.get(f"/promoter/centre/?range={key}").status_code == 200
    today = timezone.localdate()
    for _ in range(2):  # built, then cached
        custom = client.get(f"/promoter/centre/?range=custom&start={today - timedelta(days=2)}&end={today}")
        assert custom.status_code == 200 and len(_chart(custom.content.decode())["orders"]) == 3
    for _ in range(2):
        bad = client.get(f"/promoter/centre/?range=custom&start={today}&end={today - timedelta(days=3)}")
        assert bad.status_code == 400 and "errorlist" in bad.content.decode()


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_centre_page_layers_each_visitor_and_checks_the_promoter_every_time(world, operator):
    creator, sharer = world["creator"], world["sharer"]
    creator_page = _signed_in(creator.user).get("/promoter/centre/").content.decode()
    sharer_client = _signed_in(sharer.user)
    for _ in range(2):  # built, then cached: each sees their own figures, name and menu
        sharer_page = sharer_client.get("/promoter/centre/").content.decode()
        assert _figures(sharer_page)["orders"] == "0" and 'href="/promoter/team/"' not in sharer_page
        assert sharer.user.display_name in sharer_page and creator.user.display_name not in sharer_page
    assert _figures(creator_page)["orders"] == "1" and 'href="/promoter/team/"' in creator_page
    # The agency's owner is not this creator: no agency link.
    assert 'href="/promoter/agency/"' not in creator_page
    # A cached entry is used only for its own promoter (one stored under another session's key is not).
    creator_client = _signed_in(creator.user)
    creator_client.get("/promoter/centre/")
    key = centre.stats_page_key(
        session_key=creator_client.session.session_key,
        period=stats.period_from(key="30"),
        params=QueryDict(),
        language="zh-hans",
    )
    promoter_id, version, _html = cache.get(key)
    assert promoter_id == creator.pk
    cache.set(key, (sharer.pk, version, sharer_page))
    assert _figures(creator_client.get("/promoter/centre/").content.decode())["orders"] == "1"
    # A session whose password changed since is signed out, its cached part never shown.
    sharer.user.set_password("a-new-password-1")
    sharer.user.save()
    stale = sharer_client.get("/promoter/centre/")
    assert stale.status_code == 302 and stale.url.startswith("/accounts/login/")
    # Frozen: not found at once, cached part or not; signed out: sent to sign in.
    services.promoter_freeze(promoter_id=creator.pk, operator=operator, note="test")
    assert creator_client.get("/promoter/centre/").status_code == 404
    signed_out = Client().get("/promoter/centre/?range=7")
    assert (
        signed_out.status_code == 302
        and "/accounts/login/?next=/promoter/centre/%3Frange%3D7" in signed_out.url
    )


def test_stats_api_and_bad_periods(world, django_assert_max_num_queries):
    client = _signed_in(world["creator"].user)
    client.get("/api/v1/promoter/stats/")
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/promoter/stats/?range=7")
    assert response.status_code == 200
    body = response.json()
    assert len(body["days"]) == 7 and body["totals"]["orders"] == 1
    assert client.get("/api/v1/promoter/stats/?range=custom&start=nope&end=2026-01-01").status_code == 400
    assert _signed_in(UserFactory()).get("/api/v1/promoter/stats/").status_code == 403


def test_a_creator_sees_only_their_own_team(world):
    creator, sharer, other_sharer = world["creator"], world["sharer"], world["other_sharer"]
    client = _signed_in(creator.user)
    page = client.get("/promoter/team/")
    assert page.status_code == 200
    assert [row["member"].pk for row in page.context["rows"]] == [sharer.pk]
    assert client.get(f"/promoter/team/{sharer.pk}/").status_code == 200
    assert client.get(f"/promoter/team/{other_sharer.pk}/").status_code == 404
    assert client.get(f"/promoter/team/{world['agency_sharer'].pk}/").status_code == 404
    api = client.get("/api/v1/promoter/team/").json()
    assert [m["id"] for m in api["members"]] == [sharer.pk]
    assert client.get(f"/api/v1/promoter/team/{sharer.pk}/stats/").status_code == 200
    assert client.get(f"/api/v1/promoter/team/{other_sharer.pk}/stats/").status_code == 404
    # A 推客 leads no team; nor does a stranger.
    for user in (sharer.user, UserFactory()):
        assert _signed_in(user).get("/promoter/team/").status_code == 404
        assert _signed_in(user).get("/api/v1/promoter/team/").status_code == 403
        assert _signed_in(user).get(f"/api/v1/promoter/team/{sharer.pk}/stats/").status_code == 403


def test_a_creator_sets_a_share_for_one_product(world):
    creator = world["creator"]
    product_id = creator.showcase_items.first().product_id
    client = _signed_in(creator.user)
    client.post("/promoter/team/share/", {"product": product_id, "share_percent": "65"})
    assert ShareOverride.objects.get(creator=creator, product_id=product_id).share_bp == 6500
    other_sku = make_sku()
    offer(other_sku)
    creator_link(world["other_creator"], other_sku)
    other_product = other_sku.product_id
    client.post("/promoter/team/share/", {"product": other_product, "share_percent": "65"})
    assert not ShareOverride.objects.filter(product_id=other_product).exists()
    client.post("/promoter/team/share/", {"product": product_id, "share_percent": "5"})
    assert ShareOverride.objects.get(creator=creator, product_id=product_id).share_bp == 6500


def test_an_agency_sees_its_creators_and_sharers_and_sets_its_fee(world):
    agency = world["agency"]
    owner = _signed_in(agency.owner)
    page = owner.get("/promoter/agency/")
    assert page.status_code == 200
    assert {row["member"].pk for row in page.context["rows"]} == {
        world["creator"].pk,
        world["agency_sharer"].pk,
    }
    assert owner.get(f"/promoter/agency/{world['creator'].pk}/").status_code == 200
    assert owner.get(f"/promoter/agency/{world['sharer'].pk}/").status_code == 404  # the creator's, not ours
    assert owner.get(f"/api/v1/agency/team/{world['other_creator'].pk}/stats/").status_code == 404
    response = owner.patch("/api/v1/agency/team/", {"service_fee_bp": 1500}, content_type="application/json")
    assert response.status_code == 200 and response.json()["service_fee_bp"] == 1500
    agency.refresh_from_db()
    assert (agency.service_fee_bp, agency.default_share_bp) == (1500, 5000)  # only the field sent
    bad = owner.patch("/api/v1/agency/team/", {"service_fee_bp": 9000}, content_type="application/json")
    assert bad.status_code == 400 and "service_fee_bp" in bad.json()
    form = owner.post("/promoter/agency/", {"service_fee_percent": "60", "share_percent": "50"})
    assert form.status_code == 400
    owner.post("/promoter/agency/", {"service_fee_percent": "12.5", "share_percent": "40"})
    agency.refresh_from_db()
    assert (agency.service_fee_bp, agency.default_share_bp) == (1250, 4000)
    # Someone else's agency, or none: nothing to see.
    stranger_agency = services.agency_create(name="别家机构", owner=UserFactory())
    other = _signed_in(stranger_agency.owner)
    assert other.get(f"/promoter/agency/{world['creator'].pk}/").status_code == 404
    assert _signed_in(world["creator"].user).get("/api/v1/agency/team/").status_code == 403
    assert Agency.objects.get(pk=agency.pk).service_fee_bp == 1250


def test_cached_figures_follow_the_rollups(world, django_capture_on_commit_callbacks):
    creator = world["creator"]
    client = _signed_in(creator.user)
    first = client.get("/promoter/centre/")
    assert 'data-figure="visitors">6<' in first.content.decode().replace(" ", "")
    link = creator.links.first()
    Click.objects.create(click_id=uuid.uuid4(), link=link, visitor="new", clicked_at=timezone.now())
    assert 'data-figure="visitors">6<' in client.get("/promoter/centre/").content.decode().replace(" ", "")
    with django_capture_on_commit_callbacks(execute=True):
        stats.stats_rollup()  # a new rollup version: the page shows it once it commits
    assert 'data-figure="visitors">7<' in client.get("/promoter/centre/").content.decode().replace(" ", "")
