"""Isolation probes for the direct-mail file screens (see probes.py for what a probe
says). A probe delivery is made as rows with one small file in storage: the screens only
list and serve what a delivery's `files` names."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.channels.models import Delivery
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))


def _direct_mail(ws: Workspace) -> dict[str, Any]:
    delivery = Delivery.objects.create(workspace=ws, channel="direct_mail", name=f"Probe letters {next(_counter)}",
                                       status="done", expires_at=timezone.now() + dt.timedelta(hours=12))
    name = f"dm-{delivery.pk}-1.pdf"
    path = f"directmail/{ws.pk}/{delivery.pk}/{name}"
    if default_storage.exists(path):
        default_storage.delete(path)
    path = default_storage.save(path, ContentFile(b"%PDF-1.4 probe\n"))
    delivery.files = [{"name": name, "path": path, "kind": "letters", "letters": 1, "pages": 1, "size": 15}]
    delivery.save(update_fields=["files"])
    return {"pk": delivery.pk}


def _direct_mail_file(ws: Workspace) -> dict[str, Any]:
    kwargs = _direct_mail(ws)
    return {**kwargs, "name": f"dm-{kwargs['pk']}-1.pdf"}


PROBES: list[Probe] = [
    # Letters hold names and addresses: marketers and above, not viewers.
    Probe("chan-dm-files", {"GET": "marketer"}, make=_direct_mail),
    Probe("chan-dm-file", {"GET": "marketer"}, make=_direct_mail_file),
]


# --- deliveries (the ledger's screens) ---


def _email_delivery(ws: Workspace) -> dict[str, Any]:
    """A sending email delivery with queued, sent and excluded messages (a stop cancels)."""
    from tests.channels.delivery_rows import make_delivery

    delivery = make_delivery(ws, name=f"Probe delivery {next(_counter)}",
                             statuses={"queued": 2, "sent": 1, "excluded:no_address": 1})
    return {"pk": delivery.pk}


PROBES += [
    Probe("chan-delivery-list", {"GET": "viewer"}),
    Probe("chan-delivery", {"GET": "viewer"}, make=_email_delivery),
    Probe("chan-delivery-status", {"GET": "viewer"}, make=_email_delivery),
    # Stopping a send is an approver's call, as stopping a campaign is.
    Probe("chan-delivery-stop", {"POST": "approver"}, make=_email_delivery),
]
