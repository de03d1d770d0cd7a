"""Task kinds own their configuration (gfn_crn.tasks.kinds) and presets are package files."""

from importlib import resources

import pytest

from gfn_crn.crn.errors import CRNError
from gfn_crn.tasks import KINDS, TrackingTask, list_presets, parse_task
from gfn_crn.tasks.kinds import REGISTRY, KindInput, lookup, register


def test_every_kind_is_registered_with_its_keys():
    assert set(KINDS) == set(REGISTRY) >= {"tracking", "logic", "dose_response", "oscillator", "habituation",
                                             "classification", "data_fit", "trace", "ssa_tracking", "ssa_robust"}
    assert lookup("rpa").name == "tracking" and lookup("datafit").name == "data_fit" and lookup("nope") is None
    assert "weights" in REGISTRY["tracking"].task_keys and "weights" not in REGISTRY["trace"].task_keys


def test_a_new_kind_is_one_registration():
    @register("toy_kind", keys={"target"}, grid=True, loss=True)
    def _toy(c: KindInput):
        return TrackingTask(c.template, c.grid_scenarios(), c.t, c.task.get("target", "u1"), **c.loss_kw, **c.common)

    try:
        text = ('kind = "toy_kind"\n[template]\nexample = "antithetic"\n[scenarios]\ninputs = { u1 = [1.0], '
                'u2 = [1.0] }\n[time]\nt_f = 10\nn_t = 20\n[task]\ntarget = "u1"\n')
        task = parse_task(text, source="toy.toml")
        assert isinstance(task, TrackingTask) and task.n_scenarios == 1 and task.name == "toy.toml"
        with pytest.raises(CRNError, match=r"unknown key\(s\) \['colour'\] in \[task\]"):
            parse_task(text + "colour = 1\n", source="toy.toml")
        with pytest.raises(ValueError, match="registered twice"):
            register("toy_kind")(_toy)
    finally:
        del REGISTRY["toy_kind"]


def test_presets_are_toml_files_in_the_package():
    files = sorted(p.name for p in resources.files("gfn_crn.tasks").joinpath("data").iterdir()
                   if p.name.endswith(".toml"))
    names = [n for n, _ in list_presets()]
    assert [f[:-5].split("-", 1)[1] for f in files] == names and names[0] == "rpa"
