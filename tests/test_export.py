"""Exports: SBML round trip (network equality and trajectories), kinetic laws evaluated from the
SBML math against the reference propensities, an ODE built from the SBML alone, libsbml's
consistency check, Antimony rate laws, save_exports, and the network diagram."""

from __future__ import annotations

import ast
import functools
import math
import operator
import re

import libsbml
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from gfn_crn.crn import (
    EXAMPLES,
    Network,
    ReactionInstance,
    Template,
    degradation,
    degradation_library,
    example,
    hill,
    hill_library,
    mass_action,
    mass_action_library,
    random_network as draw_network,
)
from gfn_crn.crn.export import from_sbml, save_exports, sbml_errors, to_antimony, to_sbml
from gfn_crn.sim import Scenario, simulate, time_grid
from gfn_crn.sim.reference import propensity

SP = ("A", "B", "C", "D")


def random_network(rng, n_mass=4, n_hill=2, n_deg=2, species=SP) -> Network:
    """Random rates (not short decimals: 0.1+0.2-style floats test lossless numbers) over all
    kinds; the template has input-driven mass action, Hill (on V and on b) and degradation."""
    a, b, c, d = species[:4]

    def rate():
        return float(np.exp(rng.uniform(np.log(0.05), np.log(5.0))))

    fixed = (
        ReactionInstance(mass_action([], [a], input="u1"), (rate(),)),
        ReactionInstance(hill([b], activators=[a], repressors=[c], input="u2", input_factor="V"),
                         (rate(), rate(), rate(), rate()), (int(rng.integers(1, 5)), int(rng.integers(1, 5)))),
        ReactionInstance(hill([c, c], repressors=[d], input="u1", input_factor="b"), (rate(), rate(), rate()), (3,)),
        ReactionInstance(degradation(d, a, input="u3"), (rate(), rate())),
    )
    t = Template(tuple(species), (a, c), fixed, ("u1", "u2", "u3", "u4"))
    parts = [(mass_action_library(species), n_mass), (hill_library(species, 2), n_hill),
             (degradation_library(species), n_deg)]
    return draw_network(rng, t, parts, low=0.05, high=5.0, name="random")


def all_networks():
    nets = [example(n) for n in EXAMPLES]
    rng = np.random.default_rng(11)
    nets += [random_network(rng) for _ in range(4)]
    # species named like our parameters, the compartment, the reactions and MathML constants
    nets.append(random_network(rng, species=("k", "K", "cell", "R1", "pi", "e")))
    return nets


NETS = all_networks()
IDS = [n.name or f"net{i}" for i, n in enumerate(NETS)]
IDS[-1] = "clashing_names"


# ---------------------------------------------------------------------------- a safe evaluator
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow}


@functools.lru_cache(maxsize=None)
def _parse(formula: str):
    return ast.parse(formula.replace("^", "**"), mode="eval")


def safe_eval(formula: str, env: dict[str, float]) -> float:
    """Evaluate an infix formula (+ - * / ^ pow(), names, numbers) without eval()."""
    tree = _parse(formula)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            return _BIN[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "pow" and len(node.args) == 2:
            return ev(node.args[0]) ** ev(node.args[1])
        raise ValueError(f"unsupported expression {ast.dump(node)} in {formula!r}")

    return ev(tree)


def sbml_reactions(text: str):
    """(stoichiometry change dict, formula, local parameter values) per reaction, read with libsbml."""
    doc = libsbml.readSBMLFromString(text)
    m = doc.getModel()
    out = []
    for i in range(m.getNumReactions()):
        rx = m.getReaction(i)
        change: dict[str, float] = {}
        for j in range(rx.getNumReactants()):
            ref = rx.getReactant(j)
            change[ref.getSpecies()] = change.get(ref.getSpecies(), 0) - ref.getStoichiometry()
        for j in range(rx.getNumProducts()):
            ref = rx.getProduct(j)
            change[ref.getSpecies()] = change.get(ref.getSpecies(), 0) + ref.getStoichiometry()
        kl = rx.getKineticLaw()
        local = {kl.getLocalParameter(j).getId(): kl.getLocalParameter(j).getValue()
                 for j in range(kl.getNumLocalParameters())}
        out.append((change, libsbml.formulaToL3String(kl.getMath()), local))
    glob = {m.getParameter(i).getId(): m.getParameter(i).getValue() for i in range(m.getNumParameters())}
    glob.update({m.getCompartment(i).getId(): m.getCompartment(i).getSize() for i in range(m.getNumCompartments())})
    init = {m.getSpecies(i).getId(): m.getSpecies(i).getInitialConcentration() for i in range(m.getNumSpecies())}
    return out, glob, init


def net_change(inst) -> dict[str, int]:
    ch: dict[str, int] = {}
    for s, n in inst.reaction.reactants:
        ch[s] = ch.get(s, 0) - n
    for s, n in inst.reaction.products:
        ch[s] = ch.get(s, 0) + n
    return ch


# ---------------------------------------------------------------------------- SBML
@pytest.mark.parametrize("net", NETS, ids=IDS)
def test_sbml_round_trip_equal_network_and_trajectories(net):
    text = to_sbml(net)
    back = from_sbml(text)
    assert back == net, "\n" + net.to_text() + "\n" + back.to_text()
    assert back.name == net.name
    assert [i.params for i in back.all_reactions] == [i.params for i in net.all_reactions]  # bit-exact
    scen = [Scenario({u: v for u, v in zip(net.inputs, (0.7, 1.3, 0.9, 1.1))}, init=0.05)]
    t = time_grid(20, 50)
    r0 = simulate(net, scen, t)
    r1 = simulate(back, scen, t)
    assert np.array_equal(r0.status, r1.status)
    np.testing.assert_allclose(r1.y, r0.y, rtol=0, atol=1e-9)
    # writing the rebuilt network gives the same document
    assert to_sbml(back) == text


@pytest.mark.parametrize("net", NETS, ids=IDS)
def test_sbml_consistency_check_has_no_errors(net):
    text = to_sbml(net, inputs={u: 0.5 for u in net.inputs}, init={"default": 0.2})
    assert sbml_errors(text) == []
    doc = libsbml.readSBMLFromString(text)
    assert doc.getLevel() == 3 and doc.getVersion() == 2
    m = doc.getModel()
    assert m.getNumReactions() == len(net.all_reactions)
    assert [m.getSpecies(i).getId() for i in range(m.getNumSpecies())] == list(net.species)


@pytest.mark.parametrize("net", NETS, ids=IDS)
def test_sbml_kinetic_laws_match_reference_propensities(net):
    """Evaluate each reaction's MathML (via formulaToL3String) at random states and inputs."""
    rng = np.random.default_rng(5)
    u = {name: float(rng.uniform(0.2, 2.0)) for name in net.inputs}
    text = to_sbml(net, inputs=u)
    rxs, glob, _ = sbml_reactions(text)
    assert len(rxs) == len(net.all_reactions)
    for inst, (change, formula, local) in zip(net.all_reactions, rxs):
        assert {s: v for s, v in change.items() if v} == {s: v for s, v in net_change(inst).items() if v}
        for _ in range(5):
            x = {s: float(v) for s, v in zip(net.species, rng.uniform(0.0, 3.0, len(net.species)))}
            env = {**glob, **x, **local}  # local parameters shadow everything else
            got = safe_eval(formula, env)
            want = propensity(inst, x, u)
            assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300), (inst.reaction.describe(), formula, got, want)


@pytest.mark.parametrize("name", ["antithetic", "toggle"])
def test_ode_built_from_sbml_alone_matches_simulator(name):
    """dx/dt assembled only from the SBML (stoichiometry + kinetic-law math) agrees with simulate()."""
    net = example(name)
    u = {v: 0.8 + 0.3 * i for i, v in enumerate(net.inputs)}
    text = to_sbml(net, inputs=u, init=0.1)
    rxs, glob, init = sbml_reactions(text)
    species = list(init)

    def rhs(_t, y):
        x = dict(zip(species, np.maximum(y, 0.0)))
        dy = np.zeros(len(species))
        for change, formula, local in rxs:
            a = safe_eval(formula, {**glob, **x, **local})
            for s, v in change.items():
                dy[species.index(s)] += v * a
        return dy

    t = time_grid(30, 31)
    sol = solve_ivp(rhs, (0, 30), [init[s] for s in species], t_eval=t, method="Radau", rtol=1e-10, atol=1e-12)
    assert sol.success
    res = simulate(net, [Scenario(u, init=0.1)], t, engine="scipy", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.y.T, res.y[0, 0], rtol=1e-6, atol=1e-8)


def test_sbml_values_inputs_and_init_are_written():
    net = example("antithetic")
    text = to_sbml(net, inputs={"u1": 2.5}, init={"X1": 0.3, "default": 0.2})
    _, glob, init = sbml_reactions(text)
    assert glob["u1"] == 2.5 and glob["u2"] == 1.0
    assert init == {"X1": 0.3, "Z1": 0.2, "Z2": 0.2}
    assert "3.11312" in text
    from gfn_crn.crn import CRNError

    with pytest.raises(CRNError, match="unknown inputs"):
        to_sbml(net, inputs={"u9": 1})
    with pytest.raises(CRNError, match="unknown species"):
        to_sbml(net, init={"Q": 1})
    foreign = libsbml.SBMLDocument(3, 2)  # SBML of any tool is read (tests/test_interop.py); an empty model is not a network
    foreign.createModel().setId("foreign")
    with pytest.raises(CRNError, match="no species"):
        from_sbml(libsbml.writeSBMLToString(foreign))


# ---------------------------------------------------------------------------- Antimony
_RX_RE = re.compile(r"^\s*(\w+):\s*(.*?)\s*->\s*(.*?);\s*(.+?);\s*(//.*)?$")
_PAR_RE = re.compile(r"^\s*(\w+)\s*=\s*([-+0-9.eE]+);\s*$")


def _side(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for term in filter(None, (t.strip() for t in text.split("+"))):
        m = re.match(r"^(?:(\d+)\s+)?(\w+)$", term)
        assert m, term
        out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(1) or 1)
    return out


@pytest.mark.parametrize("net", NETS[:-1], ids=IDS[:-1])
def test_antimony_has_every_reaction_with_its_rate_law(net):
    rng = np.random.default_rng(3)
    u = {name: float(rng.uniform(0.2, 2.0)) for name in net.inputs}
    text = to_antimony(net, inputs=u, init=0.25)
    assert text.rstrip().endswith("end") and re.search(r"^model \w+\(\)$", text, re.M)
    rxs, values = [], {}
    for line in text.splitlines():
        if m := _RX_RE.match(line):
            rxs.append((m.group(1), _side(m.group(2)), _side(m.group(3)), m.group(4)))
        elif m := _PAR_RE.match(line):
            values[m.group(1)] = float(m.group(2))
    assert len(rxs) == len(net.all_reactions)
    for s in net.species:
        assert values[s] == 0.25
    for name, v in u.items():
        assert values[name] == v
    for inst, (rid, lhs, rhs, law) in zip(net.all_reactions, rxs):
        assert lhs == dict(inst.reaction.reactants) and rhs == dict(inst.reaction.products)
        for pname, v in inst.params.items():  # every number written exactly
            assert values[f"{rid}_{pname}"] == v
        for _ in range(3):
            x = {s: float(v) for s, v in zip(net.species, rng.uniform(0.0, 3.0, len(net.species)))}
            got = safe_eval(law, {**values, **x})
            assert math.isclose(got, propensity(inst, x, u), rel_tol=1e-12), (law, inst.reaction.describe())


def test_save_exports_writes_four_files_that_read_back(tmp_path):
    from gfn_crn.crn import load_network

    net = NETS[3]
    paths = save_exports(net, tmp_path / "exports", "best")
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == [
        "best.antimony", "best.crn", "best.json", "best.xml"]
    assert {k: p.name for k, p in paths.items()} == {
        "crn": "best.crn", "json": "best.json", "antimony": "best.antimony", "sbml": "best.xml"}
    assert load_network(paths["crn"]) == net
    assert load_network(paths["json"]) == net
    assert from_sbml(paths["sbml"].read_text()) == net
    assert paths["antimony"].read_text() == to_antimony(net)


# ---------------------------------------------------------------------------- diagram
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_plot_every_example(tmp_path, name):
    from gfn_crn.crn.diagram import plot_network

    path = tmp_path / f"{name}.png"
    out = plot_network(example(name), path, title=f"example {name}")
    assert path.exists() and path.stat().st_size > 20_000
    assert str(out) == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_random_network_with_awkward_names(tmp_path):
    from gfn_crn.crn.diagram import plot_network

    for i, net in enumerate((NETS[3], NETS[-1])):
        path = tmp_path / f"n{i}.png"
        plot_network(net, path, dpi=70)
        assert path.stat().st_size > 20_000
