"""Shared fixtures. Tests run on PostgreSQL and Redis only: the session stops at once, with a clear
message, when either is unreachable or when the settings point anywhere else."""

import pytest
from django.conf import settings

from tests.factories import UserFactory


def _fail_fast_unless_services_are_up() -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "config.postgres":  # Django's PostgreSQL backend, config/postgres
        pytest.exit(
            f"Tests run on PostgreSQL only, but DATABASE_URL gives {database['ENGINE']}. "
            "Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/weshop (the default).",
            returncode=3,
        )
    import psycopg

    try:
        psycopg.connect(
            host=database["HOST"] or "127.0.0.1",
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        pytest.exit(
            f"PostgreSQL is unreachable at {database['HOST']}:{database['PORT']}: {exc}", returncode=3
        )

    if not settings.REDIS_URL:
        pytest.exit("Tests run on Redis only, but REDIS_URL is empty.", returncode=3)
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis is unreachable at {settings.REDIS_URL}: {exc}", returncode=3)


def pytest_configure(config):
    _fail_fast_unless_services_are_up()
    # WhiteNoise warns on every WSGI handler when the collectstatic folder is missing.
    from pathlib import Path

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _fresh_cache_and_media(settings, tmp_path):
    """Each test starts with an empty cache and its own media folders."""
    from django.core.cache import cache

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return "correct-horse-battery-9"


@pytest.fixture
def shopper(db, password):
    return UserFactory(nickname="小明", password=password)


@pytest.fixture
def other_shopper(db, password):
    return UserFactory(nickname="小红", password=password)


@pytest.fixture
def operator(db, password):
    return UserFactory(nickname="运营", is_staff=True, is_superuser=True, password=password)


@pytest.fixture
def shop(db):
    from tests.shop.factories import ShopFactory

    return ShopFactory(name="甜品小店")


@pytest.fixture
def merchant(shop):
    """The owner of `shop`: merchant staff who manages it in the admin."""
    return shop.owner


@pytest.fixture
def other_shop(db):
    from tests.shop.factories import ShopFactory

    return ShopFactory(name="别家小店")


@pytest.fixture
def sku(shop):
    from tests.shop.factories import ProductFactory, SKUFactory

    return SKUFactory(product=ProductFactory(shop=shop, title="草莓蛋糕"), price_fen=12800, stock=20)


# --- WeChat Pay sandbox (shop/payments/sandbox/; helpers in tests/shop/payments/servers.py) ----
@pytest.fixture(scope="session")
def _wechatpay_sandbox_server():
    """Our own WSGI app on a free port, so the SDK reaches the sandbox over real HTTP."""
    from django.core.handlers.wsgi import WSGIHandler

    from tests.shop.payments.servers import BackgroundServer

    server = BackgroundServer(WSGIHandler())
    yield server
    server.stop()


@pytest.fixture
def wechatpay_sandbox(_wechatpay_sandbox_server, settings):
    """The sandbox, set as this test's WeChat Pay gateway. `.confirm(prepay_id or out_trade_no,
    deliver=False, force=False)` pays and returns the signed notification (headers, body);
    `.refund_notification(out_refund_no)` completes a refund likewise. Its views never touch the
    database, so it works in ordinary tests."""
    from tests.shop.payments.servers import SandboxHandle

    return SandboxHandle(_wechatpay_sandbox_server, settings)
