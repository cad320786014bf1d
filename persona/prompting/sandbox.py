"""The Jinja2 sandbox strategy templates render in, with limits on time, size and recursion.

Jinja2's ``ImmutableSandboxedEnvironment`` stops a template from reaching Python internals, but not from
running for ever (nested loops over ``range``), building a huge string (``"x" * 10**9``, ``10 ** 10 ** 10``)
or recursing (a macro that calls itself, a template that includes or extends itself). `GuardedEnvironment`
adds the limits below; `render` runs a template under a deadline and turns every failure into a
``TemplateError`` that names the strategy.

- ``range()`` has at most ``MAX_RANGE`` numbers, and every ``{% for %}`` loop checks the deadline as it goes;
- ``*``, ``**`` and ``+`` refuse results larger than ``MAX_VALUE_CHARS`` (strings, lists) or ``MAX_POWER_BITS``;
- every call, attribute and item access checks the deadline, and calls nest at most ``MAX_CALL_DEPTH`` deep;
- the output grows to at most ``MAX_OUTPUT_CHARS``; ``lipsum`` is not available.

The deadline is shared by every render of one prompt (`Deadline`), so a slow template fails once, within
``RENDER_SECONDS``, however many times the prompt is re-rendered while it is fitted to the budget.
"""

from __future__ import annotations

import contextvars
import operator
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import TemplateError

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "MAX_CALL_DEPTH",
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE",
    "RENDER_SECONDS",
    "Deadline",
    "GuardedEnvironment",
    "render",
]

RENDER_SECONDS = 5.0
"""How long all the renders of one prompt may take together."""
MAX_RANGE = 100_000
MAX_OUTPUT_CHARS = 4_000_000
MAX_VALUE_CHARS = 1_000_000
MAX_POWER_BITS = 4096
MAX_CALL_DEPTH = 64
_ITER_FILTER = "persona_guarded"


def _stop(why: str) -> TemplateError:
    """What a guard raises inside a render; `render` adds the strategy's name."""
    return TemplateError(why)


@dataclass
class Deadline:
    """The time the renders of one prompt must finish by (started by the first render)."""

    seconds: float = RENDER_SECONDS
    ends: float | None = None
    depth: int = field(default=0)

    def start(self) -> None:
        if self.ends is None:
            self.ends = time.monotonic() + self.seconds

    def check(self) -> None:
        if self.ends is not None and time.monotonic() > self.ends:
            raise _stop(f"it ran longer than {self.seconds:g} s (a loop that does not end?)")


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("persona_template_deadline", default=None)


def _check() -> None:
    deadline = _current.get()
    if deadline is not None:
        deadline.check()


def _guarded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _stop(f"range() of {len(numbers):,} numbers; the limit is {MAX_RANGE:,}")
    return numbers


@pass_context
def _guarded_iter(context: Context, value: Any) -> Iterator[Any]:
    """What every ``{% for %}`` loop iterates: ``value``, checking the deadline as it goes."""
    for i, item in enumerate(value):
        if not i % 256:
            _check()
        yield item


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles every ``{% for x in items %}`` as ``{% for x in items|persona_guarded %}``."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in list(node.find_all(nodes.For)):  # the tree is parsed afresh for each compile
            loop.iter = nodes.Filter(loop.iter, _ITER_FILTER, [], [], None, None, lineno=loop.lineno)
            loop.iter.set_environment(self.environment)
        super().visit_Template(node, frame)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 0


def _mul(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        if _size(seq) and isinstance(times, int) and _size(seq) * times > MAX_VALUE_CHARS:
            raise _stop(f"a value of {_size(seq) * times:,} items; the limit is {MAX_VALUE_CHARS:,}")
    return operator.mul(left, right)


def _pow(left: Any, right: Any) -> Any:
    numbers = isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0
    if numbers and right * max(left.bit_length(), 1) > MAX_POWER_BITS:
        raise _stop(f"{left} ** {right} is too large")
    return operator.pow(left, right)


def _add(left: Any, right: Any) -> Any:
    if _size(left) + _size(right) > MAX_VALUE_CHARS:
        raise _stop(f"a value of {_size(left) + _size(right):,} items; the limit is {MAX_VALUE_CHARS:,}")
    return operator.add(left, right)


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox plus persona's limits (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _GuardedCodeGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters[_ITER_FILTER] = _guarded_iter
        self.globals["range"] = _guarded_range
        self.globals.pop("lipsum", None)
        self.binop_table = {**self.binop_table, "*": _mul, "**": _pow, "+": _add}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check()
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = _current.get()
        if deadline is None:
            return super().call(__context, __obj, *args, **kwargs)
        deadline.check()
        if deadline.depth >= MAX_CALL_DEPTH:
            raise _stop(f"calls nest more than {MAX_CALL_DEPTH} deep (a macro that calls itself?)")
        deadline.depth += 1
        try:
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            deadline.depth -= 1


def render(template: jinja2.Template, values: Mapping[str, Any], deadline: Deadline, name: str) -> str:
    """``template`` rendered with ``values`` within ``deadline``; any failure is a ``TemplateError``."""
    import jinja2

    deadline.start()
    token = _current.set(deadline)
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**values):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise _stop(f"its output passed {MAX_OUTPUT_CHARS:,} characters")
            deadline.check()
            parts.append(chunk)
    except TemplateError as exc:  # raised by a guard (`_stop`)
        raise TemplateError(f"strategy {name!r} was stopped: {exc}. Fix the template.") from None
    except RecursionError:
        raise TemplateError(
            f"strategy {name!r} was stopped: it recurses without end (a template that includes or extends "
            "itself, or a macro that calls itself). Fix the template."
        ) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"strategy {name!r} failed to render: {exc}. Fix the template.") from exc
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, MemoryError) as exc:
        raise TemplateError(
            f"strategy {name!r} failed to render: {type(exc).__name__}: {exc}. Fix the template."
        ) from exc
    finally:
        _current.reset(token)
    return "".join(parts)
