"""A module imports only its own layer and those below it (docs/architecture.md), at the top of the module unless
a comment on the import's line or the line above says why it is deferred (a heavy optional dependency)."""

from __future__ import annotations

import ast
import tokenize
from pathlib import Path

import spectrogen

PACKAGE = Path(spectrogen.__file__).parent
LAYERS = [
    {"__init__", "errors", "atomic", "paths", "registry", "config"},
    {"spectral"},
    {"data"},
    {"losses"},
    {"models"},
    {"training"},
    {"sampling"},
    {"metrics"},
    {"report"},
    {"api", "demo"},
    {"cli", "__main__"},
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def layer(module: str) -> int:
    """Returns the layer of a dotted module name of the package ("spectrogen.data.info" -> 2)."""
    parts = module.split(".")
    return LAYER_OF[parts[1]] if len(parts) > 1 else LAYER_OF["__init__"]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(tree: ast.AST):
    """Yields (node, imported module, inside a function) of every import of the package in `tree`."""
    def visit(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                yield from ((child, alias.name, inside) for alias in child.names
                            if alias.name.split(".")[0] == "spectrogen")
            elif isinstance(child, ast.ImportFrom) and child.level:
                raise AssertionError(f"line {child.lineno}: write the import absolute (spectrogen.…)")
            elif isinstance(child, ast.ImportFrom) and child.module.split(".")[0] == "spectrogen":
                for alias in child.names:
                    # `from spectrogen import cli` names a layer, `from spectrogen import __version__` the base
                    named = child.module == "spectrogen" and alias.name in LAYER_OF
                    yield child, f"spectrogen.{alias.name}" if named else child.module, inside
            yield from visit(child, inside)

    yield from visit(tree, False)


def commented_lines(path: Path) -> set[int]:
    with path.open("rb") as handle:
        return {token.start[0] for token in tokenize.tokenize(handle.readline) if token.type == tokenize.COMMENT}


def violations() -> tuple[list[str], list[str]]:
    """Returns (upward imports, unexplained imports inside functions), one line each."""
    upward, lazy = [], []
    for path in modules():
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        comments = commented_lines(path)
        where = path.relative_to(PACKAGE.parent)
        for node, target, inside in package_imports(tree):
            if layer(target) > layer(name):
                upward.append(f"{where}:{node.lineno} imports {target}")
            if inside and not {node.lineno, node.lineno - 1} & comments:
                lazy.append(f"{where}:{node.lineno} imports {target} inside a function")
    return list(dict.fromkeys(upward)), list(dict.fromkeys(lazy))  # one line per import statement


def test_every_folder_has_a_layer():
    folders = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in modules()}
    assert folders <= set(LAYER_OF), f"place {sorted(folders - set(LAYER_OF))} in LAYERS"


def test_the_check_sees_an_upward_import_inside_a_function():
    (_, target, inside), = package_imports(ast.parse("def f():\n    from spectrogen.report import write_report\n"))
    assert inside and layer(target) > layer("spectrogen.models.method")


def test_no_module_imports_a_layer_above_it():
    upward, _ = violations()
    assert not upward, "\n".join(upward)


def test_package_imports_sit_at_the_top_unless_a_comment_says_why():
    _, lazy = violations()
    assert not lazy, "\n".join(lazy)
