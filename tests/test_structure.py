"""The shape of the code: no import cycle between modules, no module over 400 lines,
services independent of the orchestrator.

Parsed with the standard library's `ast` (nothing is imported or run), over
orchestrator/ and services/. An import is an edge to the module it names; an
import of a package's name (`from pkg import mod`) is an edge to `pkg.mod` when
that is a module, else to the package's `__init__`. Imports inside functions
count too: a cycle through a lazy import is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("orchestrator", "services")
MAX_LINES = 400
OVERSIZED_ALLOWED: set[str] = set()  # none: every module stays under MAX_LINES


def module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that module `name` imports."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_over_the_line_limit():
    too_long = {}
    for path in module_files().values():
        rel = path.relative_to(REPO).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and rel not in OVERSIZED_ALLOWED:
            too_long[rel] = lines
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_services_never_import_the_orchestrator():
    """Services run alone (in Docker, with only the manifest): the dependency points one way."""
    wrong = {
        name: sorted(t for t in targets if t.startswith("orchestrator"))
        for name, targets in import_graph().items()
        if name.startswith("services")
    }
    assert not {name: t for name, t in wrong.items() if t}


def test_the_checks_can_fail():
    """The cycle finder sees a cycle, and the graph sees this repo's real edges."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "orchestrator.config" in graph["orchestrator.manifest"]
    assert "services.common.manifest" in graph["orchestrator.manifest"]
