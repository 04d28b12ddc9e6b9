#!/usr/bin/env python
"""Django's command-line utility for perfconsole, and its entry point.

Before Django reads the settings it names the kind of process (for
`application_name`) and starts the embedded PostgreSQL when DATABASE_URL is
unset, except for `embeddedpg`, which manages that server itself.
"""

import os
import sys

# Commands that run as a long-lived process of their own kind.
PROCESS_KINDS = {"runserver": "web", "qcluster": "qcluster"}


def process_kind(argv: list[str]) -> str:
    """Return the kind of process `manage.py ARGV...` is."""
    command = argv[1] if len(argv) > 1 else ""
    return PROCESS_KINDS.get(command, "command")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("PERFCONSOLE_PROCESS", process_kind(sys.argv))
    if sys.argv[1:2] == ["embeddedpg"]:
        # A development tool: it needs no SECRET_KEY.
        os.environ.setdefault("DEBUG", "1")
    else:
        from perfconsole.embedded import EmbeddedServerError, start_if_embedded

        try:
            start_if_embedded()
        except EmbeddedServerError as error:
            sys.exit(f"The embedded PostgreSQL did not start: {error}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
