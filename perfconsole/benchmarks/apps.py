from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "perfconsole.benchmarks"
    label = "benchmarks"
    verbose_name = "Benchmarks"
