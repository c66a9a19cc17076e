"""Reading the YAML once: the data and its node tree (for lines), or a ``yaml`` check saying why.

The safe loader is used, with one change: an impossible date (2025-02-30) is reported as a YAML
error on its line rather than escaping as a bare ``ValueError``.
"""

from __future__ import annotations

import yaml

from hub.agreements.lint.report import Check, CheckStatus


class _Loader(yaml.SafeLoader):
    """The safe loader, reporting an impossible date (2025-02-30) as a YAML error with a line."""


class _ImpossibleDate(yaml.constructor.ConstructorError):
    pass


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    assert isinstance(node, yaml.ScalarNode)
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        raise _ImpossibleDate(None, None, "not a real calendar date", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def parse(text: str, name: str) -> tuple[object, yaml.Node | None] | Check:
    """The constructed document and its root node, or the failed ``yaml`` check for ``name``."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        raw = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        return Check(
            CheckStatus.FAILED,
            "yaml",
            f"not valid YAML: {problem}",
            name,
            None if mark is None else mark.line + 1,
            hint="write the date as YYYY-MM-DD, and check the day exists in that month"
            if isinstance(exc, _ImpossibleDate)
            else "check the indentation, colons and quotes on this line and the one before",
        )
    except (yaml.YAMLError, RecursionError):
        return Check(
            CheckStatus.FAILED,
            "yaml",
            "not valid YAML",
            name,
            hint="check the file opens in a YAML editor",
        )
    finally:
        loader.dispose()
    return raw, root
