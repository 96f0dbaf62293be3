/* Orchestrate Web Push: subscribes this browser for push messages of one profile.
 *
 *   <script src=".../static/push/orchestrate-push.js"
 *           data-subscribe-url="https://orchestrate.example/push/<workspace>/subscribe/"
 *           data-unsubscribe-url="https://orchestrate.example/push/<workspace>/unsubscribe/"
 *           data-vapid-key="<the workspace's VAPID public key>"
 *           data-service-worker="/orchestrate-sw.js"
 *           data-profile-key="<the visitor's profile key>"
 *           data-profile-token="<the token your server got for it>"
 *           data-button="#enable-push"></script>
 *
 * or OrchestratePush.subscribe({subscribeUrl, vapidKey, serviceWorker, profileKey, profileToken})
 * and OrchestratePush.unsubscribe({unsubscribeUrl, serviceWorker, profileKey, profileToken}).
 * Each answers a promise of {status: "subscribed" | "unsubscribed" | "denied" | "unsupported", ...}
 * and dispatches the same as an "orchestrate-push" event on document. Nothing is loaded from
 * elsewhere; no cookie is sent.
 */
(function () {
  'use strict';

  var PROFILE_CACHE = 'orchestrate-push';
  var PROFILE_ENTRY = '/__orchestrate-push-profile';

  function keyBytes(base64url) {
    var padded = (base64url + '='.repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function sameKey(buffer, bytes) {
    if (!buffer) return false;
    var current = new Uint8Array(buffer);
    if (current.length !== bytes.length) return false;
    for (var i = 0; i < bytes.length; i += 1) if (current[i] !== bytes[i]) return false;
    return true;
  }

  function announce(result) {
    document.dispatchEvent(new CustomEvent('orchestrate-push', { detail: result }));
    return result;
  }

  function required(options, names) {
    names.forEach(function (name) {
      if (!options[name]) throw new Error('OrchestratePush: ' + name + ' is missing');
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', mode: 'cors', credentials: 'omit', cache: 'no-store',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) {
          var error = new Error(answer.detail || ('HTTP ' + response.status));
          error.status = response.status;
          error.answer = answer;
          throw error;
        }
        return answer;
      });
    });
  }

  function supported() {
    return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  }

  // Resolves once the registration has an active worker (pushManager needs one); does not
  // wait for the worker to control this page, so its scope may be narrower than the page.
  function activated(registration) {
    if (registration.active) return Promise.resolve(registration);
    var worker = registration.installing || registration.waiting;
    return new Promise(function (resolve, reject) {
      if (!worker) { reject(new Error('OrchestratePush: the service worker did not install')); return; }
      worker.addEventListener('statechange', function () {
        if (worker.state === 'activated') resolve(registration);
        if (worker.state === 'redundant') reject(new Error('OrchestratePush: the service worker failed'));
      });
    });
  }

  function remember(options) {
    // The service worker re-registers a renewed subscription for this profile.
    if (!('caches' in window)) return Promise.resolve();
    return caches.open(PROFILE_CACHE).then(function (cache) {
      return cache.put(PROFILE_ENTRY, new Response(JSON.stringify({
        profileKey: options.profileKey, profileToken: options.profileToken,
      }), { headers: { 'Content-Type': 'application/json' } }));
    }).catch(function () { /* private mode: renewal needs the page again */ });
  }

  function register(options) {
    return navigator.serviceWorker.register(options.serviceWorker || '/orchestrate-sw.js',
      options.scope ? { scope: options.scope } : undefined).then(activated);
  }

  function subscribe(options) {
    required(options, ['subscribeUrl', 'vapidKey', 'profileKey', 'profileToken']);
    if (!supported()) return Promise.resolve(announce({ status: 'unsupported' }));
    var key = keyBytes(options.vapidKey);
    return Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') return announce({ status: 'denied' });
      return register(options).then(function (registration) {
        return registration.pushManager.getSubscription().then(function (existing) {
          if (existing && !sameKey(existing.options && existing.options.applicationServerKey, key)) {
            return existing.unsubscribe().then(function () { return null; });
          }
          return existing;
        }).then(function (existing) {
          return existing || registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        });
      }).then(function (subscription) {
        return remember(options).then(function () {
          return post(options.subscribeUrl, {
            profile_key: String(options.profileKey), profile_token: options.profileToken,
            subscription: subscription.toJSON(),
          });
        });
      }).then(function (answer) {
        return announce({ status: 'subscribed', device: answer.device });
      });
    }).catch(function (error) {
      announce({ status: 'error', message: error.message, httpStatus: error.status });
      throw error;
    });
  }

  function unsubscribe(options) {
    required(options, ['unsubscribeUrl', 'profileKey', 'profileToken']);
    if (!supported()) return Promise.resolve(announce({ status: 'unsupported' }));
    return navigator.serviceWorker.getRegistration(options.scope || undefined).then(function (registration) {
      return registration ? registration.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      if (!subscription) return announce({ status: 'unsubscribed' });
      return post(options.unsubscribeUrl, {
        profile_key: String(options.profileKey), profile_token: options.profileToken, endpoint: subscription.endpoint,
      }).catch(function (error) {
        if (error.status !== 404) throw error;  // the platform did not know it: unsubscribe anyway
      }).then(function () {
        return subscription.unsubscribe();
      }).then(function () {
        return announce({ status: 'unsubscribed' });
      });
    });
  }

  window.OrchestratePush = { subscribe: subscribe, unsubscribe: unsubscribe, supported: supported };

  // Settings on the script tag: subscribe when the button is clicked (browsers ask for
  // permission only after a gesture).
  var script = document.currentScript;
  if (script && script.dataset.subscribeUrl) {
    var options = {
      subscribeUrl: script.dataset.subscribeUrl, unsubscribeUrl: script.dataset.unsubscribeUrl,
      vapidKey: script.dataset.vapidKey, serviceWorker: script.dataset.serviceWorker,
      scope: script.dataset.scope, profileKey: script.dataset.profileKey, profileToken: script.dataset.profileToken,
    };
    var bind = function () {
      var button = script.dataset.button && document.querySelector(script.dataset.button);
      if (button) {
        button.addEventListener('click', function (event) {
          event.preventDefault();
          subscribe(options).catch(function () { /* reported by the orchestrate-push event */ });
        });
      }
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', bind);
    else bind();
  }
})();
