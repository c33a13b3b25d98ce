"""Withdrawal demo data for `manage.py seed_demo` (after affiliates): 带货达人 has a withdrawal paid to
her WeChat balance and runs the agency 星河机构; 种草姐姐 has one waiting for review; and the promoter
statistics rollups are built. A second run changes nothing."""

from affiliates.models import Agency, Promoter
from config.exceptions import DomainError
from payouts import services
from payouts.models import Withdrawal
from shop.payments.base import TransferState


def seed(*, stdout) -> list[tuple[str, str, str]]:
    from django.contrib.auth import get_user_model

    from affiliates.stats import stats_rollup

    star = Promoter.objects.filter(user__phone="13800000004").first()
    grass = Promoter.objects.filter(user__phone="13800000008").first()
    operator = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    if star is None or grass is None or operator is None:
        stdout.write("payouts: no promoters to pay")
        return []
    Agency.objects.filter(name="星河机构", owner__isnull=True).update(owner=star.user)
    made = []
    if not Withdrawal.objects.filter(promoter__in=[star, grass]).exists():
        for promoter, pay in ((star, True), (grass, False)):
            available = services.available_balance_fen(promoter_id=promoter.pk)
            amount = min(available, 1000)
            if amount < 100:
                continue
            try:
                withdrawal = services.withdrawal_request(user=promoter.user, amount_fen=amount)
            except DomainError as error:  # e.g. no payee account without the sandbox
                stdout.write(f"payouts: no demo withdrawal for {promoter}: {error.message}")
                continue
            made.append(withdrawal)
            if pay:
                services.withdrawals_approve(withdrawal_ids=[withdrawal.pk], operator=operator)
                services.payout_record_state(
                    state=TransferState(
                        out_bill_no=withdrawal.out_bill_no,
                        transfer_bill_no=f"1330{withdrawal.pk:032d}",
                        state="SUCCESS",
                        amount_fen=withdrawal.payout_fen,
                    )
                )
    counts = stats_rollup(full=True)
    stdout.write(f"payouts: {len(made)} withdrawals; statistics {counts}")
    return []
