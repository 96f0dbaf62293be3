from celery import shared_task

from . import services


@shared_task(name="apps.reports.tasks.rollups_compact", ignore_result=True)
def rollups_compact() -> int:
    return services.rollups_compact()


@shared_task(name="apps.reports.tasks.weekly_reports_send", ignore_result=True)
def weekly_reports_send() -> int:
    return services.weekly_reports_send()
