from celery import shared_task


@shared_task(name="apps.audiences.tasks.build_snapshot", acks_late=True)
def build_snapshot(audience_id: int) -> str | None:
    from .services import snapshot_build

    audience = snapshot_build(audience_id=audience_id)
    return audience.status if audience else None
