from celery import shared_task


@shared_task(name="apps.campaigns.tasks.execute_activity", acks_late=True)
def execute_activity(activity_run_id: int) -> str | None:
    """Thin: the executor claims the activity (a duplicate finds it claimed and returns)."""
    from .executor import activity_execute

    activity = activity_execute(activity_run_id=activity_run_id)
    return activity.status if activity else None
