#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    if sys.argv[1:2] == ["embedded"] and any(a in ("status", "stop") for a in sys.argv[2:]):
        # Reporting on the embedded servers, or stopping them, must not start them first.
        os.environ["ORCHESTRATE_EMBEDDED_NO_START"] = "1"
    from django.core.management import execute_from_command_line  # noqa: PLC0415 - after the settings module is set

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
