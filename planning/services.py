"""Capacity planning: a what-if on an installation's history, and a new site from a preset.

``what_if`` replays the installation's real sessions (``planning.history``) twice: with today's
setup, which validates the replay against what history recorded, and with the changes
(``planning.changes``); ``new_site`` replays the visits of a preset on a site described by its
fuses and chargers. Both return a ``Report``: the figures side by side, ready for the page, the
API's JSON (``Report.as_dict``) and the CSV/Excel export (``Report.table``).

A site of up to ``PLANNING_MAX_CHARGERS`` chargers is replayed while the request waits (a few
seconds at most: the replay's solves are bounded by its time grid, ``replay.grid_step_s``,
never by the number of cars); a larger one raises ``TooLargeToWait`` and the page or API runs it
as a background job (``planning.jobs``), so a web worker is never held for long
(``bench.planning``: a 1,000-charger depot over 30 days in docs/benchmarks.md).

Errors are one class, ``PlanningError``, with a message per field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from balancing.models import BalancingDecision
from balancing.snapshot import fuse_id
from chargers.models import Charger, ChargeSession
from installations.models import Circuit, Installation
from planning import presets
from planning.changes import Changes, changed_site, extra_visits, failsafe_problem, problems
from planning.history import History, load_history
from planning.replay import ChargerSpec, FuseSpec, Outcome, Site, replay
from portal.tenancy import Action
from reporting.exports import Column, Kind, Table

DEFAULT_DAYS = 28
MAX_DAYS = 92
MAX_NEW_SITE_DAYS = 31
VALIDATION_TOLERANCE = 0.05
ROTATIONS = ("L1L2L3", "L2L3L1", "L3L1L2")


class TooLargeToWait(Exception):
    """The site is larger than a replay while a request waits (``PLANNING_MAX_CHARGERS``): run
    it as a background job (``planning.jobs``)."""


class PlanningError(Exception):
    """A what-if that cannot be run; ``fields`` maps each offending field to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields


@dataclass
class Scenario:
    """One column of the report: a setup and what it achieved."""

    name: str
    label: str
    site: Site
    outcome: Outcome
    turned_away: int = 0

    @property
    def main_fuse_a(self) -> float:
        return self.site.main_fuse.limit_a


@dataclass
class Validation:
    """Today's replay against history: the replay validates itself."""

    recorded_kwh: float
    replayed_kwh: float

    @property
    def difference_percent(self) -> float:
        if self.recorded_kwh <= 0:
            return 0.0
        return (self.replayed_kwh - self.recorded_kwh) / self.recorded_kwh * 100

    @property
    def within_tolerance(self) -> bool:
        return abs(self.difference_percent) <= VALIDATION_TOLERANCE * 100


@dataclass
class Report:
    """A what-if's or a new site's figures, per scenario."""

    title: str
    start: datetime
    end: datetime
    zone: tzinfo
    scenarios: list[Scenario]
    changes: list[str] = field(default_factory=list)
    validation: Validation | None = None
    base_load_share: float = 0.0
    notes: list[str] = field(default_factory=list)
    installation_id: int | None = None

    @property
    def step_minutes(self) -> int:
        return self.scenarios[0].outcome.step_s // 60

    def as_dict(self) -> dict[str, Any]:
        """The report as the API's JSON."""
        return {
            "installation": self.installation_id,
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "step_minutes": self.step_minutes,
            "base_load_known_share": round(self.base_load_share, 3),
            "changes": self.changes,
            "notes": self.notes,
            "validation": None
            if self.validation is None
            else {
                "recorded_kwh": round(self.validation.recorded_kwh, 3),
                "replayed_kwh": round(self.validation.replayed_kwh, 3),
                "difference_percent": round(self.validation.difference_percent, 2),
                "within_tolerance": self.validation.within_tolerance,
            },
            "scenarios": [_scenario_dict(scenario) for scenario in self.scenarios],
        }

    def figures(self) -> list[tuple[str, list[str]]]:
        """Each figure's label and its value per scenario (the page's table, the export's)."""
        return [(label, [value(s) for s in self.scenarios]) for label, value in FIGURES]

    def labelled_figures(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The figures with each value's scenario label (a phone shows it next to the value)."""
        labels = [scenario.label for scenario in self.scenarios]
        return [(label, list(zip(labels, values, strict=True))) for label, values in self.figures()]

    def table(self) -> Table:
        """The report for the CSV/Excel export: one row per figure, one column per scenario."""
        columns = [Column("Figure", Kind.TEXT, 34)] + [
            Column(scenario.label, Kind.TEXT, 18) for scenario in self.scenarios
        ]
        rows: list[list[Any]] = []
        for label, values in self.figures():
            rows.append([label, *values])
        if self.validation is not None:
            # Today's column only: the record is today's setup.
            blank = [""] * (len(self.scenarios) - 1)
            rows.append(["Recorded energy (kWh)", f"{self.validation.recorded_kwh:.1f}", *blank])
            rows.append(
                [
                    "Replay against the record (%)",
                    f"{self.validation.difference_percent:+.1f}",
                    *blank,
                ]
            )
        profile = {
            scenario.name: dict(scenario.outcome.day_profile_a) for scenario in self.scenarios
        }
        slots = sorted({slot for values in profile.values() for slot in values})
        for slot in slots:
            rows.append(
                [
                    f"Average load at {slot // 3600:02d}:{slot % 3600 // 60:02d} (A)",
                    *(
                        f"{profile[scenario.name].get(slot, 0.0):.1f}"
                        for scenario in self.scenarios
                    ),
                ]
            )
        filters = {
            "Period": f"{self.start.astimezone(self.zone):%Y-%m-%d %H:%M} to "
            f"{self.end.astimezone(self.zone):%Y-%m-%d %H:%M}",
        }
        if self.changes:
            filters["Changes"] = "; ".join(self.changes)
        return Table(
            title=re.sub(r"[\[\]:*?/\\]", " ", self.title),  # a sheet's name cannot hold them
            columns=columns,
            rows=rows,
            filters=filters,
            exported_at=timezone.now().astimezone(self.zone),
            time_zone=str(self.zone),
        )


FIGURES: list[tuple[str, Any]] = [
    ("Chargers", lambda s: str(len(s.site.chargers))),
    ("Main fuse (A)", lambda s: f"{s.main_fuse_a:g}"),
    ("Cars", lambda s: str(s.outcome.cars)),
    ("Cars without a free charger", lambda s: str(s.turned_away)),
    ("Energy wanted (kWh)", lambda s: f"{s.outcome.needed_kwh:.1f}"),
    ("Energy delivered (kWh)", lambda s: f"{s.outcome.delivered_kwh:.1f}"),
    ("Energy not delivered (kWh)", lambda s: f"{s.outcome.not_delivered_kwh:.1f}"),
    ("Cars that left below their need", lambda s: str(s.outcome.cars_short)),
    ("Hours at a fuse limit", lambda s: f"{s.outcome.hours_at_limit:.1f}"),
    *(
        (f"Peak on {name}, main fuse (A)", lambda s, i=i: f"{s.outcome.peak_main_a[i]:.1f}")
        for i, name in enumerate(("L1", "L2", "L3"))
    ),
]


def _scenario_dict(scenario: Scenario) -> dict[str, Any]:
    outcome = scenario.outcome
    return {
        "name": scenario.name,
        "label": scenario.label,
        "chargers": len(scenario.site.chargers),
        "main_fuse_a": scenario.main_fuse_a,
        "failsafe_current_a": scenario.site.failsafe_current_a,
        "max_phase_imbalance_a": scenario.site.max_phase_imbalance_a,
        "cars": outcome.cars,
        "cars_without_free_charger": scenario.turned_away,
        "needed_kwh": round(outcome.needed_kwh, 3),
        "delivered_kwh": round(outcome.delivered_kwh, 3),
        "not_delivered_kwh": round(outcome.not_delivered_kwh, 3),
        "cars_short": outcome.cars_short,
        "hours_at_fuse_limit": round(outcome.hours_at_limit, 2),
        "peak_main_a": outcome.peak_main_a,
        "solves": outcome.solves,
        "day_profile": [
            {"time": f"{slot // 3600:02d}:{slot % 3600 // 60:02d}", "load_a": round(amps, 1)}
            for slot, amps in outcome.day_profile_a
        ],
    }


# ---------- What-if on an installation ----------


def what_if(
    installation: Installation,
    user: AbstractBaseUser,
    changes: Changes,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    inline: bool = True,
) -> Report:
    """Replay the installation's last ``days`` days with today's setup and with ``changes``.
    Every query goes through ``restrict(user, Action.OPERATE)``: owners and installers.
    ``inline``: a request waits for it, so a site too large raises ``TooLargeToWait`` (after
    the checks, so a bad request still gets its 400 at once)."""
    if not 1 <= days <= MAX_DAYS:
        raise PlanningError({"days": f"Give 1 to {MAX_DAYS} days."})
    end = (now or timezone.now()).replace(microsecond=0)
    start = end - timedelta(days=days)
    history = load_history(
        installation,
        start,
        end,
        circuits=Circuit.objects.restrict(user, Action.OPERATE),
        chargers=Charger.objects.restrict(user, Action.OPERATE),
        sessions=ChargeSession.objects.restrict(user, Action.OPERATE),
        decisions=BalancingDecision.objects.restrict(user, Action.OPERATE),
    )
    return replay_history(history, changes, installation=installation, inline=inline)


def replay_history(
    history: History,
    changes: Changes,
    *,
    installation: Installation | None = None,
    inline: bool = False,
) -> Report:
    """The report of a loaded history: today, checked against the record, and changed."""
    site = history.site
    if not site.fuses:
        raise PlanningError({"main_fuse_a": "The installation has no main fuse yet."})
    found = problems(site, changes)
    if found:
        raise PlanningError(found)
    if not history.visits:
        raise PlanningError(
            {
                "days": "No charging sessions began in this period: nothing to replay. "
                "Choose a longer period, or plan a new site."
            }
        )
    changed = changed_site(site, changes)
    _check_size(changed, inline=inline)
    zone = ZoneInfo(installation.time_zone) if installation else ZoneInfo("UTC")
    today = replay(
        site, history.visits, history.start, history.end, base_load=history.base_load, zone=zone
    )
    scenarios = [Scenario("today", "Today", site, today)]
    if not changes.is_empty:
        added, turned_away = extra_visits(history.visits, site, changes, history.start, history.end)
        outcome = replay(
            changed,
            [*history.visits, *added],
            history.start,
            history.end,
            base_load=history.base_load,
            step_s=today.step_s,
            zone=zone,
        )
        scenarios.append(Scenario("changed", "Changed", changed, outcome, turned_away))
    notes = [
        f"Arrivals and departures are rounded to {today.step_s // 60}-minute steps, which "
        "shortens some stays and lengthens others: read today's column as the baseline of the "
        "changed one (a few cars may show as short today that were not)."
    ]
    if history.base_load_share <= 0:
        notes.append(
            "No stored balancing decision carries a base load for this period (no building "
            "meter, or the decisions were pruned): the replay assumes none."
        )
    elif history.base_load_share < 0.999:
        notes.append(
            f"The base load is known for the last {history.base_load_share:.0%} of the period "
            "(older balancing decisions are pruned); before that the replay assumes none."
        )
    return Report(
        title=f"What if: {installation.name}" if installation else "What if",
        start=history.start,
        end=history.end,
        zone=zone,
        scenarios=scenarios,
        changes=describe(changes, history.fuse_names),
        validation=Validation(history.recorded_kwh, today.delivered_kwh),
        base_load_share=history.base_load_share,
        notes=notes,
        installation_id=installation.pk if installation else None,
    )


def changes_for(installation: Installation, data: dict[str, Any]) -> Changes:
    """Changes from validated form or serializer data (circuits given as Circuit rows)."""
    extra_circuit = data.get("extra_chargers_circuit")
    circuit = data.get("circuit")
    return Changes(
        extra_chargers=data.get("extra_chargers") or 0,
        extra_chargers_fuse=fuse_id(extra_circuit.pk) if extra_circuit else None,
        extra_charger_max_current_a=data.get("extra_charger_max_current_a") or 32.0,
        extra_charger_phases=int(data.get("extra_charger_phases") or 3),
        main_fuse_a=data.get("main_fuse_a"),
        circuit_fuse=fuse_id(circuit.pk) if circuit else None,
        circuit_a=data.get("circuit_a"),
        failsafe_current_a=data.get("failsafe_current_a"),
        max_phase_imbalance_a=data.get("max_phase_imbalance_a"),
        more_cars_percent=data.get("more_cars_percent") or 0.0,
        seed=data.get("seed") or 1,
    )


def describe(changes: Changes, fuse_names: dict[str, str]) -> list[str]:
    """The changes in words, for the report's heading and the export."""
    said = []
    if changes.extra_chargers:
        said.append(
            f"{changes.extra_chargers} more {changes.extra_charger_phases}-phase "
            f"{changes.extra_charger_max_current_a:g} A charger"
            f"{'s' if changes.extra_chargers != 1 else ''} on "
            f"{fuse_names.get(changes.extra_chargers_fuse or '', 'the main fuse')}"
        )
    if changes.main_fuse_a is not None:
        said.append(f"main fuse {changes.main_fuse_a:g} A")
    if changes.circuit_a is not None:
        said.append(
            f"{fuse_names.get(changes.circuit_fuse or '', 'circuit')} {changes.circuit_a:g} A"
        )
    if changes.failsafe_current_a is not None:
        said.append(f"failsafe current {changes.failsafe_current_a:g} A")
    if changes.max_phase_imbalance_a is not None:
        said.append(f"phase imbalance at most {changes.max_phase_imbalance_a:g} A")
    if changes.more_cars_percent:
        said.append(f"{changes.more_cars_percent:g} % more cars")
    return said


def _check_size(site: Site, *, inline: bool) -> None:
    if inline and len(site.chargers) > settings.PLANNING_MAX_CHARGERS:
        raise TooLargeToWait(len(site.chargers))


# ---------- A new site ----------


@dataclass(frozen=True)
class NewSite:
    """A site without history: one main fuse, equal circuits below it, equal chargers."""

    preset: presets.PresetName
    main_fuse_a: float
    circuits: int
    circuit_a: float
    chargers_per_circuit: int
    charger_max_current_a: float = 32.0
    charger_phases: int = 3
    failsafe_current_a: float = 6.0
    max_phase_imbalance_a: float | None = None
    base_load_a: float = 0.0
    days: int = 7
    seed: int = 1

    def site(self) -> Site:
        fuses = [FuseSpec("main", None, self.main_fuse_a, "Main fuse")]
        chargers = []
        for number in range(1, self.circuits + 1):
            fuses.append(FuseSpec(f"circuit-{number}", "main", self.circuit_a, f"Circuit {number}"))
            for bay in range(1, self.chargers_per_circuit + 1):
                chargers.append(
                    ChargerSpec(
                        id=f"c{number}-{bay}",
                        fuse=f"circuit-{number}",
                        phases=self.charger_phases,
                        rotation=ROTATIONS[(bay + number) % 3],
                        max_current_a=self.charger_max_current_a,
                    )
                )
        return Site(
            fuses=tuple(fuses),
            chargers=tuple(chargers),
            failsafe_current_a=self.failsafe_current_a,
            max_phase_imbalance_a=self.max_phase_imbalance_a,
        )


def new_site(
    plan: NewSite,
    *,
    today: date | None = None,
    zone: tzinfo | None = None,
    inline: bool = True,
) -> Report:
    """Replay a preset's visits on a new site from the next Monday, for ``plan.days`` days
    (``inline``: as ``what_if``)."""
    problems_found: dict[str, str] = {}
    if plan.circuits * plan.chargers_per_circuit <= 0:
        problems_found["chargers_per_circuit"] = "A site needs at least one charger."
    if plan.circuit_a > plan.main_fuse_a:
        problems_found["circuit_a"] = (
            f"{plan.circuit_a:g} A is above the main fuse ({plan.main_fuse_a:g} A)."
        )
    if plan.charger_max_current_a > plan.circuit_a:
        problems_found["charger_max_current_a"] = (
            f"{plan.charger_max_current_a:g} A is above a circuit ({plan.circuit_a:g} A)."
        )
    if plan.base_load_a >= plan.main_fuse_a:
        problems_found["base_load_a"] = "The building alone would fill the main fuse."
    if not 1 <= plan.days <= MAX_NEW_SITE_DAYS:
        problems_found["days"] = f"Give 1 to {MAX_NEW_SITE_DAYS} days."
    if problems_found:
        raise PlanningError(problems_found)
    site = plan.site()
    problem = failsafe_problem(site)
    if problem:
        raise PlanningError({"failsafe_current_a": problem})
    _check_size(site, inline=inline)
    zone = zone or ZoneInfo(settings.TIME_ZONE)
    today = today or timezone.now().astimezone(zone).date()
    first_day = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    start = datetime.combine(first_day, time(0), zone)
    end = start + timedelta(days=plan.days)
    preset = presets.PRESETS[plan.preset]
    visits = presets.visits(preset, site.chargers, first_day, plan.days, zone, seed=plan.seed)
    base = [(start, {"main": [plan.base_load_a] * 3})] if plan.base_load_a else []
    outcome = replay(site, visits, start, end, base_load=base, zone=zone)
    return Report(
        title=f"New site: {preset.label}",
        start=start,
        end=end,
        zone=zone,
        scenarios=[Scenario("plan", "Planned", site, outcome)],
        changes=[
            f"{plan.circuits} circuit{'s' if plan.circuits != 1 else ''} of {plan.circuit_a:g} A "
            f"with {plan.chargers_per_circuit} {plan.charger_phases}-phase "
            f"{plan.charger_max_current_a:g} A chargers each, main fuse {plan.main_fuse_a:g} A"
        ],
        notes=[f"Cars drawn from the preset {preset.label!r} (seed {plan.seed})."],
    )
