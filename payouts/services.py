"""Withdrawals: request, review, pay through WeChat Pay's merchant transfer, reconcile.

Money rules:
- A payee withdraws from the available balance: settled commission (clawbacks netted in) plus
  their `BalanceEntry` rows. A payee is a promoter (`withdrawal_request`) or an agency, whose ledger
  rows are its service fees, withdrawn by its owner to the owner's WeChat balance
  (`agency_withdrawal_request`); both follow the same rules (minimum, fee, once a day, real name)
  in `_withdraw`, which locks the payee's `PayoutAccount` row (SELECT ... FOR UPDATE), computes the
  balance under the lock and writes the withdrawal and its negative entry in the same transaction,
  so racing requests take turns and never overdraw.
- The transfer's out_bill_no is fixed when the withdrawal is made. WeChat keeps one bill per
  number, so sending it again can never pay twice.
- No lock is held across a call to WeChat Pay. A call whose answer is unknown (timeout, 5xx) leaves
  the withdrawal `approved` with `submitted_at` set; `payouts_reconcile` (beat) then asks WeChat
  about it by query and records what it says. The bill is sent again (same number) only when WeChat
  answers that it never got it.
- A final answer (notification, query or the create call) is recorded once by
  `payout_record_state` under the withdrawal's row lock: SUCCESS → paid; FAIL/CANCELLED → failed and
  the amount returns to the balance with WeChat's reason.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from affiliates.models import Agency, Promoter
from outbox.services import outbox_enqueue, outbox_handler
from payouts import errors
from payouts.models import BalanceEntry, PayoutAccount, Withdrawal
from shop.payments.base import PaymentProviderError, PaymentRefused, TransactionNotFound, TransferState

logger = logging.getLogger(__name__)

TRANSFER_REMARK = "推广佣金提现"


def _fee_for(amount_fen: int) -> int:
    return amount_fen * int(settings.WITHDRAWAL_FEE_BP) // 10000


def _sandbox_openid(payee) -> str:
    if isinstance(payee, Agency):
        return f"oSandboxAgency{payee.pk:014d}"
    return f"oSandbox{payee.pk:020d}"


def _uses_sandbox() -> bool:
    config = settings.WECHATPAY
    return not config.get("MCHID") and bool(config.get("SANDBOX"))


def available_balance_fen(*, promoter_id: int | None = None, agency_id: int | None = None) -> int:
    """A promoter's or an agency's settled commission (clawbacks included) plus withdrawal entries,
    in one statement."""
    if (promoter_id is None) == (agency_id is None):
        raise ValueError("one payee: a promoter or an agency")
    column, payee = ("promoter_id", promoter_id) if promoter_id is not None else ("agency_id", agency_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COALESCE((SELECT SUM(amount_fen) FROM affiliates_commissionentry
                             WHERE {column} = %(p)s AND status = 'settled'), 0)
                 + COALESCE((SELECT SUM(amount_fen) FROM payouts_balanceentry WHERE {column} = %(p)s), 0)
            """,
            {"p": payee},
        )
        return int(cursor.fetchone()[0])


def _notify(withdrawal: Withdrawal, event: str, title: str, body: str = "") -> None:
    from accounts.services import notification_send

    if withdrawal.agency_id:
        user_id, url = withdrawal.agency.owner_id, reverse("payouts:agency-withdrawals")
    else:
        user_id, url = withdrawal.promoter.user_id, reverse("payouts:withdrawals")
    if user_id is None:  # an agency left without an owner: nobody to tell
        return
    notification_send(
        user_id=user_id,
        key=f"withdrawal-{event}:{withdrawal.pk}",
        kind=f"withdrawal_{event}",
        title=title,
        body=body,
        url=url,
    )


def _yuan(fen: int) -> str:
    from shop.templatetags.money import format_fen

    return format_fen(fen)


def _verified(promoter: Promoter | None) -> bool:
    return (
        promoter is not None
        and promoter.status == Promoter.Status.APPROVED
        and bool(promoter.real_name.strip())
        and bool(promoter.id_number.strip())
    )


def withdrawal_request(*, user, amount_fen: int) -> Withdrawal:
    """A promoter asks to withdraw `amount_fen` from their available balance.

    Refuses: anyone but an approved promoter with a real name and ID number; an amount below
    WITHDRAWAL_MIN_FEN or not leaving anything after the fee; more than the available balance; a
    withdrawal beyond WITHDRAWALS_PER_DAY (default 1) on the same day (shop time; rejected and failed
    ones do not count).
    Locks the promoter's PayoutAccount row for the balance check and the writes."""
    promoter = (
        Promoter.objects.filter(user=user).first() if getattr(user, "is_authenticated", False) else None
    )
    if not _verified(promoter):
        raise errors.WithdrawalNotAllowed()
    return _withdraw(payee=promoter, real_name=promoter.real_name, amount_fen=amount_fen)


def agency_withdrawal_request(*, user, amount_fen: int) -> Withdrawal:
    """An agency's owner withdraws from the agency's settled service fees, to their own WeChat
    balance, under the promoters' rules (minimum, fee, WITHDRAWALS_PER_DAY per agency, the
    agency's available balance; see withdrawal_request).

    Refuses anyone who owns no active agency, and an owner whose real name is not verified: the
    transfer carries a real name, and the shop verifies names when it approves a promoter, so the
    owner needs an approved promoter profile with a real name and ID number.
    Locks the agency's PayoutAccount row for the balance check and the writes."""
    from affiliates.selectors import agency_of

    agency = agency_of(user)
    if agency is None:
        raise errors.WithdrawalNotAllowed(_("Only an agency's owner can withdraw its service fees."))
    owner = Promoter.objects.filter(user=user).first()
    if not _verified(owner):
        raise errors.WithdrawalNotAllowed(
            _("Verify your real name (an approved promoter profile) before withdrawing the agency's fees.")
        )
    return _withdraw(payee=agency, real_name=owner.real_name, amount_fen=amount_fen)


def _withdraw(*, payee: Promoter | Agency, real_name: str, amount_fen) -> Withdrawal:
    """The withdrawal rules for either payee (the callers check who may ask)."""
    try:
        amount_fen = int(amount_fen)
    except (TypeError, ValueError):
        raise errors.WithdrawalTooSmall(field="amount") from None
    minimum = int(settings.WITHDRAWAL_MIN_FEN)
    fee_fen = _fee_for(amount_fen)
    if amount_fen < minimum or amount_fen - fee_fen <= 0:
        raise errors.WithdrawalTooSmall(
            _("The smallest withdrawal is %(minimum)s.") % {"minimum": _yuan(minimum)}, field="amount"
        )
    who = {"agency": payee} if isinstance(payee, Agency) else {"promoter": payee}
    today = timezone.localdate()
    with transaction.atomic():
        account, _created = PayoutAccount.objects.get_or_create(**who)
        account = PayoutAccount.objects.select_for_update().get(pk=account.pk)
        openid = account.openid or (_sandbox_openid(payee) if _uses_sandbox() else "")
        if not openid:
            raise errors.NoPayoutAccount()
        # Counted under the account lock, so racing requests see each other's withdrawals.
        taken_today = (
            Withdrawal.objects.filter(**who, requested_on=today)
            .exclude(status__in=[Withdrawal.Status.REJECTED, Withdrawal.Status.FAILED])
            .count()
        )
        if taken_today >= int(settings.WITHDRAWALS_PER_DAY):
            raise errors.OneWithdrawalADay()
        available = available_balance_fen(**{f"{name}_id": value.pk for name, value in who.items()})
        if amount_fen > available:
            raise errors.InsufficientBalance(
                _("You can withdraw at most %(available)s.") % {"available": _yuan(max(available, 0))},
                field="amount",
            )
        withdrawal = Withdrawal.objects.create(
            **who,
            real_name=real_name,
            amount_fen=amount_fen,
            fee_fen=fee_fen,
            payout_fen=amount_fen - fee_fen,
            requested_on=today,
            out_bill_no=f"WD{timezone.localtime():%Y%m%d}{secrets.token_hex(8).upper()}",
            openid=openid,
        )
        BalanceEntry.objects.create(
            **who,
            withdrawal=withdrawal,
            kind=BalanceEntry.Kind.WITHDRAWAL,
            amount_fen=-amount_fen,
        )
    return withdrawal


def _return_money(withdrawal: Withdrawal) -> None:
    BalanceEntry.objects.bulk_create(
        [
            BalanceEntry(
                promoter_id=withdrawal.promoter_id,
                agency_id=withdrawal.agency_id,
                withdrawal=withdrawal,
                kind=BalanceEntry.Kind.RETURN,
                amount_fen=withdrawal.amount_fen,
            )
        ],
        ignore_conflicts=True,
    )


def _locked_open(ids: Iterable[int], statuses: list[str]) -> list[Withdrawal]:
    """The given withdrawals still in `statuses`, locked in primary-key order."""
    return list(
        Withdrawal.objects.select_for_update(of=("self",))
        .filter(pk__in=list(ids), status__in=statuses)
        .select_related("promoter", "agency")
        .order_by("pk")
    )


def withdrawals_start_review(*, withdrawal_ids: Iterable[int], operator) -> int:
    """requested → under_review. Returns how many changed; others are left as they are."""
    now = timezone.now()
    return Withdrawal.objects.filter(pk__in=list(withdrawal_ids), status=Withdrawal.Status.REQUESTED).update(
        status=Withdrawal.Status.UNDER_REVIEW, reviewed_by=operator, reviewed_at=now
    )


def withdrawals_approve(*, withdrawal_ids: Iterable[int], operator) -> int:
    """requested / under_review → approved; each approved one is paid through the outbox after
    commit (`payout_submit`). Withdrawals in any other state are left alone. Returns the count."""
    now = timezone.now()
    with transaction.atomic():
        approved = _locked_open(withdrawal_ids, [Withdrawal.Status.REQUESTED, Withdrawal.Status.UNDER_REVIEW])
        for withdrawal in approved:
            withdrawal.status = Withdrawal.Status.APPROVED
            withdrawal.reviewed_by = operator
            withdrawal.reviewed_at = now
        Withdrawal.objects.bulk_update(approved, ["status", "reviewed_by", "reviewed_at"])
        for withdrawal in approved:
            _notify(
                withdrawal,
                "approved",
                _("Withdrawal approved"),
                _yuan(withdrawal.payout_fen),
            )
            outbox_enqueue(handler=payout_submit, payload={"withdrawal_id": withdrawal.pk})
    return len(approved)


def withdrawals_reject(*, withdrawal_ids: Iterable[int], operator, reason: str) -> int:
    """requested / under_review → rejected with `reason`; the amount returns to the balance."""
    reason = (reason or "").strip()
    if not reason:
        raise errors.InvalidWithdrawalTransition(_("Give a reason for the rejection."), field="reason")
    now = timezone.now()
    with transaction.atomic():
        rejected = _locked_open(withdrawal_ids, [Withdrawal.Status.REQUESTED, Withdrawal.Status.UNDER_REVIEW])
        for withdrawal in rejected:
            withdrawal.status = Withdrawal.Status.REJECTED
            withdrawal.reviewed_by = operator
            withdrawal.reviewed_at = now
            withdrawal.reason = reason[:200]
        Withdrawal.objects.bulk_update(rejected, ["status", "reviewed_by", "reviewed_at", "reason"])
        for withdrawal in rejected:
            _return_money(withdrawal)
            _notify(withdrawal, "rejected", _("Withdrawal rejected"), reason)
    return len(rejected)


def payout_record_state(*, state: TransferState) -> Withdrawal | None:
    """Record what WeChat Pay says about a transfer (create answer, query or notification), once.

    Locks the withdrawal row. Only an `approved` withdrawal changes: SUCCESS → paid; FAIL or
    CANCELLED → failed, amount returned, reason kept; any other state is noted and waits. A state
    for an unknown bill, or with another amount, is refused. Repeating it changes nothing."""
    with transaction.atomic():
        withdrawal = (
            Withdrawal.objects.select_for_update(of=("self",))
            .select_related("promoter", "agency")
            .filter(out_bill_no=state.out_bill_no)
            .first()
        )
        if withdrawal is None:
            raise errors.WithdrawalNotFound()
        if state.amount_fen is not None and state.amount_fen != withdrawal.payout_fen:
            logger.error(
                "transfer %s: WeChat says %s fen, we sent %s",
                state.out_bill_no,
                state.amount_fen,
                withdrawal.payout_fen,
            )
            raise errors.InvalidWithdrawalTransition("The transfer amount does not match the withdrawal.")
        if withdrawal.status != Withdrawal.Status.APPROVED:
            return withdrawal
        now = timezone.now()
        withdrawal.transfer_state = state.state
        withdrawal.transfer_bill_no = state.transfer_bill_no or withdrawal.transfer_bill_no
        withdrawal.last_checked_at = now
        fields = ["transfer_state", "transfer_bill_no", "last_checked_at"]
        if state.succeeded:
            withdrawal.status = Withdrawal.Status.PAID
            withdrawal.paid_at = now
            fields += ["status", "paid_at"]
            _notify(
                withdrawal, "paid", _("Withdrawal paid to your WeChat balance"), _yuan(withdrawal.payout_fen)
            )
        elif state.failed:
            withdrawal.status = Withdrawal.Status.FAILED
            withdrawal.failed_at = now
            withdrawal.reason = (state.fail_reason or state.state)[:200]
            fields += ["status", "failed_at", "reason"]
            _return_money(withdrawal)
            _notify(
                withdrawal,
                "failed",
                _("Withdrawal failed; the money is back in your balance"),
                withdrawal.reason,
            )
        withdrawal.save(update_fields=fields)
    return withdrawal


def _payout_fail_refused(withdrawal_id: int, error: PaymentRefused) -> None:
    """WeChat refused to create the bill (no bill exists): the withdrawal fails, the money returns."""
    withdrawal = Withdrawal.objects.get(pk=withdrawal_id)
    payout_record_state(
        state=TransferState(
            out_bill_no=withdrawal.out_bill_no,
            transfer_bill_no="",
            state="FAIL",
            fail_reason=(error.provider_code or "REFUSED"),
        )
    )


def _send(withdrawal: Withdrawal) -> None:
    """One create call for the withdrawal's bill; records the answer. Unknown answers are left to
    the reconcile job."""
    from shop.payments import get_payment_provider

    try:
        state = get_payment_provider().transfer_create(
            out_bill_no=withdrawal.out_bill_no,
            openid=withdrawal.openid,
            amount_fen=withdrawal.payout_fen,
            remark=TRANSFER_REMARK,
            user_name=withdrawal.real_name or withdrawal.promoter.real_name,
        )
    except TransactionNotFound:
        logger.warning("transfer %s: not found at create; left for the reconcile job", withdrawal.out_bill_no)
        return
    except PaymentRefused as error:
        _payout_fail_refused(withdrawal.pk, error)
        return
    except PaymentProviderError as error:
        logger.warning(
            "transfer %s: answer unknown (%s); the reconcile job will query", withdrawal.out_bill_no, error
        )
        return
    payout_record_state(state=state)


@outbox_handler
def payout_submit(*, withdrawal_id: int) -> None:
    """Send an approved withdrawal's transfer once. Marks `submitted_at` (in its own short
    transaction, under the row lock) before calling WeChat Pay with no lock held; a withdrawal
    already submitted is not sent again here but queried (`payout_reconcile_one`). Safe to repeat."""
    with transaction.atomic():
        withdrawal = (
            Withdrawal.objects.select_for_update(of=("self",))
            .select_related("promoter", "agency")
            .filter(pk=withdrawal_id)
            .first()
        )
        if withdrawal is None or withdrawal.status != Withdrawal.Status.APPROVED:
            return
        already_sent = withdrawal.submitted_at is not None
        if not already_sent:
            withdrawal.submitted_at = timezone.now()
            withdrawal.attempts += 1
            withdrawal.save(update_fields=["submitted_at", "attempts"])
    if already_sent:
        payout_reconcile_one(withdrawal_id=withdrawal_id)
        return
    _send(withdrawal)


def payout_reconcile_one(*, withdrawal_id: int) -> Withdrawal | None:
    """Ask WeChat Pay about a submitted transfer and record the answer. If WeChat never got the bill
    (NOT_FOUND), the same bill (same out_bill_no) is sent again: it cannot be paid twice."""
    from shop.payments import get_payment_provider

    withdrawal = Withdrawal.objects.select_related("promoter", "agency").filter(pk=withdrawal_id).first()
    if withdrawal is None or withdrawal.status != Withdrawal.Status.APPROVED:
        return withdrawal
    if withdrawal.submitted_at is None:
        payout_submit(withdrawal_id=withdrawal_id)
        return Withdrawal.objects.get(pk=withdrawal_id)
    try:
        state = get_payment_provider().transfer_query(out_bill_no=withdrawal.out_bill_no)
    except TransactionNotFound:
        with transaction.atomic():
            locked = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
            if locked.status != Withdrawal.Status.APPROVED:
                return locked
            locked.attempts += 1
            locked.last_checked_at = timezone.now()
            locked.save(update_fields=["attempts", "last_checked_at"])
        logger.info(
            "transfer %s: WeChat has no such bill; sending the same bill again", withdrawal.out_bill_no
        )
        _send(withdrawal)
        return Withdrawal.objects.get(pk=withdrawal_id)
    except PaymentProviderError as error:
        logger.warning("transfer %s: query failed (%s); next run tries again", withdrawal.out_bill_no, error)
        Withdrawal.objects.filter(pk=withdrawal_id).update(last_checked_at=timezone.now())
        return withdrawal
    return payout_record_state(state=state)


def payouts_reconcile(*, now=None) -> int:
    """Beat: every approved withdrawal whose transfer is not final and was not heard of for
    PAYOUT_QUERY_AFTER_SECONDS is queried (or, if never sent because its outbox message was lost,
    sent). Returns how many were looked at."""
    now = now or timezone.now()
    quiet = now - timedelta(seconds=int(settings.PAYOUT_QUERY_AFTER_SECONDS))
    due = list(
        Withdrawal.objects.filter(status=Withdrawal.Status.APPROVED, reviewed_at__lte=quiet)
        .exclude(last_checked_at__gt=quiet)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for withdrawal_id in due:
        try:
            payout_reconcile_one(withdrawal_id=withdrawal_id)
        except Exception:
            logger.exception("reconciling withdrawal %s failed", withdrawal_id)
    return len(due)


def payout_notification_handle(*, headers, body: bytes) -> Withdrawal | None:
    """The MCHTRANSFER.BILL.FINISHED notification: verified and decrypted by the provider, then
    recorded like any other answer about the bill."""
    from shop.payments import get_payment_provider

    state = get_payment_provider().parse_transfer_notification(headers=headers, body=body)
    return payout_record_state(state=state)
