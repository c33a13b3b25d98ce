"""Every write of the affiliates app except the ledger (affiliates/ledger.py) and clicks
(affiliates/clicks.py): applications, reviews, agencies, bindings, plans, showcases and links."""

import secrets
import string

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from affiliates.errors import (
    AlreadyApplied,
    InvalidBinding,
    InvalidPlan,
    InvalidReview,
    NotAPromoter,
    NotInPool,
)
from affiliates.models import (
    MAX_PLAN_RATE_BP,
    MAX_SHARE_BP,
    MIN_SHARE_BP,
    Agency,
    CommissionPlan,
    Promoter,
    Scene,
    ShareOverride,
    ShowcaseItem,
    TargetedRate,
    TrackedLink,
)
from shop.models import Product
from shop.services.staff_permissions import StaffPermission, staff_require

_ALPHABET = string.ascii_letters + string.digits


def code_generate(length: int = 10) -> str:
    """An unguessable code: 10 characters of 62 are about 59 bits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _unique_code(model, field: str, length: int = 10) -> str:
    while True:
        code = code_generate(length)
        if not model.objects.filter(**{field: code}).exists():
            return code


def _check_bp(value, *, low: int, high: int, field: str) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise InvalidPlan(_("Enter a whole number of basis points."), field=field) from None
    if not low <= value <= high:
        raise InvalidPlan(
            _("Choose between %(low)s%% and %(high)s%%.") % {"low": low / 100, "high": high / 100},
            field=field,
        )
    return value


# --- people ---------------------------------------------------------------------------------------
def promoter_apply(
    *, user, role: str, display_name: str, real_name: str, id_number: str, bio: str = ""
) -> Promoter:
    """A user applies to be a creator or a sharer, with real-name details; the profile waits for an
    operator. One profile per user (AlreadyApplied otherwise); a rejected applicant may apply again."""
    if role not in Promoter.Role.values:
        raise InvalidReview(_("Choose creator or sharer."), field="role")
    real_name, id_number = (real_name or "").strip(), (id_number or "").strip().upper()
    if not real_name:
        raise InvalidReview(_("Enter your real name."), field="real_name")
    if (
        len(id_number) != 18
        or not id_number[:17].isdigit()
        or not (id_number[17].isdigit() or id_number[17] == "X")
    ):
        raise InvalidReview(_("Enter an 18-character ID card number."), field="id_number")
    if not (display_name or "").strip():
        raise InvalidReview(_("Enter a display name."), field="display_name")
    with transaction.atomic():
        existing = Promoter.objects.select_for_update().filter(user=user).first()
        if existing is not None and existing.status != Promoter.Status.REJECTED:
            raise AlreadyApplied()
        promoter = existing or Promoter(
            user=user,
            showcase_code=_unique_code(Promoter, "showcase_code", 8),
            invitation_code=_unique_code(Promoter, "invitation_code", 8),
        )
        promoter.role, promoter.status = role, Promoter.Status.APPLIED
        promoter.display_name, promoter.bio = display_name.strip()[:40], (bio or "").strip()[:200]
        promoter.real_name, promoter.id_number = real_name[:40], id_number
        promoter.save()
    return promoter


def promoter_review(*, promoter_id: int, operator, approve: bool, note: str = "") -> Promoter:
    """An operator approves or rejects an application (only from `applied`)."""
    with transaction.atomic():
        promoter = Promoter.objects.select_for_update().get(pk=promoter_id)
        if promoter.status != Promoter.Status.APPLIED:
            raise InvalidReview()
        promoter.status = Promoter.Status.APPROVED if approve else Promoter.Status.REJECTED
        promoter.reviewed_by, promoter.reviewed_at, promoter.review_note = (
            operator,
            timezone.now(),
            note[:200],
        )
        promoter.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    return promoter


def promoter_freeze(*, promoter_id: int, operator, note: str = "") -> Promoter:
    """Freeze an approved promoter: their links stop earning (attribution skips them) and their
    pending commission on unfinished orders is cancelled in this same transaction. Repeat: no change."""
    from affiliates.ledger import ledger_cancel

    with transaction.atomic():
        promoter = Promoter.objects.select_for_update().get(pk=promoter_id)
        if promoter.status == Promoter.Status.FROZEN:
            return promoter
        if promoter.status != Promoter.Status.APPROVED:
            raise InvalidReview()
        promoter.status, promoter.frozen_at = Promoter.Status.FROZEN, timezone.now()
        promoter.reviewed_by, promoter.review_note = operator, note[:200]
        promoter.save(update_fields=["status", "frozen_at", "reviewed_by", "review_note"])
        ledger_cancel()
    return promoter


def promoter_unfreeze(*, promoter_id: int, operator, restore_commission: bool = True) -> Promoter:
    """Let a frozen promoter earn again. With `restore_commission` (the default: a freeze is a
    hold, lifted when the operator finds nothing wrong) the commission the freeze cancelled on
    orders that are still alive goes back to pending in this same transaction, and the ledger job
    then settles what completed meanwhile and applies refunds made meanwhile; commission on orders
    cancelled or closed stays cancelled, and orders placed while frozen were never attributed.
    Without it (fraud found), what the freeze cancelled stays cancelled. Repeat: no change."""
    from affiliates.ledger import ledger_restore_frozen, ledger_sync

    with transaction.atomic():
        promoter = Promoter.objects.select_for_update().get(pk=promoter_id)
        if promoter.status != Promoter.Status.FROZEN:
            return promoter
        promoter.status, promoter.frozen_at, promoter.reviewed_by = Promoter.Status.APPROVED, None, operator
        promoter.save(update_fields=["status", "frozen_at", "reviewed_by"])
        if restore_commission:
            ledger_restore_frozen(promoter_id=promoter.pk)
            ledger_sync()
    return promoter


def agency_create(
    *, name: str, owner=None, service_fee_bp: int = 1000, default_share_bp: int = 5000
) -> Agency:
    name = (name or "").strip()
    if not name:
        raise InvalidPlan(_("Enter a name."), field="name")
    fee = _check_bp(service_fee_bp, low=0, high=5000, field="service_fee_bp")
    share = _check_bp(default_share_bp, low=MIN_SHARE_BP, high=MAX_SHARE_BP, field="default_share_bp")
    try:
        with transaction.atomic():
            return Agency.objects.create(
                name=name[:60],
                owner=owner,
                service_fee_bp=fee,
                default_share_bp=share,
                invitation_code=_unique_code(Agency, "invitation_code", 8),
            )
    except IntegrityError:
        raise InvalidPlan(_("An agency with this name exists."), field="name") from None


def creator_join_agency(*, promoter: Promoter, agency: Agency) -> Promoter:
    """A creator belongs to an agency, which then takes its service fee from their commission."""
    if not promoter.is_creator:
        raise InvalidBinding(_("Only creators join an agency this way."))
    Promoter.objects.filter(pk=promoter.pk).update(agency=agency)
    promoter.agency = agency
    return promoter


def sharer_bind(*, promoter: Promoter, invitation_code: str) -> Promoter:
    """A sharer joins under a creator or an agency by its invitation code. One level only: the
    target is a creator (never a sharer) or an agency; nobody joins themselves or their own agency;
    a sharer already bound is refused. Locks the sharer row."""
    code = (invitation_code or "").strip()
    with transaction.atomic():
        sharer = Promoter.objects.select_for_update().get(pk=promoter.pk)
        if sharer.role != Promoter.Role.SHARER or sharer.status != Promoter.Status.APPROVED:
            raise InvalidBinding(
                _("Only approved 推客 join under a creator or agency."), field="invitation_code"
            )
        if sharer.bound_creator_id or sharer.bound_agency_id:
            raise InvalidBinding(_("You have already joined a team."), field="invitation_code")
        creator = Promoter.objects.filter(invitation_code=code).first() if code else None
        agency = (
            Agency.objects.filter(invitation_code=code, is_active=True).first()
            if code and not creator
            else None
        )
        if creator is not None:
            if creator.pk == sharer.pk or creator.user_id == sharer.user_id:
                raise InvalidBinding(_("You cannot join yourself."), field="invitation_code")
            if creator.role != Promoter.Role.CREATOR or creator.status != Promoter.Status.APPROVED:
                raise InvalidBinding(field="invitation_code")
            sharer.bound_creator = creator
        elif agency is not None:
            if agency.owner_id == sharer.user_id:
                raise InvalidBinding(_("You cannot join yourself."), field="invitation_code")
            sharer.bound_agency = agency
        else:
            raise InvalidBinding(field="invitation_code")
        sharer.bound_at = timezone.now()
        sharer.save(update_fields=["bound_creator", "bound_agency", "bound_at"])
    return sharer


def sharer_unbind(*, sharer_id, actor) -> Promoter:
    """End a 推客's binding: the 推客 leaves (actor is the 推客's user), or the creator they joined or
    the owner of the agency they joined removes them (actor is that user). Their child links of that
    team's links are disabled in the same transaction, so they stop earning from the next order;
    orders already placed keep their snapshot and the commission written for them. The 推客 may
    then join another team. Anyone else gets InvalidBinding (reveals nothing); a 推客 not bound is
    left as is. Locks the 推客 row."""
    with transaction.atomic():
        sharer = (
            Promoter.objects.select_for_update().filter(pk=sharer_id, role=Promoter.Role.SHARER).first()
            if str(sharer_id).isdigit()
            else None
        )
        if sharer is None:
            raise InvalidBinding(_("No such 推客 in your team."))
        leader_user_ids = set()
        if sharer.bound_creator_id:
            leader_user_ids.add(
                Promoter.objects.filter(pk=sharer.bound_creator_id).values_list("user_id", flat=True).first()
            )
        if sharer.bound_agency_id:
            leader_user_ids.add(
                Agency.objects.filter(pk=sharer.bound_agency_id).values_list("owner_id", flat=True).first()
            )
        actor_id = getattr(actor, "pk", None)
        if actor_id is None or (actor_id != sharer.user_id and actor_id not in leader_user_ids):
            raise InvalidBinding(_("No such 推客 in your team."))
        if not (sharer.bound_creator_id or sharer.bound_agency_id):
            return sharer
        TrackedLink.objects.filter(promoter=sharer, parent__isnull=False, is_active=True).update(
            is_active=False
        )
        sharer.bound_creator, sharer.bound_agency, sharer.bound_at = None, None, None
        sharer.save(update_fields=["bound_creator", "bound_agency", "bound_at"])
    return sharer


def share_set(*, owner, share_bp, product: Product | None = None) -> None:
    """Set the 推客 share (10..100%) of a creator or agency (`owner`), for all products or one."""
    share = _check_bp(share_bp, low=MIN_SHARE_BP, high=MAX_SHARE_BP, field="share_bp")
    key = {"creator": owner} if isinstance(owner, Promoter) else {"agency": owner}
    if product is None:
        type(owner).objects.filter(pk=owner.pk).update(default_share_bp=share)
        owner.default_share_bp = share
    else:
        ShareOverride.objects.update_or_create(product=product, **key, defaults={"share_bp": share})


# --- merchants' plans -----------------------------------------------------------------------------
def plan_set(
    *,
    product: Product,
    kind: str,
    rate_bp,
    exclusive_promoter: Promoter | None = None,
    is_active: bool = True,
    targeted: dict | None = None,
    actor=None,
) -> CommissionPlan:
    """Offer commission on `product`: a public rate (0..90%) with optional targeted rates
    {promoter: rate_bp}, each above the public rate, or an exclusive rate for one promoter (which
    removes the targeted rates). Orders placed after the change use it; placed orders keep theirs.
    With `actor` (a person acting in the admin or the API), only the shop's owner, staff the owner
    allowed to change commission plans, or an operator may (StaffPermissionDenied, 403). Locks the
    plan row (by its product)."""
    if actor is not None:
        staff_require(user=actor, shop_id=product.shop_id, permission=StaffPermission.MANAGE_COMMISSION)
    rate = _check_bp(rate_bp, low=0, high=MAX_PLAN_RATE_BP, field="rate_bp")
    if kind not in CommissionPlan.Kind.values:
        raise InvalidPlan(_("Choose a public or exclusive plan."), field="kind")
    if kind == CommissionPlan.Kind.EXCLUSIVE and exclusive_promoter is None:
        raise InvalidPlan(_("Name the promoter of an exclusive plan."), field="exclusive_promoter")
    if kind == CommissionPlan.Kind.PUBLIC:
        exclusive_promoter = None
        for targeted_rate in (targeted or {}).values():
            targeted_rate = _check_bp(targeted_rate, low=0, high=MAX_PLAN_RATE_BP, field="targeted")
            if targeted_rate <= rate:
                raise InvalidPlan(_("A targeted rate must be above the public rate."), field="targeted")
    with transaction.atomic():
        plan, _created = CommissionPlan.objects.select_for_update().get_or_create(
            product=product,
            defaults={
                "kind": kind,
                "rate_bp": rate,
                "exclusive_promoter": exclusive_promoter,
                "is_active": is_active,
            },
        )
        plan.kind, plan.rate_bp, plan.exclusive_promoter, plan.is_active = (
            kind,
            rate,
            exclusive_promoter,
            is_active,
        )
        plan.save()
        if kind == CommissionPlan.Kind.EXCLUSIVE:
            plan.targeted_rates.all().delete()
        elif targeted is not None:
            plan.targeted_rates.all().delete()
            TargetedRate.objects.bulk_create(
                [TargetedRate(plan=plan, promoter=p, rate_bp=int(r)) for p, r in targeted.items()]
            )
    return plan


def plans_set_many(*, products, rate_bp, is_active: bool = True, actor=None) -> int:
    """The admin's bulk action: one public rate on many products (exclusive plans are left alone).
    With `actor`, every product's shop must allow them to change commission plans (checked for all
    before any is changed)."""
    products = list(products)
    if actor is not None:
        for shop_id in sorted({product.shop_id for product in products}):
            staff_require(user=actor, shop_id=shop_id, permission=StaffPermission.MANAGE_COMMISSION)
    count = 0
    for product in products:
        plan = CommissionPlan.objects.filter(product=product).first()
        if plan is not None and plan.kind == CommissionPlan.Kind.EXCLUSIVE:
            continue
        plan_set(product=product, kind=CommissionPlan.Kind.PUBLIC, rate_bp=rate_bp, is_active=is_active)
        count += 1
    return count


# --- showcase and links ---------------------------------------------------------------------------
def _require(promoter: Promoter | None, *, role: str | None = None) -> Promoter:
    if promoter is None or promoter.status != Promoter.Status.APPROVED or (role and promoter.role != role):
        raise NotAPromoter()
    return promoter


def showcase_add(*, promoter: Promoter, product_id) -> ShowcaseItem:
    """A creator adds a product from the pool to their showcase (the product must offer them a rate)."""
    from affiliates.selectors import pool_rate_for

    _require(promoter, role=Promoter.Role.CREATOR)
    product = Product.objects.filter(pk=product_id).first() if str(product_id).isdigit() else None
    if product is None or pool_rate_for(promoter=promoter, product=product) is None:
        raise NotInPool(field="product_id")
    item, _created = ShowcaseItem.objects.get_or_create(creator=promoter, product=product)
    return item


def showcase_remove(*, promoter: Promoter, product_id) -> None:
    _require(promoter, role=Promoter.Role.CREATOR)
    ShowcaseItem.objects.filter(creator=promoter, product_id=product_id).delete()


def link_create(*, promoter: Promoter, scene: str, product_id=None) -> TrackedLink:
    """A creator's tracked link for one showcase product (`product_id`) or the whole showcase."""
    _require(promoter, role=Promoter.Role.CREATOR)
    if scene not in Scene.values:
        raise InvalidPlan(_("Choose a scene."), field="scene")
    product = None
    if product_id not in (None, ""):
        item = (
            ShowcaseItem.objects.filter(creator=promoter, product_id=product_id)
            .select_related("product")
            .first()
        )
        if item is None:
            raise NotInPool(_("Add the product to your showcase first."), field="product_id")
        product = item.product
    return TrackedLink.objects.create(
        code=_unique_code(TrackedLink, "code"),
        promoter=promoter,
        creator=promoter,
        target=TrackedLink.Target.PRODUCT if product else TrackedLink.Target.SHOWCASE,
        product=product,
        scene=scene,
    )


def child_link_create(*, promoter: Promoter, parent_code: str, scene: str | None = None) -> TrackedLink:
    """A sharer's child link from a creator's link: the creator must be the one they joined, or
    belong to the agency they joined. The child sells what the parent sells."""
    _require(promoter, role=Promoter.Role.SHARER)
    parent = (
        TrackedLink.objects.filter(code=(parent_code or "").strip(), parent__isnull=True, is_active=True)
        .select_related("creator")
        .first()
    )
    if parent is None:
        raise InvalidBinding(_("Link not found."), field="parent_code")
    creator = parent.creator
    promoter = Promoter.objects.get(pk=promoter.pk)  # the binding as it is now
    allowed = promoter.bound_creator_id == creator.pk or (
        promoter.bound_agency_id is not None and promoter.bound_agency_id == creator.agency_id
    )
    if not allowed:
        raise InvalidBinding(
            _("You can share links of the creator or agency you joined."), field="parent_code"
        )
    scene = scene or parent.scene
    if scene not in Scene.values:
        raise InvalidPlan(_("Choose a scene."), field="scene")
    return TrackedLink.objects.create(
        code=_unique_code(TrackedLink, "code"),
        promoter=promoter,
        parent=parent,
        creator=creator,
        target=parent.target,
        product_id=parent.product_id,
        scene=scene,
    )


def sharer_link_create(*, promoter: Promoter, scene: str, product_id) -> TrackedLink:
    """A 推客's own link for a product whose live exclusive plan names them (the merchant chose
    this 推客 alone): no creator in between, so the 推客 earns the whole commission less the fee of
    the agency they joined, if any."""
    from affiliates.selectors import exclusive_products_for

    _require(promoter, role=Promoter.Role.SHARER)
    if scene not in Scene.values:
        raise InvalidPlan(_("Choose a scene."), field="scene")
    product = (
        exclusive_products_for(promoter=promoter).filter(pk=product_id).first()
        if str(product_id).isdigit()
        else None
    )
    if product is None:
        raise NotInPool(field="product_id")
    return TrackedLink.objects.create(
        code=_unique_code(TrackedLink, "code"),
        promoter=promoter,
        creator=promoter,
        target=TrackedLink.Target.PRODUCT,
        product=product,
        scene=scene,
    )


def link_set_active(*, promoter: Promoter, link_id, active: bool) -> TrackedLink:
    """Disable or enable one of `promoter`'s links. The click path looks links up in PostgreSQL on
    every click, so a disabled link stops at once in every process."""
    from affiliates.errors import LinkNotFound

    link = (
        TrackedLink.objects.filter(pk=link_id, promoter=promoter).first() if str(link_id).isdigit() else None
    )
    if link is None:
        raise LinkNotFound()
    TrackedLink.objects.filter(pk=link.pk).update(is_active=active)
    link.is_active = active
    return link
