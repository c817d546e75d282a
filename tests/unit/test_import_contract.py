"""The import contract: which layer may import what, read from the source with `ast`.

Nothing is imported to check it, so it runs in well under a second. The rules:

- `routing/` holds pure decisions: it imports neither sqlalchemy, telegram nor aiohttp, and
  nothing of `bot` or `handlers`; its modules import one another without a circle.
- The domain (`bot/services/`) speaks neither Telegram nor HTTP, and never reaches up into an
  edge (`handlers`, `bot.web`, `bot.runtime`, `bot.cli`).
- `handlers/` (the chat edge) never imports the store: it asks services. A store model named
  only in a type annotation, under ``if TYPE_CHECKING:``, is allowed — services hand rows to
  the edge, and naming their type couples nothing at run time; querying or writing rows needs
  a run-time import, which is what the rule refuses.
- `bot/web/` (the HTTP edge) never imports telegram, the store or sqlalchemy, nor the runtime
  that mounts it: it gets the running bot through the app keys of `bot/web/keys.py`, a leaf
  that imports nothing of ours but types.
- The Bot API emulator (`bot/emulator/`) imports nothing of the bot.
- `handlers/` modules never import the dispatcher (`handlers/dispatch.py`): they declare
  tables it reads, so the dispatcher depends on them and never the other way round.
- Components — `bot/services/{shared,cases,people,reports,participation,public}` and the chat
  edge grouped the same way, `handlers/{cases,people,reports,participation}` — import one
  another without a circle, counted across both layers (a handler of one component calling a
  service of another is an edge between the two), and `shared` imports no other component.

Imports count wherever they are written: at module level and inside functions, and under
``if TYPE_CHECKING:`` too (a type is a dependency of whoever reads the code), except where a
rule says otherwise above and for circles between the modules of `routing/`, where a name used
only in annotations cannot make a circle at run time.

`KNOWN_EXCEPTIONS` holds the violations that exist today, each as (file, imported module). The
test fails on any violation not listed there, and on a listed one that no longer exists, so
the list can only shrink.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "routing")
COMPONENTS = ("shared", "cases", "people", "reports", "participation", "public")
# Layers grouped by component: a module under one of these, in a package named like a
# component, belongs to that component (the edges join when they are grouped the same way).
COMPONENT_LAYERS = ("bot.services", "handlers")

# rule -> {(file, imported module)}: violations found today, to be removed, never added to.
KNOWN_EXCEPTIONS: dict[str, set[tuple[str, str]]] = {}


@dataclass(frozen=True)
class Import:
    file: str  # relative to the checkout, e.g. "handlers/cases/card.py"
    line: int
    module: str  # the module imported (for `from a import b`: a.b if that is a module, else a)
    type_only: bool  # under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def source_files() -> tuple[Path, ...]:
    return tuple(sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")))


@cache
def known_modules() -> frozenset[str]:
    return frozenset(module_name(p) for p in source_files())


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    base = node.module or ""
    if node.level:
        package = module_name(path).split(".")
        if path.name != "__init__.py":
            package.pop()
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    return base


def _imports_in(path: Path) -> Iterator[Import]:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), rel)
    modules = known_modules()

    def walk(node: ast.AST, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit(stmt, True)
                for stmt in child.orelse:
                    yield from visit(stmt, type_only)
                continue
            yield from visit(child, type_only)

    def visit(node: ast.AST, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(rel, node.lineno, alias.name, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node)
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                yield Import(rel, node.lineno, full if full in modules else base, type_only)
        yield from walk(node, type_only)

    yield from walk(tree, False)


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for p in source_files() for i in _imports_in(p))


def imports_under(folder: str) -> list[Import]:
    return [i for i in all_imports() if i.file.startswith(folder + "/")]


def names(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def check(rule: str, violations: list[Import]) -> None:
    """Fail on a violation not in KNOWN_EXCEPTIONS[rule], and on a listed one that is gone."""
    known = KNOWN_EXCEPTIONS.get(rule, set())
    new = [str(v) for v in violations if (v.file, _known_key(v, known)) not in known]
    found = {(v.file, _known_key(v, known)) for v in violations}
    gone = sorted(f"{f} imports {m}" for f, m in known - found)
    assert not new, f"{rule}: new violations:\n" + "\n".join(new)
    assert not gone, f"{rule}: fixed, remove from KNOWN_EXCEPTIONS:\n" + "\n".join(gone)


def _known_key(violation: Import, known: set[tuple[str, str]]) -> str:
    for file, module in known:
        if file == violation.file and names(violation.module, (module,)):
            return module
    return violation.module


def test_the_source_is_read() -> None:
    """The checks below mean something only if the walk finds the imports that exist."""
    found = {(i.file, i.module) for i in all_imports()}
    assert ("bot/web/public/open311.py", "bot.web.keys") in found
    assert ("routing/gridmap.py", "routing.fields") in found
    assert any(i.type_only for i in all_imports())
    assert any(
        i.file == "routing/gridmap.py" and i.module == "routing.deadlines" for i in all_imports()
    )


def test_routing_is_pure() -> None:
    banned = ("sqlalchemy", "telegram", "aiohttp", "bot", "handlers")
    check("routing_pure", [i for i in imports_under("routing") if names(i.module, banned)])


def test_the_domain_speaks_neither_telegram_nor_http() -> None:
    banned = ("telegram", "aiohttp", "handlers", "bot.web", "bot.runtime", "bot.cli")
    check("domain_no_edges", [i for i in imports_under("bot/services") if names(i.module, banned)])


def test_handlers_do_not_import_the_store() -> None:
    check(
        "handlers_without_store",
        [
            i
            for i in imports_under("handlers")
            if names(i.module, ("bot.store", "sqlalchemy")) and not i.type_only
        ],
    )


def test_handlers_do_not_import_the_dispatcher() -> None:
    check(
        "handlers_not_dispatch",
        [
            i
            for i in imports_under("handlers")
            if names(i.module, ("handlers.dispatch",)) and i.file != "handlers/dispatch.py"
        ],
    )


def test_the_web_edge_speaks_no_telegram_and_not_to_the_runtime() -> None:
    banned = ("telegram", "bot.runtime", "bot.store", "sqlalchemy", "handlers")
    check("web_edge", [i for i in imports_under("bot/web") if names(i.module, banned)])


def test_the_web_keys_are_a_leaf() -> None:
    """Both the runtime and every view import bot/web/keys.py: it must import neither."""
    ours = [
        i
        for i in all_imports()
        if i.file == "bot/web/keys.py" and names(i.module, PACKAGES) and not i.type_only
    ]
    check("web_keys_leaf", ours)


def test_the_emulator_stands_alone() -> None:
    check(
        "emulator_alone",
        [
            i
            for i in imports_under("bot/emulator")
            if names(i.module, PACKAGES) and not names(i.module, ("bot.emulator",))
        ],
    )


def component_of(module: str) -> str | None:
    for layer in COMPONENT_LAYERS:
        if module.startswith(layer + "."):
            head = module[len(layer) + 1 :].split(".", 1)[0]
            if head in COMPONENTS:
                return head
    return None


def component_edges() -> dict[tuple[str, str], list[Import]]:
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for i in all_imports():
        source = component_of(module_name(ROOT / i.file))
        target = component_of(i.module)
        if source and target and source != target:
            edges[(source, target)].append(i)
    return edges


# The chat edge's modules outside the components: what every component's handlers share.
EDGE_SHARED = (
    "handlers",
    "handlers.context",
    "handlers.message",
    "handlers.dialogue",
    "handlers.dispatch",
)


def test_the_chat_edge_is_grouped_by_component() -> None:
    """Every handler module belongs to a component, or is one of the few they all share."""
    loose = [
        m
        for m in sorted(known_modules())
        if names(m, ("handlers",)) and component_of(m) is None and m not in EDGE_SHARED
    ]
    assert not loose, f"handler modules outside a component: {loose}"
    assert component_of("handlers.cases.card") == "cases"
    # Both layers' edges are counted: a handler calling another component's service is one.
    sites = [s for found in component_edges().values() for s in found]
    assert any(s.file.startswith("handlers/") for s in sites)


def test_shared_imports_no_other_component() -> None:
    check(
        "shared_alone",
        [site for (a, _), sites in component_edges().items() if a == "shared" for site in sites],
    )


def circles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph[b]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_circles_are_found() -> None:
    assert circles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert circles([("a", "b"), ("b", "c")]) == []


def test_no_circle_between_components() -> None:
    known = KNOWN_EXCEPTIONS.get("component_circles", set())
    edges = component_edges()
    kept = {
        edge
        for edge, sites in edges.items()
        if any((s.file, _known_key(s, known)) not in known for s in sites)
    }
    found = circles(kept)
    detail = [
        str(site)
        for group in found
        for edge in sorted(kept)
        if edge[0] in group and edge[1] in group
        for site in edges[edge]
    ]
    assert not found, f"components import each other in a circle {found}:\n" + "\n".join(detail)
    listed = {(s.file, _known_key(s, known)) for sites in edges.values() for s in sites}
    assert not known - listed, f"fixed, remove from KNOWN_EXCEPTIONS: {sorted(known - listed)}"


def test_no_circle_between_routing_modules() -> None:
    edges = {
        (module_name(ROOT / i.file), i.module)
        for i in imports_under("routing")
        if i.module.startswith("routing.") and not i.type_only
    }
    edges = {(a, b) for a, b in edges if a != b}
    assert not circles(edges), circles(edges)


@pytest.mark.parametrize("rule", sorted(KNOWN_EXCEPTIONS))
def test_known_exceptions_name_real_rules(rule: str) -> None:
    assert rule in {
        "routing_pure",
        "domain_no_edges",
        "handlers_without_store",
        "handlers_not_dispatch",
        "web_edge",
        "web_keys_leaf",
        "emulator_alone",
        "shared_alone",
        "component_circles",
    }


def test_tests_import_helpers_not_other_tests() -> None:
    """A test module is collected, never imported: what tests share lives in `tests.support` or
    a `*_helpers.py` module, reached as a package (no test edits `sys.path`)."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                modules = []
            for module in modules:
                ours = module.startswith("tests.") or "." not in module
                last = module.rsplit(".", 1)[-1]
                if ours and (last.startswith("test_") or last == "conftest"):
                    found.append(f"{rel}:{node.lineno} imports {module}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                found.append(f"{rel}:{node.lineno} uses sys.path")
    assert not found, "\n".join(found)
