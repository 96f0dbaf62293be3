"""What campaigns declare for the layers above it: a run's control reaches the work a
run handed over (channels' deliveries) through RUN_LISTENERS, registered by those apps
in their AppConfig.ready(). Campaigns never imports them."""

from __future__ import annotations

from typing import Protocol


class RunListener(Protocol):
    def stop(self, run) -> int:
        """The run stopped: cancel what it still had queued; returns how many messages."""

    def pause(self, run) -> int:
        """The run's campaign is paused: hold what is queued; returns how many messages."""

    def resume(self, run) -> int:
        """The run's campaign is resumed: release what was held; returns how many messages."""

    def pending(self, run) -> bool:
        """Whether work of the run is still going on (a delivery sending or held)."""

    def summary(self, run_ids: list[int]) -> dict[str, int]:
        """{"cancelled": n, "held": n} messages over these runs."""


RUN_LISTENERS: list[RunListener] = []


def notify(action: str, run) -> int:
    return sum(getattr(listener, action)(run) for listener in RUN_LISTENERS)


def pending(run) -> bool:
    return any(listener.pending(run) for listener in RUN_LISTENERS)


def summary(run_ids: list[int]) -> dict[str, int]:
    total = {"cancelled": 0, "held": 0}
    for listener in RUN_LISTENERS:
        for key, value in listener.summary(run_ids).items():
            total[key] = total.get(key, 0) + value
    return total


# (run) -> {node_id: {"short": "959 sent", "text": "959 sent · 43.8 % opened ...", "url": a report}}:
# what the layers above know of a live run's activities after they ran (reports: the
# delivery figures of its channel activities), shown on the run's canvas and table.
RESULT_PROVIDERS: list = []


def results(run) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for provider in RESULT_PROVIDERS:
        found.update(provider(run))
    return found
