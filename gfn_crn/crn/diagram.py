"""A network diagram with matplotlib (no graph-layout dependency).

Species are labelled circles on a circle (outputs highlighted in gold), each reaction is a small
square between the species it touches (reactants -- square -> products, stoichiometry written on
the edge when > 1, ``∅`` for an empty side). Regulators are dashed: a Hill activator ends in an
arrow head, a repressor in a bar, a degradation enzyme in an open arrow head. Input-driven
reactions are orange and name their input. Each square carries its id and rate constants in small
text, and the full reaction list is printed beside the picture. The layout is deterministic: the
anchor of a reaction is the centre of its species (pushed outwards for reactions touching one
species), then a few hundred steps of repulsion separate the squares.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .network import Network
from .reactions import DEGRADATION, HILL, MASS_ACTION, ReactionInstance

__all__ = ["plot_network", "layout"]

SPECIES_R = 0.13        # species circle radius (data units; species sit on the unit circle)
NODE = 0.045            # half side of a reaction square
COLORS = {
    "species": "#d6e6f5", "output": "#ffd166", "edge": "#333333",
    MASS_ACTION: "#555555", HILL: "#2a9d8f", DEGRADATION: "#7b2cbf", "input": "#f77f00",
    "act": "#2a9d8f", "rep": "#d62828", "enzyme": "#7b2cbf",
}


def _g(v: float) -> str:
    return f"{v:.3g}"


def _rate_label(inst: ReactionInstance) -> str:
    r, p = inst.reaction, inst.params

    def val(name: str) -> str:
        s = _g(p[name])
        return f"{s}·{r.input}" if r.input and r.input_factor == name else s

    if r.kind == MASS_ACTION:
        return f"k={val('k')}"
    if r.kind == DEGRADATION:
        return f"c={val('c')} K={_g(p['K'])}"
    lines = [f"b={val('b')} V={val('V')}"]
    lines += [f"K={_g(p['K_' + s])} n={p['n_' + s]} ({s})" for s in r.regulators]
    return "\n".join(lines)


def _short_text(inst: ReactionInstance) -> str:
    import re

    from .textio import format_reaction

    return re.sub(r"\d+\.\d{5,}(?:e[-+]?\d+)?", lambda m: f"{float(m.group()):.4g}", format_reaction(inst))


def layout(net: Network) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Species positions (on the unit circle, first at the top, clockwise), reaction positions
    and the reactions' anchors (where they would sit without the spreading)."""
    n = len(net.species)
    pos = {}
    for i, s in enumerate(net.species):
        a = math.pi / 2 - 2 * math.pi * i / n
        pos[s] = np.array([math.cos(a), math.sin(a)]) if n > 1 else np.zeros(2)
    insts = net.all_reactions
    anchors, n_touched = [], []
    single: dict[str, list[int]] = {}
    for inst in insts:
        r = inst.reaction
        touched = sorted({s for s, _ in r.reactants} | {s for s, _ in r.products}, key=net.species.index)
        if not touched:  # pragma: no cover - every reaction touches a species
            touched = list(r.species)
        c = np.mean([pos[s] for s in touched], axis=0)
        n_touched.append(len(touched))
        if len(touched) == 1:
            # one species: fanned out around it, away from the centre (placed below)
            single.setdefault(touched[0], []).append(len(anchors))
        elif np.linalg.norm(c) < 0.15:
            # species opposite each other: move off the centre, towards the regulators if any
            extra = [pos[s] for s in r.regulators + ((r.enzyme,) if r.enzyme else ())]
            off = np.mean(extra, axis=0) if extra else np.array([0.0, 0.0])
            c = c + 0.3 * off
        anchors.append(c)
    anchors = np.array(anchors, dtype=float).reshape(-1, 2)
    for s, idx in single.items():
        out = pos[s] / np.linalg.norm(pos[s]) if n > 1 else np.array([0.0, 1.0])
        m = len(idx)
        step = min(math.radians(38), math.radians(200) / max(m - 1, 1))
        for j, i in enumerate(idx):
            a = (j - (m - 1) / 2) * step
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            anchors[i] = pos[s] + 0.5 * rot @ out
    # deterministic spreading of coincident anchors along the tangent
    x = anchors.copy()
    for i in range(len(x)):
        same = [j for j in range(i) if np.linalg.norm(anchors[j] - anchors[i]) < 1e-6] if n_touched[i] > 1 else []
        if same:
            t = anchors[i] if np.linalg.norm(anchors[i]) > 1e-6 else np.array([1.0, 0.0])
            t = t / np.linalg.norm(t)
            if n_touched[i] == 1:  # outside one species: spread along the circle
                t = np.array([-t[1], t[0]])
            # between species: spread across the line joining them (i.e. radially)
            k = len(same)
            x[i] = anchors[i] + t * 0.3 * ((k + 1) // 2) * (1 if k % 2 else -1)
    sp = np.array([pos[s] for s in net.species]).reshape(-1, 2)
    min_rr, min_rs = 0.3, SPECIES_R + 0.17
    for _ in range(300):
        force = 0.08 * (anchors - x)
        for i in range(len(x)):
            d = x[i] - x
            dist = np.linalg.norm(d, axis=1)
            close = (dist < min_rr) & (dist > 0)
            close[i] = False
            if close.any():
                force[i] += ((min_rr - dist[close])[:, None] * d[close] / dist[close][:, None]).sum(0) * 0.5
            d = x[i] - sp
            dist = np.linalg.norm(d, axis=1)
            close = dist < min_rs
            if close.any():
                safe = np.maximum(dist[close], 1e-6)[:, None]
                force[i] += ((min_rs - dist[close])[:, None] * d[close] / safe).sum(0) * 0.8
        x = x + force
    return pos, x, anchors


def plot_network(net: Network, path, title: str | None = None, dpi: int = 150) -> Path:
    """Draw ``net`` and save it as an image at ``path`` (PNG by suffix). Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

    pos, rpos, anchors = layout(net)
    insts = net.all_reactions
    nfixed = len(net.template.fixed)
    lines = [f"R{i}{'*' if i <= nfixed else ' '} {_short_text(inst)}" for i, inst in enumerate(insts, 1)]
    header = [f"species: {' '.join(net.species)}", f"outputs: {' '.join(net.outputs) or '-'}",
              f"inputs:  {' '.join(net.inputs) or '-'}", "(* = template reaction)", ""]
    text_w = min(0.11 * max(len(s) for s in lines + header), 9.0)
    fig = Figure(figsize=(7.5 + text_w * 0.62, 7.5))
    FigureCanvasAgg(fig)
    left = 7.5 / (7.5 + text_w * 0.62)
    ax = fig.add_axes([0.01, 0.02, left - 0.02, 0.9])
    ax.set_aspect("equal")
    ax.axis("off")

    circles = {}
    for s, p in pos.items():
        out = s in net.outputs
        c = Circle(p, SPECIES_R, facecolor=COLORS["output" if out else "species"], edgecolor="#222222",
                   linewidth=2.2 if out else 1.0, zorder=3)
        ax.add_patch(c)
        circles[s] = c
        ax.text(*p, s, ha="center", va="center", fontsize=11 if len(s) <= 3 else 8,
                fontweight="bold", zorder=4)

    def arrow(a, b, patch_a=None, patch_b=None, style="-|>", color=COLORS["edge"], ls="-", rad=0.0, lw=1.1,
              mut=11, z=2):
        ax.add_patch(FancyArrowPatch(a, b, patchA=patch_a, patchB=patch_b, arrowstyle=style,
                                     connectionstyle=f"arc3,rad={rad}", color=color, linestyle=ls,
                                     linewidth=lw, mutation_scale=mut, shrinkA=1, shrinkB=2, zorder=z))

    allpts = [p for p in pos.values()] + list(rpos)
    for i, (inst, q) in enumerate(zip(insts, rpos), 1):
        r = inst.reaction
        kcol = COLORS["input"] if r.input else COLORS[r.kind]
        sq = Rectangle(q - NODE, 2 * NODE, 2 * NODE, facecolor=kcol, edgecolor="black", linewidth=0.6, zorder=5)
        ax.add_patch(sq)
        touched = {s for s, _ in r.reactants} | {s for s, _ in r.products}
        centre = pos[next(iter(touched))] if len(touched) == 1 else np.zeros(2)
        outward = q - centre
        outward = outward / np.linalg.norm(outward) if np.linalg.norm(outward) > 1e-6 else np.array([0.0, 1.0])
        # empty sides: an "∅" beyond the square
        if not r.reactants or not r.products:
            e = q + 0.2 * outward
            allpts.append(e)
            ax.text(*e, "∅", ha="center", va="center", fontsize=10, color="#777777", zorder=4)
            if not r.reactants:
                arrow(e + 0.03 * (q - e) / 0.2, q, None, sq, style="-", color="#999999")
            if not r.products:
                arrow(q, e - 0.05 * (e - q) / 0.2, sq, None, color="#999999")
        same = {s for s, _ in r.reactants} & {s for s, _ in r.products}
        for s, n in r.reactants:
            rad = 0.25 if s in same else 0.08
            arrow(pos[s], q, circles[s], sq, style="-", rad=rad)
            if n > 1:
                m = 0.5 * (pos[s] + q)
                ax.text(*m, str(n), fontsize=8, color="#222222", ha="center", va="center",
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"), zorder=6)
        for s, n in r.products:
            rad = 0.25 if s in same else 0.08
            arrow(q, pos[s], sq, circles[s], rad=rad)
            if n > 1:
                m = 0.5 * (pos[s] + q) + 0.03
                ax.text(*m, str(n), fontsize=8, color="#222222", ha="center", va="center",
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"), zorder=6)
        for s in r.activators:
            arrow(pos[s], q, circles[s], sq, color=COLORS["act"], ls="--", rad=-0.15)
        for s in r.repressors:
            arrow(pos[s], q, circles[s], sq, style="-[, widthB=0.6, lengthB=0", color=COLORS["rep"], ls="--",
                  rad=-0.15, mut=8)
        if r.enzyme:
            arrow(pos[r.enzyme], q, circles[r.enzyme], sq, style="->", color=COLORS["enzyme"], ls="--", rad=-0.15)
        label = f"R{i}" + (f" ×{r.input}" if r.input else "") + "\n" + _rate_label(inst)
        empty = not r.reactants or not r.products
        side = q - anchors[i - 1]
        d = outward
        if len(touched) > 1 and np.linalg.norm(side) > 0.08:  # pushed aside by its neighbours: label on that side
            d = side / np.linalg.norm(side)
            tp = (q + 0.2 * outward if empty else q) + d * 0.075
        else:
            tp = q + outward * (0.27 if empty else 0.075)
        ha = "left" if d[0] > 0.3 else "right" if d[0] < -0.3 else "center"
        va = "bottom" if d[1] > 0.3 else "top" if d[1] < -0.3 else "center"
        ax.text(*tp, label, fontsize=6.5, ha=ha, va=va, color="#b35900" if r.input else "#333333", zorder=7,
                linespacing=1.1, bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))

    pts = np.array(allpts)
    lo, hi = pts.min(0) - 0.45, pts.max(0) + 0.45
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])

    handles = [
        Line2D([], [], marker="o", ls="none", mfc=COLORS["output"], mec="#222222", ms=10, label="output species"),
        Line2D([], [], marker="o", ls="none", mfc=COLORS["species"], mec="#222222", ms=10, label="species"),
        Line2D([], [], marker="s", ls="none", mfc=COLORS[MASS_ACTION], mec="black", label="mass action"),
        Line2D([], [], marker="s", ls="none", mfc=COLORS[HILL], mec="black", label="Hill production"),
        Line2D([], [], marker="s", ls="none", mfc=COLORS[DEGRADATION], mec="black", label="active degradation"),
        Line2D([], [], marker="s", ls="none", mfc=COLORS["input"], mec="black", label="input-driven"),
        Line2D([], [], color=COLORS["act"], ls="--", label="activates"),
        Line2D([], [], color=COLORS["rep"], ls="--", label="represses"),
        Line2D([], [], color=COLORS["enzyme"], ls="--", label="enzyme"),
    ]
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(left, 0.02), fontsize=7.5, frameon=False,
               ncol=1, handlelength=1.6)
    fig.text(left, 0.9, "\n".join(header + lines), fontsize=7,
             family="monospace", va="top", ha="left")
    fig.suptitle(title if title is not None else (net.name or "network"), fontsize=13, x=0.02, ha="left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
