"""The sampler for :class:`~gfn_crn.envs.CRNEnv` (DESIGN.md 6.6).

:class:`CRNSampler` is torchgfn's :class:`~gfn.samplers.Sampler` (its rollout loop is used as
is) plus two things the stock one does not do:

* it keeps two kinds of log-probabilities apart. The padded variable-dimension actions and the
  two-stage sampling (the reaction index, then that reaction's parameters) live in the policy's
  distribution (:class:`~gfn_crn.estimators.CRNActionDistribution`), and its
  :meth:`~gfn_crn.estimators.CRNPolicyEstimator.log_probs` records

  - ``trajectories.log_probs``: the **on-policy** log PF of the sampled actions (with gradients
    when ``save_logprobs=True``), whatever exploration ``policy_kwargs`` were used. These are
    what torchgfn's losses reuse with ``recalculate_all_logprobs=False``, so exploring with a
    tempered policy can never train on tempered log-probs (the torchgfn 2.4.1 trap);
  - ``trajectories.behaviour_log_probs``: the log-probs under the policy that actually sampled
    (``(T, N)``, detached, 0 on padding), for importance weights and diagnostics, attached here
    when ``save_logprobs`` or ``save_behaviour_logprobs`` is True. Slicing or extending a
    ``Trajectories`` (e.g. in a replay buffer) drops this attribute; the on-policy ones survive;

* **structure local search** (:meth:`CRNSampler.destroy_and_rebuild`), the back-and-forth move
  of local-search GFlowNets (torchgfn's ``LocalSearchSampler`` pattern, Kim et al. 2024): remove
  some added reactions of a design and let the forward policy complete it again.

The trajectories are plain torchgfn :class:`~gfn.containers.Trajectories`: they work with TB,
DB (via ``to_transitions``), SubTB and the replay buffers.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from gfn.containers import Trajectories
from gfn.env import Env
from gfn.samplers import Sampler
from gfn.states import States


class CRNSampler(Sampler):
    """torchgfn's forward sampler with behaviour log-probs kept apart and structure local search."""

    def sample_trajectories(
        self,
        env: Env,
        n: Optional[int] = None,
        states: Optional[States] = None,
        conditions: Optional[torch.Tensor] = None,
        save_estimator_outputs: bool = False,
        save_logprobs: bool = False,
        save_behaviour_logprobs: bool = False,
        **policy_kwargs: Any,
    ) -> Trajectories:
        est = self.estimator
        if est.is_backward:  # backward rollouts (local search replay): nothing to add
            return super().sample_trajectories(env, n, states, conditions, save_estimator_outputs,
                                               save_logprobs, **policy_kwargs)
        behaviour_only = save_behaviour_logprobs and not save_logprobs
        if behaviour_only:  # the estimator records both kinds; keep neither gradients nor on-policy ones
            with torch.no_grad():
                traj = super().sample_trajectories(env, n, states, conditions, save_estimator_outputs, True,
                                                   **policy_kwargs)
            traj.log_probs = None
        else:
            traj = super().sample_trajectories(env, n, states, conditions, save_estimator_outputs, save_logprobs,
                                               **policy_kwargs)
        behaviour = est.last_context.extras.get("behaviour_log_probs") if (save_logprobs or behaviour_only) else None
        traj.behaviour_log_probs = torch.stack(behaviour, 0) if behaviour else None
        return traj

    def destroy_and_rebuild(self, env: Env, parents: Sequence, *, neighbours: int, destroy: int,
                            rng: np.random.Generator, **policy_kwargs: Any) -> Trajectories:
        """Structure local search: for each parent network, ``neighbours`` times, remove
        ``destroy`` of its added reactions (chosen with ``rng``) and complete the partial design
        with the forward policy (it may add any reactions, or exit at once).

        Returns the forward trajectories from the partial states (``neighbours`` per parent, in
        order); their terminating states are the neighbours. They do not start at the initial
        state: to train on a neighbour, replay a full trajectory to it (e.g. a backward rollout of
        PB, :func:`gfn_crn.training.local_search.replay_networks`)."""
        partial = []
        for p in parents:
            for _ in range(neighbours):
                drop = set(rng.choice(len(p.reactions), min(destroy, len(p.reactions)), replace=False).tolist())
                partial.append(p.with_reactions([r for i, r in enumerate(p.reactions) if i not in drop]))
        states = env.networks_to_states(partial)
        with torch.no_grad():
            return self.sample_trajectories(env, states=states, **policy_kwargs)
