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
