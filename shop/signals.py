"""Domain events the shop announces. Affiliates and gifting subscribe; the shop never imports them.

Every signal is sent with `transaction.on_commit`, so receivers only ever see committed state, and
each is sent once per real change (a repeated service call that changes nothing sends nothing).
Receivers get keyword arguments: `order` (and `refund` for refunds).
"""

from django.dispatch import Signal

order_placed = Signal()  # order
order_paid = Signal()  # order
order_cancelled = Signal()  # order
order_shipped = Signal()  # order
order_received = Signal()  # order
order_completed = Signal()  # order: the after-sales window closed; commission settles on this
order_refunded = Signal()  # order, refund: a refund succeeded at the provider (full or partial)
