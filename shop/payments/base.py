"""The payment provider interface: what the order services may ask of a payment method.

Amounts are integer fen, exactly as WeChat Pay v3 counts them. Every call either returns one of the
small frozen results below or raises a `PaymentProviderError` (the provider could not be reached, or
refused the request) or, for incoming notifications, `InvalidNotification`. Nothing here touches
our database: recording what happened is the job of the payment services that call a provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from rest_framework import status

from config.exceptions import DomainError


@dataclass(frozen=True)
class PrepayResult:
    """A payment opened at the provider. Send the shopper's browser to `pay_url`."""

    prepay_id: str
    pay_url: str


@dataclass(frozen=True)
class PaymentNotification:
    """A verified, decrypted payment notification (WeChat's TRANSACTION.* event).

    `amount_fen` is the order amount the provider charged (`amount.total`); `payer_total_fen` is what
    the payer actually paid after provider-side discounts. The order service compares `amount_fen`
    with the order before accepting it.
    """

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    payer_total_fen: int
    trade_state: str
    success_time: datetime | None
    payer_openid: str
    raw: dict = field(repr=False, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.trade_state == "SUCCESS"


@dataclass(frozen=True)
class SubOrder:
    """One order inside a combined payment (WeChat 合单支付 sub-order): its own trade number and
    amount, so it is paid, queried and refunded as its own transaction."""

    out_trade_no: str
    description: str
    amount_fen: int


@dataclass(frozen=True)
class CombinedPaymentNotification:
    """A verified, decrypted combined-payment notification: one buyer payment covering several
    orders. Each sub-order comes as its own PaymentNotification (own transaction id and amount)."""

    combine_out_trade_no: str
    sub_orders: tuple[PaymentNotification, ...]
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class RefundResult:
    """A refund accepted by the provider. `status` is usually "PROCESSING": the outcome comes later
    in a refund notification (or "SUCCESS", "CLOSED", "ABNORMAL" when already known)."""

    refund_id: str
    status: str


@dataclass(frozen=True)
class RefundState:
    """What the provider knows about one refund right now (WeChat: SUCCESS, CLOSED, PROCESSING,
    ABNORMAL), for refunds whose notification never came."""

    out_refund_no: str
    refund_id: str
    status: str
    amount_fen: int
    success_time: datetime | None


@dataclass(frozen=True)
class RefundNotification:
    """A verified, decrypted refund notification (WeChat's REFUND.* event). `amount_fen` is the
    amount of this refund (`amount.refund`)."""

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund_status: str
    amount_fen: int
    success_time: datetime | None
    raw: dict = field(repr=False, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.refund_status == "SUCCESS"


@dataclass(frozen=True)
class TransactionState:
    """What the provider knows about one payment right now. `trade_state` is WeChat's vocabulary:
    NOTPAY, SUCCESS, CLOSED, REFUND, USERPAYING, PAYERROR, REVOKED."""

    out_trade_no: str
    transaction_id: str | None
    trade_state: str
    amount_fen: int


@dataclass(frozen=True)
class TransferState:
    """A merchant transfer to a user's WeChat balance (商家转账, /v3/fund-app/mch-transfer/transfer-bills),
    as the provider answered its creation, a query or a notification. WeChat's states: ACCEPTED,
    PROCESSING, WAIT_USER_CONFIRM, TRANSFERING (still moving), SUCCESS, FAIL, CANCELING, CANCELLED."""

    out_bill_no: str
    transfer_bill_no: str
    state: str
    amount_fen: int | None = None
    fail_reason: str = ""
    package_info: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    FINAL_SUCCESS = frozenset({"SUCCESS"})
    FINAL_FAILURE = frozenset({"FAIL", "CANCELLED"})

    @property
    def succeeded(self) -> bool:
        return self.state in self.FINAL_SUCCESS

    @property
    def failed(self) -> bool:
        return self.state in self.FINAL_FAILURE


class PaymentProviderError(DomainError):
    """The payment provider could not be reached or answered something we cannot use.

    `provider_code` carries the provider's own error code when it gave one (WeChat: "ORDERPAID",
    "INVALID_REQUEST", ...)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "payment_provider_unavailable"
    default_message = "The payment provider is unavailable. Please try again shortly."

    def __init__(self, message: str | None = None, *, field: str | None = None, provider_code: str = ""):
        super().__init__(message, field=field)
        self.provider_code = provider_code


class PaymentRefused(PaymentProviderError):
    """The provider answered and refused the request (for example a refund above what is left)."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "payment_refused"
    default_message = "The payment provider refused the request."


class TransactionNotFound(PaymentRefused):
    """The provider has no payment under this out_trade_no (WeChat ORDER_NOT_EXIST)."""

    status_code = status.HTTP_404_NOT_FOUND
    code = "payment_not_found"
    default_message = "The payment provider has no such payment."


class TransactionAlreadyPaid(PaymentRefused):
    """A close was refused because the shopper has already paid (WeChat ORDERPAID). The payment
    notification is on its way, or can be fetched with `query`."""

    status_code = status.HTTP_409_CONFLICT
    code = "payment_already_paid"
    default_message = "This payment has already been made."


class InvalidNotification(DomainError):
    """An incoming notification failed verification: bad or missing signature, unknown key serial,
    a timestamp outside the replay window, undecryptable or malformed content, or addressed to
    another merchant. Answer 400 and change nothing."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_notification"
    default_message = "The payment notification could not be verified."


@runtime_checkable
class PaymentProvider(Protocol):
    """One payment method. Implementations: `shop.payments.wechatpay.WeChatPayProvider`."""

    name: str

    def prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        client_ip: str,
        expires_at: datetime,
        return_url: str,
    ) -> PrepayResult:
        """Open a payment (idempotent per out_trade_no with the same amount)."""
        ...

    def combine_prepay(
        self,
        *,
        combine_out_trade_no: str,
        sub_orders: Sequence[SubOrder],
        client_ip: str,
        expires_at: datetime,
        return_url: str,
    ) -> PrepayResult:
        """Open one payment for several orders (idempotent per combine_out_trade_no)."""
        ...

    def combine_query(self, *, combine_out_trade_no: str) -> list[TransactionState]:
        """The provider's view of each sub-order of a combined payment."""
        ...

    def combine_close(self, *, combine_out_trade_no: str, out_trade_nos: Sequence[str]) -> None:
        """Close an unpaid combined payment (all its sub-orders). Raises TransactionAlreadyPaid."""
        ...

    def query(self, *, out_trade_no: str) -> TransactionState:
        """The provider's current view of the payment. Raises TransactionNotFound if never opened."""
        ...

    def close(self, *, out_trade_no: str) -> None:
        """Close an unpaid payment so it can no longer be paid. Closing twice is fine.
        Raises TransactionAlreadyPaid when it was paid in the meantime."""
        ...

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        """Ask for a refund (idempotent per out_refund_no). The outcome arrives as a refund
        notification. Raises PaymentRefused when the refund is not allowed (e.g. above what is left)."""
        ...

    def query_refund(self, *, out_refund_no: str) -> RefundState:
        """The provider's current view of a refund. Raises TransactionNotFound if it never got it."""
        ...

    def parse_payment_notification(
        self, *, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotification | CombinedPaymentNotification:
        """Verify and decrypt a payment notification (single or combined), or raise
        InvalidNotification."""
        ...

    def parse_refund_notification(self, *, headers: Mapping[str, str], body: bytes) -> RefundNotification:
        """Verify and decrypt a refund notification, or raise InvalidNotification."""
        ...
