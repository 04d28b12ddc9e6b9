"""Benchmark the collaboration queries against the targets (core/targets.py)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from perfconsole.benchmarks import report
from perfconsole.benchmarks.models import BenchmarkRun
from perfconsole.benchmarks.queries import QUERIES, by_name
from perfconsole.benchmarks.runner import Benchmark, detect_scale, server_facts
from perfconsole.benchmarks.safety import development_verdict
from perfconsole.benchmarks.scaling_command import refuse_with_scaling, run_scaling
from perfconsole.collaboration.demo import SCALES, tables_are_empty
from perfconsole.core.arguments import BIGINT_MAX, check_output_file, check_range

# Bounds of the run's size: enough for stable percentiles, and a run that
# ends (each iteration runs every query once, EXPLAIN ANALYZE included).
MAX_ITERATIONS = 1000
MAX_WARMUP = 100
MAX_WITHOUT_TIMEOUT_S = 600


class Command(BaseCommand):
    help = (
        "Measure the collaboration queries (EXPLAIN ANALYZE server time, client "
        "round trip, buffers, indexes, seq scans) against the seed's targets "
        "and our goals (TARGETS.md); "
        "--compare measures them without the performance indexes too, inside a "
        "transaction that is rolled back."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=sorted(SCALES),
            help="the demo scale the data must be (checked before the run: "
            "other data is refused); detected from the row counts when left out",
        )
        parser.add_argument(
            "--iterations",
            type=int,
            default=20,
            help=f"calls of each query (default 20, at most {MAX_ITERATIONS})",
        )
        parser.add_argument(
            "--warmup",
            type=int,
            default=1,
            help="warm-up passes over each query's parameters (default 1, at "
            f"most {MAX_WARMUP})",
        )
        parser.add_argument(
            "--without-timeout",
            type=float,
            default=10,
            help="with --compare: seconds one call may take without the indexes; "
            "a call over it counts as this long (the reduction is then a lower "
            f"bound) and a query stops after 3 of them (at most "
            f"{MAX_WITHOUT_TIMEOUT_S})",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--query",
            action="append",
            dest="names",
            choices=[query.name for query in QUERIES],
            help="only this query (repeatable)",
        )
        parser.add_argument("--json", dest="json_file", help="write the results here")
        parser.add_argument(
            "--compare",
            action="store_true",
            help="also measure without the six performance indexes (takes ACCESS "
            "EXCLUSIVE locks on the collaboration tables until it rolls back)",
        )
        parser.add_argument(
            "--bare",
            action="store_true",
            help="with --compare: drop every non-primary index of the "
            "collaboration tables too, so the baseline has primary keys only",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="run --compare on a database that does not look like a "
            "development one",
        )
        parser.add_argument(
            "--no-store", action="store_true", help="do not keep the run"
        )
        parser.add_argument(
            "--scaling",
            action="store_true",
            help="measure how cost grows: each query at each scale (--database) "
            "and for organizations of 1-9, 10-99, 100-999, 1k-9k and 10k+ "
            "members; prints p95 per scale and bucket, the fitted log-log "
            "slopes and verdicts, and stores the run for the admin's chart",
        )
        parser.add_argument(
            "--database",
            action="append",
            dest="databases",
            metavar="LABEL=NAME",
            help="with --scaling: one scale, a database of demo data on the "
            "console's server, e.g. --database small=perfconsole_small "
            "--database medium=perfconsole_medium --database large=perfconsole "
            "(repeatable; default: the console's database under its detected "
            "scale). The run is stored in the console's database",
        )

    def handle(self, *, scale, iterations, warmup, seed, names, json_file, **options):
        check_range("--iterations", iterations, 1, MAX_ITERATIONS)
        check_range("--warmup", warmup, 0, MAX_WARMUP)
        check_range(
            "--without-timeout",
            options["without_timeout"],
            0,
            MAX_WITHOUT_TIMEOUT_S,
            low_open=True,
            unit="seconds",
        )
        check_range("--seed", seed, 0, BIGINT_MAX)
        if options["scaling"]:
            refuse_with_scaling(scale=scale, json_file=json_file, **options)
            run_scaling(self, iterations, warmup, seed, names, options)
            return
        if options["databases"]:
            raise CommandError("--database only makes sense with --scaling")
        check_output_file("--json", json_file)
        if options["bare"] and not options["compare"]:
            raise CommandError("--bare only makes sense with --compare")
        if scale:
            self.check_scale(scale)
        if options["compare"]:
            self.check_development(options["force"])
        benchmark = Benchmark(
            iterations=iterations,
            warmup=warmup,
            seed=seed,
            compare=options["compare"],
            bare=options["bare"],
            without_timeout_ms=int(options["without_timeout"] * 1000),
            queries=by_name(names),
            progress=lambda text: self.stderr.write(f"  {text}"),
        )
        try:
            result = benchmark.run()
        except ValueError as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            # E.g. the DROP INDEX waited 5 s for its lock behind other sessions.
            raise CommandError(
                f"benchmark stopped, everything rolled back: {error}".strip()
            ) from error
        # Output first: figures that took minutes are not lost to a failed save.
        self.stdout.write(report.text(result))
        json_error = None
        if json_file:
            try:
                with open(json_file, "w") as out:
                    json.dump(result.public(), out, indent=2, default=str)
                self.stdout.write(f"JSON written to {json_file}")
            except OSError as error:
                # Checked up front; the folder went away during the run.
                json_error = error
        if not options["no_store"]:
            run = BenchmarkRun.store(result)
            self.stdout.write(f"Stored as benchmark run {run.pk} (see the admin).")
        if json_error:
            raise CommandError(f"JSON not written to {json_file}: {json_error}")

    def check_scale(self, scale):
        """Refuse --scale when the data is not that demo scale.

        A run is stored under its scale; figures of other data would be
        compared with the wrong targets. Leaving --scale out benchmarks the
        data as it is, under the scale detected from its row counts.
        """
        if tables_are_empty():
            raise CommandError(
                f"--scale {scale}: there is no collaboration data. Load it with "
                f"`manage.py seeddemo --scale {scale}`."
            )
        with connection.cursor() as cursor:
            row_counts = server_facts(cursor)["row_counts"]
        detected = detect_scale(row_counts)
        if detected == scale:
            return
        rows = row_counts.get("collaboration_activity", 0)
        expected = SCALES[scale].activity
        size = "smaller" if rows < expected else "larger"
        raise CommandError(
            f"--scale {scale}: the data is {size} than that scale "
            f"({rows:,} activity rows, about {expected:,} expected; it looks "
            f"like {detected}). Load it with `manage.py seeddemo --scale {scale} "
            f"--reset`, or leave out --scale to benchmark the data as it is."
        )

    def check_development(self, force):
        """Refuse --compare on a database that may be in use by others."""
        ok, reason = development_verdict()
        if ok:
            self.stderr.write(
                f"--compare on {reason}: DROP INDEX in a transaction holds ACCESS "
                "EXCLUSIVE locks on the collaboration tables until the rollback."
            )
            return
        if not force:
            raise CommandError(
                f"--compare refused: this does not look like a development database "
                f"({reason}). It drops the performance indexes inside a transaction "
                "and rolls back, which leaves data and schema unchanged but holds "
                "ACCESS EXCLUSIVE locks on the collaboration tables, blocking every "
                "other session on them, for the whole run. Add --force if that is "
                "acceptable here."
            )
        self.stderr.write(self.style.WARNING(f"--force: comparing on {reason}"))
