"""The admin's affiliate report: merchants see their own shops' sales by promoter, product and
scene for a period, with commission owed, settled and clawed back, top promoters and a CSV export;
operators see every shop and the withdrawals."""

import csv
import io
import uuid

import pytest
from django.test import Client

from affiliates.ledger import ledger_sync
from shop.services.refunds import order_refund, refund_settle
from tests.affiliates.helpers import make_promoter
from tests.factories import UserFactory
from tests.payouts.helpers import earn

pytestmark = pytest.mark.django_db
URL = "/admin/affiliate-report/"


@pytest.fixture
def sales(operator):
    star = make_promoter(operator=operator, name="带货达人")
    other = make_promoter(operator=operator, name="种草姐姐")
    settled = earn(star, commission_fen=1000)
    earn(star, commission_fen=300, complete_order=False, scene="moments")
    clawed = earn(other, commission_fen=500)
    refund = order_refund(order_id=clawed.pk, actor=None, reason="退货", full=True)
    refund_settle(
        out_refund_no=refund.out_refund_no,
        refund_id=f"50{uuid.uuid4().int % 10**20:020d}",
        amount_fen=refund.amount_fen,
    )
    ledger_sync()
    return {"star": star, "other": other, "settled": settled, "clawed": clawed}


def test_operator_sees_every_shop_totals_and_withdrawals(sales, operator, django_assert_max_num_queries):
    client = Client()
    client.force_login(operator)
    client.get(URL)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    assert response.status_code == 200
    report = response.context["report"]
    totals = report["totals"]
    assert totals["lines"] == 3
    assert (totals["sales_fen"], totals["owed_fen"], totals["settled_fen"], totals["clawed_back_fen"]) == (
        18000,
        300,
        1500,
        500,
    )
    assert [row["name"] for row in report["top"]] == ["带货达人", "种草姐姐"]
    assert 'data-testid="withdrawal-queue"' in response.content.decode()
    by_scene = client.get(URL, {"group_by": "scene"}).context["report"]["rows"]
    assert {row["name"] for row in by_scene} == {"视频号", "朋友圈"}


def test_merchant_sees_only_their_shop_and_exports_csv(sales):
    merchant = sales["settled"].shop.owner
    client = Client()
    client.force_login(merchant)
    response = client.get(URL, {"group_by": "product"})
    assert response.status_code == 200
    rows = response.context["report"]["rows"]
    assert len(rows) == 1 and rows[0]["sales_fen"] == 10000 and rows[0]["settled_fen"] == 1000
    assert 'data-testid="withdrawal-queue"' not in response.content.decode()
    exported = client.get(URL, {"group_by": "product", "format": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[1][1:] == ["1", "100.00", "10.00", "0.00", "10.00", "0.00"]
    assert client.get(URL, {"start": "2026-05-02", "end": "2026-05-01"}).status_code == 400
    shopper = Client()
    shopper.force_login(UserFactory())
    assert shopper.get(URL).status_code in {302, 403}
