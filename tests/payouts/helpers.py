"""Promoters with real settled commission: a product with a plan, a click on the creator's link, an
order paid and completed, and the ledger job run."""

from django.test import Client

from affiliates.ledger import ledger_sync
from tests.affiliates.helpers import (
    buy,
    click,
    complete,
    creator_link,
    make_buyer,
    make_sku,
    offer,
    pay_order,
)


def earn(promoter, *, commission_fen: int, complete_order: bool = True, scene: str = "channels_video"):
    """Give `promoter` (a creator) `commission_fen` of commission at 10% on one order; settled when
    `complete_order`, else pending. Returns the order."""
    sku = make_sku(price_fen=commission_fen * 10)
    offer(sku, 1000)
    link = creator_link(promoter, sku, scene=scene)
    client = Client()
    click(client, link)
    order = pay_order(buy(client, make_buyer(), sku))
    if complete_order:
        order = complete(order)
    ledger_sync()
    return order
