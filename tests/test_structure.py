"""The package layout is the pipeline: a module's stage is its folder, stages import only
downwards, and no two modules import each other (directly or round a circle), counting imports
inside functions too."""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "kamrules"

# lowest first; a stage may import its own modules and any stage with a lower rank
STAGES = {
    "core": 0,        # errors, friendly values, YAML reading, resources, cache, i18n, text safety
    "language": 1,    # condition language: parser, IR, type checker, message templates
    "rulebook": 2,    # rulebook files → the effective, checked Rulebook
    "io": 3,          # accounts in (YAML, CSV), results out
    "engine": 4,      # facts, compile, durable_rules and reference backends
    "advice": 5,      # resolve, explain, playbook context, render
    "pipeline": 6,    # the façade
    "authoring": 7,   # check/lint, rule tests, init, catalogue
    "portfolio": 7,   # many accounts
    "history": 7,     # the review store: record, trends, history/diff/replay, overrides
    "cli": 8,         # thin click layer
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def _typing_only(tree: ast.Module) -> set[ast.AST]:
    """Import statements under `if TYPE_CHECKING:`: mypy reads them, Python never runs them."""
    out: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (getattr(node.test, "id", "") == "TYPE_CHECKING"
                                         or getattr(node.test, "attr", "") == "TYPE_CHECKING"):
            out |= {n for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports(path: Path, *, typing: bool = True) -> set[str]:
    """Every kamrules module this file imports, at any depth (function-level imports included;
    imports under `if TYPE_CHECKING:` only with `typing`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    out: set[str] = set()
    skip = set() if typing else _typing_only(tree)
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("kamrules")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: -node.level] if not path.name == "__init__.py" else \
                    here.split(".")[: len(here.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("kamrules"):
                continue
            for a in node.names:  # `from kamrules.io import csvio` imports the module kamrules.io.csvio
                sub = f"{mod}.{a.name}"
                out.add(sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists()
                        or (PKG.parent / sub.replace(".", "/") / "__init__.py").exists() else mod)
    out.discard(here)
    return out


@functools.lru_cache(maxsize=None)  # parsing every module is seconds; four tests read the graph
def graph(*, typing: bool = True) -> dict[str, set[str]]:
    return {module_name(p): imports(p, typing=typing) for p in sorted(PKG.rglob("*.py"))}


def test_every_module_belongs_to_a_stage() -> None:
    loose = [m for m in graph() if m.count(".") >= 1 and stage(m) is None
             and m not in ("kamrules.__main__",)]
    assert loose == [], f"modules outside the stage packages: {loose}"


def test_every_package_is_shipped() -> None:
    # pyproject.toml lists the packages by hand: one missing there is missing from the wheel
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r'"(kamrules[\w.]*)"', text.split("packages = [", 1)[1].split("]", 1)[0]))
    on_disk = {module_name(p) for p in PKG.rglob("__init__.py")}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_no_lower_stage_imports_a_higher_one() -> None:
    bad = []
    for mod, deps in graph().items():
        s = stage(mod)
        if s is None:
            continue
        for d in deps:
            t = stage(d)
            if t is not None and t != s and STAGES[t] >= STAGES[s]:
                bad.append(f"{mod} ({s}) imports {d} ({t})")
    assert bad == [], "\n".join(bad)


def test_the_import_graph_has_no_cycles() -> None:
    # typing-only imports cannot form a cycle at run time (kamrules/__init__ names the library
    # API's types that way, and core.cache reads kamrules.__version__)
    g = graph(typing=False)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in g:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            connect(v)
    assert cycles == [], f"import cycles: {cycles}"


def test_the_checker_sees_imports() -> None:
    # the test above must be able to fail: a known edge is found
    g = graph()
    assert "kamrules.core.errors" in g["kamrules.pipeline"] or any(d.startswith("kamrules.") for d in g["kamrules.pipeline"])
    assert "kamrules.language.ir" in g["kamrules.engine.compile"]
