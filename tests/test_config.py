"""Settings are declared once: every field documented, Python and CLI defaults the same."""

import re
import subprocess
import sys
from dataclasses import fields

import pytest

from gfn_crn.crn.errors import CRNError
from gfn_crn.training.config import (
    FIELD_DOCS, SECTIONS, RefineConfig, ReinforceConfig, RunConfig, StructureSearchConfig, TopologyConfig, TrainConfig,
    flat_keys, from_flat, load_config_file, resolve_config, to_flat, to_toml,
)


@pytest.mark.parametrize("cls", [TrainConfig, ReinforceConfig, TopologyConfig, StructureSearchConfig, RefineConfig, RunConfig])
def test_every_setting_has_a_doc(cls):
    for f in fields(cls):
        if f.name in SECTIONS:
            continue
        assert f.metadata.get("doc", "").strip(), f"{cls.__name__}.{f.name} has no doc"


def test_flat_keys_are_unique_and_documented():
    keys = [k for k, _, _ in flat_keys()]
    assert len(keys) == len(set(keys))
    assert set(FIELD_DOCS) == set(keys) and all(FIELD_DOCS.values())
    # the keys of config.toml files written before the settings were nested all still mean something
    old = ("task algorithm library max_reactions min_reactions order iterations batch_size seed max_minutes lr "
           "lr_logZ init_logZ grad_clip hidden n_layers family learned_pb temperature_start temperature_end "
           "epsilon_start epsilon_end param_spread_start param_spread_end sf_bias anneal_fraction replay_capacity "
           "replay_fraction prioritized_replay replay_updates topology_reward topology_rounds topology_popsize "
           "topology_sigma structure_search_every structure_search_top_k structure_search_neighbours "
           "structure_search_destroy structure_search_max_visits reinforce_lr reinforce_replay archive_capacity "
           "checkpoint_every final_samples plot_top export_top threads workers chunk_size").split()
    assert set(old) <= set(keys)


def test_python_and_cli_defaults_agree():
    run = resolve_config()
    assert run.train == TrainConfig()  # train(env) in Python is the run gfn-crn train makes
    assert run.reinforce_config() == ReinforceConfig()
    assert run.topology == TopologyConfig() and run.search == StructureSearchConfig()
    # the shared REINFORCE fields agree with the train section's defaults
    t = TrainConfig()
    for f in fields(ReinforceConfig):
        if f.metadata.get("shared") == "train":
            assert getattr(ReinforceConfig(), f.name) == getattr(t, f.name), f.name


def test_cli_subprocess_writes_the_default_settings(tmp_path):
    """gfn-crn train (no flags but a tiny run) writes the defaults for everything it was not told."""
    code = ("from gfn_crn.training.config import RunConfig, to_toml; import sys; sys.stdout.write(to_toml(RunConfig()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    p = tmp_path / "config.toml"
    p.write_text(out)
    assert load_config_file(p) == RunConfig()


def test_flat_round_trip_and_mapping(tmp_path):
    c = from_flat({"iterations": 7, "threads": 2, "reinforce_lr": 3e-4, "topology_reward": True,
                   "structure_search_every": 3, "family": "lognormal_1d"})
    assert c.train.n_iterations == 7 and c.train.num_threads == 2 and c.reinforce.lr == 3e-4
    assert c.topology.enabled and c.search.every == 3 and c.train.family == "lognormal_1d"
    assert c.reinforce_config().n_iterations == 7 and c.reinforce_config().family == "lognormal_1d"
    p = tmp_path / "c.toml"
    p.write_text(to_toml(c))
    assert load_config_file(p) == c
    assert to_flat(RunConfig())["family"] == "" and from_flat({"family": ""}).train.family is None
    with pytest.raises(CRNError, match="unknown setting"):
        from_flat({"n_iterations": 3})  # the Python name is not a flat key
    with pytest.raises(CRNError, match="must be an integer"):
        from_flat({"iterations": 1.5})


def test_anneal_fraction_is_the_one_schedule_length():
    c = TrainConfig(n_iterations=150, anneal_fraction=100 / 150)
    assert c.anneal_iterations == 100
    assert c.policy_kwargs(0)["temperature"] == c.temperature_start and "temperature" not in c.policy_kwargs(100)


# ---------------------------------------------------------------------------- flags from the declarations
def _train_parser():
    import argparse

    from gfn_crn.training.cli import add_train_arguments

    p = argparse.ArgumentParser(prog="gfn-crn train", exit_on_error=False)
    add_train_arguments(p)
    return p


#: the train flags that are not settings: where the run goes, how it starts, what it prints
NOT_SETTINGS = {"--help", "--out", "--resume", "--preset", "--config", "--set", "--overwrite", "--allow-nonempty",
                "--no-progress", "--no-finish", "--per-sample-reward"}


def test_train_flags_are_the_declared_ones():
    from gfn_crn.training.config import flag_settings

    declared = {flag: key for key, flag, _ in flag_settings()}
    parser = _train_parser()
    flags = {s for a in parser._actions for s in a.option_strings if s.startswith("--")}
    assert flags - NOT_SETTINGS == set(declared)
    # no hand-written flag stands for a setting
    keys = {k for k, _, _ in flat_keys()}
    assert not {f[2:].replace("-", "_") for f in NOT_SETTINGS} & keys
    # each flag's help is its setting's doc with the default
    helps = {s: a.help for a in parser._actions for s in a.option_strings}
    for flag, key in declared.items():
        assert FIELD_DOCS[key] in helps[flag] and f"(default {RunConfig().get(key)}" in helps[flag]
    # choices are the declarations' (ALGORITHMS, ORDERS), not a copy
    from gfn_crn.envs import ORDERS
    from gfn_crn.training.config import ALGORITHMS, setting_spec

    assert setting_spec("order").choices == ORDERS and setting_spec("algorithm").choices == ALGORITHMS


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "0"], "argument --batch-size: must be >= 1, got '0'"),
    (["--order", "sideways"], "argument --order: must be one of canonical, free, got 'sideways'"),
    (["--algorithm", "ppo"], "argument --algorithm: must be one of tb, reinforce"),
    (["--max-minutes", "nan"], "argument --max-minutes: must be a finite number"),
    (["--iterations", "1.5"], "argument --iterations: must be an integer"),
    (["--iterations", "inf"], "argument --iterations: must be a finite integer"),  # was an OverflowError
    (["--set", "batch_size=1e400"], "--set: batch_size must be a finite integer"),
])
def test_flag_values_are_checked_against_the_declarations(argv, message, capsys):
    from gfn_crn.cli import main

    assert main(["train", *argv]) == 2
    assert message in capsys.readouterr().err


def test_set_and_config_files_use_the_same_validator(tmp_path):
    from gfn_crn.training.cli import _override_args

    args = _train_parser().parse_args(["--set", "refine_final_share=1"])
    with pytest.raises(CRNError, match=r"--set: refine_final_share must be in \[0, 1\), got '1'"):
        _override_args(args)
    with pytest.raises(CRNError, match="--set: unknown setting 'n_iterations'"):
        _override_args(_train_parser().parse_args(["--set", "n_iterations=3"]))
    p = tmp_path / "c.toml"
    p.write_text("topology_popsize = 0\n")
    with pytest.raises(CRNError, match=f"{p}: topology_popsize must be >= 1, got 0"):
        load_config_file(p)
    # a RunConfig built in Python is checked against the same declarations
    with pytest.raises(CRNError, match="config: structure_search_top_k must be >= 1, got 0"):
        RunConfig(search=StructureSearchConfig(top_k=0)).validate()
    with pytest.raises(CRNError, match="config: order must be one of canonical, free"):
        RunConfig(order="any").validate()


def test_resume_refuses_every_flag_but_the_resumable_settings():
    from gfn_crn.training.cli import _resume_guard
    from gfn_crn.training.config import RESUMABLE, flag_settings

    assert set(RESUMABLE) == {"iterations", "max_evaluations", "max_minutes", "workers"}
    samples = {"int": "3", "float": "1.5", "str": "rpa"}
    from gfn_crn.training.config import setting_spec

    for key, flag, _ in flag_settings():
        spec = setting_spec(key)
        argv = [flag] if spec.kind == "bool" else [flag, spec.choices[-1] if spec.choices else samples[spec.kind]]
        args = _train_parser().parse_args(["--resume", "DIR", *argv])
        if key in RESUMABLE:
            assert key in _resume_guard(args)
        else:
            with pytest.raises(CRNError, match=f"{flag} cannot be changed"):
                _resume_guard(args)
    for argv in (["--set", "lr=1"], ["--per-sample-reward"], ["--preset", "quick"], ["--out", "x"]):
        with pytest.raises(CRNError, match=f"{argv[0]} cannot be changed"):
            _resume_guard(_train_parser().parse_args(["--resume", "DIR", *argv]))


def test_demo_is_the_quick_preset_at_a_seed():
    from gfn_crn.training.cli import DEMO_PRESET, DEMO_SETTINGS
    from gfn_crn.training.config import PRESETS

    assert not set(DEMO_SETTINGS) & set(PRESETS[DEMO_PRESET])
    c = resolve_config(DEMO_PRESET, overrides=DEMO_SETTINGS)
    # the default seed: not chosen for its result (benchmarks/RESULTS.md "Discovery" has seeds 0-9)
    assert c.train.seed == resolve_config(DEMO_PRESET).train.seed == 0
    assert (c.task, c.max_evaluations, c.checkpoint_every, c.final_samples) == ("rpa", 20480, 50, 256)


def test_budget_and_anneal_span_are_run_config_methods():
    c = from_flat({"max_evaluations": 1000, "refine_final_share": 0.3, "anneal_fraction": 0.5})
    assert c.training_budget() == 700 and c.anneal_span() == pytest.approx(350)
    count = [0]
    schedule = c.exploration_schedule(lambda: count[0])
    assert schedule(0) == c.train.policy_kwargs_at(0.0)
    count[0] = 175  # half the span, whatever the iteration
    assert schedule(0) == schedule(10**6) == c.train.policy_kwargs_at(0.5)
    assert schedule(0)["temperature"] == pytest.approx(1.5)
    count[0] = 350
    assert "temperature" not in schedule(0)
    # without a budget the schedule counts iterations
    plain = from_flat({"max_evaluations": 0, "refine_final_share": 0.0, "iterations": 100})
    assert plain.exploration_schedule(lambda: 10**9)(0) == plain.train.policy_kwargs(0)


# ---------------------------------------------------------------------------- the docs follow the declarations
DOCS = __import__("pathlib").Path(__file__).resolve().parent.parent / "docs"


def test_the_docs_settings_table_is_the_generated_one():
    from gfn_crn.training.config import config_table

    text = (DOCS / "training.md").read_text(encoding="utf-8")
    start = "<!-- settings table: generated by gfn_crn.training.config.config_table(); do not edit by hand -->\n"
    assert start in text, "docs/training.md lost its settings table"
    table = text.split(start, 1)[1].split("\n<!-- end of the settings table -->", 1)[0]
    assert table == config_table(), ("docs/training.md's settings table differs from the declarations: paste "
                                     "gfn_crn.training.config.config_table() between its markers")


def test_the_default_recipe_table_quotes_the_defaults():
    text = (DOCS / "training.md").read_text(encoding="utf-8")
    recipe = text.split("### The default recipe", 1)[1].split("\n### ", 1)[0]
    rows = "\n".join(line for line in recipe.splitlines() if line.startswith("|"))
    quoted = re.findall(r"`(\w+) = ([^`]+)`", rows)
    assert len(quoted) >= 8
    defaults = to_flat(RunConfig())
    for key, value in quoted:
        assert key in defaults, f"docs/training.md names {key}, which is not a setting"
        default = defaults[key]
        expected = ("true" if default else "false") if isinstance(default, bool) else str(default)
        assert value.strip('"') == expected, f"docs/training.md: {key} = {value}, the default is {expected}"


def test_cli_doc_lists_every_train_flag():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    para = text.split("`train`: ", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`(--[a-z-]+)", para))
    flags = {s for a in _train_parser()._actions for s in a.option_strings if s.startswith("--")} - {"--help"}
    assert listed == flags, f"docs/cli.md misses {sorted(flags - listed)}, lists unknown {sorted(listed - flags)}"


def test_one_validator_words_every_source_the_same(tmp_path):
    """A boolean where a number belongs is refused the same way in a run config, a task file's
    table and a [verify] table: one validator (gfn_crn.crn.settings.check_value) reads them all."""
    from gfn_crn.tasks.kinds import Section
    from gfn_crn.verify import VerifySettings

    p = tmp_path / "c.toml"
    p.write_text("lr = true\n")
    with pytest.raises(CRNError, match=f"^{re.escape(str(p))}: lr must be a finite number, got True$"):
        load_config_file(p)
    with pytest.raises(CRNError, match=r"^t.toml: \[reward\] beta must be a finite number, got True$"):
        Section({"beta": True}, "reward", {"beta"}, "t.toml").number("beta")
    with pytest.raises(CRNError, match=r"^t.toml: \[verify\].cap must be a finite number, got True$"):
        VerifySettings.from_dict({"cap": True}, "t.toml: [verify]")
    # and the bounds declared with a [verify] key
    with pytest.raises(CRNError, match=r"\[verify\].n_points must be 0 or an integer >= 11, got 5"):
        VerifySettings.from_dict({"n_points": 5})
    assert VerifySettings.from_dict({"n_points": 11, "settle_atol": 0}).n_points == 11
    with pytest.raises(CRNError, match=r"\[verify\].settle_window must be in \(0, 1\), got 1"):
        VerifySettings.from_dict({"settle_window": 1})


def test_the_settings_import_no_torch():
    """Reading and writing settings (config.toml, the docs table) stays light: no torch import."""
    code = "import sys, gfn_crn.training.config; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_verify_table_in_the_docs_is_the_declared_one():
    """docs/verification.md lists every [verify] key at its declared default."""
    from dataclasses import fields as dc_fields

    from gfn_crn.verify import VerifySettings

    text = (DOCS / "verification.md").read_text(encoding="utf-8")
    block = text.split("```toml\n[verify]\n", 1)[1].split("```", 1)[0]
    listed = dict(re.findall(r"^(\w+) = (.+?)\s+#", block, re.M))
    d = VerifySettings()
    assert set(listed) == {f.name for f in dc_fields(VerifySettings)}
    for key, value in listed.items():
        if key == "inputs":  # an example, not the default
            continue
        default = getattr(d, key)
        assert (value == ("true" if default else "false")) if isinstance(default, bool) else \
            float(value) == default, f"docs/verification.md: {key} = {value}, the default is {default}"
