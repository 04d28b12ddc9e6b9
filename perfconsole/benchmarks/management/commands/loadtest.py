"""Run one of the seed's load scenarios (TARGETS.md); report throughput, latency."""

import json

from django.core.management.base import BaseCommand, CommandError

from perfconsole.benchmarks import load
from perfconsole.core.arguments import BIGINT_MAX, check_output_file, check_range
from perfconsole.core.targets import (
    LOAD_CONCURRENT_USERS,
    LOAD_DASHBOARD_PER_MINUTE,
    LOAD_LOOKUPS_PER_S,
)

SCENARIOS = ["collaborations", "lookups", "dashboard"]
MAX_DURATION_S = 3600
MAX_WORKERS = 150
MAX_PROCESSES = 16
MAX_RATE = 100_000
MAX_PER_MINUTE = 60_000


class Command(BaseCommand):
    help = (
        f"Load scenarios: collaborations ({LOAD_CONCURRENT_USERS} simultaneous "
        "operations, reads and writes), lookups "
        f"({LOAD_LOOKUPS_PER_S} member lookups/s, then the highest rate, and "
        f"pgbench), dashboard ({LOAD_DASHBOARD_PER_MINUTE} requests/min over "
        "HTTP, signed in). Bounded by "
        "--duration; leaves no data behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenario", choices=SCENARIOS)
        parser.add_argument(
            "--duration",
            type=float,
            default=10,
            help=f"seconds per phase (default 10, at most {MAX_DURATION_S})",
        )
        parser.add_argument("--json", dest="json_file", help="write the results here")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--workers",
            type=int,
            help=f"concurrent workers (collaborations: {LOAD_CONCURRENT_USERS}, "
            "lookups: 8)",
        )
        parser.add_argument(
            "--rate",
            type=float,
            default=LOAD_LOOKUPS_PER_S,
            help="lookups: target per second",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=2,
            help="lookups: processes of the last unthrottled phase",
        )
        parser.add_argument(
            "--no-pgbench", action="store_true", help="lookups: skip pgbench"
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="dashboard: the running web app",
        )
        parser.add_argument(
            "--per-minute",
            type=float,
            default=LOAD_DASHBOARD_PER_MINUTE,
            help="dashboard: request rate",
        )
        parser.add_argument(
            "--behind-proxy",
            action="store_true",
            help="dashboard: send X-Forwarded-Proto: https, as the TLS proxy in "
            "front of a production app (DEBUG off) would",
        )
        parser.add_argument(
            "--path",
            action="append",
            dest="paths",
            help="dashboard: a page to request (repeatable)",
        )

    def handle(self, *, scenario, duration, json_file, seed, workers, **options):
        check_range(
            "--duration", duration, 0, MAX_DURATION_S, low_open=True, unit="seconds"
        )
        check_range("--workers", workers, 1, MAX_WORKERS)
        check_range("--processes", options["processes"], 1, MAX_PROCESSES)
        check_range(
            "--rate", options["rate"], 0, MAX_RATE, low_open=True, unit="per second"
        )
        check_range(
            "--per-minute", options["per_minute"], 0, MAX_PER_MINUTE, low_open=True
        )
        check_range("--seed", seed, 0, BIGINT_MAX)
        check_output_file("--json", json_file)
        try:
            result = self.run(scenario, duration, seed, workers, options)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.describe(result))
        if json_file:
            try:
                with open(json_file, "w") as out:
                    json.dump(result, out, indent=2, default=str)
            except OSError as error:
                # Checked up front; the folder went away during the run.
                raise CommandError(
                    f"JSON not written to {json_file}: {error}"
                ) from error
            self.stdout.write(f"JSON written to {json_file}")

    def run(self, scenario, duration, seed, workers, options) -> dict:
        stream = self.stderr._out
        if scenario == "collaborations":
            return load.collaborations(
                duration,
                workers=workers or LOAD_CONCURRENT_USERS,
                seed=seed,
                stream=stream,
            )
        if scenario == "lookups":
            return load.lookups(
                duration,
                rate=options["rate"],
                workers=workers or 8,
                seed=seed,
                stream=stream,
                pgbench=not options["no_pgbench"],
                processes=options["processes"],
            )
        return load.dashboard(
            duration,
            base_url=options["url"],
            per_minute=options["per_minute"],
            paths=options["paths"],
            stream=stream,
            behind_proxy=options["behind_proxy"],
        )

    def describe(self, result: dict) -> str:
        """Return the scenario's result as a few readable lines."""
        if result["scenario"] == "lookups":
            lines = [f"lookups with {result['workers']} workers:"]
            for phase in ("paced", "unthrottled", "processes"):
                lines.append(f"  {phase}: {self.figures(result[phase])}")
            verdict = "met" if result["target_met"] else "MISSED"
            lines.append(
                f"  target {result['target_per_s']:g}/s {verdict} "
                f"(reached {result['paced']['throughput_per_s']}/s); highest "
                f"rate here {result['highest_per_s']}/s"
            )
            bench = result["pgbench"]
            if bench.get("throughput_per_s"):
                lines.append(
                    f"  pgbench, same query, {bench['clients']} clients: "
                    f"{bench['throughput_per_s']:.0f}/s, "
                    f"latency avg {bench['latency_avg_ms']} ms; the Python client "
                    f"reaches {result['share_of_pgbench_pct']} % of it"
                )
            else:
                lines.append(f"  pgbench: {bench}")
            return "\n".join(lines)
        lines = [f"{result['scenario']}: {self.figures(result)}"]
        for operation, figures in result["by_operation"].items():
            lines.append(
                f"  {operation}: {figures['count']} ops, p50 {figures['p50']} ms,"
                f" p95 {figures['p95']} ms"
            )
        if result["scenario"] == "collaborations":
            lines.append(f"  written then removed: {result['created_and_removed']}")
        else:
            lines.append(
                f"  {result['requests_per_minute']}/min (target "
                f"{result['target_per_minute']:g}/min), statuses {result['statuses']}"
            )
        return "\n".join(lines)

    def figures(self, summary: dict) -> str:
        text = (
            f"{summary['operations']} ops in {summary['seconds']} s = "
            f"{summary['throughput_per_s']}/s; latency p50 {summary['p50_ms']} ms, "
            f"p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms; "
            f"{summary['errors']} errors"
        )
        if summary["error_samples"]:
            text += f" (e.g. {summary['error_samples'][0]})"
        return text
