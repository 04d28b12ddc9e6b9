"""Bad arguments of benchmark and loadtest: a CommandError before any work.

Without demo data a run would fail with "run seeddemo first"; an error that
names the argument instead shows it was checked before the run started.
"""

import json
import math

import pytest
from django.core.management import CommandError, call_command

from perfconsole.benchmarks.models import BenchmarkRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "options, message",
    [
        ({"iterations": 0}, "--iterations must be at least 1 and at most 1,000"),
        ({"iterations": 99999999999999999999}, "--iterations .* at most 1,000"),
        ({"warmup": -1}, "--warmup must be at least 0"),
        ({"warmup": 101}, "--warmup .* at most 100;"),
        ({"without_timeout": 0}, "--without-timeout must be greater than 0"),
        ({"without_timeout": math.inf}, "--without-timeout .* at most 600 seconds"),
        ({"without_timeout": math.nan}, "--without-timeout"),
        ({"seed": -1}, "--seed must be at least 0"),
    ],
)
def test_benchmark_refuses_out_of_range_numbers(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("benchmark", **options)
    assert not BenchmarkRun.objects.exists()


def test_benchmark_checks_the_json_folder_before_the_run(tmp_path):
    missing = tmp_path / "missing" / "bench.json"
    with pytest.raises(CommandError, match="folder .*missing does not exist"):
        call_command("benchmark", json_file=str(missing))
    with pytest.raises(CommandError, match="it is a folder"):
        call_command("benchmark", json_file=str(tmp_path))
    assert not BenchmarkRun.objects.exists()


def test_benchmark_refuses_a_scale_larger_than_the_data(small_demo):
    with pytest.raises(CommandError) as refused:
        call_command("benchmark", scale="large", iterations=1)

    message = str(refused.value)
    assert "the data is smaller than that scale" in message
    assert "looks like small" in message
    assert "seeddemo --scale large --reset" in message
    assert "leave out --scale" in message
    assert not BenchmarkRun.objects.exists()


def test_benchmark_with_a_scale_and_no_data_says_how_to_load_it():
    with pytest.raises(CommandError, match="no collaboration data.*seeddemo --scale"):
        call_command("benchmark", scale="medium")


def test_benchmark_runs_when_the_scale_matches(small_demo, tmp_path):
    out = tmp_path / "bench.json"

    call_command(
        "benchmark",
        scale="small",
        iterations=1,
        names=["activity_feed"],
        json_file=str(out),
    )

    assert json.loads(out.read_text())["run"]["scale"] == "small"
    assert BenchmarkRun.objects.get().scale == "small"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"duration": 0}, "--duration must be greater than 0 and at most 3,600 s"),
        ({"duration": 3601}, "--duration .* at most 3,600 seconds; got 3601"),
        ({"duration": math.nan}, "--duration"),
        ({"workers": 0}, "--workers must be at least 1 and at most 150"),
        ({"processes": 17}, "--processes .* at most 16"),
        ({"rate": -1}, "--rate must be greater than 0"),
        ({"rate": math.inf}, "--rate .* at most 100,000 per second"),
        ({"per_minute": 0}, "--per-minute must be greater than 0"),
        ({"seed": -5}, "--seed must be at least 0"),
    ],
)
def test_loadtest_refuses_out_of_range_numbers(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("loadtest", "lookups", **options)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"users": 0}, "--users must be at least 1 and at most 2,000"),
        ({"users": 2001}, "--users .* at most 2,000; got 2001"),
        ({"pool_max": 0}, "--pool-max must be at least 1"),
        ({"pool_min": -1}, "--pool-min must be at least 0"),
        ({"pool_min": 30, "pool_max": 20}, "--pool-min .30. must not exceed"),
        ({"pool_timeout": 0}, "--pool-timeout must be greater than 0"),
        ({"think": -1}, "--think must be at least 0"),
        ({"think": math.nan}, "--think"),
        ({"batch": 0}, "--batch must be at least 1 and at most 1,000"),
        ({"pool_max": 500}, "a pool of 500 connections needs 500 free"),
    ],
)
def test_loadtest_users_refuses_bad_options(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("loadtest", "users", duration=1, **options)


def test_loadtest_checks_the_json_folder_before_the_run(tmp_path):
    missing = tmp_path / "missing" / "load.json"
    with pytest.raises(CommandError, match="folder .*missing does not exist"):
        call_command("loadtest", "lookups", duration=1, json_file=str(missing))
