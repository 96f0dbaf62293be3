"""Deleting and archiving a workspace: the schema, every tenant row, the files and the
beat entries go; an archived workspace is read-only, its schedules paused."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django_celery_beat.models import PeriodicTask
from guardian.models import UserObjectPermission

from apps.campaigns import services as campaign_services
from apps.campaigns.services import launch_due, schedule_set
from apps.channels.models import Delivery, Message
from apps.consent.models import Topic
from apps.consent.services import consent_record
from apps.datamodel.models import Entity, IngestionJob
from apps.tenants import lifecycle
from apps.tenants.models import Workspace
from tests.campaigns.test_services import COMPLETE
from tests.factories import make_travel_model


def schema_exists(workspace_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", [f"ws_{workspace_id}"])
        return cursor.fetchone()[0]


def rows_referencing(workspace_id: int) -> dict[str, int]:
    found = {}
    for model, name in lifecycle.tenant_models():
        count = model._base_manager.filter(**{f"{name}_id": workspace_id}).count()
        if count:
            found[model._meta.label] = count
    count = UserObjectPermission.objects.filter(content_type__model="workspace", object_pk=str(workspace_id)).count()
    if count:
        found["guardian.UserObjectPermission"] = count
    return found


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def populate(workspace):
    """A workspace with everything: entity tables, a published scheduled campaign with a
    run, a delivery with messages and direct-mail files, an upload and its rejected rows,
    consent (whose states PROTECT their events and topics)."""
    make_travel_model(workspace)
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Daily", definition=COMPLETE)
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    campaign_services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    run = campaign_services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    pdf = default_storage.save(f"directmail/{workspace.pk}/letters.pdf", ContentFile(b"%PDF-1.7 letters"))
    manifest = default_storage.save(f"directmail/{workspace.pk}/manifest.csv", ContentFile(b"id,name\n"))
    delivery = Delivery.objects.create(workspace=workspace, channel="direct_mail", name="Letters", run=run,
                                       campaign=campaign, expires_at=run.created_at, status="done",
                                       files=[{"name": "letters.pdf", "path": pdf, "kind": "pdf", "letters": 1},
                                              {"name": "manifest.csv", "path": manifest, "kind": "manifest"}])
    Message.objects.create(workspace=workspace, delivery=delivery, profile_key="1", target_key="1", status="sent")
    job = IngestionJob(workspace=workspace, entity=Entity.objects.get(workspace=workspace, key="customer"))
    job.file.save("upload.csv", ContentFile(b"customer_id\n1\n"), save=False)
    job.rejected_file.save("rejected.csv", ContentFile(b"line,reason\n2,bad\n"), save=False)
    job.save()
    topic = Topic.objects.create(workspace=workspace, key="news", name="News", channel="email")
    consent_record(workspace=workspace, profile_key="1", topic=topic, granted=True, source="import")
    return {"campaign": campaign, "files": [pdf, manifest, job.file.name, job.rejected_file.name]}


def test_deleting_a_workspace_drops_its_schema_rows_files_and_beat_entries(
        workspace, other_workspace, alice, media, django_capture_on_commit_callbacks):
    mine = populate(workspace)
    theirs = populate(other_workspace)
    workspace_id = workspace.pk
    assert schema_exists(workspace_id) and all(default_storage.exists(f) for f in mine["files"])
    assert {"consent.ConsentState", "channels.Message", "campaigns.Run"} <= set(rows_referencing(workspace_id))
    other_rows = rows_referencing(other_workspace.pk)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        counts = lifecycle.workspace_delete(workspace=workspace, actor=None)
    # then
    assert counts["files"] == 4 and counts["channels.Message"] == 1 and counts["consent.ConsentState"] == 1
    assert rows_referencing(workspace_id) == {}
    assert not Workspace.objects.filter(pk=workspace_id).exists()
    assert not schema_exists(workspace_id)
    assert [f for f in mine["files"] if default_storage.exists(f)] == []
    assert not PeriodicTask.objects.filter(name=f"campaign:{mine['campaign'].pk}").exists()
    # the other workspace keeps everything
    assert rows_referencing(other_workspace.pk) == other_rows
    assert schema_exists(other_workspace.pk) and all(default_storage.exists(f) for f in theirs["files"])
    assert PeriodicTask.objects.filter(name=f"campaign:{theirs['campaign'].pk}", enabled=True).exists()


def test_the_admin_deletes_a_workspace_through_the_service(workspace, admin_client, media,
                                                            django_capture_on_commit_callbacks):
    populate(workspace)
    url = f"/admin/tenants/workspace/{workspace.pk}/delete/"
    assert admin_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert rows_referencing(workspace.pk) == {} and not schema_exists(workspace.pk)


def test_an_archived_workspace_is_read_only_with_schedules_paused_until_restored(
        workspace, alice, client_for, media):
    from apps.campaigns.models import Run

    make_travel_model(workspace)
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Daily", definition=COMPLETE)
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    campaign_services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    task = PeriodicTask.objects.get(name=f"campaign:{campaign.pk}")
    assert task.enabled is True
    # when
    lifecycle.workspace_archive(workspace=workspace, actor=alice)
    # then
    task.refresh_from_db()
    assert task.enabled is False
    import datetime as dt
    from zoneinfo import ZoneInfo

    assert launch_due(campaign_id=campaign.pk, now=dt.datetime(2026, 12, 1, 9, 1, tzinfo=ZoneInfo("UTC"))) is None
    assert Run.objects.filter(campaign=campaign).count() == 0
    client = client_for(alice)
    page = client.post(f"/w/{workspace.slug}/campaigns/{campaign.pk}/lifecycle/", {"action": "pause"})
    assert page.status_code == 403 and b"archived" in page.content
    api = client.post(f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/pause/")
    assert api.status_code == 403 and "archived" in api.json()["detail"]
    assert client.get(f"/w/{workspace.slug}/campaigns/{campaign.pk}/").status_code == 200  # still readable
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    # restored
    lifecycle.workspace_restore(workspace=workspace, actor=alice)
    task.refresh_from_db()
    assert task.enabled is True
    assert client.post(f"/w/{workspace.slug}/campaigns/{campaign.pk}/lifecycle/", {"action": "pause"}).status_code == 302


def test_the_benchmarks_scratch_workspace_is_deleted_with_its_consent_rows(db, media):
    from bench.common import scratch_workspace

    with scratch_workspace("bench-test") as workspace:
        make_travel_model(workspace)
        topic = Topic.objects.create(workspace=workspace, key="news", name="News", channel="email")
        consent_record(workspace=workspace, profile_key="1", topic=topic, granted=True, source="import")
        workspace_id, organization_id = workspace.pk, workspace.organization_id
    # (before: Workspace.delete() raised ProtectedError here, so bench exclusions exited 1)
    assert rows_referencing(workspace_id) == {} and not schema_exists(workspace_id)
    assert not Workspace.objects.filter(organization_id=organization_id).exists()


def test_the_admin_archives_and_restores_workspaces_with_the_service(workspace, admin_client):
    changelist = "/admin/tenants/workspace/"
    admin_client.post(changelist, {"action": "archive_workspaces", "_selected_action": [workspace.pk]})
    workspace.refresh_from_db()
    assert workspace.archived_at is not None
    response = admin_client.post(changelist, {"action": "archive_workspaces", "_selected_action": [workspace.pk]},
                                 follow=True)
    assert f"{workspace.name}: The workspace {workspace.name} is already archived." in response.content.decode()
    admin_client.post(changelist, {"action": "restore_workspaces", "_selected_action": [workspace.pk]})
    workspace.refresh_from_db()
    assert workspace.archived_at is None
