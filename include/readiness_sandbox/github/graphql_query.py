"""A GraphQL document reader for the GitHub emulator: the query language the runbook reads use.

Reads one ``query`` operation (or an anonymous ``{ ... }``) with variable definitions,
fields with aliases and arguments (strings, numbers, booleans, null, enums, lists, objects
and ``$variables``), nested selections and inline fragments (``... on Commit { ... }``).
Named fragments, directives, mutations and subscriptions are refused with a syntax error in
GitHub's shape (``{"message": "Parse error on ...", "locations": [...]}``), as a document
the emulator cannot answer should fail loudly rather than be half-answered.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class QuerySyntaxError(ValueError):
    """The document is not GraphQL the emulator reads; ``line``/``column`` say where."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line, self.column = line, column


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass
class Field:
    name: str
    alias: str | None
    arguments: dict[str, Any]
    selections: list[Field | InlineFragment]
    line: int
    column: int

    @property
    def key(self) -> str:
        """The name the answer uses: the alias, or the field's name."""
        return self.alias or self.name


@dataclass
class InlineFragment:
    type_condition: str | None
    selections: list[Field | InlineFragment]


@dataclass
class Operation:
    name: str | None
    variable_types: dict[str, str] = field(default_factory=dict)
    variable_defaults: dict[str, Any] = field(default_factory=dict)
    selections: list[Field | InlineFragment] = field(default_factory=list)


_TOKEN = re.compile(
    r"""(?P<skip>[\s,\ufeff]+|\#[^\n]*)
      | (?P<spread>\.\.\.)
      | (?P<punct>[!$():=@\[\]{}|])
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
      | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<string>"(?:[^"\\\n]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*")""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int
    column: int


def _tokens(document: str) -> list[_Token]:
    newlines = [i for i, char in enumerate(document) if char == "\n"]

    def place(position: int) -> tuple[int, int]:
        line = bisect.bisect_left(newlines, position)
        return line + 1, position - (newlines[line - 1] + 1 if line else 0) + 1

    tokens, position = [], 0
    while position < len(document):
        match = _TOKEN.match(document, position)
        if not match:
            line, column = place(position)
            raise QuerySyntaxError(f'Parse error on "{document[position]}" ({line}:{column})', line, column)
        if match.lastgroup != "skip":
            tokens.append(_Token(match.lastgroup or "", match.group(), *place(position)))
        position = match.end()
    tokens.append(_Token("end", "", *place(len(document))))
    return tokens


class _Parser:
    def __init__(self, document: str):
        self.tokens = _tokens(document)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def fail(self, expected: str = "") -> QuerySyntaxError:
        token = self.token
        shown = token.text or "end of file"
        suffix = f", expected {expected}" if expected else ""
        return QuerySyntaxError(
            f'Parse error on "{shown}" ({token.kind.upper()}) at [{token.line}, {token.column}]{suffix}',
            token.line,
            token.column,
        )

    def peek(self, text: str) -> bool:
        return self.token.kind in ("punct", "spread", "name") and self.token.text == text

    def expect(self, text: str) -> _Token:
        if not self.peek(text):
            raise self.fail(repr(text))
        return self.advance()

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def name(self) -> str:
        if self.token.kind != "name":
            raise self.fail("a name")
        return self.advance().text

    def document(self) -> Operation:
        if self.peek("{"):
            operation = Operation(name=None)
        elif self.peek("query"):
            self.advance()
            operation = Operation(name=self.name() if self.token.kind == "name" else None)
            if self.peek("("):
                self.variable_definitions(operation)
        else:
            raise self.fail("a query (the emulator answers queries only)")
        operation.selections = self.selection_set()
        if self.token.kind != "end":
            raise self.fail("the end of the document (one operation, no fragments)")
        return operation

    def variable_definitions(self, operation: Operation) -> None:
        self.expect("(")
        while not self.peek(")"):
            self.expect("$")
            variable = self.name()
            self.expect(":")
            operation.variable_types[variable] = self.type_reference()
            if self.peek("="):
                self.advance()
                operation.variable_defaults[variable] = self.value(constant=True)
        self.expect(")")

    def type_reference(self) -> str:
        if self.peek("["):
            self.advance()
            inner = self.type_reference()
            self.expect("]")
            text = f"[{inner}]"
        else:
            text = self.name()
        if self.peek("!"):
            self.advance()
            text += "!"
        return text

    def selection_set(self) -> list[Field | InlineFragment]:
        self.expect("{")
        selections: list[Field | InlineFragment] = []
        while not self.peek("}"):
            if self.peek("@"):
                raise self.fail("a field (directives are not supported)")
            if self.token.kind == "spread":
                self.advance()
                if not self.peek("on"):
                    raise self.fail("'on' (named fragments are not supported)")
                self.advance()
                selections.append(InlineFragment(self.name(), self.selection_set()))
                continue
            start = self.token
            name, alias = self.name(), None
            if self.peek(":"):
                self.advance()
                alias, name = name, self.name()
            arguments = self.arguments() if self.peek("(") else {}
            children = self.selection_set() if self.peek("{") else []
            selections.append(Field(name, alias, arguments, children, start.line, start.column))
        self.expect("}")
        if not selections:
            raise self.fail("a field")
        return selections

    def arguments(self) -> dict[str, Any]:
        self.expect("(")
        arguments: dict[str, Any] = {}
        while not self.peek(")"):
            key = self.name()
            self.expect(":")
            arguments[key] = self.value()
        self.expect(")")
        return arguments

    def value(self, *, constant: bool = False) -> Any:
        token = self.token
        if token.kind == "punct" and token.text == "$" and not constant:
            self.advance()
            return Variable(self.name())
        if token.kind == "string":
            self.advance()
            return json.loads(token.text)
        if token.kind == "number":
            self.advance()
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.kind == "name":
            self.advance()
            return {"true": True, "false": False, "null": None}.get(token.text, token.text)
        if self.peek("["):
            self.advance()
            items = []
            while not self.peek("]"):
                items.append(self.value(constant=constant))
            self.advance()
            return items
        if self.peek("{"):
            self.advance()
            entries = {}
            while not self.peek("}"):
                key = self.name()
                self.expect(":")
                entries[key] = self.value(constant=constant)
            self.advance()
            return entries
        raise self.fail("a value")


@functools.lru_cache(maxsize=64)
def parse_query(document: str) -> Operation:
    """The operation in ``document``; ``QuerySyntaxError`` says where it is not GraphQL.

    Cached: a client sends the same text for every full batch (only the variables change);
    the operation is read, never changed, by the emulator.
    """
    return _Parser(document).document()


def argument_values(arguments: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments with their ``$variables`` replaced by the request's values (absent: None)."""

    def resolve(value: Any) -> Any:
        if isinstance(value, Variable):
            return variables.get(value.name)
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if isinstance(value, dict):
            return {key: resolve(item) for key, item in value.items()}
        return value

    return {key: resolve(value) for key, value in arguments.items()}
