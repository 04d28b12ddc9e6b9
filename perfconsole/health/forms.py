"""Forms that validate the activity page's query string and actions."""

from django import forms

from perfconsole.health.activity import ACTIONS

PG_MAX_PID = 2**31 - 1


class ActivityFilterForm(forms.Form):
    """Filters of the activity page."""

    console = forms.TypedChoiceField(
        choices=[("0", "hide"), ("1", "show")],
        coerce=lambda value: value == "1",
        required=False,
        empty_value=False,
        help_text="Show the console's own sessions.",
    )


class HealthFilterForm(forms.Form):
    """The health page's switch: the console's own tables too."""

    console = forms.TypedChoiceField(
        choices=[("0", "hide"), ("1", "show")],
        coerce=lambda value: value == "1",
        required=False,
        empty_value=None,
        help_text="Show the console's own tables.",
    )


class SignalForm(forms.Form):
    """A cancel or terminate request for one pid."""

    pid = forms.IntegerField(min_value=1, max_value=PG_MAX_PID)
    action = forms.ChoiceField(choices=[(name, name) for name in ACTIONS])
