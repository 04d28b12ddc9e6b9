"""The compare page's form: two windows and what counts as a change."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from .window_form import LONGEST_WINDOW

DEFAULT_THRESHOLD_PCT = 50.0
DEFAULT_MIN_CALLS = 10


class CompareForm(forms.Form):
    """Two windows (before and after a deploy) and what counts as a change."""

    before_from = forms.DateTimeField(label="Before: from")
    before_to = forms.DateTimeField(label="Before: to")
    after_from = forms.DateTimeField(label="After: from")
    after_to = forms.DateTimeField(label="After: to")
    threshold_pct = forms.FloatField(
        label="Slower by more than (%)",
        min_value=0,
        max_value=100_000,
        initial=DEFAULT_THRESHOLD_PCT,
        required=False,
    )
    min_calls = forms.IntegerField(
        label="With at least (calls or sequential scans)",
        min_value=1,
        max_value=1_000_000_000,
        initial=DEFAULT_MIN_CALLS,
        required=False,
    )

    @staticmethod
    def default_data(now=None):
        """Return the data by default: the last 24 h against the day before."""
        now = now or timezone.now()
        day = timedelta(days=1)
        moments = {
            "before_from": now - 2 * day,
            "before_to": now - day,
            "after_from": now - day,
            "after_to": now,
        }
        data = {
            name: timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")
            for name, moment in moments.items()
        }
        data.update(threshold_pct=DEFAULT_THRESHOLD_PCT, min_calls=DEFAULT_MIN_CALLS)
        return data

    def clean_threshold_pct(self):
        value = self.cleaned_data["threshold_pct"]
        return DEFAULT_THRESHOLD_PCT if value is None else value

    def clean_min_calls(self):
        value = self.cleaned_data["min_calls"]
        return DEFAULT_MIN_CALLS if value is None else value

    def clean(self):
        cleaned = super().clean()
        for side in ("before", "after"):
            start, end = cleaned.get(f"{side}_from"), cleaned.get(f"{side}_to")
            if start is None or end is None:
                continue
            if end <= start:
                self.add_error(
                    f"{side}_to", f"The {side} window must end after it starts."
                )
            elif end - start > LONGEST_WINDOW:
                self.add_error(
                    f"{side}_to",
                    f"The {side} window is longer than two years, the longest "
                    "the history keeps.",
                )
        return cleaned

    def windows(self):
        """Return ((before start, end), (after start, end)) of a valid form."""
        data = self.cleaned_data
        return (
            (data["before_from"], data["before_to"]),
            (data["after_from"], data["after_to"]),
        )
