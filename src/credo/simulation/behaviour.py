"""Behaviour over time: month by month, every subject's events drawn at once, detected or not.

Each behaviour's monthly rate for a subject is its base yearly rate / 12, times the multipliers
of the subject's attribute values, times the subject's own propensity (gamma, mean 1), times the
deterrence multiplier once the subject has been sanctioned. Events are Poisson; each is detected
with the probability for the subject's region, and only detected events become records. A
sanction is a detected record that costs points in one of the subject's programs or opens a
black list: it feeds back into the next month's rates (and so does a tier drop, which only such
a record can cause). A behaviour with `after` happens only to subjects with a detected record
of that behaviour still open (a judgment performed after one defaulted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from dateutil.relativedelta import relativedelta

from credo.rules.model import Rulebook
from credo.simulation.city import KINDS, City
from credo.simulation.spec import BehaviourSpec, PopulationSpec

MICROS = 1_000_000


@dataclass
class Tally:
    """Counts of one behaviour's events: all that happened, and those detected, by region."""

    happened: dict[str, int] = field(default_factory=dict)
    detected: dict[str, int] = field(default_factory=dict)
    subjects_once: int = 0  # subjects with at least one event
    subjects_again: int = 0  # ... and with more than one


@dataclass
class Simulated:
    """The ledger of detected events, and what happened beyond it."""

    ledger: pa.Table
    tallies: dict[str, Tally]


def sanctioning(rulebook: Rulebook) -> dict[str, set[str]]:
    """For each kind, the behaviours whose records cost points or open a black list."""
    result: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for program in rulebook.programs.values():
        for name, rule in program.points.items():
            if rule.sign < 0:
                for kind in program.subjects:
                    result[kind].add(name)
    for listed in rulebook.lists.values():
        if listed.kind == "black":
            for subjects in result.values():
                subjects.update(listed.enter_on)
    return result


def month_starts(start: dt.datetime, months: int) -> list[dt.datetime]:
    """The first instant of each month from `start`, in its zone, and the end of the last one."""
    return [start + relativedelta(months=step) for step in range(months + 1)]


def _base_rates(behaviour: BehaviourSpec, city: City, members: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    rates = np.full(len(members), behaviour.rate / 12.0)
    for attribute, factors in behaviour.multipliers.items():
        values = city.values[attribute]
        table = np.array([factors.get(value, 1.0) for value in values] + [1.0])
        rates *= table[city.attributes[attribute][members]]  # code -1 picks the trailing 1.0
    return rates


def simulate_behaviour(
    spec: PopulationSpec,
    rulebook: Rulebook,
    city: City,
    start: dt.datetime,
    months: int,
    rng: np.random.Generator,
    detection: Callable[[str, BehaviourSpec, str], float] | None = None,
    progress: Callable[[int], None] = lambda _: None,
) -> Simulated:
    """Step month by month; return the detected events as a ledger (id, subject, kind, behaviour, at)."""
    detect = detection or (lambda name, behaviour, region: behaviour.detection_in(region))
    regions = city.values["region"]
    penalties = sanctioning(rulebook)
    sanctioned = np.zeros(len(city), dtype=bool)
    starts = month_starts(start, months)
    plans = []
    for name, behaviour in spec.behaviours.items():
        members = city.of_kind(behaviour.kind)
        propensity = rng.gamma(spec.heterogeneity, 1.0 / spec.heterogeneity, size=len(members))
        chance = np.array([detect(name, behaviour, region) for region in regions])
        plans.append((name, behaviour, members, _base_rates(behaviour, city, members) * propensity,
                      chance[city.attributes["region"][members]]))  # fmt: skip
    open_matters = {name: np.zeros(len(city), dtype=bool) for name in spec.behaviours}
    counts = {name: np.zeros(len(city), dtype=np.int32) for name in spec.behaviours}
    tallies = {name: Tally() for name in spec.behaviours}
    subjects, codes, instants = [], [], []
    names = list(spec.behaviours)
    for month in range(months):
        begin = int(starts[month].timestamp() * MICROS)
        length = int(starts[month + 1].timestamp() * MICROS) - begin
        newly_sanctioned = np.zeros(len(city), dtype=bool)
        for name, behaviour, members, rates, chance in plans:
            # Common random numbers: events are drawn at the undeterred rate and then thinned, so
            # two runs that differ only in detection (or in who is deterred) draw the same numbers
            # and differ only where their rules or detection make them differ.
            events = rng.poisson(rates)
            doing = np.flatnonzero(events)
            who = np.repeat(members[doing], events[doing])
            keep, notice = rng.random(len(who)), rng.random(len(who))
            offsets = rng.integers(0, length, size=len(who))
            factor = np.where(sanctioned[who], behaviour.deterrence, 1.0)
            if behaviour.after is not None:
                factor = factor * open_matters[behaviour.after][who]
            kept = keep < factor
            who, notice, offsets = who[kept], notice[kept], offsets[kept]
            seen = notice < chance[np.searchsorted(members, who)]
            _tally(tallies[name], regions, city.attributes["region"][who], seen)
            np.add.at(counts[name], who, 1)
            caught = who[seen]
            subjects.append(caught)
            codes.append(np.full(len(caught), names.index(name), dtype=np.int16))
            instants.append(begin + offsets[seen])
            open_matters[name][caught] = True
            if behaviour.after is not None and behaviour.once:
                open_matters[behaviour.after][caught] = False
            if name in penalties[behaviour.kind]:
                newly_sanctioned[caught] = True
        sanctioned |= newly_sanctioned  # deterrence works from the next month
        progress(1)
    for name, tally in tallies.items():
        tally.subjects_once = int((counts[name] > 0).sum())
        tally.subjects_again = int((counts[name] > 1).sum())
    return Simulated(_ledger(city, names, subjects, codes, instants), tallies)


def _tally(tally: Tally, regions: list[str], region_codes: npt.NDArray[np.int8], seen: npt.NDArray[np.bool_]) -> None:
    for index, region in enumerate(regions):
        here = region_codes == index
        tally.happened[region] = tally.happened.get(region, 0) + int(here.sum())
        tally.detected[region] = tally.detected.get(region, 0) + int((here & seen).sum())


def _ledger(
    city: City,
    names: list[str],
    subjects: list[npt.NDArray[np.intp]],
    codes: list[npt.NDArray[np.int16]],
    instants: list[npt.NDArray[np.int64]],
) -> pa.Table:
    """The detected events in time order, with the columns of a records file."""
    who = np.concatenate(subjects) if subjects else np.zeros(0, dtype=np.intp)
    what = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int16)
    when = np.concatenate(instants) if instants else np.zeros(0, dtype=np.int64)
    order = np.argsort(when, kind="stable")
    who, what, when = who[order], what[order], when[order]
    kinds = pa.array(list(KINDS))
    return pa.table({
        "id": pc.binary_join_element_wise("sim-", pc.cast(pa.array(np.arange(1, len(who) + 1)), pa.string()), ""),
        "subject": city.ids.take(pa.array(who)),
        "kind": kinds.take(pa.array(city.kind[who])),
        "behaviour": pa.array(names).take(pa.array(what)),
        "at": pa.array(when, type=pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
