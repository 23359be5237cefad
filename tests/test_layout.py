"""The package layout: dependencies point one way, no import cycles, every package imports.

Read from the source with ``ast`` (every ``import`` statement, including those inside
functions), so a lazy import cannot hide a dependency that runs the wrong way.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ALLOWED: dict[str, set[str]] = {
    "synnet_triton.kernels": set(),
    "synnet_triton.arrays": set(),
    "synnet_triton.ops": {"synnet_triton.kernels", "synnet_triton.arrays"},
    "synnet_triton.xylo": {"synnet_triton.arrays", "synnet_triton.kernels", "synnet_triton.ops"},
    "synnet_triton.nn": {"synnet_triton.ops", "synnet_triton.xylo"},
    "synnet_triton.rockpool": {"synnet_triton.ops", "synnet_triton.nn", "synnet_triton.xylo"},
    "synnet_triton.hardware": {
        "synnet_triton.arrays", "synnet_triton.kernels", "synnet_triton.ops", "synnet_triton.nn",
        "synnet_triton.xylo",
    },
    "synnet_triton.nir": {"synnet_triton.nn", "synnet_triton.rockpool", "synnet_triton.hardware"},
    "synnet_triton.bench": {"synnet_triton.ops", "synnet_triton.nn"},
    "synnet_triton.compiled": {"synnet_triton.kernels"},
    "synnet_triton.kws": {
        "synnet_triton.kernels", "synnet_triton.ops", "synnet_triton.nn",
        "synnet_triton.xylo", "synnet_triton.bench", "synnet_triton.hardware",
    },
    "synnet_triton.cli": {
        "synnet_triton.kws", "synnet_triton.compiled", "synnet_triton.bench", "synnet_triton.ops",
        "synnet_triton.xylo",
    },
}
"""Each layer and the layers it may import (besides itself). The top-level ``__init__`` may
import anything."""

def _module_files() -> dict[str, Path]:
    """Module name → source file, for the package and ``kernels/`` (shipped as
    ``synnet_triton.kernels``)."""
    files = {}
    for base, package in ((ROOT / "synnet_triton", "synnet_triton"),
                          (ROOT / "kernels", "synnet_triton.kernels")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join([package, *parts])] = path
    return files


MODULES = _module_files()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module named by a (possibly relative) ``from ... import``."""
    if node.level == 0:
        return node.module or ""
    package = module if module in PACKAGES else module.rsplit(".", 1)[0]
    for _ in range(node.level - 1):
        package = package.rsplit(".", 1)[0]
    return f"{package}.{node.module}" if node.module else package


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            return True
    return False


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports: ``from pkg import submodule`` names the
    submodule, ``from pkg import name`` the package."""
    tree = ast.parse(MODULES[module].read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in MODULES else target)
    return {name for name in found if name in MODULES}


def layer_of(module: str) -> str | None:
    """The layer (key of ``ALLOWED``) holding ``module``, or None for the top level."""
    return next((layer for layer in ALLOWED
                 if module == layer or module.startswith(layer + ".")), None)


def test_every_module_is_in_a_layer_or_is_the_top_level() -> None:
    strays = [m for m in MODULES if layer_of(m) is None and m != "synnet_triton"]
    assert strays == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module: str) -> None:
    layer = layer_of(module)
    if layer is None:
        return
    wrong = sorted(
        target for target in imports_of(module)
        if layer_of(target) not in {layer, *ALLOWED[layer]}
    )
    assert wrong == [], f"{module} ({layer}) may import only {sorted(ALLOWED[layer])}"


def test_the_dependency_check_sees_a_wrong_way_import() -> None:
    """The checker itself: a lazy import of the application from the op would be caught."""
    tree = ast.parse("def f():\n    from synnet_triton.kws.commands import command_train\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    target = _resolve("synnet_triton.ops.lif.functional", node)
    assert layer_of(target) == "synnet_triton.kws"
    assert layer_of(target) not in ALLOWED["synnet_triton.ops"]


def test_no_import_cycles_lazy_imports_included() -> None:
    graph = {m: imports_of(m) - {m} for m in MODULES}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_layer_imports(package: str) -> None:
    if package == "synnet_triton.rockpool":
        pytest.importorskip("rockpool")
    importlib.import_module(package)


def test_the_top_level_exports_the_public_api() -> None:
    import synnet_triton
    from synnet_triton.nn import LIF, SynNet
    from synnet_triton.ops.lif import LIFState, lif

    assert (synnet_triton.LIF, synnet_triton.SynNet) == (LIF, SynNet)
    assert (synnet_triton.lif, synnet_triton.LIFState) == (lif, LIFState)


def test_every_package_is_shipped():
    """A package missing from pyproject's list works in the editable install the tests use
    and is absent from a wheel (synnet_triton.hardware once was)."""
    import tomllib

    shipped = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                  ["packages"])
    packages = {
        ".".join(("synnet_triton", *init.parent.relative_to(ROOT / "synnet_triton").parts))
        for init in (ROOT / "synnet_triton").rglob("__init__.py")
    }
    assert packages - shipped == set()


MAX_MODULE_LINES = 500
"""A module longer than this holds more than one job."""

CITING_FILES = sorted(
    path for pattern in ("synnet_triton/**/*.py", "kernels/*.py", "tests/**/*.py",
                         "benchmarks/**/*.py", "benchmarks/*.sh", "tools/*.py", "docs/*.md",
                         "README.md", "Makefile", "pyproject.toml")
    for path in ROOT.glob(pattern)
)


def _project_text() -> dict[Path, str]:
    return {path: path.read_text() for path in CITING_FILES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_the_line_limit(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{MODULES[module]}: {lines} lines"


def _section_numbers(markdown: str) -> set[str]:
    return set(re.findall(r"^#{2,3} (\d+)\.", markdown, re.M))


def dangling_sections(texts: dict[str, str]) -> list[str]:
    """The ``§N`` references in ``texts`` (name → text) that do not follow a document of
    ``docs/`` holding a heading ``## N.``."""
    broken = []
    for name, text in texts.items():
        for match in re.finditer(r"(\S*)\s*§(\d+)", text):
            document, section = match.group(1).strip("(`'\""), match.group(2)
            target = ROOT / document
            if not (document.startswith("docs/") and target.is_file()
                    and section in _section_numbers(target.read_text())):
                broken.append(f"{name}: {match.group(0)!r}")
    return broken


def test_every_section_reference_resolves() -> None:
    """``§N`` always follows the document it points into, and that document has a heading
    ``## N.``; a section sign without a document before it fails."""
    texts = {str(path.relative_to(ROOT)): text for path, text in _project_text().items()}
    assert dangling_sections(texts) == []


def test_the_reference_check_sees_a_dangling_section() -> None:
    # spelled in pieces: this file's own text goes through both checks too
    sign, nowhere = "\N{SECTION SIGN}", "docs" + "/nowhere.md"
    planted = {"a.py": f"see docs/design.md {sign}9", "b.py": f"as in DESIGN {sign}3",
               "c.py": f"{nowhere} {sign}1", "d.py": f"(docs/design.md {sign}4) holds"}
    assert dangling_sections(planted) == [
        f"a.py: 'docs/design.md {sign}9'", f"b.py: 'DESIGN {sign}3'",
        f"c.py: '{nowhere} {sign}1'"]


def test_every_cited_repository_path_exists() -> None:
    missing = []
    for path, text in _project_text().items():
        for cited in re.findall(r"(?<![\w/.])((?:docs|kernels|synnet_triton|benchmarks|tools)/"
                                r"[\w/.-]*\w)", text):
            if not (ROOT / cited).exists() and not (ROOT / (cited + ".py")).exists():
                missing.append(f"{path.relative_to(ROOT)}: {cited}")
    assert missing == []


def test_the_layout_document_names_every_module_and_only_modules_that_exist() -> None:
    layout = (ROOT / "docs" / "layout.md").read_text()
    named = set(re.findall(r"\b(\w+\.(?:py|sh))\b", layout))
    files = {path.name for path in MODULES.values()} | {
        path.name for folder in ("benchmarks", "tools", "tests")
        for pattern in ("*.py", "*.sh") for path in (ROOT / folder).glob(pattern)}
    assert sorted(named - files) == [], "named in docs/layout.md, not found"
    unnamed = sorted(str(path.relative_to(ROOT)) for path in MODULES.values()
                     if path.name not in ("__init__.py", "__main__.py")
                     and path.name not in named)
    assert unnamed == [], "missing from docs/layout.md"
    packages = {path.parent.name for name, path in MODULES.items() if name in PACKAGES}
    assert sorted(p for p in packages if f"{p}/" not in layout) == []


def test_only_the_command_lines_parse_arguments() -> None:
    """The CLI parses and maps options onto typed settings; nothing below it sees argparse."""
    parsing = sorted(name for name, path in MODULES.items()
                     if "argparse" in {alias.name for node in ast.walk(ast.parse(path.read_text()))
                                       if isinstance(node, ast.Import) for alias in node.names})
    assert parsing == ["synnet_triton.bench.cli", "synnet_triton.cli", "synnet_triton.cli.parser"]


def test_every_package_docstring_names_its_modules() -> None:
    """A package's docstring lists its modules (``name`` in double backquotes), every one."""
    missing = []
    for package in sorted(PACKAGES):
        path = MODULES[package]
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        for module in sorted(p.stem for p in path.parent.glob("*.py")
                             if p.stem not in ("__init__", "__main__")):
            if f"``{module}``" not in doc and f"{package}.{module}" not in doc:
                missing.append(f"{package}: {module}")
    assert missing == []
