"""Domain errors of withdrawals; each becomes a 400 (or the status it names) at the edge."""

from django.utils.translation import gettext_lazy as _

from config.exceptions import DomainError, NotFound


class WithdrawalNotAllowed(DomainError):
    status_code = 403
    code = "withdrawal_not_allowed"
    default_message = _("Only approved promoters with verified real names can withdraw.")


class WithdrawalTooSmall(DomainError):
    code = "withdrawal_too_small"
    default_message = _("The amount is below the minimum withdrawal.")


class InsufficientBalance(DomainError):
    code = "insufficient_balance"
    default_message = _("The amount is more than your settled balance.")


class OneWithdrawalADay(DomainError):
    code = "one_withdrawal_a_day"
    default_message = _("You can withdraw once a day; try again tomorrow.")


class NoPayoutAccount(DomainError):
    code = "no_payout_account"
    default_message = _("Bind your WeChat account before withdrawing.")


class InvalidWithdrawalTransition(DomainError):
    code = "invalid_transition"
    default_message = _("This withdrawal cannot change that way in its current state.")


class WithdrawalNotFound(NotFound):
    default_message = _("Withdrawal not found.")
