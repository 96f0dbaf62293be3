"""The schedule section of a campaign's page: the schedule in words, its next 10 launch
times in the workspace's zone, and a form to set or remove it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.tenants.decorators import can_approve, workspace_view

from ..models import CampaignSchedule, CampaignStatus
from ..scheduling import KINDS, describe, next_launches, parse_spec
from ..selectors import access_campaign
from ..services import schedule_remove, schedule_set

WEEKDAYS = [(0, "Sun"), (1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat")]


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k.capitalize()) for k in KINDS])
    at = forms.CharField(required=False, label="Once at", help_text="YYYY-MM-DDTHH:MM",
                         widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    times = forms.CharField(required=False, label="Times of day", help_text="e.g. 09:00 or 09:00, 13:00, 18:00")
    weekdays = forms.MultipleChoiceField(required=False, choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple)
    days = forms.CharField(required=False, label="Days of the month", help_text="e.g. 1, 15")
    cron = forms.CharField(required=False, help_text="minute hour day-of-month month day-of-week")
    valid_from = forms.CharField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    valid_until = forms.CharField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def spec(self) -> dict:
        data = self.cleaned_data
        spec: dict = {"kind": data["kind"]}
        if data["kind"] == "once":
            spec["at"] = data["at"]
        elif data["kind"] == "cron":
            spec["cron"] = data["cron"]
        else:
            spec["times"] = [t.strip() for t in data["times"].split(",") if t.strip()]
        if data["kind"] == "weekly":
            spec["weekdays"] = [int(d) for d in data["weekdays"]]
        if data["kind"] == "monthly":
            try:
                spec["days"] = [int(d) for d in data["days"].split(",") if d.strip()]
            except ValueError:
                raise ValidationError("Days of the month are numbers, e.g. 1, 15.") from None
        for name in ("valid_from", "valid_until"):
            if data[name]:
                spec[name] = data[name]
        return spec


def schedule_context(campaign, *, form: ScheduleForm | None = None) -> dict:
    """`form`: a refused form, kept as typed (its kind above all) instead of the saved one."""
    schedule = CampaignSchedule.objects.filter(campaign=campaign).first()
    if schedule is None:
        return {"schedule": None, "schedule_form": form or ScheduleForm(initial={"kind": "daily", "times": "09:00"})}
    spec = parse_spec(schedule.spec, campaign.workspace.time_zone)
    initial = {"kind": spec.kind, "at": schedule.spec.get("at", ""), "cron": spec.cron,
               "times": ", ".join(schedule.spec.get("times", [])), "weekdays": schedule.spec.get("weekdays", []),
               "days": ", ".join(str(d) for d in schedule.spec.get("days", [])),
               "valid_from": schedule.spec.get("valid_from", ""), "valid_until": schedule.spec.get("valid_until", "")}
    return {"schedule": {"description": describe(spec), "grace": schedule.grace_minutes,
                         "launches": next_launches(spec, after=timezone.now(), count=10)},
            "schedule_form": form or ScheduleForm(initial=initial)}


@require_POST
@workspace_view(write_role="marketer")
def campaign_schedule(request, workspace_slug, pk):
    """Set (or with remove=1, remove) the schedule; a published campaign's is the approver's."""
    campaign = access_campaign(request.user, request.workspace, pk)
    if campaign.status != CampaignStatus.DRAFT and not can_approve(request):
        raise PermissionDenied("Changing a published campaign's schedule needs the approver role.")
    if request.POST.get("remove"):
        schedule_remove(campaign=campaign)
        messages.success(request, "The schedule was removed.")
    else:
        form = ScheduleForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError("Check the schedule's fields.")
            schedule_set(campaign=campaign, spec=form.spec())
        except ValidationError as exc:
            messages.error(request, "Schedule not saved: " + " ".join(exc.messages))
            # The page again, with the form as typed: the kind and its fields are kept.
            from .editor import detail_page  # noqa: PLC0415

            return detail_page(request, campaign, schedule_form=form, status=422)
        else:
            messages.success(request, "Schedule saved." + (
                " It takes effect when the campaign is published." if campaign.status == CampaignStatus.DRAFT
                else " Its beat entry is updated."))
    return redirect("camp-detail", workspace_slug=workspace_slug, pk=pk)
