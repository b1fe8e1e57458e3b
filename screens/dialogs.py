"""Typed modal dialogs, awaited by the flow (``push_screen_wait`` from a worker):
confirm, typed confirmation (the button stays disabled until the text matches exactly, and
while any precondition fails), and a reason / note prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

DIALOG_CSS = """
{name} {{
    align: center middle;
    background: $background 60%;
}}
{name} > Vertical {{
    width: 84;
    max-width: 95%;
    height: auto;
    max-height: 90%;
    border: thick $primary;
    background: $surface;
    padding: 1 2;
}}
{name} .title {{
    /* The dialog's width, not the text's: a long question (a droplet described in full)
       wraps instead of running past the border. */
    width: 100%;
    text-style: bold;
    margin-bottom: 1;
}}
{name} .detail {{
    color: $text-muted;
    margin-bottom: 1;
    height: auto;
    max-height: 16;
}}
{name} Horizontal {{
    height: auto;
    align-horizontal: right;
    margin-top: 1;
}}
{name} Button {{
    margin-left: 2;
}}
"""


class Question:
    """A dialog a step or an action waits on for its answer (mixed into the dialog's class):
    nothing may replace it unanswered (the command palette's jump: commands.py)."""


def answer_once(screen: Screen[Any], result: Any) -> None:
    """Dismiss ``screen`` with ``result`` while it is the screen on top. A key and a button
    press can both be queued for the same dialog (``y`` right after Enter on Yes); Textual's
    ``dismiss`` pops whatever is on top, so a second answer would take the phase screen
    beneath with it and leave the operator a blank screen."""
    if screen.app.screen is not screen:  # guard: dialog-answers-once
        return
    screen.dismiss(result)


class ConfirmDialog(Question, ModalScreen[bool]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS = [Binding("escape", "answer(False)", "Cancel"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes", no: str = "No",
                 danger: bool = False) -> None:
        super().__init__()
        self.question, self.detail, self.yes, self.no, self.danger = (question, detail, yes, no,
                                                                      danger)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, classes="title")
            if self.detail:
                with VerticalScroll(classes="detail"):
                    yield Static(Text(self.detail))
            with Horizontal():
                yield Button(self.no, id="no")
                yield Button(self.yes, id="yes", variant="error" if self.danger else "primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        answer_once(self, event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        answer_once(self, value)


class TypedConfirmDialog(Question, ModalScreen[bool]):
    """Type ``expected`` exactly to enable the button; preconditions are listed with their
    reasons and any failing one keeps the button disabled. There is no way around it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TypedConfirmDialog") + """
    TypedConfirmDialog .ok { color: $success; }
    TypedConfirmDialog .blocked { color: $error; text-style: bold; }
    TypedConfirmDialog #expected { margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, expected: str, detail: str = "",
                 preconditions: Sequence[Any] = (), action: str = "Destroy") -> None:
        super().__init__()
        self.prompt, self.expected, self.detail = prompt, expected, detail
        self.preconditions = list(preconditions)
        self.action = action

    @property
    def blocked(self) -> bool:
        return any(not p.ok for p in self.preconditions)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt, classes="title")
            if self.detail:
                yield Static(Text(self.detail), classes="detail")
            for check in self.preconditions:
                mark = "✓" if check.ok else "✗"
                yield Static(Text(f"{mark} {check.name}: {check.detail}"),
                             classes="ok" if check.ok else "blocked")
            yield Static(Text.assemble("Type ", (self.expected, "bold"), " to confirm:"),
                         id="expected")
            yield Input(placeholder=self.expected, id="typed")
            yield Static("", id="why")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.action, id="confirm", variant="error", disabled=True)

    def on_mount(self) -> None:
        self._update(self.query_one("#typed", Input).value)
        self.query_one("#typed", Input).focus()

    def _update(self, typed: str) -> None:
        button = self.query_one("#confirm", Button)
        why = self.query_one("#why", Static)
        if self.blocked:
            failing = ", ".join(p.name for p in self.preconditions if not p.ok)
            why.update(Text(f"{self.action} is disabled: not met: {failing}", style="red"))
            button.disabled = True
        elif typed != self.expected:
            why.update(Text("the text does not match yet", style="dim"))
            button.disabled = True
        else:
            why.update(Text("matches", style="green"))
            button.disabled = False

    @on(Input.Changed, "#typed")
    def typed(self, event: Input.Changed) -> None:
        self._update(event.value)

    @on(Input.Submitted, "#typed")
    def submitted(self, event: Input.Submitted) -> None:
        if not self.query_one("#confirm", Button).disabled:
            answer_once(self, True)

    @on(Button.Pressed, "#confirm")
    def confirm(self) -> None:
        typed_matches = self.query_one("#typed", Input).value == self.expected
        if typed_matches and not self.blocked:
            answer_once(self, True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        answer_once(self, False)


class ReasonDialog(Question, ModalScreen[str | None]):
    """Ask for a reason or a note; OK stays disabled while a required text is empty."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ReasonDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, detail: str = "", required: bool = True,
                 placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.detail, self.required = title, detail, required
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            if self.detail:
                yield Static(Text(self.detail), classes="detail")
            yield Input(placeholder=self.placeholder or "reason", id="reason")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary", disabled=self.required)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Changed, "#reason")
    def changed(self, event: Input.Changed) -> None:
        self.query_one("#ok", Button).disabled = self.required and not event.value.strip()

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#ok")
    def ok(self) -> None:
        value = self.query_one("#reason", Input).value.strip()
        if value or not self.required:
            answer_once(self, value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        answer_once(self, None)
