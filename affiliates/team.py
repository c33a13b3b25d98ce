"""Teams: a creator's 推客 and an agency's creators and 推客, as their leader sees them. Reads
(`team_of`, `team_member`) fence every lookup to the leader's own team; the one write here sets an
agency's service fee and default share (shares per product go through services.share_set)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from affiliates.errors import InvalidPlan
from affiliates.models import Agency, Promoter, ShareOverride

MAX_AGENCY_FEE_BP = 5000


@dataclass(frozen=True)
class Team:
    """Who leads (a creator, or an agency its owner runs) and the members they see."""

    creator: Promoter | None
    agency: Agency | None

    def members(self):
        """The members: a creator's 推客; an agency's creators and the 推客 bound to it."""
        members = Promoter.objects.select_related("user", "bound_creator").order_by(
            "role", "display_name", "pk"
        )
        if self.creator is not None:
            return members.filter(bound_creator=self.creator)
        return members.filter(Q(agency=self.agency) | Q(bound_agency=self.agency))

    def overrides(self):
        key = {"creator": self.creator} if self.creator is not None else {"agency": self.agency}
        return ShareOverride.objects.filter(**key).select_related("product").order_by("product__title")

    @property
    def default_share_bp(self) -> int:
        return (self.creator or self.agency).default_share_bp

    @property
    def invitation_code(self) -> str:
        return (self.creator or self.agency).invitation_code


def creator_team(promoter: Promoter | None) -> Team | None:
    if promoter is None or promoter.status != Promoter.Status.APPROVED or not promoter.is_creator:
        return None
    return Team(creator=promoter, agency=None)


def agency_team(user) -> Team | None:
    """The agency `user` owns (the first by name if several), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    agency = Agency.objects.filter(owner=user, is_active=True).order_by("name").first()
    return Team(creator=None, agency=agency) if agency else None


def team_member(team: Team | None, member_id) -> Promoter | None:
    """The member with this id in `team`, or None (someone else's, or nobody)."""
    if team is None:
        return None
    try:
        member_id = int(member_id)
    except (TypeError, ValueError):
        return None
    return team.members().filter(pk=member_id).first()


def agency_settings_set(*, agency: Agency, service_fee_bp=None, default_share_bp=None) -> Agency:
    """Change the agency's service fee (0..50%) and/or its 推客 default share (10..100%); only the
    fields given. Applies to orders placed afterwards (checkout snapshots them)."""
    from affiliates.models import MAX_SHARE_BP, MIN_SHARE_BP
    from affiliates.services import _check_bp

    changes = {}
    if service_fee_bp is not None:
        changes["service_fee_bp"] = _check_bp(
            service_fee_bp, low=0, high=MAX_AGENCY_FEE_BP, field="service_fee_bp"
        )
    if default_share_bp is not None:
        changes["default_share_bp"] = _check_bp(
            default_share_bp, low=MIN_SHARE_BP, high=MAX_SHARE_BP, field="default_share_bp"
        )
    if not changes:
        raise InvalidPlan(_("Nothing to change."))
    with transaction.atomic():
        Agency.objects.filter(pk=agency.pk).update(**changes)
    for field, value in changes.items():
        setattr(agency, field, value)
    return agency
