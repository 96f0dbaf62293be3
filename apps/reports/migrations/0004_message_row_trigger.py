"""The message ledger's trigger becomes a row trigger with a WHEN condition: sending
updates one message per statement (its result), and a statement trigger paid for its
transition tables and an aggregate on every such UPDATE, claims included; now only rows
whose state changes to one that is counted call the function (see rollup_sql)."""

from django.db import migrations

from apps.reports import rollup_sql


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0003_report_subscriptions"),
    ]

    operations = [
        migrations.RunSQL(rollup_sql.MESSAGE_ROW_INSTALL, rollup_sql.MESSAGE_ROW_UNINSTALL),
    ]
