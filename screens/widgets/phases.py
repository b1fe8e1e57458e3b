"""The phase list: every phase with its progress glyphs, counts and planned vs actual time."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

GLYPHS = {"done": ("✓", "green"), "failed": ("✗", "bold red"), "running": ("▶", "yellow"),
          "skipped": ("↷", "cyan"), "interrupted": ("!", "magenta"), "pending": ("·", "dim")}


def glyph(state: str) -> Text:
    char, style = GLYPHS.get(state, ("?", "red"))
    return Text(char, style=style)


class PhaseList(Static):
    DEFAULT_CSS = """
    PhaseList {
        width: 34;
        height: 1fr;
        border: round $primary 50%;
        padding: 0 1;
    }
    """

    def show(self, rows: list[tuple[str, str, dict[str, int], str, str, bool]],
             current: str, compact: bool = False) -> None:
        """rows: (phase id, title, counts by state, planned, actual, passed)."""
        text = Text()
        for phase_id, title, counts, planned, actual, passed in rows:
            total = sum(counts.values())
            done = counts.get("done", 0) + counts.get("skipped", 0)
            if counts.get("failed"):
                mark = glyph("failed")
            elif counts.get("running"):
                mark = glyph("running")
            elif passed and total:
                mark = glyph("done")
            else:
                mark = glyph("pending")
            style = "reverse" if phase_id == current else ""
            label = "R" if phase_id == "R" else phase_id
            text.append(mark)
            width = 14 if compact else 24
            text.append(f" {label:<2} {title[:width]:<{width}}\n", style=style)
            text.append(f"     {done}/{total}" + ("" if compact else " done"), style="dim")
            if counts.get("failed"):
                text.append(f" ✗{counts['failed']}", style="red")
            text.append(f"  {actual or '–'}/{planned}\n" if compact else
                        f"  {actual or '–'} of {planned}\n", style="dim")
        self.update(text)
