"""Wait (a durable timer) and Save audience."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from psycopg import sql

from apps.audiences import selectors as audience_selectors
from apps.audiences.models import Audience, AudienceOrigin, AudienceStatus
from apps.tenants.services import audit_record

from .base import Activity, Outlet, SettingsError, Sleep, register

UNITS = {"minutes": 1, "hours": 60, "days": 1440}


@register
class Wait(Activity):
    """Wait a duration ({"amount": 2, "unit": "hours"}) or until a wall-clock time in the
    workspace zone ({"until": "09:00"}, the next such time) or a moment
    ({"until": "2026-12-24T18:00"}). The timer is a row in the database."""

    type, label = "wait", "Wait"

    def check(self, settings, input_entities, schema):
        self.wake_time(settings, schema.workspace, timezone.now())
        return {"out": input_entities[0]}

    @staticmethod
    def wake_time(settings, workspace, start: dt.datetime) -> dt.datetime:
        zone = workspace.zone
        if "until" in settings:
            text = str(settings["until"])
            if len(text) <= 5:
                try:
                    hour, minute = (int(p) for p in text.split(":"))
                    local = start.astimezone(zone)
                    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
                except ValueError:
                    raise SettingsError(f"{text!r} is not a time of day (HH:MM).") from None
                return moment if moment > local else (moment + dt.timedelta(days=1))
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                raise SettingsError(f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM).") from None
            return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
        amount, unit = settings.get("amount"), settings.get("unit", "minutes")
        if not isinstance(amount, int) or amount < 0 or unit not in UNITS or amount * UNITS[unit] > 60 * 24 * 365:
            raise SettingsError("wait a whole number of minutes, hours or days (at most a year), or until a time.")
        return start + dt.timedelta(minutes=amount * UNITS[unit])

    def run(self, ctx):
        activity = ctx.activity_run
        if ctx.test_mode and getattr(ctx.run, "skip_waits", False):
            # A test run that skips waits: go on now, saying until when a live run would wait.
            would = self.wake_time(ctx.node["settings"], ctx.workspace, timezone.now())
            local = f"{would.astimezone(ctx.workspace.zone):%Y-%m-%d %H:%M} ({ctx.workspace.time_zone})"
            activity.report = {"wait_skipped": True, "would_wake_at": would.isoformat(), "would_wake": local}
            ctx.log.append({"message": f"Test mode: the wait until {local} was skipped."})
            source = ctx.inputs[0]
            return {"out": Outlet(table=source.table, entity=source.entity, count=source.count)}
        if activity.wake_at is None or activity.wake_at > timezone.now():
            raise Sleep(activity.wake_at or self.wake_time(ctx.node["settings"], ctx.workspace, timezone.now()))
        source = ctx.inputs[0]
        return {"out": Outlet(table=source.table, entity=source.entity, count=source.count)}


@register
class SaveAudience(Activity):
    """Save the rows as a snapshot audience (replace, or append to it). A test run saves
    nothing and says what it would have saved."""

    type, label = "save_audience", "Save audience"

    def check(self, settings, input_entities, schema):
        name = settings.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise SettingsError("name the audience to save (1-200 characters).")
        if settings.get("mode", "replace") not in ("replace", "append"):
            raise SettingsError("mode is replace or append.")
        existing = Audience.objects.filter(workspace=schema.workspace, name=name.strip()).first()
        if existing is not None and (existing.origin != AudienceOrigin.SNAPSHOT
                                     or existing.entity.key != input_entities[0]):
            raise SettingsError(f"an audience named {name!r} exists and is not a snapshot of "
                                f"{input_entities[0]}: choose another name.")
        return {"out": input_entities[0]}

    def run(self, ctx):
        source = ctx.inputs[0]
        settings = ctx.node["settings"]
        name = settings["name"].strip()
        passthrough = {"out": Outlet(table=source.table, entity=source.entity, count=source.count)}
        if ctx.test_mode:
            ctx.activity_run.report = {"would_save": source.count, "audience": name, "saved": False}
            return passthrough
        entity = ctx.entity(source.entity)
        audience, created = Audience.objects.get_or_create(
            workspace=ctx.workspace, name=name,
            defaults={"entity": entity, "origin": AudienceOrigin.SNAPSHOT, "status": AudienceStatus.READY,
                      "definition": {"entity": entity.key, "campaign_run": ctx.run.pk}})
        table = audience_selectors.key_table(audience)
        if created or settings.get("mode", "replace") == "replace":
            ctx.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
            ctx.execute(sql.SQL("CREATE TABLE {} (key {} PRIMARY KEY)").format(table, ctx.key_type(entity.key)))
        ctx.execute(sql.SQL("INSERT INTO {} (key) SELECT key FROM {} ON CONFLICT DO NOTHING").format(
            table, ctx.ident(source.table)))
        size = ctx.scalar(sql.SQL("SELECT count(*) FROM {}").format(table))
        Audience.objects.filter(pk=audience.pk).update(size=size, last_evaluated_at=timezone.now(),
                                                       status=AudienceStatus.READY)
        audit_record(workspace=ctx.workspace, actor=None, verb="audience.saved_by_campaign", target=audience,
                     data={"run": ctx.run.pk, "size": size})
        ctx.activity_run.report = {"audience": name, "audience_id": audience.pk, "size": size, "saved": True}
        return passthrough
