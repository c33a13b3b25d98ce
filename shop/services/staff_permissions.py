"""Who among a shop's people may do what: the one place the rules live.

- Operators (superusers) may do everything in every shop.
- A shop's owner (membership role `owner`) may do everything in that shop, and decides what each staff
  member may do (`staff_permissions_set`).
- A staff member may do what their membership allows. By default staff ship orders and answer
  after-sales requests (reject them, talk to the buyer); approving anything that pays money back
  (an after-sales refund, a refund retry, a merchant refund), changing prices and changing commission
  plans are the owner's unless the owner allowed that staff member.
- Anyone else may do nothing in the shop.

Services that act for a person call `staff_require(...)` (raises StaffPermissionDenied, a 403 with a
message); admin screens and API views ask `staff_can(...)` to hide or refuse what is not allowed, so
the admin, the API and the services agree. Other apps (affiliates: commission plans) call the same
functions with `StaffPermission.MANAGE_COMMISSION`.
"""

from collections.abc import Mapping

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from config.exceptions import Forbidden
from shop.models import Shop, ShopMembership


class StaffPermission(models.TextChoices):
    SHIP = "ship", _("ship orders")
    ANSWER_AFTER_SALES = "answer_after_sales", _("answer after-sales requests")
    APPROVE_REFUNDS = "approve_refunds", _("approve refunds")
    CHANGE_PRICES = "change_prices", _("change prices")
    MANAGE_COMMISSION = "manage_commission", _("change commission plans")


# Each permission is one boolean on ShopMembership.
MEMBERSHIP_FIELDS: dict[str, str] = {
    StaffPermission.SHIP: "can_ship",
    StaffPermission.ANSWER_AFTER_SALES: "can_answer_after_sales",
    StaffPermission.APPROVE_REFUNDS: "can_approve_refunds",
    StaffPermission.CHANGE_PRICES: "can_change_prices",
    StaffPermission.MANAGE_COMMISSION: "can_manage_commission",
}


class StaffPermissionDenied(Forbidden):
    code = "staff_permission_denied"
    default_message = _("Only the shop owner, or staff the owner allowed, may do this.")


def _is_operator(user) -> bool:
    return bool(user and user.is_active and user.is_superuser)


def staff_can(*, user, shop_id: int, permission: str) -> bool:
    """True if `user` may do `permission` in shop `shop_id`. One query (none for operators)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if _is_operator(user):
        return True
    field = MEMBERSHIP_FIELDS[StaffPermission(permission)]
    row = ShopMembership.objects.filter(shop_id=shop_id, user_id=user.pk).values("role", field).first()
    if row is None:
        return False
    return row["role"] == ShopMembership.Role.OWNER or bool(row[field])


def staff_require(*, user, shop_id: int, permission: str) -> None:
    """Raise StaffPermissionDenied (403) unless `user` may do `permission` in shop `shop_id`."""
    if not staff_can(user=user, shop_id=shop_id, permission=permission):
        raise StaffPermissionDenied(
            _("Only the shop owner, or staff the owner allowed, may %(what)s.")
            % {"what": StaffPermission(permission).label}
        )


def staff_shop_ids(*, user, permission: str) -> list[int] | None:
    """The shops in which `user` may do `permission`; None means every shop (operators)."""
    if _is_operator(user):
        return None
    field = MEMBERSHIP_FIELDS[StaffPermission(permission)]
    return list(
        ShopMembership.objects.filter(user_id=user.pk)
        .filter(models.Q(role=ShopMembership.Role.OWNER) | models.Q(**{field: True}))
        .values_list("shop_id", flat=True)
    )


def staff_permissions_anywhere(user) -> set[str]:
    """The permissions `user` has in at least one shop (all for operators), for deciding what a screen
    offers. One query, remembered on the user object for the rest of the request."""
    cached = getattr(user, "_staff_permissions_anywhere", None)
    if cached is not None:
        return cached
    if _is_operator(user):
        granted = set(StaffPermission.values)
    elif user is None or not user.is_authenticated:
        granted = set()
    else:
        granted = set()
        rows = ShopMembership.objects.filter(user_id=user.pk).values("role", *MEMBERSHIP_FIELDS.values())
        for row in rows:
            if row["role"] == ShopMembership.Role.OWNER:
                granted = set(StaffPermission.values)
                break
            granted |= {permission for permission, field in MEMBERSHIP_FIELDS.items() if row[field]}
    if user is not None:
        user._staff_permissions_anywhere = granted
    return granted


def staff_can_manage_staff(*, user, shop_id: int) -> bool:
    """Owners decide what their staff may do; operators may too."""
    if _is_operator(user):
        return True
    return ShopMembership.objects.filter(
        shop_id=shop_id, user_id=user.pk, role=ShopMembership.Role.OWNER
    ).exists()


def staff_permissions_set(
    *, shop: Shop, member_id: int, actor, permissions: Mapping[str, bool]
) -> ShopMembership:
    """The owner (or an operator) sets what staff member `member_id` may do in `shop`.

    `permissions` maps StaffPermission values to booleans; unnamed ones stay as they are. Only fields
    that change are written. The owner's own membership is not changed (owners may do everything).
    Raises StaffPermissionDenied for anyone else, and NotFound-like Forbidden for a non-member.
    """
    if not staff_can_manage_staff(user=actor, shop_id=shop.pk):
        raise StaffPermissionDenied(_("Only the shop owner decides what staff may do."))
    with transaction.atomic():
        membership = ShopMembership.objects.select_for_update().filter(shop=shop, user_id=member_id).first()
        if membership is None:
            raise StaffPermissionDenied(_("This person is not staff of the shop."))
        if membership.role == ShopMembership.Role.OWNER:
            return membership
        changed = []
        for permission, allowed in permissions.items():
            field = MEMBERSHIP_FIELDS[StaffPermission(permission)]
            if getattr(membership, field) != bool(allowed):
                setattr(membership, field, bool(allowed))
                changed.append(field)
        if changed:
            membership.save(update_fields=changed)
    return membership
