"""A workspace's end: archiving (read-only, schedules paused, nothing sent; restorable)
and deleting (its schema dropped, every tenant row deleted, its files removed).

Tenants is the lowest layer: it cannot know campaigns or channels. The higher apps
register what they must do in their AppConfig.ready() (campaigns: beat entries;
channels: pausing deliveries and the files they wrote). Every row that carries the
workspace is found from the models' metadata, so a new model is covered without
touching this file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, default_storage
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg import sql

from apps.core.sqlutil import workspace_schema

from .models import Workspace

logger = logging.getLogger(__name__)

# (workspace) -> None: called inside the deleting transaction before any row goes
# (campaigns removes its beat entries).
BEFORE_DELETE: list[Callable[[Workspace], None]] = []
# (workspace) -> [(storage, name)]: files that are not in a FileField (channels: the
# direct-mail PDFs and manifests a delivery lists).
FILE_PROVIDERS: list[Callable[[Workspace], list[tuple[Storage, str]]]] = []
# (workspace, archived) -> None: called when a workspace is archived (True) or restored
# (False), inside that transaction (campaigns: beat entries; channels: deliveries).
ARCHIVE_HOOKS: list[Callable[[Workspace, bool], None]] = []


def tenant_models() -> list[tuple[type[models.Model], str]]:
    """Every model with a foreign key to Workspace, and that field's name."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            if (getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False)) and (
                    field.concrete and field.related_model is Workspace):
                found.append((model, field.name))
    return found


def workspace_files(workspace: Workspace) -> list[tuple[Storage, str]]:
    """Every stored file of the workspace: FileFields of its rows (uploads, rejected
    rows) and what the providers list (direct-mail PDFs and manifests)."""
    files: list[tuple[Storage, str]] = []
    for model, name in tenant_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                names = (model._base_manager.filter(**{name: workspace}).exclude(**{field.name: ""})
                         .values_list(field.name, flat=True))
                files.extend((field.storage, n) for n in names if n)
    for provider in FILE_PROVIDERS:
        files.extend(provider(workspace))
    return files


def workspace_archive(*, workspace: Workspace, actor: Any) -> Workspace:
    """Read-only from now on: pages and the API refuse changes, schedules are paused and
    deliveries hold their queued messages (restoring releases them)."""
    from .services import audit_record  # noqa: PLC0415

    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if locked.archived_at is not None:
            raise ValidationError(f"The workspace {locked.name} is already archived.")
        locked.archived_at = timezone.now()
        locked.save(update_fields=["archived_at"])
        for hook in ARCHIVE_HOOKS:
            hook(locked, True)
        audit_record(workspace=locked, actor=actor, verb="workspace.archived", target=locked)
    workspace.archived_at = locked.archived_at
    return locked


def workspace_restore(*, workspace: Workspace, actor: Any) -> Workspace:
    """Undo an archive: writable again, schedules and held deliveries go on."""
    from .services import audit_record  # noqa: PLC0415

    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if locked.archived_at is None:
            raise ValidationError(f"The workspace {locked.name} is not archived.")
        locked.archived_at = None
        locked.save(update_fields=["archived_at"])
        for hook in ARCHIVE_HOOKS:
            hook(locked, False)
        audit_record(workspace=locked, actor=actor, verb="workspace.restored", target=locked)
    workspace.archived_at = None
    return locked


def workspace_delete(*, workspace: Workspace, actor: Any = None) -> dict[str, int]:
    """Delete a workspace for good: its schema (entity tables, working tables) is dropped,
    every row of every model that carries it is deleted, its object permissions go, and
    once that has committed its files are removed. Returns the rows deleted per model
    (and "files").

    Rows are deleted with one statement per model and no per-row signals: the ledger
    can hold millions of messages, and a PROTECT between two tenant models (a consent
    state protecting its event) only guards against deleting one without the other.
    Django's foreign keys are deferred; they are checked before the end of the
    transaction, so a row of another workspace pointing here would abort the delete."""
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        files = workspace_files(locked)
        for hook in BEFORE_DELETE:
            hook(locked)
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(workspace_schema(locked.pk))).as_string(cursor.connection))
        counts: dict[str, int] = {}
        for model, name in tenant_models():
            deleted = model._base_manager.filter(**{name: locked.pk})._raw_delete(connection.alias)
            if deleted:
                counts[model._meta.label] = deleted
        counts.update(_object_permissions_delete(locked))
        Workspace._base_manager.filter(pk=locked.pk)._raw_delete(connection.alias)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a dangling reference fails here, not at commit
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        counts["files"] = len(files)
        transaction.on_commit(lambda: _files_delete(files))
    # Its audit trail went with it: the log keeps who deleted what.
    logger.warning("workspace %s (%s) deleted by %s: %s", workspace.pk, workspace.slug, actor, counts)
    return counts


def _object_permissions_delete(workspace: Workspace) -> dict[str, int]:
    """django-guardian's rows name the workspace by content type and text id, not by key."""
    from guardian.models import GroupObjectPermission, UserObjectPermission  # noqa: PLC0415

    content_type = ContentType.objects.get_for_model(Workspace)
    counts = {}
    for model in (UserObjectPermission, GroupObjectPermission):
        deleted, _ = model.objects.filter(content_type=content_type, object_pk=str(workspace.pk)).delete()
        if deleted:
            counts[model._meta.label] = deleted
    return counts


def _files_delete(files: list[tuple[Storage, str]]) -> None:
    for storage, name in files:
        (storage or default_storage).delete(name)
