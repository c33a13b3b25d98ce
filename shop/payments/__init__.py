"""Payment providers: how the shop talks to WeChat Pay API v3 (or its local sandbox).

Use it through one function::

    from shop.payments import get_payment_provider

    provider = get_payment_provider()
    result = provider.prepay(out_trade_no=..., description=..., amount_fen=..., client_ip=...,
                             expires_at=..., return_url=...)
    # send the shopper to result.pay_url; later, in the notify view:
    notification = provider.parse_payment_notification(headers=request.headers, body=request.body)

The interface, its result types and its errors are in `shop.payments.base`. The only implementation,
`shop.payments.wechatpay.WeChatPayProvider`, runs every call through the maintained `wechatpayv3` SDK:
the same code path with real credentials and with the sandbox.

Configuration is `settings.WECHATPAY` (environment variables `WECHATPAY_*`, see the README):

- `WECHATPAY_MCHID` set: real WeChat Pay. APPID, CERT_SERIAL_NO, PRIVATE_KEY_PATH, APIV3_KEY,
  PUBLIC_KEY_PATH and PUBLIC_KEY_ID must be set too; GATEWAY empty means the official
  https://api.mch.weixin.qq.com.
- `WECHATPAY_MCHID` empty and `WECHATPAY_SANDBOX` on (its default only with DEBUG): the built-in
  sandbox (`shop.payments.sandbox`, mounted at /sandbox/wechatpay/) plays WeChat Pay's side with
  credentials generated on first use into WECHATPAY["SANDBOX_DIR"]; the gateway is
  SITE_URL + "/sandbox/wechatpay" unless GATEWAY is set.
- Neither: no payments. The provider answers PaymentProviderError (503) and logs why, so a
  deployment that lost its credentials never takes the sandbox's play money.

The provider is built once per process and rebuilt when a test changes the settings.
"""

from __future__ import annotations

import logging
import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from shop.payments.base import PaymentProvider, PaymentProviderError

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: PaymentProvider | None = None


def get_payment_provider() -> PaymentProvider:
    """The configured payment provider (WeChat Pay v3, real or sandbox), built on first use."""
    global _provider
    provider = _provider
    if provider is not None:
        return provider
    with _lock:
        if _provider is None:
            from shop.payments.wechatpay import WeChatPayProvider

            try:
                _provider = WeChatPayProvider.from_settings()
            except ImproperlyConfigured as error:
                # A shopper gets "payment unavailable" (503), the operator the reason in the log.
                logger.error("payment provider not configured: %s", error)
                raise PaymentProviderError() from error
        return _provider


def reset_payment_provider() -> None:
    """Forget the built provider; the next call to get_payment_provider() builds it afresh."""
    global _provider
    with _lock:
        _provider = None


@receiver(setting_changed)
def _rebuild_when_settings_change(*, setting: str, **kwargs) -> None:
    if setting in {"WECHATPAY", "SITE_URL"}:
        reset_payment_provider()
