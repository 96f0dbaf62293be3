"""The test suite: real PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL)."""

from .base import *  # noqa: F403
from .base import REDIS_URL

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The tests' SMTP servers listen on loopback; the tests of the guard turn it off again.
CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS = True
# Sender domain TXT lookups never leave the machine: nothing listens here unless a test
# starts its own name server (tests/channels/test_sender_domains.py).
SENDER_DOMAIN_DNS_NAMESERVERS = ["127.0.0.1:9"]
SENDER_DOMAIN_DNS_TIMEOUT_S = 2.0
# The tests' push services listen on loopback over plain http.
PUSH_WEB_ENDPOINT_HOSTS = ["127.0.0.1"]
PUSH_WEB_ALLOW_HTTP = True
# The tests' SMS gateways and FCM / APNs servers listen on loopback too.
SMS_BASE_URL_HOSTS = ["127.0.0.1"]
PUSH_BASE_URL_HOSTS = ["127.0.0.1"]

# Tests use their own Redis database so a test run never consumes a dev worker's tasks.
from .base import _redis_db  # noqa: E402

TEST_REDIS_URL = _redis_db(REDIS_URL, 15)
CELERY_BROKER_URL = TEST_REDIS_URL
CELERY_RESULT_BACKEND = TEST_REDIS_URL
# Keys are prefixed with the test database's name: two runs sharing the server (see
# TEST_DATABASE_NAME below) must not share rate-limit or lockout counters.
from .base import env as _env  # noqa: E402

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db(REDIS_URL, 14),
        "KEY_PREFIX": f"orchestrate-{_env('TEST_DATABASE_NAME', 'test_orchestrate')}",
    }
}
AXES_FAILURE_LIMIT = 5
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Two suites on one machine (two clones, or a developer and CI) must not share a test
# database: TEST_DATABASE_NAME picks another.
from .base import BASE_DIR, DATABASES, env  # noqa: E402

DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", "test_orchestrate")}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Uploaded files of tests (a worker process started by a test must see them too).
MEDIA_ROOT = BASE_DIR / ".data" / "test-media"

from .base import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.support"]

# Test runs on one machine (two clones, a developer and CI) share the Redis server: each
# run's tasks go to a queue named after its test database, so one run's worker never
# takes another run's tasks.
CELERY_TASK_DEFAULT_QUEUE = f"tests-{DATABASES['default']['TEST']['NAME']}"
