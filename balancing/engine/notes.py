"""The engine's notes in words a site owner reads: names instead of ids, and what kind they are.

``circuit-12`` becomes the circuit's name and an OCPP identity the charger's name; a note about a
charger the reader may not see is dropped, and a circuit they may not see is "a fuse".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """One reason the engine gave, reworded with names; ``kind`` drives the icon and colour."""

    text: str
    kind: str  # paused, offline, finished, held, phases, overload, info
    charger_id: int | None = None


_TOKEN = re.compile(r"[A-Za-z0-9._:\-]+")
_CIRCUIT = re.compile(r"circuit-(\d+)")


class NoteWriter:
    """Rewords an engine note: ``circuit-12`` becomes the circuit's name, an OCPP identity the
    charger's name. A note about a charger the reader may not see is dropped (``None``)."""

    def __init__(
        self,
        *,
        circuits: Mapping[int, str],
        chargers: Mapping[str, tuple[int, str]],
        known_chargers: set[str],
    ) -> None:
        self.circuits = circuits
        self.chargers = chargers
        self.hidden = known_chargers - set(chargers)

    def __call__(self, raw: str) -> Note | None:
        subject, _, rest = raw.partition(" ")
        charger = self.chargers.get(subject)
        if subject in self.hidden:
            return None
        text = _TOKEN.sub(self._name, raw)
        return Note(text=text, kind=_kind(rest), charger_id=charger[0] if charger else None)

    def _name(self, match: re.Match[str]) -> str:
        token = match.group(0)
        core = token.rstrip(".:")
        tail = token[len(core) :]
        circuit = _CIRCUIT.fullmatch(core)
        if circuit:
            return self.circuits.get(int(circuit.group(1)), "a fuse") + tail
        if core in self.chargers:
            return self.chargers[core][1] + tail
        if core in self.hidden:
            return "another charger" + tail
        return token


def _kind(rest: str) -> str:
    if rest.startswith("paused:"):
        return "paused"
    if rest.startswith("offline:"):
        return "offline"
    if rest.startswith("finished:"):
        return "finished"
    if rest.startswith("held near"):
        return "held"
    if "1 phase" in rest or "draws on" in rest:
        return "phases"
    if "overloaded" in rest or "imbalance" in rest:
        return "overload"
    return "info"
