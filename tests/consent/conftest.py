"""The messages fixtures (SMTP server, email configuration, travel model, in-process
queues) serve the consent tests too."""

from tests.channels.conftest import email_config, queue, sends, sink, travel  # noqa: F401
