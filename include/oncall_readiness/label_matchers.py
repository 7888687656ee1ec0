"""Label matchers, PromQL's way: ``service=checkout`` or ``{service="checkout", team=~"pay.*"}``.

The annotations that tie a service to rules and SLOs (``readiness/alert-selector``,
``readiness/slo-selector``) are lists of label matchers with the operators ``=``, ``!=``,
``=~`` and ``!~`` (regular expressions fully anchored, as in PromQL; a label the labelled
thing lacks has the value ``""``). Shared by the sources (which match SLOs to services while
collecting) and the checks, so it sits below both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

OPERATORS = ("=~", "!~", "!=", "=")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPERATOR = re.compile(r"=~|!~|!=|=")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


class LabelMatcherError(ValueError):
    """A selector annotation that does not parse; the message names the annotation, says where and why."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher, ``name op "value"``, with PromQL's semantics."""

    name: str
    op: str
    value: str

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.value) if self.op in ("=~", "!~") else None

    def _regex(self) -> re.Pattern[str]:
        """The pattern of a ``=~`` or ``!~`` matcher (the only operators left once ``=`` and ``!=`` are)."""
        if self.pattern is None:
            raise LabelMatcherError(f"{self}: unknown operator {self.op!r}")
        return self.pattern

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex().fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def mask(self, values: pd.Series) -> pd.Series:
        """Which of a label's values (``""`` where absent) this matcher accepts, vectorised."""
        if self.op == "=":
            return values == self.value
        if self.op == "!=":
            return values != self.value
        found = values.str.fullmatch(self._regex()).astype(bool)
        return found if self.op == "=~" else ~found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def parse_label_matchers(text: str, annotation: str) -> tuple[Matcher, ...]:
    """Parse a label matcher list: ``service=checkout``, ``service="checkout",team!~"legacy.*"``.

    Values may be bare (up to the next comma) or quoted with ``"`` or ``'`` (backslash
    escapes; quote a value that holds a comma or is empty). Surrounding braces are
    allowed, and so is a trailing comma. As in PromQL, at least one matcher must reject
    an empty label, or the selector would match every rule.
    """
    source = text
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    matchers, pos = [], 0
    while True:
        pos = _skip_spaces(text, pos)
        if pos == len(text):
            break
        name = _LABEL_NAME.match(text, pos)
        if not name:
            raise _error(annotation, source, f"expected a label name at {_where(text, pos)}")
        pos = _skip_spaces(text, name.end())
        operator = _OPERATOR.match(text, pos)
        if not operator:
            raise _error(annotation, source, f"expected one of {', '.join(OPERATORS)} after {name.group()!r}")
        pos = _skip_spaces(text, operator.end())
        value, pos = _value(annotation, source, text, pos, name.group())
        matcher = Matcher(name.group(), operator.group(), value)
        if matcher.op in ("=~", "!~"):
            try:
                matcher.pattern  # noqa: B018 (compiles the regular expression)
            except re.error as problem:
                raise _error(
                    annotation, source, f"{name.group()}{matcher.op} has an invalid regular expression: {problem}"
                ) from None
        matchers.append(matcher)
        pos = _skip_spaces(text, pos)
        if pos < len(text):
            if text[pos] != ",":
                raise _error(annotation, source, f"expected a comma at {_where(text, pos)}")
            pos += 1
    if not matchers:
        raise _error(annotation, source, "it is empty; write a label matcher such as service=<name>")
    if all(matcher.matches({}) for matcher in matchers):
        raise _error(
            annotation,
            source,
            "every matcher also accepts rules without the label, so it would match every rule; "
            "add one such as service=<name>",
        )
    return tuple(matchers)


def _value(annotation: str, source: str, text: str, pos: int, name: str) -> tuple[str, int]:
    if pos < len(text) and text[pos] in "\"'":
        quote, chars, i = text[pos], [], pos + 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                chars.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                i += 2
                continue
            if char == quote:
                return "".join(chars), i + 1
            chars.append(char)
            i += 1
        raise _error(annotation, source, f"the value of {name!r} has no closing {quote}")
    end = text.find(",", pos)
    end = len(text) if end < 0 else end
    value = text[pos:end].strip()
    if not value:
        raise _error(annotation, source, f'{name!r} has no value (write {name}="" for an empty one)')
    if any(char in value for char in "\"'"):
        raise _error(annotation, source, f"the value of {name!r} has a stray quote: {value!r}")
    if value[0] in "=~!":
        raise _error(annotation, source, f"the value of {name!r} starts with {value[0]!r} (quote it if that is meant)")
    return value, end


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _where(text: str, pos: int) -> str:
    return f"{text[pos : pos + 12]!r}" if pos < len(text) else "the end"


def _error(annotation: str, source: str, problem: str) -> LabelMatcherError:
    return LabelMatcherError(f"{annotation} {source!r}: {problem}")
