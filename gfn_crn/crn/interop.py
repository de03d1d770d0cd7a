"""Reading models written by other tools: SBML from any tool, and Antimony.

:func:`read_sbml` reads an SBML model that no gfn_crn annotation describes, by recognising each
kinetic law; :func:`from_antimony` converts Antimony to SBML with the ``antimony`` package (the
reference Antimony parser, ``pip install gfn_crn[interop]``) and reads that. The rules:

* **mass action**: a law that is a product of constants (numbers, parameters; their product is
  ``k``), optionally one input parameter, and species to integer powers. The powers give the
  reactant complex: ``X1 -> X1 + X2`` with law ``k * X1`` and ``-> X2`` with law ``k * X1`` are
  the same reaction (the species in the law that the reaction does not consume is a catalyst on
  both sides), which changes nothing in the ODE. A law that consumes a species it does not
  depend on is not mass action.
* **Hill production** (``0 -> products``): ``b + V * prod x^n/(K^n + x^n) * prod K^n/(K^n + x^n)``
  in any arrangement of products and quotients (the basal term ``b`` may be absent: b = 0); the
  terms ``x^n/(K^n+x^n)`` are activators, ``K^n/(K^n+x^n)`` repressors; ``n`` must be 1-4.
* **active degradation** (``S -> 0``): ``c * E * S / (K + S)``.
* **inputs**: parameters named ``u1``, ``u2``, ... (or mapped to those names by ``inputs``) are
  inputs; an input may multiply ``k``, ``V``, ``b`` or ``c`` (one input per reaction).
* compartments must have size 1 (then amounts and concentrations agree); every other thing the
  network cannot hold is an error naming the element: events, rules, initial assignments to
  parameters or compartments, constraints, boundary or constant species, other rate laws,
  non-integer stoichiometry, unset parameter values.

Species initial values are not part of a network (tasks set them) and are not read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .errors import CRNError
from .network import Network, Template
from .reactions import DEGRADATION, HILL, MASS_ACTION, Reaction, ReactionInstance, make_complex
from .species import INPUT_RE, check_input_name

__all__ = ["read_sbml", "from_antimony", "antimony_to_sbml", "ANTIMONY_SUFFIXES", "SBML_SUFFIXES"]

SBML_SUFFIXES = (".xml", ".sbml")
ANTIMONY_SUFFIXES = (".ant", ".antimony")


def sbml_lib():
    """The libsbml module (python-libsbml, a dependency)."""
    try:
        import libsbml
    except ImportError as e:  # pragma: no cover - libsbml is a dependency
        raise CRNError("SBML needs python-libsbml (pip install python-libsbml)") from e
    return libsbml


def read_sbml_model(text: str):
    """``(libsbml, model)`` of an SBML document, or a CRNError naming the first errors (or the
    missing model)."""
    libsbml = sbml_lib()
    doc = libsbml.readSBMLFromString(text)
    fatal = [doc.getError(i) for i in range(doc.getNumErrors())
             if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if fatal:
        raise CRNError("unreadable SBML: " + "; ".join(e.getMessage().strip() for e in fatal[:3]))
    model = doc.getModel()
    if model is None:
        raise CRNError("the SBML document has no model")
    return libsbml, doc, model


# ---------------------------------------------------------------------------- expressions
# a kinetic law as nested tuples: ("num", v) | ("name", id) | (op, child, ...) with op in
# times, divide, plus, minus, power; anything else is refused where it is met
@dataclass
class _Ctx:
    where: str
    formula: str
    species: set
    inputs: dict          # parameter id -> input name
    values: dict          # constant id -> value (local parameters shadow global ones)

    def fail(self, why: str) -> CRNError:
        return CRNError(f"{self.where}: {why} (kinetic law: {self.formula})")


def _tree(libsbml, node, ctx: _Ctx):
    t = node.getType()
    if t in (libsbml.AST_INTEGER, libsbml.AST_REAL, libsbml.AST_REAL_E, libsbml.AST_RATIONAL):
        return ("num", float(node.getValue()))
    if t == libsbml.AST_NAME:
        return ("name", node.getName())
    if t == libsbml.AST_CONSTANT_E:
        return ("num", math.e)
    if t == libsbml.AST_CONSTANT_PI:
        return ("num", math.pi)
    kids = [_tree(libsbml, node.getChild(i), ctx) for i in range(node.getNumChildren())]
    if t == libsbml.AST_TIMES:
        return ("times", *kids) if kids else ("num", 1.0)
    if t == libsbml.AST_PLUS:
        return ("plus", *kids) if kids else ("num", 0.0)
    if t == libsbml.AST_DIVIDE and len(kids) == 2:
        return ("divide", *kids)
    if t == libsbml.AST_MINUS and len(kids) in (1, 2):
        return ("minus", *kids)
    if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER) and len(kids) == 2:
        return ("power", *kids)
    what = node.getName() or libsbml.formulaToL3String(node)
    raise ctx.fail(f"{what!r} is not part of a mass-action, Hill or active-degradation law")


def _names(e) -> set:
    if e[0] == "name":
        return {e[1]}
    if e[0] == "num":
        return set()
    return set().union(*(_names(c) for c in e[1:]))


def _has_species(e, ctx: _Ctx) -> bool:
    return bool(_names(e) & ctx.species)


def _value(e, ctx: _Ctx) -> float:
    """The value of a constant expression (no species, no inputs)."""
    op = e[0]
    if op == "num":
        return e[1]
    if op == "name":
        if e[1] in ctx.inputs:
            raise ctx.fail(f"input {e[1]!r} appears where a constant is expected")
        if e[1] not in ctx.values:
            raise ctx.fail(f"{e[1]!r} is not a parameter, compartment or species of the model")
        return ctx.values[e[1]]
    v = [_value(c, ctx) for c in e[1:]]
    if op == "times":
        return math.prod(v)
    if op == "plus":
        return math.fsum(v)
    if op == "divide":
        return v[0] / v[1]
    if op == "minus":
        return -v[0] if len(v) == 1 else v[0] - v[1]
    return v[0] ** v[1]  # power


def _factors(e, sign: int = 1) -> list:
    """``e`` as a flat product: a list of (factor, +1 numerator / -1 denominator)."""
    if e[0] == "times":
        return [f for c in e[1:] for f in _factors(c, sign)]
    if e[0] == "divide":
        return _factors(e[1], sign) + _factors(e[2], -sign)
    return [(e, sign)]


def _terms(e) -> list:
    if e[0] == "plus":
        return [t for c in e[1:] for t in _terms(c)]
    return [e]


def _int_power(e, ctx: _Ctx, what: str) -> int:
    v = _value(e, ctx)
    if v != int(v) or v < 1:
        raise ctx.fail(f"{what} has exponent {v:g}; mass action needs a positive integer")
    return int(v)


class _Monomial:
    """A product: constant factors, at most one input, species powers (numerator only), and (if
    allowed) the factors with species in a denominator (Hill and Michaelis-Menten terms)."""

    def __init__(self, factors, ctx: _Ctx, allow_species_in_denominator=False):
        self.consts: list = []  # (tree, sign, value)
        self.input: str | None = None
        self.powers: dict[str, int] = {}
        self.rest: list = []
        for f, sign in factors:
            if f[0] == "name" and f[1] in ctx.inputs:
                if sign < 0:
                    raise ctx.fail(f"input {f[1]} divides the rate (an input may only multiply it)")
                if self.input is not None:
                    raise ctx.fail(f"two inputs ({self.input}, {ctx.inputs[f[1]]}) in one reaction")
                self.input = ctx.inputs[f[1]]
            elif not _has_species(f, ctx):
                if _names(f) & set(ctx.inputs):
                    raise ctx.fail("an input inside a sum or power (an input may only multiply the rate)")
                self.consts.append((f, sign, _value(f, ctx)))
            elif sign > 0 and f[0] == "name":
                self.powers[f[1]] = self.powers.get(f[1], 0) + 1
            elif sign > 0 and f[0] == "power" and f[1][0] == "name" and f[1][1] in ctx.species \
                    and not _has_species(f[2], ctx):
                n = _int_power(f[2], ctx, f[1][1])
                self.powers[f[1][1]] = self.powers.get(f[1][1], 0) + n
            elif allow_species_in_denominator:
                self.rest.append((f, sign))
            else:
                raise ctx.fail("a species appears other than as a factor or an integer power (not mass action)")

    @property
    def const(self) -> float:
        """The product of the constant factors (a single factor keeps its value exactly)."""
        v = 1.0
        for _, sign, x in self.consts:
            v = v * x if sign > 0 else v / x
        return v

    def take(self, tree) -> bool:
        """Remove a constant numerator factor equal to ``tree`` (True if there was one)."""
        for i, (f, sign, _) in enumerate(self.consts):
            if sign > 0 and f == tree:
                del self.consts[i]
                return True
        return False


def _regulator(den, ctx: _Ctx):
    """``K^n + x^n`` (either order; ``n`` may be absent) -> (x, K term, x term, K, n)."""
    terms = _terms(den)
    if len(terms) != 2:
        raise ctx.fail("a denominator with species is not of the form K^n + x^n")

    def split(t):
        if t[0] == "power":
            return t[1], t[2]
        return t, ("num", 1.0)

    (b0, n0), (b1, n1) = split(terms[0]), split(terms[1])
    for (kb, kn, kt), (xb, xn, xt) in (((b0, n0, terms[0]), (b1, n1, terms[1])),
                                       ((b1, n1, terms[1]), (b0, n0, terms[0]))):
        if xb[0] == "name" and xb[1] in ctx.species and not _has_species(kb, ctx) \
                and not _has_species(kn, ctx) and not _has_species(xn, ctx):
            if _names(kb) & set(ctx.inputs):
                raise ctx.fail("an input inside a Hill or Michaelis-Menten constant")
            n_k, n_x = _value(kn, ctx), _value(xn, ctx)
            if n_k != n_x:
                raise ctx.fail(f"Hill term for {xb[1]} has two different exponents ({n_k:g}, {n_x:g})")
            return xb[1], kt, xt, _value(kb, ctx), n_x
    raise ctx.fail("a denominator with species is not of the form K^n + x^n")


def _hill(law, ctx: _Ctx, products):
    """Hill production: (b, V, input, input factor, activators {x: (K, n)}, repressors)."""
    b, b_input, prod_term, basal = 0.0, None, None, False
    for t in _terms(law):
        if not _has_species(t, ctx):
            m = _Monomial(_factors(t), ctx)
            if basal:
                raise ctx.fail("more than one basal term")
            basal = True
            b, b_input = m.const, m.input
        elif prod_term is None:
            prod_term = t
        else:
            raise ctx.fail("more than one term with species (not Hill production)")
    if b < 0:
        raise ctx.fail(f"basal rate {b:g} < 0")
    m = _Monomial(_factors(prod_term), ctx, allow_species_in_denominator=True)
    dens = [f for f, s in m.rest if s < 0]
    if not dens:
        raise ctx.fail("a production rate that depends on species without a Hill term K^n + x^n")
    acts, reps = {}, {}
    for den in dens:
        x, kt, xt, K, n = _regulator(den, ctx)
        if x in acts or x in reps:
            raise ctx.fail(f"{x} regulates twice")
        # the numerator holds x^n (activator; counted as a species power) or K^n (repressor)
        if m.powers.get(x, 0) >= n:
            m.powers[x] -= int(n)
            acts[x] = (K, n)
        elif m.take(kt):
            reps[x] = (K, n)
        else:
            raise ctx.fail(f"the Hill term for {x} has neither {x}^n (activator) nor K^n (repressor) above it")
    left = {x: p for x, p in m.powers.items() if p}
    if left or any(s > 0 for _, s in m.rest):
        raise ctx.fail("species factors outside the Hill terms (not Hill production)")
    if m.input and b_input:
        raise ctx.fail("inputs on both the basal and the Hill term")
    return b, m.const, (m.input or b_input), ("V" if m.input else "b" if b_input else None), acts, reps


def _reaction(rx, ctx: _Ctx, libsbml, law_tree):
    """One SBML reaction -> ReactionInstance."""
    change: dict[str, int] = {}
    consumed: dict[str, int] = {}
    for get, n, sign in ((rx.getReactant, rx.getNumReactants(), -1), (rx.getProduct, rx.getNumProducts(), 1)):
        for j in range(n):
            ref = get(j)
            s = ref.getSpecies()
            if hasattr(ref, "isSetStoichiometryMath") and ref.isSetStoichiometryMath():
                raise ctx.fail(f"species {s} has a stoichiometry formula (only numbers are supported)")
            st = ref.getStoichiometry()
            if not ref.isSetStoichiometry() and ref.getLevel() >= 3:
                raise ctx.fail(f"species {s} has no stoichiometry")
            if not math.isfinite(st) or st != int(st) or st <= 0:
                raise ctx.fail(f"stoichiometry {st:g} of {s} is not a positive integer")
            change[s] = change.get(s, 0) + sign * int(st)
            if sign < 0:
                consumed[s] = consumed.get(s, 0) + int(st)
    products = {s: c for s, c in change.items() if c > 0}
    if any(f[0] == "minus" for t in _terms(law_tree) for f, _ in _factors(t)):
        raise ctx.fail("a difference of terms (a reversible law?): write each direction as its own reaction")
    # Hill production: nothing consumed, species only inside K^n + x^n terms
    terms = _terms(law_tree)
    has_den = any(s < 0 and _has_species(f, ctx) for t in terms for f, s in _factors(t))
    if not has_den:
        m = _Monomial(_factors(law_tree), ctx)
        if len(terms) > 1:
            raise ctx.fail("a sum of terms is not a mass-action law")
        reactants = dict(m.powers)
        prods = {}
        for s in set(reactants) | set(change):
            p = reactants.get(s, 0) + change.get(s, 0)
            if p < 0:
                raise ctx.fail(f"the reaction consumes {s} but its law does not depend on {s} enough (not mass action)")
            if p:
                prods[s] = p
        if m.const <= 0 or not math.isfinite(m.const):
            raise ctx.fail(f"rate constant {m.const:g} is not > 0")
        r = Reaction(MASS_ACTION, make_complex(reactants), make_complex(prods),
                     input=m.input, input_factor="k" if m.input else None)
        return ReactionInstance(r, (m.const,))
    if not consumed:
        b, V, u, uf, acts, reps = _hill(law_tree, ctx, products)
        if any(c < 0 for c in change.values()):
            raise ctx.fail("Hill production consumes a species")
        regs = sorted(acts) + sorted(reps)
        r = Reaction(HILL, (), make_complex(products), tuple(sorted(acts)), tuple(sorted(reps)),
                     input=u, input_factor=uf)
        Ks = tuple(({**acts, **reps})[x][0] for x in regs)
        ns = []
        for x in regs:
            n = ({**acts, **reps})[x][1]
            if n != int(n):
                raise ctx.fail(f"Hill coefficient {n:g} of {x} is not an integer")
            ns.append(int(n))
        return ReactionInstance(r, (b, V) + Ks, tuple(ns))
    # active degradation S -> 0: c * E * S / (K + S)
    if len(terms) > 1 or len(consumed) != 1 or list(consumed.values()) != [1] or products:
        raise ctx.fail("a law with species in a denominator on a reaction that is neither production "
                       "(0 -> ...) nor degradation (S -> 0)")
    (s,) = consumed
    m = _Monomial(_factors(law_tree), ctx, allow_species_in_denominator=True)
    dens = [f for f, sg in m.rest if sg < 0]
    if len(dens) != 1 or len(m.rest) != 1:
        raise ctx.fail("not of the form c * E * S / (K + S)")
    x, kt, xt, K, n = _regulator(dens[0], ctx)
    if x != s or n != 1:
        raise ctx.fail(f"the denominator is not K + {s} (not active degradation of {s})")
    enz = [e for e in m.powers if e != s]
    if m.powers.get(s) != 1 or len(enz) != 1 or m.powers[enz[0]] != 1:
        raise ctx.fail(f"not of the form c * E * {s} / (K + {s}) with one enzyme E")
    r = Reaction(DEGRADATION, make_complex([s]), (), enzyme=enz[0], input=m.input,
                 input_factor="c" if m.input else None)
    return ReactionInstance(r, (m.const, K))


# ---------------------------------------------------------------------------- the model
def _refuse_unsupported(model, libsbml) -> None:
    def first(n, get):
        return get(0) if n else None

    if (e := first(model.getNumEvents(), model.getEvent)) is not None:
        raise CRNError(f"event {e.getId() or '(unnamed)'!r}: the network model has no events "
                       f"(piecewise inputs belong in the task's scenarios)")
    for i in range(model.getNumRules()):
        rule = model.getRule(i)
        kind = ("algebraic rule" if rule.isAlgebraic() else "rate rule" if rule.isRate() else "assignment rule")
        var = f" for {rule.getVariable()!r}" if not rule.isAlgebraic() else ""
        raise CRNError(f"{kind}{var} ({libsbml.formulaToL3String(rule.getMath())}): the network model has no rules; "
                       f"write the dynamics as reactions")
    for i in range(model.getNumInitialAssignments()):
        ia = model.getInitialAssignment(i)
        sym = ia.getSymbol()
        if model.getSpecies(sym) is None:
            raise CRNError(f"initial assignment to {sym!r} ({libsbml.formulaToL3String(ia.getMath())}): give "
                           f"parameters and compartments numbers")
    if (c := first(model.getNumConstraints(), model.getConstraint)) is not None:
        raise CRNError(f"constraint ({libsbml.formulaToL3String(c.getMath())}): the network model has no "
                       f"constraints")
    for i in range(model.getNumCompartments()):
        c = model.getCompartment(i)
        if not c.isSetSize() or c.getSize() != 1.0 or not c.getConstant():
            size = c.getSize() if c.isSetSize() else "unset"
            raise CRNError(f"compartment {c.getId()!r} has size {size}{'' if c.getConstant() else ' and varies'}: "
                           f"the network model works in one compartment of size 1")
    for i in range(model.getNumSpecies()):
        sp = model.getSpecies(i)
        if sp.getBoundaryCondition() or sp.getConstant():
            raise CRNError(f"species {sp.getId()!r} is a {'boundary' if sp.getBoundaryCondition() else 'constant'} "
                           f"species: the network model has none (make it a parameter, or a species that "
                           f"reactions change)")
        if sp.isSetConversionFactor():
            raise CRNError(f"species {sp.getId()!r} has a conversion factor (not supported)")


def read_sbml(text: str, name: str | None = None, *, outputs: Sequence[str] | None = None,
              inputs: Mapping[str, str] | Sequence[str] | None = None, fixed: str | Iterable[str] | None = None,
              values: Mapping[str, float] | None = None, declared_inputs: Sequence[str] | None = None) -> Network:
    """A network from SBML written by any tool (see the module docstring for the rules).

    ``outputs``: output species (default none). ``inputs``: parameters that are inputs, as a
    mapping ``{parameter id: "u1", ...}`` (parameters named ``u1``, ``u2``, ... are inputs in any
    case) or a list of input names that must exist. ``fixed``: ids of the reactions that form the
    template, or ``"all"`` (default none: every reaction is an added one). ``values`` overrides
    global parameter values (the Antimony reader gives the exact numbers the text wrote).
    ``declared_inputs``: the template's declared inputs (default: every input parameter).
    """
    libsbml, doc, model = read_sbml_model(text)
    if model.getNumFunctionDefinitions():
        conv = libsbml.ConversionProperties()
        conv.addOption("expandFunctionDefinitions")
        if doc.convert(conv) != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise CRNError(f"function definition {model.getFunctionDefinition(0).getId()!r} could not be expanded")
        model = doc.getModel()
    _refuse_unsupported(model, libsbml)

    species = [model.getSpecies(i).getId() for i in range(model.getNumSpecies())]
    if not species:
        raise CRNError("the SBML model has no species")
    params = {}
    for i in range(model.getNumParameters()):
        p = model.getParameter(i)
        params[p.getId()] = p.getValue() if p.isSetValue() else math.nan
    for k, v in (values or {}).items():  # exact numbers for the SBML's rounded ones
        if k in params and math.isclose(params[k], float(v), rel_tol=1e-12, abs_tol=0.0):
            params[k] = float(v)
    # inputs: u<k>-named parameters, plus the mapping
    inmap: dict[str, str] = {p: p for p in params if INPUT_RE.match(p)}
    if isinstance(inputs, Mapping):
        for p, u in inputs.items():
            check_input_name(u)
            if p not in params:
                raise CRNError(f"input mapping: {p!r} is not a parameter of the model "
                               f"(parameters: {' '.join(sorted(params)) or 'none'})")
            inmap[p] = u
    elif inputs is not None:
        for u in inputs:
            check_input_name(u)
            if u not in inmap.values():
                raise CRNError(f"input {u} is not a parameter of the model "
                               f"(parameters: {' '.join(sorted(params)) or 'none'})")
    taken: dict[str, str] = {}
    for p, u in inmap.items():
        if u in taken:
            raise CRNError(f"parameters {taken[u]!r} and {p!r} are both input {u}")
        taken[u] = p
    consts = {c.getId(): 1.0 for c in (model.getCompartment(i) for i in range(model.getNumCompartments()))}
    consts.update({p: v for p, v in params.items() if p not in inmap})
    species_set = set(species)

    reactions: list[tuple[str, ReactionInstance]] = []
    for i in range(model.getNumReactions()):
        rx = model.getReaction(i)
        rid = rx.getId()
        kl = rx.getKineticLaw()
        where = f"reaction {rid!r}"
        if kl is None or kl.getMath() is None:
            raise CRNError(f"{where} has no kinetic law")
        local = {}
        for j in range(kl.getNumLocalParameters()):
            lp = kl.getLocalParameter(j)
            local[lp.getId()] = lp.getValue() if lp.isSetValue() else math.nan
        for j in range(kl.getNumParameters()):  # Level 2 local parameters
            lp = kl.getParameter(j)
            local[lp.getId()] = lp.getValue() if lp.isSetValue() else math.nan
        formula = libsbml.formulaToL3String(kl.getMath())
        ctx = _Ctx(where, formula, species_set - set(local),
                   {p: u for p, u in inmap.items() if p not in local}, {**consts, **local})
        used = _names(_tree(libsbml, kl.getMath(), ctx))
        for nm in used:
            if nm in ctx.values and not math.isfinite(ctx.values[nm]) and nm not in species_set:
                raise ctx.fail(f"parameter {nm!r} has no value")
        try:
            inst = _reaction(rx, ctx, libsbml, _tree(libsbml, kl.getMath(), ctx))
        except CRNError as e:
            msg = str(e)
            raise CRNError(msg if msg.startswith(where) else f"{where}: {msg} (kinetic law: {formula})") from None
        reactions.append((rid, inst))

    ids = [rid for rid, _ in reactions]
    if fixed == "all":
        fixed_ids = set(ids)
    else:
        fixed_ids = set(fixed or ())
        unknown = fixed_ids - set(ids)
        if unknown:
            raise CRNError(f"fixed reactions {sorted(unknown)} are not in the model (reactions: {' '.join(ids)})")
    outs = tuple(outputs or ())
    for o in outs:
        if o not in species_set:
            raise CRNError(f"output {o!r} is not a species of the model (species: {' '.join(species)})")
    declared = tuple(declared_inputs) if declared_inputs is not None else tuple(sorted(taken, key=lambda u: int(u[1:])))
    template = Template(tuple(species), outs, tuple(i for rid, i in reactions if rid in fixed_ids), declared)
    return Network(template, tuple(i for rid, i in reactions if rid not in fixed_ids),
                   name if name is not None else (model.getName() or model.getId() or None))


# ---------------------------------------------------------------------------- Antimony
def _antimony():
    try:
        import antimony
    except ImportError as e:
        raise CRNError("reading Antimony needs the antimony package: pip install 'gfn_crn[interop]'") from e
    return antimony


def antimony_to_sbml(text: str) -> str:
    """SBML of the main model of an Antimony text (the ``antimony`` package's conversion)."""
    antimony = _antimony()
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        raise CRNError("Antimony: " + " ".join(antimony.getLastError().split()))
    module = antimony.getMainModuleName()
    if not module:
        raise CRNError("Antimony: the text defines no model")
    sbml = antimony.getSBMLString(module)
    if not sbml:
        raise CRNError("Antimony: " + " ".join(antimony.getLastError().split()))
    return sbml


_NUM_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_HEADER = re.compile(r"^\s*//\s*(outputs|inputs|declared inputs|fixed reactions)\s*:\s*(.*)$")


def _literal_values(text: str) -> dict[str, float]:
    """``name = <number>`` statements of the text (those assigned once): the exact numbers,
    which the SBML the antimony package writes keeps to 15 significant digits only."""
    seen: dict[str, list[float]] = {}
    for line in text.splitlines():
        for stmt in line.split("//", 1)[0].split("#", 1)[0].split(";"):
            if m := _NUM_ASSIGN.match(stmt):
                seen.setdefault(m.group(1), []).append(float(m.group(2)))
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


def _header(text: str) -> dict[str, list[str]]:
    """gfn_crn's own header comments (:func:`gfn_crn.crn.export.to_antimony`), if present."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("// gfn_crn network"):
        return {}
    out = {}
    for line in lines[1:]:
        if not line.startswith("//"):
            break
        for part in line[2:].split(";"):
            if m := _HEADER.match("//" + part):
                vals = m.group(2).split()
                out[m.group(1)] = [] if vals == ["(none)"] else vals
    return out


def from_antimony(text: str, name: str | None = None, *, outputs: Sequence[str] | None = None,
                  inputs: Mapping[str, str] | Sequence[str] | None = None,
                  fixed: str | Iterable[str] | None = None) -> Network:
    """A network from Antimony text (converted with the ``antimony`` package, then read as SBML).

    Text written by :func:`~gfn_crn.crn.export.to_antimony` carries its outputs, declared inputs
    and template reactions in its header comments, so it reads back as the same network; for
    other text, ``outputs``, ``inputs`` and ``fixed`` are as in :func:`read_sbml`. Numbers are
    taken exactly as written.
    """
    sbml = antimony_to_sbml(text)
    head = _header(text)
    if outputs is None and "outputs" in head:
        outputs = head["outputs"]
    if fixed is None and "fixed reactions" in head:
        fixed = head["fixed reactions"]
    declared = head.get("declared inputs")
    return read_sbml(sbml, name, outputs=outputs, inputs=inputs, fixed=fixed, values=_literal_values(text),
                     declared_inputs=declared)
