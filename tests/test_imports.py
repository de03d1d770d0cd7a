"""The package's imports form no cycle (an AST check, no imports executed)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gfn_crn"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def module_graph(deferred: bool = False) -> dict[str, set[str]]:
    """Module -> the gfn_crn modules it imports at import time (top level, not in functions or
    ``if TYPE_CHECKING`` blocks); with ``deferred`` also those imported inside functions."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        deps: set[str] = set()

        def visit(stmts):
            for node in stmts:
                if isinstance(node, ast.If):
                    if not _is_type_checking(node):
                        visit(node.body)
                        visit(node.orelse)
                elif isinstance(node, ast.Try):
                    visit(node.body)
                    for h in node.handlers:
                        visit(h.body)
                elif deferred and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                    ast.With, ast.For, ast.While)):
                    visit(node.body)
                elif isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names if a.name.startswith("gfn_crn"))
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = package.split(".")
                        base = base[:len(base) - (node.level - 1)]
                        target = ".".join(base + ([node.module] if node.module else []))
                    else:
                        target = node.module or ""
                    if not target.startswith("gfn_crn"):
                        continue
                    for a in node.names:  # "from pkg import module" imports that module
                        sub = f"{target}.{a.name}"
                        deps.add(sub if sub in modules else target)

        visit(ast.parse(path.read_text()).body)
        deps.discard(name)
        graph[name] = {d for d in deps if d in modules}
    return graph


def find_cycle(graph):
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {n: WHITE for n in graph}
    stack: list[str] = []

    def dfs(n):
        colour[n] = GREY
        stack.append(n)
        for m in sorted(graph[n]):
            # a module importing its own package's __init__ (or a parent's) is Python's normal
            # package initialisation order, not a cycle
            if n.startswith(m + "."):
                continue
            if colour[m] == GREY:
                return stack[stack.index(m):] + [m]
            if colour[m] == WHITE:
                c = dfs(m)
                if c:
                    return c
        stack.pop()
        colour[n] = BLACK
        return None

    for n in sorted(graph):
        if colour[n] == WHITE:
            c = dfs(n)
            if c:
                return c
    return None


@pytest.mark.parametrize("deferred", [False, True], ids=["module-level", "with-deferred-imports"])
def test_no_import_cycles(deferred):
    """No cycle at import time, and none hidden in imports deferred into functions either (the
    old crn.network <-> crn.textio and tasks.config <-> tasks.stochastic pairs were of that kind)."""
    cycle = find_cycle(module_graph(deferred))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# ---------------------------------------------------------------------------- the package order
#: the layers of gfn_crn, lowest first (docs/architecture.md): a module may import modules of its
#: own package and of the packages in layers below its own, never one of its own layer or above,
#: deferred imports included (``if TYPE_CHECKING`` imports are not imports). Every top-level
#: package or module of gfn_crn must be listed, so a new one has to be placed.
LAYERS = (
    ("crn",),
    ("outputs",),            # where commands may write (imports crn only)
    ("cli_common",),         # helpers the sub-commands share (imports crn, outputs)
    ("sim",),
    ("rewards",),            # scoring and search: scorers, pool, recorders, topology reward, refinement
    ("tasks",),
    ("verify",),
    ("envs",),
    ("estimators", "samplers"),
    ("training",),
    ("cli",),                # the entry point: nothing imports it
)

#: (importer, imported) module pairs that go upward and are known, with why they are still here;
#: an entry that no longer exists fails the test, so the list only shrinks.
KNOWN_UPWARD: dict = {}   # none left; an entry would name (importer, imported) and why


def package_of(module: str) -> str | None:
    """The top-level part of gfn_crn a module belongs to (None for gfn_crn itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_index() -> dict[str, int]:
    return {p: i for i, layer in enumerate(LAYERS) for p in layer}


def upward_imports(graph, layers=None) -> list[tuple[str, str]]:
    """(importer, imported) module pairs whose packages are not in strictly increasing layers
    (imports within one package are not checked here: the module-level cycle test covers them)."""
    layers = layer_index() if layers is None else layers
    bad = []
    for mod, deps in graph.items():
        a = package_of(mod)
        for dep in deps:
            b = package_of(dep)
            if a is None or b is None or a == b:
                continue
            if layers[b] >= layers[a]:
                bad.append((mod, dep))
    return sorted(bad)


def test_every_package_has_a_layer():
    packages = {package_of(m) for m in module_graph()} - {None}
    missing = packages - set(layer_index())
    assert not missing, f"place these in LAYERS (tests/test_imports.py) and docs/architecture.md: {sorted(missing)}"
    gone = set(layer_index()) - packages
    assert not gone, f"LAYERS names packages that no longer exist: {sorted(gone)}"


def test_no_package_imports_a_package_above_it():
    """The package order crn < outputs < cli_common < sim < rewards < tasks < verify < envs <
    estimators, samplers < training < cli, deferred imports included: the old module-level cycle
    test did not see a cycle between packages (tasks -> verify -> training -> tasks)."""
    bad = upward_imports(module_graph(deferred=True))
    unknown = [e for e in bad if e not in KNOWN_UPWARD]
    assert not unknown, "imports against the package order (docs/architecture.md):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in unknown)
    stale = [e for e in KNOWN_UPWARD if e not in bad]
    assert not stale, f"KNOWN_UPWARD entries no longer needed, remove them: {stale}"


def test_the_package_order_checker_sees_an_upward_import():
    layers = {"low": 0, "high": 1}
    assert upward_imports({"gfn_crn.low.a": {"gfn_crn.high.b"}, "gfn_crn.high.b": {"gfn_crn.low.c"}},
                          layers) == [("gfn_crn.low.a", "gfn_crn.high.b")]
    # a deferred import counts
    graph = {"gfn_crn.rewards.x": set(), "gfn_crn.training.y": set()}
    assert upward_imports(graph) == []
    graph["gfn_crn.rewards.x"].add("gfn_crn.training.y")
    assert upward_imports(graph) == [("gfn_crn.rewards.x", "gfn_crn.training.y")]


def test_nothing_imports_the_command_line_entry_point():
    """``gfn_crn.cli`` is the entry point only ([project.scripts], ``python -m gfn_crn.cli``):
    sub-commands take their shared helpers from ``gfn_crn.cli_common``."""
    importers = sorted(m for m, deps in module_graph(deferred=True).items() if "gfn_crn.cli" in deps)
    assert importers == [], f"these import gfn_crn.cli: {importers}"
    import tomllib

    scripts = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"gfn-crn": "gfn_crn.cli:main"}
