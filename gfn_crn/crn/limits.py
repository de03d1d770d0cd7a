"""Resource limits on user files, checked before the expensive work (issue 17).

A 10 MB network file (369,000 reactions over 3,000 species) used to run the machine out of
memory after 84 s: the simulator's dense matrices grow as species x reactions and species^2 per
system. Files are now refused up front, by size before they are read, by species count when the
``species:`` line is parsed and by reaction count as soon as one reaction too many is read.

Defaults (generous for designs: the largest library, 6-species mass action, has 756 reactions):

================  =========  ===========================
limit             default    override
================  =========  ===========================
file size         4 MB       ``GFN_CRN_MAX_FILE_MB``
species           500        ``GFN_CRN_MAX_SPECIES``
reactions         20,000     ``GFN_CRN_MAX_REACTIONS``
time points       100,000    ``GFN_CRN_MAX_POINTS``
simulation size   2,000 MB   ``GFN_CRN_MAX_SIM_MB``
================  =========  ===========================

The simulation-size limit guards one ``simulate`` call: its trajectories are networks x
scenarios x points x species float64 values, allocated at once (``simulate(max_memory_mb=...)``
overrides it for one call).

The time-point limit guards ``--points`` and task files' ``n_t``: every trajectory is stored at
every point, so 10^8 points is 800 MB per species and scenario.

Set an environment variable to raise (or lower) a limit for one command, e.g.
``GFN_CRN_MAX_REACTIONS=100000 gfn-crn simulate big.crn``; in Python pass ``limits=Limits(...)``
to :func:`gfn_crn.crn.load_network` / :func:`gfn_crn.crn.parse_network`. Each error names the
file, the count, the limit and the variable that raises it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import CRNError

ENV_FILE_MB = "GFN_CRN_MAX_FILE_MB"
ENV_SPECIES = "GFN_CRN_MAX_SPECIES"
ENV_REACTIONS = "GFN_CRN_MAX_REACTIONS"
ENV_POINTS = "GFN_CRN_MAX_POINTS"
ENV_SIM_MB = "GFN_CRN_MAX_SIM_MB"
DEFAULT_FILE_MB = 4.0
DEFAULT_SPECIES = 500
DEFAULT_REACTIONS = 20_000
DEFAULT_POINTS = 100_000
DEFAULT_SIM_MB = 2000.0


def _env_number(name: str, default: float, integer: bool) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        v = float(raw)
    except ValueError:
        raise CRNError(f"environment variable {name}={raw!r} is not a number") from None
    if not v > 0 or v != v or v == float("inf"):
        raise CRNError(f"environment variable {name}={raw!r} must be a positive finite number")
    return int(v) if integer else v


@dataclass(frozen=True)
class Limits:
    """Largest accepted input: file size in MB (10^6 bytes), species, reactions, time points."""

    file_mb: float = DEFAULT_FILE_MB
    species: int = DEFAULT_SPECIES
    reactions: int = DEFAULT_REACTIONS
    points: int = DEFAULT_POINTS

    @classmethod
    def from_env(cls) -> "Limits":
        """The defaults, overridden by ``GFN_CRN_MAX_FILE_MB``, ``_SPECIES``, ``_REACTIONS``."""
        return cls(_env_number(ENV_FILE_MB, DEFAULT_FILE_MB, False),
                   _env_number(ENV_SPECIES, DEFAULT_SPECIES, True),
                   _env_number(ENV_REACTIONS, DEFAULT_REACTIONS, True),
                   _env_number(ENV_POINTS, DEFAULT_POINTS, True))

    @property
    def file_bytes(self) -> int:
        return int(self.file_mb * 1e6)

    def check_species(self, n: int, where: str = "") -> None:
        if n > self.species:
            raise CRNError(f"{where}{n} species, more than the limit of {self.species} "
                           f"(set {ENV_SPECIES}={n} to allow it)")

    def check_reactions(self, n: int, where: str = "") -> None:
        if n > self.reactions:
            raise CRNError(f"{where}more than {self.reactions} reactions, the limit "
                           f"(set {ENV_REACTIONS} higher to allow more)")


def check_points(n, what: str = "time grid") -> None:
    """Raise when a time grid of ``n`` points is over the limit (before it is allocated)."""
    lim = Limits.from_env()
    if n > lim.points:
        raise CRNError(f"{what}: {n} time points, more than the limit of {lim.points} "
                       f"(set {ENV_POINTS}={int(n)} to allow it)")


def check_simulation_size(networks: int, scenarios: int, points: int, species: int,
                          max_mb: float | None = None) -> None:
    """Raise before a simulation whose trajectories (networks x scenarios x points x species
    float64 values, what one ``simulate`` call returns) would take more than ``max_mb`` MB
    (default: ``GFN_CRN_MAX_SIM_MB``, else 2,000 MB). The error names every factor and both ways to
    raise the limit."""
    limit = _env_number(ENV_SIM_MB, DEFAULT_SIM_MB, False) if max_mb is None else float(max_mb)
    values = int(networks) * int(scenarios) * int(points) * int(species)
    mb = values * 8 / 1e6
    if mb > limit:
        raise CRNError(f"simulation too large: {networks} networks x {scenarios} scenarios x {points} time points x "
                       f"{species} species = {values:,} values, {mb:,.1f} MB of trajectories, more than the limit of "
                       f"{limit:,g} MB; simulate fewer networks at a time (chunk_size, batch_size) or fewer points, "
                       f"or raise the limit (set {ENV_SIM_MB}={mb * 1.01 + 1:.0f}, or pass max_memory_mb)")


def current_limits(limits: Limits | None = None) -> Limits:
    return limits if limits is not None else Limits.from_env()


def read_text(path, what: str = "file", limits: Limits | None = None) -> str:
    """The UTF-8 text of ``path``; a clean :class:`CRNError` naming ``path`` when it is missing,
    a directory, unreadable, larger than the file-size limit (checked before reading) or not text."""
    p = Path(path)
    lim = current_limits(limits)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise CRNError(f"cannot read {what} {p}: it does not exist") from None
    except OSError as e:
        raise CRNError(f"cannot read {what} {p}: {e.strerror or e}") from None
    if p.is_dir():
        raise CRNError(f"{what} {p} is a directory, not a file")
    if size > lim.file_bytes:
        raise CRNError(f"{what} {p} is {size / 1e6:.1f} MB, more than the limit of {lim.file_mb:g} MB "
                       f"(set {ENV_FILE_MB}={size / 1e6 * 1.01 + 0.01:.2f} to allow it)")
    try:
        with open(p, "rb") as fh:
            data = fh.read(lim.file_bytes + 1)
    except OSError as e:
        raise CRNError(f"cannot read {what} {p}: {e.strerror or e}") from None
    if len(data) > lim.file_bytes:  # grew, or a device/pipe that reports no size
        raise CRNError(f"{what} {p} is larger than the limit of {lim.file_mb:g} MB (set {ENV_FILE_MB} to allow it)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CRNError(f"{what} {p} is not a text file (a NUL byte at offset {nul})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CRNError(f"{what} {p} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


__all__ = ["Limits", "current_limits", "read_text", "check_points", "check_simulation_size", "ENV_SIM_MB", "ENV_POINTS", "ENV_FILE_MB", "ENV_SPECIES", "ENV_REACTIONS"]
