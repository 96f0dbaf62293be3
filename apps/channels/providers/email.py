"""Email through Django's email backends: SMTP (connection reused for a whole chunk, TLS
options) or a django-anymail ESP, configured per workspace; without a workspace
configuration, the platform's own EMAIL_* settings."""

from __future__ import annotations

import smtplib
import socket
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from apps.core.net import HostRefused

from . import Outgoing, Permanent, ProviderDown, Retryable, mime


def connection_for(config):
    if config is None or not config.pk:
        return get_connection(fail_silently=False)
    options = dict(config.options or {})
    if config.backend == "anymail":
        esp = str(options.pop("esp", "")).strip().lower()
        if not esp.isidentifier():
            raise Permanent("config", "the email service configuration names no ESP")
        kwargs = {k: v for k, v in options.items() if k not in ("host", "port")}
        if config.secret_encrypted:
            kwargs["api_key"] = config.secret
        return get_connection(f"anymail.backends.{esp}.EmailBackend", fail_silently=False, **kwargs)
    return get_connection(
        "apps.channels.providers.smtp.WorkspaceSMTPBackend", fail_silently=False,
        host=options.get("host") or settings.EMAIL_HOST, port=int(options.get("port") or settings.EMAIL_PORT),
        username=options.get("username") or None, password=config.secret or None,
        use_tls=bool(options.get("use_tls")), use_ssl=bool(options.get("use_ssl")),
        timeout=float(options.get("timeout") or 30))


def _reply(code: int, text) -> Exception:
    """A reply to one message: 421 (the server is closing the channel) is the server's
    state, not the message's; other 4xx are retryable, 5xx permanent."""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    if int(code) == 421:
        return ProviderDown(str(code), text)
    return (Retryable if 400 <= int(code) < 500 else Permanent)(str(code), text)


def classify(exc: BaseException) -> Exception:
    """ProviderDown, Retryable or Permanent, with the server's reply kept."""
    if isinstance(exc, HostRefused):
        return Permanent("host_refused", f"the SMTP server {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b"refused"))
        return _reply(code, text)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected | socket.timeout | TimeoutError | ConnectionError | OSError):
        # The conversation broke: the server (or the way to it) is gone, whichever
        # message was on the wire.
        return ProviderDown("connection", f"{type(exc).__name__}: {exc}")
    try:
        from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused  # noqa: PLC0415
    except ImportError:  # pragma: no cover - anymail is a dependency
        AnymailAPIError = AnymailRecipientsRefused = ()
    if AnymailRecipientsRefused and isinstance(exc, AnymailRecipientsRefused):
        return Permanent("refused", str(exc)[:500])
    if AnymailAPIError and isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return ProviderDown(str(status or "api"), str(exc)[:500])
        return Permanent(str(status), str(exc)[:500])
    return Permanent("error", f"{type(exc).__name__}: {exc}")


class EmailProvider:
    batch = False

    def __init__(self, delivery, config):
        self.delivery, self.config = delivery, config
        self.connection = None
        content = delivery.content
        self.from_email = content.get("from_email") or settings.DEFAULT_FROM_EMAIL
        self.reply_to = [content["reply_to"]] if content.get("reply_to") else []
        # Through the platform's own server only from the workspace's verified domains:
        # checked once per chunk, refused per message (the domain may go in between).
        self.sender_refused = ""
        if config is None or not config.pk:
            from apps.channels.senders import sender_problem  # noqa: PLC0415

            self.sender_refused = sender_problem(workspace=delivery.workspace_id, from_email=self.from_email,
                                                 platform=True)

    def open(self):
        """Connect (and greet, start TLS, log in). Any failure here is the provider's, never
        a message's: refused, timed out, 421 at the greeting, an authentication outage."""
        self.connection = connection_for(self.config)
        try:
            self.connection.open()
        except Exception as exc:  # every failure to connect is an outage
            self.connection = None
            problem = classify(exc)
            if isinstance(exc, HostRefused):
                # The platform refuses this host: no outage to wait out, each message fails.
                raise problem from exc
            if not isinstance(problem, ProviderDown):
                problem = ProviderDown(getattr(problem, "code", "connection"),
                                       getattr(problem, "text", f"{type(exc).__name__}: {exc}"))
            raise problem from exc

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self.connection = None

    def check(self, item: Outgoing) -> None:
        """Refuses, before anything goes on the wire, a message whose header values hold
        CR, LF or NUL (header injection), on every path: our MIME and the ESPs'; and a
        sender the platform's server may not send from."""
        if self.sender_refused:
            raise Permanent("sender_unverified", self.sender_refused)
        fields = item.fields
        try:
            mime.check_headers({"From": self.from_email, "X-From-Name": fields.get("from_name") or "",
                                "To": item.address, "Subject": fields.get("subject") or "",
                                "Message-ID": item.message_id, "Reply-To": ", ".join(self.reply_to),
                                **item.headers})
        except mime.HeaderInjection as exc:
            raise Permanent("header", str(exc)) from exc

    def build(self, item: Outgoing) -> EmailMultiAlternatives:
        self.check(item)
        fields = item.fields
        sender = formataddr((fields.get("from_name") or "", self.from_email)) if fields.get("from_name") \
            else self.from_email
        headers = {"Message-ID": item.message_id, **item.headers}
        message = EmailMultiAlternatives(
            subject=fields.get("subject") or "", body=fields.get("text") or "",
            from_email=sender, to=[item.address], reply_to=self.reply_to, headers=headers,
            connection=self.connection)
        if fields.get("html"):
            message.attach_alternative(fields["html"], "text/html")
        if self.config is not None and self.config.backend == "anymail":
            # The deterministic id travels as metadata: webhooks find the message by it.
            message.metadata = {"message_id": str(item.id), "delivery_id": str(self.delivery.pk)}
        return message

    @property
    def smtp(self):
        """The open smtplib connection when the backend is Django's SMTP backend."""
        return getattr(self.connection, "connection", None) if not (
            self.config is not None and self.config.backend == "anymail") else None

    def begin(self, item: Outgoing) -> bytes | None:
        """SMTP in two steps, so the caller can record the previous message while this
        one's envelope is on the wire: begin() builds the bytes and sends MAIL FROM and
        RCPT TO; commit() sends DATA (the server accepts the message on its reply).
        Returns None when the backend is not SMTP (then use send())."""
        self.check(item)
        if self.connection is None:
            self.open()
        smtp = self.smtp
        if smtp is None:
            return None
        fields = item.fields
        data = mime.build(from_name=fields.get("from_name") or "", from_email=self.from_email, to=item.address,
                          subject=fields.get("subject") or "", text=fields.get("text") or "",
                          html=fields.get("html"), message_id=item.message_id,
                          reply_to=", ".join(self.reply_to), headers=item.headers)
        try:
            smtp.ehlo_or_helo_if_needed()
            code, reply = smtp.mail(self.from_email)
            if code != 250:
                self._rset()
                raise smtplib.SMTPSenderRefused(code, reply, self.from_email)
            code, reply = smtp.rcpt(item.address)
            if code not in (250, 251):
                self._rset()
                raise smtplib.SMTPRecipientsRefused({item.address: (code, reply)})
        except Exception as exc:  # noqa: BLE001 - classified below
            self._fail(exc)
        return data

    def commit(self, data: bytes) -> str:
        try:
            code, reply = self.smtp.data(data)
            if code != 250:
                self._rset()
                raise smtplib.SMTPDataError(code, reply)
        except Exception as exc:  # noqa: BLE001 - classified below
            self._fail(exc)
        return ""

    def _rset(self) -> None:
        try:
            self.smtp.rset()
        except smtplib.SMTPException:
            self.close()

    def _fail(self, exc: BaseException):
        problem = classify(exc)
        if isinstance(problem, Retryable) or isinstance(exc, smtplib.SMTPServerDisconnected):
            self.close()
        raise problem from exc

    def send(self, item: Outgoing) -> str:
        self.check(item)
        if self.connection is None:
            self.open()
        smtp = self.smtp
        if smtp is not None:
            # SMTP: our own MIME bytes on the connection kept open for the chunk.
            fields = item.fields
            data = mime.build(from_name=fields.get("from_name") or "", from_email=self.from_email, to=item.address,
                              subject=fields.get("subject") or "", text=fields.get("text") or "",
                              html=fields.get("html"), message_id=item.message_id,
                              reply_to=", ".join(self.reply_to), headers=item.headers)
            try:
                smtp.sendmail(self.from_email, [item.address], data)
            except Exception as exc:  # classified below
                problem = classify(exc)
                if isinstance(problem, Retryable) or isinstance(exc, smtplib.SMTPServerDisconnected):
                    self.close()
                raise problem from exc
            return ""
        message = self.build(item)
        try:
            self.connection.send_messages([message])
        except Exception as exc:  # classified below
            problem = classify(exc)
            if isinstance(problem, Retryable) or isinstance(exc, smtplib.SMTPServerDisconnected):
                self.close()  # a broken conversation: the next message opens a new one
            raise problem from exc
        status = getattr(message, "anymail_status", None)
        return (status.message_id or "") if status is not None else ""
