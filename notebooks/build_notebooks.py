"""Write (and optionally execute) the example notebooks.

    python notebooks/build_notebooks.py            # write the .ipynb files (no outputs)
    python notebooks/build_notebooks.py --execute  # write and execute them in place (full mode)

The notebooks read ``GFN_CRN_QUICK=1`` to shrink every run (the test suite executes them that
way); committed copies carry the outputs of a full-mode execution.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''import os, warnings
warnings.filterwarnings("ignore", message="IProgress not found")
QUICK = os.environ.get("GFN_CRN_QUICK") == "1"   # the test suite sets this: tiny runs
import io
from IPython.display import Image, display
import numpy as np
import matplotlib.pyplot as plt

def show(fig):
    """Display a matplotlib figure as PNG (whatever the backend) and close it."""
    buf = io.BytesIO(); fig.savefig(buf, format="png", dpi=90); plt.close(fig)
    display(Image(data=buf.getvalue()))
from gfn_crn.training.config import PLAIN_RUN, resolve_config
from gfn_crn.training.run import Run'''

NB1 = [
    ("md", """# Quickstart: designing RPA circuits with gfn_crn

Robust perfect adaptation (**rpa** preset): the output `X1` must follow the input `u1` whatever the
disturbance `u2` does (9 input combinations). The template already has `0 -> Z1` at rate `u1` and
`X1 -> 0` at rate `u2*X1`; the generator adds up to 5 reactions from the 90-reaction mass-action
library over `X1 Z1 Z2` and picks their rate constants.

This notebook trains a generator with the default recipe (the same as
`gfn-crn train --task rpa --preset quick`: 20,480 candidate evaluations), looks at the verified
designs and their mechanisms, inspects the archive of best distinct designs, plots them, exports
them, draws fresh samples and resumes the run."""),
    ("code", SETUP),
    ("md", "## Train\nSettings: defaults < preset < overrides (every setting is in the run's `config.toml`). "
           "The defaults are the recipe; `quick` sets its budget."),
    ("code", '''tiny = dict(iterations=4, batch_size=8, max_evaluations=0, refine_final_share=0.0) if QUICK else {}
config = resolve_config("quick", overrides=dict(task="rpa", seed=1, final_samples=16 if QUICK else 256,
                                                plot_top=1 if QUICK else 2, **tiny))
run = Run.create(config, "runs/nb01_rpa", overwrite=True)
run.train(progress=False)       # a tqdm bar by default; Ctrl-C stops after the iteration and saves
summary = run.finish(quiet=True)   # final samples, plots, exports, summary.json, report.md'''),
    ("code", '''m = run.metrics()
print(f"{len(m)} iterations ({m[-1]['evaluations']} evaluations, then {summary['final_refinement_evaluations']} "
      f"in the final refinement), best loss {summary['best_loss']:.4g}, distinct good designs "
      f"{summary['distinct_good']}, log Z {m[-1]['logZ']:.2f}")
display(Image(filename=str(run.paths["training_curves"]), width=800))'''),
    ("md", """## Verified designs and their mechanisms
A good design (loss below 0.01) is *verified* when it also stays bounded and settles over 10 x the
training horizon, is right at inputs off the training grid and returns to the target after a step of
the disturbance `u2`. Its *mechanism* is its minimal core: the reactions left after removing those
it does not need. `mechanisms.json` in the run directory holds them, best first."""),
    ("code", '''import json
mech = json.loads((run.dir / "mechanisms.json").read_text())
print(f"{summary['distinct_good']} good designs, {mech['verified_designs']} verified, "
      f"{mech['distinct_verified_mechanisms']} distinct mechanisms; first verified design after "
      f"{summary['first_verified_evaluation'] or '-'} of {summary['evaluations']} evaluations")
for m in mech["mechanisms"][:5]:
    print(f"\\nmechanism {m['rank']}: best design {m['best_loss']:.4g}, {m['n_designs']} design(s), core:")
    print("\\n".join("  " + line for line in m["core"]))'''),
    ("code", '''from gfn_crn.crn import parse_network
from gfn_crn.verify.report import plot_verification
if mech["mechanisms"]:
    rep = run.task.adopt(parse_network(mech["mechanisms"][0]["representative"]))
    display(Image(filename=str(plot_verification(run.task, rep, run.dir / "verified_1.png")), width=900))'''),
    ("md", """## The archive: best distinct topologies
One entry per topology (set of added reactions) with the best parameters seen for it. The diversity
figures: distinct topologies below the task's good threshold, the mean pairwise Hamming distance
between topologies (reactions in one and not the other), and how often each reaction appears."""),
    ("code", '''print(run.top_table(8))
div = run.archive.diversity()
print({k: div[k] for k in ("distinct_good", "mean_hamming", "mean_hamming_over", "best_loss", "archived")})
for name, share, count in run.archive.reaction_frequencies(run.archive.top(20))[:8]:
    print(f"{share:5.2f}  {name}")'''),
    ("md", "## The best design: time courses against the target, and its network diagram"),
    ("code", '''best = run.archive.top(1)[0]
print(best.network.to_text())
res = run.task.evaluate([best.network])
fig = run.task.plot(res, 0)
show(fig)'''),
    ("code", '''from gfn_crn.crn.diagram import plot_network
display(Image(filename=str(plot_network(best.network, run.dir / "best_diagram.png")), width=700))'''),
    ("md", "## Export: text, JSON, Antimony, SBML (round trip through libsbml)"),
    ("code", '''from gfn_crn.crn.export import to_antimony, to_sbml, from_sbml
print(to_antimony(best.network))
back = from_sbml(to_sbml(best.network))
print("SBML round trip keeps the topology:", back.topology == best.network.topology)
print(sorted(p.name for p in (run.dir / "designs").iterdir())[:8])'''),
    ("md", "## Fresh samples from the trained generator (`gfn-crn sample`)"),
    ("code", '''s = run.sample(32 if QUICK else 500)
print(s.figures(run.task.good_threshold))'''),
    ("md", "## Resume (`gfn-crn train --resume DIR --max-evaluations N`): continues bit-for-bit under the same seed"),
    ("code", '''run.close()
run = (Run.load("runs/nb01_rpa", iterations=run.iteration + 2) if QUICK
       else Run.load("runs/nb01_rpa", max_evaluations=2 * config.max_evaluations))
run.train(progress=False)
print("now at iteration", run.iteration, "evaluations", run.evaluations, "best loss", run.archive.top(1)[0].loss)
run.close()'''),
]

NB2 = [
    ("md", """# Exploration and diversity

Exploration only changes how trajectories are *sampled*; the trajectory-balance loss is always
computed with the on-policy log-probabilities (docs/architecture.md). The knobs (`policy_kwargs`):

* `temperature`: structure logits / T (T > 1 flattens the choice of reactions);
* `epsilon`: mix the structure choice with uniform over valid actions (and parameters with a broad proposal);
* `param_spread`: multiply the spread of the continuous (rate) distribution.

We train one generator, then sample from it under several settings and compare the diversity figures;
finally we compare on-policy with off-policy (exploring) training."""),
    ("code", SETUP),
    ("code", '''base = dict(PLAIN_RUN, task="rpa", iterations=4 if QUICK else 150, batch_size=16 if QUICK else 64, seed=0,
            final_samples=0, plot_top=0, export_top=0)
run = Run.create(resolve_config("quick", overrides=base), "runs/nb02_base", overwrite=True)
run.train(progress=False)
thr = run.task.good_threshold'''),
    ("md", "## Sampling the same generator with different `policy_kwargs`"),
    ("code", '''N = 32 if QUICK else 400
settings = {"on-policy": {}, "temperature 2": {"temperature": 2.0}, "temperature 0.5": {"temperature": 0.5},
            "epsilon 0.3": {"epsilon": 0.3}, "param_spread 2": {"param_spread": 2.0}}
rows = {}
for name, kw in settings.items():
    kw = dict(kw); T = kw.pop("temperature", 1.0)
    f = run.sample(N, temperature=T, **kw).figures(thr)
    rows[name] = f
    print(f"{name:>16}: valid {f['valid_fraction']:.2f}  distinct topologies {f['distinct_topologies']:4d}  "
          f"median loss {f['median_loss']:.3f}  best {f['best_loss']:.4f}")'''),
    ("code", '''fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
names = list(rows)
ax[0].bar(names, [rows[n]["distinct_topologies"] / rows[n]["n"] for n in names]); ax[0].set_title("distinct topologies / samples")
ax[1].bar(names, [rows[n]["median_loss"] for n in names], color="tab:orange"); ax[1].set_title("median loss (valid)")
for a in ax: a.tick_params(axis="x", rotation=30)
fig.tight_layout(); show(fig)'''),
    ("md", """## On-policy vs off-policy training
Same seed and budget; the off-policy run explores with temperature 2 and epsilon 0.1, annealed to
on-policy over the first half. We compare the archives (distinct topologies, best loss, Hamming
distance between the best 50)."""),
    ("code", '''runs = {}
for name, kw in {"on-policy": dict(temperature_start=1.0, epsilon_start=0.0),
                 "off-policy": dict(temperature_start=2.0, epsilon_start=0.1)}.items():
    r = Run.create(resolve_config("quick", overrides={**base, **kw}), f"runs/nb02_{name}", overwrite=True)
    r.train(progress=False)
    runs[name] = r
    d = r.archive.diversity(n_hamming=50)
    print(f"{name:>10}: best loss {d['best_loss']:.4f}  archived topologies {d['archived']}  "
          f"mean Hamming ({d['mean_hamming_over']}) {d['mean_hamming']:.2f}  valid share "
          f"{r.archive.n_valid / r.archive.n_offered:.2f}")'''),
    ("code", '''fig, ax = plt.subplots(figsize=(7, 3.5))
for name, r in runs.items():
    m = r.metrics()
    ax.plot([x["evaluations"] for x in m], [x["best_loss"] for x in m], label=name)
ax.set_yscale("log"); ax.set_xlabel("evaluations"); ax.set_ylabel("best loss so far"); ax.legend()
fig.tight_layout(); show(fig)
for r in [run, *runs.values()]:
    r.close()'''),
]

NB3 = [
    ("md", """# Task gallery

The same generator on other tasks: a logic gate, an oscillator, a dose response and habituation
(presets; `gfn-crn tasks` lists them and `gfn-crn tasks --show NAME` prints one as TOML), then a task
defined from scratch in TOML. Each gets a brief training run; we look at the best design in the
task's own view (truth table, dose-response curve, frequency, peaks). Brief runs show the workflow,
not the best designs these tasks admit."""),
    ("code", SETUP),
    ("code", '''from gfn_crn.tasks import load_task, list_presets
for name, desc in list_presets():
    print(f"{name:>14}: {desc}")'''),
    ("code", '''def brief(task, name, iterations=None, **kw):
    iterations = iterations or (2 if QUICK else 40)
    cfg = resolve_config(overrides=dict(PLAIN_RUN, task=task, iterations=iterations, batch_size=8 if QUICK else 32,
                                        hidden=64, max_reactions=4, seed=0, final_samples=0, plot_top=0,
                                        export_top=0, **kw))
    r = Run.create(cfg, f"runs/nb03_{name}", overwrite=True)
    r.train(progress=False)
    best = r.archive.top(1)[0]
    print(f"{name}: {r.evaluations} evaluations, best loss {best.loss:.4g} "
          f"(good below {r.task.good_threshold:g}), {len(r.archive)} archived topologies")
    print(r.top_table(3))
    res = r.task.evaluate([best.network])
    fig = r.task.plot(res, 0)
    show(fig)
    r.close()
    return r'''),
    ("md", "## Logic: a 3-input AND gate (8 truth-table rows)"),
    ("code", '_ = brief("logic-and3", "logic")'),
    ("md", "## Oscillator whose frequency follows the input"),
    ("code", '_ = brief("oscillator", "oscillator")'),
    ("md", "## Dose response: a Hill curve over 9 doses"),
    ("code", '_ = brief("dose-response", "dose")'),
    ("md", "## Habituation: decreasing peaks over a pulse train"),
    ("code", '_ = brief("habituation", "habituation")'),
    ("md", """## A task of your own
A TOML file: template, scenarios, time grid, the kind's settings and the reward. Here: the output `Y`
should settle at twice the input (`Y = 2 u1`) for u1 in {0.5, 1, 2}, from a template that only senses
the input."""),
    ("code", '''text = """
kind = "tracking"
name = "doubler"
description = "Y settles at 2*u1"
[template]
text = \\"\\"\\"
species: X1 Y
outputs: Y
fixed: 0 -> X1 ; k=1 * u1
fixed: X1 -> 0 ; k=1
\\"\\"\\"
[scenarios]
inputs = { u1 = [0.5, 1.0, 2.0] }
init = 0.01
[time]
t_f = 50
n_t = 200
[task]
target = "2 * u1"
weights = "transient"
[reward]
good_threshold = 0.05
"""
os.makedirs("runs", exist_ok=True)
with open("runs/doubler.toml", "w") as fh:
    fh.write(text)
task = load_task("runs/doubler.toml")
print(task, task.describe())'''),
    ("code", '_ = brief("runs/doubler.toml", "doubler", iterations=2 if QUICK else 60)'),
]


NB4 = [
    ("md", """# One generator for a family of targets: conditional GFlowNets

A task file with a `[condition]` table is a *family*: one target per condition. The **rpa-gain**
preset asks for robust perfect adaptation with a gain: the output `X1` must follow `g * u1` whatever
the disturbance `u2`, for any gain `g` in [0.5, 2]. One conditional generator is trained for the
whole family: every trajectory carries its condition, the policy reads it, log Z depends on it.
Training draws `g` from the preset's 7 `train` values (0.5, 0.75, ..., 2); a trained generator
takes any `g` in the range.

This notebook trains the family with the default recipe (`gfn-crn train --task rpa-gain --preset
quick`: 20,480 evaluations), looks at the archive and the verified mechanisms per condition, and
samples designs for a gain it never trained on."""),
    ("code", SETUP),
    ("md", "## The family\nA condition changes the loss only: the same design scores differently per gain."),
    ("code", '''from gfn_crn.crn import antithetic_example
from gfn_crn.tasks import load_task
family = load_task("rpa-gain")
print(family, "- training values:", family.conditions.variables[0].train)
net = antithetic_example()          # the antithetic controller, tuned for X1 = u1
res = family.evaluate([net] * 4, [{"g": g} for g in (0.5, 1.0, 1.3, 2.0)])
for g, loss in zip((0.5, 1.0, 1.3, 2.0), res.loss):
    print(f"g={g:<4}: loss {loss:.4f}")'''),
    ("md", """## Train one generator for the family
The swap search draws a training condition for each expansion and scores and replays its
neighbours under it; the final refinement refines each condition's best designs under that
condition. The archive keeps designs per (condition, topology)."""),
    ("code", '''tiny = dict(iterations=4, batch_size=8, max_evaluations=0, refine_final_share=0.0) if QUICK else {}
config = resolve_config("quick", overrides=dict(task="rpa-gain", seed=0, final_samples=16 if QUICK else 256,
                                                plot_top=0, **tiny))
run = Run.create(config, "runs/nb04_rpa_gain", overwrite=True)
run.train(progress=False)
summary = run.finish(quiet=True)
print(f"{summary['evaluations']} evaluations in {summary['training_seconds']:.0f} s; best loss "
      f"{summary['best_loss']:.4g}; distinct good (condition, topology) pairs {summary['distinct_good']}")'''),
    ("md", "## The archive, per condition"),
    ("code", '''from gfn_crn.training.archive import condition_label, format_table
for c in run.archive.conditions():
    top = run.archive.top(condition=c)
    good = sum(e.loss < family.good_threshold for e in top)
    print(f"{condition_label(c):<7} best {top[0].loss:.4g}, {good} good of {len(top)} archived")
print()
print(format_table(run.archive.top(6), max_width=110))'''),
    ("md", """## Verified mechanisms per condition
`mechanisms.json` (written by `finish`) verifies each good design under its own condition and
names the mechanisms that serve the whole family: the same minimal core verified under every
condition checked."""),
    ("code", '''import json
mech = json.loads((run.dir / "mechanisms.json").read_text())
for c, row in mech["per_condition"].items():
    print(f"{c:<7} good {row['good_designs']:>3}, verified {row['verified_designs']:>3}, "
          f"mechanisms {row['distinct_verified_mechanisms']}")
print("mechanisms serving the whole family:", mech["family_mechanisms"] or "none")'''),
    ("md", """## Designs for a gain never trained on
`run.sample(n, condition="g=1.3")` (the command line: `gfn-crn sample RUN --condition g=1.3`)
samples structures under that condition; each is refined like a new structure of the topology
reward and returned with its loss. The best one is then verified under that gain
(`gfn-crn verify --task rpa-gain --condition g=1.3 design.crn`)."""),
    ("code", '''from gfn_crn.verify.checks import verify
samples = run.sample(32 if QUICK else 500, condition="g=1.3")
order = np.argsort(np.where(samples.valid, samples.loss, np.inf))
print(f"{len(samples)} samples at g=1.3: best loss {samples.loss[order[0]]:.4g}, "
      f"{np.mean(samples.loss < family.good_threshold):.1%} below {family.good_threshold:g}")
member = family.member({"g": 1.3})
best = samples.networks[order[0]]
v = verify(member, best)
print("best design at g=1.3:", "VERIFIED" if v.verified else f"not verified (loss {v.loss:.4g})")
print(best.to_text())'''),
    ("md", """The samples' rates are those the topology reward found for them (with one evaluation per
new structure, the prior's mode). Tuning the rates of the best sampled structures for this gain
is a rate refinement under the member task: successive halving over the 128 best distinct
structures, as the run's final refinement does (`benchmarks/conditional.py --heldout-refine`)."""),
    ("code", '''from gfn_crn.rewards.refine import refine_archive
from gfn_crn.rewards.structure import structure_key
pool = {}
for net, loss, ok in zip(samples.networks, samples.loss, samples.valid):
    k = structure_key(net)
    if ok and (k not in pool or loss < pool[k][0]):
        pool[k] = (float(loss), net)
r = refine_archive(member, pool, 256 if QUICK else 4096, seed=0)
i = int(np.argmin(r.losses))
v = verify(member, r.networks[i])
print(f"{r.evaluations} evaluations: best loss {r.losses[i]:.4g} ->", "VERIFIED" if v.verified else "not verified")
print(r.networks[i].to_text())'''),
    ("md", """What this shows, and what it does not: one generator serves every gain, and its archive
and report are per condition. On this family the topology reward first scores a structure with
every rate at the prior's mode, where designs have gains near 1 whatever the target; at other
gains a capable structure looks poor until its rates are tuned, so few designs reach the threshold
away from g = 1 at this budget (benchmarks/RESULTS.md, "Conditional generation", has the measured
figures)."""),
    ("code", "run.close()"),
]


def make(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


NOTEBOOKS = {"01_quickstart_rpa.ipynb": NB1, "02_exploration.ipynb": NB2, "03_task_gallery.ipynb": NB3,
             "04_conditional.ipynb": NB4}


def execute(path: Path, timeout: int = 1800) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--execute", action="store_true")
    ap.add_argument("names", nargs="*", help="only these notebooks")
    args = ap.parse_args(argv)
    for name, cells in NOTEBOOKS.items():
        if args.names and name not in args.names:
            continue
        path = HERE / name
        nbformat.write(make(cells), path)
        if args.execute:
            os.environ.pop("GFN_CRN_QUICK", None)
            execute(path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
