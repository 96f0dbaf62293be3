"""Refused at save: what goes past a bound on its face."""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.filters import FILTERS

from .budget import Budget, RenderLimit, spend, start, stop
from .environment import GUARD_FILTER, BoundedSandbox, bounded_range
from .growth import CHECKED_FILTERS, bounded_lipsum


class _NotConstant(Exception):
    pass


_BINOPS = {nodes.Mul: "*", nodes.Pow: "**", nodes.Add: "+", nodes.Mod: "%", nodes.Sub: "-",
           nodes.Div: "/", nodes.FloorDiv: "//"}


def _constant(env: BoundedSandbox, node: nodes.Node) -> Any:
    """The value of a constant expression, computed through the sandbox's checks (which
    raise RenderLimit before anything large is built); _NotConstant when it depends on data."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.List | nodes.Tuple):
        return [_constant(env, item) for item in node.items]
    if isinstance(node, nodes.Neg):
        return -_constant(env, node.node)
    operator = _BINOPS.get(type(node))
    if operator is not None:
        left, right = _constant(env, node.left), _constant(env, node.right)
        if operator in env.intercepted_binops:
            return env.call_binop(None, operator, left, right)
        return env.binop_table[operator](left, right)
    if isinstance(node, nodes.Concat):
        parts = [str(_constant(env, part)) for part in node.nodes]
        spend(sum(map(len, parts)), "a joined text")
        return "".join(parts)
    if isinstance(node, nodes.Call) and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None:
        if isinstance(node.node, nodes.Name) and node.node.name in ("range", "lipsum"):
            function = bounded_range if node.node.name == "range" else bounded_lipsum
            return function(*[_constant(env, arg) for arg in node.args])
    if isinstance(node, nodes.Filter) and node.name == GUARD_FILTER:
        return _constant(env, node.node)
    if isinstance(node, nodes.Filter) and node.name in CHECKED_FILTERS and node.node is not None:
        if node.dyn_args is None and node.dyn_kwargs is None:
            value = _constant(env, node.node)
            args = [_constant(env, arg) for arg in node.args]
            kwargs = {kw.key: _constant(env, kw.value) for kw in node.kwargs}
            passes = 1 if hasattr(FILTERS[node.name], "jinja_pass_arg") else 0
            CHECKED_FILTERS[node.name](*([None] * passes), value, *args, **kwargs)
    raise _NotConstant


def _loop_count(env: BoundedSandbox, loop: nodes.For) -> int:
    try:
        value = _constant(env, loop.iter)
    except (_NotConstant, RenderLimit, TypeError, ValueError, ArithmeticError, LookupError):
        return 1  # unknown here (a bound past its limit is reported by itself)
    return len(value) if isinstance(value, str | list | tuple | range) else 1


def _nested_loops(env, node: nodes.Node, factor: int, limit: int, found: list[tuple[str, int]]) -> None:
    if not isinstance(node, nodes.For):
        for child in node.iter_child_nodes():
            _nested_loops(env, child, factor, limit, found)
        return
    runs = factor * _loop_count(env, node)
    if runs > limit:
        found.append((f"the loops here run {runs:,} times, more than the limit of {limit:,} steps", node.lineno))
        return
    for part in node.body:
        _nested_loops(env, part, runs, limit, found)
    for part in node.else_:
        _nested_loops(env, part, factor, limit, found)


def unbounded(env: BoundedSandbox, ast: nodes.Template, budget: Budget) -> list[tuple[str, int]]:
    """(reason, line) for every constant expression past a bound (`"a" * 10**9`,
    `range(10**9)`, `"x"|center(10**9)`) and every nest of constant loops that runs more
    steps than `budget` allows. Each expression is judged with a budget of its own: an
    expression inside another is evaluated again for its parent, and must not be counted
    twice against the characters a render may build in all."""
    found: list[tuple[str, int]] = []
    reported: set[int] = set()
    for node in ast.find_all((nodes.BinExpr, nodes.Call, nodes.Filter, nodes.Concat)):
        if node.lineno in reported:
            continue
        token = start(Budget(budget.seconds, budget.max_chars, budget.max_steps))
        try:
            _constant(env, node)
        except RenderLimit as exc:
            found.append((str(exc), node.lineno))
            reported.add(node.lineno)
        except (_NotConstant, TypeError, ValueError, ArithmeticError, LookupError):
            pass
        finally:
            stop(token)
    token = start(budget)
    try:
        _nested_loops(env, ast, 1, budget.max_steps, found)
    finally:
        stop(token)
    return found
