"""Web Push on a client's website, in a real browser: a page of the site (served here by
the live server, as the client's origin) loads our snippet with its settings on the script
tag, registers the downloaded service worker, asks for permission, subscribes with the
workspace's VAPID key and POSTs the subscription to the public endpoint. Only the
browser's PushManager.subscribe is stubbed (no push service offline); the rest is ours and
the browser's own."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.http import HttpResponse
from django.urls import path
from django.utils.html import escape

from apps.channels import push_config, webpush
from apps.channels.models import PushSubscription
from apps.channels.views.pushconfig import service_worker_script
from apps.tenants.models import Workspace
from config.urls import urlpatterns as site_urlpatterns
from tests.browser.test_csp_pages import log_in
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

ENDPOINT = "http://127.0.0.1:9/push/browser-e2e"
# Only the browser's PushManager.subscribe is replaced: it keeps the key it was given and
# answers the test's subscription (a push service is out of reach offline).
STUB = """(() => {
  const subscription = SUBSCRIPTION;
  PushManager.prototype.subscribe = function (options) {
    window.__subscribedWith = Array.from(new Uint8Array(options.applicationServerKey));
    return Promise.resolve({ endpoint: subscription.endpoint, toJSON: () => subscription });
  };
})();"""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def client_page(request):
    """The client's page for the logged-in visitor with profile key 1: its server put the
    visitor's profile token in the script tag."""
    workspace = Workspace.objects.get(slug="northwind")
    view = push_config.push_config_view(push_config.config_of(workspace))
    attrs = {"src": "/static/push/orchestrate-push.js", "data-subscribe-url": f"/push/{workspace.slug}/subscribe/",
             "data-unsubscribe-url": f"/push/{workspace.slug}/unsubscribe/",
             "data-vapid-key": view["vapid_public_key"], "data-service-worker": "/client-site/orchestrate-sw.js",
             "data-scope": "/client-site/", "data-profile-key": "1",
             "data-profile-token": webpush.profile_token(workspace, "1"), "data-button": "#enable-push"}
    tag = " ".join(f'{name}="{escape(value)}"' for name, value in attrs.items())
    return HttpResponse(f'<!doctype html><html><head><title>Travel</title><script {tag}></script></head>'
                        f'<body><button id="enable-push">Get offers by push</button></body></html>')


def client_service_worker(request):
    """The service worker as downloaded from the push settings page, served by the site."""
    response = HttpResponse(service_worker_script(request, Workspace.objects.get(slug="northwind")),
                            content_type="text/javascript")
    return response


urlpatterns = [path("client-site/", client_page), path("client-site/orchestrate-sw.js", client_service_worker),
               *site_urlpatterns]


@pytest.fixture
def pushing_site(transactional_db, live_server, settings):
    settings.ROOT_URLCONF = __name__
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    push_config.push_config_save(workspace=workspace, actor=None, generate_vapid=True,
                                 options={"web_origins": [live_server.url]})
    return workspace


def test_the_snippet_subscribes_the_browser_and_registers_it(live_server, pushing_site, browser_page):
    page = browser_page
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    browser_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)
    subscription = {"endpoint": ENDPOINT, "expirationTime": None,
                    "keys": {"p256dh": _b64(browser_key), "auth": _b64(os.urandom(16))}}
    page.add_init_script(STUB.replace("SUBSCRIPTION", json.dumps(subscription)))
    page.goto(f"{live_server.url}/client-site/")
    page.evaluate("() => { window.__result = new Promise(resolve => document.addEventListener("
                  "'orchestrate-push', e => resolve(e.detail), { once: true })); }")
    page.locator("#enable-push").click()
    result = page.evaluate("() => window.__result")
    assert result["status"] == "subscribed", result
    # then the browser is a device of profile 1, with the keys the browser made
    sub = PushSubscription.objects.get(workspace=pushing_site)
    assert (sub.platform, sub.profile_key, sub.token, sub.keys, sub.active) == (
        "web", "1", ENDPOINT, subscription["keys"], True)
    assert result["device"] == sub.pk
    # subscribed with the workspace's VAPID public key, through the service worker it registered
    public = push_config.config_of(pushing_site).options["vapid_public_key"]
    assert bytes(page.evaluate("() => window.__subscribedWith")) == base64.urlsafe_b64decode(public + "=")
    scope = page.evaluate("() => navigator.serviceWorker.getRegistration('/client-site/')"
                          ".then(r => r && r.active && r.active.scriptURL)")
    assert scope == f"{live_server.url}/client-site/orchestrate-sw.js"


def test_the_service_worker_shows_a_push_and_opens_its_url(live_server, pushing_site, browser_page):
    page = browser_page
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.add_init_script(STUB.replace("SUBSCRIPTION", json.dumps({"endpoint": ENDPOINT, "keys": {}})))
    page.goto(f"{live_server.url}/client-site/")
    page.evaluate("() => navigator.serviceWorker.register('/client-site/orchestrate-sw.js', "
                  "{ scope: '/client-site/' }).then(() => navigator.serviceWorker.ready)")
    worker = next(w for w in page.context.service_workers if w.url.endswith("/client-site/orchestrate-sw.js"))
    # a push as the provider sends it (apps/channels/providers/push.py): the handler shows it
    payload = {"title": "Snow in Zermatt", "body": "Fresh powder this weekend", "url": "/client-site/offers",
               "image": "/static/img/snow.png", "data": {"icon": "/static/img/icon.png", "offer": "z1"}, "tag": ""}
    shown = worker.evaluate("""async (payload) => {
      const event = new PushEvent('push', { data: JSON.stringify(payload) });
      try { self.dispatchEvent(event); } catch (e) { /* waitUntil refuses an event the browser did not send */ }
      for (let i = 0; i < 50; i += 1) {
        const shown = await self.registration.getNotifications();
        if (shown.length) {
          const n = shown[0];
          return { title: n.title, body: n.body, icon: n.icon, image: n.image, data: n.data };
        }
        await new Promise(r => setTimeout(r, 100));
      }
      return null;
    }""", payload)
    assert shown is not None, "no notification was shown"
    assert (shown["title"], shown["body"]) == ("Snow in Zermatt", "Fresh powder this weekend")
    assert shown["icon"] == f"{live_server.url}/static/img/icon.png"
    assert shown["image"] == f"{live_server.url}/static/img/snow.png"
    assert shown["data"] == {"icon": "/static/img/icon.png", "offer": "z1",
                             "url": f"{live_server.url}/client-site/offers"}
    # a click closes it and opens its URL (a window may be opened only from a click the
    # browser itself reports, so the test catches the call to openWindow)
    opened = worker.evaluate("""async () => {
      let opened = null;
      Clients.prototype.openWindow = function (url) { opened = url; return Promise.resolve(null); };
      const [notification] = await self.registration.getNotifications();
      try {
        self.dispatchEvent(new NotificationEvent('notificationclick', { notification }));
      } catch (e) { /* waitUntil refuses an event the browser did not send */ }
      for (let i = 0; i < 50 && opened === null; i += 1) await new Promise(r => setTimeout(r, 100));
      return { opened, left: (await self.registration.getNotifications()).length };
    }""")
    assert opened == {"opened": f"{live_server.url}/client-site/offers", "left": 0}


def test_the_push_settings_page_keeps_the_strict_policy(live_server, pushing_site, browser_page):
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=pushing_site.organization, user=user, role="owner")
    page = browser_page
    log_in(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/w/northwind/settings/push/")
    public = push_config.config_of(pushing_site).options["vapid_public_key"]
    assert page.locator("#vapid-public-key").inner_text().strip() == public
    assert live_server.url in page.locator("#id_web_origins").input_value()
    assert "/push/northwind/subscribe/" in page.locator("#push-snippet").inner_text()
    # the fixture fails the test on any Content-Security-Policy violation of the page
