"""The sampler for :class:`~gfn_crn.envs.CRNEnv` (DESIGN.md 6.6).

:class:`CRNSampler` rolls out the forward policy, building padded variable-dimension actions
(two-stage: the reaction index first, then that reaction's parameters, see
:class:`~gfn_crn.estimators.CRNActionDistribution`), and keeps two kinds of log-probabilities
apart:

* ``trajectories.log_probs`` -- the **on-policy** log PF of the sampled actions (with gradients
  when ``save_logprobs=True``), whatever exploration ``policy_kwargs`` were used. These are what
  torchgfn's losses reuse with ``recalculate_all_logprobs=False``, so exploring with a tempered
  policy can never train on tempered log-probs (the torchgfn 2.4.1 trap);
* ``trajectories.behaviour_log_probs`` -- the log-probs under the policy that actually sampled
  (``(T, N)``, detached, 0 on padding), for importance weights and diagnostics. Present when
  ``save_logprobs`` or ``save_behaviour_logprobs`` is True. Slicing or extending a
  ``Trajectories`` (e.g. in a replay buffer) drops this attribute; the on-policy ones survive.

The trajectories are plain torchgfn :class:`~gfn.containers.Trajectories`: they work with TB,
DB (via ``to_transitions``), SubTB and the replay buffers.
"""

from __future__ import annotations

from typing import Any, List, Optional

import torch
from gfn.containers import Trajectories
from gfn.env import Env
from gfn.samplers import Sampler
from gfn.states import States


class CRNSampler(Sampler):
    """Forward sampler that separates behaviour and on-policy log-probs."""

    def sample_trajectories(  # noqa: C901
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
        if est.is_backward:  # backward rollouts (local search): the stock loop is fine
            return super().sample_trajectories(env, n, states, conditions, save_estimator_outputs,
                                               save_logprobs, **policy_kwargs)
        if states is None:
            assert n is not None, "either n or states must be given"
            states = env.reset(batch_shape=(n,))
        if conditions is not None:
            states.conditions = conditions
        N = states.batch_shape[0]
        device = states.device
        dones = states.is_sink_state
        ctx = est.init_context(N, device, states.conditions)
        traj_states: List[States] = [states]
        dummy = env.actions_from_batch_shape((N,)).tensor
        traj_actions = [env.Actions(dummy.clone())]
        behaviour: list[torch.Tensor] = []
        terminating_idx = torch.zeros(N, dtype=torch.long, device=device)
        step = 0
        while not bool(dones.all()):
            step_mask = ~dones
            dist, ctx = est.compute_dist(states[step_mask], ctx, step_mask,
                                         save_estimator_outputs=save_estimator_outputs, **policy_kwargs)
            with torch.no_grad():
                a = dist.sample()
            if save_logprobs:
                _, ctx = est.log_probs(a, dist, ctx, step_mask, vectorized=False, save_logprobs=True)
            elif save_behaviour_logprobs:
                with torch.no_grad():
                    lp = dist.log_prob(a)
                padded = torch.zeros(N, dtype=lp.dtype, device=device)
                padded[step_mask] = lp
                behaviour.append(padded)
            actions = env.Actions(dummy.clone())
            actions.tensor[step_mask] = a.to(dummy.dtype)
            traj_actions.append(actions)
            new_states = env._step(states, actions)
            if states._conditions is not None:
                new_states._conditions = states._conditions
            step += 1
            new_dones = new_states.is_sink_state & ~dones
            terminating_idx[new_dones] = step
            states = new_states
            dones = dones | new_dones
            traj_states.append(states)

        stacked_states = env.States.stack(traj_states)
        stacked_actions = env.Actions.stack(traj_actions)[1:]
        log_probs = torch.stack(ctx.trajectory_log_probs, 0) if ctx.trajectory_log_probs else None
        outputs = (torch.stack(ctx.trajectory_estimator_outputs, 0)
                   if ctx.trajectory_estimator_outputs else None)
        trajectories = Trajectories(
            env=env,
            states=stacked_states,
            actions=stacked_actions,
            terminating_idx=terminating_idx,
            is_backward=False,
            log_rewards=None,
            log_probs=log_probs,
            estimator_outputs=outputs,
        )
        if save_logprobs:
            behaviour = ctx.extras.get("behaviour_log_probs", [])
        trajectories.behaviour_log_probs = torch.stack(behaviour, 0) if behaviour else None
        return trajectories
