import uuid

import pytest
from django.conf import settings
from django.test import override_settings


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters():
    """Rate-limit counters (password reset) live in the real Redis cache and outlive a
    test: each test gets its own key prefix. (Clearing the cache would flush the keys of
    other test runs sharing the Redis database.)"""
    default = settings.CACHES["default"]
    caches = {"default": {**default, "KEY_PREFIX": f"{default.get('KEY_PREFIX', '')}-{uuid.uuid4().hex}"}}
    with override_settings(CACHES=caches):
        yield
