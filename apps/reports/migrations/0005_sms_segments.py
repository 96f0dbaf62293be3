"""The message row trigger counts a sent SMS's segments too (metric "segments"), for the
reports' SMS cost."""

from django.db import migrations

from apps.reports import rollup_sql


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0004_message_row_trigger"),
        ("channels", "0012_message_segments"),
    ]

    operations = [
        migrations.RunSQL(rollup_sql.MESSAGE_ROW_FUNCTION_SEGMENTS, rollup_sql.MESSAGE_ROW_FUNCTION),
    ]
