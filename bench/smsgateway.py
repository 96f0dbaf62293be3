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

    with SmsGateway(twilio=("AC...", "token"), vonage=("key", "secret")) as gw:
        ... base URL gw.url ...
        gw.messages            # [Received(provider, to, sender, body, reference, ...)]

`python -m bench.smsgateway PORT` runs one as its own process (benchmarks)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
VONAGE_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
UNKNOWN = "+447700900"  # Ofcom's drama range: numbers that exist nowhere
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


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
        gateway.keep(Received("twilio", to, sender or service, body, callback=form.get("StatusCallback", ""),
                              fields=form, id=sid))
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
        gateway.keep(Received("vonage", to, sender, text, reference=form.get("client-ref", ""),
                              callback=form.get("callback", ""), fields=form, id=message_id))
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
                 vonage: tuple[str, str] | None = None, keep: bool = True):
        self.twilio, self.vonage, self.keep_messages = twilio, vonage, keep
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
