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


# ------------------------------------------------------------------ a new kind is one file (issue 21)
# Everything a kind needs (its keys, its loss, its plot, its verification plan and its
# registration) in one module, written to a temporary file: nothing else in the package changes.
TOY_KIND = '''
import numpy as np

from gfn_crn.sim import Scenario
from gfn_crn.tasks.base import Task
from gfn_crn.tasks.kinds import KindInput, register
from gfn_crn.tasks.verification import CheckSpec, VerificationPlan, final_output_check, settled_check


class FinalLevelTask(Task):
    """The first output should end at ``level`` in every scenario (loss: relative distance)."""

    kind = "final_level_toy"
    default_good_threshold = 0.2

    def __init__(self, template, scenarios, t, *, level=1.0, **kw):
        self.level = float(level)
        super().__init__(template, scenarios, t, **kw)

    def scenario_losses(self, sim):
        fin = sim.y[:, :, -1, self._oidx[0]]
        return np.abs(fin - self.level) / self.level, {"final": fin}

    def figure(self, result, b=0):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.bar(np.arange(self.n_scenarios), result.details["final"][b])
        ax.axhline(self.level, color="k")
        ax.set_title("final level toy view")
        return fig

    def verification_plan(self, s):
        # its own off-grid scenarios: every training scenario with its inputs doubled
        scen = [Scenario({u: 2 * v for u, v in sc.inputs.items()}, sc.init, label=f"doubled {i}")
                for i, sc in enumerate(self.scenarios)]
        level = self.level
        far = final_output_check(self, scen, lambda fin: np.abs(fin[..., 0] - level) / level, 0.5)

        def low_start(tr):      # a check on the task's own scenarios: the output starts below the level
            return tr.y[:, :, 0, self._oidx[0]].max(axis=1) / level

        return VerificationPlan([settled_check(self, s), far, CheckSpec("starts_low", low_start, 1.0, "x(0) / level")],
                                n_points=301)


@register("final_level_toy", keys={"level"}, grid=True)
def _final_level(c: KindInput) -> FinalLevelTask:
    return FinalLevelTask(c.template, c.grid_scenarios(), c.t, level=c.task.number("level", 1.0, positive=True),
                          **c.common)
'''

TOY_TASK = '''kind = "final_level_toy"
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [1.0], u2 = [0.5, 1.5] }
[time]
t_f = 20
n_t = 50
[task]
level = 1.0
[reward]
good_threshold = 0.2
[verify]
horizon = 3
'''


def test_a_new_kind_with_its_plot_and_verification_is_one_file(tmp_path, capsys):
    import importlib.util
    import json
    import sys

    from gfn_crn.cli import main
    from gfn_crn.crn import antithetic_example
    from gfn_crn.crn.examples import ANTITHETIC_TEXT
    from gfn_crn.tasks import load_task
    from gfn_crn.verify import verify

    from conftest import plain_args

    path = tmp_path / "final_level_toy.py"
    path.write_text(TOY_KIND)
    spec = importlib.util.spec_from_file_location("final_level_toy", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["final_level_toy"] = mod
    try:
        spec.loader.exec_module(mod)
        (tmp_path / "toy.toml").write_text(TOY_TASK)
        task = load_task(str(tmp_path / "toy.toml"))
        assert isinstance(task, mod.FinalLevelTask) and task.verify_settings.horizon == 3
        with pytest.raises(CRNError, match=r"unknown key\(s\) \['target'\] in \[task\]"):
            parse_task(TOY_TASK.replace("level = 1.0", 'target = "u1"'), source="toy.toml")

        # evaluates, plots and verifies through the kind's own code
        net = task.adopt(antithetic_example())
        res = task.evaluate([net])
        assert res.valid[0] and res.loss[0] < 0.1            # antithetic adapts X1 to u1 = 1
        fig = task.plot(res, 0, tmp_path / "toy.png")
        assert (tmp_path / "toy.png").stat().st_size > 0 and fig.axes[0].get_title() == "final level toy view"
        v = verify(task, net, keep_traces=True)
        assert [c.name for c in v.checks] == ["bounded", "settled", "off_grid", "starts_low"]
        assert v.traces["t"].size == 301 and v.traces["groups"]["off grid"] == (2, 4)
        by = {c.name: c for c in v.checks}
        assert by["off_grid"].value > 0.5 and not by["off_grid"].passed   # doubled u1 doubles the set point
        assert "worst: doubled" in by["off_grid"].detail and not v.verified
        assert by["starts_low"].passed and by["starts_low"].value == pytest.approx(0.01)

        # the command line: gfn-crn verify, and a short training run (its plots, report and verification)
        (tmp_path / "anti.crn").write_text(ANTITHETIC_TEXT)
        assert main(["verify", "--task", str(tmp_path / "toy.toml"), str(tmp_path / "anti.crn"), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [c["name"] for c in out["checks"]] == ["bounded", "settled", "off_grid", "starts_low"]
        assert out["verified"] is False and out["checks"][2]["passed"] is False
        run = tmp_path / "run"
        rc = main(["train", "--task", str(tmp_path / "toy.toml"), "--iterations", "2", "--batch-size", "4",
                   "--max-reactions", "2", *plain_args(), "--set", "hidden=16", "--set", "final_samples=4",
                   "--set", "plot_top=1", "--set", "export_top=1", "--out", str(run), "--no-progress"])
        assert rc == 0 and (run / "top_1.png").exists() and (run / "summary.json").exists()
        assert json.loads((run / "summary.json").read_text())["evaluations"] == 8
    finally:
        REGISTRY.pop("final_level_toy", None)
        sys.modules.pop("final_level_toy", None)


def test_verify_and_the_plot_module_name_no_kind():
    """The runner and the plot module are kind-blind: no registered kind name or alias appears in
    them, not even in prose (a kind's behaviour is its module's)."""
    import re
    from pathlib import Path

    import gfn_crn
    from gfn_crn.tasks.kinds import _ALIASES

    root = Path(gfn_crn.__file__).parent
    files = sorted((root / "verify").glob("*.py")) + [root / "tasks" / "plots.py"]
    names = set(REGISTRY) | set(_ALIASES)
    assert {"tracking", "oscillator", "logic", "ssa_robust", "rpa"} <= names
    pattern = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")(?![\w-])")
    hits = [f"{p.relative_to(root)}:{i}: {line.strip()}" for p in files
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []
    # and no branch on a task's kind attribute
    assert not [p for p in files if re.search(r"\.kind\s*(==|!=|in\b)", p.read_text())]


@pytest.mark.parametrize("kind", ["ssa_tracking", "ssa_robust"])
@pytest.mark.parametrize("section,key,value", [("task", "settle_weight", "1.0"), ("reward", "reward_alpha", "3"),
                                                ("reward", "reward_eps", "0.01")])
def test_ssa_kinds_refuse_settings_they_cannot_honour(kind, section, key, value):
    text = (f'kind = "{kind}"\n[template]\nexample = "antithetic"\n[scenarios]\ninputs = {{ u1 = [1.0], u2 = [1.0] }}\n'
            f'[time]\nt_f = 10\nn_t = 20\n[task]\ntarget = "u1"\n')
    assert parse_task(text, source="s.toml").kind == kind           # the file is fine without the key
    text = text.replace("[task]\n", f"[{section}]\n{key} = {value}\n[task]\n") if section == "reward" else \
        text + f"{key} = {value}\n"
    with pytest.raises(CRNError, match=rf"s\.toml: \[{section}\] {key} is not supported by {kind} tasks"):
        parse_task(text, source="s.toml")


def test_tasks_import_nothing_from_verify():
    """The verification plan types live in gfn_crn.tasks.verification: the task kinds declare their
    checks without importing the runner above them (no tasks -> verify edge, deferred or not)."""
    import ast
    from pathlib import Path

    import gfn_crn

    tasks = Path(gfn_crn.__file__).parent / "tasks"
    bad = []
    for p in sorted(tasks.glob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = ("." * node.level) + (node.module or "")
                names = [mod]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            bad += [f"{p.name}: {n}" for n in names if n.startswith("..verify") or n.startswith("gfn_crn.verify")]
    assert bad == []
