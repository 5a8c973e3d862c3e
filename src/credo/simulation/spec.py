"""The population spec: who lives in the synthetic city and how they behave (DESIGN §8).

A YAML file beside a scenario's rulebook (`population.yaml`). Each kind of subject (person,
organization) has a share and attributes drawn from stated distributions, optionally given an
earlier attribute (a group label more common in rural areas, say). Each behaviour has a base
yearly rate, multipliers by attribute value, a gamma-distributed individual propensity, a
detection probability by region and a deterrence multiplier after a sanction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from credo.errors import CredoError
from credo.rules.loader import describe_validation_error, read_yaml
from credo.rules.model import Rulebook

Kind = Literal["person", "organization"]
Share = Annotated[float, Field(ge=0)]


class SpecError(CredoError, ValueError):
    """A population spec that cannot be used: each problem names file, line and key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditional(Strict):
    """An attribute whose distribution depends on an earlier one: `given: region`, then one
    distribution per value of it."""

    model_config = ConfigDict(extra="allow", frozen=True)
    given: str

    def table(self) -> dict[str, dict[str, float]]:
        return {key: value for key, value in (self.model_extra or {}).items()}


Distribution = dict[str, Share]


class KindSpec(Strict):
    share: Share
    attributes: dict[str, Distribution | Conditional] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _region_first(self) -> KindSpec:
        if "region" not in self.attributes:
            raise ValueError("every kind needs a region attribute (detection differs by region)")
        seen: set[str] = set()
        for name, distribution in self.attributes.items():
            if isinstance(distribution, Conditional):
                if distribution.given not in seen:
                    raise ValueError(f"attribute {name!r} is given {distribution.given!r}, which must come before it")
                for value, table in distribution.table().items():
                    if not isinstance(table, dict) or not table:
                        raise ValueError(f"attribute {name!r}: expected a distribution for {value!r}")
            elif not distribution or sum(distribution.values()) <= 0:
                raise ValueError(f"attribute {name!r}: expected shares such as {{urban: 0.6, rural: 0.4}}")
            seen.add(name)
        return self


class BehaviourSpec(Strict):
    kind: Kind = "person"
    rate: Annotated[float, Field(ge=0, description="events per subject and year, before multipliers")]
    multipliers: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = Field(default_factory=dict)
    detection: dict[str, Annotated[float, Field(ge=0, le=1)]] | Annotated[float, Field(ge=0, le=1)] = 1.0
    deterrence: Annotated[float, Field(ge=0, description="rate multiplier once the subject is sanctioned")] = 1.0
    after: str | None = Field(default=None, description="only for subjects with a recorded earlier behaviour")
    once: bool = Field(default=False, description="with `after`: the follow-up closes the matter")

    def detection_in(self, region: str) -> float:
        if isinstance(self.detection, float | int):
            return float(self.detection)
        return float(self.detection.get(region, 1.0))


class PopulationSpec(Strict):
    population: str
    description: str = ""
    illustrative: bool = True
    heterogeneity: Annotated[float, Field(gt=0, description="gamma shape of each subject's propensity")] = 1.0
    kinds: dict[Kind, KindSpec]
    behaviours: dict[str, BehaviourSpec]

    @model_validator(mode="after")
    def _consistent(self) -> PopulationSpec:
        for name, behaviour in self.behaviours.items():
            if behaviour.kind not in self.kinds:
                raise ValueError(f"behaviour {name!r} is done by {behaviour.kind}s, but the spec has none")
            attributes = self.kinds[behaviour.kind].attributes
            for attribute, values in behaviour.multipliers.items():
                if attribute not in attributes:
                    raise ValueError(f"behaviour {name!r}: no attribute {attribute!r} for {behaviour.kind}s")
                known = _values(attributes[attribute])
                for value in values:
                    if value not in known:
                        raise ValueError(f"behaviour {name!r}: {attribute} has no value {value!r}; it has {known}")
            if behaviour.after is not None and behaviour.after not in self.behaviours:
                raise ValueError(f"behaviour {name!r} comes after {behaviour.after!r}, which the spec does not have")
        return self

    def check_against(self, rulebook: Rulebook, file: str) -> None:
        """Every simulated behaviour must be one the rulebook declares."""
        unknown = [name for name in self.behaviours if name not in rulebook.behaviours]
        if unknown:
            raise SpecError(
                [f"{file}: behaviour {name!r} is not in rulebook {rulebook.rulebook!r}" for name in unknown]
            )


def _values(distribution: Distribution | Conditional) -> list[str]:
    if isinstance(distribution, Conditional):
        return sorted({value for table in distribution.table().values() for value in table})
    return list(distribution)


def load_spec(path: str | Path) -> PopulationSpec:
    """Read and validate a population spec; errors name the file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([f"{path}: cannot read the population spec: {exc.strerror or exc}"]) from exc
    try:
        document, source = read_yaml(text, str(path))
    except CredoError as exc:
        raise SpecError(str(exc).splitlines()) from exc
    if not isinstance(document, dict):
        raise SpecError([f"{path}:1: expected a mapping with keys population, kinds, behaviours"])
    try:
        return PopulationSpec.model_validate(document)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, document, source)) from exc


def values_of(spec: PopulationSpec, kind: str, attribute: str) -> list[str]:
    return _values(spec.kinds[kind].attributes[attribute])  # type: ignore[index]
