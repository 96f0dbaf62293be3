"""When campaigns run: once at a time, or recurring (daily, several times a day, weekly,
monthly, or a cron expression), within an optional validity period, in the workspace's
time zone. Date logic only (no database): a spec is checked and read here; the schedule
row is `models.CampaignSchedule`, and its writes (the django-celery-beat entry, the
launch of a due run) are in `services.schedules` and `services.beat`.

A launch time that does not exist on a daylight-saving day runs at the first minute that
does; `launch_slot` says which launch time a beat call belongs to, the key of its run."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import ParseException, crontab_parser
from django.core.exceptions import ValidationError
from django.utils import timezone

DEFAULT_GRACE = dt.timedelta(minutes=30)
MIN_RECURRENCE = dt.timedelta(minutes=15)  # as Adobe: recurring no more often than every 15 minutes
KINDS = ("once", "daily", "several", "weekly", "monthly", "cron")


@dataclass
class Spec:
    kind: str
    zone: ZoneInfo
    at: dt.datetime | None = None  # once
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    days_of_month: tuple[int, ...] = tuple(range(1, 32))
    months: tuple[int, ...] = tuple(range(1, 13))
    days_of_week: tuple[int, ...] = tuple(range(7))  # 0 = Sunday, as cron
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    cron: str = ""

    def crontab_fields(self) -> dict[str, str]:
        join = lambda values: ",".join(str(v) for v in values)  # noqa: E731
        return {"minute": join(self.minutes), "hour": join(self.hours), "day_of_month": join(self.days_of_month),
                "month_of_year": join(self.months), "day_of_week": join(self.days_of_week)}


def _times(values: Any) -> list[tuple[int, int]]:
    if not isinstance(values, list) or not values:
        raise ValidationError("give at least one time of day, as HH:MM.")
    out = []
    for value in values:
        try:
            hour, minute = (int(p) for p in str(value).split(":"))
            assert 0 <= hour < 24 and 0 <= minute < 60
        except (ValueError, AssertionError):
            raise ValidationError(f"{value!r} is not a time of day (HH:MM).") from None
        out.append((hour, minute))
    return sorted(set(out))


def _moment(value: Any, zone: ZoneInfo, what: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{what}: {value!r} is not a date and time (YYYY-MM-DDTHH:MM).") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def parse_spec(spec: Any, time_zone: str) -> Spec:
    """Check a schedule spec:
    {"kind": "once", "at": "2026-12-01T09:00"}
    {"kind": "daily", "times": ["09:00"]}; {"kind": "several", "times": ["09:00", "13:30", "18:00"]}
    {"kind": "weekly", "weekdays": [1, 3], "times": ["08:00"]}   (0 = Sunday ... 6 = Saturday)
    {"kind": "monthly", "days": [1, 15], "times": ["07:00"]}
    {"kind": "cron", "cron": "*/30 8-18 * * 1-5"}
    plus optional "valid_from" / "valid_until"; times are wall-clock in the workspace zone."""
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        raise ValidationError(f"a schedule's kind is one of {', '.join(KINDS)}.")
    zone = ZoneInfo(time_zone)
    kind = spec["kind"]
    result = Spec(kind=kind, zone=zone, valid_from=_moment(spec.get("valid_from"), zone, "valid_from"),
                  valid_until=_moment(spec.get("valid_until"), zone, "valid_until"))
    if result.valid_from and result.valid_until and result.valid_until <= result.valid_from:
        raise ValidationError("valid_until must come after valid_from.")
    if kind == "once":
        result.at = _moment(spec.get("at"), zone, "at")
        if result.at is None:
            raise ValidationError("a one-off schedule needs 'at'.")
        return result
    if kind == "cron":
        expression = str(spec.get("cron") or "").split()
        if len(expression) != 5:
            raise ValidationError("a cron expression has 5 fields: minute hour day-of-month month day-of-week.")
        try:
            result.minutes = tuple(sorted(crontab_parser(60).parse(expression[0])))
            result.hours = tuple(sorted(crontab_parser(24).parse(expression[1])))
            result.days_of_month = tuple(sorted(crontab_parser(31, 1).parse(expression[2])))
            result.months = tuple(sorted(crontab_parser(12, 1).parse(expression[3])))
            result.days_of_week = tuple(sorted(d % 7 for d in crontab_parser(7).parse(expression[4])))
        except (ParseException, ValueError) as exc:
            raise ValidationError(f"the cron expression is not valid: {exc}.") from None
        result.cron = " ".join(expression)
    else:
        times = _times(spec.get("times"))
        if kind == "daily" and len(times) != 1:
            raise ValidationError("a daily schedule has one time; use 'several' for more.")
        result.hours = tuple(sorted({h for h, _ in times}))
        result.minutes = tuple(sorted({m for _, m in times}))
        if len(times) != len(result.hours) * len(result.minutes):
            # Cron can only say hours x minutes; times like 09:00 and 13:30 need both minute sets,
            # which would add 09:30 and 13:00: refuse rather than run at unasked times.
            raise ValidationError("these times cannot share one schedule; give times with the same minutes "
                                  "(e.g. 09:00, 13:00, 18:00) or use a cron expression.")
        if kind == "weekly":
            days = spec.get("weekdays")
            if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
                raise ValidationError("a weekly schedule needs weekdays from 0 (Sunday) to 6 (Saturday).")
            result.days_of_week = tuple(sorted(set(days)))
        if kind == "monthly":
            days = spec.get("days")
            if not isinstance(days, list) or not days or not all(isinstance(d, int) and 1 <= d <= 31 for d in days):
                raise ValidationError("a monthly schedule needs days of the month from 1 to 31.")
            result.days_of_month = tuple(sorted(set(days)))
    launches = next_launches(result, after=timezone.now(), count=3)
    if len(launches) >= 2 and min(b - a for a, b in zip(launches, launches[1:], strict=False)) < MIN_RECURRENCE:
        raise ValidationError("a recurring campaign runs at most every 15 minutes.")
    return result


def next_launches(spec: Spec, *, after: dt.datetime, count: int = 10) -> list[dt.datetime]:
    """The next launch times (aware, in the workspace zone), daylight-saving included: a
    wall-clock time that does not exist that day (spring forward) runs at the first
    minute that does; one that exists twice (fall back) runs once, the first time."""
    if spec.kind == "once":
        return [spec.at] if spec.at and spec.at > after and _valid(spec, spec.at) else []
    found: list[dt.datetime] = []
    seen: set[dt.datetime] = set()
    earliest = after.astimezone(spec.zone).replace(tzinfo=None) - dt.timedelta(hours=GAP_HOURS)
    day = max(after, spec.valid_from or after).astimezone(spec.zone).date()
    # Stepping from the first day that can hold one: the cost is the days looked at (at
    # most three years of a sparse schedule) plus the times of the days that match, never
    # every launch since the schedule began.
    for _ in range(SEARCH_DAYS):
        if spec.valid_until and dt.datetime.combine(day, dt.time(0), spec.zone) > spec.valid_until:
            break
        if _matches(spec, day):
            for hour, minute in _times_up_from(spec, day, earliest):
                moment = _wall_clock(day, hour, minute, spec.zone)
                if moment > after and _valid(spec, moment) and moment not in seen:
                    seen.add(moment)
                    found.append(moment)
                    if len(found) == count:
                        return found
        day += dt.timedelta(days=1)
    return found


def previous_launch(spec: Spec, *, at_or_before: dt.datetime) -> dt.datetime | None:
    """The latest launch time not after `at_or_before`: stepping back day by day from it,
    the times of a day latest first (as cheap as `next_launches`)."""
    if spec.kind == "once":
        return spec.at if spec.at and spec.at <= at_or_before and _valid(spec, spec.at) else None
    end = min(at_or_before, spec.valid_until) if spec.valid_until else at_or_before
    if spec.valid_from and end < spec.valid_from:
        return None
    day = end.astimezone(spec.zone).date()
    for _ in range(SEARCH_DAYS):
        if spec.valid_from and dt.datetime.combine(day, dt.time(0), spec.zone) + dt.timedelta(days=2) < (
                spec.valid_from):
            return None
        if _matches(spec, day):
            best = _latest_of_day(spec, day, end)
            if best is not None:
                return best
        day -= dt.timedelta(days=1)
    return None


def _latest_of_day(spec: Spec, day: dt.date, end: dt.datetime) -> dt.datetime | None:
    """The day's latest launch time not after `end`, its times tried latest first from
    the last one that can be before `end`. On a daylight-saving day a time in the spring
    gap moves forward (02:30 runs at 03:30) and can pass a later time of the same day:
    there times are compared until they are well before the best one found."""
    shifting = _shifts(day, spec.zone)
    latest = end.astimezone(spec.zone).replace(tzinfo=None) + dt.timedelta(hours=GAP_HOURS if shifting else 0)
    best = None
    for hour, minute in _times_down_from(spec, day, latest):
        if best is not None and (not shifting or (hour, minute) < (best.hour - GAP_HOURS, best.minute)):
            return best
        moment = _wall_clock(day, hour, minute, spec.zone)
        if moment <= end and _valid(spec, moment) and (best is None or moment > best):
            best = moment
    return best


def _times_down_from(spec: Spec, day: dt.date, latest: dt.datetime):
    """The (hour, minute) launch times of `day` not after the wall-clock `latest`, latest first."""
    if day > latest.date():
        return
    top = (latest.hour, latest.minute) if day == latest.date() else (23, 59)
    for hour in reversed(spec.hours[:bisect.bisect_right(spec.hours, top[0])]):
        minutes = spec.minutes if hour < top[0] else spec.minutes[:bisect.bisect_right(spec.minutes, top[1])]
        for minute in reversed(minutes):
            yield hour, minute


def _times_up_from(spec: Spec, day: dt.date, earliest: dt.datetime):
    """The (hour, minute) launch times of `day` not before the wall-clock `earliest`, earliest first."""
    if day < earliest.date():
        return
    bottom = (earliest.hour, earliest.minute) if day == earliest.date() else (0, 0)
    for hour in spec.hours[bisect.bisect_left(spec.hours, bottom[0]):]:
        minutes = spec.minutes if hour > bottom[0] else spec.minutes[bisect.bisect_left(spec.minutes, bottom[1]):]
        for minute in minutes:
            yield hour, minute


def _shifts(day: dt.date, zone: ZoneInfo) -> bool:
    """Whether the zone's offset changes during `day` (a daylight-saving day)."""
    start = dt.datetime.combine(day, dt.time(0), zone)
    return start.utcoffset() != (start + dt.timedelta(days=1)).utcoffset()


GAP_HOURS = 3  # longer than any daylight-saving jump
SEARCH_DAYS = 3 * 366  # the farthest a schedule's next (or last) launch is looked for


def _matches(spec: Spec, day: dt.date) -> bool:
    weekday = (day.weekday() + 1) % 7  # cron counts from Sunday
    return day.day in spec.days_of_month and day.month in spec.months and weekday in spec.days_of_week


def _wall_clock(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    naive = dt.datetime.combine(day, dt.time(hour, minute))
    moment = naive.replace(tzinfo=zone, fold=0)
    # A gap (spring forward): the round trip through UTC moves it; run at the gap's end.
    round_trip = moment.astimezone(dt.UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != naive:
        return round_trip
    return moment


def _valid(spec: Spec, moment: dt.datetime) -> bool:
    return (spec.valid_from is None or moment >= spec.valid_from) and (
        spec.valid_until is None or moment <= spec.valid_until)


def describe(spec: Spec) -> str:
    if spec.kind == "once":
        return f"once, {spec.at:%Y-%m-%d %H:%M} ({spec.zone.key})"
    if spec.kind == "cron":
        return f"cron '{spec.cron}' ({spec.zone.key})"
    times = ", ".join(f"{h:02d}:{m:02d}" for h in spec.hours for m in spec.minutes)
    if spec.kind == "weekly":
        names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        return f"weekly on {', '.join(names[d] for d in spec.days_of_week)} at {times} ({spec.zone.key})"
    if spec.kind == "monthly":
        return f"monthly on day {', '.join(map(str, spec.days_of_month))} at {times} ({spec.zone.key})"
    return f"daily at {times} ({spec.zone.key})"


def launch_slot(spec: Spec, now: dt.datetime) -> dt.datetime | None:
    """The launch time a beat call at `now` belongs to: the latest one not after now."""
    return previous_launch(spec, at_or_before=now)
