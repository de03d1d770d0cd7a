"""Where commands may write: nothing the user owns is ever replaced (issue 17).

Rules (``docs/cli.md``):

* a run directory (``gfn-crn train --out DIR``, ``gfn-crn demo --out DIR``) is new, empty, or a
  previous run (``config.toml`` plus ``metrics.jsonl`` or a checkpoint), which ``--overwrite``
  replaces; a directory of other files is refused, naming them, unless ``--allow-nonempty``,
  and even then a file of the same name as one the run writes is refused, never replaced;
* a file named on the command line (``--plot``, ``sample --out``, ``export --out``) that already
  exists is replaced only with ``--overwrite``;
* a path that must be a directory but names a file (or the other way round) is a clean error.

Everything here raises :class:`~gfn_crn.crn.CRNError` naming the path, so the command line
prints one ``gfn-crn: error: ...`` line. No heavy imports (the command line loads this early).
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable, Sequence

from .crn.errors import CRNError

#: files (glob patterns) that make a directory a gfn-crn run directory, beside ``config.toml``
RUN_MARKERS = ("metrics.jsonl", "checkpoint.pt", "checkpoint.prev.pt")
#: every name a run writes at its top level, temporary files included (``gfn_crn/training/run.py`` lists
#: them; ``tests/test_product.py`` checks this list against what a CLI run, resume and sample write)
RUN_FILES = ("config.toml", "metrics.jsonl", "checkpoint.pt", "checkpoint.pt.tmp", "checkpoint.prev.pt",
             "archive.json", "archive.txt", "samples.jsonl", "sampled_*.jsonl", "designs", "*.png",
             "summary.json", "report.md", "mechanisms.json", "archive.json.tmp", "archive.txt.tmp", "metrics.jsonl.tmp")


def _names(items: Sequence[str], most: int = 6) -> str:
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def is_run_dir(d) -> bool:
    """``d`` holds a gfn-crn run: ``config.toml`` and metrics or a checkpoint."""
    d = Path(d)
    return d.is_dir() and (d / "config.toml").is_file() and any((d / m).exists() for m in RUN_MARKERS)


def clashes(d, patterns: Iterable[str] = RUN_FILES) -> list[str]:
    """Entries of directory ``d`` whose names match ``patterns`` (sorted)."""
    pats = tuple(patterns)
    return sorted(n for n in os.listdir(d) if any(fnmatch.fnmatchcase(n, p) for p in pats))


def check_run_dir(out, *, overwrite: bool = False, allow_nonempty: bool = False, what: str = "--out") -> None:
    """Raise unless a run may be written to directory ``out`` (see the module doc).

    A previous run needs ``overwrite``; a directory of other files needs ``allow_nonempty`` and
    no name in common with :data:`RUN_FILES`.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CRNError(f"{what} {out} is a file, not a directory; name a new or empty directory")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise CRNError(f"{what} {out}: {parent} is a file, not a directory")
    if not out.exists():
        return
    if is_run_dir(out):
        if not overwrite:
            raise CRNError(f"{out} already holds a run: continue it with --resume {out}, replace it with "
                           f"--overwrite, or choose another {what}")
        return
    entries = sorted(os.listdir(out))
    if not entries:
        return
    if not allow_nonempty:
        raise CRNError(f"{what} {out} is not empty and holds no gfn-crn run ({_names(entries)}); choose a new or "
                       f"empty directory, or pass --allow-nonempty to write beside those files")
    same = clashes(out)
    if same:
        raise CRNError(f"{what} {out} holds {_names(same)}, which the run would replace; gfn-crn never replaces "
                       f"files it did not write: move them or choose another {what}")


def check_new_file(path, *, overwrite: bool = False, what: str = "output file", flag: str = "--overwrite") -> Path:
    """Raise if ``path`` exists (unless ``overwrite``) or is a directory; returns it as a Path."""
    p = Path(path)
    if p.is_dir():
        raise CRNError(f"{what} {p} is a directory, not a file")
    if p.exists() and not overwrite:
        raise CRNError(f"{what} {p} already exists; pass {flag} to replace it")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise CRNError(f"{what} {p}: {parent} is a file, not a directory")
    return p


def check_new_files(paths: Iterable, *, overwrite: bool = False, what: str = "output file",
                    flag: str = "--overwrite") -> None:
    """:func:`check_new_file` for several paths at once: one error naming every clash."""
    ps = [Path(p) for p in paths]
    for p in ps:
        if p.is_dir():
            raise CRNError(f"{what} {p} is a directory, not a file")
    existing = [str(p) for p in ps if p.exists()]
    if existing and not overwrite:
        raise CRNError(f"{what}s already exist: {_names(existing)}; pass {flag} to replace them")


def check_out_directory(d, what: str = "--out") -> Path:
    """``d`` is a directory or can be made one (no file in its place or above it)."""
    d = Path(d)
    if d.exists() and not d.is_dir():
        raise CRNError(f"{what} {d} is a file, not a directory")
    for parent in d.parents:
        if parent.exists() and not parent.is_dir():
            raise CRNError(f"{what} {d}: {parent} is a file, not a directory")
    return d


__all__ = ["RUN_FILES", "RUN_MARKERS", "is_run_dir", "clashes", "check_run_dir", "check_new_file",
           "check_new_files", "check_out_directory"]
