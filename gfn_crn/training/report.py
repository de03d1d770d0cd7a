"""The end of a run: final samples, plots, exports, ``summary.json`` and ``report.md``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

from .archive import SOURCES, format_table
from .plots import plot_loss_histogram, plot_reaction_frequencies, plot_training_curves


def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else None


def plot_top_designs(run, k: int, prefix: str = "top") -> list[Path]:
    """Time courses (the task's own view) of the ``k`` best archived designs, one PNG each."""
    entries = run.archive.top(k)
    if not entries:
        return []
    nets = [e.network for e in entries]
    if is_family(run):   # each design by its own condition's member task
        paths = []
        for b, e in enumerate(entries):
            member = run.task.member(e.condition)
            p = run.dir / f"{prefix}_{b + 1}.png"
            member.plot(member.evaluate([e.network]), 0, p)
            paths.append(p)
        return paths
    res = run.task.evaluate(nets)
    paths = []
    for b in range(len(nets)):
        p = run.dir / f"{prefix}_{b + 1}.png"
        run.task.plot(res, b, p)
        paths.append(p)
    return paths


def is_family(run) -> bool:
    """Whether ``run`` trains a family of tasks (its archive keeps designs per condition)."""
    return getattr(run.task, "conditions", None) is not None


def export_top(run, k: int) -> list[Path]:
    """``designs/rank01.{crn,json,antimony,xml}`` ... for the ``k`` best archived designs."""
    from ..crn.export import save_exports

    out = []
    for i, e in enumerate(run.archive.top(k)):
        paths = save_exports(e.network, run.dir / "designs", f"rank{i + 1:02d}")
        out.append(paths["crn"])
    return out


def finish_run(run, final_samples: Optional[int] = None, plots: bool = True, quiet: bool = False) -> dict:
    cfg, task, d = run.config, run.task, run.dir
    thr = float(task.good_threshold)
    n = cfg.final_samples if final_samples is None else int(final_samples)
    t0 = time.perf_counter()
    paths: dict[str, object] = {}
    samples = None
    if n > 0:
        samples = run.sample(n)
        paths["samples"] = samples.write_jsonl(d / "samples.jsonl")
    metrics = run.metrics()
    if plots:
        name = getattr(task, "name", cfg.task)
        if metrics:
            paths["training_curves"] = plot_training_curves(metrics, d / "training_curves.png", thr,
                                                            title=f"{name}: training")
        if samples is not None:
            paths["loss_histogram"] = plot_loss_histogram(
                samples.loss, samples.valid, thr, d / "loss_histogram.png",
                title=f"{name}: designs sampled from the trained generator", loss_cap=getattr(task, "loss_cap", None))
        good = run.archive.good_entries()
        basis = good if good else run.archive.top(50)
        if basis:
            freqs = run.archive.reaction_frequencies(basis)
            what = (f"{len(basis)} good archived designs (loss < {thr:g})" if good
                    else f"the {len(basis)} best archived designs (none below {thr:g} yet)")
            paths["reaction_frequencies"] = plot_reaction_frequencies(freqs, d / "reaction_frequencies.png",
                                                                      f"{name}: reactions in {what}")
        tops = plot_top_designs(run, cfg.plot_top)
        for i, p in enumerate(tops):
            paths[f"top_{i + 1}"] = p
        best = run.archive.top(1)
        if best:
            from ..crn.diagram import plot_network

            paths["network_best"] = plot_network(best[0].network, d / "network_best.png",
                                                 title=f"best design: loss {best[0].loss:.4g}")
    if cfg.export_top > 0 and len(run.archive):
        ex = export_top(run, cfg.export_top)
        if ex:
            paths["designs"] = ex[0].parent
    mech, found = verify_run(run, metrics)
    if plots and found:
        from ..crn.diagram import plot_network

        for i, m in enumerate(found[:MECHANISM_DIAGRAMS], 1):
            paths[f"mechanism_{i}"] = plot_network(
                m.core, d / f"mechanism_{i}.png",
                title=f"mechanism {i}: core loss {m.core_loss:.4g}, best design {m.best_loss:.4g}, "
                      f"{m.n_designs} design(s)")
    div = run.archive.diversity()
    last = metrics[-1] if metrics else {}
    summary = {
        "task": getattr(task, "name", cfg.task),
        "iterations": run.iteration,
        "evaluations": run.evaluations,
        "training_seconds": round(run.elapsed, 2),
        "evaluations_per_second": round(run.evaluations / run.elapsed, 1) if run.elapsed > 0 else None,
        "stopped_by_user": run.stopped_by_user,
        "good_threshold": thr,
        "best_loss": _num(run.archive.best_loss),
        "distinct_good": run.archive.n_good,
        "verified_designs": mech["verified_designs"],
        "distinct_verified_mechanisms": mech["distinct_verified_mechanisms"],
        **({"per_condition": mech["per_condition"], "family_mechanisms": mech["family_mechanisms"]}
           if "per_condition" in mech else {}),
        "first_verified_evaluation": mech["first_verified_evaluation"],
        "first_verified_seconds": mech["first_verified_seconds"],
        "mechanism_sources": {src: sum(1 for m in mech["mechanisms"] if m.get("first_source") == src)
                              for src in SOURCES},
        "verify_seconds": mech["seconds"],
        "first_good_evaluation": next((m["evaluations"] for m in metrics if m["distinct_good"] > 0),
                                      run.evaluations if run.archive.n_good else None),
        "final_refinement_evaluations": run.final_refine_evaluations,
        "archive": {k: v for k, v in div.items() if k != "reaction_frequencies"},
        "reaction_frequencies_good": div["reaction_frequencies"][:30],
        "logZ": last.get("logZ"),
        "samples": samples.figures(thr) if samples is not None else None,
        "finish_seconds": None,
        "paths": {k: str(v) for k, v in paths.items()},
    }
    summary["finish_seconds"] = round(time.perf_counter() - t0, 2)
    if run.elapsed > 0:
        summary["verify_share"] = round(mech["seconds"] / (run.elapsed + summary["finish_seconds"]), 4)
    (d / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (d / "report.md").write_text(render_report(run, summary))
    paths["summary"] = d / "summary.json"
    paths["report"] = d / "report.md"
    run.paths = {k: Path(v) for k, v in paths.items()}
    if not quiet:
        print(summary_text(run, summary))
    return summary


MECHANISM_DIAGRAMS = 6


def verify_run(run, metrics=None):
    """Verify the run's good archived designs, group them by mechanism and write
    ``mechanisms.json``; returns its content (plus ``first_verified_evaluation``: the evaluation
    count at the iteration where the first verified design's rates were found) and the
    :class:`~gfn_crn.verify.Mechanism` objects, best first."""
    from ..verify.report import summarise_designs

    entries = run.archive.good_entries()
    if is_family(run):
        out, mechanisms, verifications = _verify_family(run, entries)
    else:
        ms = summarise_designs(run.task, [e.network for e in entries], [e.loss for e in entries])
        out, mechanisms, verifications = ms.to_dict(), ms.mechanisms, ms.verifications
    out.update(task=getattr(run.task, "name", run.config.task), good_threshold=float(run.task.good_threshold))
    rows = metrics if metrics is not None else run.metrics()
    evals_at = {m["iteration"]: m["evaluations"] for m in rows}
    secs_at = {m["iteration"]: m.get("elapsed") for m in rows}
    first, first_s = None, None
    # the good entries are the archive's first (it ranks by loss): rank i + 1
    for i, (e, v, row) in enumerate(zip(entries, verifications, out["designs"])):
        ev = evals_at.get(e.iteration, run.evaluations if e.iteration >= run.iteration else None)
        row.update(rank=i + 1, iteration=e.iteration, evaluation=ev, source=e.source or None,
                   reactions=e.reactions())
        if v.verified:
            if ev is not None and (first is None or ev < first):
                first = ev
                first_s = secs_at.get(e.iteration, run.elapsed)
    # each mechanism's first design: when it was found, and by what (archive.SOURCES)
    for mech in out["mechanisms"]:
        rows = [r for r in out["designs"] if r["mechanism"] == mech["rank"]]
        rows.sort(key=lambda r: (r["evaluation"] is None, r["evaluation"] or 0, r["rank"]))
        mech["first_evaluation"] = rows[0]["evaluation"] if rows else None
        mech["first_source"] = rows[0]["source"] if rows else None
    out["first_verified_evaluation"] = first
    out["first_verified_seconds"] = None if first_s is None else round(float(first_s), 2)
    (run.dir / "mechanisms.json").write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")
    return out, mechanisms


def _verify_family(run, entries):
    """A family's good archived designs verified per condition (each by its condition's member
    task), their mechanisms per condition, and the mechanisms that serve the whole family: a
    minimal core (the same reactions) verified under every condition checked (every condition
    with archived designs). Returns ``(document, mechanisms, verifications)`` in the order of
    ``entries``; the document's mechanisms are numbered over all conditions (each with its
    ``condition``) and its designs name theirs."""
    from .archive import condition_label
    from ..verify.report import summarise_designs

    checked = [condition_label(c) for c in run.archive.conditions()]
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(condition_label(e.condition), []).append(i)
    rows: list = [None] * len(entries)
    verifications: list = [None] * len(entries)
    mechanisms, mech_rows, per_condition = [], [], {}
    serving: dict[str, set] = {}   # core reactions -> conditions where it is a verified mechanism
    seconds = 0.0
    for label in sorted(groups, key=lambda lb: checked.index(lb) if lb in checked else len(checked)):
        idx = groups[label]
        cond = entries[idx[0]].condition
        ms = summarise_designs(run.task.member(cond), [entries[i].network for i in idx], [entries[i].loss for i in idx])
        seconds += ms.seconds
        d = ms.to_dict()
        first_rank = len(mechanisms)
        for m, md in zip(ms.mechanisms, d["mechanisms"]):
            mechanisms.append(m)
            core = m.key   # the core's reactions, rates aside
            serving.setdefault(core, set()).add(label)
            mech_rows.append(dict(md, rank=len(mechanisms), condition=label, core_key=core))
        for i, v, row in zip(idx, ms.verifications, d["designs"]):
            verifications[i] = v
            if row.get("mechanism") is not None:
                row["mechanism"] += first_rank
            rows[i] = dict(row, condition=label)
        per_condition[label] = {"good_designs": len(idx), "verified_designs": ms.n_verified,
                                "distinct_verified_mechanisms": ms.n_mechanisms}
    for label in checked:
        per_condition.setdefault(label, {"good_designs": 0, "verified_designs": 0, "distinct_verified_mechanisms": 0})
    family = sorted(core for core, labels in serving.items() if checked and set(checked) <= labels)
    out = {"verified_designs": sum(v.verified for v in verifications),
           "distinct_verified_mechanisms": len(mechanisms), "seconds": round(seconds, 3),
           "mechanisms": mech_rows, "designs": rows, "conditions_checked": checked,
           "per_condition": per_condition, "family_mechanisms": family}
    return out, mechanisms, verifications


def summary_text(run, summary: dict, k: int = 10) -> str:
    thr = summary["good_threshold"]
    lines = [
        f"task {summary['task']}: {summary['iterations']} iterations, {summary['evaluations']} evaluations in "
        f"{summary['training_seconds']:.0f} s ({summary['evaluations_per_second']} /s)",
        f"best loss {_fmt(summary['best_loss'])}; distinct good topologies (loss < {thr:g}): {summary['distinct_good']}; "
        f"mean pairwise Hamming distance ({summary['archive']['mean_hamming_over']}): "
        f"{_fmt(summary['archive']['mean_hamming'])}",
        f"verified designs (bounded, settled, off-grid, disturbance step): {summary['verified_designs']} of "
        f"{summary['distinct_good']} good; distinct verified mechanisms: {summary['distinct_verified_mechanisms']}",
    ]
    s = summary.get("samples")
    if s:
        lines.append(f"{s['n']} fresh samples: {valid_share(_n_valid(s), s['n'])}, {s['distinct_topologies']} distinct "
                     f"topologies, {100 * s['good_fraction']:.1f}% good, best {_fmt(s['best_loss'])}")
    lines += ["", f"top designs ({run.dir / 'archive.txt'}):", format_table(run.archive.top(k), verdicts=_verdicts(run)), ""]
    lines.append("plots:")
    for key, p in summary["paths"].items():
        if str(p).endswith(".png"):
            lines.append(f"  {p}")
    lines.append(f"report: {run.dir / 'report.md'}")
    return "\n".join(lines)


def valid_share(n_valid: int, n: int) -> str:
    """``255 of 256 valid (99.6%)``: a count, and a percentage that never rounds to 100% (or 0%)
    when some designs are invalid (or valid); the loss histogram counts the same designs."""
    if n <= 0:
        return "no designs"
    p = 100.0 * n_valid / n
    text = f"{p:.0f}%"
    if n_valid not in (0, n) and text in ("0%", "100%"):
        text = f"{p:.1f}%"
        if text in ("0.0%", "100.0%"):
            text = "<0.1%" if text == "0.0%" else ">99.9%"
    return f"{n_valid} of {n} valid ({text})"


def _n_valid(s: dict) -> int:
    return int(s["n_valid"]) if "n_valid" in s else int(round(s["valid_fraction"] * s["n"]))


def _verdicts(run):
    from .archive import verdict_labels

    p = run.dir / "mechanisms.json"
    return verdict_labels(json.loads(p.read_text())) if p.exists() else None


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def render_report(run, summary: dict, k: int = 10) -> str:
    cfg = run.config
    thr = summary["good_threshold"]
    a = summary["archive"]
    out = [f"# gfn-crn run: {summary['task']}", ""]
    out += [f"Task `{cfg.task}`, library `{cfg.library}` ({len(run.library)} reactions), at most "
            f"{cfg.max_reactions} added reactions, {cfg.order} order, seed {cfg.train.seed}.", ""]
    out += ["| figure | value |", "|---|---|",
            f"| iterations x batch | {summary['iterations']} x {cfg.train.batch_size} |",
            f"| candidate evaluations | {summary['evaluations']} |",
            f"| training time | {summary['training_seconds']:.0f} s ({summary['evaluations_per_second']} evaluations/s) |",
            f"| best loss | {_fmt(summary['best_loss'])} |",
            f"| first design below {thr:g} | "
            f"{'evaluation ' + str(summary['first_good_evaluation']) if summary['first_good_evaluation'] else 'none'} |",
            f"| distinct topologies below {thr:g} | {summary['distinct_good']} |",
            f"| verified designs (of the good ones) | {summary['verified_designs']} |",
            f"| **distinct verified mechanisms** | **{summary['distinct_verified_mechanisms']}** |",
            f"| first verified design | "
            f"{'evaluation ' + str(summary['first_verified_evaluation']) if summary['first_verified_evaluation'] else 'none'} |",
            f"| mean pairwise Hamming distance ({a['mean_hamming_over']}) | {_fmt(a['mean_hamming'])} |",
            f"| archived topologies | {a['archived']} (capacity {cfg.archive_capacity}) |",
            f"| final log Z | {_fmt(summary['logZ'])} |"]
    s = summary.get("samples")
    if s:
        out += [f"| fresh samples | {s['n']}: {valid_share(_n_valid(s), s['n'])}, {s['distinct_topologies']} "
                f"distinct topologies, {100 * s['good_fraction']:.1f}% good ({s['distinct_good']} distinct) |"]
    if summary.get("stopped_by_user"):
        out += ["", f"Stopped by the user at iteration {summary['iterations']}; `gfn-crn train --resume {run.dir}` "
                "continues it."]
    out += ["", f"## Top {k} designs", "", "```", format_table(run.archive.top(k), max_width=400, verdicts=_verdicts(run)), "```", ""]
    out += mechanisms_section(run, summary)
    freqs = summary.get("reaction_frequencies_good") or []
    if freqs:
        out += [f"## Reactions among the good designs (loss < {thr:g})", "", "| reaction | share | designs |",
                "|---|---:|---:|"]
        out += [f"| `{f['reaction']}` | {f['share']:.2f} | {f['count']} |" for f in freqs[:15]]
        out += [""]
    pngs = [(key, Path(p)) for key, p in summary["paths"].items()
            if str(p).endswith(".png") and not key.startswith("mechanism_")]
    if pngs:
        out += ["## Plots", ""]
        out += [f"![{key}]({p.name})" for key, p in pngs]
        out += [""]
    out += ["## Files", "",
            "- `archive.json`, `archive.txt`: the best distinct topologies (one entry each, best parameters)",
            "- `samples.jsonl`: fresh designs from the trained generator with their losses",
            "- `designs/`: the top designs as text, JSON, Antimony and SBML",
            "- `metrics.jsonl`: one row per iteration; `config.toml`: the settings; `checkpoint.pt`: resumable state",
            ""]
    return "\n".join(out)


#: how the report words each of archive.SOURCES
SOURCE_WORDS = dict(zip(SOURCES, ("policy's own sample", "structure search", "refinement of archived designs",
                                  "final refinement")))


def mechanisms_section(run, summary: dict) -> list[str]:
    """The report's "Mechanisms" section, from ``mechanisms.json``: one diagram per mechanism."""
    p = run.dir / "mechanisms.json"
    if not p.exists():
        return []
    m = json.loads(p.read_text())
    out = ["## Mechanisms", "",
           f"Verified designs: {m['verified_designs']} of the good ones (bounded and settled over a long horizon, "
           "right off the training grid, back on target after a disturbance step). Distinct mechanisms among "
           f"them: {m['distinct_verified_mechanisms']} (minimal cores: the reactions left after removing those "
           "a design does not need). Best first.", ""]
    if "per_condition" in m:   # a family's run
        out += ["Per condition (mechanisms are counted per condition: a design's rates are tuned for its own):", "",
                "| condition | good designs | verified | mechanisms |", "|---|---:|---:|---:|"]
        out += [f"| {c} | {r['good_designs']} | {r['verified_designs']} | {r['distinct_verified_mechanisms']} |"
                for c, r in m["per_condition"].items()]
        fam = m.get("family_mechanisms") or []
        out += ["", f"Mechanisms that serve the whole family (the same core verified under each of the "
                f"{len(m['conditions_checked'])} conditions checked): {len(fam)}.", ""]
        out += [f"- `{core}`" for core in fam] + ([""] if fam else [])
    failed: dict[str, int] = {}
    for row in m["designs"]:
        for c in row["checks"]:
            if not c["passed"]:
                failed[c["name"]] = failed.get(c["name"], 0) + 1
    if failed:
        out += ["Good designs failing a check: " + ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) + ".", ""]
    for mech in m["mechanisms"]:
        found = ""
        if mech.get("first_source"):
            found = f"; first found by the {SOURCE_WORDS.get(mech['first_source'], mech['first_source'])}"
            if mech.get("first_evaluation") is not None:
                found += f" at evaluation {mech['first_evaluation']:,}"
        cond = f" ({mech['condition']})" if mech.get("condition") else ""
        out += [f"### Mechanism {mech['rank']}{cond}: {mech['n_core_reactions']} reactions, best design {mech['best_loss']:.4g} "
                f"({mech['n_designs']} design(s){found})", "", "```", *mech["core"], "```", ""]
        png = run.dir / f"mechanism_{mech['rank']}.png"
        if png.exists():
            out += [f"![mechanism {mech['rank']}]({png.name})", ""]
    return out


__all__ = ["verify_run", "mechanisms_section", "finish_run", "render_report", "summary_text", "plot_top_designs", "export_top", "valid_share"]
