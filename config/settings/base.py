"""Settings shared by every environment. Everything that differs between machines comes
from environment variables (listed in README.md)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


# platformdirs warns when XDG_RUNTIME_DIR is unset (pgserver's lock file); harmless.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

SECRET_KEY = env("DJANGO_SECRET_KEY", "insecure-local-only-key-change-me-in-production-0123456789")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "axes",
    "csp",
    "apps.core",
    "apps.tenants",
    "apps.datamodel",
    "apps.audiences",
    "apps.campaigns",
    "apps.channels",
    "apps.consent",
    "apps.reports",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads a parameter: NUL and lone surrogates are a 400 here.
    "apps.core.inputs.HostileInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it watches the authentication outcome of the views above.
    "axes.middleware.AxesMiddleware",
    # Innermost: under DEBUG, the product's 404 page instead of Django's technical one.
    "apps.core.views.DebugNotFoundMiddleware",
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
                "apps.tenants.context_processors.workspaces",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# DATABASE_URL selects an external PostgreSQL; without it the embedded one is started on
# demand (apps/core/embedded.py) and reused while it runs.
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL is None:
    from apps.core import embedded

    DATABASE_URL = embedded.postgres_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
# dj-database-url leaves a socket directory given as ?host=... in OPTIONS; Django's HOST
# is where tools (and subprocess URLs built by tests) look for it.
if "host" in DATABASES["default"]["OPTIONS"] and not DATABASES["default"]["HOST"]:
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
DATABASES["default"]["OPTIONS"]["connect_timeout"] = 10
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis (Celery broker, cache) -------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL is None:
    from apps.core import embedded

    REDIS_URL = embedded.redis_url()


def _redis_db(url: str, db: int) -> str:
    base, _, current = url.rpartition("/")
    return f"{base}/{db}" if current.isdigit() else url


# The cache gets its own Redis database (CACHE_URL to move it elsewhere): flushing or
# evicting cache keys must never touch the task queue.
CACHE_URL = env("CACHE_URL") or _redis_db(REDIS_URL, 1)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "orchestrate",
        "TIMEOUT": 300,
    }
}

# --- Auth -------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # login throttling; must be first
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection: 5 failures for one (username, IP) lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5") or 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
# Behind N trusted proxies the client is the Nth address from the right of X-Forwarded-For.
# 0 (direct connections, development). Behind the documented TLS proxy it must be 1, or
# every client shares the proxy's address: deploy/gunicorn.conf.py defaults it to 1.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0") or 0)
AXES_CLIENT_IP_CALLABLE = "apps.core.net.client_ip"
AXES_USERNAME_CALLABLE = "apps.core.net.login_username"  # one counter per email, whatever its case
# Password spraying: failures over ALL accounts from one address within AXES_COOLOFF_TIME
# block that address for the cool-off too (apps/core/lockout.py).
AXES_HANDLER = "apps.core.lockout.LockoutHandler"
AXES_IP_FAILURE_LIMIT = int(env("AXES_IP_FAILURE_LIMIT", "20") or 20)
# Password reset mails: at most this many per target address and per client address in
# an hour; past that the same "sent" page is shown and nothing is mailed.
PASSWORD_RESET_LIMIT_PER_EMAIL = int(env("PASSWORD_RESET_LIMIT_PER_EMAIL", "3") or 3)
PASSWORD_RESET_LIMIT_PER_IP = int(env("PASSWORD_RESET_LIMIT_PER_IP", "10") or 10)

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous visitors get nothing

# --- I18N -------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")) or "")
# Uploaded and generated files (rejected-row CSVs, direct-mail PDFs and manifests): local
# media by default; MEDIA_STORAGE=s3 puts them in an S3-compatible bucket through
# django-storages (pip install '.[s3]'), configured with its AWS_* environment variables.
if env("MEDIA_STORAGE", "local") == "s3":
    DEFAULT_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": env("AWS_STORAGE_BUCKET_NAME"), "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
        "region_name": env("AWS_S3_REGION_NAME") or None, "default_acl": "private", "querystring_auth": True,
        "file_overwrite": True}}
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(env("EMAIL_PORT", "25") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Orchestrate <no-reply@orchestrate.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Email services post delivery reports to /webhooks/anymail/<esp>/tracking/ with this
# "user:password" as basic auth. Only the ESPs listed in EMAIL_WEBHOOK_ESPS (anymail's
# names: postmark, mailgun, ...) have that URL, and none while the secret is unset.
ANYMAIL = {"WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", "")}
EMAIL_WEBHOOK_ESPS = env_list("EMAIL_WEBHOOK_ESPS")
# Sending: a claim's lease is only the backstop for claims without a live owner check
# (a live sender's claims are never taken over, a dead one's at once); it is renewed as
# a chunk progresses. A provider that cannot be reached pauses the delivery for
# BACKOFF seconds, doubling per failed connection up to BACKOFF_MAX.
SEND_LEASE_SECONDS = int(env("SEND_LEASE_SECONDS", "120") or 120)
SEND_OUTAGE_BACKOFF_SECONDS = float(env("SEND_OUTAGE_BACKOFF_SECONDS", "5") or 5)
SEND_OUTAGE_BACKOFF_MAX_SECONDS = float(env("SEND_OUTAGE_BACKOFF_MAX_SECONDS", "300") or 300)

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.tenants.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.base.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.inputs.GuardedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "apps.core.api.base.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Orchestrate API",
    "DESCRIPTION": (
        "Versioned API for partners. Authenticate with a workspace API key: "
        "`Authorization: Bearer <key>`. A key reaches exactly one workspace."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Every operation documents its error answers (400/401/403/404/429) with one Error body.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.api.openapi.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "WorkspaceRoleEnum": "apps.tenants.roles.WorkspaceRole",
        "AttributeTypeEnum": "apps.datamodel.models.AttributeType",
        "PrimaryKeyTypeEnum": "apps.datamodel.api.serializers.PRIMARY_KEY_TYPES",
        "RelationshipKindEnum": "apps.datamodel.models.RelationshipKind",
        "IngestionModeEnum": "apps.datamodel.models.IngestionMode",
        "IngestionStatusEnum": "apps.datamodel.models.IngestionStatus",
        "AudienceOriginEnum": "apps.audiences.models.AudienceOrigin",
        "AudienceStatusEnum": "apps.audiences.models.AudienceStatus",
        "CampaignStatusEnum": "apps.campaigns.models.CampaignStatus",
        "RunStatusEnum": "apps.campaigns.models.RunStatus",
        "RunModeEnum": "apps.campaigns.models.RunMode",
        "ActivityStatusEnum": "apps.campaigns.models.ActivityStatus",
        "DeliveryStatusEnum": "apps.channels.models.DeliveryStatus",
        "MessageStatusEnum": "apps.channels.models.MessageStatus",
        "SuppressionKindEnum": "apps.consent.models.SuppressionKind",
    },
}

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 30 * 60  # hard kill: no task may hold a worker forever
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The queue tasks go to when none is named: a benchmark's own worker (bench send --case
# sms/push) takes its tasks, and the follow-up tasks they send, from a queue of its own.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat sleeps at most this long between looks at django-celery-beat's change marker, so an
# entry written or changed on publish is seen within a second (the DatabaseScheduler's
# default is 5 s, which alone would use up the "a run starts within 5 s of its launch
# time" budget). A look is one indexed one-row query.
CELERY_BEAT_MAX_LOOP_INTERVAL = 1

# --- Campaigns --------------------------------------------------------------------------
# A partner may trigger one campaign over the API at most once per this many seconds
# (429 with Retry-After otherwise): a looping client must not fan out live sends.
CAMPAIGN_TRIGGER_MIN_INTERVAL_S = int(env("CAMPAIGN_TRIGGER_MIN_INTERVAL_S", "60") or 60)

# --- Personalization bounds (apps/channels/sandbox.py) ---------------------------------
# Per message: the time a render may take, the characters of its output (and of any one
# text it builds), and its loop steps and calls. A message past one fails with the reason.
PERSONALIZATION_RENDER_SECONDS = float(env("PERSONALIZATION_RENDER_SECONDS", "2") or 2)
PERSONALIZATION_MAX_CHARS = int(env("PERSONALIZATION_MAX_CHARS", "2000000") or 2000000)
PERSONALIZATION_MAX_STEPS = int(env("PERSONALIZATION_MAX_STEPS", "1000000") or 1000000)

# --- Security defaults (production tightens further) ------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp). The templates carry no inline script or style, so
# the policy is strict; the few pages that must differ say so with django-csp's view
# decorators (email previews in sandboxed srcdoc frames, the API docs, the ERD file).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

DEMO_PASSWORD = env("DEMO_PASSWORD", "orchestrate")
# Absolute links in emails (invitations, password resets, later unsubscribe links).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
# Unset, links in messages follow the address a run was started on (apps.core.siteurl).
SITE_URL_SET = env("SITE_URL") is not None
# Workspace SMTP passwords and ESP API keys are encrypted at rest with this (default: SECRET_KEY).
CHANNEL_SECRETS_KEY = env("CHANNEL_SECRETS_KEY", "")
# Proof and test emails a person (user or API key) and a workspace may send per window
# (429 beyond): a proof form must not become a way to send mail in bulk.
PROOF_SEND_LIMIT_PER_USER = int(env("PROOF_SEND_LIMIT_PER_USER", "50") or 50)
PROOF_SEND_LIMIT_PER_WORKSPACE = int(env("PROOF_SEND_LIMIT_PER_WORKSPACE", "200") or 200)
PROOF_SEND_LIMIT_WINDOW_S = int(env("PROOF_SEND_LIMIT_WINDOW_S", "3600") or 3600)
# Workspace SMTP servers on loopback, private, link-local or reserved addresses are
# refused (at save and at connect time): a test send must not probe the platform's own
# network. An operator whose tenants relay through an internal server turns this on.
CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS = env_bool("CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS", False)
# Web Push: the push services a browser subscription's endpoint may point at (host, or
# ".suffix" for a domain and its subdomains). A subscription is tenant input and its
# endpoint is where the platform POSTs: an allowlist keeps it from naming an internal host.
PUSH_WEB_ENDPOINT_HOSTS = [s.strip().lower() for s in (env(
    "PUSH_WEB_ENDPOINT_HOSTS",
    "fcm.googleapis.com,updates.push.services.mozilla.com,.notify.windows.com,.push.apple.com") or "").split(",")
    if s.strip()]
# Tenant-set base URLs of SMS providers (an on-premise gateway) and of FCM / APNs: the
# hosts allowed beside the providers' own (api.twilio.com, rest.nexmo.com,
# fcm.googleapis.com, api.push.apple.com...), ".example.com" for its subdomains. Checked at
# save and again at connect time, with the private-address rule of SMTP hosts.
SMS_BASE_URL_HOSTS = [s.strip().lower() for s in (env("SMS_BASE_URL_HOSTS", "") or "").split(",") if s.strip()]
PUSH_BASE_URL_HOSTS = [s.strip().lower() for s in (env("PUSH_BASE_URL_HOSTS", "") or "").split(",") if s.strip()]
# Tests (and an on-premise push gateway) use plain http on loopback; production keeps https.
PUSH_WEB_ALLOW_HTTP = env_bool("PUSH_WEB_ALLOW_HTTP", False)
# Every push provider's HTTP call (token exchange included) gives up after this long.
PUSH_TIMEOUT_S = float(env("PUSH_TIMEOUT_S", "10") or 10)
# The public browser registration endpoint (/push/<slug>/subscribe/): registrations a minute
# from one IP address (a person subscribes once or twice) and into one workspace (a busy
# website's visitors at its peak).
PUSH_BROWSER_PER_IP_PER_MINUTE = int(env("PUSH_BROWSER_PER_IP_PER_MINUTE", "20") or 20)
PUSH_BROWSER_PER_WORKSPACE_PER_MINUTE = int(env("PUSH_BROWSER_PER_WORKSPACE_PER_MINUTE", "3000") or 3000)
# Sender domains: how long a confirmation link works; the name servers asked for the TXT
# record ("host[:port]", comma-separated; empty: the system's resolver) and how long.
SENDER_DOMAIN_LINK_HOURS = int(env("SENDER_DOMAIN_LINK_HOURS", "72") or 72)
SENDER_DOMAIN_DNS_NAMESERVERS = [s.strip() for s in (env("SENDER_DOMAIN_DNS_NAMESERVERS", "") or "").split(",")
                                 if s.strip()]
SENDER_DOMAIN_DNS_TIMEOUT_S = float(env("SENDER_DOMAIN_DNS_TIMEOUT_S", "5") or 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # An expected 403 (a role too low) is one warning line, not a traceback.
    "filters": {"expected_errors": {"()": "apps.core.logging.ExpectedErrorsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "pgserver": {"level": "WARNING"},
                "django.request": {"filters": ["expected_errors"]}},
}
