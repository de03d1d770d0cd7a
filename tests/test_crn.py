"""The CRN model: libraries, signatures, masks, text and JSON formats, and input errors."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from gfn_crn.crn import (
    ANTITHETIC_TEXT,
    CRNError,
    EXAMPLES,
    Network,
    ReactionInstance,
    ReactionLibrary,
    Template,
    antithetic_example,
    degradation,
    degradation_library,
    example,
    hill,
    hill_library,
    mass_action,
    mass_action_library,
    merge,
    parse_network,
)

SPECIES = [f"X{i}" for i in range(1, 7)]


@pytest.mark.parametrize("n,expected", [(2, 30), (3, 90), (4, 210), (5, 420), (6, 756)])
def test_mass_action_library_sizes(n, expected):
    lib = mass_action_library(SPECIES[:n])
    assert len(lib) == expected
    C = math.comb(n + 2, 2)
    assert len(lib) == C * (C - 1)
    # every reaction distinct, no 0 -> 0 filler, reactant order <= 2
    assert len({r.signature for r in lib}) == expected
    assert all(r.reactants != r.products for r in lib)
    assert max(sum(c for _, c in r.reactants) for r in lib) == 2


def test_hill_and_degradation_library_sizes():
    n = 3
    h1 = hill_library(SPECIES[:n], max_regulators=1)
    assert len(h1) == n * n * 2  # product x regulator x role
    h2 = hill_library(SPECIES[:n], max_regulators=2)
    assert len(h2) == n * (n * 2 + math.comb(n, 2) * 4)
    assert len(hill_library(SPECIES[:n], 1, activators=False)) == n * n
    d = degradation_library(SPECIES[:n])
    assert len(d) == n * (n - 1)
    assert all(r.enzyme != r.reactants[0][0] for r in d)


def test_parameter_counts_and_prefix_masks():
    lib = mass_action_library(SPECIES[:2]) + hill_library(SPECIES[:2], 2) + degradation_library(SPECIES[:2])
    assert lib.P_c == 4 and lib.P_d == 2
    assert lib.continuous_mask.shape == (len(lib), 4)
    assert lib.discrete_mask.shape == (len(lib), 2)
    for j, r in enumerate(lib):
        nc, nd = r.n_continuous, r.n_discrete
        assert lib.continuous_mask[j].tolist() == [i < nc for i in range(4)]
        assert lib.discrete_mask[j].tolist() == [i < nd for i in range(2)]
        if r.kind == "mass_action":
            assert (nc, nd) == (1, 0)
        elif r.kind == "degradation":
            assert (nc, nd) == (2, 0)
        else:
            assert nc == 2 + len(r.regulators) and nd == len(r.regulators)


def test_signature_includes_input_channel():
    plain = mass_action(["X1"], [])
    driven = mass_action(["X1"], [], input="u2")
    other = mass_action(["X1"], [], input="u1")
    assert plain.signature != driven.signature != other.signature
    lib = ReactionLibrary(["X1"], [plain, driven, other])  # no duplicate: channels differ
    assert lib.index(driven) == 1
    assert hill(["X1"], ["X2"], input="u1", input_factor="V").signature != hill(["X1"], ["X2"], input="u1", input_factor="b").signature
    # the template's input-driven 0 -> Z1 does not block the library's constant-rate twin
    net = antithetic_example()
    lib3 = mass_action_library(net.species)
    twin = mass_action([], ["Z1"])
    assert twin in lib3
    Network(net.template, net.reactions + (ReactionInstance(twin, (0.5,)),))


def test_merge_rejects_duplicates_by_name():
    a = mass_action_library(SPECIES[:2])
    with pytest.raises(CRNError, match=r"duplicate reaction '0 -> X1'"):
        merge(a, ReactionLibrary(SPECIES[:2], [mass_action([], ["X1"])]))
    m = merge(a, degradation_library(SPECIES[:2]))
    assert len(m) == 32 and m.species == tuple(SPECIES[:2])


def test_antithetic_file_parses_as_written_and_round_trips():
    net = parse_network(ANTITHETIC_TEXT)
    assert net.species == ("X1", "Z1", "Z2") and net.outputs == ("X1",)
    assert len(net.template.fixed) == 2 and len(net.reactions) == 5
    f0 = net.template.fixed[0]
    assert f0.reaction.input == "u1" and f0.cparams == (1.0,)
    assert net.reactions[0].cparams == (3.11312,)
    text = net.to_text()
    again = parse_network(text)
    assert again == net
    assert again.to_text() == text
    assert Network.from_json(net.to_json()) == net


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_round_trip(name):
    net = example(name)
    assert parse_network(net.to_text()) == net
    assert Network.from_json(net.to_json()) == net


def test_hill_and_degradation_text_forms():
    text = """
    species: X1 X2 X3 Z1
    0 -> X2 ; hill b=0.1 V=2 act X1 K=0.5 n=2 rep X3 K=1 n=1
    X1 -> 0 ; deg c=1 K=0.5 by Z1
    0 -> X1 ; hill b=0 V=3*u2 rep X2 K=0.25 n=4
    """
    net = parse_network(text)
    h, d, h2 = net.reactions
    assert h.params == {"b": 0.1, "V": 2.0, "K_X1": 0.5, "K_X3": 1.0, "n_X1": 2, "n_X3": 1}
    assert h.reaction.activators == ("X1",) and h.reaction.repressors == ("X3",)
    assert d.reaction.enzyme == "Z1" and d.params == {"c": 1.0, "K": 0.5}
    assert h2.reaction.input == "u2" and h2.reaction.input_factor == "V" and h2.params["b"] == 0.0
    assert parse_network(net.to_text()) == net
    assert Network.from_json(net.to_json()) == net
    assert net.inputs == ("u2",)


def test_json_is_lossless_for_awkward_floats():
    t = antithetic_example().template
    k = 0.1 + 0.2  # 0.30000000000000004
    net = Network(t, (ReactionInstance(mass_action(["X1"], ["Z2"]), (k,)),))
    assert Network.from_json(net.to_json()).reactions[0].cparams[0] == k
    assert parse_network(net.to_text()).reactions[0].cparams[0] == k


BAD = [
    ("species: A B\nA -> C ; k=1", 2, "unknown species 'C'"),
    ("A -> 0 ; k=1", 1, "'species:' must be declared"),
    ("species: A\nA -> 0 ; k=-1", 2, "must be > 0, got -1"),
    ("species: A\nA -> 0 ; k=0", 2, "must be > 0, got 0"),
    ("species: A\nA -> 0 ; k=nan", 2, "NaN"),
    ("species: A\nA -> 0 ; k=inf", 2, "infinite"),
    ("species: A B\n0 -> A ; hill b=0.1 V=1 act B K=1 n=5", 2, "must be one of \\[1, 2, 3, 4\\], got 5"),
    ("species: A B\n0 -> A ; hill b=-0.1 V=1 act B K=1 n=1", 2, "b .* must be >= 0"),
    ("species: A B\n0 -> A ; hill b=0.1 V=0 act B K=1 n=1", 2, "V .* must be > 0"),
    ("species: A B\nA -> B ; k=1\nA -> B ; k=2", 3, "duplicate reaction 'A -> B'.*line 2"),
    ("species: A B\nA -> B k=1", 2, "missing ';'"),
    ("species: A B\nA B ; k=1", 2, "exactly one '->'"),
    ("species: A B\nA -> B ; rate=1", 2, "unknown parameter form"),
    ("species: A B\nA + A + B -> B ; k=1", 2, "order 3"),
    ("species: A u1\nA -> 0 ; k=1", 1, "reserved for inputs"),
    ("species: A B\nA -> 0 ; k=1 * v1", 2, "times an input"),
    ("species: A B\nA -> 0 ; deg c=1 K=1 by A", 2, "cannot degrade itself"),
    ("species: A B\nA -> 0 ; deg c=1 K=1", 2, "by <enzyme>"),
    ("species: A B\noutputs: C\nA -> B ; k=1", 2, "output 'C'"),
    ("species: A A", 1, "declared twice"),
]


@pytest.mark.parametrize("text,line,pattern", BAD)
def test_bad_input_names_line_and_culprit(text, line, pattern):
    with pytest.raises(CRNError, match=pattern) as ei:
        parse_network(text)
    assert ei.value.line == line
    assert str(ei.value).startswith(f"line {line}:")


def test_programmatic_errors():
    with pytest.raises(CRNError, match="must be > 0"):
        ReactionInstance(mass_action(["X1"], []), (-0.5,))
    with pytest.raises(CRNError, match="takes 1 continuous"):
        ReactionInstance(mass_action(["X1"], []), (1.0, 2.0))
    with pytest.raises(CRNError, match="undeclared species \\['Q'\\]"):
        Network(antithetic_example().template, (ReactionInstance(mass_action(["Q"], []), (1.0,)),))
    with pytest.raises(CRNError, match="duplicate reaction"):
        t = antithetic_example().template
        Network(t, (t.fixed[0],))
    with pytest.raises(CRNError, match="both activator and repressor"):
        hill(["X1"], ["X2"], ["X2"])
    with pytest.raises(CRNError, match="cannot multiply 'K'"):
        from gfn_crn.crn import Reaction

        Reaction("degradation", (("X1", 1),), (), enzyme="X2", input="u1", input_factor="K")
    with pytest.raises(CRNError, match="not in"):
        mass_action_library(SPECIES[:2]).index(degradation("X1", "X2"))


def test_template_diff_and_topology():
    a = antithetic_example()
    b = parse_network(ANTITHETIC_TEXT.replace("fixed: X1 -> 0 ; k=1 * u2", "fixed: X1 -> 0 ; k=2 * u2"))
    d = a.template.diff(b.template)
    assert len(d) == 1 and "X1 -> 0" in d[0]
    assert a.template.diff(a.template) == []
    shuffled = a.with_reactions(a.reactions[::-1])
    assert shuffled != a and shuffled.topology == a.topology
    assert Template(("A",)).inputs == ()


def test_library_pairs_cover_all_complex_pairs():
    lib = mass_action_library(SPECIES[:2])
    pairs = {(r.reactants, r.products) for r in lib}
    comps = {()} | {((s, 1),) for s in SPECIES[:2]} | {((s, 2),) for s in SPECIES[:2]} | {tuple(sorted(((a, 1), (b, 1)))) for a, b in combinations(SPECIES[:2], 2)}
    assert pairs == {(r, p) for r in comps for p in comps if r != p}
    assert np.all(lib.n_continuous == 1)


def test_random_designs_are_distinct_excluded_and_in_bounds():
    from gfn_crn.crn import HILL, HILL_COEFFICIENTS, random_instances, random_network
    from gfn_crn.tasks import LogParameterPrior

    tmpl = antithetic_example().template
    ma, hl = mass_action_library(tmpl.species), hill_library(tmpl.species, 2)
    rng = np.random.default_rng(0)
    fixed = {i.reaction.signature for i in tmpl.fixed}
    for _ in range(20):
        net = random_network(rng, tmpl, [(ma, 4), (hl, 2)], low=0.5, high=2.0)
        sigs = [i.reaction.signature for i in net.reactions]
        assert len(sigs) == 6 and len(set(sigs)) == 6 and not fixed & set(sigs)
        assert all(0.5 <= c <= 2.0 for i in net.reactions for c in i.cparams)
        assert all(d in HILL_COEFFICIENTS for i in net.reactions for d in i.dparams)
        assert sum(i.reaction.kind == HILL for i in net.reactions) == 2
    prior = LogParameterPrior(mean=0.0, std=3.0, low=-1.0, high=1.0)
    ks = [c for i in random_instances(rng, ma, 60, prior=prior) for c in i.cparams]
    assert len(ks) == 60 and all(np.exp(-1) <= k <= np.exp(1) for k in ks)
    with pytest.raises(CRNError, match="asked for 91 distinct reactions, the library has 90"):
        random_instances(rng, ma, 91)
    with pytest.raises(CRNError, match="low <= high"):
        random_instances(rng, ma, 1, low=2.0, high=1.0)
