"""The acknowledge form of an incident (a note, optional)."""

from __future__ import annotations

from django import forms

from events.models import Incident


class AcknowledgeForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = ["note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "maxlength": 2000})}
        labels = {"note": "Note"}
        help_texts = {"note": "What was done or who is on it (optional)."}
