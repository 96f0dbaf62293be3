"""The Jinja2 sandbox that renders tenant templates, with bounds.

Jinja's sandbox keeps a template away from Python's internals, but not from the machine:
`{{ "a" * 10**9 }}`, a namespace that doubles a string forty times, or two nested loops
of 100,000 steps each run as long and grow as large as they like, in a web request
(preview) or in the shared worker pool. Here every render has a `Budget`:

- size: no string or list a template builds (`*`, `+`, `%`, `~` through macros, captured
  blocks and namespaces, the padding and joining filters and methods) and no output of a
  render exceeds `max_chars` characters; the check comes before the allocation wherever
  the size can be known in advance;
- steps: loop iterations and calls count against `max_steps`, and the clock is read every
  few hundred of them against `seconds`.
A render that passes a bound raises RenderLimit, which names the bound: the message fails
with that reason, a preview shows it. `unbounded_problems` refuses, when a template is
saved, what is unbounded on its face (constant sizes and loop counts over the bounds).

Loops are counted by wrapping the iterable of every `{% for %}` in `environment.guard_iter`
when the template is parsed; calls by the sandbox's own `call` hook. The bounds are read
from settings once per Renderer (see personalization.Renderer).
"""

from .budget import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_STEPS,
    DEFAULT_SECONDS,
    Budget,
    RenderLimit,
    check_size,
    start,
    stop,
)
from .environment import BoundedSandbox
from .static import unbounded

__all__ = ["DEFAULT_MAX_CHARS", "DEFAULT_MAX_STEPS", "DEFAULT_SECONDS", "BoundedSandbox", "Budget", "RenderLimit",
           "check_size", "start", "stop", "unbounded"]
