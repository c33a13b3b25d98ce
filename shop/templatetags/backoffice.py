"""The back office's badge: on every admin page, whose shop this is, how many orders wait to be shipped
and how many after-sales requests wait for an answer, linking to the "today" page."""

from django import template

from shop.admin.scoping import request_is_merchant_staff, request_shop_ids, request_shop_names
from shop.selectors.backoffice import backoffice_todo_counts

register = template.Library()


@register.inclusion_tag("admin/shop/todo_badge.html", takes_context=True)
def backoffice_badge(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request_is_merchant_staff(request):
        return {"counts": None}
    counts = getattr(request, "_backoffice_todo_counts", None)
    if counts is None:
        counts = request._backoffice_todo_counts = backoffice_todo_counts(shop_ids=request_shop_ids(request))
    return {"counts": counts, "shop_names": request_shop_names(request)}
