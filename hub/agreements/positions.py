"""Where a key or list item sits in a YAML document, for messages that name a line.

A location is a path of mapping keys and list indexes, the shape of a pydantic error's ``loc``:
``("fields", 3, "classification")`` is the ``classification`` key of the fourth field. Lines come
from the marks ``yaml.compose`` puts on every node, so block style and flow style
(``- {name: x, ...}``, one field per line) both resolve to the line the key is written on.

>>> text = "id: demo\\nfields:\\n  - {name: a, type: date}\\n  - {name: b}\\n"
>>> line_in(text, ("fields", 1, "name"))
4
>>> line_in(text, ("fields", 1, "type"))  # missing: the line of the nearest parent that exists
4
>>> describe(("fields", 1, "type"))
'fields[1].type'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import yaml

Loc: TypeAlias = Sequence[str | int]


def compose(text: str) -> yaml.Node | None:
    """The node tree of a one-document YAML text (None when empty); raises ``yaml.YAMLError``."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    """The node under ``node`` at one step of a location: for a mapping, the value of the key
    (the last one, as a YAML loader keeps it, when a key is written twice); for a list, the item.
    """
    if isinstance(node, yaml.MappingNode):
        found = _key_and_value(node, part)
        return None if found is None else found[1]
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        item: yaml.Node = node.value[part]
        return item
    return None


def line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of ``loc`` inside the composed document ``root``.

    A key resolves to the line its key is written on, a list item to the line it starts on. When
    part of the location does not exist (a missing key, an index past the end), the line of the
    nearest parent that exists is returned; the document's first line for a top-level key. None
    only when there is no document.
    """
    if root is None:
        return None
    node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = _key_and_value(node, part)
            if found is None:
                break
            key, node = found
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            item = child(node, part)
            if item is None:
                break
            node = item
            line = node.start_mark.line + 1
        else:
            break
    return line


def line_in(text: str, loc: Loc) -> int | None:
    """``line_of`` for a YAML text; None when the text is not valid YAML or is empty."""
    try:
        root = compose(text)
    except yaml.YAMLError:
        return None
    return line_of(root, loc)


def describe(loc: Loc) -> str:
    """A location as a reader writes it: ``fields[3].classification``; ``""`` for the top."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _key_and_value(node: yaml.MappingNode, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    wanted = str(part)
    found: tuple[yaml.Node, yaml.Node] | None = None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == wanted:
            found = (key, value)  # keep the last: a loader keeps the last of a repeated key
    return found
