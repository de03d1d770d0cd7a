"""Exports of networks: Antimony text and SBML Level 3 Version 2 (python-libsbml), and back.

* :func:`to_antimony` writes Antimony text (species with initial concentrations, inputs ``u1..``
  as parameters, one named reaction per line with its rate law, parameters ``R<i>_<name>``).
* :func:`to_sbml` writes an SBML L3V2 document: one compartment of size 1, species as
  concentrations, inputs as global parameters, one reaction per reaction instance with reactants,
  products and modifiers (Hill activators SBO:0000459, repressors SBO:0000020, the degradation
  enzyme SBO:0000460) and a kinetic law whose local parameters are named as in our model
  (``k``; ``b``, ``V``, ``K_<reg>``, ``n_<reg>``; ``c``, ``K``):

  - mass action ``k * X * Y`` (``2 X`` gives ``X^2``);
  - Hill ``b + V * prod_act x^n/(K^n + x^n) * prod_rep K^n/(K^n + x^n)``;
  - degradation ``c * E * S / (K + S)``;
  - an input multiplies its named factor (``k * u1 * ...``, ``V * u1``, ``b * u1``, ``c * u1``).

  The compartment has size 1, so the kinetic law (amount per time) equals the rate of change of
  concentration our simulator uses. A ``gfn_crn`` annotation records what SBML cannot say: each
  reaction's kind, input channel and whether it is a template (fixed) reaction, and the model's
  outputs and declared inputs. Parameter values, stoichiometry and regulators are read back
  from the SBML itself.
* :func:`from_sbml` rebuilds the :class:`~gfn_crn.crn.network.Network` (equal to the original).
* :func:`save_exports` writes ``.crn``, ``.json``, ``.antimony`` and ``.xml`` side by side.

libsbml prints doubles with 15 significant digits; :func:`to_sbml` writes every number with
Python's shortest round-trip ``repr`` instead, so SBML -> network is lossless.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Mapping

from .errors import CRNError
from .network import Network, Template
from .reactions import DEGRADATION, HILL, MASS_ACTION, KINDS, Reaction, ReactionInstance, make_complex
from .reaction_text import format_number

__all__ = ["to_antimony", "to_sbml", "from_sbml", "is_gfn_sbml", "save_exports", "sbml_errors", "GFN_NS", "DEFAULT_INIT"]

#: Namespace of the ``gfn_crn`` SBML annotations.
GFN_NS = "https://github.com/gfn-crn/gfn_crn/sbml/1"
GFN_PREFIX = "gfn"
#: Default initial concentration (the simulator's default).
DEFAULT_INIT = 0.01

SBO_STIMULATOR = 459   # Hill activator
SBO_INHIBITOR = 20     # Hill repressor
SBO_ENZYME = 460       # degradation enzyme (enzymatic catalyst)
_ROLE_OF_SBO = {SBO_STIMULATOR: "act", SBO_INHIBITOR: "rep", SBO_ENZYME: "enzyme"}

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------------------- helpers
def _lib():
    from .interop import sbml_lib

    return sbml_lib()


def _init_values(net: Network, init) -> dict[str, float]:
    if init is None:
        init = DEFAULT_INIT
    if isinstance(init, Mapping):
        unknown = set(init) - set(net.species) - {"default"}
        if unknown:
            raise CRNError(f"initial values for unknown species {sorted(unknown)} (declared: {' '.join(net.species)})")
        default = float(init.get("default", DEFAULT_INIT))
        out = {s: float(init.get(s, default)) for s in net.species}
    else:
        out = dict.fromkeys(net.species, float(init))
    for s, v in out.items():
        if not (math.isfinite(v) and v >= 0):
            raise CRNError(f"initial concentration of {s} must be finite and >= 0, got {v}")
    return out


def _input_values(net: Network, inputs) -> dict[str, float]:
    inputs = dict(inputs or {})
    unknown = set(inputs) - set(net.inputs)
    if unknown:
        raise CRNError(f"values for unknown inputs {sorted(unknown)} (network inputs: {' '.join(net.inputs) or 'none'})")
    out = {}
    for u in net.inputs:
        v = inputs.get(u, 1.0)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise CRNError(f"input {u} must be a constant number for export, got {v!r}") from None
        if not math.isfinite(v):
            raise CRNError(f"input {u} must be finite, got {v}")
        out[u] = v
    return out


def _param_names(inst: ReactionInstance) -> list[str]:
    return list(inst.reaction.continuous_names) + list(inst.reaction.discrete_names)


def _local_prefix(net: Network, taken: set[str]) -> str:
    """A prefix for kinetic-law parameter ids so that none shadows a species (``""`` normally)."""
    names = {"k", "b", "V", "c", "K"} | {f"{p}_{s}" for s in net.species for p in ("K", "n")}
    prefix = ""
    while any(prefix + n in taken for n in names):
        prefix += "p_"
    return prefix


def _fresh(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _reaction_prefix(n: int, taken: set[str], suffixes: set[str] = frozenset()) -> str:
    """``R`` (or ``R_``, ...) such that ``R<i>`` and ``R<i>_<suffix>`` collide with nothing."""
    prefix = "R"
    while any(f"{prefix}{i}" in taken or any(f"{prefix}{i}_{s}" in taken for s in suffixes) for i in range(1, n + 1)):
        prefix += "_"
    return prefix


def _model_id(net: Network) -> str:
    name = net.name or "gfn_crn_network"
    mid = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not _ID_RE.match(mid):
        mid = "m_" + mid
    return mid


def _rate_expression(inst: ReactionInstance, p) -> str:
    """The rate law as an infix string; ``p(name)`` gives the parameter's identifier."""
    r = inst.reaction

    def factor(name: str) -> str:
        return f"{p(name)} * {r.input}" if r.input and r.input_factor == name else p(name)

    if r.kind == MASS_ACTION:
        terms = [factor("k")] + [s if n == 1 else f"{s}^{n}" for s, n in r.reactants]
        return " * ".join(terms)
    if r.kind == DEGRADATION:
        (s, _), = r.reactants
        return f"{factor('c')} * {r.enzyme} * {s} / ({p('K')} + {s})"
    terms = [factor("V")]
    for a in r.activators:
        K, n = p(f"K_{a}"), p(f"n_{a}")
        terms.append(f"{a}^{n} / ({K}^{n} + {a}^{n})")
    for q in r.repressors:
        K, n = p(f"K_{q}"), p(f"n_{q}")
        terms.append(f"{K}^{n} / ({K}^{n} + {q}^{n})")
    return f"{factor('b')} + " + " * ".join(terms)


# ---------------------------------------------------------------------------- Antimony
def to_antimony(net: Network, inputs: Mapping[str, float] | None = None, init=None) -> str:
    """Antimony text of ``net``.

    ``inputs`` gives the input values (default 1 each); ``init`` the initial concentrations (a
    number or a mapping species -> value, default 0.01). Parameters are global, named
    ``R<i>_<name>`` after the reaction ``R<i>`` they belong to (``R3_k``, ``R5_K_X1``, ``R5_n_X1``).
    """
    x0 = _init_values(net, init)
    uval = _input_values(net, inputs)
    insts = net.all_reactions
    taken = set(net.species) | set(net.inputs)
    comp = _fresh("cell", taken)
    taken.add(comp)
    suffixes = {n for inst in insts for n in _param_names(inst)}
    rp = _reaction_prefix(len(insts), taken, suffixes)
    lines = [f"// gfn_crn network{': ' + net.name if net.name else ''}"]
    # read back by gfn_crn.crn.interop.from_antimony: the template that Antimony cannot say
    nfix = len(net.template.fixed)
    lines.append(f"// outputs: {' '.join(net.outputs) or '(none)'}; inputs: {' '.join(net.inputs) or '(none)'}; "
                 f"declared inputs: {' '.join(net.template.declared_inputs) or '(none)'}; "
                 f"fixed reactions: {' '.join(f'{rp}{i}' for i in range(1, nfix + 1)) or '(none)'}")
    lines.append(f"model {_model_id(net)}()")
    lines.append(f"  compartment {comp} = 1;")
    lines.append("  species " + ", ".join(f"{s} in {comp}" for s in net.species) + ";")
    if uval:
        lines.append("")
        lines.append("  // inputs")
        lines += [f"  {u} = {format_number(v)};" for u, v in uval.items()]
    params: list[str] = []
    nfixed = len(net.template.fixed)
    for i, inst in enumerate(insts, 1):
        if i == 1 and nfixed:
            lines += ["", "  // template (fixed) reactions"]
        if i == nfixed + 1:
            lines += ["", "  // added reactions"]
        rid = f"{rp}{i}"
        r = inst.reaction
        lhs = " + ".join(s if n == 1 else f"{n} {s}" for s, n in r.reactants)
        rhs = " + ".join(s if n == 1 else f"{n} {s}" for s, n in r.products)
        law = _rate_expression(inst, lambda name, rid=rid: f"{rid}_{name}")
        note = {MASS_ACTION: "mass action", HILL: "Hill production", DEGRADATION: "active degradation"}[r.kind]
        eq = f"{lhs} -> {rhs}".strip()
        lines.append(f"  {rid}: {eq}; {law};  // {note}")
        for name, v in inst.params.items():
            params.append(f"  {rid}_{name} = {format_number(v) if isinstance(v, float) else v};")
    if params:
        lines += ["", "  // rate constants"] + params
    lines += ["", "  // initial concentrations"]
    lines += [f"  {s} = {format_number(v)};" for s, v in x0.items()]
    lines.append("end")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- SBML
def _ast(libsbml, kind, *children):
    node = libsbml.ASTNode(kind)
    for c in children:
        node.addChild(c)
    return node


def _name(libsbml, ident: str):
    node = libsbml.ASTNode(libsbml.AST_NAME)
    node.setName(ident)
    return node


def _rate_ast(libsbml, inst: ReactionInstance, p):
    """The kinetic law as a libsbml AST (built node by node: no parsing of ids such as ``pi``)."""
    r = inst.reaction
    T, D, P, W = libsbml.AST_TIMES, libsbml.AST_DIVIDE, libsbml.AST_PLUS, libsbml.AST_POWER
    N = lambda s: _name(libsbml, s)  # noqa: E731

    def factor(name: str):
        if r.input and r.input_factor == name:
            return _ast(libsbml, T, N(p(name)), N(r.input))
        return N(p(name))

    def prod(terms):
        return terms[0] if len(terms) == 1 else _ast(libsbml, T, *terms)

    if r.kind == MASS_ACTION:
        terms = [factor("k")]
        for s, n in r.reactants:
            if n == 1:
                terms.append(N(s))
            else:
                e = libsbml.ASTNode(libsbml.AST_INTEGER)
                e.setValue(int(n))
                terms.append(_ast(libsbml, W, N(s), e))
        return prod(terms)
    if r.kind == DEGRADATION:
        (s, _), = r.reactants
        return _ast(libsbml, D, prod([factor("c"), N(r.enzyme), N(s)]), _ast(libsbml, P, N(p("K")), N(s)))
    terms = [factor("V")]
    for a in r.activators:
        K, n = p(f"K_{a}"), p(f"n_{a}")
        terms.append(_ast(libsbml, D, _ast(libsbml, W, N(a), N(n)),
                          _ast(libsbml, P, _ast(libsbml, W, N(K), N(n)), _ast(libsbml, W, N(a), N(n)))))
    for q in r.repressors:
        K, n = p(f"K_{q}"), p(f"n_{q}")
        terms.append(_ast(libsbml, D, _ast(libsbml, W, N(K), N(n)),
                          _ast(libsbml, P, _ast(libsbml, W, N(K), N(n)), _ast(libsbml, W, N(q), N(n)))))
    return _ast(libsbml, P, factor("b"), prod(terms))


def _check(code: int, what: str) -> None:
    libsbml = _lib()
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise CRNError(f"libsbml could not {what}: {libsbml.OperationReturnValue_toString(code)}")


def to_sbml(net: Network, inputs: Mapping[str, float] | None = None, init=None) -> str:
    """SBML Level 3 Version 2 text of ``net`` (see the module docstring for the encoding).

    ``inputs``: input values (default 1 each); ``init``: initial concentrations (a number or a
    mapping species -> value with optional ``"default"``; default 0.01).
    """
    libsbml = _lib()
    x0 = _init_values(net, init)
    uval = _input_values(net, inputs)
    insts = net.all_reactions
    doc = libsbml.SBMLDocument(3, 2)
    doc.getNamespaces().add(GFN_NS, GFN_PREFIX)
    model = doc.createModel()
    model.setId(_model_id(net))
    if net.name:
        model.setName(net.name)
    for attr, unit in (("setTimeUnits", "second"), ("setSubstanceUnits", "mole"),
                       ("setExtentUnits", "mole"), ("setVolumeUnits", "litre")):
        getattr(model, attr)(unit)

    # numbers: libsbml writes 15 significant digits; we write sentinels and substitute repr()s
    exact: dict[str, str] = {}

    def number(v: float) -> float:
        s = 1e300 * (1 + (len(exact) + 1) * 1e-9)
        exact["%.15g" % s] = format_number(v)
        return s

    taken = set(net.species) | set(net.inputs)
    comp_id = _fresh("cell", taken)
    taken.add(comp_id)
    rp = _reaction_prefix(len(insts), taken)
    taken |= {f"{rp}{i}" for i in range(1, len(insts) + 1)}
    lp = _local_prefix(net, taken)

    ann = (f'<annotation><{GFN_PREFIX}:network xmlns:{GFN_PREFIX}="{GFN_NS}" format="gfn_crn.sbml/1"'
           f' outputs="{" ".join(net.outputs)}" inputs="{" ".join(net.template.declared_inputs)}"'
           f' param_prefix="{lp}"/></annotation>')
    _check(model.setAnnotation(ann), "set the model annotation")

    c = model.createCompartment()
    c.setId(comp_id)
    c.setSize(1.0)
    c.setSpatialDimensions(3)
    c.setConstant(True)
    for s in net.species:
        sp = model.createSpecies()
        _check(sp.setId(s), f"use the species id {s!r}")
        sp.setCompartment(comp_id)
        sp.setInitialConcentration(number(x0[s]))
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)
    for u, v in uval.items():
        par = model.createParameter()
        par.setId(u)
        par.setName(f"input {u}")
        par.setUnits("dimensionless")
        par.setValue(number(v))
        par.setConstant(True)

    nfixed = len(net.template.fixed)
    for i, inst in enumerate(insts, 1):
        r = inst.reaction
        rx = model.createReaction()
        rx.setId(f"{rp}{i}")
        rx.setName(r.describe())
        rx.setReversible(False)
        attrs = f'kind="{r.kind}" part="{"fixed" if i <= nfixed else "added"}"'
        if r.input:
            attrs += f' input="{r.input}" input_factor="{r.input_factor}"'
        _check(rx.setAnnotation(f'<annotation><{GFN_PREFIX}:reaction xmlns:{GFN_PREFIX}="{GFN_NS}" {attrs}/></annotation>'),
               "set a reaction annotation")
        for side, create in ((r.reactants, rx.createReactant), (r.products, rx.createProduct)):
            for s, n in side:
                ref = create()
                ref.setSpecies(s)
                ref.setStoichiometry(float(n))
                ref.setConstant(True)
        mods = [(a, SBO_STIMULATOR) for a in r.activators] + [(q, SBO_INHIBITOR) for q in r.repressors]
        if r.enzyme:
            mods.append((r.enzyme, SBO_ENZYME))
        for s, sbo in mods:
            m = rx.createModifier()
            m.setSpecies(s)
            m.setSBOTerm(sbo)
        kl = rx.createKineticLaw()
        for name, v in inst.params.items():
            lpar = kl.createLocalParameter()
            lpar.setId(lp + name)
            lpar.setValue(number(v))
        _check(kl.setMath(_rate_ast(libsbml, inst, lambda name: lp + name)), f"set the kinetic law of {r.describe()!r}")

    text = libsbml.writeSBMLToString(doc)
    for sentinel, rep in exact.items():
        quoted = f'"{sentinel}"'
        if text.count(quoted) != 1:
            raise CRNError(f"internal error writing SBML numbers ({sentinel} found {text.count(quoted)} times)")
        text = text.replace(quoted, f'"{rep}"')
    return text


def sbml_errors(text: str, warnings: bool = False) -> list[str]:
    """libsbml's consistency check of an SBML text: messages of errors (and warnings if asked)."""
    libsbml = _lib()
    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    out = []
    for i in range(doc.getNumErrors()):
        e = doc.getError(i)
        if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR or warnings:
            out.append(f"{e.getSeverityAsString()} {e.getErrorId()} line {e.getLine()}: {e.getMessage().strip()}")
    return out


def _gfn_attrs(libsbml, sbase, tag: str) -> dict[str, str] | None:
    ann = sbase.getAnnotation()
    if ann is None:
        return None
    for i in range(ann.getNumChildren()):
        child = ann.getChild(i)
        if child.getURI() == GFN_NS and child.getName() == tag:
            attrs = child.getAttributes()
            return {attrs.getName(j): attrs.getValue(j) for j in range(attrs.getLength())}
    return None


def is_gfn_sbml(text: str) -> bool:
    """Whether an SBML text carries gfn_crn's model annotation (written by :func:`to_sbml`)."""
    libsbml = _lib()
    model = libsbml.readSBMLFromString(text).getModel()
    return model is not None and _gfn_attrs(libsbml, model, "network") is not None


def from_sbml(text: str, name: str | None = None, *, outputs=None, inputs=None, fixed=None) -> Network:
    """A network from SBML.

    SBML written by :func:`to_sbml` (with its ``gfn_crn`` annotations) is rebuilt exactly: the
    annotations give each reaction's kind, input channel and template membership and the model's
    outputs; species (in document order), stoichiometry, regulators (modifier SBO terms) and
    parameter values (kinetic-law local parameters) are read from the SBML model.

    SBML from any other tool (no annotation), or any SBML when ``outputs``, ``inputs`` or
    ``fixed`` is given, is read by recognising its kinetic laws
    (:func:`gfn_crn.crn.interop.read_sbml`, which documents the rules and the arguments).
    """
    from .interop import read_sbml_model

    libsbml, _doc, model = read_sbml_model(text)
    mattrs = _gfn_attrs(libsbml, model, "network")
    if mattrs is None or outputs is not None or inputs is not None or fixed is not None:
        from .interop import read_sbml

        if mattrs is not None:  # our own file read with overrides: what is not overridden comes from it
            if outputs is None:
                outputs = mattrs.get("outputs", "").split()
            if fixed is None:
                fixed = [model.getReaction(i).getId() for i in range(model.getNumReactions())
                         if (_gfn_attrs(libsbml, model.getReaction(i), "reaction") or {}).get("part") == "fixed"]
        return read_sbml(text, name, outputs=outputs, inputs=inputs, fixed=fixed)
    lp = mattrs.get("param_prefix", "")
    species = [model.getSpecies(i).getId() for i in range(model.getNumSpecies())]
    fixed: list[ReactionInstance] = []
    added: list[ReactionInstance] = []
    for i in range(model.getNumReactions()):
        rx = model.getReaction(i)
        where = f"reaction {rx.getId()!r}"
        attrs = _gfn_attrs(libsbml, rx, "reaction")
        if attrs is None or attrs.get("kind") not in KINDS:
            raise CRNError(f"{where} has no gfn_crn annotation with a known kind")
        kind = attrs["kind"]

        def side(n, get):
            out: dict[str, int] = {}
            for j in range(n):
                ref = get(j)
                st = ref.getStoichiometry()
                if st != int(st) or st <= 0:
                    raise CRNError(f"{where}: stoichiometry {st} of {ref.getSpecies()} is not a positive integer")
                out[ref.getSpecies()] = out.get(ref.getSpecies(), 0) + int(st)
            return make_complex(out)

        reactants = side(rx.getNumReactants(), rx.getReactant)
        products = side(rx.getNumProducts(), rx.getProduct)
        roles: dict[str, list[str]] = {"act": [], "rep": [], "enzyme": []}
        for j in range(rx.getNumModifiers()):
            m = rx.getModifier(j)
            role = _ROLE_OF_SBO.get(m.getSBOTerm())
            if role is None:
                raise CRNError(f"{where}: modifier {m.getSpecies()} has SBO term {m.getSBOTermID()!r}, "
                               f"expected one of {sorted(_ROLE_OF_SBO)}")
            roles[role].append(m.getSpecies())
        if len(roles["enzyme"]) > 1:
            raise CRNError(f"{where}: more than one enzyme {roles['enzyme']}")
        u = attrs.get("input") or None
        r = Reaction(kind, reactants, products, tuple(sorted(roles["act"])), tuple(sorted(roles["rep"])),
                     roles["enzyme"][0] if roles["enzyme"] else None, u, attrs.get("input_factor") if u else None)
        kl = rx.getKineticLaw()
        if kl is None:
            raise CRNError(f"{where} has no kinetic law")
        values = {}
        for j in range(kl.getNumLocalParameters()):
            p = kl.getLocalParameter(j)
            values[p.getId()] = p.getValue()

        def get(pname):
            try:
                return values[lp + pname]
            except KeyError:
                raise CRNError(f"{where} has no local parameter {lp + pname!r} (has {sorted(values)})") from None

        cparams = tuple(get(n) for n in r.continuous_names)
        dparams = []
        for n in r.discrete_names:
            v = get(n)
            if v != int(v):
                raise CRNError(f"{where}: Hill coefficient {n}={v} is not an integer")
            dparams.append(int(v))
        inst = ReactionInstance(r, cparams, tuple(dparams))
        (fixed if attrs.get("part") == "fixed" else added).append(inst)
    outputs = tuple(mattrs.get("outputs", "").split())
    declared = tuple(mattrs.get("inputs", "").split())
    template = Template(tuple(species), outputs, tuple(fixed), declared)
    return Network(template, tuple(added), name if name is not None else (model.getName() or None))


# ---------------------------------------------------------------------------- all at once
def save_exports(net: Network, directory, stem: str, inputs: Mapping[str, float] | None = None,
                 init=None) -> dict[str, Path]:
    """Write ``<stem>.crn`` (text), ``.json``, ``.antimony`` and ``.xml`` (SBML) under ``directory``.

    Returns the paths by format (``crn``, ``json``, ``antimony``, ``sbml``). The directory is
    created if needed.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {
        "crn": d / f"{stem}.crn",
        "json": d / f"{stem}.json",
        "antimony": d / f"{stem}.antimony",
        "sbml": d / f"{stem}.xml",
    }
    paths["crn"].write_text(net.to_text())
    paths["json"].write_text(net.to_json() + "\n")
    paths["antimony"].write_text(to_antimony(net, inputs, init))
    paths["sbml"].write_text(to_sbml(net, inputs, init))
    return paths
