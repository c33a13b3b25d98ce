"""Domain errors of the affiliates app; each becomes a 400 (or the status it names) at the edge."""

from django.utils.translation import gettext_lazy as _

from config.exceptions import DomainError, NotFound


class NotAPromoter(DomainError):
    status_code = 403
    code = "not_a_promoter"
    default_message = _("Only approved promoters can do that.")


class AlreadyApplied(DomainError):
    code = "already_applied"
    default_message = _("You have already applied.")


class InvalidReview(DomainError):
    code = "invalid_review"
    default_message = _("This application cannot be reviewed in its current state.")


class InvalidBinding(DomainError):
    code = "invalid_binding"
    default_message = _("This invitation code cannot be used.")


class InvalidPlan(DomainError):
    code = "invalid_plan"
    default_message = _("This commission plan is not valid.")


class NotInPool(DomainError):
    code = "not_in_pool"
    default_message = _("This product offers you no commission.")


class LinkNotFound(NotFound):
    default_message = _("Link not found.")
