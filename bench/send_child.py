"""Process entry points of `bench send` (imported by spawned processes before Django is
set up, so nothing Django-related is imported at module level)."""

from __future__ import annotations

import os
import smtplib


def child_send(delivery_pk: int, ready, go) -> None:
    """Set up Django, say so, wait for the start signal, then send until nothing is left."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.db import connection

    from apps.channels import sending

    sending.DISPATCH = lambda _pk: None
    connection.ensure_connection()
    ready.release()
    go.wait()
    while sending.send_some(delivery_pk, budget=3600)["sent"]:
        pass


def child_raw(port: int, count: int, payload: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            smtp.sendmail("news@travel.test", [f"raw{i}@example.test"], payload)


def child_raw_sms(base_url: str, account: str, token: str, sender: str, numbers: list[str], text: str,
                  ready, go, results) -> None:
    """The Twilio SDK in a plain loop (its keep-alive session), to the same gateway."""
    import time

    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class Rebased(TwilioHttpClient):  # the SDK has no base URL setting: what our adapter does too
        def request(self, method, url, *args, **kwargs):
            return super().request(method, url.replace("https://api.twilio.com", base_url, 1), *args, **kwargs)

    client = Client(account, token, http_client=Rebased(timeout=15, max_retries=0))
    ready.release()
    go.wait()
    started = time.process_time()
    for number in numbers:
        client.messages.create(to=number, from_=sender, body=text)
    results.put(time.process_time() - started)


def child_raw_push(subscriptions: list[tuple[str, dict]], payload: dict, vapid_pem: str, subject: str,
                   ready, go, results) -> None:
    """pywebpush's `webpush` in a plain loop (a keep-alive session), to the same push service."""
    import json
    import time
    from urllib.parse import urlsplit

    import requests
    from py_vapid import Vapid02
    from pywebpush import webpush

    vapid = Vapid02.from_pem(vapid_pem.encode())
    session = requests.Session()
    data = json.dumps(payload, separators=(",", ":"))
    ready.release()
    go.wait()
    started = time.process_time()
    for endpoint, keys in subscriptions:
        parts = urlsplit(endpoint)
        webpush(subscription_info={"endpoint": endpoint, "keys": keys}, data=data, vapid_private_key=vapid,
                vapid_claims={"sub": subject, "aud": f"{parts.scheme}://{parts.netloc}",
                              "exp": int(time.time()) + 12 * 3600},
                content_encoding="aes128gcm", ttl=86400, headers={"Urgency": "normal"}, timeout=10,
                requests_session=session)
    session.close()
    results.put(time.process_time() - started)
