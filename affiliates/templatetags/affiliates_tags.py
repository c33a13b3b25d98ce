"""Rates are kept in basis points; people read them as percentages."""

from django import template

register = template.Library()


@register.filter
def percent(rate_bp) -> str:
    """{{ 1250|percent }} -> 12.5%"""
    if rate_bp is None:
        return ""
    whole, rest = divmod(int(rate_bp), 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"
