"""Settings are declared once: every field documented, Python and CLI defaults the same."""

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
