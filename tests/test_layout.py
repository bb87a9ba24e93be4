"""The package's shape: imports flow one way between the stage folders, with no cycles, and the
names and module paths of 0.1 still work (deprecated) for one release."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "llamatpl"

# Lower layers never import higher ones. Modules at the top (errors, versions, resources) are
# shared by every stage; the package's own __init__, __main__, _compat and strategies (public
# re-exports) may reach anything.
LAYERS = [
    {"errors", "versions", "resources"},
    {"tokens"},
    {"rendering"},
    {"engines"},
    {"verification", "toolcalls"},
    {"probes"},
    {"lint", "diffing", "train"},
    {"formatting"},
    {"playground"},
    {"cli"},
]
TOP = {"", "__main__", "_compat", "strategies"}
SHARED = {"_version"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every llamatpl module ``path`` imports, anywhere in it (lazy and TYPE_CHECKING imports too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("llamatpl"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("llamatpl"):
                continue
            for alias in node.names:  # "from . import rules" imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    found.discard(name)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_imports_flow_one_way():
    rank = {stage: i for i, layer in enumerate(LAYERS) for stage in layer}
    assert {_stage(m) for m in _graph()} - TOP - SHARED <= set(rank), "a new folder needs a place in LAYERS"
    upward = []
    for module, targets in _graph().items():
        source = _stage(module)
        if source in TOP:
            continue
        for target in targets:
            stage = _stage(target)
            if stage in SHARED:
                continue
            if stage in TOP or rank[stage] > rank[source]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports against the flow: " + ", ".join(sorted(upward))


def test_package_imports_nothing_eagerly():
    """``import llamatpl`` loads no stage: the command line and the library start fast."""
    code = "import sys, llamatpl; print(sorted(m for m in sys.modules if m.startswith('llamatpl')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(loaded) == ["llamatpl", "llamatpl._compat", "llamatpl._version"]


def test_renamed_names_warn_and_still_work():
    import llamatpl

    with pytest.warns(DeprecationWarning, match="verify_conversation"):
        assert llamatpl.verify is llamatpl.verify_conversation
    with pytest.warns(DeprecationWarning, match="diff_templates"):
        assert llamatpl.diff is llamatpl.diff_templates


@pytest.mark.parametrize(("old", "new", "name"), [
    ("llamatpl.compare", "llamatpl.verification.compare", "verify_conversation"),
    ("llamatpl.search", "llamatpl.verification.search", "verify_template"),
    ("llamatpl.conversation", "llamatpl.rendering.conversation", "load_conversation"),
    ("llamatpl.renderer", "llamatpl.rendering.renderer", "render"),
    ("llamatpl.hf_export", "llamatpl.tokens.export", "export_tokenizer"),
    ("llamatpl.toolcall_parser", "llamatpl.toolcalls.parser", "parse_tool_calls"),
    ("llamatpl.reference.encoder", "llamatpl.verification.reference.encoder", "encode"),
])
def test_old_module_paths_are_deprecated_aliases(old, new, name):
    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import {old}\nexcept DeprecationWarning as w:\n    print('warned', w)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("warned") and new.rsplit(".", 1)[0] in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old_module = __import__(old, fromlist=[name])
    new_module = __import__(new, fromlist=[name])
    assert getattr(old_module, name) is getattr(new_module, name)


def test_modules_are_small_and_documented():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) < 400, f"{path} has grown past 400 lines"
        assert ast.get_docstring(ast.parse(text)) or not text.strip(), f"{path} has no docstring"
