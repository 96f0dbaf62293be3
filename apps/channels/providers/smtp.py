"""Django's SMTP backend for servers a workspace names: the host is resolved once, every
address it resolves to must be public (unless CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS), and the
connection goes to a checked address. TLS still verifies the certificate against the host
name the workspace gave (smtplib keeps it as `_host`)."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.smtp import EmailBackend

from apps.core.net import connect_checked


class _Checked(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        if self.debuglevel > 0:
            self._print_debug("connect: to", (host, port), self.source_address)
        return connect_checked(host, port, timeout, self.source_address)


class CheckedSMTP(_Checked):
    pass


class CheckedSMTPSSL(smtplib.SMTP_SSL, _Checked):
    """SMTP_SSL wraps the socket _Checked opens (its _get_socket calls super())."""


class WorkspaceSMTPBackend(EmailBackend):
    @property
    def connection_class(self):
        return CheckedSMTPSSL if self.use_ssl else CheckedSMTP
