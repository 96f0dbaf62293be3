"""python manage.py bench <name> [options]: run bench/<name>.py (see bench/README.md)."""

import importlib

from django.core.management.base import BaseCommand, CommandError

BENCHES = ["ingest", "audience", "campaign", "send", "directmail", "exclusions", "report"]


class Command(BaseCommand):
    help = "Run a benchmark; prints one JSON line per case (ours beside a raw baseline)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=BENCHES)
        parser.add_argument("args", nargs="*", help="options of the benchmark, e.g. --rows 1000000")

    def run_from_argv(self, argv):
        # Everything after the name belongs to the benchmark's own parser.
        if len(argv) > 2 and argv[2] in BENCHES:
            self._bench_args = argv[3:]
            argv = argv[:3]
        else:
            self._bench_args = []
        return super().run_from_argv(argv)

    def handle(self, *args, name, **options):
        module = importlib.import_module(f"bench.{name}")
        try:
            module.main(getattr(self, "_bench_args", list(args)))
        except SystemExit as exc:
            if exc.code:
                raise CommandError(f"bench {name} failed") from exc
