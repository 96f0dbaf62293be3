/* Orchestrate Web Push service worker for the workspace "{{ workspace.name|escapejs }}".
 *
 * Serve this file from your website's own origin (e.g. https://www.example.com/orchestrate-sw.js)
 * and give its path to the page script (data-service-worker). It shows the notifications the
 * workspace sends (title, body, icon, image) and opens their URL when one is clicked. When the
 * browser renews a subscription, it registers the new one for the same profile.
 */
'use strict';

const ORCHESTRATE = {{ settings_json|safe }};
const PROFILE_CACHE = 'orchestrate-push';
const PROFILE_ENTRY = '/__orchestrate-push-profile';

function keyBytes(base64url) {
  const padded = (base64url + '='.repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(padded);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function safeUrl(value) {
  try {
    const url = new URL(value, self.location.origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch (e) {
    return null;
  }
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let message = {};
  if (event.data) {
    try {
      message = event.data.json();
    } catch (e) {
      message = { title: event.data.text() };
    }
  }
  const data = Object.assign({}, message.data || {});
  const url = safeUrl(message.url || data.url || '');
  if (url) data.url = url;
  const options = { body: message.body || '', data: data };
  const icon = message.icon || data.icon;
  if (icon) options.icon = icon;
  if (message.image) options.image = message.image;
  if (message.tag) options.tag = message.tag;
  event.waitUntil(self.registration.showNotification(message.title || '', options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = safeUrl((event.notification.data || {}).url || '');
  if (!url) return;
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
    for (const client of windows) {
      if (client.url === url && 'focus' in client) return client.focus();
    }
    return self.clients.openWindow(url);
  }));
});

// The push service renewed (or dropped) the subscription: subscribe again with the
// workspace's key and register it for the profile the page stored.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(PROFILE_CACHE);
    const stored = await cache.match(PROFILE_ENTRY);
    if (!stored || !ORCHESTRATE.vapidPublicKey) return;
    const profile = await stored.json();
    const subscription = await self.registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(ORCHESTRATE.vapidPublicKey),
    });
    await fetch(ORCHESTRATE.subscribeUrl, {
      method: 'POST', mode: 'cors', credentials: 'omit', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ profile_key: profile.profileKey, profile_token: profile.profileToken,
                             subscription: subscription.toJSON() }),
    });
  })());
});
