"""Reading the YAML users write (configs, ``--set`` and ``--where`` values, ``--published`` files): safe types only, a
key given twice in one mapping refused (PyYAML would keep the last silently), and so is a document whose aliases
expand beyond any real input's size."""
from __future__ import annotations

from pathlib import Path

import yaml

from .errors import UserError, shown

#: The most values (scalars, lists and mappings, each alias counted as often as it is used) a document may hold: far
#: above any configuration or published-numbers file, far below what exhausts memory once the value is copied.
MAX_VALUES = 100_000

_MERGE = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing a key given twice in one mapping (a merged ``<<`` mapping may still be
    overridden: that is what merging is for)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(None, None, f"key {shown(key)} is given twice in one "
                                                        "mapping; keep one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _too_many_values(value) -> bool:
    """Whether ``value``, aliases expanded, holds more than ``MAX_VALUES`` values (counting stops there)."""
    pending, count = [value], 0
    while pending:
        item = pending.pop()
        count += 1
        if count > MAX_VALUES:
            return True
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return False


def parse_yaml(text: str):
    """The value of the YAML ``text``; ``yaml.YAMLError`` when it is not valid YAML, repeats a key or expands
    beyond ``MAX_VALUES`` values."""
    value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    if _too_many_values(value):
        raise yaml.YAMLError(f"its aliases expand to more than {MAX_VALUES} values; write the values out instead "
                             "of repeating anchors")
    return value


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong with a YAML text, in one line: where (line, column) and the problem."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return where + (getattr(exc, "problem", None) or str(exc).splitlines()[0])


def read_yaml_file(path: Path, what: str, error: type[UserError]):
    """The value of the YAML file ``path``; ``error`` naming ``what`` (e.g. ``config PATH``) when it is a folder,
    cannot be read, is not UTF-8 text or not valid YAML (``parse_yaml``)."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} is a folder; give the path of a YAML file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as "
                    "UTF-8") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise error(f"{what} is not valid YAML: {yaml_problem(exc)}") from None
