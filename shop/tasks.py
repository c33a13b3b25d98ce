"""Celery tasks of the shop: thin, idempotent, acks_late, retried with backoff. Each takes ids (or
nothing), calls one service and is safe to run twice or in two workers at once: the services lock,
re-check state and skip rows another worker holds."""

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
def close_payment(payment_id: int) -> None:
    """Close a cancelled order's open payment at the provider (outside any lock)."""
    from shop.services.payments import payment_close

    payment_close(payment_id=payment_id)


@shared_task(**RETRY)
def submit_refund(refund_id: int) -> None:
    """Send a refund to the provider (outside any lock); it settles on its notification."""
    from shop.services.refunds import refund_submit

    refund_submit(refund_id=refund_id)


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
