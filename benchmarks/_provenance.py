"""Where a benchmark figure came from: CPU, BLAS libraries, versions and the commit.

Results are deterministic under a seed on one machine; other CPUs (or BLAS builds) may diverge
through round-off, so every JSON a benchmark writes carries this record::

    from _provenance import provenance
    out = {"provenance": provenance(), ...}

Nothing here imports torch: its BLAS is recorded only when the benchmark has imported it.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas() -> str | None:
    try:
        import numpy as np

        d = np.show_config(mode="dicts")["Build Dependencies"]
        b, la = d.get("blas", {}), d.get("lapack", {})
        out = f"{b.get('name')} {b.get('version', '')}".strip()
        if la and la.get("name") != b.get("name") and not str(la.get("name")).startswith("dep"):
            out += f"; lapack {la.get('name')} {la.get('version', '')}".rstrip()
        return out
    except Exception:  # noqa: BLE001 - older numpy: no dict form
        return None


def _torch_blas() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
        return f"torch {torch.__version__}: {m.group(1) if m else 'unknown'}"
    except Exception:  # noqa: BLE001
        return f"torch {torch.__version__}"


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict:
    """CPU model and core count, BLAS of numpy (and of torch when loaded), Python and package
    versions, the git commit (and whether the tree had uncommitted changes), host and UTC time."""
    import numpy as np

    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "blas": {"numpy": _numpy_blas(), "torch": _torch_blas()},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(provenance(), indent=1))


def versions() -> dict:
    """numba, torch and scipy versions and torch's thread count (the simulator benchmarks)."""
    import numba
    import scipy
    import torch

    return {"numba": numba.__version__, "torch": torch.__version__, "scipy": scipy.__version__,
            "torch_threads": torch.get_num_threads()}
