"""The presets of the noise-aware tasks (kinds ``ssa_tracking`` and ``ssa_robust``; see
:mod:`gfn_crn.tasks.stochastic`): the package's preset files of those kinds."""

from .presets import PRESETS, tomllib

SSA_PRESETS: dict[str, str] = {name: text for name, text in PRESETS.items()
                               if tomllib.loads(text).get("kind") in ("ssa_tracking", "ssa_robust")}

__all__ = ["SSA_PRESETS"]
