"""Developer machine: `make run`. Emails are printed to the console."""

from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
