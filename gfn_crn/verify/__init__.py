"""Verification of designs beyond the training loss, minimal cores and mechanisms.

* :func:`verify` / :func:`verify_batch`: the ``bounded`` check and each task's own verification
  plan (settled, persists, off-grid, step, ...: :mod:`gfn_crn.tasks.verification`), run by
  :mod:`gfn_crn.verify.checks`.
* :func:`minimal_core`, :func:`mechanism_key`, :func:`group_mechanisms`: what a design needs,
  and which designs are the same mechanism (:mod:`gfn_crn.verify.mechanisms`).

numpy/scipy only: no torch import.
"""

from .checks import Check, Verification, VerifySettings, off_grid_values, verify, verify_batch
from .mechanisms import (CORE_REFINE_EVALS, Core, Mechanism, chemical_core, group_mechanisms, mechanism_key,
                         minimal_core, template_symmetries)

__all__ = ["Check", "Verification", "VerifySettings", "off_grid_values", "verify", "verify_batch", "Core",
           "Mechanism", "CORE_REFINE_EVALS", "chemical_core", "group_mechanisms", "mechanism_key", "minimal_core", "template_symmetries"]
