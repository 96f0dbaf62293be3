from celery import shared_task


@shared_task(name="apps.channels.tasks.send_delivery", acks_late=True)
def send_delivery(delivery_id: int) -> dict:
    """Thin: claim and send chunks for up to a minute, then hand over to a fresh task
    when work is left (the ledger decides; a duplicate finds nothing to claim)."""
    from .models import Delivery, DeliveryStatus
    from .sending import DISPATCH, send_some

    totals = send_some(delivery_id)
    if sum(totals.values()) and Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).exists():
        DISPATCH(delivery_id)  # more may be due: go on in a new task
    return totals


@shared_task(name="apps.channels.tasks.sweep_deliveries")
def sweep_deliveries() -> dict:
    """Every 5 s: expire ended windows, finish deliveries, re-dispatch lost or orphaned work."""
    from .sending import sweep

    return sweep()
