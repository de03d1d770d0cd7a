"""The archive of the best distinct designs (DESIGN.md section 7).

One entry per *topology* (the set of added-reaction signatures; parameters and order ignored)
holding the best parameters seen for it and their loss. The archive keeps at most ``capacity``
entries (the lowest losses); an update costs a dictionary look-up per candidate plus, when the
archive overflows, one partial sort of ``capacity + batch`` numbers. Networks are immutable
:class:`~gfn_crn.crn.Network` objects built by the environment anyway: nothing is deep-copied.

Besides the entries it counts the distinct topologies ever seen below the task's good threshold
(``n_good``; a set of frozensets, so it stays exact even when good entries outnumber the
capacity) and how often each topology was offered.

Saved as JSON (:meth:`Archive.save_json`, :meth:`Archive.load_json`, lossless: networks go
through :meth:`Network.to_json`) and as the text format (:meth:`Archive.save_text`: every
design as a network file with a comment header, separated by blank lines).
"""

from __future__ import annotations

import heapq
import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from ..crn.errors import CRNError
from ..crn.network import Network
from ..rewards.evaluations import mean_pairwise_hamming


@dataclass
class Entry:
    """One archived design: the best network seen for its topology."""

    network: Network
    loss: float
    log_reward: float
    iteration: int          # iteration at which this (best) network was found
    count: int = 1          # how many times the topology was offered (valid or not)
    found_by: int = 0       # rank of the process that found it (data-parallel runs; else 0)
    source: str = ""        # what produced its best network: one of SOURCES ("" when unknown)
    condition: Optional[dict] = None   # a family's run: the condition it was scored under

    @property
    def topology(self) -> frozenset:
        return self.network.topology

    @property
    def key(self):
        """The archive's key: the topology, or (condition, topology) in a family's run."""
        return archive_key(self.network, self.condition)

    @property
    def n_reactions(self) -> int:
        return len(self.network.reactions)

    def reactions(self) -> list[str]:
        """The added reactions, one line each, with their parameters (text format)."""
        from ..crn.textio import format_network

        lines = format_network(self.network).splitlines()
        fixed_or_header = ("species:", "outputs:", "inputs:", "fixed:", "#")
        return [ln for ln in lines if ln.strip() and not ln.startswith(fixed_or_header)]

    def to_dict(self, rank: Optional[int] = None) -> dict:
        d = {"loss": self.loss, "log_reward": self.log_reward, "n_reactions": self.n_reactions,
             "iteration": self.iteration, "count": self.count, "found_by": self.found_by, "source": self.source,
             "reactions": self.reactions(),
             "network": json.loads(self.network.to_json())}
        if self.condition is not None:
            d["condition"] = dict(self.condition)
        if rank is not None:
            d = {"rank": rank, **d}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Entry":
        net = Network.from_json(json.dumps(d["network"]))
        return cls(net, float(d["loss"]), float(d["log_reward"]), int(d["iteration"]), int(d.get("count", 1)),
                   int(d.get("found_by", 0)), str(d.get("source", "")),
                   None if d.get("condition") is None else dict(d["condition"]))


def condition_label(condition) -> str:
    """``g=1.3`` (``name=value`` joined by commas) for a condition, "" for None."""
    if condition is None:
        return ""
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in condition.items())


def archive_key(network: Network, condition=None):
    """The topology, or ``(condition items, topology)`` for a design scored under a condition."""
    if condition is None:
        return network.topology
    return (tuple(sorted(dict(condition).items())), network.topology)


#: Where an archived network came from: the policy's own sample (scored, with its structure's
#: short refinement, by the reward), the structure local search, the refinement of archived
#: designs during the run, or the final refinement at the end of the budget.
SOURCES = ("policy", "search", "archive_refine", "final_refine")


def _rank_key(e: "Entry") -> tuple:
    """Best first: finite losses increasing (ties: found earlier), then any non-finite one (an
    archive only keeps valid designs, but a hand-edited archive.json may hold NaN or null)."""
    ok = math.isfinite(e.loss)
    return (not ok, e.loss if ok else 0.0, e.iteration)


class Archive:
    """Best distinct topologies, at most ``capacity`` of them.

    Args:
        capacity: the most entries kept (the lowest losses win; ties keep the earlier one).
        good_threshold: a loss strictly below it counts as good (``n_good``).
    """

    def __init__(self, capacity: int = 1000, good_threshold: float = 0.01):
        if capacity < 1:
            raise CRNError(f"archive capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.good_threshold = float(good_threshold)
        self.entries: dict[frozenset, Entry] = {}
        self.good: set[frozenset] = set()
        self.n_offered = 0
        self.n_valid = 0
        self.best_loss = math.inf

    # ------------------------------------------------------------------ updates
    def update(self, networks: Sequence[Network], losses, valid, log_rewards=None, iteration: int = 0,
               found_by: int = 0, source: str = "", conditions: Optional[Sequence[dict]] = None) -> int:
        """Offer a batch of evaluated networks; returns how many entries were created or improved.

        Invalid candidates (``valid`` False or non-finite loss) only count as offered.
        ``found_by``: the rank of the process that sampled the batch (data-parallel runs).
        ``source``: what produced the batch (one of :data:`SOURCES`, or "" when unknown).
        ``conditions``: a family's batch, one condition per network: entries are kept per
        (condition, topology) and record their condition.
        """
        if source and source not in SOURCES:
            raise CRNError(f"archive update: unknown source {source!r} (expected one of {', '.join(SOURCES)})")
        losses = np.asarray(losses, dtype=float).reshape(-1)
        valid = np.asarray(valid, dtype=bool).reshape(-1)
        lr = (np.full(len(losses), np.nan) if log_rewards is None
              else np.asarray(log_rewards, dtype=float).reshape(-1))
        if not (len(networks) == len(losses) == len(valid) == len(lr)):
            raise CRNError(f"archive update: {len(networks)} networks but {len(losses)} losses, "
                           f"{len(valid)} validity flags and {len(lr)} log-rewards")
        if conditions is not None and len(conditions) != len(networks):
            raise CRNError(f"archive update: {len(networks)} networks but {len(conditions)} conditions")
        conds = [None] * len(networks) if conditions is None else [dict(c) for c in conditions]
        changed = 0
        for net, loss, ok, r, cond in zip(networks, losses, valid, lr, conds):
            self.n_offered += 1
            topo = archive_key(net, cond)
            e = self.entries.get(topo)
            if e is not None:
                e.count += 1
            if not ok or not math.isfinite(loss):
                continue
            self.n_valid += 1
            loss = float(loss)
            if loss < self.good_threshold:
                self.good.add(topo)
            if loss < self.best_loss:
                self.best_loss = loss
            if e is None:
                self.entries[topo] = Entry(net, loss, float(r), int(iteration), found_by=int(found_by),
                                           source=source, condition=cond)
                changed += 1
            elif loss < e.loss:
                e.network, e.loss, e.log_reward, e.iteration = net, loss, float(r), int(iteration)
                e.found_by, e.source = int(found_by), source
                changed += 1
        if conditions is not None:  # a family's archive: the capacity holds per condition
            self._trim_per_condition()
        elif len(self.entries) > self.capacity:
            keep = heapq.nsmallest(self.capacity, self.entries.items(), key=lambda kv: _rank_key(kv[1]))
            self.entries = dict(keep)
        return changed

    def _trim_per_condition(self) -> None:
        """At most ``capacity`` entries per condition (the best), so that the conditions whose
        designs are worse keep theirs."""
        groups: dict = {}
        for k, e in self.entries.items():
            groups.setdefault(k[0] if isinstance(k, tuple) else None, []).append((k, e))
        if all(len(g) <= self.capacity for g in groups.values()):
            return
        keep = set()
        for g in groups.values():
            keep.update(k for k, _ in heapq.nsmallest(self.capacity, g, key=lambda kv: _rank_key(kv[1])))
        self.entries = {k: e for k, e in self.entries.items() if k in keep}

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, topology) -> bool:
        return topology in self.entries

    def top(self, k: Optional[int] = None, condition: Optional[dict] = None) -> list[Entry]:
        """The entries by increasing loss (ties: found earlier first); ``condition``: only those
        of that condition (a family's run)."""
        ranked = sorted(self.entries.values(), key=_rank_key)
        if condition is not None:
            ck = tuple(sorted(dict(condition).items()))
            ranked = [e for e in ranked if e.condition is not None and tuple(sorted(e.condition.items())) == ck]
        return ranked if k is None else ranked[:k]

    def conditions(self) -> list[dict]:
        """The distinct conditions of the entries (a family's run; empty otherwise), sorted."""
        seen = {tuple(sorted(e.condition.items())): e.condition for e in self.entries.values()
                if e.condition is not None}
        return [seen[k] for k in sorted(seen, key=repr)]

    @property
    def n_good(self) -> int:
        """Distinct topologies ever seen with a loss below ``good_threshold``."""
        return len(self.good)

    def good_entries(self) -> list[Entry]:
        return [e for e in self.top() if e.loss < self.good_threshold]

    def reaction_frequencies(self, entries: Optional[Iterable[Entry]] = None) -> list[tuple[str, float, int]]:
        """(reaction, share, count) over ``entries`` (default: the good ones), most frequent first."""
        entries = list(self.good_entries() if entries is None else entries)
        counts: Counter = Counter()
        names: dict = {}
        for e in entries:
            for inst in e.network.reactions:
                sig = inst.reaction.signature
                counts[sig] += 1
                names[sig] = inst.reaction.describe()
        n = max(len(entries), 1)
        return [(names[s], c / n, c) for s, c in sorted(counts.items(), key=lambda kv: (-kv[1], names[kv[0]]))]

    def diversity(self, threshold: Optional[float] = None, n_hamming: int = 200) -> dict:
        """Diversity figures: distinct good topologies (ever, and still archived), mean pairwise
        Hamming distance (size of the symmetric difference) between the ``n_hamming`` best good
        archived topologies (the best archived ones when fewer than two are good), and the reaction frequencies among the good designs."""
        thr = self.good_threshold if threshold is None else float(threshold)
        good = [e for e in self.top() if e.loss < thr]
        basis = (good if len(good) >= 2 else self.top())[:n_hamming]
        ham = mean_pairwise_hamming([e.topology for e in basis])
        return {
            "threshold": thr,
            "distinct_good": self.n_good if threshold is None else len(good),
            "distinct_good_archived": len(good),
            "mean_hamming": None if math.isnan(ham) else ham,
            "mean_hamming_over": f"{'good' if len(good) >= 2 else 'archived'} top {len(basis)}",
            "best_loss": None if not math.isfinite(self.best_loss) else self.best_loss,
            "archived": len(self),
            "offered": self.n_offered,
            "valid": self.n_valid,
            "reaction_frequencies": [{"reaction": r, "share": s, "count": c}
                                     for r, s, c in self.reaction_frequencies(good)],
        }

    # ------------------------------------------------------------------ state and files
    def to_dict(self, k: Optional[int] = None) -> dict:
        return {
            "capacity": self.capacity,
            "good_threshold": self.good_threshold,
            "n_offered": self.n_offered,
            "n_valid": self.n_valid,
            "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
            "n_good": self.n_good,
            "entries": [e.to_dict(rank=i + 1) for i, e in enumerate(self.top(k))],
        }

    def state_dict(self) -> dict:
        """For checkpoints: the JSON form plus the set of good topologies."""
        return {"json": json.dumps(self.to_dict()),
                "good": [sorted(t, key=repr) if isinstance(t, frozenset) else ("condition", t[0], sorted(t[1], key=repr))
                         for t in self.good]}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Archive":
        a = cls.from_dict(json.loads(state["json"]))
        a.good = {(t[1], frozenset(t[2])) if isinstance(t, tuple) and len(t) == 3 and t[0] == "condition"
                  else frozenset(t) for t in state["good"]}
        return a

    @classmethod
    def from_dict(cls, d: dict) -> "Archive":
        a = cls(int(d.get("capacity", 1000)), float(d.get("good_threshold", 0.01)))
        for ed in d.get("entries", []):
            e = Entry.from_dict(ed)
            a.entries[e.key] = e
        a.n_offered = int(d.get("n_offered", 0))
        a.n_valid = int(d.get("n_valid", 0))
        bl = d.get("best_loss")
        a.best_loss = math.inf if bl is None else float(bl)
        a.good = {t for t, e in a.entries.items() if e.loss < a.good_threshold}
        return a

    def save_json(self, path) -> Path:
        return _atomic_write(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load_json(cls, path) -> "Archive":
        from ..crn.limits import read_text

        path = Path(path)
        try:
            d = json.loads(read_text(path, "archive file"))
        except json.JSONDecodeError as e:
            raise CRNError(f"{path}: not a valid archive file ({e})") from None
        except RecursionError:
            raise CRNError(f"{path}: not a valid archive file (nested too deeply)") from None
        if not isinstance(d, dict):
            raise CRNError(f"{path}: not a valid archive file (a JSON object expected)")
        try:
            return cls.from_dict(d)
        except CRNError as e:
            raise CRNError(f"{path}: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise CRNError(f"{path}: not a valid archive file ({type(e).__name__}: {e})") from None

    def save_text(self, path, k: Optional[int] = None) -> Path:
        parts = []
        for i, e in enumerate(self.top(k)):
            head = (f"# rank {i + 1}: " + (f"condition {condition_label(e.condition)}, " if e.condition else "")
                    + f"loss {e.loss:.6g}, log-reward {e.log_reward:.6g}, "
                    f"{e.n_reactions} added reactions, found at iteration {e.iteration}, "
                    f"topology offered {e.count} times")
            parts.append(head + "\n" + e.network.to_text().rstrip("\n") + "\n")
        return _atomic_write(path, "\n".join(parts))


def _atomic_write(path, text: str) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def format_table(entries: Sequence[Entry], max_width: int = 200, verdicts: Optional[dict] = None) -> str:
    """A plain-text table: rank, loss, number of reactions, the reactions. ``verdicts`` (from a
    run's ``mechanisms.json``, see :func:`verdict_labels`) adds a column: verified and mechanism."""
    entries = list(entries)
    family = any(e.condition is not None for e in entries)   # a family's run: a condition column
    cw = max([9] + [len(condition_label(e.condition)) for e in entries]) if family else 0
    head = (f"{'rank':>4}  " + (f"{'condition':<{cw}}  " if family else "") + f"{'loss':>10}  {'n':>2}  "
            + (f"{'verified':<16}  " if verdicts is not None else ""))
    lines = [head + "reactions"]
    for i, e in enumerate(entries):
        rows = e.reactions()
        rx = "; ".join(_short(r) for r in rows)
        if len(rx) > max_width:
            rx = rx[: max_width - 3] + "..."
        key = tuple(rows) if e.condition is None else (condition_label(e.condition), tuple(rows))
        mark = f"{verdicts.get(key, '-'):<16}  " if verdicts is not None else ""
        cond = f"{condition_label(e.condition):<{cw}}  " if family else ""
        lines.append(f"{i + 1:>4}  {cond}{e.loss:>10.4g}  {e.n_reactions:>2}  {mark}{rx}")
    return "\n".join(lines)


def verdict_labels(mechanisms: dict) -> dict:
    """Design reactions -> ``"yes (M2)"`` or ``"no: bounded"``, from a ``mechanisms.json`` document."""
    out = {}
    for row in mechanisms.get("designs", []):
        if row.get("verified"):
            label = f"yes (M{row['mechanism']})"
        else:
            label = "no: " + ",".join(c["name"] for c in row.get("checks", []) if not c["passed"])
        rows = tuple(row.get("reactions", ()))
        out[rows if row.get("condition") is None else (row["condition"], rows)] = label
    return out


def _short(line: str) -> str:
    """``Z1 -> Z1 + X1 ; k=3.11312`` -> ``Z1 -> Z1 + X1 (k=3.11)``."""
    if " ; " not in line:
        return line
    eq, params = line.split(" ; ", 1)
    out = []
    for tok in params.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                tok = f"{k}={float(v):.3g}"
            except ValueError:
                pass
        out.append(tok)
    return f"{eq.strip()} ({' '.join(out)})"


__all__ = ["Archive", "Entry", "SOURCES", "format_table", "verdict_labels", "archive_key", "condition_label"]
