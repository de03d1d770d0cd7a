"""Shared test helpers.

``make test`` runs everything; ``make test-fast`` (``pytest -m "not slow"``) leaves out the tests
marked ``@pytest.mark.slow`` where they are written (a module of slow tests sets
``pytestmark = pytest.mark.slow``): those over ~4 s on the shared 2-core machine (training runs,
the notebooks, multi-process jobs, tight reference solves), measured with ``pytest --durations=0``.
The marker is registered in ``pyproject.toml``; a renamed test keeps it.
"""

from __future__ import annotations


def plain_args(*skip: str) -> list[str]:
    """``--set`` arguments for plain TB on the per-sample reward in canonical order (PLAIN_RUN):
    the CLI tests written for that run keep their meaning under the default recipe."""
    from gfn_crn.training.config import PLAIN_RUN

    out = []
    for k, v in PLAIN_RUN.items():
        if k in skip or k in ("iterations", "batch_size"):
            continue
        out += ["--set", f"{k}={str(v).lower() if isinstance(v, bool) else v}"]
    return out
