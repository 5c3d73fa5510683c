# The stored overview of each timeline; existing rows get theirs on first read
# (clinic.services.timelines.timeline_overview), so this migration does not decrypt anything.

import clinic.storage
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0005_retention_and_encryption'),
    ]

    operations = [
        migrations.AddField(
            model_name='timelineresult',
            name='overview',
            field=clinic.storage.EncryptedJSONField(blank=True, null=True),
        ),
    ]
