"""The send policy: the one interface through which a higher layer (consent) decides who
may get a message. Channels declares it and cannot send without it; it never imports
the implementation (layers: ... campaigns < channels < consent).

- at creation, `exclusions` and `deferral` become conditions of the classification
  statement of apps/channels/ledger.py;
- just before a chunk leaves, `check_before_send` gets the chunk's claimed messages
  inside the transaction that claimed them, and may lock what it needs until that
  transaction commits (frequency caps lock the chunk's profiles);
- `links` and `headers` give each message its unsubscribe links and headers;
- `on_event` hears every event on a sent message (bounces and complaints suppress,
  an unsubscribe reported by the provider withdraws consent);
- `setting_choices` fills the activity panel's topic and frequency-cap choices.

One policy is registered, by the implementing app's AppConfig.ready(). A system check
(channels.E001) fails start-up without one, and the send path raises NoSendPolicy
rather than send unchecked."""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from psycopg import sql

if TYPE_CHECKING:
    from .ledger import Audience
    from .models import Delivery

# A message that must not leave now: a reason code (it becomes `excluded`), or
# ("defer", until) for one that may leave later (it becomes `deferred`).
Verdict = str | tuple[str, dt.datetime]


class NoSendPolicy(ImproperlyConfigured):
    """Sending was asked for, but no send policy is registered: nothing is sent."""


class SendPolicy(abc.ABC):
    @abc.abstractmethod
    def exclusions(self, audience: Audience) -> list[tuple[str, sql.Composable]]:
        """[(reason, SQL condition)] over the classification's aliases `w` (working row)
        and `p` (profile row); the first true condition is the recipient's reason."""

    @abc.abstractmethod
    def deferral(self, audience: Audience) -> sql.Composable | None:
        """An SQL timestamptz over `p` until which a recipient must wait (NULL: now),
        or None when nothing defers."""

    @abc.abstractmethod
    def check_before_send(self, delivery: Delivery, rows: list[dict[str, Any]]) -> dict[int, Verdict]:
        """{message id: verdict} for the claimed messages in `rows` that must not leave
        now. Runs inside the transaction that claimed them (status `sending`); the
        caller marks the verdicts in that same transaction, so what a policy locks here
        stays locked until the chunk's state is committed."""

    @abc.abstractmethod
    def links(self, delivery: Delivery, row: dict[str, Any]) -> dict[str, str]:
        """Links a message's template may use ({name: url})."""

    @abc.abstractmethod
    def headers(self, delivery: Delivery, row: dict[str, Any], links: dict[str, str]) -> dict[str, str]:
        """Extra headers of a message (List-Unsubscribe...)."""

    @abc.abstractmethod
    def settings_problem(self, workspace, channel: str, settings: dict[str, Any]) -> str | None:
        """What is wrong with a channel activity's policy settings (a topic or rule set
        that does not exist...), or None: checked at publication and again at each run."""

    @abc.abstractmethod
    def on_event(self, event, message) -> None:
        """A recorded event (MessageEvent) on a message: provider reports feed the policy."""

    @abc.abstractmethod
    def setting_choices(self, workspace, channel: str) -> dict[str, list[tuple[str, str]]]:
        """The choices of a channel activity's policy settings: {"topic": [(key, label)],
        "rule_set_id": [(id, label)]}."""


_registered: SendPolicy | None = None


def register(policy: SendPolicy) -> None:
    """Install the send policy (once, from an AppConfig.ready(); registering the same
    policy again is harmless, a second different one is a configuration error)."""
    global _registered
    if not isinstance(policy, SendPolicy):
        raise TypeError(f"{policy!r} is not a SendPolicy")
    if _registered is not None and type(_registered) is not type(policy):
        raise ImproperlyConfigured(f"a send policy is already registered ({type(_registered).__name__}); "
                                   f"refusing a second one ({type(policy).__name__})")
    _registered = policy


def current() -> SendPolicy:
    """The registered policy; raises NoSendPolicy when there is none."""
    if _registered is None:
        raise NoSendPolicy("no send policy is registered: consent, suppression and frequency caps could not be "
                           "checked, so nothing is sent (is apps.consent in INSTALLED_APPS?)")
    return _registered


@contextlib.contextmanager
def swapped(policy: SendPolicy | None) -> Iterator[None]:
    """Run with another policy, or none (tests and benchmarks), then restore."""
    global _registered
    previous = _registered
    _registered = policy
    try:
        yield
    finally:
        _registered = previous


@checks.register("channels")
def check_send_policy(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if _registered is None:
        return [checks.Error(
            "No send policy is registered: messages cannot be checked for consent, suppression and frequency "
            "caps before they are created and sent.",
            hint="Add apps.consent to INSTALLED_APPS (its AppConfig.ready() registers the policy).",
            id="channels.E001")]
    return []
