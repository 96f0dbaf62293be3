"""The delta table is a queue (filled by the ledger's triggers, emptied every minute by
the compaction): autovacuum and autoanalyze it after a fixed number of changed rows, not a
fraction of its (momentary) size, so reads by workspace do not scan dead rows."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0005_sms_segments"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE reports_rollupdelta SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 10000, autovacuum_analyze_scale_factor = 0, "
            "autovacuum_analyze_threshold = 10000)",
            "ALTER TABLE reports_rollupdelta RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
            "autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"),
    ]
