"""Reading what modellers write: Antimony (through the antimony package) and SBML from any tool.

Round trips text -> Antimony -> network and text -> SBML -> network are exact on every example and
on random networks of every reaction kind (hypothesis draws the seeds); models written by hand in
other tools' idioms read as the network they mean; what a network cannot hold is an error that
names the element."""

from __future__ import annotations

import re

import numpy as np
import pytest

libsbml = pytest.importorskip("libsbml")
pytest.importorskip("antimony")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from gfn_crn.crn import (  # noqa: E402
    EXAMPLES,
    CRNError,
    ReactionInstance,
    Template,
    degradation,
    degradation_library,
    example,
    hill,
    hill_library,
    load_network,
    mass_action,
    mass_action_library,
    parse_network,
    random_network,
)
from gfn_crn.crn.export import from_sbml, to_antimony, to_sbml  # noqa: E402
from gfn_crn.crn.interop import antimony_to_sbml, from_antimony, read_sbml  # noqa: E402

SP = ("A", "B", "C", "D")


def draw(seed: int):
    """A random network of every kind: a template with input-driven mass action, Hill (input on V
    and on b) and degradation, plus random library reactions of all three kinds."""
    rng = np.random.default_rng(seed)

    def rate():  # not short decimals: 0.1 + 0.2-style floats test exact numbers
        return float(np.exp(rng.uniform(np.log(0.05), np.log(5.0))))

    a, b, c, d = SP
    fixed = (
        ReactionInstance(mass_action([], [a], input="u1"), (rate(),)),
        ReactionInstance(hill([b], activators=[a], repressors=[c], input="u2", input_factor="V"),
                         (rate(), rate(), rate(), rate()), (int(rng.integers(1, 5)), int(rng.integers(1, 5)))),
        ReactionInstance(hill([c, c], repressors=[d], input="u1", input_factor="b"), (rate(), rate(), rate()),
                         (int(rng.integers(1, 5)),)),
        ReactionInstance(degradation(d, a, input="u3"), (rate(), rate())),
    )
    outputs = tuple(sorted(rng.choice(SP, int(rng.integers(0, 3)), replace=False)))
    declared = ("u1", "u2", "u3", "u4")[: int(rng.integers(0, 5))]
    t = Template(SP, outputs, fixed[: int(rng.integers(0, 5))], declared)
    parts = [(mass_action_library(SP), int(rng.integers(0, 6))), (hill_library(SP, 2), int(rng.integers(0, 3))),
             (degradation_library(SP), int(rng.integers(0, 3)))]
    net = random_network(rng, t, parts, low=0.05, high=5.0, name=f"random{seed}")
    if not net.all_reactions:
        net = net.with_reactions([ReactionInstance(mass_action([a], []), (rate(),))])
    return net


def strip_annotations(text: str) -> str:
    return re.sub(r"<annotation>.*?</annotation>", "", text, flags=re.S)


def same(back, net):
    """Exactly the same network: reactions (in order), rates bit for bit, inputs, outputs."""
    assert back == net, "\n" + net.to_text() + "\n--- read back:\n" + back.to_text()
    assert [i.params for i in back.all_reactions] == [i.params for i in net.all_reactions]
    assert back.inputs == net.inputs and back.outputs == net.outputs


EXAMPLE_NETS = [example(n) for n in EXAMPLES]


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("net", EXAMPLE_NETS, ids=list(EXAMPLES))
def test_examples_round_trip_through_antimony_and_sbml(net):
    same(from_antimony(to_antimony(net)), net)
    same(from_sbml(to_sbml(net)), net)
    same(parse_network(net.to_text()), net)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_random_networks_round_trip_through_antimony(seed):
    net = draw(seed)
    same(from_antimony(to_antimony(net)), net)
    # the text form on the way: text -> network -> Antimony -> network
    same(from_antimony(to_antimony(parse_network(net.to_text()))), net)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_random_networks_round_trip_through_sbml_with_and_without_our_annotations(seed):
    net = draw(seed)
    text = to_sbml(parse_network(net.to_text()))
    same(from_sbml(text), net)
    # the same SBML as any tool would write it (no gfn_crn annotation): the kinetic laws alone
    # give the reactions; outputs and the template's reactions are told
    nfix = len(net.template.fixed)
    plain = strip_annotations(text)
    assert "gfn:" not in plain
    back = from_sbml(plain, outputs=list(net.outputs), fixed=[f"R{i}" for i in range(1, nfix + 1)])
    assert back.template.fixed == net.template.fixed and back.reactions == net.reactions
    assert back.outputs == net.outputs
    assert set(back.inputs) == set(net.inputs)  # every input parameter the file has is declared
    # the Antimony that antimony's own SBML gives (rates rounded to 15 digits by libsbml there)
    sb = antimony_to_sbml(strip_to_foreign_antimony(to_antimony(net)))
    again = read_sbml(sb, fixed=[f"R{i}" for i in range(1, nfix + 1)], outputs=list(net.outputs))
    assert [i.reaction for i in again.all_reactions] == [i.reaction for i in net.all_reactions]
    for x, y in zip(again.all_reactions, net.all_reactions):
        np.testing.assert_allclose(x.cparams, y.cparams, rtol=1e-14)
        assert x.dparams == y.dparams


def strip_to_foreign_antimony(text: str) -> str:
    """Our Antimony without its header comments: what a modeller's own file looks like."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("//"))


def test_foreign_antimony_without_header_reads_with_told_outputs_and_inputs():
    net = example("antithetic")
    text = strip_to_foreign_antimony(to_antimony(net))
    back = from_antimony(text, outputs=["X1"], fixed=["R1", "R2"])
    assert back.template.fixed == net.template.fixed and back.reactions == net.reactions
    assert back.outputs == ("X1",) and back.inputs == ("u1", "u2")
    # without being told, every reaction is the design's
    loose = from_antimony(text)
    assert loose.template.fixed == () and loose.reactions == net.all_reactions and loose.outputs == ()


# ---------------------------------------------------------------------------- other tools' idioms
MODELLER_ANTIMONY = """
// a modeller's file: global parameters, a catalyst only in the rate law, a disturbance named d
model plant()
  compartment cyt = 1;
  species X1 in cyt, X2 in cyt, Z in cyt;
  J1: -> X2; kp * X1 * d;
  J2: X2 -> ; kd * u3 * X2;
  J3: 2 Z -> Z; 0.5 * Z^2;
  J4: -> Z; Vm * X2^2 / (Km^2 + X2^2) + b0;
  J5: -> X1; Vr * 0.3 / (0.3 + Z);
  J6: X1 -> ; cat * Z * X1 / (Kc + X1);
  J7: X1 -> Z; cyt * k7 * X1;
  kp = 2.5; kd = 0.30000000000000004; Vm = 1.5; Km = 0.7; b0 = 0.01; Vr = 3; cat = 1.25; Kc = 0.4
  k7 = 0.1; d = 1; u3 = 1;
  X1 = 0.1; X2 = 0; Z = 0;
end
"""


def test_modeller_antimony_reads_as_the_network_it_means():
    net = from_antimony(MODELLER_ANTIMONY, inputs={"d": "u2"}, outputs=["X2"])
    want = parse_network("""species: X1 X2 Z
outputs: X2
inputs: u2 u3
X1 -> X1 + X2 ; k=2.5 * u2
X2 -> 0 ; k=0.30000000000000004 * u3
2 Z -> Z ; k=0.5
0 -> Z ; hill b=0.01 V=1.5 act X2 K=0.7 n=2
0 -> X1 ; hill b=0 V=3 rep Z K=0.3 n=1
X1 -> 0 ; deg c=1.25 K=0.4 by Z
X1 -> Z ; k=0.1
""")
    same(net, want)
    assert net.name == "plant"


def _sbml_model(build) -> str:
    """An SBML L3V2 document made with libsbml directly (as another tool would)."""
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("foreign")
    c = m.createCompartment()
    c.setId("c")
    c.setSize(1.0)
    c.setConstant(True)
    for s in ("A", "B"):
        sp = m.createSpecies()
        sp.setId(s)
        sp.setCompartment("c")
        sp.setInitialConcentration(1.0)
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)
    for pid, v in (("k", 2.0), ("u1", 1.0), ("kr", 0.5)):
        p = m.createParameter()
        p.setId(pid)
        p.setValue(v)
        p.setConstant(True)
    build(m)
    return libsbml.writeSBMLToString(doc)


def _reaction(m, rid, reactants, products, formula, stoich=1.0):
    rx = m.createReaction()
    rx.setId(rid)
    rx.setReversible(False)
    for s in reactants:
        r = rx.createReactant()
        r.setSpecies(s)
        r.setStoichiometry(stoich)
        r.setConstant(True)
    for s in products:
        r = rx.createProduct()
        r.setSpecies(s)
        r.setStoichiometry(1.0)
        r.setConstant(True)
    kl = rx.createKineticLaw()
    kl.setMath(libsbml.parseL3Formula(formula))
    return rx


def test_foreign_sbml_with_local_parameters_function_definitions_and_compartment_factor():
    def build(m):
        f = m.createFunctionDefinition()
        f.setId("ma2")
        f.setMath(libsbml.parseL3Formula("lambda(k, x, y, k * x * y)"))
        _reaction(m, "r1", ["A", "B"], ["B"], "ma2(k, A, B)")
        rx = _reaction(m, "r2", [], ["A"], "kloc * u1 * c")
        lp = rx.getKineticLaw().createLocalParameter()
        lp.setId("kloc")
        lp.setValue(0.25)
    net = from_sbml(_sbml_model(build), outputs=["A"])
    assert net.reactions == parse_network("species: A B\nA + B -> B ; k=2\n0 -> A ; k=0.25 * u1\n").reactions
    assert net.inputs == ("u1",) and net.outputs == ("A",)


# ---------------------------------------------------------------------------- errors name the culprit
def _with(extra):
    def build(m):
        _reaction(m, "ok", ["A"], ["B"], "k * A")
        extra(m)
    return _sbml_model(build)


def _event(m):
    e = m.createEvent()
    e.setId("kick")
    e.setUseValuesFromTriggerTime(True)
    t = e.createTrigger()
    t.setMath(libsbml.parseL3Formula("time > 5"))
    t.setInitialValue(False)
    t.setPersistent(True)
    a = e.createEventAssignment()
    a.setVariable("A")
    a.setMath(libsbml.parseL3Formula("2"))


def _rule(m):
    p = m.createParameter()
    p.setId("kk")
    p.setConstant(False)
    r = m.createAssignmentRule()
    r.setVariable("kk")
    r.setMath(libsbml.parseL3Formula("2 * k"))


def _rate_rule(m):
    r = m.createRateRule()
    r.setVariable("B")
    r.setMath(libsbml.parseL3Formula("-B"))


def _big_compartment(m):
    c = m.createCompartment()
    c.setId("nucleus")
    c.setSize(2.0)
    c.setConstant(True)


def _boundary(m):
    s = m.createSpecies()
    s.setId("S")
    s.setCompartment("c")
    s.setInitialConcentration(1.0)
    s.setHasOnlySubstanceUnits(False)
    s.setBoundaryCondition(True)
    s.setConstant(False)


ERRORS = [
    (_event, r"event 'kick'"),
    (_rule, r"assignment rule for 'kk'"),
    (_rate_rule, r"rate rule for 'B'"),
    (_big_compartment, r"compartment 'nucleus' has size 2"),
    (_boundary, r"species 'S' is a boundary species"),
    (lambda m: _reaction(m, "half", ["A"], ["B"], "k * A", stoich=0.5), r"reaction 'half'.*stoichiometry 0.5 of A"),
    (lambda m: _reaction(m, "rev", ["A"], ["B"], "k * A - kr * B"), r"reaction 'rev': a difference of terms.*k \* A - kr \* B"),
    (lambda m: _reaction(m, "mm", ["A"], ["B"], "k * A / (kr + A)"), r"reaction 'mm'"),
    (lambda m: _reaction(m, "expo", ["A"], ["B"], "k * exp(A)"), r"reaction 'expo'.*exp"),
    (lambda m: _reaction(m, "frac", ["A"], ["B"], "k * A^1.5"), r"reaction 'frac'.*exponent 1.5"),
    (lambda m: _reaction(m, "lost", ["A"], ["B"], "k * B"), r"reaction 'lost'.*does not depend on A"),
    (lambda m: _reaction(m, "udiv", ["A"], ["B"], "k * A / u1"), r"reaction 'udiv'.*input u1 divides"),
    (lambda m: _reaction(m, "time", ["A"], ["B"], "k * A * time"), r"reaction 'time'"),
    (lambda m: _reaction(m, "order3", ["A"], ["B"], "k * A^3"), r"reaction 'order3'.*order 3"),
    (lambda m: _reaction(m, "hill5", [], ["B"], "k * A^5 / (kr^5 + A^5)"), r"reaction 'hill5'.*Hill coefficient"),
]


@pytest.mark.parametrize("extra,match", ERRORS, ids=[m.split("'")[1] if "'" in m else m[:12] for _, m in ERRORS])
def test_what_a_network_cannot_hold_is_an_error_naming_it(extra, match):
    text = _with(extra)
    with pytest.raises(CRNError, match=match):
        from_sbml(text)


def test_antimony_errors_name_the_element():
    with pytest.raises(CRNError, match=r"Antimony: .*line 2"):
        from_antimony("model m()\n  J1: A -> B; k*A))\n  k = 1\nend\n")
    with pytest.raises(CRNError, match=r"reaction 'J1': parameter 'k' has no value"):
        from_antimony("model m()\n  J1: A -> B; k*A\nend\n")
    with pytest.raises(CRNError, match=r"event"):
        from_antimony("model m()\n  J1: A -> B; k*A\n  k = 1; A = 1\n  E1: at (time > 1): A = 2\nend\n")
    with pytest.raises(CRNError, match=r"rate rule for 'k'"):
        from_antimony("model m()\n  J1: A -> B; k*A\n  k' = 1; k = 1\nend\n")
    with pytest.raises(CRNError, match=r"reaction 'J1'.*k \* A / \(1 \+ B\)"):
        from_antimony("model m()\n  J1: A -> B; k*A/(1+B)\n  k = 1\nend\n")
    with pytest.raises(CRNError, match=r"'nope' is not a parameter"):
        from_antimony("model m()\n  J1: A -> B; k*A\n  k = 1\nend\n", inputs={"nope": "u1"})
    with pytest.raises(CRNError, match=r"output 'Q'"):
        from_antimony("model m()\n  J1: A -> B; k*A\n  k = 1\nend\n", outputs=["Q"])


# ---------------------------------------------------------------------------- files and tasks
def test_load_network_dispatches_on_suffix(tmp_path):
    net = example("toggle")
    for suffix, text in ((".xml", to_sbml(net)), (".sbml", to_sbml(net)), (".ant", to_antimony(net)),
                         (".antimony", to_antimony(net)), (".crn", net.to_text()), (".json", net.to_json())):
        p = tmp_path / f"toggle{suffix}"
        p.write_text(text)
        same(load_network(p), net)
    bad = tmp_path / "bad.antimony"
    bad.write_text("model m()\n  J1: A -> B; k*A - B\n  k = 1\nend\n")
    with pytest.raises(CRNError, match=r"bad.antimony: reaction 'J1'"):
        load_network(bad)


def test_task_adopts_a_foreign_model_splitting_template_and_design(tmp_path):
    from gfn_crn.tasks import load_task

    task = load_task("rpa")
    design = example("antithetic")
    text = strip_to_foreign_antimony(to_antimony(design))  # every reaction, no template marks
    loose = from_antimony(text)
    assert loose.template.fixed == ()
    adopted = task.adopt(loose)
    assert adopted == task.adopt(design)
    assert len(adopted.reactions) == 5
    wrong = from_antimony(text.replace("R1_k = 1;", "R1_k = 2;"))
    with pytest.raises(CRNError, match=r"template reaction with other parameters"):
        task.adopt(wrong)


def test_cli_evaluate_simulate_verify_take_antimony_and_sbml(tmp_path, capsys):
    """The same design as text, foreign Antimony and foreign SBML gives the same loss."""
    import json

    from gfn_crn.cli import main

    design = example("antithetic")
    files = {"crn": tmp_path / "design.crn", "antimony": tmp_path / "design.antimony",
             "sbml": tmp_path / "design.xml"}
    files["crn"].write_text(design.to_text())
    files["antimony"].write_text(strip_to_foreign_antimony(to_antimony(design)))
    files["sbml"].write_text(strip_annotations(to_sbml(design)))
    losses = {}
    for kind, path in files.items():
        assert main(["evaluate", "--task", "rpa", str(path), "--json"]) == 0
        losses[kind] = json.loads(capsys.readouterr().out)["loss"]
    assert losses["crn"] < 0.01
    assert losses["antimony"] == losses["crn"] == losses["sbml"]
    assert main(["simulate", str(files["antimony"]), "--inputs", "u1=1,u2=0.5", "--t-final", "20",
                 "--points", "5", "--json"]) == 0
    sim_ant = json.loads(capsys.readouterr().out)
    assert main(["simulate", str(files["crn"]), "--inputs", "u1=1,u2=0.5", "--t-final", "20",
                 "--points", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scenarios"] == sim_ant["scenarios"]
    assert main(["verify", "--task", "rpa", str(files["sbml"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(losses["crn"], rel=1e-12)
    bad = tmp_path / "bad.xml"
    bad.write_text(_with(_event))
    assert main(["evaluate", "--task", "rpa", str(bad)]) == 2
    assert "event 'kick'" in capsys.readouterr().err


# ---------------------------------------------------------------------------- a template from a model file
PLANT_SBML_TASK = '''
kind = "tracking"
max_reactions = 6
[template]
file = "plant.xml"
outputs = ["X2"]
inputs = ["u2"]
controller = ["Z1", "Z2"]
fixed = ["0 -> Z1 ; k=1 * u1"]
[scenarios]
inputs = { u1 = [0.5, 1.5], u2 = [1.0] }
[time]
t_f = 10
n_t = 51
[task]
target = "u1"
'''


def test_task_template_from_a_foreign_sbml_file(tmp_path):
    from gfn_crn.tasks import load_task
    from gfn_crn.tasks.config import TEMPLATE_KEYS  # noqa: F401  (the keys are documented in docs/formats.md)

    plant = from_antimony("model plant()\n  J1: X1 -> X1 + X2; kp * u2 * X1\n  J2: X2 -> ; 0.5 * X2\n"
                          "  kp = 2; u2 = 1\nend\n")
    (tmp_path / "plant.xml").write_text(strip_annotations(to_sbml(plant)))
    (tmp_path / "t.toml").write_text(PLANT_SBML_TASK)
    task = load_task(tmp_path / "t.toml")
    want = parse_network("species: X1 X2 Z1 Z2\noutputs: X2\ninputs: u2\nfixed: X1 -> X1 + X2 ; k=2 * u2\n"
                         "fixed: X2 -> 0 ; k=0.5\nfixed: 0 -> Z1 ; k=1 * u1\n").template
    assert task.template == want
    assert task.max_reactions == 6 and task.n_scenarios == 2
    # the shorthand template = "file": here a model gfn_crn wrote, whose template (outputs, fixed
    # reactions) it records; its added reactions are not the template's
    from gfn_crn.crn import Network

    ours = Network(task.template, (ReactionInstance(mass_action(["Z2"], []), (0.7,)),))
    (tmp_path / "ours.xml").write_text(to_sbml(ours))
    (tmp_path / "s.toml").write_text('kind = "tracking"\ntemplate = "ours.xml"\n[scenarios]\n'
                                     'inputs = { u1 = [1.0], u2 = [1.0] }\n[task]\ntarget = "u1"\n')
    assert load_task(tmp_path / "s.toml").template == task.template
    # errors name the key and the culprit
    for bad, match in ((PLANT_SBML_TASK.replace('controller = ["Z1", "Z2"]', 'controller = ["X1"]'),
                        r"controller species \['X1'\] are already"),
                       (PLANT_SBML_TASK.replace('inputs = ["u2"]', 'inputs = ["u7"]'), r"input u7 is not a parameter"),
                       (PLANT_SBML_TASK.replace('"0 -> Z1 ; k=1 * u1"', '"0 -> Q ; k=1"'), r"unknown species 'Q'"),
                       (PLANT_SBML_TASK.replace("max_reactions = 6", "max_reactions = 0"), r"max_reactions must be"),
                       (PLANT_SBML_TASK.replace('outputs = ["X2"]', 'outputs = ["Y"]'), r"plant.xml: output 'Y'")):
        (tmp_path / "bad.toml").write_text(bad)
        with pytest.raises(CRNError, match=match):
            load_task(tmp_path / "bad.toml")


def test_rpa_plant_preset_is_built_from_its_antimony_model():
    from gfn_crn.tasks import load_task
    from gfn_crn.tasks.presets import preset_dir
    from gfn_crn.training.config import resolve_config

    task = load_task("rpa-plant")
    t = task.template
    assert t.species == ("X1", "X2", "Z1", "Z2", "Z3", "Z4") and t.outputs == ("X2",)
    assert t.inputs == ("u1", "u2", "u3") and task.n_scenarios == 27 and task.max_reactions == 8
    plant = from_antimony((preset_dir() / "rpa-plant.antimony").read_text(), inputs={"d1": "u2", "d2": "u3"},
                          fixed="all")
    assert t.fixed[:3] == plant.template.fixed and t.fixed[3] == parse_network(
        "species: Z1\nfixed: 0 -> Z1 ; k=1 * u1\n").template.fixed[0]
    assert [i.reaction.input for i in t.fixed] == ["u2", "u3", None, "u1"]
    assert resolve_config(None, None, {"task": "rpa-plant"}).max_reactions == 8
    assert resolve_config(None, None, {"task": "rpa-plant", "max_reactions": 3}).max_reactions == 3
    assert resolve_config(None, None, {"task": "rpa"}).max_reactions == 5
    # an antithetic controller on the plant tracks the reference (a design the task can score)
    design = task.adopt(parse_network("species: X1 X2 Z1 Z2\nZ1 -> Z1 + X1 ; k=3\nX2 -> X2 + Z2 ; k=1\n"
                                      "Z1 + Z2 -> 0 ; k=10\n"))
    res = task.evaluate([design])
    assert res.valid[0] and res.loss[0] < 0.3
    empty = task.evaluate([task.adopt(parse_network("species: X1\n"))])
    assert empty.loss[0] > 2 * res.loss[0]


def test_docs_antimony_design_reads_and_verifies(tmp_path):
    """The modeller's design shown in docs/formats.md: read, split from the rpa template, verified."""
    from pathlib import Path

    from gfn_crn.tasks import load_task
    from gfn_crn.verify import verify

    doc = (Path(__file__).resolve().parent.parent / "docs" / "formats.md").read_text()
    (block,) = re.findall(r"```\n(model design\(\).*?end)\n```", doc, re.S)
    p = tmp_path / "design.antimony"
    p.write_text(block + "\n")
    task = load_task("rpa")
    net = task.adopt(load_network(p))
    assert net.reactions == parse_network("species: X1 Z1 Z2\nZ1 -> Z1 + X1 ; k=3.11312\nX1 -> Z2 ; k=1.00065\n"
                                          "Z1 + Z2 -> 0 ; k=1.03465\n").reactions
    v = verify(task, net)
    assert v.verified and v.loss < task.good_threshold
    # the plant shown there is the preset's file
    from gfn_crn.tasks.presets import preset_dir

    shipped = [ln.strip() for ln in (preset_dir() / "rpa-plant.antimony").read_text().splitlines()
               if ln.strip() and not ln.startswith("//")]
    (plant,) = re.findall(r"```\n(model plant\(\).*?end)\n```", doc, re.S)
    assert [ln.strip() for ln in plant.splitlines()] == shipped
