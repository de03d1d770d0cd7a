"""Shared test configuration: the ``slow`` marker for the edit loop.

``make test`` runs everything; ``make test-fast`` (``pytest -m "not slow"``) leaves out the tests
below, each over ~4 s on the shared 2-core machine (training runs, the notebooks, multi-process
jobs, tight reference solves), measured with ``pytest --durations=0``. They are listed here, in
one place, rather than decorated in every file; a test may also carry ``@pytest.mark.slow``
itself. Names are ``file::function`` (every parametrization of the function).
"""

from __future__ import annotations

import pytest

SLOW_MODULES = {
    "test_scaleout.py",   # worker pools, gloo ranks, torchrun: 8-82 s each
    "test_notebooks.py",  # executes the three notebooks: 17-21 s each
}

SLOW_TESTS = {
    "test_baselines.py::test_reinforce_run_directory_cli_and_bit_for_bit_resume",
    "test_exactness.py::test_exact_terminal_distribution_matches_normalised_reward",
    "test_exactness.py::test_free_order_with_learned_backward_policy_is_exact_too",
    "test_exactness.py::test_learned_logZ_matches_closed_form_with_continuous_parameters",
    "test_exactness.py::test_off_policy_training_reaches_the_same_logZ",
    "test_product.py::test_cli_train_top_sample_export_resume",
    "test_product.py::test_resume_is_bit_for_bit",
    "test_sim.py::test_trajectories_against_tight_scipy_reference",
    "test_ssa.py::test_ssa_presets_antithetic_beats_template_and_plot",
    "test_topology.py::test_trajectory_balance_learns_the_structure_marginal",
    "test_training.py::test_short_training_run_improves_the_reward",
    "test_verify.py::test_checks_agree_with_an_independent_scipy_solve",
    "test_verify.py::test_repressilator_passes_the_oscillator_checks",
    "test_verify.py::test_run_writes_mechanisms_and_top_shows_them",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.name
        name = f"{module}::{item.originalname}" if hasattr(item, "originalname") else item.nodeid
        if module in SLOW_MODULES or name in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


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
