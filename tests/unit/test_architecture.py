"""The dependency rules of docs/architecture.md, checked on the source: no import circles, layers point one way.

The import graph is read with :mod:`ast` from every module of ``harness`` and ``fake_provider``:
module-level imports, imports under ``if TYPE_CHECKING:`` (a circle of types is still a circle a
reader has to untangle) and imports inside functions (deferred, but still a dependency).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "fake_provider")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """module → the modules of ours it imports (``from pkg import name`` counts the submodule if it is one)."""
    modules = _modules()

    def ours(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, frozenset[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                deps.update(filter(None, (ours(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found = target if target in modules else ours(base)
                    if found:
                        deps.add(found)
        deps.discard(module)
        graph[module] = frozenset(deps)
    return graph


def circles(graph: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def reachable(graph: dict[str, frozenset[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_graph_reader_finds_a_circle() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    assert "fake_provider.core" in import_graph()["harness.runner.run"]


def test_there_are_no_import_circles() -> None:
    found = [sorted(c) for c in circles(import_graph())]
    assert found == [], f"import circles: {found}"


def test_the_stream_is_handed_the_call_path_and_knows_no_client() -> None:
    graph = import_graph()
    assert "harness.client.stream_api" in graph["harness.client.client"]
    assert _under(reachable(graph, "harness.client.stream_api"), "harness.client.client") == []


def _under(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_the_production_client_needs_nothing_of_the_test_world() -> None:
    graph = import_graph()
    for module in (m for m in graph if m == "harness.client" or m.startswith("harness.client.")):
        bad = _under(
            reachable(graph, module),
            "fake_provider", "harness.runner", "harness.scenario", "harness.judge", "harness.report",
            "harness.testing", "harness.load", "harness.locust", "harness.commands",
        )  # fmt: skip
        assert bad == [], f"{module} reaches {bad}"


def test_scenarios_are_data_the_runner_reads_not_the_other_way() -> None:
    graph = import_graph()
    for module in (m for m in graph if m.startswith("harness.scenario")):
        assert _under(reachable(graph, module), "harness.runner", "harness.report", "harness.commands") == [], module


def test_the_fake_provider_does_not_know_the_client_or_the_runner() -> None:
    graph = import_graph()
    for module in (m for m in graph if m.startswith("fake_provider") and m != "fake_provider.__main__"):
        bad = _under(reachable(graph, module), "harness.client", "harness.runner", "harness.scenario", "harness.judge")
        assert bad == [], f"{module} reaches {bad}"


def test_importing_harness_client_does_not_import_the_fake_provider() -> None:
    code = (
        "import sys, harness.client, harness.client.testing; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'fake_provider' or m.startswith('harness.runner')); "
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
