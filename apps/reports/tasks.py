from celery import shared_task

from . import services


@shared_task(name="apps.reports.tasks.rollups_compact", ignore_result=True)
def rollups_compact() -> int:
    return services.rollups_compact()
