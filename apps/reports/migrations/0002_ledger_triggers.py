"""The ledger's triggers that keep the rollups (see apps/reports/models.py), the fold
function, the read views, and the counts of what was there before (backfill)."""

from django.db import migrations

from apps.reports import rollup_sql


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0001_initial"),
        ("channels", "0009_channelconfig_signing_secret"),
    ]

    operations = [
        migrations.RunSQL(rollup_sql.INSTALL, rollup_sql.UNINSTALL),
        migrations.RunSQL(rollup_sql.BACKFILL, migrations.RunSQL.noop),
    ]
