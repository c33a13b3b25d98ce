"""The one settings module. Every value comes from the environment.

Nothing set means a zero-setup local demo: SQLite in ./var, a file-system cache and a Celery
transport on the file system, so web, worker and beat run with only Python installed.
Production (and the test suite) sets DATABASE_URL and REDIS_URL.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

INSECURE_DEFAULT_SECRET_KEY = "insecure-local-demo-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"

# Nothing configured means the embedded local demo, which runs with DEBUG on; once DATABASE_URL points at
# a real database, DEBUG is off unless asked for, and the demo SECRET_KEY is refused below.
DEBUG = env.bool("DEBUG", default="DATABASE_URL" not in env)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
if (
    not DEBUG
    and SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY
    and not env.bool("ALLOW_INSECURE_DEMO", default=False)
):
    raise ImproperlyConfigured(
        "SECRET_KEY is the built-in demo key and DEBUG is off. Set SECRET_KEY in the environment "
        "(or DEBUG=1 / ALLOW_INSECURE_DEMO=1 for a local demo)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Public address of the site, used in links that leave the page (emails, payment callbacks, share cards).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The admin theme (must come before django.contrib.admin so its templates win); see README "Back office".
    "simpleui",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "imagekit",
    "import_export",
    "accounts.apps.SignInProtectionConfig",  # django-axes, sign-in throttling (accounts/signin.py)
    "outbox",
    "accounts",
    "shop",
    "affiliates",
    "gifting",
    "payouts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /t/<code> (tracked links) is answered here, before sessions and CSRF: affiliates/middleware.py.
    "affiliates.middleware.ClickMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.frame_options.AdminFramesSameOriginMiddleware",  # the admin theme frames admin pages
    "config.handlers.ShopNotFoundPageMiddleware",
    # Last: sees the lockout flag the sign-in check left on the request, answers 429 (accounts/signin.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.inbox",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that reads the socket instead of running SELECT 1
    # (config/postgres/base.py): a round trip less on every request.
    DATABASES["default"]["ENGINE"] = "config.postgres"
    # Persistent connections: opening one per request costs about ten times in throughput.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# The few statements every signed-in request runs are prepared (config/postgres/base.py); off behind
# a connection pooler in transaction mode.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, sessions, Celery broker ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Redis is a cache here, kept with no persistence: when it cannot be reached, every cache call is a
# miss (django-redis's IGNORE_EXCEPTIONS: reads answer "not found", writes are dropped), logged at
# most once a minute on the "weshop.cache" logger and counted on /healthz (config/logging.py). No
# call pays an extra round trip for this; the short timeouts bound what a dead server costs.
CACHE_OPTIONS = {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "weshop.cache"
if REDIS_URL:
    _cache_key_prefix = env.str("CACHE_KEY_PREFIX", default="weshop")
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _cache_key_prefix,
            "TIMEOUT": 300,
            "OPTIONS": CACHE_OPTIONS,
        },
        # The WeChat Pay sandbox plays the provider's side and keeps its state here: it is not our cache,
        # so its errors are errors (a provider that lost a transaction must not pretend it has none).
        "sandbox": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _cache_key_prefix,
            "TIMEOUT": 300,
        },
    }
else:
    # Shared between the web, worker and beat processes of a local demo, unlike a memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "TIMEOUT": 300,
        }
    }
    CACHES["sandbox"] = CACHES["default"]
# Sessions live in PostgreSQL and are cached: with Redis away they are read from the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The sign-in guard runs first: a locked account or address is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend with the signed-in user loaded without the ORM's statement building
    # (accounts/backends.py and accounts/authentication.py, README "Speed").
    "accounts.backends.AccountBackend",
]

# Sign-in throttling (django-axes, counted in PostgreSQL so every web instance shares it and it keeps
# counting when Redis is down). Page, token API and admin sign-in all go through authenticate(), so one
# count covers them. After SIGNIN_FAILURE_LIMIT failures for one phone number, or
# SIGNIN_ADDRESS_FAILURE_LIMIT from one client address (several people may share one address behind NAT,
# so it is higher), sign-in is refused for SIGNIN_LOCKOUT_MINUTES after the last counted failure
# (429 on the API, the form with a message on pages). Operators unlock earlier in the admin
# (Axes > Access attempts: delete the rows). See README "Security".
AXES_HANDLER = "accounts.signin.SignInAttemptHandler"
AXES_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)
SIGNIN_ADDRESS_FAILURE_LIMIT = env.int("SIGNIN_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGNIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Failures while locked are not counted, so the lock ends on time even while someone keeps guessing.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_USERNAME_CALLABLE = "accounts.signin.signin_username"
AXES_CLIENT_IP_CALLABLE = "accounts.signin.client_ip_address"
AXES_LOCKOUT_CALLABLE = "accounts.signin.lockout_response"
AXES_VERBOSE = False  # no start-up banner on stdout
AXES_SENSITIVE_PARAMETERS = ["username", "phone"]  # phone numbers stay out of log lines
# Client address: REMOTE_ADDR unless a reverse proxy we trust sets a header. CLIENT_IP_HEADER names it
# (e.g. X-Forwarded-For or X-Real-IP); CLIENT_IP_TRUSTED_PROXIES is how many proxies of ours append to it,
# so the address is taken that many entries from the right (what a client writes itself is ignored).
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
CLIENT_IP_TRUSTED_PROXIES = env.int("CLIENT_IP_TRUSTED_PROXIES", default=1)

if env.bool("FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- I18n: Chinese by default, English through Django i18n ------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Uploads only some people may see (after-sales photos): never served under MEDIA_URL, only by views
# that check who asks (shop/private_media.py).
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private-media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic` first, as production and `make bench` run it.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Uploads: product images and after-sales photos.
MAX_IMAGE_UPLOAD_BYTES = env.int("MAX_IMAGE_UPLOAD_BYTES", default=5 * 1024 * 1024)
# Thumbnails are made when an image is saved, so pages only build their URLs (no existence checks).
IMAGEKIT_DEFAULT_CACHEFILE_STRATEGY = "imagekit.cachefiles.strategies.Optimistic"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Back office (the admin): django-simpleui theme, spreadsheets through django-import-export ---
# Everything the theme loads is served from its own static files: no CDN, no version check, no analytics.
SIMPLEUI_STATIC_OFFLINE = True
SIMPLEUI_ANALYSIS = False
SIMPLEUI_HOME_INFO = False
SIMPLEUI_HOME_QUICK = False
SIMPLEUI_HOME_ACTION = False
SIMPLEUI_LOGIN_PARTICLES = False
# The first tab of the admin is the merchant's "today" page (shop/admin/today.py).
SIMPLEUI_HOME_PAGE = "/admin/today/"
SIMPLEUI_HOME_TITLE = "今日待办"
SIMPLEUI_HOME_ICON = "fas fa-clipboard-list"
SIMPLEUI_DEFAULT_THEME = "simpleui.css"
SIMPLEUI_ICON = {
    "店铺": "fas fa-store",
    "商品": "fas fa-box",
    "订单": "fas fa-receipt",
    "售后申请": "fas fa-undo",
}
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = None
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = None
# A stock level at or below this is "low" on the merchant's home page and dashboard.
LOW_STOCK_THRESHOLD = env.int("LOW_STOCK_THRESHOLD", default=5)

# --- Email ------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="小店 <noreply@weshop.local>")

# --- Security (manage.py check --deploy is clean with DEBUG off) ------------------------------
# One year, subdomains included and preload-ready: what browsers' HSTS preload lists ask for.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- REST framework and OpenAPI ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.AccountTokenAuthentication",  # DRF's, one statement
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.JsonFirstNegotiation",  # DRF's, in fewer steps
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "120/min", "user": "600/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "小店 API",
    "DESCRIPTION": "Shop, catalog, orders, payments, affiliates and gifts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        # Order flow: several models have a "status" or "kind"; name each enum after its model.
        "OrderStatusEnum": "shop.models.orders.Order.Status",
        "OrderKindEnum": "shop.models.orders.Order.Kind",
        "AfterSalesStatusEnum": "shop.models.aftersales.AfterSalesRequest.Status",
        "AfterSalesKindEnum": "shop.models.aftersales.AfterSalesRequest.Kind",
        "RefundStatusEnum": "shop.models.payments.Refund.Status",
        "ProductStatusEnum": "shop.models.catalog.Product.Status",
        "PromoterRoleEnum": "affiliates.models.Promoter.Role",
        "PromoterStatusEnum": "affiliates.models.Promoter.Status",
        "LedgerRoleEnum": "affiliates.models.CommissionEntry.Role",
        "LedgerKindEnum": "affiliates.models.CommissionEntry.Kind",
        "LedgerStatusEnum": "affiliates.models.CommissionEntry.Status",
        "CommissionPlanKindEnum": "affiliates.models.CommissionPlan.Kind",
        "LinkTargetEnum": "affiliates.models.TrackedLink.Target",
    },
}

# --- Celery -----------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Publishing never waits for a broker that is away: one quick try, then the outbox's sweep relays
    # the message later (see outbox/services.py). Workers reconnect on their own (broker_connection_*).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "max_retries": 0,
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
    }
else:
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Where tasks are queued and workers listen unless told otherwise (tests give each worker its own).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "cancel-unpaid-orders": {"task": "shop.tasks.cancel_unpaid_orders", "schedule": timedelta(minutes=1)},
    "auto-receive-orders": {"task": "shop.tasks.auto_receive_orders", "schedule": timedelta(minutes=10)},
    "complete-orders": {"task": "shop.tasks.complete_orders", "schedule": timedelta(minutes=10)},
    "clear-stale-carts": {"task": "shop.tasks.clear_stale_carts", "schedule": crontab(hour=4, minute=0)},
    "reconcile-refunds": {"task": "shop.tasks.reconcile_refunds", "schedule": timedelta(minutes=5)},
    "after-sales-timers": {"task": "shop.tasks.after_sales_timers", "schedule": timedelta(minutes=10)},
    "flush-clicks": {"task": "affiliates.tasks.flush_clicks", "schedule": timedelta(seconds=5)},
    "sync-ledger": {"task": "affiliates.tasks.sync_ledger", "schedule": timedelta(minutes=2)},
    "rollup-promoter-stats": {"task": "affiliates.tasks.rollup_stats", "schedule": timedelta(minutes=2)},
    "rebuild-promoter-stats": {
        "task": "affiliates.tasks.rollup_stats",
        "schedule": crontab(hour=3, minute=40),
        "kwargs": {"full": True},
    },
    "promoter-notices": {"task": "affiliates.tasks.send_notices", "schedule": timedelta(minutes=2)},
    "commission-digest": {
        "task": "affiliates.tasks.send_commission_digest",
        "schedule": crontab(hour=9, minute=0),
    },
    "reconcile-payouts": {"task": "payouts.tasks.reconcile_payouts", "schedule": timedelta(minutes=2)},
    "gift-timers": {"task": "gifting.tasks.gift_timers", "schedule": timedelta(minutes=1)},
    # Work recorded in the outbox and not delivered yet (broker away, Redis restarted): see outbox/.
    "outbox-relay-due": {
        "task": "outbox.tasks.relay_due",
        "schedule": timedelta(seconds=env.int("OUTBOX_SWEEP_SECONDS", default=30)),
    },
    "outbox-purge-done": {"task": "outbox.tasks.purge_done", "schedule": crontab(hour=4, minute=30)},
}

# The outbox (outbox/services.py): how long after its commit a message is left to the commit's own
# relay before the sweep sends it, and how long a relayed message may stay undone before it is sent again.
OUTBOX_RELAY_GRACE_SECONDS = env.int("OUTBOX_RELAY_GRACE_SECONDS", default=60)
OUTBOX_REDELIVER_SECONDS = env.int("OUTBOX_REDELIVER_SECONDS", default=300)

# --- Domain settings --------------------------------------------------------------------------
ORDER_PAYMENT_TIMEOUT = timedelta(minutes=env.int("ORDER_PAYMENT_TIMEOUT_MINUTES", default=15))
AUTO_RECEIVE_DAYS = env.int("AUTO_RECEIVE_DAYS", default=10)
AFTER_SALES_DAYS = env.int("AFTER_SALES_DAYS", default=7)
# After-sales timers (README "Refunds and after-sales"): the merchant answers a request within
# AFTER_SALES_MERCHANT_DAYS or it is approved; the buyer sends a return back within
# AFTER_SALES_RETURN_DAYS of approval or the request closes; the merchant confirms a return's receipt
# within AFTER_SALES_RETURN_RECEIVE_DAYS of its shipping or it is refunded.
AFTER_SALES_MERCHANT_DAYS = env.int("AFTER_SALES_MERCHANT_DAYS", default=2)
AFTER_SALES_RETURN_DAYS = env.int("AFTER_SALES_RETURN_DAYS", default=7)
AFTER_SALES_RETURN_RECEIVE_DAYS = env.int("AFTER_SALES_RETURN_RECEIVE_DAYS", default=10)
# A refund with no outcome heard for this long (a lost notification), or abnormal, is asked about.
REFUND_RECONCILE_AFTER_MINUTES = env.int("REFUND_RECONCILE_AFTER_MINUTES", default=10)
ATTRIBUTION_DAYS = env.int("ATTRIBUTION_DAYS", default=7)
# Whether a promoter earns on their own purchases through their own links.
AFFILIATE_SELF_PURCHASE = env.bool("AFFILIATE_SELF_PURCHASE", default=False)
# Promoter statistics rollups (affiliates/stats.py): how many recent days the job recomputes.
STATS_RECOMPUTE_DAYS = env.int("STATS_RECOMPUTE_DAYS", default=60)
# Withdrawals (payouts/): the smallest amount, the fee in basis points, and how long a transfer may go
# unheard of before the reconcile job asks WeChat Pay about it.
WITHDRAWAL_MIN_FEN = env.int("WITHDRAWAL_MIN_FEN", default=100)
WITHDRAWAL_FEE_BP = env.int("WITHDRAWAL_FEE_BP", default=0)
WITHDRAWALS_PER_DAY = env.int("WITHDRAWALS_PER_DAY", default=1)
PAYOUT_QUERY_AFTER_SECONDS = env.int("PAYOUT_QUERY_AFTER_SECONDS", default=60)
GIFT_CLAIM_HOURS = env.int("GIFT_CLAIM_HOURS", default=24)
# A refund of unclaimed copies the provider refused is tried again after this many minutes, the wait
# doubling after each refusal up to the maximum (gifting.services.gifts_refund_retry).
GIFT_REFUND_RETRY_MINUTES = env.int("GIFT_REFUND_RETRY_MINUTES", default=10)
GIFT_REFUND_RETRY_MAX_MINUTES = env.int("GIFT_REFUND_RETRY_MAX_MINUTES", default=12 * 60)
# A SKU priced above GIFT_MAX_PRICE yuan cannot be a gift; a gift holds at most GIFT_MAX_COPIES copies.
GIFT_MAX_PRICE = env.int("GIFT_MAX_PRICE", default=10_000)
GIFT_MAX_PRICE_FEN = GIFT_MAX_PRICE * 100
GIFT_MAX_COPIES = env.int("GIFT_MAX_COPIES", default=1000)
# The giver hears this many hours before unclaimed copies are refunded.
GIFT_REMIND_HOURS = env.int("GIFT_REMIND_HOURS", default=2)
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=300)

# WeChat Pay API v3. Unset credentials mean the built-in sandbox plays WeChat Pay's side
# (see shop/payments/). Real credentials are configuration only: see the README.
WECHATPAY = {
    "MCHID": env.str("WECHATPAY_MCHID", default=""),
    "APPID": env.str("WECHATPAY_APPID", default=""),
    "CERT_SERIAL_NO": env.str("WECHATPAY_CERT_SERIAL_NO", default=""),
    "PRIVATE_KEY_PATH": env.str("WECHATPAY_PRIVATE_KEY_PATH", default=""),
    "APIV3_KEY": env.str("WECHATPAY_APIV3_KEY", default=""),
    "PUBLIC_KEY_PATH": env.str("WECHATPAY_PUBLIC_KEY_PATH", default=""),
    "PUBLIC_KEY_ID": env.str("WECHATPAY_PUBLIC_KEY_ID", default=""),
    "GATEWAY": env.str("WECHATPAY_GATEWAY", default=""),
    "NOTIFY_URL": env.str("WECHATPAY_NOTIFY_URL", default=f"{SITE_URL}/payments/notify/wechatpay/"),
    "REFUND_NOTIFY_URL": env.str(
        "WECHATPAY_REFUND_NOTIFY_URL", default=f"{SITE_URL}/payments/notify/wechatpay/refund/"
    ),
    # Merchant transfers (商家转账) that pay withdrawals: their notification address and scene id
    # (1005: 佣金报酬, commission), as registered in the merchant platform.
    "TRANSFER_NOTIFY_URL": env.str(
        "WECHATPAY_TRANSFER_NOTIFY_URL", default=f"{SITE_URL}/payments/notify/wechatpay/transfer/"
    ),
    "TRANSFER_SCENE_ID": env.str("WECHATPAY_TRANSFER_SCENE_ID", default="1005"),
    # How far a notification's timestamp may be from now before it is refused (replay window).
    "TIMESTAMP_TOLERANCE_SECONDS": env.int("WECHATPAY_TIMESTAMP_TOLERANCE_SECONDS", default=300),
    # Without MCHID, the sandbox plays WeChat Pay, but only where it is asked for: on by default with DEBUG
    # (the local demo), off otherwise, so a deployment missing its credentials never takes play money.
    "SANDBOX": env.bool("WECHATPAY_SANDBOX", default=DEBUG),
    # Where the sandbox keeps its locally generated keys; empty means VAR_DIR/wechatpay-sandbox.
    "SANDBOX_DIR": env.str("WECHATPAY_SANDBOX_DIR", default=str(VAR_DIR / "wechatpay-sandbox")),
}

# --- Logging: everything to stdout ------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}
    },
    "filters": {"once_a_minute": {"()": "config.logging.RateLimitFilter", "seconds": 60}},
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes: failures and locks are warnings; its per-attempt chatter is INFO.
        "axes": {"level": "WARNING"},
        # An unreachable Redis fails every cache call and every relay: say so once a minute, count all.
        "weshop.cache": {"filters": ["once_a_minute"]},
        "weshop.outbox.relay": {"filters": ["once_a_minute"]},
    },
}

# django-simpleui removes Django's clickjacking middleware from a MIDDLEWARE list when it starts (to
# frame its tabs); as a tuple it stays, and config.frame_options allows only same-origin frames, only
# on the admin.
MIDDLEWARE = tuple(MIDDLEWARE)
