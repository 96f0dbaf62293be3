"""python manage.py audience_count --workspace SLUG --rule FILE: prints
{"count": N, "ms": T, "sql": "..."} for a rule JSON file ({"entity": ..., "rule": ...})."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audiences import selectors
from apps.audiences.rules.definition import RuleError, check_definition
from apps.tenants.models import Workspace


class Command(BaseCommand):
    help = "Count the records a rule matches; prints count, milliseconds and the generated SQL as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True)
        parser.add_argument("--rule", required=True, help="a JSON file: {\"entity\": KEY, \"rule\": {...}}")

    def handle(self, *args, workspace, rule, **opts):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        try:
            definition = json.loads(Path(rule).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {rule}: {exc}") from None
        try:
            checked = check_definition(workspace=ws, definition=definition)
        except RuleError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        result = selectors.count(definition=checked)
        self.stdout.write(json.dumps({"count": result.count, "ms": result.ms,
                                      "sql": selectors.explain_sql(definition=checked)}))
