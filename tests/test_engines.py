"""The Rodas4 engines (compiled numba default, torch): accuracy against an independent scipy
reference, agreement with each other step for step, one shared definition of the method,
divergence flags, determinism and the fallback notice."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

from gfn_crn.crn import (
    CRNError,
    ReactionInstance,
    Template,
    antithetic_example,
    degradation_library,
    hill_library,
    mass_action,
    mass_action_library,
    parse_network,
    random_network as draw_network,
)
from gfn_crn.sim import DIVERGED, OK, PiecewiseConstant, Scenario, SolverStatus, scenario_grid, simulate, time_grid
from gfn_crn.sim import rodas_numba

sim_mod = importlib.import_module("gfn_crn.sim.simulate")  # the module (the package exports the function)
SP = ("A", "B", "C")


def random_network(rng, n_mass=3, n_hill=1, n_deg=1, lo=0.05, hi=5.0):
    fixed = (ReactionInstance(mass_action([], ["A"], input="u1"), (1.0,)),)
    t = Template(SP, ("A",), fixed, ("u1",))
    parts = [(mass_action_library(SP), n_mass), (hill_library(SP, 2), n_hill), (degradation_library(SP), n_deg)]
    return draw_network(rng, t, parts, low=lo, high=hi)


def rel_err(y, yref):
    scale = np.abs(yref).max(axis=-2, keepdims=True) + 1e-6
    return (np.abs(y - yref) / scale).max(axis=(-1, -2))


@pytest.fixture(scope="module")
def mixed_batch():
    """28 networks of all kinds (8 stiff, rates up to 1e3) plus two that blow up; a pulse input."""
    rng = np.random.default_rng(11)
    nets = [random_network(rng, n_hill=2) for _ in range(20)]
    nets += [random_network(rng, n_mass=4, lo=0.01, hi=1e3) for _ in range(8)]
    nets += [parse_network("species: A B C\nfixed: 0 -> A ; k=1 * u1\nA -> 2 A ; k=0.9"),
             parse_network("species: A B C\nfixed: 0 -> A ; k=1 * u1\n2 A -> 3 A ; k=5\nB -> 0 ; k=1")]
    pulse = PiecewiseConstant.pulses([4.0, 12.0], [8.0, 15.0], high=2.0, low=0.3)
    scen = [Scenario({"u1": 0.5}, init=0.1), Scenario({"u1": pulse}, init=0.1)]
    return nets, scen, time_grid(20.0, 201)


@pytest.fixture(scope="module")
def runs(mixed_batch):
    nets, scen, t = mixed_batch
    out = {e: simulate(nets, scen, t, engine=e) for e in ("rodas", "torch")}
    out["ref"] = simulate(nets, scen, t, engine="scipy", method="LSODA", rtol=1e-10, atol=1e-12)
    return out


def test_default_engine_is_the_compiled_one(runs):
    assert runs["rodas"].stats["engine"] == "rodas-numba"
    assert rodas_numba.kernel_status()["compiled"]


@pytest.mark.parametrize("engine", ["rodas", "torch"])
def test_engine_against_independent_scipy_reference(mixed_batch, runs, engine):
    """At rtol 1e-7 (at the default 1e-5 one stiff trajectory of this batch is 4e-4 off in a species
    100x smaller than the others, in every Rodas engine alike; tests/test_sim.py checks the
    default tolerance on its own batch)."""
    nets, scen, t = mixed_batch
    res, ref = simulate(nets, scen, t, engine=engine, rtol=1e-7), runs["ref"]
    np.testing.assert_array_equal(res.status == DIVERGED, ref.status == DIVERGED)
    assert (res.status[-2:] == DIVERGED).all()  # the two exploding networks are caught
    both = res.ok & ref.ok
    assert both.sum() >= 50
    err = rel_err(res.y, ref.y)[both]
    assert err.max() < 1e-5, err.max()
    assert res.stats["min_raw"] > -1e-6
    assert np.all(res.y[~res.ok][:, -1] == 1e4)  # the rest of a stopped trajectory holds the cap


def test_engines_agree_with_the_default(runs):
    a, b = runs["torch"], runs["rodas"]
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.stats["steps"], b.stats["steps"])
    np.testing.assert_array_equal(a.stats["rejected"], b.stats["rejected"])
    assert rel_err(a.y, b.y).max() <= 1e-6
    np.testing.assert_allclose(a.y, b.y, rtol=1e-6, atol=1e-9)  # diverged rows too (cap fill at the same point)
    assert abs(a.stats["min_raw"] - b.stats["min_raw"]) < 1e-9


def test_divergence_and_failure_flagged_the_same_way_by_every_engine():
    t = time_grid(100.0, 1001)
    auto = parse_network("species: X\nX -> 2 X ; k=0.5")
    nasty = parse_network("species: X Y\n2 X -> 3 X ; k=5\n0 -> Y ; k=1e6\nY -> 0 ; k=1e-6\nX + Y -> X ; k=1e6")
    t_cross = np.log(1e4 / 0.01) / 0.5
    for engine in ("rodas", "rodas-numba", "torch"):
        r = simulate(auto, [Scenario(init=0.01)], t, engine=engine)
        assert r.status[0, 0] == DIVERGED, engine
        y = r.y[0, 0, :, 0]
        before = t < t_cross - 0.2
        np.testing.assert_allclose(y[before], 0.01 * np.exp(0.5 * t[before]), rtol=5e-5)
        assert np.all(y[t > t_cross + 0.2] == 1e4)
        r = simulate(nasty, [Scenario(init=1.0)], t, engine=engine)
        assert r.status[0, 0] != OK and np.all(np.isfinite(r.y)), engine
    # a step budget that cannot be met: a failure of its own cause (STEP_BUDGET), filled with cap
    net = antithetic_example()
    sc = [Scenario({"u1": 1.0, "u2": 1.0})]
    for engine in ("rodas", "torch"):
        r = simulate(net, sc, t, engine=engine, max_steps=5)
        assert r.status[0, 0] == SolverStatus.STEP_BUDGET and r.stats["steps"][0, 0] == 5, engine
        assert np.all(r.y[0, 0, -1] == 1e4)


def test_compiled_engine_is_deterministic_and_chunking_does_not_change_results(mixed_batch):
    nets, scen, t = mixed_batch
    a = simulate(nets, scen, t)
    b = simulate(nets, scen, t)
    np.testing.assert_array_equal(a.y, b.y)
    # progress reporting runs the kernel in chunks of systems: same numbers
    seen = []
    captured = {}
    orig = rodas_numba.integrate

    def spy(*args, **kw):
        captured["args"], captured["kw"] = args, kw
        return orig(*args, **kw)

    rodas_numba.integrate = spy
    try:
        simulate(nets, scen, t)
    finally:
        rodas_numba.integrate = orig
    Y, status, *_ = orig(*captured["args"], **{**captured["kw"], "progress": seen.append, "chunk": 7})
    assert sum(seen) == len(nets) * len(scen) and len(seen) == -(-len(nets) * len(scen) // 7)
    np.testing.assert_array_equal(Y.reshape(a.y.shape), a.y)


def test_torch_engine_is_deterministic_and_takes_a_device(mixed_batch):
    nets, scen, t = mixed_batch
    a = simulate(nets[:6], scen, t, engine="torch", device="cpu")
    b = simulate(nets[:6], scen, t, engine="torch", device=torch.device("cpu"))
    np.testing.assert_array_equal(a.y, b.y)
    assert a.stats["engine"] == "torch"


def test_torch_engine_rejects_a_device_it_cannot_use():
    net, sc, t = antithetic_example(), [Scenario({"u1": 1.0, "u2": 1.0})], time_grid(1.0, 3)
    with pytest.raises(CRNError, match="not a torch device"):
        simulate(net, sc, t, engine="torch", device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(CRNError, match="CUDA is not available"):
            simulate(net, sc, t, engine="torch", device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_engine_on_cuda_matches_the_default(mixed_batch):  # pragma: no cover - needs a GPU
    nets, scen, t = mixed_batch
    a = simulate(nets, scen, t, engine="torch", device="cuda")
    b = simulate(nets, scen, t)
    np.testing.assert_array_equal(a.status, b.status)
    assert rel_err(a.y, b.y).max() <= 1e-6


def test_hill_exponents_unrolled_and_general_match_torch_and_the_reference(monkeypatch):
    """n = 1..4 (the library's exponents) are unrolled products in the kernel; any other exponent
    goes through pow (exercised by patching the compiled exponents to non-integers)."""
    text = ("species: A B C\nfixed: 0 -> A ; k=1 * u1\nA -> 0 ; k=0.5\nB -> 0 ; k=0.7\nC -> 0 ; k=0.3\n"
            "0 -> B ; hill b=0.01 V=2 act A K=0.8 n={n}\n0 -> C ; hill b=0 V=1.5 rep B K=0.6 n={n}\n")
    nets = [parse_network(text.format(n=n)) for n in (1, 2, 3, 4)]
    scen = [Scenario({"u1": u}, init=0.05) for u in (0.5, 2.0)]
    t = time_grid(30.0, 301)
    a = simulate(nets, scen, t)
    b = simulate(nets, scen, t, engine="torch")
    ref = simulate(nets, scen, t, engine="scipy", method="LSODA", rtol=1e-10, atol=1e-12)
    assert a.ok.all() and rel_err(a.y, b.y).max() < 1e-9
    assert rel_err(a.y, ref.y).max() < 1e-4
    compile_orig = sim_mod.compile_networks

    def odd_exponents(networks, *args, **kw):
        cb = compile_orig(networks, *args, **kw)
        cb.fn = np.where(cb.ftype >= 2, cb.fn + 0.37, cb.fn)
        return cb

    monkeypatch.setattr(sim_mod, "compile_networks", odd_exponents)
    a2 = simulate(nets, scen, t)
    b2 = simulate(nets, scen, t, engine="torch")
    assert a2.ok.all() and rel_err(a2.y, b2.y).max() < 1e-9
    assert rel_err(a2.y, a.y).max() > 1e-3  # the exponents did change the trajectories


def test_missing_numba_falls_back_to_torch_with_a_notice(monkeypatch, mixed_batch, caplog):
    nets, scen, t = mixed_batch
    good = simulate(nets[:4], scen, t)
    # numba cannot be imported (and the kernel module is not loaded yet)
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "gfn_crn.sim._rodas_kernels", raising=False)
    monkeypatch.setattr(rodas_numba, "_STATE", {"kernel": None, "error": None, "compile_s": None})
    monkeypatch.setattr(sim_mod, "_FALLBACK_WARNED", False)
    with pytest.warns(RuntimeWarning, match="compiled Rodas kernel unavailable.*numba.*torch engine on the CPU"):
        res = simulate(nets[:4], scen, t)
    assert res.stats["engine"] == "torch"
    assert "torch engine" in caplog.text
    assert rel_err(res.y, good.y)[res.ok].max() < 1e-6
    np.testing.assert_array_equal(res.status, good.status)
    # the explicit compiled engine refuses instead of falling back
    with pytest.raises(CRNError, match="rodas-numba.*unavailable"):
        simulate(nets[:1], scen, t, engine="rodas-numba")
    # torch is always selectable explicitly, without a notice
    assert simulate(nets[:1], scen, t, engine="torch").stats["engine"] == "torch"


def test_unknown_engine_lists_the_engines():
    with pytest.raises(CRNError, match="rodas-numba.*torch"):
        simulate(antithetic_example(), [Scenario({"u1": 1.0, "u2": 1.0})], time_grid(1.0, 3), engine="euler")
    with pytest.raises(CRNError, match="'rodas-numpy'.*removed.*use 'rodas'.*'torch'"):
        simulate(antithetic_example(), [Scenario({"u1": 1.0, "u2": 1.0})], time_grid(1.0, 3), engine="rodas-numpy")


def test_the_engines_hold_no_number_of_the_method():
    """The tableau and the step control are written once (gfn_crn/sim/rodas.py): no engine module
    spells out a coefficient or a controller constant of its own."""
    import ast
    from pathlib import Path

    from gfn_crn.sim import rodas

    method = {v for row in (*rodas.A.values(), *rodas.C.values(), rodas.D2, rodas.D3) for v in row}
    method |= {rodas.GAMMA, rodas.SAFETY, rodas.FAC_MIN, rodas.FAC_MAX, rodas.ERR_OLD_FLOOR, rodas.NONFINITE_SHRINK,
               rodas.PIVOT_TOL, rodas.H_MIN_REL, rodas.EPS_T_REL, rodas.INIT_TINY, rodas.INIT_MIN, rodas.INIT_FRACTION}
    assert len(method) > 30 and 0.9 in method and 1.544 in method
    sim_dir = Path(rodas.__file__).parent
    for name in ("_rodas_kernels.py", "rodas_numba.py", "rodas_torch.py"):
        tree = ast.parse((sim_dir / name).read_text())
        nums = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)}
        assert not nums & method, (name, sorted(nums & method))
    # the formulas are the controller's: err = 1 keeps the step up to the safety factor
    assert rodas.step_ratio(1.0) == pytest.approx(1 / 0.9)
    assert rodas.step_ratio(16.0) == pytest.approx(2 / 0.9)
    assert rodas.predicted_ratio(1.0, 1.0, 2.0, 1.0) == pytest.approx(2 / 0.9)
    # and the compiled kernel's cache follows the method's source (stamp beside numba's cache)
    stamp = Path(sys.modules["gfn_crn.sim._rodas_kernels"].integrate_range._cache._cache_path) / "rodas_method.sha1"
    assert stamp.exists()
