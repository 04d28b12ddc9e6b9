#!/usr/bin/env python
"""Django's command-line utility for perfconsole."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["embeddedpg"]:
        # The command starts and stops the server itself; it is a development
        # tool, so it needs no SECRET_KEY.
        os.environ["EMBEDDED_PG_AUTOSTART"] = "0"
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
