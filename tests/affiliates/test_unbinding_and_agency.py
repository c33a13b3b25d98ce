"""A 推客 leaves a team or is removed by its creator or agency owner (child links stop, placed
orders keep their commission, they may join another team); agencies' owners see their service
fees, balance and 推客 on a page and through the API, and nobody else's."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from affiliates import services
from affiliates.errors import InvalidBinding
from affiliates.ledger import ledger_sync
from affiliates.models import CommissionEntry, Promoter
from tests.affiliates.helpers import (
    buy,
    click,
    complete,
    creator_link,
    make_buyer,
    make_promoter,
    make_sharer,
    make_sku,
    offer,
    pay_order,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


@pytest.fixture
def team():
    sku = make_sku(price_fen=10000)
    offer(sku, 1000)
    creator = make_promoter(name="队长")
    link = creator_link(creator, sku)
    sharer = make_sharer(under=creator, name="队员")
    child = services.child_link_create(promoter=sharer, parent_code=link.code, scene="group")
    return sku, creator, sharer, child


def test_a_sharer_leaves_child_links_stop_and_placed_orders_keep_their_commission(team):
    sku, creator, sharer, child = team
    client = Client()
    click(client, child)
    before = pay_order(buy(client, make_buyer(), sku))
    ledger_sync()
    services.sharer_unbind(sharer_id=sharer.pk, actor=sharer.user)
    sharer.refresh_from_db()
    child.refresh_from_db()
    assert (sharer.bound_creator_id, sharer.bound_agency_id, child.is_active) == (None, None, False)
    assert client.get(f"/t/{child.code}").status_code == 404  # the child link stopped at once
    after = buy(client, make_buyer(), sku)  # the earlier click no longer earns either
    assert after.lines.get().attribution is None
    complete(before)
    ledger_sync()
    paid = dict(CommissionEntry.objects.filter(order=before).values_list("role", "status"))
    assert paid == {"creator": "settled", "sharer": "settled"}
    # Free to join another team now.
    other = make_promoter(name="另一个队长")
    services.sharer_bind(promoter=sharer, invitation_code=other.invitation_code)
    sharer.refresh_from_db()
    assert sharer.bound_creator_id == other.pk


def test_only_the_sharer_or_their_leader_can_unbind(team):
    _sku, creator, sharer, _child = team
    stranger = make_promoter(name="路人")
    for actor in (stranger.user, UserFactory()):
        with pytest.raises(InvalidBinding):
            services.sharer_unbind(sharer_id=sharer.pk, actor=actor)
    with pytest.raises(InvalidBinding):
        services.sharer_unbind(sharer_id=creator.pk, actor=creator.user)  # a creator is no 推客
    services.sharer_unbind(sharer_id=sharer.pk, actor=creator.user)
    assert Promoter.objects.get(pk=sharer.pk).bound_creator_id is None
    services.sharer_unbind(sharer_id=sharer.pk, actor=sharer.user)  # again: nothing to do


def test_pages_leave_and_remove(team):
    _sku, creator, sharer, _child = team
    web = Client()
    web.force_login(creator.user)
    home = web.get("/promoter/").content.decode()
    assert "队员" in home and 'data-testid="remove-sharer"' in home
    stranger = make_promoter(name="路人")
    other = Client()
    other.force_login(stranger.user)
    assert other.post(f"/promoter/sharers/{sharer.pk}/remove/").status_code == 404
    assert web.post(f"/promoter/sharers/{sharer.pk}/remove/").status_code == 302
    assert Promoter.objects.get(pk=sharer.pk).bound_creator_id is None
    services.sharer_bind(promoter=sharer, invitation_code=creator.invitation_code)
    web.force_login(sharer.user)
    assert 'data-testid="leave-team"' in web.get("/promoter/").content.decode()
    assert web.post("/promoter/leave/").status_code == 302
    assert Promoter.objects.get(pk=sharer.pk).bound_creator_id is None


def test_api_leave_and_remove(team):
    _sku, creator, sharer, _child = team
    assert api(make_promoter().user).delete(f"/api/v1/promoter/sharers/{sharer.pk}/").status_code == 404
    assert api(creator.user).delete(f"/api/v1/promoter/sharers/{sharer.pk}/").status_code == 204
    services.sharer_bind(promoter=sharer, invitation_code=creator.invitation_code)
    response = api(sharer.user).delete("/api/v1/promoter/join/")
    assert response.status_code == 200 and response.json()["bound_creator"] is None


def test_agency_owner_sees_fees_balance_and_sharers_and_removes_one():
    owner = UserFactory(nickname="机构老板")
    agency = services.agency_create(name="星光机构", owner=owner, service_fee_bp=2000)
    sku = make_sku(price_fen=10000)
    offer(sku, 1000)
    creator = make_promoter(name="机构达人", agency=agency)
    sharer = make_promoter(role="sharer", name="机构推客")
    services.sharer_bind(promoter=sharer, invitation_code=agency.invitation_code)
    client = Client()
    click(client, creator_link(creator, sku))
    complete(pay_order(buy(client, make_buyer(), sku)))
    ledger_sync()
    assert CommissionEntry.objects.get(agency=agency).amount_fen == 200  # 20% of ¥10

    web = Client()
    web.force_login(owner)
    assert web.get("/promoter/").status_code == 302  # an owner who is no promoter lands on the agency
    page = web.get("/promoter/agency/ledger/").content.decode()
    assert "星光机构" in page and "¥2.00" in page and "机构推客" in page and agency.invitation_code in page
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get("/promoter/agency/ledger/").status_code == 404

    owner_api = api(owner)
    assert owner_api.get("/api/v1/agency/").json()["name"] == "星光机构"
    assert owner_api.get("/api/v1/agency/balance/").json() == {"settled_fen": 200, "pending_fen": 0}
    ledger = owner_api.get("/api/v1/agency/ledger/").json()
    assert [row["amount_fen"] for row in ledger["results"]] == [200]
    stranger_api = api(UserFactory())
    for url in ("/api/v1/agency/", "/api/v1/agency/ledger/", "/api/v1/agency/balance/"):
        assert stranger_api.get(url).status_code == 403
    assert stranger_api.delete(f"/api/v1/agency/sharers/{sharer.pk}/").status_code == 403
    assert owner_api.delete(f"/api/v1/agency/sharers/{creator.pk}/").status_code == 404  # not a 推客 of it
    assert owner_api.delete(f"/api/v1/agency/sharers/{sharer.pk}/").status_code == 204
    assert Promoter.objects.get(pk=sharer.pk).bound_agency_id is None


def test_an_invitation_link_joins_a_sharer_in_one_tap():
    creator = make_promoter(name="邀请人")
    sharer = make_promoter(role="sharer", name="新推客")
    web = Client()
    assert web.get(f"/promoter/invite/{creator.invitation_code}/").status_code == 302  # sign in first
    web.force_login(sharer.user)
    page = web.get(f"/promoter/invite/{creator.invitation_code}/").content.decode()
    assert "邀请人" in page and 'data-testid="accept-invitation"' in page
    assert web.post("/promoter/join/", {"invitation_code": creator.invitation_code}).status_code == 302
    assert Promoter.objects.get(pk=sharer.pk).bound_creator_id == creator.pk
    page = web.get(f"/promoter/invite/{creator.invitation_code}/").content.decode()
    assert 'data-testid="accept-invitation"' not in page  # already in a team
    assert web.get("/promoter/invite/nope/").status_code == 404
    newcomer = Client()
    newcomer.force_login(UserFactory())
    assert "/promoter/apply/" in newcomer.get(f"/promoter/invite/{creator.invitation_code}/").content.decode()
    creator_home = Client()
    creator_home.force_login(creator.user)
    assert f"/promoter/invite/{creator.invitation_code}/" in creator_home.get("/promoter/").content.decode()
