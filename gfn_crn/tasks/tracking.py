"""Tracking-type tasks: the output must follow a target (DESIGN.md section 5).

All share the tracking loss, over scenarios s, outputs o and time points t::

    L = mean_{s,o,t} w(t) * e_{s,o}(t)^p,   e = |r - y|  (relative: |r - y| / max(|r|, 1e-6))

with ``p`` the norm (1 or 2) and ``w`` the weights (:func:`gfn_crn.tasks.base.make_weights`; the
mean divides by the number of points, not by the sum of the weights).

Optional settling term (``settle_weight > 0``, default 0 = off, the loss above unchanged): a
design whose species are still moving at the end of the horizon pays, per scenario,
``settle_weight * max(0, drift - 0.01)`` with ``drift`` the largest relative change of any species
over the last 10% of the grid, ``|x(T) - x(0.9 T)| / (|x(T)| + 0.05 * scale)`` (scale: the largest
target). A species that grows without bound (the finite horizon hides it from the tracking error)
changes by ~10% there; a settled design pays nothing. ``details["drift"]`` (B, S) is reported
either way.

* :class:`TrackingTask`: targets are expressions of the scenario's inputs, initial
  concentrations and time (``u1``, ``2*u1``, ``u1/(1+u1)``, ``init_X1``, ``t``), or arrays.
* :class:`LogicTask`: the truth table {low, high}^q of q inputs; the target is the boolean
  expression (on the bits) times ``output_high``. By default the rows are *balanced* per output:
  true and false rows each carry half of the loss (row weights ``S / (2 n_true)`` and
  ``S / (2 n_false)``), because with plain means a gate that never switches on scores
  1/8 * 1.05 = 0.139 on a 3-input AND (better than most working designs, whose Hill reactions
  also cost prior density); balanced, it scores 0.52. ``balanced = false`` gives the plain mean.
* :class:`DoseResponseTask`: one input swept over doses; target an expression of it or a Hill
  curve; steady-state weights by default (a dose response is a steady-state property).
* :class:`ClassificationTask`: each example is an initial condition with a class; the target of
  output o is ``high`` if o is the class and ``low`` otherwise; steady-state weights by default.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Template
from ..sim import PiecewiseConstant, Scenario
from .base import Task, eval_on_scenarios, make_weights
from .expr import Expr
from .kinds import KindInput, Section, read_init, register
from .verification import (CheckSpec, Trajectories, VerificationPlan, constant_inputs, final_output_check, input_grid,
                           middle, nan_to_inf, off_grid_tolerance, off_grid_values, rel_error, settled_check,
                           target_scale)

REL_EPS = 1e-6
SETTLE_TOL = 0.01   # drift below this costs nothing (settle_weight term)


def tracking_error(y: np.ndarray, r: np.ndarray, w: np.ndarray, norm: int = 1, relative: bool = False,
                   per_output: bool = False, idx=None) -> np.ndarray:
    """(B, S) tracking losses of trajectories ``y`` (B, S, T, O) against targets ``r`` (S, T, O)
    (``per_output``: (B, S, O), not averaged over outputs). With ``idx``, ``y`` holds every
    species (B, S, T, N) and output o is species ``idx[o]`` (no copy of the outputs)."""
    idx = list(range(y.shape[3])) if idx is None else list(idx)
    out = []
    for o, i in enumerate(idx):
        e = y[..., i] - r[None, :, :, o]                                    # (B, S, T), contiguous
        np.abs(e, out=e)
        if relative:
            e /= np.maximum(np.abs(r[None, :, :, o]), REL_EPS)
        if norm == 2:
            e *= e
        out.append(e @ w)
    per = np.stack(out, axis=-1) / w.size                                   # (B, S, O)
    return per if per_output else per.mean(axis=-1)


class TrackingTask(Task):
    """Outputs follow targets.

    Args:
        template, scenarios, t: see :class:`~gfn_crn.tasks.base.Task`.
        target: one expression (str, number or :class:`Expr`) for every output, a mapping
            output -> expression, or an array broadcastable to (S, T, O) (S, T) or (S, O).
        weights: ``"transient"`` (default), ``"uniform"``, ``"steady_state"`` or custom.
        norm: 1 or 2. relative: divide errors by ``max(|r|, 1e-6)``.

    Details: ``final_output`` (B, S, O), the outputs at the last time point.
    """

    kind = "tracking"
    default_weights = "transient"

    def __init__(self, template: Template, scenarios: Sequence[Scenario], t, target="u1", *, weights=None,
                 norm: int = 1, relative: bool = False, settle_weight: float = 0.0, **kw):
        super().__init__(template, scenarios, t, **kw)
        if norm not in (1, 2):
            raise CRNError(f"norm must be 1 or 2, got {norm!r}")
        if not (np.isfinite(settle_weight) and settle_weight >= 0):
            raise CRNError(f"settle_weight must be >= 0, got {settle_weight!r}")
        self.settle_weight = float(settle_weight)
        self.norm = int(norm)
        self.relative = bool(relative)
        self.weights_spec = self.default_weights if weights is None else weights
        self.w = make_weights(self.weights_spec, self.t)
        self.target_spec = target
        self.R = self._targets(target)                      # (S, T, O)

    def _targets(self, target) -> np.ndarray:
        S, T, O = self.n_scenarios, self.t.size, len(self.outputs)
        if isinstance(target, (str, int, float, Expr)) and not isinstance(target, bool):
            target = {o: target for o in self.outputs}
        if isinstance(target, Mapping):
            unknown = set(target) - set(self.outputs)
            if unknown:
                raise CRNError(f"targets given for {sorted(unknown)}, which are not outputs "
                               f"(outputs: {' '.join(self.outputs)})")
            missing = [o for o in self.outputs if o not in target]
            if missing:
                raise CRNError(f"no target for output(s) {missing}")
            cols = []
            for o in self.outputs:
                e = target[o] if isinstance(target[o], Expr) else Expr(target[o], f"target of {o}")
                cols.append(eval_on_scenarios(e, self.env, S, T, f"target of {o}"))
            return np.stack(cols, axis=-1)
        arr = np.asarray(target, dtype=float)
        if arr.shape == (S, O):
            arr = arr[:, None, :]
        elif arr.shape == (S, T):
            arr = arr[:, :, None]
        try:
            arr = np.broadcast_to(arr, (S, T, O)).copy()
        except ValueError:
            raise CRNError(f"target array of shape {np.shape(target)} does not fit (scenarios {S}, points {T}, "
                           f"outputs {O})") from None
        if not np.all(np.isfinite(arr)):
            raise CRNError("target array has non-finite values")
        return arr

    def drift(self, y: np.ndarray) -> np.ndarray:
        """(B, S) largest relative change of any species over the last 10% of the grid."""
        i = int(np.searchsorted(self.t, 0.9 * self.t[-1]))
        scale = float(np.abs(self.R).max()) or 1.0
        with np.errstate(all="ignore"):
            d = np.abs(y[:, :, -1, :] - y[:, :, i, :]) / (np.abs(y[:, :, -1, :]) + 0.05 * scale)
        return np.nan_to_num(d, nan=np.inf, posinf=np.inf).max(axis=-1)

    def _settle(self, sl: np.ndarray, sim, details: dict):
        details["drift"] = self.drift(sim.y)
        if self.settle_weight:
            sl = sl + self.settle_weight * np.maximum(details["drift"] - SETTLE_TOL, 0.0)
        return sl, details

    def scenario_losses(self, sim):
        sl = tracking_error(sim.y, self.R, self.w, self.norm, self.relative, idx=self._oidx)
        return self._settle(sl, sim, {"final_output": sim.y[:, :, -1, :][..., self._oidx]})

    def describe(self) -> str:
        if self.description:
            return self.description
        return f"tracking of {self.target_spec} over {self.n_scenarios} scenarios"

    # ---------------------------------------------------------------- plot and verification
    def figure(self, result, b: int = 0):
        """Output vs target over time, one panel per scenario (inputs in the title, pulse inputs
        shaded)."""
        from .plots import outputs_figure

        return outputs_figure(self, result, b, targets=self.R)

    def target_inputs(self) -> set[str]:
        """The inputs the target depends on (``{"t"}``: it depends on time; ``{"array"}``: the
        target is an array)."""
        spec = self.target_spec
        specs = spec.values() if isinstance(spec, Mapping) else [spec]
        used: set[str] = set()
        for x in specs:
            if isinstance(x, (str, Expr)):
                e = x if isinstance(x, Expr) else Expr(x, "target")
                used |= set(e.inputs())
                if "t" in e.names:
                    return {"t"}
            elif not isinstance(x, (int, float)):
                return {"array"}
        return used

    def targets_at(self, scenarios) -> np.ndarray:
        """(S, O) targets at the end of new scenarios."""
        t = np.linspace(0.0, float(self.t[-1]), 3)
        probe = TrackingTask(self.template, scenarios, t, self.target_spec, weights="uniform", prior=None)
        return probe.R[:, -1, :]

    def steady(self) -> bool:
        """Whether a good design settles: a time-independent target on constant inputs."""
        return not (self.target_inputs() & {"t"}) and all(constant_inputs(sc) is not None for sc in self.scenarios)

    def off_grid_scenarios(self, s, grid) -> list[Scenario]:
        """Every combination of the off-grid values of every input (``[verify] inputs`` replace
        the derived ones); above 64 combinations, one input at a time, the others at their
        middle training value."""
        init = self.scenarios[0].init
        vals = {u: list(s.inputs.get(u, off_grid_values(g) or g)) for u, g in grid.items()}
        names = list(vals)
        combos = list(itertools.product(*[vals[u] for u in names]))
        if len(combos) > 64:
            combos = []
            for i, u in enumerate(names):
                for v in vals[u]:
                    combos.append(tuple(v if j == i else middle(grid[w]) for j, w in enumerate(names)))
        return [Scenario(dict(zip(names, c)), init,
                         label=", ".join(f"{u}={x:g}" for u, x in zip(names, c)) + " (off grid)") for c in combos]

    def disturbances(self, grid, used) -> list[str]:
        """Inputs the target does not depend on, with at least two training values."""
        return [u for u in grid if u not in used and len(grid[u]) >= 2]

    def verification_plan(self, s) -> VerificationPlan:
        """``settled`` (when :meth:`steady`); for targets of constant inputs, ``off_grid`` (the
        largest error of the outputs at the end of the long horizon relative to ``max(|target|,
        0.1 x the largest training target)``, tolerance the good threshold) and ``step`` (each
        disturbance input switches between its smallest and largest training value halfway,
        the others at their middle value; the same error before the switch and at the end)."""
        plan = VerificationPlan()
        if self.steady():
            plan.checks.append(settled_check(self, s))
        grid, used = input_grid(self), self.target_inputs()
        if grid is None or used & {"t", "array"}:
            return plan
        tol, scale = off_grid_tolerance(self, s), 0.1 * target_scale(self)
        scen = self.off_grid_scenarios(s, grid)
        if scen:
            targ = self.targets_at(scen)
            plan.checks.append(final_output_check(self, scen, lambda fin: rel_error(fin, targ, scale), tol))
        dist = self.disturbances(grid, used)
        if dist:
            plan.checks.append(self._step_check(s, grid, dist, tol, scale))
        return plan

    def _step_check(self, s, grid, dist, tol, scale) -> CheckSpec:
        init = self.scenarios[0].init
        steps = []
        t_switch = s.horizon * float(self.t[-1]) / 2
        for u in dist:
            lo, hi = grid[u][0], grid[u][-1]
            base = {w: middle(g) for w, g in grid.items() if w != u}
            for a, b in ((lo, hi), (hi, lo)):
                pc = PiecewiseConstant((0.0, t_switch), (a, b))
                steps.append((Scenario({**base, u: pc}, init, label=f"{u}: {a:g} -> {b:g} at t={t_switch:g}"),
                              Scenario({**base, u: a}, init), Scenario({**base, u: b}, init)))
        before = self.targets_at([x[1] for x in steps])
        after = self.targets_at([x[2] for x in steps])
        oidx = list(self._oidx)

        def judge(tr: Trajectories):
            i_sw = int(np.searchsorted(tr.t, t_switch)) - 1
            e = np.maximum(rel_error(tr.y[:, :, i_sw, :][..., oidx], before, scale),
                           rel_error(tr.y[:, :, -1, :][..., oidx], after, scale))
            return nan_to_inf(e).max(axis=1)

        return CheckSpec("step", judge, tol,
                         f"{len(steps)} disturbance steps at t={t_switch:g}; error before the step and at the end",
                         scenarios=[x[0] for x in steps], group="step", setting="step")


class LogicTask(TrackingTask):
    """A logic gate: outputs follow ``output_high * f(bits)`` over the truth table.

    Args:
        expression: boolean expression of the inputs, e.g. ``(u1 & u2) | u3`` (per output: a
            mapping output -> expression).
        inputs: the inputs of the truth table (default: those the expressions and template use,
            sorted). Rows are ordered like binary numbers with the last input fastest.
        low, high: input levels for bits 0 and 1. output_high: target for a true output.
        init: initial concentrations.
        balanced: weight true and false rows equally per output (see the module docstring).

    Details: ``final_output`` (B, S, O) and ``correct`` (B, S) (every output at the last point
    on the right side of ``output_high / 2``); ``accuracy`` (B,).
    """

    kind = "logic"
    default_good_threshold = 0.05

    def __init__(self, template: Template, expression, t, *, inputs: Sequence[str] | None = None, low: float = 0.0,
                 high: float = 1.0, output_high: float = 1.0, init=0.01, weights=None, norm: int = 1,
                 relative: bool = False, balanced: bool = True, **kw):
        outputs = template.outputs
        if not outputs:
            raise CRNError("logic task: the template declares no output species ('outputs:')")
        exprs = expression if isinstance(expression, Mapping) else {o: expression for o in outputs}
        exprs = {o: e if isinstance(e, Expr) else Expr(e, f"logic expression of {o}") for o, e in exprs.items()}
        for o, e in exprs.items():
            bad = [n for n in e.names if not n.startswith("u")]
            if bad:
                raise CRNError(f"logic expression {e.text!r} may use inputs only, not {bad}")
        used = sorted({u for e in exprs.values() for u in e.inputs()} | set(template.inputs), key=lambda s: int(s[1:]))
        inputs = list(inputs) if inputs is not None else used
        missing = [u for u in used if u not in inputs]
        if missing:
            raise CRNError(f"logic task: inputs {missing} are used but not in the truth table inputs {inputs}")
        if not inputs:
            raise CRNError("logic task has no inputs")
        if not high > low:
            raise CRNError(f"logic levels need high > low, got low={low}, high={high}")
        self.expressions = exprs
        self.truth_inputs = inputs
        self.low, self.high, self.output_high = float(low), float(high), float(output_high)
        bits = np.array(list(itertools.product((0, 1), repeat=len(inputs))), dtype=float)  # (S, q)
        self.bits = bits
        scenarios = [Scenario({u: (self.high if b else self.low) for u, b in zip(inputs, row)}, init,
                              label=" ".join(f"{u}={int(b)}" for u, b in zip(inputs, row)))
                     for row in bits]
        benv = {u: bits[:, i:i + 1] for i, u in enumerate(inputs)}
        self.truth = np.stack([np.broadcast_to(exprs[o](benv), (len(bits), 1))[:, 0] for o in outputs], axis=-1)
        self.expression_text = {o: e.text for o, e in exprs.items()}
        self.balanced = bool(balanced)
        S = len(bits)
        rw = np.ones_like(self.truth)
        if self.balanced:
            for o in range(self.truth.shape[1]):
                pos = self.truth[:, o] > 0.5
                if 0 < pos.sum() < S:
                    rw[pos, o] = S / (2 * pos.sum())
                    rw[~pos, o] = S / (2 * (~pos).sum())
        self.row_weights = rw                                                # (S, O)
        super().__init__(template, scenarios, t, self.truth * self.output_high, weights=weights, norm=norm,
                         relative=relative, **kw)

    def scenario_losses(self, sim):
        per = tracking_error(sim.y, self.R, self.w, self.norm, self.relative, per_output=True, idx=self._oidx)
        sl = (per * self.row_weights[None]).mean(axis=-1)
        det = {"final_output": sim.y[:, :, -1, :][..., self._oidx]}
        fin = det["final_output"]
        correct = ((fin > self.output_high / 2) == (self.truth[None] > 0.5)).all(axis=-1)
        det["correct"] = correct
        det["accuracy"] = correct.mean(axis=1)
        return self._settle(sl, sim, det)

    def describe(self) -> str:
        if self.description:
            return self.description
        ex = "; ".join(f"{o} = {t}" for o, t in self.expression_text.items())
        return f"logic gate {ex} over {len(self.truth_inputs)} inputs ({self.n_scenarios} rows)"

    def figure(self, result, b: int = 0):
        """Final output per truth-table row against the target (bars)."""
        import matplotlib.pyplot as plt

        from .plots import final_bars

        fig, ax = plt.subplots(figsize=(max(5, 0.55 * self.n_scenarios + 2), 3.8))
        x = np.arange(self.n_scenarios)
        final_bars(ax, x, self, result.details["final_output"][b], [f"{n} at t={self.t[-1]:g}" for n in self.outputs],
                   300)
        ax.set_xticks(x)
        ax.set_xticklabels(["".join(str(int(v)) for v in row) for row in self.bits], fontsize=8)
        ax.set_xlabel("inputs " + " ".join(self.truth_inputs) + " (bits)")
        acc = result.details["accuracy"][b]
        ax.set_title(" ; ".join(f"{o} = {e}" for o, e in self.expression_text.items()) + f"   accuracy {acc:.0%}",
                     fontsize=9)
        ax.legend(fontsize=8)
        return fig

    def verification_plan(self, s) -> VerificationPlan:
        """``settled``, and ``off_grid``: the truth table with the high level at 0.75 and 1.5 x
        ``high``, judged on the answer (the share of rows with an output on the wrong side of
        ``output_high / 2`` at the end of the long horizon; tolerance 0)."""
        init = self.scenarios[0].init
        scen, targ = [], []
        for lev in (0.75 * self.high, 1.5 * self.high):
            for row, tr in zip(self.bits, self.truth):
                scen.append(Scenario({u: (lev if b else self.low) for u, b in zip(self.truth_inputs, row)}, init,
                                     label=" ".join(f"{u}={int(b)}" for u, b in zip(self.truth_inputs, row))
                                     + f" (high={lev:g})"))
                targ.append(tr * self.output_high)
        targ = np.asarray(targ, dtype=float)
        half = self.output_high / 2
        wrong = final_output_check(self, scen, lambda fin: ((fin > half) != (targ[None] > half)).any(axis=-1)
                                   .astype(float), off_grid_tolerance(self, s, 0.0), reduce="mean")
        return VerificationPlan([settled_check(self, s), wrong])


class DoseResponseTask(TrackingTask):
    """The output's response to a range of doses of one input follows a target curve.

    Args:
        input: the dosed input (``u1``). doses: the dose values.
        target: an expression of the dose (``2*u1``) or a Hill curve
            ``{"vmax": .., "K": .., "n": .., "basal": 0}`` (``basal + vmax * u^n / (K^n + u^n)``).
        other_inputs: constant values for the other inputs. init: initial concentrations.
        weights: default ``"steady_state"`` (the last point).

    Details: ``final_output`` (B, S, O).
    """

    kind = "dose_response"
    default_weights = "steady_state"
    default_good_threshold = 0.02

    def __init__(self, template: Template, doses: Sequence[float], t, *, input: str = "u1", target="u1",
                 other_inputs: Mapping[str, float] | None = None, init=0.01, weights=None, norm: int = 1,
                 relative: bool = False, **kw):
        doses = [float(d) for d in doses]
        if len(doses) < 2:
            raise CRNError(f"dose response needs at least 2 doses, got {doses}")
        self.input = input
        self.doses = np.asarray(doses)
        if isinstance(target, Mapping):
            bad = set(target) - {"vmax", "K", "n", "basal"}
            if bad or not {"vmax", "K", "n"} <= set(target):
                raise CRNError(f"Hill target needs keys vmax, K, n (and optional basal), got {sorted(target)}")
            target = (f"{float(target.get('basal', 0.0))!r} + {float(target['vmax'])!r} * "
                      f"hill({input}, {float(target['K'])!r}, {float(target['n'])!r})")
        other = dict(other_inputs or {})
        if input in other:
            raise CRNError(f"{input} is the dosed input and cannot also be in other_inputs")
        scenarios = [Scenario({input: d, **other}, init, label=f"{input}={d:g}") for d in doses]
        super().__init__(template, scenarios, t, target, weights=weights, norm=norm, relative=relative, **kw)

    def describe(self) -> str:
        if self.description:
            return self.description
        return f"dose response of {self.input} ({len(self.doses)} doses) toward {self.target_spec}"

    def figure(self, result, b: int = 0):
        """Final output vs dose against the target curve, plus the time courses."""
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
        fin = result.details["final_output"][b]
        for o, name in enumerate(self.outputs):
            a1.plot(self.doses, fin[:, o], "o-", label=f"{name} at t={self.t[-1]:g}")
            a1.plot(self.doses, self.R[:, -1, o], "k--", label="target")
        if self.doses.min() > 0 and self.doses.max() / self.doses.min() > 20:
            a1.set_xscale("log")
        a1.set_xlabel(f"dose {self.input}")
        a1.set_ylabel("output")
        a1.legend(fontsize=8)
        cmap = plt.get_cmap("viridis")
        for s in range(self.n_scenarios):
            a2.plot(self.t, result.sim.output(self.outputs[0])[b, s], color=cmap(s / max(self.n_scenarios - 1, 1)),
                    lw=1)
        a2.set_xlabel("t")
        a2.set_title(f"{self.outputs[0]} over time (dark: low dose)", fontsize=9)
        return fig

    def steady(self) -> bool:
        return True

    def off_grid_scenarios(self, s, grid) -> list[Scenario]:
        """The off-grid doses (the other inputs as trained)."""
        init = self.scenarios[0].init
        other = {k: v for k, v in constant_inputs(self.scenarios[0]).items() if k != self.input}
        doses = list(s.inputs.get(self.input, off_grid_values(self.doses)))
        return [Scenario({self.input: d, **other}, init, label=f"{self.input}={d:g} (off grid)") for d in doses]

    def disturbances(self, grid, used) -> list[str]:
        return []


class ClassificationTask(TrackingTask):
    """Classify initial conditions: output o should end ``high`` for examples of class o, ``low``
    otherwise.

    Args:
        examples: a sequence of ``(init, cls)`` where ``init`` is a number or a mapping species ->
            value, and ``cls`` an output index, an output name, or a target vector (one value per
            output).
        inputs: constant input values for every example. high, low: target levels.
        weights: default ``"steady_state"``.

    Details: ``final_output`` (B, S, O), ``predicted`` (B, S) (argmax of the final outputs),
    ``correct`` (B, S), ``accuracy`` (B,).
    """

    kind = "classification"
    default_weights = "steady_state"
    default_good_threshold = 0.05

    def __init__(self, template: Template, examples: Sequence, t, *, inputs: Mapping[str, float] | None = None,
                 high: float = 1.0, low: float = 0.0, default_init: float = 0.01, weights=None, norm: int = 1,
                 relative: bool = False, **kw):
        outputs = template.outputs
        if not outputs:
            raise CRNError("classification task: the template declares no output species ('outputs:')")
        if not examples:
            raise CRNError("classification task has no examples")
        self.high, self.low = float(high), float(low)
        scenarios, targets, classes = [], [], []
        for i, ex in enumerate(examples):
            try:
                init, cls = ex
            except (TypeError, ValueError):
                raise CRNError(f"example {i} must be (init, class), got {ex!r}") from None
            if isinstance(init, Mapping):
                unknown = set(init) - set(template.species)
                if unknown:
                    raise CRNError(f"example {i}: initial concentration of unknown species {sorted(unknown)} "
                                   f"(species: {' '.join(template.species)})")
                init = {s: float(init.get(s, default_init)) for s in template.species}
            if isinstance(cls, str):
                if cls not in outputs:
                    raise CRNError(f"example {i}: class {cls!r} is not an output (outputs: {' '.join(outputs)})")
                cls = outputs.index(cls)
            if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
                if not 0 <= cls < len(outputs):
                    raise CRNError(f"example {i}: class {cls} out of range for {len(outputs)} outputs")
                vec = np.full(len(outputs), self.low)
                vec[cls] = self.high
            else:
                vec = np.asarray(cls, dtype=float)
                if vec.shape != (len(outputs),):
                    raise CRNError(f"example {i}: target vector needs {len(outputs)} values, got {cls!r}")
                cls = int(np.argmax(vec))
            scenarios.append(Scenario(dict(inputs or {}), init, label=f"example {i} (class {outputs[cls]})"))
            targets.append(vec)
            classes.append(cls)
        self.classes = np.asarray(classes)
        super().__init__(template, scenarios, t, np.asarray(targets), weights=weights, norm=norm, relative=relative,
                         **kw)

    def scenario_losses(self, sim):
        sl, det = super().scenario_losses(sim)
        fin = det["final_output"]
        pred = np.argmax(fin, axis=-1)
        det["predicted"] = pred
        det["correct"] = pred == self.classes[None]
        det["accuracy"] = det["correct"].mean(axis=1)
        return sl, det

    def describe(self) -> str:
        if self.description:
            return self.description
        return f"classification of {self.n_scenarios} initial conditions into {len(self.outputs)} classes"

    def figure(self, result, b: int = 0):
        """Final outputs per example (grouped bars), the target class marked."""
        import matplotlib.pyplot as plt

        from .plots import final_bars

        fig, ax = plt.subplots(figsize=(max(5, 0.8 * self.n_scenarios + 2), 3.8))
        x = np.arange(self.n_scenarios)
        final_bars(ax, x, self, result.details["final_output"][b], list(self.outputs), 200)
        labels = []
        for sc, c in zip(self.scenarios, self.classes):
            init = sc.init if not isinstance(sc.init, dict) else {k: v for k, v in sc.init.items() if v != 0.01}
            lab = ", ".join(f"{k}={v:g}" for k, v in init.items()) if isinstance(init, dict) else f"{init:g}"
            labels.append(f"{lab}\n-> {self.outputs[c]}")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(f"final outputs per example; accuracy {result.details['accuracy'][b]:.0%}", fontsize=9)
        ax.legend(fontsize=8)
        return fig

    def verification_plan(self, s) -> VerificationPlan:
        """``settled``, and ``off_grid``: every example's initial concentrations times 0.9 and
        1.1, judged on the answer (the share of examples whose largest output at the end of the
        long horizon is not their class; tolerance 0)."""
        scen, targ = [], []
        R = self.R[:, -1, :]
        for f in (0.9, 1.1):
            for i, sc in enumerate(self.scenarios):
                x0 = sc.init_vector(self.template.species) * f
                scen.append(Scenario(dict(sc.inputs), dict(zip(self.template.species, x0.tolist())),
                                     label=f"example {i}, init x{f:g}"))
                targ.append(R[i])
        want = np.argmax(np.asarray(targ), axis=-1)
        wrong = final_output_check(self, scen, lambda fin: (np.argmax(fin, axis=-1) != want[None]).astype(float),
                                   off_grid_tolerance(self, s, 0.0), reduce="mean")
        return VerificationPlan([settled_check(self, s), wrong])


# ------------------------------------------------------------------ task files (gfn_crn.tasks.kinds)
@register("tracking", keys={"target"}, grid=True, loss=True, aliases=("rpa",))
def _tracking_from_config(c: KindInput) -> TrackingTask:
    return TrackingTask(c.template, c.grid_scenarios(), c.t, c.task.get("target", "u1"), **c.loss_kw, **c.common)


@register("logic", keys={"expression", "inputs", "low", "high", "output_high", "balanced"}, loss=True)
def _logic_from_config(c: KindInput) -> LogicTask:
    task = c.task
    if "expression" not in task:
        raise task.err("missing expression (e.g. '(u1 & u2) | u3')")
    return LogicTask(c.template, task.get("expression"), c.t, inputs=task.get("inputs"),
                     low=task.number("low", 0.0), high=task.number("high", 1.0),
                     output_high=task.number("output_high", 1.0), init=c.init,
                     balanced=bool(task.get("balanced", True)), **c.loss_kw, **c.common)


@register("dose_response", keys={"input", "doses", "range", "target", "hill", "other_inputs"}, loss=True,
          aliases=("dose-response",))
def _dose_response_from_config(c: KindInput) -> DoseResponseTask:
    task = c.task
    if ("doses" in task) == ("range" in task):
        raise task.err("give exactly one of doses = [...] or range = {low, high, n, log}")
    if "doses" in task:
        doses = task.numbers("doses")
    else:
        r = Section(task.get("range"), "task.range", {"low", "high", "n", "log"}, c.source)
        lo, hi = r.number("low", positive=True), r.number("high", positive=True)
        n = r.number("n", 9, integer=True)
        if lo is None or hi is None or not hi > lo or n < 2:
            raise r.err("needs low > 0, high > low and n >= 2")
        doses = list(np.geomspace(lo, hi, n) if r.get("log", False) else np.linspace(lo, hi, n))
    if "target" in task and "hill" in task:
        raise task.err("give either target or hill, not both")
    inp = task.get("input", "u1")
    target = task.get("hill") if "hill" in task else task.get("target", inp)
    return DoseResponseTask(c.template, doses, c.t, input=inp, target=target,
                            other_inputs=c.const_inputs("other_inputs"), init=c.init, **c.loss_kw, **c.common)


@register("classification", keys={"examples", "inputs", "high", "low"}, loss=True, aliases=("classifier",))
def _classification_from_config(c: KindInput) -> ClassificationTask:
    task = c.task
    exs = task.get("examples")
    if not isinstance(exs, list) or not exs:
        raise task.err("needs examples = [{ init = {...}, class = ... }, ...]")
    examples = []
    for i, ex in enumerate(exs):
        e = Section(ex, f"task.examples[{i}]", {"init", "class", "target"}, c.source)
        if ("class" in e) == ("target" in e):
            raise e.err("give exactly one of class (output name or index) or target (one value per output)")
        if "init" not in e:
            raise e.err("missing init")
        examples.append((read_init(e), e.get("class") if "class" in e else e.get("target")))
    return ClassificationTask(c.template, examples, c.t, inputs=c.const_inputs("inputs"),
                              high=task.number("high", 1.0), low=task.number("low", 0.0),
                              default_init=c.init if isinstance(c.init, float) else 0.01, **c.loss_kw, **c.common)

