from django.apps import AppConfig


class AnalyzerConfig(AppConfig):
    name = "perfconsole.analyzer"
    label = "analyzer"
    verbose_name = "Analyzer"
