from celery import shared_task


@shared_task(name="apps.datamodel.tasks.run_ingestion_job", acks_late=True)
def run_ingestion_job(job_id: int) -> str | None:
    from .ingestion.services import ingestion_job_run

    job = ingestion_job_run(job_id=job_id)
    return job.status if job else None
