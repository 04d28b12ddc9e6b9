"""benchpages times the health checks and analyzer pages, then cleans up."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_it_times_both_pages_and_every_check(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]  # the host its client names
    out = io.StringIO()

    call_command("benchpages", runs=2, checks=True, stdout=out)

    text = out.getvalue()
    assert "| health checks | 200 |" in text
    assert "| analyzer | 200 |" in text
    assert "| index_bloat |" in text
    assert "health checks: slowest statements" in text
    assert not get_user_model().objects.filter(username__startswith="benchpages-")


def test_it_refuses_fewer_than_one_run():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("benchpages", runs=0)
