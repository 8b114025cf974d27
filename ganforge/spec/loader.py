"""Reading specs: YAML with the line of every key kept, and ``--set`` overrides."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforge.errors import SpecError

Key = tuple[str | int, ...]


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-4`` as a float (YAML 1.1 wants ``1.0e-4``)."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


@dataclass
class Spec:
    """A spec's data plus where each key came from, so errors can name file and line."""

    data: dict[str, Any]
    path: Path | None = None
    lines: dict[Key, int] = field(default_factory=dict)
    #: keys set on the command line: key -> the ``--set`` argument that set it
    overrides: dict[Key, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or (self.path.stem if self.path else "experiment"))

    def error(self, message: str, key: Key = ()) -> SpecError:
        """A SpecError located at ``key`` (or its nearest located parent)."""
        field_name = ".".join(str(k) for k in key) or None
        inside = next((a for k, a in self.overrides.items() if k[: len(key)] == key), None) if key and key not in self.lines else None
        if inside is not None:  # e.g. an unknown section that only a --set wrote
            return SpecError(message, path=f"--set {inside}", field=field_name)
        for n in range(len(key), 0, -1):
            if key[:n] in self.overrides:
                return SpecError(message, path=f"--set {self.overrides[key[:n]]}", field=field_name)
            if key[:n] in self.lines:
                return SpecError(message, path=self.path, line=self.lines[key[:n]], field=field_name)
        return SpecError(message, path=self.path, field=field_name)


def load_spec(path: str | Path) -> Spec:
    """Read a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not a YAML text file (byte {exc.start} is not UTF-8 text)", path=path) from None
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror}", path=path) from None
    return parse_spec(text, path)


def parse_spec(text: str, path: Path | None = None) -> Spec:
    """Parse spec text; the top level must be a mapping."""
    try:
        loader = SpecLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        raise SpecError(f"invalid YAML: {problem}", path=path, line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise SpecError("invalid YAML: nested more than a few hundred levels deep", path=path) from None
    if not isinstance(data, dict):
        raise SpecError("a spec must be a mapping of sections (generator:, discriminator:, loss:, data:, ...)", path=path)
    lines: dict[Key, int] = {}
    _record_lines(node, (), lines, path, frozenset(), [0])
    return Spec(data, path, lines)


#: values a spec may hold once aliases are expanded (a real spec has a few hundred).
MAX_VALUES = 100_000


def _record_lines(node: yaml.Node, key: Key, lines: dict[Key, int], path: Path | None, ancestors: frozenset[int], count: list[int]) -> None:
    """Record each key's line; refuse an alias inside its own anchor (a cycle) and aliases that
    expand to more than :data:`MAX_VALUES` values (a "billion laughs" document)."""
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise SpecError(f"the spec expands to more than {MAX_VALUES} values (aliases repeated inside aliases?)", path=path)
    if id(node) in ancestors:
        raise SpecError("an alias refers to a mapping or list that contains it (a cycle)", path=path, line=node.start_mark.line + 1)
    inner = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = key_node.value
            if not isinstance(name, str):
                raise SpecError("a key must be a plain name, not a list or mapping", path=path, line=key_node.start_mark.line + 1)
            if name in seen:
                raise SpecError(f"duplicate key '{name}'", path=path, line=key_node.start_mark.line + 1)
            seen.add(name)
            lines[key + (name,)] = key_node.start_mark.line + 1
            _record_lines(value_node, key + (name,), lines, path, inner, count)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[key + (index,)] = item.start_mark.line + 1
            _record_lines(item, key + (index,), lines, path, inner, count)


def apply_overrides(spec: Spec, assignments: list[str] | tuple[str, ...]) -> Spec:
    """A copy of ``spec`` with each ``dotted.key=value`` applied; values are parsed as YAML."""
    result = Spec(copy.deepcopy(spec.data), spec.path, dict(spec.lines), dict(spec.overrides))
    for assignment in assignments:
        dotted, sep, raw = assignment.partition("=")
        if not sep or not dotted.strip():
            raise SpecError("expected dotted.key=value", path=f"--set {assignment}")
        try:
            value = yaml.load(raw, Loader=SpecLoader) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise SpecError(f"value is not valid YAML: {' '.join(str(exc).split())}", path=f"--set {assignment}") from None
        except RecursionError:
            raise SpecError("value is nested more than a few hundred levels deep", path=f"--set {assignment}") from None
        parts = dotted.strip().split(".")
        if not all(part.strip() for part in parts):
            raise SpecError(f"'{dotted}' has an empty part; write the key as section.name (e.g. train.steps=3)", path=f"--set {assignment}")
        key = _set(result.data, parts, value, assignment)
        result.overrides[key] = assignment
        for located in [k for k in result.lines if len(k) > len(key) and k[: len(key)] == key]:
            del result.lines[located]  # replaced by the --set: its errors are the --set's
    return result


def _set(data: Any, parts: list[str], value: Any, assignment: str) -> Key:
    key: list[str | int] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(data, list):
            if not part.isdigit() or int(part) >= len(data):
                raise SpecError(f"'{part}' is not an index of the list at {'.'.join(map(str, key)) or 'top level'}", path=f"--set {assignment}")
            index: str | int = int(part)
        elif isinstance(data, dict):
            index = part
            if not last and not isinstance(data.get(part), (dict, list)):
                if parts[i + 1].isdigit():
                    where = ".".join([*map(str, key), part])
                    raise SpecError(f"'{where}' is not a list in the spec, so it has no item {parts[i + 1]}; set the whole list: --set '{where}=[...]'", path=f"--set {assignment}")
                data[part] = {}
        else:
            raise SpecError(f"'{'.'.join(map(str, key))}' is not a mapping", path=f"--set {assignment}")
        key.append(index)
        if last:
            data[index] = value
        else:
            data = data[index]
    return tuple(key)
