"""Consent scopes take the modality names the pipeline and timeline use: face, voice, text.

Rows written as video, audio and transcript are renamed, and so are the modalities fixed on
analysis jobs; the check constraint follows.
"""

from django.db import migrations, models

RENAMES = {"video": "face", "audio": "voice", "transcript": "text"}


def rename(apps, schema_editor, renames=RENAMES):
    Consent = apps.get_model("clinic", "Consent")
    AnalysisJob = apps.get_model("clinic", "AnalysisJob")
    for old, new in renames.items():
        Consent.objects.filter(modality=old).update(modality=new)
    for job in AnalysisJob.objects.exclude(options={}).only("id", "options"):
        modalities = job.options.get("modalities")
        if modalities:
            job.options["modalities"] = sorted(renames.get(m, m) for m in modalities)
            AnalysisJob.objects.filter(id=job.id).update(options=job.options)


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in RENAMES.items()})


class Migration(migrations.Migration):
    dependencies = [("clinic", "0006_timeline_overview")]

    operations = [
        migrations.RemoveConstraint(model_name="consent", name="consent_modality_known"),
        migrations.RunPython(rename, rename_back),
        migrations.AlterField(
            model_name="consent",
            name="modality",
            field=models.CharField(
                choices=[
                    ("face", "Face (facial expression in the video)"),
                    ("voice", "Voice (prosody in the audio)"),
                    ("text", "Text (transcript of the words spoken)"),
                    ("analysis", "Emotional-trajectory analysis"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="consent",
            constraint=models.CheckConstraint(
                condition=models.Q(("modality__in", ["face", "voice", "text", "analysis"])),
                name="consent_modality_known",
            ),
        ),
    ]
