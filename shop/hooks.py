"""Neutral places where other apps plug into the shop without the shop importing them.

Checkout offers two hooks (apps register in their AppConfig.ready):

- `checkout_context_providers`: functions `(request) -> dict` that pick what they need from the
  request (e.g. a signed cookie) before checkout starts. The checkout views merge their answers
  into one `checkout_context` dict and pass it to the checkout service.
- `checkout_line_hooks`: functions `(*, buyer, orders, lines, context) -> None` called before the
  orders and their lines are written (on PostgreSQL the orders already carry the ids they will be
  written with), inside the checkout's transaction, or just before the one statement that writes a
  single-SKU "buy now" (see checkout_place), so they may set `line.attribution` (an opaque JSON
  value the shop stores and never reads). They read; they must not write. An exception from a hook
  refuses the checkout and nothing is written.
"""

from collections.abc import Callable

checkout_context_providers: list[Callable] = []
checkout_line_hooks: list[Callable] = []


def register_checkout_context_provider(function: Callable) -> Callable:
    if function not in checkout_context_providers:
        checkout_context_providers.append(function)
    return function


def register_checkout_line_hook(function: Callable) -> Callable:
    if function not in checkout_line_hooks:
        checkout_line_hooks.append(function)
    return function


def checkout_context(request) -> dict:
    """What the registered providers take from `request` for the checkout hooks."""
    context: dict = {}
    for provider in checkout_context_providers:
        context.update(provider(request) or {})
    return context


def run_checkout_line_hooks(*, buyer, orders, lines, context) -> None:
    for hook in checkout_line_hooks:
        hook(buyer=buyer, orders=orders, lines=lines, context=context or {})
