"""Rooms of one purpose (issue 12): no module of the core (``cutover_tui/``) or the UI
(``screens/``) is over 400 lines. A module past the limit is split by what its parts do."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 400


def _line_counts() -> dict[str, int]:
    counts = {}
    for package in ("cutover_tui", "screens"):
        for path in sorted((ROOT / package).rglob("*.py")):
            counts[path.relative_to(ROOT).as_posix()] = len(path.read_text().splitlines())
    return counts


def test_no_module_is_over_400_lines():
    counts = _line_counts()
    assert len(counts) > 50  # both packages were read
    over = {path: n for path, n in counts.items() if n > LIMIT}
    assert not over, (
        f"modules over {LIMIT} lines: " + ", ".join(f"{p} ({n})" for p, n in over.items())
        + "; split each by purpose (one room, one purpose)")
