"""Reading and checking the query of a sample request: every mistake becomes a
:class:`BadRequest` with a message that says what to send instead."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from ganforge.artifacts.sampling import Sampler
from ganforge.errors import GanforgeError

PARAMETERS: tuple[str, ...] = ("class", "n", "seed", "truncation")
MAX_SAMPLES = 256
#: below this, redrawing latents until they fit takes long enough to stall a request.
MIN_TRUNCATION = 0.05
MAX_SEED = 2**63 - 1
MAX_FIELDS = 20


class BadRequest(Exception):
    """A request the client must change: answered with status 400 and a JSON body."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": str(self), **self.details}


@dataclass
class SampleQuery:
    """A checked request for a sample grid. An empty value means the default."""

    n: int = 16
    seed: int = 0
    label: int | None = None
    truncation: float | None = None
    class_name: str | None = None
    given: dict[str, str] = field(default_factory=dict)

    def url(self, path: str = "/sample") -> str:
        """The URL asking for exactly this query."""
        return f"{path}?{urlencode(self.given)}" if self.given else path


def parse_sample_query(query: str, sampler: Sampler) -> SampleQuery:
    """Parse ``class``, ``n``, ``seed`` and ``truncation`` from a URL query string."""
    values: dict[str, str] = {}
    try:
        fields = parse_qs(query, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadRequest(f"too many parameters (more than {MAX_FIELDS}); the parameters are {', '.join(PARAMETERS)}") from None
    for name, given in fields.items():
        if name not in PARAMETERS:
            raise BadRequest(f"unknown parameter '{name}'; the parameters are {', '.join(PARAMETERS)}", parameters=list(PARAMETERS))
        if len(given) > 1:
            raise BadRequest(f"parameter '{name}' is given {len(given)} times; give it once")
        if given[0].strip():
            values[name] = given[0].strip()
    parsed = SampleQuery(given=dict(values))
    if "n" in values:
        parsed.n = _integer("n", values["n"], 1, MAX_SAMPLES, "the number of samples")
    if "seed" in values:
        parsed.seed = _integer("seed", values["seed"], 0, MAX_SEED, "the seed of the latents")
    if "truncation" in values:
        parsed.truncation = _truncation(values["truncation"])
    if "class" in values:
        if not sampler.conditional:
            raise BadRequest("this generator is not class-conditional; leave out 'class'", classes=[])
        try:
            parsed.label = sampler.class_index(values["class"])
        except GanforgeError:
            raise BadRequest(
                f"unknown class '{values['class']}'; valid classes (name or index): {', '.join(sampler.class_names)}",
                classes=sampler.class_names,
            ) from None
        parsed.class_name = sampler.class_names[parsed.label]
    return parsed


def _integer(name: str, text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"'{name}' is {what}: a whole number from {low} to {high}, got '{text}'") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be from {low} to {high}, got {value}")
    return value


def _truncation(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not value >= MIN_TRUNCATION:
        raise BadRequest(f"'truncation' is the latent threshold: a number of at least {MIN_TRUNCATION} such as 0.7, got '{text}'")
    return value
