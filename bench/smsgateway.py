"""A loopback server that speaks the SMS providers' real HTTP APIs, as the tests' and
benchmarks' SMS gateway: Twilio's Messages API
(POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form fields, HTTP Basic auth with
the account SID and auth token, 201 + the Message resource as JSON, errors as
{code, message, more_info, status}) and Vonage's SMS API (POST /sms/json, form fields,
credentials as HTTP Basic or api_key/api_secret fields, 200 + {"message-count", "messages":
[{status, message-id, ...}]}, a non-zero status per message on errors). It checks what the
provider checks (credentials, required fields, the number's shape) and keeps what it
accepted. UK drama numbers (+44 7700 900xxx, reserved, never assigned) are refused as the
providers refuse an unknown number;
`down = True` answers 503 (an outage).

Receipts, as the providers post them: with `receipts="after"` each accepted message's
status callbacks (Twilio: sent, then delivered / undelivered / failed with ErrorCode, to
the message's StatusCallback, signed with X-Twilio-Signature under the auth token;
Vonage: one delivery receipt to the message's `callback` or `vonage_callback`, signed
with `sig` when `vonage_signing=(secret, method)` is given) are posted from a thread
right after the answer; "before" posts them before the send is answered (a receipt that
overtakes the provider's answer); "deferred" keeps them until `flush_receipts()`.
`fail(number, twilio=30006, vonage="9")` makes a number's receipt a failure.
`inbound(provider, url, phone, text)` posts a signed inbound message as the provider would.

    with SmsGateway(twilio=("AC...", "token"), vonage=("key", "secret")) as gw:
        ... base URL gw.url ...
        gw.messages            # [Received(provider, to, sender, body, reference, ...)]

`python -m bench.smsgateway PORT` runs one as its own process (benchmarks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
VONAGE_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
UNKNOWN = "+447700900"  # Ofcom's drama range: numbers that exist nowhere
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


CALLBACK_TIMEOUT = 10  # seconds per posted callback


def sign_twilio(url: str, params: dict[str, str], token: str) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL and each field's name and value in
    name order, under the auth token (Twilio's documented scheme, written here anew)."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def sign_vonage(params: dict[str, str], secret: str, method: str = "md5hash") -> str:
    """Vonage's `sig`: "&name=value" for each parameter in name order (& and = in values
    as _), then MD5 with the secret appended (md5hash) or an HMAC under it."""
    data = "".join(f"&{k}={str(params[k]).replace('&', '_').replace('=', '_')}" for k in sorted(params))
    if method == "md5hash":
        return hashlib.md5((data + secret).encode(), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode(), data.encode(), getattr(hashlib, method)).hexdigest()


def post_form(url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


@dataclass
class Received:
    provider: str
    to: str
    sender: str
    body: str
    reference: str = ""  # Vonage client-ref
    callback: str = ""
    fields: dict = field(default_factory=dict)
    id: str = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The status line and headers, then the body, are two writes: with Nagle's algorithm
    # the second waits for the client's delayed ACK of the first (up to 40 ms a request).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        gateway = self.server.gateway
        if gateway.down:
            self._reply(503, {"code": 20503, "message": "Service unavailable", "status": 503})
            return
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            self._reply(400, {"code": 20001, "message": "form-encoded body expected", "status": 400})
            return
        match = TWILIO_PATH.match(self.path)
        if match:
            self._twilio(match.group(1), form)
        elif self.path == "/sms/json":
            self._vonage(form)
        else:
            self._reply(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})

    def _twilio(self, account: str, form: dict) -> None:
        gateway = self.server.gateway
        if gateway.twilio is None or self._basic() != gateway.twilio or account != gateway.twilio[0]:
            self._reply(401, {"code": 20003, "message": "Authenticate", "more_info":
                              "https://www.twilio.com/docs/errors/20003", "status": 401})
            return
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")

        def error(code: int, message: str) -> None:
            self._reply(400, {"code": code, "message": message, "more_info":
                              f"https://www.twilio.com/docs/errors/{code}", "status": 400})
        if not to:
            return error(21604, "A 'To' phone number is required.")
        if not E164.match(to) or to.startswith(UNKNOWN):
            return error(21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not service:
            return error(21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
        if not body:
            return error(21602, "Message body is required.")
        if len(body) > 1600:
            return error(21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = "SM" + secrets.token_hex(16)
        received = Received("twilio", to, sender or service, body, callback=form.get("StatusCallback", ""),
                            fields=form, id=sid)
        gateway.keep(received)
        gateway.receipts_of(received)
        self._reply(201, {"sid": sid, "account_sid": account, "to": to, "from": sender or None,
                          "messaging_service_sid": service or None, "body": body, "status": "queued",
                          "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
                          "price": None, "error_code": None, "error_message": None,
                          "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"})
        return None

    def _vonage(self, form: dict) -> None:
        gateway = self.server.gateway
        credentials = self._basic() or (form.get("api_key", ""), form.get("api_secret", ""))

        def status(code: str, text: str) -> None:
            self._reply(200, {"message-count": "1", "messages": [{"status": code, "error-text": text}]})
        if gateway.vonage is None or credentials != gateway.vonage:
            return status("4", "Bad Credentials")
        to, sender, text = form.get("to", ""), form.get("from", ""), form.get("text", "")
        if not to:
            return status("2", "Missing to param")
        if not sender:
            return status("2", "Missing from param")
        if not text:
            return status("2", "Missing text param")
        if not VONAGE_NUMBER.match(to) or to.startswith(UNKNOWN[1:]):
            return status("3", "Invalid to param")
        if form.get("type", "text") not in ("text", "unicode", "binary"):
            return status("3", "Invalid type param")
        message_id = secrets.token_hex(8).upper()
        received = Received("vonage", to, sender, text, reference=form.get("client-ref", ""),
                            callback=form.get("callback", ""), fields=form, id=message_id)
        gateway.keep(received)
        gateway.receipts_of(received)
        item = {"to": to, "message-id": message_id, "status": "0", "remaining-balance": "10.00",
                "message-price": "0.0333", "network": "23410"}
        if form.get("client-ref"):
            item["client-ref"] = form["client-ref"]
        self._reply(200, {"message-count": "1", "messages": [item]})
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gateway: SmsGateway


class SmsGateway:
    def __init__(self, port: int = 0, *, twilio: tuple[str, str] | None = None,
                 vonage: tuple[str, str] | None = None, keep: bool = True, receipts: str = "off",
                 vonage_signing: tuple[str, str] | None = None, vonage_callback: str = ""):
        self.twilio, self.vonage, self.keep_messages = twilio, vonage, keep
        self.receipts, self.vonage_signing, self.vonage_callback = receipts, vonage_signing, vonage_callback
        self.failures: dict[str, dict[str, str]] = {}  # E.164 number -> {"twilio": code, "vonage": code}
        self.deferred: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.callbacks: list[tuple[str, dict[str, str], int, str]] = []  # (url, form, status, body) posted
        self.messages: list[Received] = []
        self.count = 0
        self.down = False
        self.on_message = None  # called with each accepted message (tests: kill a worker here)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.gateway = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keep(self, received: Received) -> None:
        with self._lock:
            self.count += 1
            if self.keep_messages:
                self.messages.append(received)
        if self.on_message is not None:
            self.on_message(received)

    # --- receipts and inbound messages, posted as the providers post them ---

    def fail(self, number: str, *, twilio: int | str = 30006, vonage: str = "9") -> None:
        """The receipts of messages to `number` (E.164) say it failed with these codes."""
        self.failures[number] = {"twilio": str(twilio), "vonage": str(vonage)}

    def twilio_receipts(self, received: Received) -> list[tuple[str, dict[str, str], dict[str, str]]]:
        account, token = self.twilio
        failure = self.failures.get(received.to)
        base = {"MessageSid": received.id, "SmsSid": received.id, "AccountSid": account, "From": received.sender,
                "To": received.to, "ApiVersion": "2010-04-01"}
        final = {"MessageStatus": "delivered"} if failure is None else {
            "MessageStatus": "undelivered" if failure["twilio"].startswith("3") else "failed",
            "ErrorCode": failure["twilio"]}
        posts = []
        for status in ({"MessageStatus": "sent"}, final):
            form = {**base, **status, "SmsStatus": status["MessageStatus"]}
            posts.append((received.callback, form,
                          {"X-Twilio-Signature": sign_twilio(received.callback, form, token)}))
        return posts

    def vonage_receipt(self, received: Received, stamp: int | None = None) -> dict[str, str]:
        """A Vonage delivery receipt's parameters, signed when signing is set."""
        failure = self.failures.get("+" + received.to)
        now = int(time.time()) if stamp is None else stamp
        form = {"msisdn": received.to, "to": received.sender, "network-code": "23410", "messageId": received.id,
                "price": "0.03330000", "status": "delivered" if failure is None else "failed",
                "scts": time.strftime("%y%m%d%H%M", time.gmtime(now)),
                "err-code": "0" if failure is None else failure["vonage"], "api-key": self.vonage[0],
                "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))}
        if received.reference:
            form["client-ref"] = received.reference
        return self.vonage_signed(form, now)

    def vonage_signed(self, form: dict[str, str], stamp: int | None = None) -> dict[str, str]:
        if self.vonage_signing is None:
            return form
        secret, method = self.vonage_signing
        form = {**form, "timestamp": str(int(time.time()) if stamp is None else stamp),
                "nonce": secrets.token_hex(8)}
        return {**form, "sig": sign_vonage(form, secret, method)}

    def receipts_of(self, received: Received) -> None:
        """Post (or keep) the accepted message's receipts, as `receipts` says."""
        if self.receipts == "off":
            return
        if received.provider == "twilio":
            posts = self.twilio_receipts(received) if received.callback else []
        else:
            url = received.callback or self.vonage_callback
            posts = [(url, self.vonage_receipt(received), {})] if url else []
        if self.receipts == "deferred":
            with self._lock:
                self.deferred.extend(posts)
        elif self.receipts == "before":
            self._post_all(posts)
        else:
            threading.Thread(target=self._post_all, args=(posts,), daemon=True).start()

    def _post_all(self, posts) -> None:
        for url, form, headers in posts:
            status, body = post_form(url, form, headers)
            with self._lock:
                self.callbacks.append((url, form, status, body))

    def flush_receipts(self) -> list[int]:
        """Post the deferred receipts now, in order; their HTTP statuses."""
        with self._lock:
            posts, self.deferred = self.deferred, []
        before = len(self.callbacks)
        self._post_all(posts)
        return [status for _url, _form, status, _body in self.callbacks[before:]]

    def inbound_request(self, provider: str, url: str, phone: str, text: str, *, to: str = "+14155550100",
                        signed: bool = True) -> tuple[dict[str, str], dict[str, str]]:
        """The fields and headers of the provider's post of an SMS from `phone` to `to`."""
        if provider == "twilio":
            account, token = self.twilio
            sid = "SM" + secrets.token_hex(16)
            form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": account, "From": phone, "To": to,
                    "Body": text, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}
            return form, ({"X-Twilio-Signature": sign_twilio(url, form, token)} if signed else {})
        form = {"msisdn": phone.lstrip("+"), "to": to.lstrip("+"), "messageId": secrets.token_hex(8).upper(),
                "text": text, "type": "text", "keyword": (text.split() or [""])[0].upper(),
                "api-key": self.vonage[0], "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
        return (self.vonage_signed(form) if signed else form), {}

    def inbound(self, provider: str, url: str, phone: str, text: str, *, to: str = "+14155550100",
                signed: bool = True) -> tuple[int, str]:
        """An SMS from `phone` to `to` reaches the provider, which posts it to `url`."""
        form, headers = self.inbound_request(provider, url, phone, text, to=to, signed=signed)
        return post_form(url, form, headers)

    def start(self) -> SmsGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SmsGateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - benchmarks run it as a process
    account, token = sys.argv[2:4] if len(sys.argv) > 3 else ("AC" + "0" * 32, "token")
    gw = SmsGateway(int(sys.argv[1]) if len(sys.argv) > 1 else 0, twilio=(account, token),
                    vonage=("key", "secret"), keep=False)
    print(gw.port, flush=True)
    gw._server.serve_forever()
