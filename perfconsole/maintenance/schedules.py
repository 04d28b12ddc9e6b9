"""The console's django-q2 schedules, created and updated idempotently.

Schedules are looked up by name (django-q2 does not make names unique). What
to run belongs to the code and is kept up to date; when to run it may be
edited in django-q2's admin and is kept, unless a reset is asked for.
"""

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_q.models import Schedule

# Fields the code owns; an edit in the admin is put back.
CODE_FIELDS = ("func", "args", "kwargs")
# Fields an operator may tune in the admin.
TIMING_FIELDS = ("schedule_type", "cron", "minutes")
# What a schedule leaves out is None.
UNSET = dict.fromkeys(("args", "kwargs", "cron", "minutes"))


def console_schedules():
    """Return the wanted schedules as dicts of Schedule fields.

    Each app declares its own from a schedules() method of its AppConfig
    (a list of dicts with name, func, schedule_type and cron or minutes), so
    an app's schedule is created with it and goes with it.
    """
    wanted = {}
    for config in apps.get_app_configs():
        for declared in getattr(config, "schedules", list)():
            if declared["name"] in wanted:
                raise ImproperlyConfigured(
                    f"Two apps declare the schedule {declared['name']!r}."
                )
            wanted[declared["name"]] = {**UNSET, **declared}
    return list(wanted.values())


def ensure_schedule(wanted, reset=False):
    """Create or update one schedule; return what was done, in words."""
    rows = list(Schedule.objects.filter(name=wanted["name"]).order_by("id"))
    if not rows:
        schedule = Schedule(repeats=-1, **wanted)
        schedule.full_clean()
        # save() computes next_run for a new cron schedule.
        schedule.save()
        return "created"
    schedule, duplicates = rows[0], rows[1:]
    for duplicate in duplicates:
        duplicate.delete()
    changed = [f for f in CODE_FIELDS if getattr(schedule, f) != wanted[f]]
    timing = [f for f in TIMING_FIELDS if getattr(schedule, f) != wanted[f]]
    if reset:
        changed += timing
    for field in changed:
        setattr(schedule, field, wanted[field])
    if reset and timing:
        schedule.next_run = next_run(schedule)
    if changed:
        schedule.full_clean()
        schedule.save()
    words = []
    if duplicates:
        words.append(f"removed {len(duplicates)} duplicate(s)")
    words.append(f"updated {', '.join(changed)}" if changed else "unchanged")
    if timing and not reset:
        words.append(
            "timing edited in the admin kept (setupschedules --reset restores it)"
        )
    return "; ".join(words)


def next_run(schedule):
    """Return the next run of a schedule whose timing just changed."""
    if schedule.schedule_type == Schedule.CRON:
        return schedule.calculate_next_run()
    return timezone.now()


def ensure_schedules(reset=False):
    """Create or update every console schedule; return {name: what was done}."""
    return {
        wanted["name"]: ensure_schedule(wanted, reset=reset)
        for wanted in console_schedules()
    }
