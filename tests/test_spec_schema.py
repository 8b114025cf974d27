"""The spec's sections are one table (ganforge.spec.schema.SCHEMA): validation, resume and the
unknown-section hint all follow a row added to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ganforge.plugins import Plugins
from ganforge.spec import parse_spec
from ganforge.spec import schema as spec_schema
from ganforge.spec.resolve import SpecErrors, resolve
from ganforge.spec.schema import SCHEMA, Section
from ganforge.spec.settings import resumable
from ganforge.training.resume import changed_keys
from ganforge.types import NonNegativeInt, PositiveInt

from .conftest import TINY_SPEC, invoke


@dataclass
class NotesConfig:
    """A settings section added for the test.

    pages: a number that may not change on resume.
    title: a title that may.
    """

    pages: PositiveInt = 1
    title: str = resumable("untitled")


@pytest.fixture
def with_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = (*SCHEMA, Section("notes", "settings", settings=NotesConfig), Section("owner", "value", hint=str, default="nobody", resumable=True))
    monkeypatch.setattr(spec_schema, "SCHEMA", rows)
    monkeypatch.setattr("ganforge.spec.resolve.SCHEMA", rows)


def test_every_section_is_a_row() -> None:
    assert spec_schema.section_names()[:3] == ["name", "seed", "device"]
    assert {s.name: s.kind for s in spec_schema.component_sections()} == {
        "generator": "generator", "discriminator": "discriminator", "loss": "loss", "data": "dataset",
        "augment": "augment", "penalties": "loss", "metrics": "metric",
    }  # fmt: skip
    assert dict(spec_schema.reserved_of("data")) == {
        "batch_size": (64, PositiveInt), "workers": (2, NonNegativeInt), "in_memory": (None, bool | None), "mirror": (False, bool),
    }  # fmt: skip
    assert spec_schema.may_change("train.steps") and not spec_schema.may_change("train.precision")
    assert spec_schema.may_change("data.workers") and spec_schema.may_change("data.in_memory")  # how the data is read
    assert not spec_schema.may_change("data.mirror") and not spec_schema.may_change("data.batch_size")  # what is read
    assert spec_schema.may_change("metrics.0.every") and not spec_schema.may_change("loss.name")


def test_a_new_row_is_validated_resolved_and_resumed(with_notes: None, plugins: Plugins) -> None:
    resolved = resolve(parse_spec(TINY_SPEC + "notes: {pages: 3}\nowner: me\n"), plugins.registry)
    assert resolved["notes"] == {"pages": 3, "title": "untitled"} and resolved["owner"] == "me"
    assert resolve(parse_spec(TINY_SPEC), plugins.registry)["owner"] == "nobody"
    with pytest.raises(SpecErrors, match=r"notes\.pages: .*>= 1"):
        resolve(parse_spec(TINY_SPEC + "notes: {pages: 0}\n"), plugins.registry)
    with pytest.raises(SpecErrors, match=r"unknown parameter 'page' for notes \(did you mean 'pages'\?\)"):
        resolve(parse_spec(TINY_SPEC + "notes: {page: 2}\n"), plugins.registry)
    before = {"notes": {"pages": 3, "title": "a"}, "owner": "me"}
    assert changed_keys(before, {"notes": {"pages": 3, "title": "b"}, "owner": "you"}) == []
    assert changed_keys(before, {"notes": {"pages": 4, "title": "a"}, "owner": "me"}) == ["notes.pages"]


def test_an_unknown_section_is_told_the_rows(with_notes: None, tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(TINY_SPEC + "note: {pages: 2}\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 2 and "unknown section 'note' (did you mean 'notes'?)" in result.stderr
