"""The audit's YAML files (the catalog, waivers, campaigns, annotations): plain data, read safely.

YAML lets a file say more than it means, and the audit refuses what a reviewer would miss in a
pull request, naming the line:

- **a key written twice** in one mapping: YAML keeps the last one silently, so a waiver's
  ``check:`` given twice would waive a check nobody reviewed;
- **an explicit tag** (``!!python/object``, ``!Ref``, ``!!binary``, ``!!set``): the files are
  plain mappings, lists and scalars;
- **aliases that expand a document** by more than ``MAX_ALIAS_GROWTH`` nodes (a "billion
  laughs"): refused before the document is constructed, so it costs no memory.

Every reader composes a document, checks it here, then constructs it (with its own loader when
it keeps lines, as the campaigns do).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.resolver import Resolver

# A catalog of thousands of teams adds no node through aliases; a handful of shared blocks adds
# hundreds at most. Beyond this, a document is refused rather than expanded.
MAX_ALIAS_GROWTH = 10_000
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
_RESOLVER = Resolver()


class YamlError(Exception):
    """A YAML text the audit refuses: ``line`` (1-based, None when unknown) and ``problem``."""

    def __init__(self, line: int | None, problem: str):
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.line = line
        self.problem = problem

    def at(self, shown: str) -> str:
        """The problem as a configuration problem line: ``file:line: problem``."""
        return f"{shown}:{self.line}: {self.problem}" if self.line else f"{shown}: {self.problem}"


def documents(text: str, loader_cls: type[yaml.SafeLoader] = SAFE_LOADER) -> Iterator[tuple[yaml.Node, Any]]:
    """Each document of ``text``: its node (lines are in its marks), checked, and its value.

    Raises :class:`YamlError` at the first document that does not parse or is refused.
    """
    loader = loader_cls(text)
    may_alias = "&" in text  # without an anchor there is no alias to expand: skip that walk
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            check(node, may_alias=may_alias)
            yield node, loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise YamlError(mark.line + 1 if mark is not None else None, f"YAML does not parse: {problem}") from None
    finally:
        loader.dispose()


def document(text: str, loader_cls: type[yaml.SafeLoader] = SAFE_LOADER) -> tuple[yaml.Node | None, Any]:
    """The one document of ``text`` (None, None when empty); a second document is refused."""
    found = list(documents(text, loader_cls))
    if len(found) > 1:
        raise YamlError(found[1][0].start_mark.line + 1, "a second YAML document (---): this file holds one")
    return found[0] if found else (None, None)


def check(root: yaml.Node, *, may_alias: bool = True) -> None:
    """Raise :class:`YamlError` when ``root`` has a key twice in a mapping, an explicit tag, or too many aliases."""
    if may_alias and _alias_growth(root) > MAX_ALIAS_GROWTH:
        raise YamlError(
            root.start_mark.line + 1,
            f"YAML aliases expand this document by more than {MAX_ALIAS_GROWTH} nodes; refused "
            "(write the values out, or use fewer aliases)",
        )
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag != _implicit_tag(node):
            raise YamlError(node.start_mark.line + 1, f"explicit tag {node.tag!r} refused: write plain YAML values")
        if isinstance(node, yaml.MappingNode):
            keys: dict[Any, int] = {}
            for key, value in node.value:
                if key.tag == _MERGE:
                    stack.append(value)
                    continue
                name = key.value if isinstance(key, yaml.ScalarNode) else id(key)
                if name in keys:
                    raise YamlError(
                        key.start_mark.line + 1,
                        f"key {name!r} is written twice in one mapping (first on line {keys[name]}): keep one",
                    )
                keys[name] = key.start_mark.line + 1
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _implicit_tag(node: yaml.Node) -> str:
    """The tag YAML gives ``node`` when the file writes none."""
    if isinstance(node, yaml.ScalarNode):
        plain = not node.style  # None from the Python parser, "" from libyaml
        # types-PyYAML leave BaseResolver.resolve unannotated
        tag: str = _RESOLVER.resolve(yaml.ScalarNode, node.value, (plain, not plain))  # type: ignore[no-untyped-call]
        return tag
    if isinstance(node, yaml.SequenceNode):
        return _RESOLVER.DEFAULT_SEQUENCE_TAG
    return _RESOLVER.DEFAULT_MAPPING_TAG


def _alias_growth(root: yaml.Node) -> int:
    """How many nodes aliases add when the document is expanded (a "billion laughs" adds billions).

    Composing keeps an alias as a reference to its anchor's node; constructing and then turning
    values into text copies it. Sizes are memoised per node, so this walk is linear in the file.
    """
    sizes: dict[int, int] = {}
    distinct: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        distinct.add(id(node))
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(key) + size(value) for key, value in node.value)
        else:
            total = 1
        sizes[id(node)] = total
        return total

    return size(root) - len(distinct)
