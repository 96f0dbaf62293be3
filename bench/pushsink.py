"""Loopback servers that speak the push services' real HTTP APIs and check requests as the
services do: the tests' and benchmarks' push services.

- WebPushSink (HTTP/1.1): a push service. Keeps each POST (path, headers, body); answers
  201, or 410 for an endpoint path containing `gone`, 404 for `missing`, 429 for `busy`.
  Refuses (400) a request without a VAPID `Authorization: vapid t=..., k=...` header or a
  `TTL` header, and (415) a body that is not aes128gcm.
- FcmSink (HTTP/1.1): Google's OAuth token endpoint (POST /token: a JWT-bearer assertion
  signed RS256 by the service account's key, checked with its public key) and FCM v1
  (POST /v1/projects/<project>/messages:send, bearer token from /token). Tokens containing
  `unregistered` get FCM's 404 UNREGISTERED answer.
- ApnsSink (HTTP/2, prior knowledge, hypercorn): APNs' POST /3/device/<token>, checking
  the ES256 provider JWT (kid, iss) with the key's public half and the apns-* headers.
  Tokens starting `dead` get 410 Unregistered, `bad` 400 BadDeviceToken.

    with WebPushSink() as sink: ... sink.url ... sink.requests"""

from __future__ import annotations

import abc
import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadToken(ValueError):
    pass


def verify_jwt(token: str, public_key, alg: str) -> tuple[dict, dict]:
    """(header, claims) of a JWT whose signature the public key verifies; BadToken otherwise."""
    try:
        head, body, sig = token.split(".")
        header, claims, signature = json.loads(b64decode(head)), json.loads(b64decode(body)), b64decode(sig)
    except ValueError as exc:
        raise BadToken(f"malformed JWT: {exc}") from None
    if header.get("alg") != alg:
        raise BadToken(f"alg {header.get('alg')!r}, expected {alg}")
    signed = f"{head}.{body}".encode()
    try:
        if alg == "RS256":
            assert isinstance(public_key, rsa.RSAPublicKey)
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(public_key, ec.EllipticCurvePublicKey)
            if len(signature) != 64:
                raise BadToken("an ES256 signature is 64 bytes (r || s)")
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadToken("bad signature") from None
    return header, claims


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)


class _HttpSink(abc.ABC):
    """A threaded HTTP/1.1 server on 127.0.0.1; subclasses answer POSTs in `post`."""

    def __init__(self, port: int = 0, keep: bool = True):
        sink = self
        self.requests: list[Seen] = []
        self.count = 0  # requests kept (counted even when not kept: benchmarks)
        self.keep_requests = keep
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes (see bench/smsgateway.py)

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, answer, extra = sink.post(seen)
                payload = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def keep(self, seen: Seen) -> None:
        with self.lock:
            self.count += 1
            if self.keep_requests:
                self.requests.append(seen)

    @abc.abstractmethod
    def post(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        """The answer to one POST: status, JSON body (or None), headers."""


VAPID = re.compile(r"^vapid\s+t=([A-Za-z0-9_\-.]+)\s*,\s*k=([A-Za-z0-9_\-]+)$")


def vapid_parts(header: str) -> tuple[str, str] | None:
    """(JWT, public key) of an RFC 8292 `Authorization: vapid t=..., k=...` header."""
    match = VAPID.match(header.strip())
    return (match[1], match[2]) if match else None


class WebPushSink(_HttpSink):
    def post(self, seen):
        if vapid_parts(seen.headers.get("authorization", "")) is None:
            return 400, {"error": "missing VAPID authorization"}, {}
        if "ttl" not in seen.headers:
            return 400, {"error": "missing TTL"}, {}
        if seen.headers.get("content-encoding") != "aes128gcm":
            return 415, {"error": "aes128gcm only"}, {}
        for word, status in (("gone", 410), ("missing", 404), ("busy", 429)):
            if word in seen.path:
                return status, {"error": word}, {}
        self.keep(seen)
        return 201, b"", {"Location": f"{self.url}/m/{self.count}"}


# Google checks the assertion's audience is its token endpoint, wherever it was posted.
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"


class FcmSink(_HttpSink):
    """`public_key`: the service account's public key (checks the token request's
    assertion); `project`: the project the messages must name."""

    def __init__(self, public_key, project: str, port: int = 0):
        super().__init__(port)
        self.public_key, self.project = public_key, project
        self.tokens: set[str] = set()
        self.token_requests = 0

    def post(self, seen):
        if seen.path == "/token":
            form = parse_qs(seen.body.decode())
            if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
                return 400, {"error": "unsupported_grant_type"}, {}
            try:
                _header, claims = verify_jwt(form.get("assertion", [""])[0], self.public_key, "RS256")
            except BadToken as exc:
                return 400, {"error": "invalid_grant", "error_description": str(exc)}, {}
            if "firebase.messaging" not in claims.get("scope", "") or claims.get("aud") != GOOGLE_AUDIENCE:
                return 400, {"error": "invalid_scope", "error_description": json.dumps(claims)}, {}
            token = f"ya29.test-{len(self.tokens) + 1}"
            with self.lock:
                self.tokens.add(token)
                self.token_requests += 1
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, {}
        if seen.path != f"/v1/projects/{self.project}/messages:send":
            return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no such project"}}, {}
        if seen.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "bad token"}}, {}
        message = json.loads(seen.body).get("message") or {}
        if not message.get("token"):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "no target"}}, {}
        if "unregistered" in message["token"]:
            return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "Requested entity was not found.",
                                   "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                                "errorCode": "UNREGISTERED"}]}}, {}
        self.keep(seen)
        return 200, {"name": f"projects/{self.project}/messages/{self.count}"}, {}


class ApnsSink:
    """APNs over HTTP/2 cleartext (prior knowledge) on loopback, served by hypercorn."""

    REQUIRED = ("authorization", "apns-topic", "apns-push-type")

    def __init__(self, public_key, key_id: str, team_id: str, port: int = 0):
        self.public_key, self.key_id, self.team_id = public_key, key_id, team_id
        self.requests: list[Seen] = []
        self.http_versions: set[str] = set()
        self.port = port
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.http_versions.add(scope["http_version"])
        status, answer = self.answer(Seen(scope["path"], headers, body))
        payload = json.dumps(answer).encode() if answer else b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"apns-id", headers.get("apns-id", "").encode()),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def answer(self, seen: Seen) -> tuple[int, dict | None]:
        if not seen.path.startswith("/3/device/"):
            return 404, {"reason": "BadPath"}
        missing = [h for h in self.REQUIRED if not seen.headers.get(h)]
        if missing:
            return 400, {"reason": "MissingTopic" if "apns-topic" in missing else "MissingProviderToken"}
        try:
            header, claims = verify_jwt(seen.headers["authorization"].removeprefix("bearer "), self.public_key,
                                        "ES256")
        except BadToken:
            return 403, {"reason": "InvalidProviderToken"}
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return 403, {"reason": "InvalidProviderToken"}
        if time.time() - float(claims.get("iat", 0)) > 3600:
            return 403, {"reason": "ExpiredProviderToken"}
        token = seen.path.removeprefix("/3/device/")
        if token.startswith("dead"):
            return 410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)}
        if token.startswith("bad"):
            return 400, {"reason": "BadDeviceToken"}
        try:
            json.loads(seen.body)
        except ValueError:
            return 400, {"reason": "PayloadEmpty"}
        self.requests.append(seen)
        return 200, None

    def _serve(self) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        async def main():
            import socket

            sock = socket.socket()
            sock.bind(("127.0.0.1", self.port))
            self.port = sock.getsockname()[1]
            sock.close()
            config = Config()
            config.bind = [f"127.0.0.1:{self.port}"]
            config.accesslog = None
            config.errorlog = None
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await serve(self.app, config, shutdown_trigger=self._stop.wait)

        asyncio.run(main())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        self._ready.wait(10)
        # hypercorn binds just after the trigger is set up: wait until it accepts
        import socket

        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


if __name__ == "__main__":  # pragma: no cover - benchmarks run a Web Push service as a process
    import sys

    web = WebPushSink(int(sys.argv[1]) if len(sys.argv) > 1 else 0, keep=False)
    print(web.port, flush=True)
    web.server.serve_forever()
