"""get_payment_provider(): built from settings.WECHATPAY, sandbox or real credentials, rebuilt when
the settings change."""

import copy

import pytest
from django.core.exceptions import ImproperlyConfigured

from shop.payments import get_payment_provider
from shop.payments.base import PaymentProvider
from shop.payments.sandbox.keys import load_or_create_credentials
from shop.payments.wechatpay import OFFICIAL_GATEWAY, WeChatPayProvider


def configure(settings, **changes):
    config = copy.deepcopy(settings.WECHATPAY)
    config.update(changes)
    settings.WECHATPAY = config


def test_without_a_merchant_number_the_sandbox_credentials_and_gateway_are_used(settings):
    configure(settings, MCHID="", GATEWAY="")
    provider = get_payment_provider()
    credentials = load_or_create_credentials()

    assert isinstance(provider, PaymentProvider)
    assert provider.name == "wechatpay"
    assert provider.mchid == credentials.mchid
    assert provider.appid == credentials.appid
    assert provider.public_key_id == credentials.public_key_id
    assert provider.gateway == f"{settings.SITE_URL}/sandbox/wechatpay"
    assert provider._client._core._gate_way == provider.gateway
    assert get_payment_provider() is provider


def test_the_provider_is_rebuilt_when_settings_change(settings):
    first = get_payment_provider()
    configure(settings, GATEWAY="http://127.0.0.1:9/sandbox/wechatpay")

    second = get_payment_provider()

    assert second is not first
    assert second.gateway == "http://127.0.0.1:9/sandbox/wechatpay"
    settings.SITE_URL = "https://shop.example"
    assert get_payment_provider() is not second


def test_real_credentials_are_configuration_only(settings, tmp_path):
    # Stand-in files with the shape of real ones: the merchant key (apiclient_key.pem) and the
    # WeChat Pay public key downloaded from the merchant platform.
    sandbox = load_or_create_credentials()
    private_key = tmp_path / "apiclient_key.pem"
    private_key.write_text(sandbox.merchant_private_key_pem)
    public_key = tmp_path / "pub_key.pem"
    public_key.write_text(sandbox.platform_public_key_pem)
    configure(
        settings,
        MCHID="1230000109",
        APPID="wxd678efh567hg6787",
        CERT_SERIAL_NO="444F4864EA9B34415",
        PRIVATE_KEY_PATH=str(private_key),
        APIV3_KEY="a" * 32,
        PUBLIC_KEY_PATH=str(public_key),
        PUBLIC_KEY_ID="PUB_KEY_ID_0114232134912410000000000000",
        GATEWAY="",
        NOTIFY_URL="https://shop.example/payments/notify/wechatpay/",
    )

    provider = get_payment_provider()

    assert isinstance(provider, WeChatPayProvider)
    assert (provider.mchid, provider.appid) == ("1230000109", "wxd678efh567hg6787")
    assert provider.gateway == OFFICIAL_GATEWAY
    assert provider.notify_url == "https://shop.example/payments/notify/wechatpay/"


def test_a_merchant_number_without_the_rest_is_a_clear_configuration_error(settings, caplog):
    from shop.payments.base import PaymentProviderError

    configure(settings, MCHID="1230000109", APPID="", PRIVATE_KEY_PATH="", PUBLIC_KEY_ID="")

    # The shopper gets "payment unavailable"; the operator's log names what is missing.
    with pytest.raises(PaymentProviderError) as error:
        get_payment_provider()

    cause = error.value.__cause__
    assert isinstance(cause, ImproperlyConfigured)
    for name in ("WECHATPAY_APPID", "WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_PUBLIC_KEY_ID"):
        assert name in str(cause) and name in caplog.text


def test_without_credentials_or_the_sandbox_flag_there_are_no_payments(settings):
    from shop.payments.base import PaymentProviderError

    configure(settings, MCHID="", SANDBOX=False)
    with pytest.raises(PaymentProviderError):
        get_payment_provider()


def test_the_sandbox_is_not_mounted_in_a_deployment_that_did_not_ask_for_it(tmp_path):
    import secrets

    from tests.foundation.helpers import clean_env, run_python

    code = (
        "import django; django.setup(); from django.urls import Resolver404, resolve\n"
        "try:\n    resolve('/sandbox/wechatpay/v3/pay/transactions/h5')\n    print('mounted')\n"
        "except Resolver404:\n    print('absent')\n"
    )
    off = clean_env(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), WECHATPAY_SANDBOX=None)
    on = dict(off, WECHATPAY_SANDBOX="1")
    assert run_python(code, env=off).stdout.split() == ["absent"]
    assert run_python(code, env=on).stdout.split() == ["mounted"]
