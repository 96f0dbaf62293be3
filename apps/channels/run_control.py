"""What a campaign's run control means for its deliveries (registered with campaigns
and tenants in ChannelsConfig.ready()): stopping a run cancels its queued messages,
pausing a campaign holds them, resuming releases them; a run is not finished while a
delivery of it still sends or is held; deleting a workspace removes the files its
deliveries wrote; archiving one holds its deliveries."""

from __future__ import annotations

from django.core.files.storage import Storage, default_storage
from django.db.models import Count, Q

from . import services
from .models import Delivery, DeliveryStatus, Message

OPEN = [DeliveryStatus.SENDING, DeliveryStatus.PAUSED]
WAITING = ["queued", "deferred"]


class DeliveryRunListener:
    """campaigns.hooks.RunListener for deliveries."""

    def stop(self, run) -> int:
        return sum(services.delivery_stop(workspace=run.workspace, delivery=d)
                   for d in Delivery.objects.filter(run=run, status__in=OPEN))

    def pause(self, run) -> int:
        return sum(services.delivery_pause(workspace=run.workspace, delivery=d)
                   for d in Delivery.objects.filter(run=run, status=DeliveryStatus.SENDING))

    def resume(self, run) -> int:
        return sum(services.delivery_resume(workspace=run.workspace, delivery=d)
                   for d in Delivery.objects.filter(run=run, status=DeliveryStatus.PAUSED))

    def pending(self, run) -> bool:
        return Delivery.objects.filter(run=run, status__in=OPEN).exists()

    def summary(self, run_ids: list[int]) -> dict[str, int]:
        """Messages cancelled by a stop and messages held by a pause, over these runs."""
        deliveries = list(Delivery.objects.filter(run_id__in=run_ids).values_list("pk", "status"))
        if not deliveries:
            return {"cancelled": 0, "held": 0}
        paused = [pk for pk, status in deliveries if status == DeliveryStatus.PAUSED]
        counts = Message.objects.filter(delivery_id__in=[pk for pk, _ in deliveries]).aggregate(
            cancelled=Count("id", filter=Q(status="cancelled", reason="stopped")),
            held=Count("id", filter=Q(delivery_id__in=paused or [0], status__in=WAITING)))
        return {"cancelled": counts["cancelled"], "held": counts["held"]}


def delivery_files(workspace) -> list[tuple[Storage, str]]:
    """The direct-mail PDFs and manifests the workspace's deliveries list."""
    files = []
    for entries in Delivery.objects.filter(workspace=workspace).exclude(files=[]).values_list("files", flat=True):
        files.extend((default_storage, e["path"]) for e in entries or [] if isinstance(e, dict) and e.get("path"))
    return files


def workspace_archived(workspace, archived: bool) -> None:
    """Archiving holds every sending delivery of the workspace; restoring releases them."""
    if archived:
        for delivery in Delivery.objects.filter(workspace=workspace, status=DeliveryStatus.SENDING):
            services.delivery_pause(workspace=workspace, delivery=delivery)
        return
    for delivery in Delivery.objects.filter(workspace=workspace, status=DeliveryStatus.PAUSED).select_related(
            "campaign"):
        if delivery.campaign is None or delivery.campaign.status != "paused":
            services.delivery_resume(workspace=workspace, delivery=delivery)


def run_settled(delivery: Delivery) -> None:
    """A delivery of a run finished: the run may be finished now."""
    if delivery.run_id:
        from apps.campaigns.executor import run_settle  # noqa: PLC0415

        run_settle(run_id=delivery.run_id)
