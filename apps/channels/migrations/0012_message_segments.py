"""SMS messages keep the segments their text took (a nullable column: no table rewrite)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("channels", "0011_sms_receipts"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="segments",
            field=models.SmallIntegerField(blank=True, null=True),
        ),
    ]
