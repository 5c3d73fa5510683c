"""The clinician UI's forms: opening a session, and narrowing the sessions list."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from clinic.models import Patient, Recording, TherapySession, User
from clinic.selectors import patients_visible_to

NO_RECORDING = "none"
# The browser's date picker reads and writes ISO dates, whatever the locale's format.
DATE_PICKER = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class NewSessionForm(forms.Form):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(),
        empty_label="Choose a patient",
        error_messages={"invalid_choice": "Choose a patient on your care team."},
    )
    date = forms.DateField(widget=DATE_PICKER)

    def __init__(self, clinician: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the clinician's own care-team patients can be chosen: another id is refused.
        field = self.fields["patient"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = patients_visible_to(clinician).order_by("pseudonym")


class SessionFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=64, label="Patient")
    patient = forms.UUIDField(required=False)
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any recording"),
            (NO_RECORDING, "No recording yet"),
            *Recording.Status.choices,
        ],
        label="Recording",
    )
    date_from = forms.DateField(required=False, label="From", widget=DATE_PICKER)
    date_to = forms.DateField(required=False, label="To", widget=DATE_PICKER)

    def narrow(self, sessions: QuerySet[TherapySession]) -> QuerySet[TherapySession]:
        data = self.cleaned_data
        if data["q"]:
            sessions = sessions.filter(patient__pseudonym__icontains=data["q"])
        if data["patient"]:
            sessions = sessions.filter(patient_id=data["patient"])
        if data["status"] == NO_RECORDING:
            sessions = sessions.filter(recordings__isnull=True)
        elif data["status"]:
            sessions = sessions.filter(recordings__status=data["status"]).distinct()
        if data["date_from"]:
            sessions = sessions.filter(date__gte=data["date_from"])
        if data["date_to"]:
            sessions = sessions.filter(date__lte=data["date_to"])
        return sessions
