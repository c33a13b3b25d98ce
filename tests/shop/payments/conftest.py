import pytest

from tests.shop.payments.servers import BackgroundServer, NotificationRecorder


@pytest.fixture
def recorder(wechatpay_sandbox):
    """The merchant's notify endpoints: a server on its own port that records what it receives,
    set as this test's NOTIFY_URL (/notify/) and REFUND_NOTIFY_URL (/notify/refund/)."""
    app = NotificationRecorder()
    server = BackgroundServer(app)
    app.url = f"{server.url}/notify/"
    wechatpay_sandbox.configure(NOTIFY_URL=app.url, REFUND_NOTIFY_URL=f"{server.url}/notify/refund/")
    yield app
    server.stop()


@pytest.fixture
def provider(wechatpay_sandbox, recorder):
    from shop.payments import get_payment_provider

    return get_payment_provider()
