"""The stand-ins, one program per module: each name the world puts on a host's PATH runs its own
module's function, and a call loads only that module (every call starts a Python process)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from cutover_tui.sandbox.standins import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_program_is_a_function_of_its_module(name):
    module = importlib.import_module(f"cutover_tui.sandbox.standins.{COMMANDS[name]}")
    assert callable(getattr(module, name))


def test_a_call_loads_only_its_own_program():
    # The script the world writes for each stand-in (sandbox/world.py), then what it loaded.
    script = ("import sys\nfrom cutover_tui.sandbox.standins import main\ntry:\n    main('jq')\n"
              "finally:\n    print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script, "-r", ".a.b"],
                            input='{"a": {"b": "deep"}}', capture_output=True, text=True,
                            timeout=30)
    assert (result.returncode, result.stdout) == (0, "deep\n"), result.stderr
    loaded = set(result.stderr.split())
    assert "cutover_tui.sandbox.standins.jq" in loaded
    others = {f"cutover_tui.sandbox.standins.{m}" for m in COMMANDS.values()} - {
        "cutover_tui.sandbox.standins.jq"}
    assert not loaded & (others | {"asyncio", "sqlite3", "urllib.request", "subprocess"})
