"""A real SMTP server on loopback (aiosmtpd) that accepts and keeps what it receives:
the tests' and benchmarks' mail server. Recipients whose address contains `tempfail`
get a 451 reply, `reject` a 550, so that retries and permanent errors can be tested.
`delay` (seconds) makes the server take that long to accept each message, as a server
that scans content or sits 200 ms away does.

    with SmtpSink() as sink:           # in a thread of this process
        ... send to 127.0.0.1:sink.port ...
        sink.messages                   # [Received(mail_from, rcpt_tos, data, message_id)]

`python -m bench.smtpsink PORT` runs one as its own process (benchmarks)."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from dataclasses import dataclass

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message_id(self) -> str | None:
        match = _MESSAGE_ID.search(self.data.split(b"\r\n\r\n", 1)[0])
        return match.group(1).decode() if match else None


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd API
        if "tempfail" in address:
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if "reject" in address:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd API
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        if self.sink.keep:
            with self.sink.lock:
                self.sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        else:
            with self.sink.lock:
                self.sink.count += 1
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, port: int = 0, keep: bool = True, delay: float = 0.0):
        self.keep, self.delay = keep, delay
        self.messages: list[Received] = []
        self.count = 0
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=port or _free_port(),
                                     data_size_limit=50 * 1024 * 1024)

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sink = SmtpSink(port=int(sys.argv[1]), keep=False).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    threading.Event().wait()
