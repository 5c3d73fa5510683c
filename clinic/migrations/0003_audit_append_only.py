"""Make audit events append-only in the database itself, whatever code or SQL tries."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION clinic_audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER clinic_audit_event_append_only
    BEFORE UPDATE OR DELETE ON clinic_auditevent
    FOR EACH ROW EXECUTE FUNCTION clinic_audit_event_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS clinic_audit_event_append_only ON clinic_auditevent;
DROP FUNCTION IF EXISTS clinic_audit_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_roles")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
