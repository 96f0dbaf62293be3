"""The four-eyes rule moves from the consent policy onto the workspace
(tenants.Workspace.four_eyes): campaigns reads it there without importing consent."""

from django.db import migrations


def to_workspace(apps, schema_editor):
    WorkspacePolicy = apps.get_model("consent", "WorkspacePolicy")
    Workspace = apps.get_model("tenants", "Workspace")
    Workspace.objects.filter(pk__in=WorkspacePolicy.objects.filter(four_eyes=True).values("workspace_id")).update(
        four_eyes=True)


def to_policy(apps, schema_editor):
    WorkspacePolicy = apps.get_model("consent", "WorkspacePolicy")
    Workspace = apps.get_model("tenants", "Workspace")
    for workspace_id in Workspace.objects.filter(four_eyes=True).values_list("pk", flat=True):
        WorkspacePolicy.objects.update_or_create(workspace_id=workspace_id, defaults={"four_eyes": True})


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0002_inbound_sms_rotation"),
        ("tenants", "0005_workspace_four_eyes"),
    ]

    operations = [
        migrations.RunPython(to_workspace, to_policy),
        migrations.RemoveField(model_name="workspacepolicy", name="four_eyes"),
    ]
