"""The time window a history page shows: a preset or a custom from–to."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

PRESETS = {
    "1h": ("last hour", timedelta(hours=1)),
    "6h": ("last 6 hours", timedelta(hours=6)),
    "24h": ("last 24 hours", timedelta(hours=24)),
    "7d": ("last 7 days", timedelta(days=7)),
    "30d": ("last 30 days", timedelta(days=30)),
}
CUSTOM = "custom"
DEFAULT_WINDOW = "1h"
# The daily history is kept two years (STATS_RETENTION_DAILY_DAYS): a longer
# window would only show emptiness, and costs a grid of that many days.
LONGEST_WINDOW = timedelta(days=731)
DATE_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class WindowForm(forms.Form):
    """Choose a window; `bounds()` returns its (start, end) once valid."""

    window = forms.ChoiceField(
        choices=[(key, label) for key, (label, _span) in PRESETS.items()]
        + [(CUSTOM, "custom from–to")],
        required=False,
    )
    start = forms.DateTimeField(
        label="From", required=False, input_formats=DATE_FORMATS
    )
    end = forms.DateTimeField(label="To", required=False, input_formats=DATE_FORMATS)

    def clean(self):
        data = super().clean()
        choice = data.get("window") or DEFAULT_WINDOW
        data["window"] = choice
        if choice != CUSTOM or self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            raise forms.ValidationError("A custom window needs both From and To.")
        if end <= start:
            raise forms.ValidationError("To must be after From.")
        if end - start > LONGEST_WINDOW:
            raise forms.ValidationError(
                "A window can be at most two years long (the daily history's"
                " retention)."
            )
        return data

    def bounds(self, now=None):
        """Return (start, end) of the chosen window."""
        data = self.cleaned_data
        if data["window"] == CUSTOM:
            return data["start"], data["end"]
        now = now or timezone.now()
        return now - PRESETS[data["window"]][1], now

    def label(self):
        """Return the window in words, for titles."""
        data = self.cleaned_data
        if data["window"] == CUSTOM:
            start, end = (timezone.localtime(data[k]) for k in ("start", "end"))
            return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
        return PRESETS[data["window"]][0]
