"""Conditional GFlowNets (issue 24): task families, conditions on states, the conditional policy
and log Z, caches keyed by (condition, structure), and the exact check per condition."""

from __future__ import annotations

import numpy as np
import pytest

from gfn_crn.crn import CRNError, antithetic_example
from gfn_crn.tasks import load_task, parse_task
from gfn_crn.tasks.family import ConditionSpace, TaskFamily

FAMILY = '''
kind = "tracking"
[condition]
g = { low = 0.5, high = 2.0 }
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [1.0], u2 = [1.0] }
[time]
t_f = 20
n_t = 101
[task]
target = "{g} * u1"
'''


# ------------------------------------------------------------------ task families
def test_rpa_gain_member_is_rpa_at_gain_one_and_loss_depends_on_the_gain():
    fam = load_task("rpa-gain")
    assert isinstance(fam, TaskFamily) and fam.name == "rpa-gain"
    net = antithetic_example()   # tuned for X1 = u1
    r = fam.evaluate([net, net, net], [{"g": 1.0}, {"g": 0.5}, {"g": 2.0}])
    assert r.loss[0] == pytest.approx(load_task("rpa").evaluate([net]).loss[0], rel=1e-9)
    assert r.loss[1] > 0.1 and r.loss[2] > 0.1          # the same design misses other gains
    # the reference member (middle of the range) gives the shared facts
    assert fam.base.R.max() == pytest.approx(1.25 * 1.5)
    assert fam.floor == load_task("rpa").floor and fam.good_threshold == 0.01


def test_logic2_members_are_the_truth_tables_of_their_labels():
    fam = load_task("logic2")
    assert fam.conditions.variables[0].labels == ("0001", "0111", "0011", "0101")
    for label in fam.conditions.variables[0].labels:
        truth = fam.member({"table": label}).truth.ravel()
        assert "".join(str(int(b)) for b in truth) == label


@pytest.mark.parametrize("text,match", [
    ("g=3", r"condition g=3 is outside its range \[0.5, 2\]"),
    ("g=0.49", r"outside its range"),
    ("h=1", r"unknown condition variable\(s\) \['h'\] \(this family's: g in \[0.5, 2\]\)"),
    ("g=abc", r"condition g='abc' is not a number"),
    ("g", r"a condition is NAME=VALUE, got 'g'"),
    ("", r"missing condition variable\(s\) \['g'\]"),
])
def test_bad_conditions_are_errors_naming_the_variable(text, match):
    fam = parse_task(FAMILY)
    with pytest.raises(CRNError, match=match):
        fam.conditions.parse(text)


def test_unknown_choice_and_missing_condition_are_errors():
    fam = load_task("logic2")
    with pytest.raises(CRNError, match=r"condition table='1111' is not one of its choices 0001, 0111, 0011, 0101"):
        fam.conditions.parse("table=1111")
    with pytest.raises(CRNError, match="scores a network under a condition"):
        fam.evaluate([antithetic_example()])


@pytest.mark.parametrize("edit,match", [
    (('target = "{g} * u1"', 'target = "u1"'), r"condition variable\(s\) \['g'\] are not used: write \{g\} in \[task\]"),
    (("g = { low = 0.5, high = 2.0 }", "g = { low = 2.0, high = 0.5 }"), r"\[condition\] g: .*needs finite low < high"),
    (("g = { low = 0.5, high = 2.0 }", "g = { low = 0.5 }"), r"\[condition\] g: missing high"),
    (("g = { low = 0.5, high = 2.0 }", "g = { lo = 0.5, high = 2 }"), r"\[condition\] g: unknown key\(s\) \['lo'\]"),
    (("g = { low = 0.5, high = 2.0 }", "g = { choices = [1, 2] }"), r"choices must be a list of strings"),
])
def test_bad_condition_tables_are_errors(edit, match):
    with pytest.raises(CRNError, match=match):
        parse_task(FAMILY.replace(*edit), source="fam.toml")


def test_condition_tensors_round_trip_and_samples_stay_in_range():
    import torch

    space = ConditionSpace.from_table({"g": {"low": 0.7, "high": 1.9}, "t": {"choices": ["a", "b", "c"]}})
    t = space.tensor([{"g": 0.7, "t": "b"}, {"g": 1.9, "t": "c"}])
    assert t.shape == (2, 2) and t.dtype == torch.get_default_dtype()
    back = space.decode(t)
    assert [c["t"] for c in back] == ["b", "c"] and back[0]["g"] == pytest.approx(0.7, rel=1e-6)
    torch.manual_seed(0)
    s = space.sample(4000)
    dec = space.decode(s)                                     # every draw is a valid condition
    g = np.array([c["g"] for c in dec])
    assert 0.7 <= g.min() < 0.75 and 1.85 < g.max() <= 1.9   # uniform over the whole range
    counts = np.bincount([["a", "b", "c"].index(c["t"]) for c in dec], minlength=3)
    assert counts.min() > 1200
    f = space.features(t)
    assert f.shape == (2, 4) and f[0, 0] == pytest.approx(-1.0, abs=1e-6) and f[1, 0] == pytest.approx(1.0, abs=1e-6)
    assert f[0, 1:].tolist() == [0, 1, 0] and f[1, 1:].tolist() == [0, 0, 1]
    with pytest.raises(CRNError, match=r"condition g=2.5 is outside its range"):
        space.decode(torch.tensor([[2.5, 0.0]]))
