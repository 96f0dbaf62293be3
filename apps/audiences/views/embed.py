"""The rule builder inside another screen's form (a campaign's canvas panels): the same
editor, display and templates as the audience builder, with every input, id and action
prefixed so that several rules can sit in one form ("s0-", "s1-"...). The host posts
its form; rule_edit() reads one rule's inputs back, rule_card_context() draws it with
audiences/_rule_card.html."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from apps.audiences.rules.definition import RuleError, check_definition
from apps.datamodel.schema import Schema

from ._display import Display
from ._rules import edit
from ._tree import DefinitionError, dump_definition, load_definition
from .builder import picker_audiences

__all__ = ["DefinitionError", "rule_card_context", "rule_edit", "rule_problems", "posted_definition"]


def _unprefixed(post, prefix: str) -> QueryDict:
    """The builder's inputs of one rule, as the builder itself would post them."""
    sub = QueryDict(mutable=True)
    for key in post:
        if key.startswith(prefix) and key != f"{prefix}definition":
            sub.setlist(key[len(prefix):], post.getlist(key))
    action = post.get("action") or ""
    sub["action"] = action[len(prefix):] if prefix and action.startswith(prefix) else ""
    return sub


def posted_definition(post, prefix: str) -> dict[str, Any] | None:
    """The rule JSON a form posted for `prefix` (None when it posted none); DefinitionError
    when it is not an object."""
    text = post.get(f"{prefix}definition")
    return None if text is None else load_definition(text)


def rule_edit(workspace, schema: Schema, definition: dict[str, Any], post, *, prefix: str) -> dict[str, Any]:
    """The rule after the posted inputs and, when it is this rule's, the posted action."""
    return edit(schema, definition, _unprefixed(post, prefix), audiences=picker_audiences(workspace))


def rule_problems(workspace, schema: Schema, definition: dict[str, Any]) -> list[dict]:
    try:
        check_definition(workspace=workspace, definition=definition, schema=schema)
    except RuleError as exc:
        return exc.problems
    return []


def rule_card_context(workspace, schema: Schema, definition: dict[str, Any], *, prefix: str,
                      fixed_entity: bool = False, problems: list[dict] | None = None) -> dict[str, Any]:
    """What audiences/_rule_card.html needs to draw one rule."""
    display = Display(schema, definition, problems=problems or [], audiences=picker_audiences(workspace))
    context = display.context()
    context.update({
        "p": prefix,
        "fixed_entity": fixed_entity,
        "definition_json": dump_definition(definition),
        "entities": sorted(schema.entities.values(), key=lambda e: e.label.lower()),
    })
    return context
