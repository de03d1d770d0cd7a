"""Named task presets: TOML task files shipped in the package (``gfn_crn/tasks/data/``), in the
same format as any task file (see :mod:`gfn_crn.tasks.config`). ``gfn-crn tasks`` lists them;
``load_task(name)`` builds one.

A preset is one file ``NN-name.toml``: ``NN`` orders the listing, ``name`` is the preset's
name. Adding a preset is adding a file.

Each preset's template is small (3-5 species) so that the mass-action library stays at
90-420 reactions. Hand designs reach each preset's good threshold or come near it (see
``tests/test_tasks_presets.py``).
"""

from __future__ import annotations

import sys
from importlib import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PRESET_DIR = "data"


def _read_presets() -> dict[str, str]:
    files = sorted((p for p in resources.files(__package__).joinpath(PRESET_DIR).iterdir()
                    if p.name.endswith(".toml")), key=lambda p: p.name)
    return {p.name[:-len(".toml")].split("-", 1)[1]: p.read_text() for p in files}


#: preset name -> TOML text, in listing order
PRESETS: dict[str, str] = _read_presets()


def preset_dir():
    """The folder of the preset files (relative paths in a preset, such as a template model, are
    relative to it)."""
    from pathlib import Path

    return Path(str(resources.files(__package__).joinpath(PRESET_DIR)))


def list_presets() -> list[tuple[str, str]]:
    """(name, one-line description) for every preset."""
    out = []
    for name, text in PRESETS.items():
        out.append((name, tomllib.loads(text).get("description", "")))
    return out


__all__ = ["PRESETS", "list_presets", "PRESET_DIR", "preset_dir"]
