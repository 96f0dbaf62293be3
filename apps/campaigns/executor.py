"""The run executor. The database decides: an activity runs only after a conditional
UPDATE claimed it (queued -> running), so a duplicated or redelivered task finds nothing
to do; when an activity finishes, each successor whose inputs are all done is claimed
(waiting -> queued) by exactly one finisher and dispatched after commit. An activity's
tables and its status change in one transaction: a crash leaves no half-built table."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from psycopg import sql

from apps.core.sqlutil import execute, fetchall, workspace_schema
from apps.datamodel.schema import Schema

from . import hooks
from .activities import REGISTRY, Context, Outlet, SettingsError
from .activities.base import Sleep
from .graph import Plan, check_graph
from .models import ActivityRun, ActivityStatus, Campaign, CampaignVersion, Run, RunMode, RunStatus
from .variables import placeholders, substitute

logger = logging.getLogger(__name__)


def _enqueue_celery(activity_run_id: int) -> None:
    from .tasks import execute_activity  # noqa: PLC0415

    transaction.on_commit(lambda: execute_activity.delay(activity_run_id))


# Tests swap this for an in-process queue; production dispatches Celery tasks after commit.
DISPATCH: Callable[[int], None] = _enqueue_celery


def run_create(*, campaign: Campaign, version: CampaignVersion, mode: str = RunMode.TEST, actor: Any = None,
               trigger: str = "manual", scheduled_for=None, variables: dict | None = None, site_url: str = "",
               skip_waits: bool = False) -> Run:
    """A run of one version, its activities waiting; the Start is dispatched at once.
    `site_url` is the address it was started on; a run started by no request (a schedule)
    takes the workspace's latest one. `skip_waits`: a test run's Waits go on at once."""
    plan = check_graph(workspace=campaign.workspace, definition=version.definition)
    if not site_url:
        site_url = (Run.objects.filter(workspace=campaign.workspace).exclude(site_url="")
                    .order_by("-created_at", "-id").values_list("site_url", flat=True).first() or "")
    with transaction.atomic():
        run = Run.objects.create(
            workspace=campaign.workspace, campaign=campaign, version=version, mode=mode, trigger=trigger,
            scheduled_for=scheduled_for, variables=variables or {}, status=RunStatus.RUNNING, site_url=site_url,
            skip_waits=skip_waits and mode == RunMode.TEST,
            started_at=timezone.now(), created_by=actor if getattr(actor, "pk", None) else None)
        ActivityRun.objects.bulk_create([
            ActivityRun(workspace=campaign.workspace, run=run, node_id=node_id, type=plan.nodes[node_id]["type"])
            for node_id in plan.order])
        _dispatch_ready(run, plan)
    return run


_PLANS: dict[tuple[int, str], Plan] = {}


def _plan(run: Run) -> Plan:
    """The checked graph of the run's version, checked once per process (a run's version
    does not change while it runs: published versions never do, and a test run's draft is
    keyed by its last edit)."""
    key = (run.version_id, run.version.updated_at.isoformat())
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 256:
            _PLANS.clear()
        plan = _PLANS[key] = check_graph(workspace=run.workspace, definition=run.version.definition)
    return plan


def _dispatch_ready(run: Run, plan: Plan) -> None:
    """Claim every waiting activity whose inputs are all done, once each."""
    statuses = dict(ActivityRun.objects.filter(run=run).values_list("node_id", "status"))
    for node_id in plan.order:
        if statuses.get(node_id) != ActivityStatus.WAITING:
            continue
        if all(statuses.get(src) == ActivityStatus.DONE for src, _ in plan.inputs[node_id]):
            claimed = ActivityRun.objects.filter(run=run, node_id=node_id, status=ActivityStatus.WAITING).update(
                status=ActivityStatus.QUEUED, queued_at=timezone.now())
            if claimed:
                activity_id = ActivityRun.objects.filter(run=run, node_id=node_id).values_list("pk", flat=True).get()
                DISPATCH(activity_id)


# The executing session holds this advisory lock for the whole activity: a duplicate task
# finds it taken; when a worker dies, PostgreSQL drops its session and the lock with it,
# so the activity can be taken over (and rebuilt from its start).
LOCK_CLASS = 0x0CA3


def _try_lock(activity_run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, activity_run_id])
        return bool(cursor.fetchone()[0])


def _unlock(activity_run_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, activity_run_id])


def activity_execute(*, activity_run_id: int) -> ActivityRun | None:
    """Run one activity once. Returns None when there was nothing to claim: it is done,
    or another live worker is running it."""
    if not _try_lock(activity_run_id):
        return None
    try:
        return _execute_locked(activity_run_id)
    finally:
        _unlock(activity_run_id)


def _execute_locked(activity_run_id: int) -> ActivityRun | None:
    # RUNNING here means its previous executor died (we hold the lock): take it over.
    claimed = ActivityRun.objects.filter(
        pk=activity_run_id, status__in=[ActivityStatus.QUEUED, ActivityStatus.RUNNING]).update(
        status=ActivityStatus.RUNNING, claimed_at=timezone.now(), started_at=timezone.now())
    if not claimed:
        return None
    activity_run = ActivityRun.objects.select_related("run", "run__version", "run__workspace",
                                                      "run__campaign").get(pk=activity_run_id)
    run = activity_run.run
    if run.status != RunStatus.RUNNING:
        ActivityRun.objects.filter(pk=activity_run_id).update(status=ActivityStatus.SKIPPED)
        return activity_run
    plan = _plan(run)
    node = plan.nodes[activity_run.node_id]
    activity = REGISTRY[node["type"]]
    if activity.sends and _await_confirmation(run, activity_run_id):
        return ActivityRun.objects.get(pk=activity_run_id)
    done = {a.node_id: a for a in ActivityRun.objects.filter(run=run, status=ActivityStatus.DONE)}
    inputs = [Outlet(**done[src].outlets[outlet]) for src, outlet in plan.inputs[node["id"]]
              if done[src].outlets.get(outlet)]
    ActivityRun.objects.filter(pk=activity_run_id).update(attempts=activity_run.attempts + 1)
    schema = Schema.load(run.workspace)
    ctx = Context(workspace=run.workspace, run=run, activity_run=activity_run, node=node, inputs=inputs,
                  schema=schema, test_mode=run.mode == RunMode.TEST)
    try:
        with transaction.atomic():
            try:
                ctx.node = _with_variables(node, run, activity, [i.entity for i in inputs], schema)
                outlets = activity.run(ctx)
            except Sleep as sleep:
                ActivityRun.objects.filter(pk=activity_run_id).update(
                    status=ActivityStatus.SLEEPING, wake_at=sleep.until, log=ctx.log)
                return ActivityRun.objects.get(pk=activity_run_id)
            activity_run.status = ActivityStatus.DONE
            activity_run.outlets = {name: o.as_dict() for name, o in outlets.items()}
            activity_run.rows_in = sum(i.count or 0 for i in inputs) if inputs else None
            activity_run.rows_out = sum(o.count or 0 for o in outlets.values()) if outlets else None
            activity_run.finished_at = timezone.now()
            activity_run.log = ctx.log
            stopped = _stop_empty(run, plan, node, outlets)
            if stopped:
                activity_run.report = {**(activity_run.report or {}), "stopped_empty": stopped}
            activity_run.save(update_fields=["status", "outlets", "rows_in", "rows_out", "finished_at", "log",
                                             "report"])
            _dispatch_ready(run, plan)
    except Exception as exc:  # the activity must end as failed, with the reason shown
        if not isinstance(exc, SettingsError):
            logger.exception("activity %s of run %s failed", node["id"], run.pk)
        message = str(exc) if isinstance(exc, SettingsError) else f"{type(exc).__name__}: {exc}"
        ActivityRun.objects.filter(pk=activity_run_id).update(
            status=ActivityStatus.FAILED, error=message[:4000], finished_at=timezone.now(), log=ctx.log,
            report=activity_run.report)
    _maybe_finish(run)
    activity_run.refresh_from_db()
    return activity_run


def _stop_empty(run: Run, plan: Plan, node: dict[str, Any], outlets: dict[str, Outlet]) -> list[str]:
    """An activity set to stop its branch on an empty audience ("on_empty": "stop"): what
    follows each of its empty outlets is skipped, and what follows those (an activity
    missing an input never runs). Returns the empty outlets it stopped."""
    if node["settings"].get("on_empty") != "stop":
        return []
    stopped = sorted(name for name, outlet in outlets.items() if not outlet.count)
    skipped = {dst for dst, sources in plan.inputs.items()
               if any(src == node["id"] and outlet in stopped for src, outlet in sources)}
    frontier = list(skipped)
    while frontier:
        for successor in plan.successors[frontier.pop()]:
            if successor not in skipped:
                skipped.add(successor)
                frontier.append(successor)
    ActivityRun.objects.filter(run=run, node_id__in=skipped, status=ActivityStatus.WAITING).update(
        status=ActivityStatus.SKIPPED)
    return stopped


def _with_variables(node: dict[str, Any], run: Run, activity, input_entities: list[str], schema: Schema,
                    ) -> dict[str, Any]:
    """The node with its trigger-variable placeholders replaced by the run's variables (or
    their defaults), its settings checked again with those values; a missing variable
    without a default is a SettingsError naming it and the activity."""
    if not placeholders(node["settings"]):
        return node
    settings = substitute(node["settings"], run.variables, node_id=node["id"])
    try:
        activity.check(settings, input_entities, schema)
    except SettingsError as exc:
        raise SettingsError(f"{node['id']}: with this run's variables, {exc}") from None
    return {**node, "settings": settings}


def _await_confirmation(run: Run, activity_run_id: int) -> bool:
    """The gate before the first send: a live run of a campaign that asks for confirmation
    parks its channel activities until an approver confirms (run_confirm). The run row is
    locked so a confirmation in between cannot be missed: either it came first (and this
    activity goes on) or it finds this activity parked and queues it."""
    if run.mode != RunMode.LIVE or not run.campaign.confirm_before_send:
        return False
    with transaction.atomic():
        confirmed = Run.objects.select_for_update().filter(pk=run.pk).values_list("confirmed_at", flat=True).get()
        if confirmed is not None:
            return False
        ActivityRun.objects.filter(pk=activity_run_id, status=ActivityStatus.RUNNING).update(
            status=ActivityStatus.AWAITING_CONFIRMATION, claimed_at=None, started_at=None)
    return True


def run_confirm(*, run: Run, actor: Any = None) -> int:
    """Let a run's channel activities send: records who and when, and queues every channel
    activity parked at the gate (later ones pass it). Returns how many were queued."""
    from django.core.exceptions import ValidationError  # noqa: PLC0415

    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.mode != RunMode.LIVE:
            raise ValidationError("Only a live run waits for confirmation; a test run sends nothing.")
        if locked.confirmed_at is not None:
            raise ValidationError(f"This run was already confirmed at {locked.confirmed_at:%Y-%m-%d %H:%M:%S}.")
        if locked.status != RunStatus.RUNNING:
            raise ValidationError(f"A {locked.status} run cannot be confirmed.")
        Run.objects.filter(pk=run.pk).update(confirmed_at=timezone.now(),
                                             confirmed_by=actor if getattr(actor, "pk", None) else None)
        parked = list(ActivityRun.objects.filter(run=run, status=ActivityStatus.AWAITING_CONFIRMATION)
                      .values_list("pk", flat=True))
        ActivityRun.objects.filter(pk__in=parked).update(status=ActivityStatus.QUEUED, queued_at=timezone.now())
        for activity_id in parked:
            DISPATCH(activity_id)
    return len(parked)


OPEN_STATES = [ActivityStatus.QUEUED, ActivityStatus.RUNNING, ActivityStatus.SLEEPING,
               ActivityStatus.AWAITING_CONFIRMATION]


def _maybe_finish(run: Run) -> None:
    """A run ends when nothing is queued, running, sleeping or awaiting confirmation and
    the work it handed over (deliveries) is finished: failed if an activity failed (its
    branch stopped), else done. Then its campaign may be complete."""
    open_states = OPEN_STATES
    activities = ActivityRun.objects.filter(run=run)
    if activities.filter(status__in=open_states).exists():
        return
    failed = activities.filter(status=ActivityStatus.FAILED).exists()
    if not failed and hooks.pending(run):
        return  # a delivery still sends (or is held): the channel side settles the run when it ends
    waiting = activities.filter(status=ActivityStatus.WAITING)
    if failed:
        waiting.update(status=ActivityStatus.SKIPPED)
    finished = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED if failed else RunStatus.DONE, finished_at=timezone.now(),
        error="an activity failed: see its log" if failed else "")
    if finished:
        from .completion import campaign_complete_if_done  # noqa: PLC0415

        campaign_complete_if_done(campaign_id=run.campaign_id)


def run_settle(*, run_id: int) -> None:
    """Work a run handed over finished (a delivery sent everything, ran out of time or
    was stopped): finish the run if nothing else is open."""
    run = Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).first()
    if run is not None:
        _maybe_finish(run)


def runs_settle() -> int:
    """Every 30 s: finish the running runs whose activities all ended and whose
    deliveries ended without telling (a window that expired, a lost hook)."""
    settled = 0
    open_runs = ActivityRun.objects.filter(run=OuterRef("pk"), status__in=OPEN_STATES)
    for run in Run.objects.filter(status=RunStatus.RUNNING).exclude(Exists(open_runs)):
        _maybe_finish(run)
        settled += Run.objects.filter(pk=run.pk).exclude(status=RunStatus.RUNNING).exists()
    return settled


STALE_QUEUED = 120  # seconds a queued activity may wait for its task before it is dispatched again


def stale_redispatch(*, now=None) -> int:
    """Celery is at-least-once and a publish can be lost between commit and broker: the
    ledger decides. Activities RUNNING with nobody holding their lock (a killed worker)
    and activities QUEUED for STALE_QUEUED seconds since their own dispatch are
    dispatched again (which restarts their clock); the lock and the claim make a second
    delivery harmless. The run's age says nothing: a run of last week dispatches its
    next activity now."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(seconds=STALE_QUEUED)
    redispatched = 0
    stale = ActivityRun.objects.filter(
        Q(status=ActivityStatus.RUNNING) |
        Q(status=ActivityStatus.QUEUED) & (Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True))
    ).filter(run__status=RunStatus.RUNNING).values_list("pk", "status")
    for activity_id, status in stale:
        if status == ActivityStatus.RUNNING:
            if not _try_lock(activity_id):
                continue  # a live worker is on it
            _unlock(activity_id)
        with transaction.atomic():
            if status == ActivityStatus.QUEUED and not ActivityRun.objects.filter(
                    Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True), pk=activity_id,
                    status=ActivityStatus.QUEUED).update(queued_at=now):
                continue  # taken (or dispatched again by another sweep) meanwhile
            DISPATCH(activity_id)
        redispatched += 1
    return redispatched


def timers_wake(*, now=None) -> int:
    """Queue every sleeping activity whose time has come (called every minute by beat);
    the conditional UPDATE makes two sweeps harmless."""
    now = now or timezone.now()
    woken = 0
    for activity in ActivityRun.objects.filter(status=ActivityStatus.SLEEPING, wake_at__lte=now).only("pk"):
        with transaction.atomic():
            if ActivityRun.objects.filter(pk=activity.pk, status=ActivityStatus.SLEEPING).update(
                    status=ActivityStatus.QUEUED, queued_at=timezone.now()):
                DISPATCH(activity.pk)
                woken += 1
    return woken


def activity_retry(*, run: Run, node_id: str) -> ActivityRun:
    """Run a failed activity again: its skipped successors wait again and the run goes on."""
    from django.core.exceptions import ValidationError  # noqa: PLC0415

    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("version", "workspace").get(pk=run.pk)
        activity = ActivityRun.objects.select_for_update().get(run=run, node_id=node_id)
        if activity.status != ActivityStatus.FAILED:
            raise ValidationError(f"Only a failed activity can be retried; {node_id} is {activity.status}.")
        if run.status not in (RunStatus.FAILED, RunStatus.RUNNING):
            raise ValidationError(f"A {run.status} run cannot go on.")
        plan = _plan(run)
        downstream, stack = set(), [node_id]
        while stack:
            for successor in plan.successors[stack.pop()]:
                if successor not in downstream:
                    downstream.add(successor)
                    stack.append(successor)
        ActivityRun.objects.filter(run=run, node_id__in=downstream, status=ActivityStatus.SKIPPED).update(
            status=ActivityStatus.WAITING)
        ActivityRun.objects.filter(pk=activity.pk).update(status=ActivityStatus.QUEUED, error="", finished_at=None,
                                                          queued_at=timezone.now())
        Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None, error="")
        DISPATCH(activity.pk)
    activity.refresh_from_db()
    return activity


def run_stop(*, run: Run) -> int:
    """Stop a run: nothing new starts; what runs finishes its statement; the queued
    messages of its deliveries are cancelled. Returns how many messages were cancelled."""
    with transaction.atomic():
        Run.objects.filter(pk=run.pk, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).update(
            status=RunStatus.STOPPED, finished_at=timezone.now())
        ActivityRun.objects.filter(run=run).filter(
            Q(status=ActivityStatus.WAITING) | Q(status=ActivityStatus.QUEUED) | Q(status=ActivityStatus.SLEEPING)
            | Q(status=ActivityStatus.AWAITING_CONFIRMATION)
        ).update(status=ActivityStatus.SKIPPED)
        return hooks.notify("stop", run)


def run_tables_purge(*, run: Run) -> int:
    """Drop the run's working tables (old runs are purged by a periodic task)."""
    schema = workspace_schema(run.workspace_id)
    names = [r[0] for r in fetchall("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
                                    [schema, f"\\_run{run.pk}\\_%"])]
    for name in names:
        execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, name)))
    Run.objects.filter(pk=run.pk).update(tables_purged_at=timezone.now())
    return len(names)
