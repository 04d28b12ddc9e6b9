"""Forms that validate the activity page's query string and actions."""

from django import forms

from perfconsole.health.activity import ACTIONS

PG_MAX_PID = 2**31 - 1


STATE_CHOICES = [
    ("", "all, idle included"),
    ("not_idle", "all but idle"),
    ("active", "active"),
    ("waiting", "waiting for a lock"),
    ("in_transaction", "idle in transaction"),
    ("idle", "idle"),
]
THIS_DATABASE, ALL_DATABASES = "", "*"
# Seconds between reloads of the sessions; 0 stops them.
REFRESH_CHOICES = [(5, "5 s"), (10, "10 s"), (30, "30 s"), (60, "1 min"), (0, "off")]
DEFAULT_REFRESH = 10


class ActivityFilterForm(forms.Form):
    """Filters of the activity page; databases are the server's to choose from."""

    state = forms.ChoiceField(choices=STATE_CHOICES, required=False)
    user = forms.CharField(max_length=63, required=False)
    application = forms.CharField(max_length=200, required=False)
    database = forms.ChoiceField(required=False)
    min_seconds = forms.DecimalField(
        label="Min. time in state (s)",
        min_value=0,
        max_value=10**8,
        decimal_places=1,
        required=False,
    )
    refresh = forms.TypedChoiceField(
        label="Reload every",
        choices=REFRESH_CHOICES,
        coerce=int,
        required=False,
        empty_value=DEFAULT_REFRESH,
    )
    console = forms.TypedChoiceField(
        choices=[("0", "hide"), ("1", "show")],
        coerce=lambda value: value == "1",
        required=False,
        empty_value=False,
        help_text="Show the console's own sessions.",
    )

    def __init__(self, data=None, *, databases=()):
        if data is not None and not data.get("refresh"):
            # A first visit submits no choice: show the reload actually used.
            data = data.copy()
            data["refresh"] = str(DEFAULT_REFRESH)
        super().__init__(data)
        self.fields["database"].choices = [
            (THIS_DATABASE, "this database"),
            (ALL_DATABASES, "all databases"),
            *((name, name) for name in databases),
        ]


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
    """A cancel or terminate request for one pid; sent only once confirmed."""

    pid = forms.IntegerField(min_value=1, max_value=PG_MAX_PID)
    action = forms.ChoiceField(choices=[(name, name) for name in ACTIONS])
    confirm = forms.BooleanField(required=False)
    # The session (or query) the confirmation showed: see activity.ACTIONS.
    expected = forms.CharField(max_length=200, required=False)
