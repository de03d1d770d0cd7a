"""The topology-level reward (gfn_crn.rewards.topology): a proper function of the structure,
cached, counted, checked against the plain task, and exact under trajectory balance."""

import numpy as np
import pytest

from gfn_crn.crn import CRNError, Network, ReactionInstance, antithetic_example, mass_action_library
from gfn_crn.envs import CRNEnv
from gfn_crn.tasks import load_task
from gfn_crn.training import ON_POLICY, small_library, train
from gfn_crn.training.config import plain_tb
from gfn_crn.rewards.evaluations import RecordingTask
from gfn_crn.rewards.topology import TopologyReward, structure_key


@pytest.fixture(scope="module")
def rpa():
    return load_task("rpa")


# reactions of the antithetic design
CORE, PARTIAL, UNBOUNDED, SOURCE = (0, 1, 2), (1, 2), (0, 1), (3,)


def _nets(task, rates_list):
    """Networks made of some of the antithetic design's reactions (by index) at given rates:
    CORE is its integral-feedback core (loss 0.005 at k = 1); PARTIAL never produces X1 (loss
    1.05, above the cap); UNBOUNDED lets Z1 grow without bound; SOURCE (0 -> 2 X1) improves from
    1.55 at k = 1 to about 0.5 with refinement."""
    a = task.adopt(antithetic_example())
    out = []
    for idx, rates in rates_list:
        insts = tuple(ReactionInstance(a.reactions[j].reaction, (float(k),), ()) for j, k in zip(idx, rates))
        out.append(Network(task.template, insts))
    return out


def test_reward_depends_on_structure_and_prior_only(rpa):
    rec = RecordingTask(rpa)
    tr = TopologyReward(rec, rounds=2, popsize=4, seed=3)
    nets = _nets(rpa, [(CORE, (0.3, 2.0, 5.0)), (CORE, (7.0, 0.2, 1.0)), (PARTIAL, (1.0, 1.0))])
    res = tr.evaluate(nets)
    # the same structure at different rates: the same loss; log-rewards differ by the prior only
    assert res.loss[0] == res.loss[1]
    lp = rpa.log_priors(nets)
    assert res.log_reward[0] - res.log_reward[1] == pytest.approx(lp[0] - lp[1], abs=1e-12)
    assert res.log_reward[2] == pytest.approx(rpa.loss_to_log_reward(res.loss[2:3])[0] + lp[2], abs=1e-12)
    # two new structures, each 1 + rounds * popsize evaluations, all through the wrapped task
    assert tr.evaluations == rec.n_evaluations == 2 * 9
    # a second call costs nothing
    again = tr.evaluate(nets[::-1])
    assert rec.n_evaluations == 18 and tr.hits == 3
    np.testing.assert_array_equal(again.loss, res.loss[::-1])


class _NeverValid:
    """The rpa task, except that every network with the UNBOUNDED structure is invalid."""

    def __init__(self, task, structure):
        self.task, self.structure = task, structure  # a scorer: evaluate and its task

    def evaluate(self, networks):
        res = self.task.evaluate(networks)
        bad = np.asarray([n.topology == self.structure for n in networks])
        res.valid = res.valid & ~bad
        res.loss = np.where(bad, self.task.loss_cap, res.loss)
        return res


def test_structure_without_any_valid_design_is_invalid(rpa):
    bad_net, ok_net = _nets(rpa, [(UNBOUNDED, (1.0, 1.0)), (PARTIAL, (1.0, 1.0))])
    tr = TopologyReward(_NeverValid(rpa, bad_net.topology), rounds=1, popsize=4)
    res = tr.evaluate([bad_net, ok_net])
    assert list(res.valid) == [False, True] and list(res.reason) == ["refine", "ok"]
    assert res.log_reward[0] == rpa.floor and res.loss[0] == rpa.loss_cap
    # a valid loss above the cap (1.05 here) stays valid, its reward capped
    assert res.loss[1] > rpa.loss_cap
    assert res.log_reward[1] == pytest.approx(-rpa.beta * rpa.loss_cap + rpa.log_priors([ok_net])[0])
    assert structure_key(bad_net) not in tr.best_networks


def test_structure_loss_is_the_plain_task_loss_of_the_best_network_found(rpa):
    tr = TopologyReward(rpa, rounds=3, popsize=4, seed=0)
    nets = _nets(rpa, [(CORE, (2.0, 2.0, 2.0)), (SOURCE, (20.0,))])
    res = tr.evaluate(nets)
    for b, net in enumerate(nets):
        best = tr.best_networks[structure_key(net)]
        assert best.topology == net.topology
        # an independent check: the plain task scores the stored network at the cached loss
        assert rpa.evaluate([best]).loss[0] == pytest.approx(res.loss[b], rel=1e-9)
        # the refinement starts at the prior's mode (k = 1), not at the network's own rates
        mode = Network(rpa.template, tuple(ReactionInstance(i.reaction, (1.0,), ()) for i in net.reactions))
        assert res.loss[b] <= rpa.evaluate([mode]).loss[0]
    assert res.loss[1] < 0.6 < rpa.evaluate(nets[1:]).loss[0]  # it did improve SOURCE


def test_structure_loss_does_not_depend_on_the_batch(rpa):
    """Per-structure seeds: a structure scored alone or among others gets the same value."""
    nets = _nets(rpa, [(SOURCE, (1.0,)), (PARTIAL, (1.0, 1.0))])
    alone = TopologyReward(rpa, rounds=2, popsize=4, seed=5).evaluate(nets[:1]).loss[0]
    together = TopologyReward(rpa, rounds=2, popsize=4, seed=5).evaluate(nets[::-1]).loss[1]
    assert together == pytest.approx(alone, rel=1e-9)
    other_seed = TopologyReward(rpa, rounds=2, popsize=4, seed=6).evaluate(nets[:1]).loss[0]
    assert other_seed != alone  # the seed is really used


def test_structure_loss_does_not_depend_on_batch_mates_with_nothing_to_refine(rpa):
    """The empty design has no rate to refine; the budget it leaves must not buy another structure
    in its batch extra rounds (each structure gets exactly ``rounds`` rounds)."""
    src, empty = _nets(rpa, [(SOURCE, (1.0,))])[0], Network(rpa.template, ())
    for seed in range(4):
        alone = TopologyReward(rpa, rounds=1, popsize=4, seed=seed)
        mixed = TopologyReward(rpa, rounds=1, popsize=4, seed=seed)
        assert mixed.evaluate([empty, src]).loss[1] == alone.evaluate([src]).loss[0]
        assert mixed.evaluations == alone.evaluations + 1  # the empty design: its one evaluation


def test_uncounted_look_ups_leave_the_proposal_counters_alone(rpa):
    nets = _nets(rpa, [(SOURCE, (1.0,)), (PARTIAL, (1.0, 1.0))])
    tr = TopologyReward(rpa, rounds=1, popsize=4, seed=1)
    first = tr.evaluate(nets[:1])
    assert (tr.requests, tr.hits) == (1, 0)
    view = tr.uncounted()
    again = view.evaluate(nets)                        # one cached, one new structure
    assert (tr.requests, tr.hits) == (1, 0) and len(tr.cache) == 2
    assert again.loss[0] == first.loss[0] and view.task is rpa and view.inner is tr
    lr, ok = view(nets)
    assert np.array_equal(lr, again.log_reward) and (tr.requests, tr.hits) == (1, 0)
    tr.evaluate(nets)
    assert (tr.requests, tr.hits) == (3, 2)


def test_rates_outside_the_prior_and_bad_settings(rpa):
    tr = TopologyReward(rpa, rounds=0)
    hi = float(np.exp(rpa.prior.high)) * 2
    res = tr.evaluate(_nets(rpa, [(CORE, (hi, 1.0, 1.0))]))
    assert not res.valid[0] and res.reason[0] == "prior" and res.log_reward[0] == rpa.floor
    with pytest.raises(CRNError, match="rounds"):
        TopologyReward(rpa, rounds=-1)
    with pytest.raises(CRNError, match="popsize"):
        TopologyReward(rpa, popsize=0)
    with pytest.raises(CRNError, match="sigma0"):
        TopologyReward(rpa, sigma0=float("nan"))


@pytest.mark.slow
def test_trajectory_balance_learns_the_structure_marginal(rpa):
    """With log R = reward(L*(T)) + log prior(k) and a normalised prior, the target's marginal over
    structures is proportional to exp(reward(L*(T))) and log Z = logsumexp over structures: the
    learned log Z and the sampled structure frequencies must match that closed form."""
    tmpl, lib = small_library(4)
    tr = TopologyReward(rpa, rounds=1, popsize=4, seed=0)
    env = CRNEnv(lib, tmpl, tr, order="canonical", max_reactions=2, min_reactions=0)
    res = train(env, plain_tb(n_iterations=500, batch_size=64, hidden=64, lr=1e-3, lr_logZ=0.1, seed=0, **ON_POLICY))
    # every structure (11 sets of <= 2 of 4 reactions) was seen; their exact log-weights:
    assert len(tr.cache) == 11
    keys = list(tr.cache)
    lw = np.asarray([rpa.loss_to_log_reward(np.asarray([tr.cache[k][0]]))[0] if tr.cache[k][1] else rpa.floor
                     for k in keys])
    logZ = float(np.log(np.sum(np.exp(lw - lw.max()))) + lw.max())
    learned = np.mean([r["logZ"] for r in res.history[-50:]])
    assert abs(learned - logZ) < 0.1, (learned, logZ)
    # sampled structure frequencies against exp(lw) / Z
    from gfn_crn.samplers import CRNSampler
    import torch

    torch.manual_seed(1)
    traj = CRNSampler(res.pf).sample_trajectories(env, n=4000)
    nets = env.states_to_networks(traj.terminating_states)
    counts = {k: 0 for k in keys}
    for n in nets:
        counts[structure_key(n)] += 1
    p = np.asarray([counts[k] for k in keys], dtype=float) / len(nets)
    q = np.exp(lw - logZ)
    assert np.abs(p - q).sum() < 0.1, (p.round(3), q.round(3))


def test_structure_local_search_rebuilds_neighbours_of_the_best_structures(rpa):
    from gfn_crn.training.local_search import StructureLocalSearch

    rec = RecordingTask(rpa)
    tr = TopologyReward(rec, rounds=0)
    lib = mass_action_library(rpa.template.species)
    env = CRNEnv(lib, rpa.template, tr, order="free", max_reactions=3, min_reactions=1)
    ls = StructureLocalSearch(env, tr, every=2, top_k=3, neighbours=2, destroy=1, max_visits=1, seed=0)
    res = train(env, plain_tb(n_iterations=6, batch_size=8, hidden=32, replay_capacity=200, seed=0, lr_logZ=0.05, **ON_POLICY),
                callback=ls)
    assert ls.calls == 3 and ls.proposed == 3 * 3 * 2
    assert all(v == 1 for v in ls.visits.values()) and len(ls.visits) == 9  # each parent once
    # every evaluation went through the reward, once per new structure
    assert rec.n_evaluations == tr.evaluations == len(tr.cache)
    # a neighbour keeps all but `destroy` of its parent's reactions, with the parent's rates (the
    # dropped one may come back, with a newly sampled rate)
    parents = ls.parents()
    nets = ls.neighbours_of(parents, res.pf)
    assert len(nets) == 2 * len(parents)
    for i, n in enumerate(nets):
        p = parents[i // 2]
        rates = {r.reaction.signature: r.cparams for r in n.reactions}
        same = [r for r in p.reactions if r.reaction.signature in rates
                and np.allclose(rates[r.reaction.signature], r.cparams, rtol=1e-6)]
        assert len(same) >= len(p.reactions) - 1
    with pytest.raises(CRNError, match="neighbours"):
        StructureLocalSearch(env, tr, neighbours=0)


UNBOUNDED_DESIGN = """species: X1 Z1 Z2
outputs: X1
fixed: 0 -> Z1 ; k=1 * u1
fixed: X1 -> 0 ; k=1 * u2
0 -> Z2 ; k=1.1796053195318217
0 -> X1 + Z2 ; k=0.721970936619103
Z1 -> X1 + Z2 ; k=1.1335955745229425
X1 + Z2 -> 2 Z2 ; k=1.3994401761532527
Z1 + Z2 -> X1 + Z1 ; k=1.583671058778163
"""


def test_screen_scores_a_structure_that_fails_the_cheap_checks_as_diverging(rpa):
    """With the cheap screen (bounded and settled over the long horizon), a structure whose
    species grows without bound is scored like a diverging design (invalid, the floor, reason
    "screen"), while the antithetic core passes and keeps its loss; each screened structure costs
    one evaluation, is screened once, and the verdict is the same in a fork. Without the screen
    the unbounded structure is valid (so the screen is what refuses it)."""
    from gfn_crn.crn.textio import parse_network
    from gfn_crn.training.wiring import cheap_screen

    unb = rpa.adopt(parse_network(UNBOUNDED_DESIGN))
    core = _nets(rpa, [(CORE, (1.0, 1.0, 1.0))])[0]
    plain = TopologyReward(rpa, rounds=1, popsize=4).evaluate([unb, core])
    assert list(plain.valid) == [True, True]
    tr = TopologyReward(rpa, rounds=1, popsize=4, screen=cheap_screen(rpa), screen_below=1000.0)
    res = tr.evaluate([unb, core])
    assert list(res.valid) == [False, True] and list(res.reason) == ["screen", "ok"]
    assert res.log_reward[0] == rpa.floor and res.loss[1] == pytest.approx(plain.loss[1])
    assert tr.screen_evaluations == 2 and tr.evaluations == 2 * 5 + 2
    assert list(tr.passes([unb, core])) == [False, True] and tr.screen_evaluations == 2   # cached
    fork = tr.fork()
    assert list(fork.evaluate([unb, core]).reason) == ["screen", "ok"] and fork.screen_evaluations == 2
    with pytest.raises(CRNError, match="screen_below"):
        TopologyReward(rpa, screen_below=-1.0)
    # a structure above the bar is not screened
    lazy = TopologyReward(rpa, rounds=1, popsize=4, screen=cheap_screen(rpa), screen_below=1e-6)
    assert list(lazy.evaluate([unb]).valid) == [True] and lazy.screen_evaluations == 0


def test_archive_refinement_skips_designs_the_screen_refuses(rpa):
    """ArchiveRefinement with ``admit`` refines only the archived designs admitted (here: all
    but the best), and none at all when nothing is."""
    from gfn_crn.training.archive import Archive
    from gfn_crn.rewards.refine import ArchiveRefinement

    nets = _nets(rpa, [(CORE, (1.0, 1.0, 1.0)), (SOURCE, (1.0,))])
    res = rpa.evaluate(nets)
    arch = Archive(10, rpa.good_threshold)
    arch.update(nets, res.loss, res.valid, res.log_reward)
    best = arch.top(1)[0].topology
    seen = []

    def admit(networks, losses):
        seen.extend(n.topology for n in networks)
        return [n.topology != best for n in networks]

    rec = RecordingTask(rpa)
    ar = ArchiveRefinement(rec, arch, every=1, top_k=2, rounds=1, popsize=4, admit=admit)
    assert ar(0) == 4 and set(seen) == {n.topology for n in nets}
    none = ArchiveRefinement(RecordingTask(rpa), arch, every=1, top_k=2, rounds=1, popsize=4,
                             admit=lambda n, l: [False] * len(n))
    assert none(0) == 0


def test_promotion_refines_only_promising_structures_further(rpa):
    """With rounds = 0 and promote_below, a structure whose loss at the prior's mode is below
    the bar gets promote_rounds x popsize more evaluations and keeps the better of the two, one
    above the bar costs a single evaluation; the result does not depend on the batch mates."""
    core, source = _nets(rpa, [(CORE, (1.0, 1.0, 1.0)), (SOURCE, (1.0,))])
    one = TopologyReward(rpa, rounds=0, popsize=4)
    l1, _ = one.structure_losses([core, source])
    assert one.evaluations == 2 and l1[0] < 0.1 < l1[1]          # 0.005 and 1.55 at k = 1
    pro = TopologyReward(rpa, rounds=0, popsize=4, promote_below=10.0, promote_rounds=2)   # bar 0.1
    l2, _ = pro.structure_losses([core, source])
    assert pro.evaluations == 2 + 2 * 4 and pro.promoted == 1
    assert l2[0] <= l1[0] and l2[1] == l1[1]
    alone = TopologyReward(rpa, rounds=0, popsize=4, promote_below=10.0, promote_rounds=2)
    assert alone.structure_losses([core])[0][0] == l2[0]
    with pytest.raises(CRNError, match="promote_rounds"):
        TopologyReward(rpa, promote_rounds=-1)


def test_swap_search_scores_the_whole_one_move_neighbourhood(rpa):
    """The swap neighbourhood of a 2-reaction design in the 90-reaction library with room for 3
    is every replacement (2 x 88), every addition (88) and every removal (2), each a distinct
    structure one move away (checked against an independent set computation); a swap search
    expands the best cached structure once, scores the whole neighbourhood through the reward
    (one evaluation per new structure at topology_rounds = 0) and replays the best to TB."""
    from gfn_crn.training.local_search import StructureLocalSearch

    rec = RecordingTask(rpa)
    tr = TopologyReward(rec, rounds=0)
    lib = mass_action_library(rpa.template.species)
    env = CRNEnv(lib, rpa.template, tr, order="free", max_reactions=3, min_reactions=1)
    ls = StructureLocalSearch(env, tr, every=0, swap_every=2, swap_replay=4, seed=0)
    parent = _nets(rpa, [(PARTIAL, (1.0, 1.0))])[0]
    nbrs = ls.swap_neighbours(parent)
    assert len(nbrs) == 2 * 88 + 88 + 2 == len({n.topology for n in nbrs})
    own = {r.reaction for r in parent.reactions}
    for n in nbrs:
        mine = {r.reaction for r in n.reactions}
        assert len(mine ^ own) in (1, 2) and len(mine - own) <= 1 and len(own - mine) <= 1 and mine != own
    res = train(env, plain_tb(n_iterations=2, batch_size=8, hidden=32, replay_capacity=200, seed=0, **ON_POLICY),
                callback=ls)
    assert len(ls.expanded) == 1 and ls.proposed > 200
    assert rec.n_evaluations == tr.evaluations == len(tr.cache)   # one evaluation per new structure
    assert len(res.replay_buffer) > 0
    with pytest.raises(CRNError, match="every > 0 or swap_every > 0"):
        StructureLocalSearch(env, tr, every=0, swap_every=0)


def test_swap_neighbours_never_repeat_a_fixed_reaction():
    """A template whose fixed reaction is also in the library (X1 -> 0 at a constant rate): the
    env never offers it, and the swap neighbourhood never adds it (it would be a duplicate)."""
    from gfn_crn.crn.textio import parse_network
    from gfn_crn.tasks import parse_task
    from gfn_crn.training.local_search import StructureLocalSearch

    task = parse_task('''
kind = "tracking"
[template]
text = """
species: X1 Z1
outputs: X1
fixed: 0 -> Z1 ; k=1 * u1
fixed: X1 -> 0 ; k=1
"""
[scenarios]
inputs = { u1 = [0.5, 1.0] }
[time]
t_f = 10
n_t = 50
[task]
target = "u1"
''')
    lib = mass_action_library(task.template.species)
    fixed = {i.reaction.signature for i in task.template.fixed}
    assert any(r.signature in fixed for r in lib.reactions)          # the library has it
    tr = TopologyReward(task, rounds=0)
    env = CRNEnv(lib, task.template, tr, order="free", max_reactions=3, min_reactions=1)
    ls = StructureLocalSearch(env, tr, every=0, swap_every=1)
    parent = task.adopt(parse_network("species: X1 Z1\noutputs: X1\nfixed: 0 -> Z1 ; k=1 * u1\n"
                                      "fixed: X1 -> 0 ; k=1\nZ1 -> Z1 + X1 ; k=1\n"))
    nbrs = ls.swap_neighbours(parent)
    n_allowed = sum(r.signature not in fixed for r in lib.reactions)
    assert len(nbrs) == (n_allowed - 1) + (n_allowed - 1)   # every swap and every addition, nothing removed
    assert all(r.reaction.signature not in fixed for n in nbrs for r in n.reactions)


def test_swap_search_samples_a_large_neighbourhood(rpa):
    """With swap_max below the neighbourhood's size, one expansion scores exactly swap_max
    neighbours (a seeded sample), each one move from the parent."""
    from gfn_crn.training.local_search import StructureLocalSearch

    rec = RecordingTask(rpa)
    tr = TopologyReward(rec, rounds=0)
    lib = mass_action_library(rpa.template.species)
    env = CRNEnv(lib, rpa.template, tr, order="free", max_reactions=3, min_reactions=1)
    ls = StructureLocalSearch(env, tr, every=0, swap_every=1, swap_max=50, seed=0)
    res = train(env, plain_tb(n_iterations=1, batch_size=8, hidden=32, replay_capacity=200, seed=0, **ON_POLICY),
                callback=ls)
    assert len(ls.expanded) == 1 and ls.proposed == 50
    assert len(res.replay_buffer) > 0


def test_promotion_bar_never_exceeds_a_share_of_the_loss_cap(rpa):
    """The bar is promote_below thresholds, capped at promote_cap x loss_cap: on rpa (threshold
    0.01, cap 1) the default 20 gives 0.2 either way; with a threshold of 0.05 (logic-4's) the
    cap binds at 0.2 instead of 1.0, so a structure at loss 0.41 is promoted only without it."""
    import copy

    assert TopologyReward(rpa, promote_below=20.0).promote_bar == pytest.approx(0.2)
    lax = copy.copy(rpa)
    lax.good_threshold = 0.05
    mid = _nets(lax, [((1, 3), (1.0, 1.0))])[0]        # loss 0.41 at k = 1: between 0.2 and 1.0
    capped = TopologyReward(lax, rounds=0, popsize=4, promote_below=20.0, promote_rounds=2)
    assert capped.promote_bar == pytest.approx(0.2)
    capped.structure_losses([mid])
    assert capped.promoted == 0 and capped.evaluations == 1
    uncapped = TopologyReward(lax, rounds=0, popsize=4, promote_below=20.0, promote_rounds=2, promote_cap=1.0)
    assert uncapped.promote_bar == pytest.approx(1.0)
    uncapped.structure_losses([mid])
    assert uncapped.promoted == 1 and uncapped.evaluations == 1 + 2 * 4
    with pytest.raises(CRNError, match="promote_cap"):
        TopologyReward(rpa, promote_cap=0.0)
