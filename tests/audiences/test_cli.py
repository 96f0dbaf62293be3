"""`python manage.py audience_count --workspace SLUG --rule FILE`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.conftest import _database_url_for_subprocess
from tests.factories import WorkspaceFactory, make_travel_model

RULE = {"entity": "customer", "rule": {"all": [
    {"attr": "country", "op": "in", "value": ["NL", "DE"]},
    {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gte", "value": "1250"},
]}}


def _rule_file(tmp_path, definition) -> str:
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    return str(path)


def test_prints_count_milliseconds_and_the_sql(workspace, tmp_path):
    make_travel_model(workspace)
    out = io.StringIO()
    call_command("audience_count", "--workspace", workspace.slug, "--rule", _rule_file(tmp_path, RULE), stdout=out)
    printed = json.loads(out.getvalue())
    assert set(printed) == {"count", "ms", "sql"}
    assert printed["count"] == 2
    assert isinstance(printed["ms"], int) and printed["ms"] >= 0
    assert printed["sql"].startswith('SELECT "t')
    assert f'FROM "ws_{workspace.pk}"."customer"' in printed["sql"]
    assert "= ANY('{NL,DE}')" in printed["sql"]  # values shown inline for reading


@pytest.mark.parametrize("definition,message", [
    ({"entity": "customer", "rule": {"attr": "shoe_size", "op": "eq", "value": 42}},
     "rule: customer has no attribute 'shoe_size'."),
    ({"entity": "customer", "rule": {"all": [{"attr": "country", "op": "gt"}, {"related": "orders"}]}},
     "rule.all[0].value: gt needs a value.; rule.all[1]: customer has no related rows named 'orders' (its "
     "one-to-many links: bookings)."),
])
def test_a_bad_rule_is_an_error_naming_the_problem(workspace, tmp_path, definition, message):
    make_travel_model(workspace)
    with pytest.raises(CommandError) as caught:
        call_command("audience_count", "--workspace", workspace.slug, "--rule", _rule_file(tmp_path, definition))
    assert str(caught.value) == message


def test_an_unknown_workspace_or_an_unreadable_file_is_an_error(workspace, tmp_path):
    with pytest.raises(CommandError, match="No workspace 'nowhere'."):
        call_command("audience_count", "--workspace", "nowhere", "--rule", _rule_file(tmp_path, RULE))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Cannot read .*bad.json"):
        call_command("audience_count", "--workspace", workspace.slug, "--rule", str(bad))


def _manage(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": _database_url_for_subprocess()})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def test_from_the_shell_the_exit_status_tells_success_from_a_bad_rule(transactional_db, tmp_path):
    workspace = WorkspaceFactory(name="Northwind", slug="northwind-cli")
    make_travel_model(workspace)
    good = _manage("audience_count", "--workspace", workspace.slug, "--rule", _rule_file(tmp_path, RULE))
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["count"] == 2
    bad_rule = {"entity": "customer", "rule": {"attr": "country", "op": "in_last", "value": 3}}
    bad = _manage("audience_count", "--workspace", workspace.slug, "--rule", _rule_file(tmp_path, bad_rule))
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert "rule: operator 'in_last' does not fit text attribute 'country'" in bad.stderr
