"""Issue 17: nothing lost, no tracebacks, an instant command line.

Each test here fails on the code before the issue: outputs that replaced the user's files,
resource limits, linear-time duplicate detection, invalid designs ranked among valid ones, the
torch import of every command, the damaged-checkpoint message cut mid-word.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gfn_crn.cli import main
from gfn_crn.crn import ANTITHETIC_TEXT, CRNError, antithetic_example, load_network, parse_network
from gfn_crn.outputs import check_run_dir


def _err_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gfn-crn: error: "), err
    return lines[0]


# ---------------------------------------------------------------------------- 1. no data loss
def test_train_out_into_a_users_directory_is_refused_naming_its_files(tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "config.toml").write_text("my = 'settings'\n")
    (d / "report.md").write_text("# my report\n")
    assert main(["train", "--task", "rpa", "--out", str(d), "--iterations", "1", "--no-progress"]) == 2
    line = _err_line(capsys)
    assert "config.toml" in line and "report.md" in line and "--allow-nonempty" in line
    # even with the flag, files with the run's names are never replaced
    assert main(["train", "--task", "rpa", "--out", str(d), "--iterations", "1", "--allow-nonempty",
                 "--no-progress"]) == 2
    line = _err_line(capsys)
    assert "never replaces" in line and "config.toml" in line
    assert (d / "config.toml").read_text() == "my = 'settings'\n"
    assert (d / "report.md").read_text() == "# my report\n"
    assert sorted(p.name for p in d.iterdir()) == ["config.toml", "report.md"]


def test_run_dir_rules(tmp_path):
    check_run_dir(tmp_path / "new")                       # new: fine
    (tmp_path / "empty").mkdir()
    check_run_dir(tmp_path / "empty")                     # empty: fine
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(CRNError, match="notes.txt"):
        check_run_dir(other)
    check_run_dir(other, allow_nonempty=True)             # no clash: fine
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("")
    (run / "metrics.jsonl").write_text("")
    with pytest.raises(CRNError, match="already holds a run"):
        check_run_dir(run)
    check_run_dir(run, overwrite=True)


def test_out_naming_a_file_is_a_clean_error(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("keep me")
    assert main(["train", "--task", "rpa", "--out", str(f), "--iterations", "1", "--no-progress"]) == 2
    assert "is a file, not a directory" in _err_line(capsys)
    assert main(["demo", "--out", str(f)]) == 2
    assert "is a file, not a directory" in _err_line(capsys)
    assert f.read_text() == "keep me"


def test_plot_and_export_never_replace_a_file_without_overwrite(tmp_path, capsys):
    net = tmp_path / "anti.crn"
    net.write_text(ANTITHETIC_TEXT)
    png = tmp_path / "figure.png"
    png.write_bytes(b"my figure")
    argv = ["simulate", str(net), "--inputs", "u1=1,u2=1", "--points", "11", "--plot", str(png)]
    assert main(argv) == 2
    assert "--overwrite" in _err_line(capsys)
    assert png.read_bytes() == b"my figure"
    assert main(argv + ["--overwrite"]) == 0
    assert png.read_bytes() != b"my figure"
    capsys.readouterr()
    # export into a directory holding a file of the same name
    from gfn_crn.training.archive import Archive

    run = tmp_path / "run"
    run.mkdir()
    a = Archive(5, 0.01)
    a.update([antithetic_example()], [0.003], [True], [-0.1])
    a.save_json(run / "archive.json")
    out = tmp_path / "designs"
    out.mkdir()
    (out / "rank01.crn").write_text("mine")
    assert main(["export", str(run), "-k", "1", "--out", str(out)]) == 2
    assert "rank01.crn" in _err_line(capsys)
    assert (out / "rank01.crn").read_text() == "mine"
    assert main(["export", str(run), "-k", "1"]) == 0  # the run's own designs/ is the run's


# ---------------------------------------------------------------------------- 3. resource guards
def test_file_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    f = tmp_path / "big.crn"
    f.write_text(ANTITHETIC_TEXT + "#" * 5000 + "\n")
    monkeypatch.setenv("GFN_CRN_MAX_FILE_MB", "0.001")
    opened = []
    real_open = open

    def spy(p, *a, **k):
        opened.append(str(p))
        return real_open(p, *a, **k)

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(CRNError, match=r"big.crn is 0.0 MB, more than the limit of 0.001 MB \(set GFN_CRN_MAX_FILE_MB"):
        load_network(f)
    assert str(f) not in opened
    monkeypatch.setenv("GFN_CRN_MAX_FILE_MB", "1")
    assert load_network(f).species == antithetic_example().species


def test_species_and_reaction_limits_stop_the_parse_early(monkeypatch):
    species = " ".join(f"S{i}" for i in range(600))
    with pytest.raises(CRNError, match="600 species, more than the limit of 500 .*GFN_CRN_MAX_SPECIES=600"):
        parse_network(f"species: {species}\n")
    monkeypatch.setenv("GFN_CRN_MAX_SPECIES", "600")
    assert len(parse_network(f"species: {species}\n").species) == 600
    monkeypatch.setenv("GFN_CRN_MAX_REACTIONS", "10")
    lines = [f"S{i} -> S{i + 1} ; k=1" for i in range(11)] + ["this line is garbage"]
    # the limit stops the parse at reaction 11: the malformed line after it is never reached
    with pytest.raises(CRNError, match="line 12: the file has more than 10 reactions"):
        parse_network(f"species: {species}\n" + "\n".join(lines))
    js = json.dumps({"species": ["A"], "reactions": [{"kind": "mass_action"}] * 11})
    from gfn_crn.crn.textio import network_from_json

    with pytest.raises(CRNError, match="more than 10 reactions"):
        network_from_json(js)


def test_time_point_limit(monkeypatch):
    from gfn_crn.sim import time_grid

    with pytest.raises(CRNError, match="more than the limit of 100000 .*GFN_CRN_MAX_POINTS"):
        time_grid(10.0, 10**8)
    monkeypatch.setenv("GFN_CRN_MAX_POINTS", "200000")
    assert time_grid(1.0, 150_000).size == 150_000


def test_simulation_size_guard_names_the_numbers_and_can_be_raised(monkeypatch, capsys, tmp_path):
    """A batch whose trajectories (networks x scenarios x points x species float64) would not fit
    is refused before any work, naming every factor; max_memory_mb or GFN_CRN_MAX_SIM_MB allow it."""
    import time

    from gfn_crn.crn import antithetic_example
    from gfn_crn.sim import Scenario, simulate, time_grid

    net = antithetic_example()
    scen = [Scenario({"u1": 1.0 + i, "u2": 0.5}) for i in range(3)]
    t = time_grid(10.0, 50_001)
    n = len(net.species)
    values = 4 * 3 * 50_001 * n
    t0 = time.perf_counter()
    with pytest.raises(CRNError, match=(rf"4 networks x 3 scenarios x 50001 time points x {n} species = {values:,} "
                                        rf"values, {values * 8 / 1e6:,.1f} MB .* more than the limit of 10 MB.*"
                                        r"GFN_CRN_MAX_SIM_MB=.*max_memory_mb")):
        simulate([net] * 4, scen, t, max_memory_mb=10)
    assert time.perf_counter() - t0 < 1.0  # refused before the integration
    monkeypatch.setenv("GFN_CRN_MAX_SIM_MB", "1")
    with pytest.raises(CRNError, match="more than the limit of 1 MB"):
        simulate([net], scen[:1], t)
    small = simulate([net], scen[:1], time_grid(10.0, 101))  # 101 x species values: well under 1 MB
    assert small.y.shape == (1, 1, 101, n)
    assert simulate([net], scen[:1], t, max_memory_mb=100).ok.all()  # the argument overrides the variable
    # the command line reports it in one line (the variable still says 1 MB)
    f = tmp_path / "net.crn"
    f.write_text(ANTITHETIC_TEXT)
    assert main(["simulate", str(f), "--inputs", "u1=1,u2=0.5", "--points", "50001"]) == 2
    assert "simulation too large" in capsys.readouterr().err


def test_duplicate_detection_is_linear(monkeypatch):
    """The old parser rebuilt the set of declared species for every line: 369k lines x 3,000
    species took 88 s to report a duplicate. Count the sets built from the species list."""
    import gfn_crn.crn.textio as textio

    n_species, n_lines = 300, 2000
    monkeypatch.setenv("GFN_CRN_MAX_SPECIES", str(n_species))
    big_sets = [0]

    def counting_set(*a):
        s = set(*a)
        if len(s) >= n_species:
            big_sets[0] += 1
        return s

    monkeypatch.setattr(textio, "set", counting_set, raising=False)
    species = [f"S{i}" for i in range(n_species)]
    lines = [f"S{i % n_species} -> S{(i % n_species + 1 + i // n_species) % n_species} ; k=1" for i in range(n_lines)]
    lines.append(lines[5])  # the duplicate, last
    with pytest.raises(CRNError, match=f"line {n_lines + 2}: duplicate reaction .*also on line 7"):
        parse_network("species: " + " ".join(species) + "\n" + "\n".join(lines))
    assert big_sets[0] <= 3, big_sets[0]  # was one per line (2001)


def test_errors_list_at_most_twenty_declared_species():
    species = " ".join(f"S{i}" for i in range(300))
    with pytest.raises(CRNError) as e:
        parse_network(f"species: {species}\nS1 -> Q ; k=1\n")
    assert "(300 in all)" in str(e.value) and len(str(e.value)) < 400


# ---------------------------------------------------------------------------- 5. invalid ranks last
def test_invalid_designs_rank_last_everywhere(tmp_path):
    from gfn_crn.rewards.evaluations import rank_order

    loss = np.array([1.05, 1.0, 0.2, 1.0, 3.0])      # 1.0 = loss_cap stand-ins of invalid designs
    valid = np.array([True, False, True, False, True])
    assert rank_order(loss, valid).tolist() == [2, 0, 4, 1, 3]

    from gfn_crn.training.sampling import Samples

    nets = [antithetic_example()] * 5
    s = Samples(nets, loss, np.zeros(5), valid, np.array(["ok", "diverged", "ok", "failed", "ok"]))
    s.write_jsonl(tmp_path / "s.jsonl")
    rows = [json.loads(l) for l in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["draw"] for r in rows] == [2, 0, 4, 1, 3]
    assert [r["loss"] for r in rows] == [0.2, 1.05, 3.0, None, None]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]

    from gfn_crn.training.archive import Archive

    a = Archive(10, 0.01)
    a.update(nets[:1], [0.5], [True], [0.0])
    a.update([antithetic_example().with_reactions(
        [parse_network("species: X1 Z1 Z2\nZ1 -> 0 ; k=1").reactions[0]])], [1.0], [False], [0.0])
    assert len(a) == 1  # invalid designs are not archived
    d = a.to_dict()
    d["entries"].append({**d["entries"][0], "loss": float("nan"), "network": json.loads(
        antithetic_example().with_reactions(
            [parse_network("species: X1 Z1 Z2\nZ2 -> 0 ; k=1").reactions[0]]).to_json())})
    d["entries"].append({**d["entries"][0], "loss": 2.0, "network": json.loads(
        antithetic_example().with_reactions(
            [parse_network("species: X1 Z1 Z2\nX1 -> Z2 ; k=1").reactions[0]]).to_json())})
    b = Archive.from_dict(d)
    assert [e.loss for e in b.top()][:2] == [0.5, 2.0] and math.isnan(b.top()[-1].loss)


def test_valid_share_never_rounds_to_all_or_none():
    from gfn_crn.training.report import valid_share

    assert valid_share(255, 256) == "255 of 256 valid (99.6%)"
    assert valid_share(9999, 10000) == "9999 of 10000 valid (>99.9%)"
    assert valid_share(1, 10000) == "1 of 10000 valid (<0.1%)"
    assert valid_share(256, 256) == "256 of 256 valid (100%)"
    assert "(0.4%)" in valid_share(1, 256)


def test_evaluate_reports_no_loss_for_an_invalid_design(tmp_path, capsys):
    f = tmp_path / "boom.crn"
    f.write_text(ANTITHETIC_TEXT + "2 X1 -> 3 X1 ; k=50\n")  # blows up in finite time
    assert main(["evaluate", "--task", "rpa", str(f)]) == 0
    out = capsys.readouterr().out
    assert "loss - (invalid)" in out and "valid False" in out
    assert main(["evaluate", "--task", "rpa", str(f), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["loss"] is None and d["valid"] is False


# ---------------------------------------------------------------------------- 6. no torch where none is needed
@pytest.mark.parametrize("argv", [
    ["tasks"],
    ["tasks", "--show", "rpa"],
    ["simulate", "{net}", "--inputs", "u1=1,u2=1", "--points", "11"],
    ["evaluate", "--task", "rpa", "{net}"],
    ["verify", "--task", "rpa", "{net}"],
    ["top", "{run}"],
    ["export", "{run}", "-k", "1"],
    ["--help"],
    ["nope"],
])
def test_commands_without_training_do_not_import_torch(tmp_path, argv):
    from gfn_crn.training.archive import Archive

    net = tmp_path / "anti.crn"
    net.write_text(ANTITHETIC_TEXT)
    run = tmp_path / "run"
    run.mkdir()
    a = Archive(5, 0.01)
    a.update([antithetic_example()], [0.003], [True], [-0.1])
    a.save_json(run / "archive.json")
    argv = [x.format(net=net, run=run) for x in argv]
    code = textwrap.dedent(f"""
        import sys
        from gfn_crn.cli import main
        rc = main({argv!r})
        heavy = sorted(m for m in ("torch", "gfn", "tensordict", "torch_geometric") if m in sys.modules)
        print("HEAVY", heavy, "RC", rc)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY [] RC" in p.stdout, (p.stdout[-500:], p.stderr[-2000:])


# ---------------------------------------------------------------------------- checkpoint message
def test_damaged_checkpoint_message_is_not_cut_mid_word():
    from gfn_crn.training.checkpoint import _brief  # (run.py split: checkpoint files live in checkpoint.py)

    msg = ("Weights only load failed. This file can still be loaded, to do so you have two options, do those "
           "steps only if you trust the source of the checkpoint. If you want to load it anyway, read the docs.")
    short = _brief(RuntimeError(msg + "\nmore"))
    assert short.endswith(" ...") and short[:-4].rstrip().endswith(".")
    words = set(msg.replace(",", " ").replace(".", " ").split())
    assert all(w.strip(".,") in words for w in short[:-4].split()), short
    assert _brief(RuntimeError("short one")) == "short one"


def test_bad_train_settings_leave_no_directory_behind(tmp_path, capsys):
    d = tmp_path / "never"
    assert main(["train", "--task", "nope", "--out", str(d), "--no-progress"]) == 2
    assert "'nope' is neither a preset" in _err_line(capsys)
    assert not d.exists()
    f = tmp_path / "afile"
    f.write_text("x")
    assert main(["train", "--resume", str(f)]) == 2
    assert "is a file, not a run directory" in _err_line(capsys)
