from celery import shared_task


@shared_task(name="apps.campaigns.tasks.execute_activity", acks_late=True)
def execute_activity(activity_run_id: int) -> str | None:
    """Thin: the executor claims the activity (a duplicate finds it claimed and returns)."""
    from .executor import activity_execute

    activity = activity_execute(activity_run_id=activity_run_id)
    return activity.status if activity else None


@shared_task(name="apps.campaigns.tasks.launch_scheduled")
def launch_scheduled(campaign_id: int) -> int | None:
    """Called by beat at a campaign's launch times; a double call finds the run there."""
    from .services import launch_due

    run = launch_due(campaign_id=campaign_id)
    return run.pk if run else None


@shared_task(name="apps.campaigns.tasks.purge_working_tables")
def purge_working_tables() -> int:
    """Drop the working tables of runs older than their workspace's retention."""
    import datetime as dt

    from django.utils import timezone

    from apps.tenants.models import Workspace

    from .executor import run_tables_purge
    from .models import Run

    purged = 0
    for workspace in Workspace.objects.all():
        cutoff = timezone.now() - dt.timedelta(days=workspace.working_tables_days)
        runs = Run.objects.filter(workspace=workspace, tables_purged_at__isnull=True, finished_at__lt=cutoff)
        # A delivery still sending reads its enrichment from the run's working tables.
        for run in runs.exclude(deliveries__status="sending"):
            purged += run_tables_purge(run=run)
    return purged


@shared_task(name="apps.campaigns.tasks.wake_timers")
def wake_timers() -> int:
    """Every 30 s: queue the Wait activities whose time has come, dispatch again the
    activities whose worker died or whose task was lost, finish the runs whose deliveries
    ended, and complete the campaigns whose schedule ran out."""
    from .completion import campaigns_complete_due
    from .executor import runs_settle, stale_redispatch, timers_wake

    return timers_wake() + stale_redispatch() + runs_settle() + campaigns_complete_due()
