"""Domain events the shop announces. Affiliates and gifting subscribe; the shop never imports them.

Signals are never sent directly: the change that causes one calls
`shop.services.announce.order_announce(signal, orders=...)` inside its transaction, which records the
announcement in the outbox; a worker then calls each receiver on its own, after commit, retried until
it succeeds (see shop/services/announce.py). Each is announced once per real change (a repeated service
call that changes nothing announces nothing). Receivers get keyword arguments: `order` (and `refund`
for refunds).
"""

from django.dispatch import Signal

order_placed = Signal()  # order
order_paid = Signal()  # order
order_cancelled = Signal()  # order
order_shipped = Signal()  # order
order_received = Signal()  # order
order_completed = Signal()  # order: the after-sales window closed; commission settles on this
order_refunded = Signal()  # order, refund: a refund succeeded at the provider (full or partial)
