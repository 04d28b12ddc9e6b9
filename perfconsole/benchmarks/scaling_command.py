"""`benchmark --scaling`: check its options, run it, print and store the result."""

from __future__ import annotations

import time

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from perfconsole.collaboration.demo import SCALES
from perfconsole.core.timing import load_average

from . import scaling, scaling_report
from .models import ScalingRun
from .queries import by_name
from .runner import detect_scale

# Options of the usual benchmark that mean nothing for --scaling.
NOT_WITH_SCALING = {
    "scale": "--scale (give each scale's database with --database LABEL=NAME)",
    "json_file": "--json",
    "compare": "--compare",
    "bare": "--bare",
    "force": "--force",
}


def refuse_with_scaling(**options) -> None:
    """Raise CommandError naming the options --scaling does not take."""
    given = [text for name, text in NOT_WITH_SCALING.items() if options.get(name)]
    if given:
        raise CommandError(f"--scaling does not take {', '.join(given)}")


def scale_databases(values: list[str] | None) -> list[scaling.ScaleDatabase]:
    """Return the scales named by --database values (default: this database)."""
    if not values:
        name = connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]
        return [scaling.ScaleDatabase(label="", database=name)]
    scales = []
    for value in values:
        try:
            label, name = scaling.parse_database(value)
        except ValueError as error:
            raise CommandError(str(error)) from None
        scales.append(scaling.ScaleDatabase(label=label, database=name))
    for what in ("label", "database"):
        seen = [getattr(scale, what) for scale in scales]
        twice = sorted({item for item in seen if seen.count(item) > 1})
        if twice:
            raise CommandError(
                f"--database: each scale needs its own {what}; given twice: "
                + ", ".join(twice)
            )
    return scales


def connect(scales: list[scaling.ScaleDatabase]) -> None:
    """Open each scale's database; label the default one by its data.

    Raise CommandError when a database cannot be reached, or holds data of
    another demo scale than its label says.
    """
    for scale in scales:
        if scale.label:
            scale.alias = scaling.open_alias(scale.label, scale.database)
        try:
            with connections[scale.alias].cursor() as cursor:
                scaling.describe(cursor, scale)
        except DatabaseError as error:
            raise CommandError(
                f"--database {scale.label}={scale.database}: cannot read it "
                f"({str(error).strip()}). It must be a database on the console's "
                "server, migrated (`manage.py migrate`) and loaded "
                "(`manage.py seeddemo`)."
            ) from None
        detected = detect_scale(scale.row_counts)
        if not scale.label:
            scale.label = detected
        elif scale.label in SCALES and scale.label != detected:
            raise CommandError(
                f"--database {scale.label}={scale.database}: its data looks like "
                f"{detected} ({scale.data_rows:,} rows), not {scale.label}. Load "
                f"it with `seeddemo --scale {scale.label} --reset`, or give the "
                "scale another label."
            )


def run_scaling(command, iterations, warmup, seed, names, options) -> None:
    """Run the scaling benchmark, print its table and store it."""
    scales = scale_databases(options["databases"])
    try:
        connect(scales)
        benchmark = scaling.ScalingBenchmark(
            scales=scales,
            queries=by_name(names),
            iterations=iterations,
            warmup=warmup,
            seed=seed,
            progress=lambda text: command.stderr.write(f"  {text}"),
        )
        load_before = load_average()
        started = time.time()
        try:
            points = benchmark.run()
        except ValueError as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(
                f"scaling benchmark stopped, everything rolled back: {error}".strip()
            ) from error
        load_after = load_average()
    finally:
        for scale in scales:
            scaling.close_alias(scale.alias)
    stored_scales = [
        {
            "label": scale.label,
            "database": scale.database,
            "data_rows": scale.data_rows,
            "row_counts": scale.row_counts,
        }
        for scale in scales
    ]
    analysed = scaling_report.analyse(points, [scale.label for scale in scales])
    command.stdout.write(
        scaling_report.text(
            analysed, stored_scales, load=f"{load_before} (start), {load_after} (end)"
        )
    )
    if options["no_store"]:
        return
    run = ScalingRun.store(
        points,
        started_at=started,
        duration_s=round(time.time() - started, 1),
        server_version=server_version(),
        iterations=iterations,
        warmup=warmup,
        seed=seed,
        scales=stored_scales,
        load_before=load_before,
        load_after=load_after,
    )
    command.stdout.write(f"Stored as scaling run {run.pk} (see the admin).")


def server_version() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        return cursor.fetchone()[0]
