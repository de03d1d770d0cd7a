"""Provenance for benchmark result files: commit, date, CPU, BLAS and library versions."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001 - provenance is best effort
        return ""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        import numpy as np

        b = np.__config__.CONFIG["Build Dependencies"]["blas"]
        return f"numpy: {b.get('name')} {b.get('version')}"
    except Exception:  # noqa: BLE001
        return "unknown"


def run_metadata() -> dict:
    """Commit (with a '-dirty' mark for uncommitted changes), UTC date, CPU, BLAS, versions."""
    import numpy as np

    out = {
        "commit": _git("rev-parse", "HEAD") + ("-dirty" if _git("status", "--porcelain", "--untracked-files=no") else ""),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "blas": _blas(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for mod in ("torch", "numba", "scipy"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            out[mod] = None
    try:
        import torch

        out["torch_threads"] = torch.get_num_threads()
        out["torch_blas"] = "mkl" if torch.backends.mkl.is_available() else "other"
    except Exception:  # noqa: BLE001
        pass
    return out
