"""The core cannot reach the UI: no module under ``cutover_tui/`` imports ``screens`` or textual,
at module level or inside a function (every Import/ImportFrom node of its syntax tree, and
``importlib.import_module``/``__import__`` calls with a literal name). The wizard is found through
the ``cutover.ui`` entry point instead; without one, the CLI says so in a sentence.
``lint-imports`` (pyproject.toml) holds the same contract over the import graph."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

import cutover_tui
from cutover_tui import ui
from cutover_tui.cli import main
from cutover_tui.netguard import ENV_SWITCH
from cutover_tui.operator import HeadlessOperator

CORE = Path(cutover_tui.__file__).parent
FORBIDDEN = ("screens", "textual")


def _forbidden(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in FORBIDDEN)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name a (possibly relative) ``from … import`` names."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, node.module] if node.module else base)


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every import of ``screens``/textual in ``source``, wherever it sits, as ``line: name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            names = [base, *(f"{base}.{alias.name}" if base else alias.name
                             for alias in node.names)]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and node.args and isinstance(
                    node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{node.lineno}: {name}" for name in names if _forbidden(name)]
    return found


def test_the_walker_sees_imports_inside_functions_and_import_module_calls():
    source = ("import os\n"
              "def f():\n"
              "    from screens.app import CutoverApp\n"
              "class C:\n"
              "    def g(self):\n"
              "        import textual.app\n"
              "        importlib.import_module('screens.entry')\n"
              "        __import__('textual')\n"
              "from ..errors import CutoverError\n")
    assert forbidden_imports(source, "cutover_tui.sandbox.demo") == [
        "3: screens.app", "3: screens.app.CutoverApp", "6: textual.app", "7: screens.entry",
        "8: textual"]
    # A relative import stays inside the core; `from .. import screens` would not.
    assert forbidden_imports("from .. import screens\n", "cutover_tui.sandbox.demo") == []
    assert forbidden_imports("from ... import screens\n", "cutover_tui.sandbox.demo") == [
        "1: screens"]


def test_no_core_module_imports_screens_or_textual_anywhere():
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 40 and CORE / "cli.py" in modules
    found = {}
    for path in modules:
        hits = forbidden_imports(path.read_text(), _module_name(path),
                                 is_package=path.name == "__init__.py")
        if hits:
            found[str(path.relative_to(CORE.parent))] = hits
    assert found == {}


def test_the_cli_finds_the_wizard_through_its_entry_point():
    wizard = ui.find_wizard()
    assert type(wizard).__module__ == "screens.entry"
    assert callable(wizard.run) and callable(wizard.rehearse)


@pytest.mark.parametrize("args", [["run", "{runbook}"], ["demo"]])
def test_without_a_wizard_the_cli_says_so_in_a_sentence(monkeypatch, m11_path, args):
    monkeypatch.setattr(ui, "entry_points", lambda **_kw: [])
    result = CliRunner().invoke(main, [a.format(runbook=m11_path) for a in args])
    assert result.exit_code == 1, result.output
    assert "error: no wizard is installed" in result.output
    assert "run with --headless" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_demo_hands_the_wizard_the_one_function_that_opens_a_rehearsal(monkeypatch,
                                                                          tmp_path):
    from cutover_tui.sandbox.demo import REHEARSAL_TITLE, run_demo

    monkeypatch.setenv(ENV_SWITCH, "1")  # run_demo sets it; monkeypatch puts it back
    seen: dict[str, object] = {}

    class Wizard:
        def rehearse(self, open_rehearsal, operator: str, title: str) -> int:
            async def look() -> None:
                rehearsal = await open_rehearsal(HeadlessOperator(operator))
                try:
                    seen.update(title=title, started=rehearsal.started,
                                record=rehearsal.session.checklist.path,
                                runbook=rehearsal.book.runbook.id,
                                hosts=sorted(rehearsal.world.planned),
                                built=dict(rehearsal.world.hosts))
                finally:
                    await rehearsal.session.aclose()

            asyncio.run(look())
            return 0

    assert run_demo(headless=False, keep=tmp_path, operator="o", wizard=Wizard()) == 0
    assert seen == {"title": REHEARSAL_TITLE, "started": False,  # the wizard starts it
                    "record": tmp_path / "checklist.toml", "runbook": "m11-production-cutover",
                    "hosts": ["new", "old"],
                    "built": {}}  # keys and SSH servers (and asyncssh) come when it starts
