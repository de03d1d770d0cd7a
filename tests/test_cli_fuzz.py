"""Property-based fuzzing of the command line (issue 17): no traceback for any user input.

Every input -- random bytes as a network, random mutations of valid network, task and archive
files, random argument lists -- must end in exit status 0 (it was fine) or 2 with exactly one
line ``gfn-crn: error: ...`` on stderr. Status 1 (``gfn-crn: internal error``, the catch-all for
bugs) or any traceback fails the test.

Calls ``gfn_crn.cli.main(argv)`` in-process with captured stdout/stderr (no subprocesses). The
number of examples per property is ``GFN_CRN_FUZZ_EXAMPLES`` (default 40; the runs are
derandomized unless ``GFN_CRN_FUZZ_RANDOM=1``); ``GFN_CRN_FUZZ_LOG=FILE`` appends one line per
input tried, and ``GFN_CRN_FUZZ_COUNT=1`` records instead of asserting (how the crashes of the
code before issue 17 were counted).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gfn_crn.cli import main  # noqa: E402
from gfn_crn.crn import ANTITHETIC_TEXT, antithetic_example, parse_network  # noqa: E402

N = int(os.environ.get("GFN_CRN_FUZZ_EXAMPLES", "40"))
SETTINGS = settings(max_examples=N, deadline=None, derandomize=not os.environ.get("GFN_CRN_FUZZ_RANDOM"),
                    suppress_health_check=list(HealthCheck), database=None)
_counter = itertools.count()

HILL_TEXT = """species: X1 X2 Y
outputs: Y
inputs: u1
fixed: 0 -> X1 ; k=1 * u1
0 -> Y ; hill b=0.01 V=1 act X1 K=0.3 n=2 rep X2 K=1 n=1
Y -> 0 ; deg c=1 K=0.5 by X1
X2 -> 0 ; k=0.5
"""
RPA_TOML = """kind = "tracking"
name = "fuzz"
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [0.5, 1.5], u2 = [1.0] }
init = 0.01
[time]
t_f = 10
n_t = 21
[task]
target = "u1"
weights = "transient"
norm = 1
[reward]
beta = 30
loss_cap = 1
good_threshold = 0.01
"""


@contextlib.contextmanager
def _chdir(d):  # contextlib.chdir is Python 3.11+
    old = os.getcwd()
    os.chdir(d)
    try:
        yield
    finally:
        os.chdir(old)


_CWD: list = []  # the fuzz work directory: relative outputs (export --out -1) land there


def run_cli(argv) -> tuple[int, str, str]:
    """``gfn-crn ARGV`` in-process: (status, stdout, stderr); fails on a crash."""
    out, err = io.StringIO(), io.StringIO()
    crash = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _chdir(_CWD[-1]):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:  # main must not let one through either
            rc, crash = e.code, f"SystemExit({e.code})"
        except Exception as e:  # noqa: BLE001 - recorded (GFN_CRN_FUZZ_COUNT), else a failure below
            rc, crash = -1, f"{type(e).__name__}: {str(e)[:100]}"
    log = os.environ.get("GFN_CRN_FUZZ_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps({"argv": [str(a) for a in argv][:12], "rc": rc, "crash": crash,
                                 "err": err.getvalue()[:300]}) + "\n")
    if os.environ.get("GFN_CRN_FUZZ_COUNT"):  # survey mode: record, do not assert
        return rc, out.getvalue(), err.getvalue()
    assert crash is None, f"{crash} escaped main for {argv!r}"
    e = err.getvalue()
    assert "Traceback" not in e, f"traceback for {argv!r}:\n{e}"
    assert rc in (0, 2), f"status {rc} for {argv!r}: {e}"
    if rc == 2:
        lines = [ln for ln in e.splitlines() if ln.strip()]
        errs = [ln for ln in lines if ln.startswith("gfn-crn: error: ")]
        assert len(errs) == 1, f"expected one error line for {argv!r}, got:\n{e}"
        assert len(errs[0]) > len("gfn-crn: error: ") + 5
    return rc, out.getvalue(), e


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    _CWD.append(d)
    (d / "anti.crn").write_text(ANTITHETIC_TEXT)
    (d / "anti.json").write_text(antithetic_example().to_json())
    (d / "hill.crn").write_text(HILL_TEXT)
    (d / "task.toml").write_text(RPA_TOML)
    (d / "a_dir").mkdir()
    # a run directory with an archive (no training needed for top/export)
    from gfn_crn.training.archive import Archive

    run = d / "run"
    run.mkdir()
    net = antithetic_example()
    a = Archive(10, 0.01)
    a.update([net], [0.003], [True], [-0.1], iteration=1)
    a.save_json(run / "archive.json")
    return d


def _fresh(work, suffix):
    return work / f"f{next(_counter)}{suffix}"


# ---------------------------------------------------------------------------- mutations
TOKENS = ["->", ";", "k=", "*", "u1", "u9", "X1", "Z1", "0", "+", "2", "-1", "nan", "inf", "1e400", "1e-400",
          "hill", "deg", "act", "rep", "by", "n=", "K=", "b=", "V=", "c=", "species:", "fixed:", "outputs:",
          "inputs:", "#", "\n", " ", "\t", "=", ",", "[", "]", "{", "}", '"', "é", "\x00", "\ufeff", "99999999999",
          "true", "[[x]]", "t_f", "n_t", "kind", "tracking", "oscillator", "-", ".", "e"]


@st.composite
def mutated(draw, base: str):
    """``base`` with 1-4 random edits: delete, insert a token or random text, duplicate or drop a
    line, replace a number, truncate."""
    s = base
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "insert_text", "dup_line", "drop_line", "number", "truncate"]))
        n = max(len(s), 1)
        i = draw(st.integers(0, n - 1))
        if op == "delete":
            j = draw(st.integers(i, min(n, i + 12)))
            s = s[:i] + s[j:]
        elif op == "insert":
            s = s[:i] + draw(st.sampled_from(TOKENS)) + s[i:]
        elif op == "insert_text":
            s = s[:i] + draw(st.text(max_size=8)) + s[i:]
        elif op in ("dup_line", "drop_line"):
            lines = s.splitlines(keepends=True) or [""]
            k = draw(st.integers(0, len(lines) - 1))
            lines = lines[:k + 1] + lines[k:] if op == "dup_line" else lines[:k] + lines[k + 1:]
            s = "".join(lines)
        elif op == "number":
            nums = list(re.finditer(r"\d+(\.\d+)?", s))
            if nums:
                m = nums[draw(st.integers(0, len(nums) - 1))]
                rep = draw(st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e308", "1e-308", "3.5", "100000000",
                                            "1e9", "0.0", "2", "abc", ""]))
                s = s[:m.start()] + rep + s[m.end():]
        else:
            s = s[:i]
    return s


# ---------------------------------------------------------------------------- properties
@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_as_a_network_file(work, data):
    for suffix in (".crn", ".json"):
        f = _fresh(work, suffix)
        f.write_bytes(data)
        run_cli(["simulate", f, "--inputs", "u1=1,u2=1", "--points", "11", "--t-final", "1"])
    run_cli(["evaluate", "--task", work / "task.toml", f])


@SETTINGS
@given(text=st.one_of(mutated(ANTITHETIC_TEXT), mutated(HILL_TEXT)))
def test_mutated_network_text(work, text):
    f = _fresh(work, ".crn")
    f.write_bytes(text.encode("utf-8", errors="replace"))
    run_cli(["simulate", f, "--inputs", "u1=1,u2=1", "--points", "11", "--t-final", "1"])
    run_cli(["simulate", f, "--points", "11", "--t-final", "1", "--json"])


@SETTINGS
@given(text=mutated(antithetic_example().to_json()))
def test_mutated_network_json(work, text):
    f = _fresh(work, ".json")
    f.write_bytes(text.encode("utf-8", errors="replace"))
    run_cli(["simulate", f, "--inputs", "u1=1,u2=1", "--points", "11", "--t-final", "1"])


@SETTINGS
@given(text=mutated(RPA_TOML))
def test_mutated_task_file(work, text):
    f = _fresh(work, ".toml")
    f.write_bytes(text.encode("utf-8", errors="replace"))
    run_cli(["evaluate", "--task", f, work / "anti.crn"])


@SETTINGS
@given(data=st.data())
def test_mutated_archive(work, data):
    src = (work / "run" / "archive.json").read_text()
    bad = data.draw(mutated(src))
    d = work / f"run{next(_counter)}"
    d.mkdir()
    (d / "archive.json").write_bytes(bad.encode("utf-8", errors="replace"))
    run_cli(["top", d, "-k", "3"])
    run_cli(["export", d, "-k", "1"])


FLAGS = {
    "simulate": ["--inputs", "--init", "--t-final", "--points", "--engine", "--rtol", "--atol", "--json", "--plot",
                 "--overwrite", "--stochastic", "--trajectories", "--volume", "--seed", "--max-events", "--tau"],
    "evaluate": ["--task", "--json", "--plot", "--overwrite"],
    "verify": ["--task", "--json", "--plot", "--overwrite"],
    "tasks": ["--show"],
    "top": ["-k", "--json", "--width"],
    "export": ["-k", "--out", "--overwrite"],
}
VALUES = ["0", "1", "-1", "2", "3", "nan", "inf", "1e400", "abc", "", "u1=1,u2=1", "u1=1", "u1=x", "=", "X1=0.1",
          "rodas", "cvode", "scipy", "euler", "rpa", "logic-4", "nope", "out.png", "out.xyz", "a_dir", "anti.crn",
          "anti.json", "hill.crn", "task.toml", "run", "missing.crn", "--json", "-h"]


@SETTINGS
@given(data=st.data())
def test_random_argument_lists(work, data):
    cmd = data.draw(st.sampled_from(sorted(FLAGS)))
    argv = [cmd]
    if cmd in ("simulate",):
        argv.append(data.draw(st.sampled_from(["anti.crn", "anti.json", "hill.crn", "missing.crn", "a_dir", "run"])))
    if cmd in ("top", "export"):
        argv.append(data.draw(st.sampled_from(["run", "a_dir", "missing", "anti.crn"])))
    if cmd in ("evaluate", "verify"):
        argv.append(data.draw(st.sampled_from(["anti.crn", "hill.crn", "missing.crn", "anti.json"])))
    for _ in range(data.draw(st.integers(0, 5))):
        argv.append(data.draw(st.sampled_from(FLAGS[cmd] + ["--bogus", "-x"])))
        if data.draw(st.booleans()):
            argv.append(data.draw(st.sampled_from(VALUES)))
    # relative names refer to the work directory; outputs go to fresh names there
    fixed = []
    for a in argv:
        if a in ("out.png", "out.xyz"):
            a = str(_fresh(work, "." + a.split(".")[1]))
        elif a in ("anti.crn", "anti.json", "hill.crn", "task.toml", "run", "a_dir", "missing.crn", "missing"):
            a = str(work / a)
        fixed.append(a)
    if cmd == "simulate":  # keep the simulations short
        fixed += ["--points", "11", "--t-final", "1"] if "--stochastic" not in fixed else ["--trajectories", "2",
                                                                                          "--points", "11",
                                                                                          "--t-final", "1"]
    if cmd == "export" and "--out" in fixed:
        i = fixed.index("--out")
        if i + 1 < len(fixed) and not fixed[i + 1].startswith("-"):
            fixed[i + 1] = str(_fresh(work, ""))
    run_cli(fixed)


# ---------------------------------------------------------------------------- the findings, as plain tests
def test_binary_network_is_one_clean_line(work, capsys):
    f = work / "binary.crn"
    f.write_bytes(bytes(range(256)) * 4)
    for argv in (["simulate", f], ["evaluate", "--task", "rpa", f]):
        rc, _, err = run_cli(argv)
        assert rc == 2 and "not a text file" in err and str(f) in err


def test_non_utf8_text_names_the_byte(work):
    f = work / "latin1.crn"
    f.write_bytes(ANTITHETIC_TEXT.encode() + "# caf\xe9\n".encode("latin-1"))
    rc, _, err = run_cli(["simulate", f, "--inputs", "u1=1,u2=1"])
    assert rc == 2 and "not UTF-8 text (byte 0xe9" in err


def test_inputs_missing_names_the_flag(work):
    rc, _, err = run_cli(["simulate", work / "anti.crn"])
    assert rc == 2 and "--inputs u1=1,u2=1" in err


def test_error_prefix_is_the_same_in_every_command(work):
    for argv in (["tasks", "--show", "nope"], ["evaluate", "--task", "nope", work / "anti.crn"],
                 ["simulate", work / "missing.crn"], ["top", work / "missing"], ["export", work / "a_dir"],
                 ["nope"], ["simulate", work / "anti.crn", "--engine", "euler"]):
        rc, _, err = run_cli(argv)
        assert rc == 2 and err.startswith("gfn-crn: error: "), (argv, err)


def test_a_bug_is_one_line_with_status_1(monkeypatch, capsys):
    import gfn_crn.tasks.cli as tcli

    def boom(args):
        raise ZeroDivisionError("deliberate")

    monkeypatch.setattr(tcli, "cmd_tasks", boom)
    assert main(["tasks"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gfn-crn: internal error: ZeroDivisionError: deliberate")
    assert "Traceback" not in err


def test_parse_network_rejects_what_fuzzing_found():
    from gfn_crn.crn import CRNError
    from gfn_crn.crn.textio import network_from_json

    for text in ('[]', '{"species": 5}', '{"species": ["A"], "reactions": [5]}',
                 '{"species": ["A"], "reactions": [{"kind": "mass_action", "reactants": 3, "params": {}}]}',
                 '{"species": ["A"], "reactions": [{"kind": "mass_action", "products": [["A", 1]], '
                 '"params": {"k": "x"}}]}', "[" * 100000):
        with pytest.raises(CRNError):
            network_from_json(text)
