"""Checks that config dataclasses share, with errors that name the bad field.

Every config (template, training, model info, remote, source layout) validates its fields in
``__post_init__`` and raises its own error type with one message shape::

    template field 'height': invalid value 8; an integer from 16 to 16384

A config makes one :class:`FieldChecker` with its subject and error type and calls its
``check_*`` methods; values are quoted with :func:`quote`, so a huge value does not flood the
message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

__all__ = ["FieldChecker", "bad_field", "is_int", "is_number", "quote"]

QUOTE_LIMIT = 200


def quote(value: Any, *, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, cut to at most ``limit`` characters (ending in ``...`` when cut).

    Long strings, lists, tuples and dicts are cut before their ``repr`` is built, so quoting a
    value of millions of items costs no more than quoting a short one.
    """
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]
    elif isinstance(value, list | tuple) and len(value) > 20:
        head = ", ".join(quote(v, limit=limit) for v in value[:8])
        text = f"[{head}, ... ({len(value):,} items)]"
        return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."
    elif isinstance(value, dict) and len(value) > 20:
        return f"{{... {len(value):,} keys}}"
    text = repr(value)
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def bad_field(
    name: str,
    value: Any,
    expected: str,
    *,
    subject: str = "field",
    error: type[ValueError] = ValueError,
) -> ValueError:
    """The error for field ``name``: ``"{subject} 'name': invalid value V; {expected}"``."""
    return error(f"{subject} '{name}': invalid value {quote(value)}; {expected}")


def is_int(value: Any) -> TypeGuard[int]:
    """An integer, and not a bool (``True`` is an ``int`` to Python, not to a config)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    """An integer or a float, and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range(kind: str, minimum: float | None, maximum: float | None, exclusive: bool) -> str:
    low = ">" if exclusive else ">="
    if minimum is not None and maximum is not None:
        if exclusive:
            return f"{kind} {low} {minimum:g} and <= {maximum:g}"
        return f"{kind} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"{kind} {low} {minimum:g}"
    if maximum is not None:
        return f"{kind} <= {maximum:g}"
    return kind


@dataclass(frozen=True)
class FieldChecker:
    """Field checks that raise ``error`` with messages starting ``"{subject} 'name'"``.

    Parameters
    ----------
    subject : str
        What the fields belong to: ``"template field"``, ``"remote setting"``.
    error : type of ValueError
        The config's own error type.
    lead : str
        Put before every expected text (``"expected "``).

    Examples
    --------
    >>> check = FieldChecker("train config field")
    >>> check.check_int("epochs", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: train config field 'epochs': invalid value 0; an integer >= 1
    """

    subject: str
    error: type[ValueError] = ValueError
    lead: str = ""

    def bad(self, name: str, value: Any, expected: str) -> ValueError:
        """The error (to raise) for field ``name`` holding ``value``."""
        return bad_field(name, value, self.lead + expected, subject=self.subject, error=self.error)

    def check_int(
        self,
        name: str,
        value: Any,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        expected: str | None = None,
    ) -> int:
        """``value`` if it is an integer (not a bool) within the bounds; else raise."""
        if (
            not is_int(value)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            raise self.bad(name, value, expected or _range("an integer", minimum, maximum, False))
        return int(value)

    def check_float(
        self,
        name: str,
        value: Any,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        expected: str | None = None,
    ) -> float:
        """``float(value)`` if it is a number (not a bool) within the bounds; else raise.

        ``exclusive_minimum`` makes ``minimum`` itself invalid (a learning rate > 0). NaN is
        outside any bound.
        """
        ok = is_number(value)
        if ok:  # comparisons written so that NaN fails every bound
            v = float(value)
            if minimum is not None:
                ok = v > minimum if exclusive_minimum else v >= minimum
            if maximum is not None:
                ok = ok and v <= maximum
        if not ok:
            text = expected or _range("a number", minimum, maximum, exclusive_minimum)
            raise self.bad(name, value, text)
        return float(value)

    def check_choice(
        self, name: str, value: Any, choices: Iterable[str], *, expected: str | None = None
    ) -> str:
        """``value`` if it is one of ``choices``; else raise (listing them)."""
        options = tuple(choices)
        if not isinstance(value, str) or value not in options:
            raise self.bad(name, value, expected or f"one of {', '.join(options)}")
        return value

    def check_bool(self, name: str, value: Any) -> bool:
        """``value`` if it is ``True`` or ``False``; else raise."""
        if not isinstance(value, bool):
            raise self.bad(name, value, "true or false")
        return value
