"""The app's structure: no module of `forecasts/` imports another in a cycle.

Every import counts, also one inside a function, except in the Celery task modules: a task
imports its service inside its body and services import tasks at the top (so a service never
needs a deferred import to reach a task). Importing `package.module` from outside `package` runs
`package/__init__.py` too, so that counts as importing the package as well.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("forecasts", "bench", "config")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


def top_level_statements(body: list[ast.stmt]):
    for statement in body:
        yield statement
        if isinstance(statement, ast.If | ast.Try):
            nested = [*statement.body, *statement.orelse]
            if isinstance(statement, ast.Try):
                nested += [*statement.finalbody, *(line for handler in statement.handlers for line in handler.body)]
            yield from top_level_statements(nested)


def imported_names(path: Path, package: str) -> set[str]:
    """Every dotted name a module imports, resolved against its package (tasks: when loaded)."""
    tree = ast.parse(path.read_text())
    statements = top_level_statements(tree.body) if path.stem == "tasks" else ast.walk(tree)
    names = set()
    for statement in statements:
        if isinstance(statement, ast.Import):
            names.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            if statement.level:
                base = package.split(".")[: len(package.split(".")) - statement.level + 1]
                origin = ".".join([*base, statement.module] if statement.module else base)
            else:
                origin = statement.module
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in statement.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in imported_names(path, package):
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                # A module's own packages are already being loaded: importing a sibling runs no __init__.
                if target in modules and target != name and not name.startswith(f"{target}."):
                    targets.add(target)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_another_in_a_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert find_cycle(graph) == expected


def test_the_graph_sees_a_known_import():
    assert "forecasts.models" in import_graph()["forecasts.access"]
