"""The messages tests' fixtures: an SMTP server on loopback, queues run in-process."""

from tests.channels.conftest import email_config, queue, sends, sink, travel  # noqa: F401
