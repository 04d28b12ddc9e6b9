"""Run one of the seed's load scenarios (TARGETS.md); report throughput, latency."""

import json

from django.core.management.base import BaseCommand, CommandError

from perfconsole.benchmarks import load
from perfconsole.core.arguments import BIGINT_MAX, check_output_file, check_range
from perfconsole.core.targets import (
    LOAD_CONCURRENT_USERS,
    LOAD_DASHBOARD_PER_MINUTE,
    LOAD_LOOKUPS_PER_S,
    LOAD_POOL_MAX,
    LOAD_POOL_MIN,
    LOAD_POOL_TIMEOUT_S,
    LOAD_SIMULATED_USERS,
)

SCENARIOS = ["collaborations", "lookups", "users", "dashboard"]
MAX_DURATION_S = 3600
MAX_WORKERS = 150
MAX_PROCESSES = 16
MAX_BATCH = 1000
# One thread per simulated user: beyond this the client, not the pool, is
# what a run would measure.
MAX_USERS = 2000
MAX_POOL = 500
MAX_POOL_TIMEOUT_S = 300
MAX_THINK_S = 60
MAX_RATE = 100_000
MAX_PER_MINUTE = 60_000


class Command(BaseCommand):
    help = (
        f"Load scenarios: collaborations ({LOAD_CONCURRENT_USERS} simultaneous "
        "operations, reads and writes), lookups "
        f"({LOAD_LOOKUPS_PER_S} member lookups/s, then the highest rate, and "
        f"pgbench), users ({LOAD_SIMULATED_USERS} simulated users sharing a "
        f"pool of {LOAD_POOL_MIN}–{LOAD_POOL_MAX} connections), dashboard "
        f"({LOAD_DASHBOARD_PER_MINUTE} requests/min over "
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
            help="lookups: processes of the pipelined phase",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=load.PIPELINE_BATCH,
            help="lookups: lookups per round trip in the pipelined phase "
            f"(default {load.PIPELINE_BATCH}, at most {MAX_BATCH})",
        )
        parser.add_argument(
            "--users",
            type=int,
            default=LOAD_SIMULATED_USERS,
            help=f"users: simulated users (default {LOAD_SIMULATED_USERS}, at "
            f"most {MAX_USERS})",
        )
        parser.add_argument(
            "--pool-min",
            type=int,
            default=LOAD_POOL_MIN,
            help=f"users: connections the pool keeps (default {LOAD_POOL_MIN})",
        )
        parser.add_argument(
            "--pool-max",
            type=int,
            default=LOAD_POOL_MAX,
            help=f"users: connections the pool may open (default {LOAD_POOL_MAX})",
        )
        parser.add_argument(
            "--pool-timeout",
            type=float,
            default=LOAD_POOL_TIMEOUT_S,
            help="users: seconds a visit may wait for a connection (default "
            f"{LOAD_POOL_TIMEOUT_S})",
        )
        parser.add_argument(
            "--think",
            type=float,
            default=1.0,
            help="users: mean seconds between a user's visits (default 1)",
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
        self.check_users_options(options)
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

    def check_users_options(self, options) -> None:
        """Refuse a batch, user count, pool or think time out of range."""
        check_range("--batch", options["batch"], 1, MAX_BATCH)
        check_range("--users", options["users"], 1, MAX_USERS)
        check_range("--pool-min", options["pool_min"], 0, MAX_POOL)
        check_range("--pool-max", options["pool_max"], 1, MAX_POOL)
        if options["pool_min"] > options["pool_max"]:
            raise CommandError(
                f"--pool-min ({options['pool_min']}) must not exceed --pool-max "
                f"({options['pool_max']})."
            )
        check_range(
            "--pool-timeout",
            options["pool_timeout"],
            0,
            MAX_POOL_TIMEOUT_S,
            low_open=True,
            unit="seconds",
        )
        check_range("--think", options["think"], 0, MAX_THINK_S, unit="seconds")

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
                batch=options["batch"],
            )
        if scenario == "users":
            return load.users(
                duration,
                count=options["users"],
                pool_min=options["pool_min"],
                pool_max=options["pool_max"],
                pool_timeout=options["pool_timeout"],
                think=options["think"],
                seed=seed,
                stream=stream,
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
            return self.describe_lookups(result)
        if result["scenario"] == "users":
            return self.describe_users(result)
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

    def describe_lookups(self, result: dict) -> str:
        """Return the lookups' phases, then ours and pgbench's side by side."""
        lines = [f"lookups with {result['workers']} workers:"]
        for phase in ("paced", "unthrottled", "pipeline"):
            lines.append(f"  {phase}: {self.figures(result[phase])}")
        pipeline = result["pipeline"]
        lines.append(
            f"    ({pipeline['processes']} processes x "
            f"{pipeline['workers_per_process']} threads; latency of "
            f"{pipeline['latency_of']}; {pipeline['rows']} rows read)"
        )
        verdict = "met" if result["target_met"] else "MISSED"
        lines.append(
            f"  target {result['target_per_s']:g}/s {verdict} "
            f"(reached {result['paced']['throughput_per_s']}/s)"
        )
        best = max(
            ("unthrottled", "pipeline"),
            key=lambda phase: result[phase]["throughput_per_s"],
        )
        lines.append("  side by side, lookups per second:")
        lines.append(
            f"    {f'console, highest ({best})':<34}{result['highest_per_s']:>12,.0f}/s"
        )
        for key, label in (
            ("pgbench", "pgbench, one per round trip"),
            ("pgbench_pipelined", f"pgbench, pipelined by {pipeline['batch']}"),
        ):
            bench = result[key]
            if bench.get("throughput_per_s"):
                lines.append(
                    f"    {label:<34}{bench['throughput_per_s']:>12,.0f}/s"
                    f"  console = {result[f'share_of_{key}_pct']} % of it "
                    f"({bench['clients']} clients, -M prepared)"
                )
            else:
                lines.append(f"    {label:<34}{bench}")
        if result["share_goal_met"] is not None:
            verdict = "met" if result["share_goal_met"] else "MISSED"
            lines.append(f"  goal {result['share_goal']} of pgbench: {verdict}")
        return "\n".join(lines)

    def describe_users(self, result: dict) -> str:
        """Return the users' visits, queries and pool waits, one line each."""
        pool = result["pool"]
        lines = [
            f"{result['users']} users, think {result['think_s']:g} s, pool "
            f"{pool['min']}–{pool['max']} (timeout {pool['timeout_s']:g} s), "
            f"offering {result['offered_per_s'] or 'as many as served'} visits/s:"
        ]
        for part in ("visits", "queries", "pool_wait"):
            lines.append(f"  {part}: {self.figures(result[part])}")
        server = result["server"]
        for operation, figures in result["queries"]["by_operation"].items():
            mean = server.get(operation, {}).get("mean_ms")
            lines.append(
                f"    {operation}: {figures['count']} queries, p50 "
                f"{figures['p50']} ms, p95 {figures['p95']} ms, p99 "
                f"{figures['p99']} ms; server mean {mean} ms"
            )
        if "unavailable" in server:
            lines.append(f"    server times unavailable: {server['unavailable']}")
        lines.append(
            f"  pool: at most {pool['largest_size']} connections open "
            f"({pool['connections_opened']} opened), {pool['requests_queued']} of "
            f"{pool['requests']} requests queued, {pool['requests_timed_out']} "
            f"timed out; waiting was {result['wait_share_pct']} % of visit time"
        )
        lines.append(f"  errors: {result['errors']}")
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
