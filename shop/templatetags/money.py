"""Money is kept in fen; templates show it as ¥12.34 through these filters only."""

from django import template

register = template.Library()


def format_fen(amount_fen: int | None, *, symbol: bool = True) -> str:
    if amount_fen is None:
        return ""
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(int(amount_fen)), 100)
    return f"{sign}{'¥' if symbol else ''}{yuan:,}.{fen:02d}"


@register.filter
def yuan(amount_fen):
    """{{ order.total_fen|yuan }} -> ¥128.00"""
    return format_fen(amount_fen)


@register.filter
def yuan_plain(amount_fen):
    """{{ sku.price_fen|yuan_plain }} -> 128.00 (no symbol, for inputs and data attributes)."""
    return format_fen(amount_fen, symbol=False).replace(",", "")


def parse_yuan(text) -> int:
    """ "12.5" -> 1250 fen, for forms where people type yuan. Raises ValueError for anything that is
    not a non-negative amount with at most two decimals."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(text) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(text)
    return int(amount * 100)
