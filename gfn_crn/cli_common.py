"""Helpers shared by the ``gfn-crn`` sub-commands (argument types, output-path checks).

The sub-commands live beside what they drive (``gfn_crn/tasks/cli.py``, ``gfn_crn/verify/cli.py``,
``gfn_crn/training/cli.py``, ``gfn_crn/sim/ssa_cli.py``) and import what they share from here, never
from :mod:`gfn_crn.cli`: that module is the entry point only (``[project.scripts]`` and
``python -m gfn_crn.cli``), at the top of the package order, and nothing in the package imports it
(``tests/test_imports.py`` checks both). This module sits low in that order: it imports only
:mod:`gfn_crn.crn` and :mod:`gfn_crn.outputs`, and nothing heavy (the command line loads it early).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .crn.errors import CRNError


def check_plot_path(path, overwrite: bool, flag: str = "--plot") -> Path:
    """A figure path: a format matplotlib writes, and no existing file replaced without ``--overwrite``."""
    from .outputs import check_new_file

    p = check_new_file(path, overwrite=overwrite, what=f"{flag}")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    ext = p.suffix.lower().lstrip(".")
    if ext not in formats:
        raise CRNError(f"{flag} {p}: unknown figure format {p.suffix or '(no extension)'!r} "
                       f"(use one of {', '.join('.' + f for f in sorted(formats))})")
    return p


def positive(kind=float, allow_zero: bool = False):
    """An argparse ``type`` that accepts finite numbers > 0 (or >= 0)."""

    def conv(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if v != v or v in (float("inf"), float("-inf")) or v < 0 or (v == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"{text!r} must be {'>= 0' if allow_zero else '> 0'} and finite")
        return v

    conv.__name__ = kind.__name__
    return conv


__all__ = ["check_plot_path", "positive"]
