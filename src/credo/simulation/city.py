"""A synthetic city: every subject's kind and attributes, drawn as columns from the spec."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from credo.simulation.spec import Conditional, PopulationSpec, values_of

KINDS = ("person", "organization")
PREFIX = {"person": "p", "organization": "o"}


@dataclass
class City:
    """Subjects as columns: an id, a kind, and for each attribute the index of its value (-1: none)."""

    ids: pa.Array
    kind: npt.NDArray[np.int8]
    attributes: dict[str, npt.NDArray[np.int8]] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kind)

    def of_kind(self, kind: str) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.kind == KINDS.index(kind))

    def labels(self, attribute: str) -> pa.Array:
        """The attribute's value of every subject, as text (null where the kind has none)."""
        codes = self.attributes[attribute]
        return pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=codes < 0).cast(pa.int8()), pa.array(self.values[attribute])
        ).cast(pa.string())

    def table(self) -> pa.Table:
        columns = {"subject": self.ids, "kind": pa.array([KINDS[k] for k in range(2)]).take(pa.array(self.kind))}
        columns.update({name: self.labels(name) for name in self.attributes})
        return pa.table(columns)


def _draw(rng: np.random.Generator, shares: dict[str, float], values: list[str], size: int) -> npt.NDArray[np.int8]:
    weights = np.array([shares.get(value, 0.0) for value in values], dtype=float)
    return rng.choice(len(values), size=size, p=weights / weights.sum()).astype(np.int8)


def _ids(prefix: str, count: int) -> pa.Array:
    """p0000001, p0000002, ...: sortable ids that say their kind."""
    numbers = pc.cast(pa.array(np.arange(1, count + 1)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, 7, "0"), "")


def draw_city(spec: PopulationSpec, size: int, rng: np.random.Generator) -> City:
    """`size` subjects split between the kinds by their shares, with their attributes drawn."""
    kinds = [kind for kind in KINDS if kind in spec.kinds]
    shares = np.array([spec.kinds[kind].share for kind in kinds], dtype=float)
    counts = np.floor(shares / shares.sum() * size).astype(int)
    counts[0] += size - counts.sum()  # rounding goes to the first kind
    kind = np.concatenate(
        [np.full(count, KINDS.index(name), dtype=np.int8) for name, count in zip(kinds, counts, strict=True)]
    )
    ids = pa.concat_arrays([_ids(PREFIX[name], count) for name, count in zip(kinds, counts, strict=True)])
    names = list(dict.fromkeys(attribute for name in kinds for attribute in spec.kinds[name].attributes))
    city = City(ids, kind)
    for attribute in names:
        values = sorted({value for name in kinds if attribute in spec.kinds[name].attributes
                         for value in values_of(spec, name, attribute)})  # fmt: skip
        codes = np.full(size, -1, dtype=np.int8)
        for name in kinds:
            distribution = spec.kinds[name].attributes.get(attribute)
            if distribution is None:
                continue
            members = city.of_kind(name)
            if isinstance(distribution, Conditional):
                given = city.attributes[distribution.given]
                for value, table in distribution.table().items():
                    chosen = members[given[members] == city.values[distribution.given].index(value)]
                    codes[chosen] = _draw(rng, table, values, len(chosen))
            else:
                codes[members] = _draw(rng, distribution, values, len(members))
        city.attributes[attribute] = codes
        city.values[attribute] = values
    return city
