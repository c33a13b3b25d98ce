"""Celery tasks of the shop: thin, idempotent, acks_late, retried with backoff. Each takes ids (or
nothing), calls one service and is safe to run twice or in two workers at once: the services lock,
re-check state and skip rows another worker holds.

Work that follows a commit (closing a payment, submitting a refund, announcing an order change) is
not queued from here but through the outbox (outbox/services.py), recorded with the change itself."""

from celery import shared_task

from shop.payments.base import PaymentProviderError

RETRY = {
    "acks_late": True,
    "autoretry_for": (PaymentProviderError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**RETRY)
def cancel_unpaid_orders() -> int:
    """Beat: cancel orders unpaid after ORDER_PAYMENT_TIMEOUT, returning stock."""
    from shop.services.orders import orders_cancel_overdue

    return orders_cancel_overdue()


@shared_task(**RETRY)
def auto_receive_orders() -> int:
    """Beat: shipped orders are received AUTO_RECEIVE_DAYS after shipping."""
    from shop.services.orders import orders_auto_receive

    return orders_auto_receive()


@shared_task(**RETRY)
def complete_orders() -> int:
    """Beat: received orders complete once AFTER_SALES_DAYS pass with no open after-sales request."""
    from shop.services.orders import orders_complete_due

    return orders_complete_due()


@shared_task(**RETRY)
def clear_stale_carts() -> int:
    """Beat: delete anonymous carts nobody touched for a month."""
    from shop.services.cart import cart_clear_stale

    return cart_clear_stale()


@shared_task(**RETRY)
def reconcile_refunds() -> int:
    """Beat: ask the provider about refunds whose outcome was not heard (lost notification, ABNORMAL)."""
    from shop.services.refunds import refunds_reconcile

    return refunds_reconcile()


@shared_task(**RETRY)
def after_sales_timers() -> int:
    """Beat: the after-sales deadlines (merchant answer, buyer's return, merchant's receipt)."""
    from shop.services.aftersales import after_sales_run_timers

    return after_sales_run_timers()
