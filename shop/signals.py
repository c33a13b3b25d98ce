"""Domain events the shop announces. Affiliates and gifting subscribe; the shop never imports them.

Signals are never sent directly: the change that causes one calls
`shop.services.announce.order_announce(signal, orders=..., **refs)` inside its transaction, which
records the announcement in the outbox; a worker then calls each receiver on its own, after commit,
retried until it succeeds (see shop/services/announce.py), so receivers only ever see committed state.
Each is announced once per real change (a repeated service call that changes nothing announces
nothing). Receivers get keyword arguments: `order`; for refunds also `refund`, `lines` (its RefundLine
rows: order line, units, amount in fen) and `data` (the same as JSON, as written on the OrderEvent).
"""

from django.dispatch import Signal

order_placed = Signal()  # order
order_paid = Signal()  # order
order_cancelled = Signal()  # order
order_shipped = Signal()  # order
order_received = Signal()  # order
order_completed = Signal()  # order: the after-sales window closed; commission settles on this
order_refunded = Signal()  # order, refund, lines, data: a refund succeeded at the provider
order_closed = Signal()  # order: paid, then every line refunded before shipping (已关闭)
