"""Where the built-in rulebooks, templates and schemas live: inside the installed package
(`kamrules/rules`, mapped from the top-level `rules/` by pyproject), or in the source tree."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent  # the kamrules package


def _first(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def rules_dir() -> Path:
    return _first(_PKG / "rules", _PKG.parent / "rules")


def playbooks_dir() -> Path:
    return _first(_PKG / "playbooks", _PKG.parent / "playbooks")


def schemas_dir() -> Path:
    return _PKG / "schemas"


def builtin_rulebook_path(ref: str) -> Path | None:
    """`course` → rules/course/course.yaml; `course.standards` → rules/course/standards.yaml."""
    if not ref or "/" in ref or "\\" in ref or ref.startswith("."):
        return None
    parts = ref.split(".")
    if any(not p or not all(ch.isalnum() or ch in "_-" for ch in p) for p in parts):
        return None
    base = rules_dir()
    path = base / parts[0] / (f"{parts[0]}.yaml" if len(parts) == 1 else "/".join(parts[1:]) + ".yaml")
    return path if path.is_file() else None


def builtin_rulebooks() -> list[str]:
    out = []
    base = rules_dir()
    for p in sorted(base.glob("*/*.yaml")):
        if p.name.endswith(".test.yaml"):
            continue
        folder = p.parent.name
        out.append(folder if p.stem == folder else f"{folder}.{p.stem}")
    return out


def is_builtin_display(name: str) -> bool:
    """Whether a file name as messages show it (rulebook/load.display_path: built-in files are
    'rules/<folder>/<file>') is a built-in rulebook file."""
    return name.startswith("rules/") and (rules_dir() / name[len("rules/"):]).is_file()
