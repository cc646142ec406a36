"""The Playground area: a transcript of exchanges and the prompt line."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from widgets.area import AreaView
from widgets.chat_turn import ChatTurn


class PlaygroundView(AreaView):
    """Draws the settings line, the turns and the prompt box; posts what the operator asks for."""

    DEFAULT_CSS = """
    PlaygroundView { overflow-y: hidden; }
    PlaygroundView #pg-bar { height: auto; color: $text-muted; }
    PlaygroundView #transcript { height: 1fr; }
    PlaygroundView #prompt { margin-top: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "type_prompt", "Type a prompt"),
        Binding("escape", "cancel_or_leave", "Cancel / leave", show=False),
        Binding("ctrl+t", "toggle_mode", "Chat/completion"),
        Binding("ctrl+n", "new_conversation", "New chat"),
        Binding("ctrl+o", "options", "Options"),
        Binding("ctrl+g", "presets", "Presets"),
        Binding("ctrl+r", "history", "History"),
        Binding("ctrl+b", "edit_last", "Edit last", show=False),
        Binding("ctrl+y", "copy_reply", "Copy reply", show=False),
        Binding("ctrl+l", "copy_curl", "Copy curl", show=False),
    ]

    class SendPrompt(Message):
        """The operator sent `text` (Enter in the box)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class CancelReply(Message):
        """Esc while a reply streams: stop it, keep what has arrived."""

    class ToggleMode(Message):
        """Switch between chat and completion (a new conversation starts)."""

    class NewConversation(Message):
        """Start a new conversation."""

    class EditOptions(Message):
        """Open the options form (model, system prompt, sampling)."""

    class PickPreset(Message):
        """Pick one of the profile's prompt presets."""

    class ReopenHistory(Message):
        """Reopen a saved conversation."""

    class EditLast(Message):
        """Take the last exchange back into the box."""

    class CopyReply(Message):
        """Copy the last reply."""

    class CopyCurl(Message):
        """Copy the last request as a curl command."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.streaming = False

    def compose(self) -> ComposeResult:
        yield Static("", id="pg-bar")
        yield VerticalScroll(id="transcript", can_focus=True)
        yield Input(placeholder="Type a prompt; Enter sends. Esc cancels a reply; 1–4 (after Esc) switch areas.",
                    id="prompt", select_on_focus=False)

    def focus_target(self) -> Widget:
        # The transcript, so that 1–4 still switch areas; but what is typed here goes to the box
        # (`on_key`): a sentence typed after `3` or Esc must never reach the console's single-letter
        # keys (s stops the server).
        return self.transcript

    def on_key(self, event: events.Key) -> None:
        """With the playground shown but the box not focused (after 3, after Esc), typing goes to the box;
        only 1–4 (the areas) stay the console's keys here, and the control keys (^T, ^O…) keep working."""
        box = self.query_one("#prompt", Input)
        if box.has_focus or not event.is_printable or event.character is None or event.character in "1234":
            return
        event.stop()
        event.prevent_default()
        box.focus()
        box.insert_text_at_cursor(event.character)

    def action_type_prompt(self) -> None:
        self.query_one("#prompt", Input).focus()

    @property
    def transcript(self) -> VerticalScroll:
        return self.query_one("#transcript", VerticalScroll)

    # ---- drawing -------------------------------------------------------------------------------

    def show_settings(self, line: Text) -> None:
        self.query_one("#pg-bar", Static).update(line)

    async def start_turn(self, prompt: str, label: str) -> ChatTurn:
        turn = ChatTurn(prompt, label)
        follow = self._at_bottom()
        await self.transcript.mount(turn)
        if follow:
            self.transcript.scroll_end(animate=False)
        return turn

    def update_turn(self, turn: ChatTurn, answer: str, reasoning: str) -> None:
        follow = self._at_bottom()
        turn.show(answer, reasoning)
        if follow:
            self.transcript.scroll_end(animate=False, immediate=False)

    async def clear(self) -> None:
        await self.transcript.remove_children()

    def _at_bottom(self) -> bool:
        transcript = self.transcript
        return transcript.max_scroll_y == 0 or transcript.scroll_y >= transcript.max_scroll_y - 1

    # ---- input ---------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if text.strip():
            event.input.value = ""
            self.post_message(self.SendPrompt(text))

    def action_cancel_or_leave(self) -> None:
        if self.streaming:
            self.post_message(self.CancelReply())
        else:
            self.transcript.focus()  # give the single-letter keys back to the console

    def action_toggle_mode(self) -> None:
        self.post_message(self.ToggleMode())

    def action_new_conversation(self) -> None:
        self.post_message(self.NewConversation())

    def action_options(self) -> None:
        self.post_message(self.EditOptions())

    def action_presets(self) -> None:
        self.post_message(self.PickPreset())

    def action_history(self) -> None:
        self.post_message(self.ReopenHistory())

    def action_edit_last(self) -> None:
        self.post_message(self.EditLast())

    def action_copy_reply(self) -> None:
        self.post_message(self.CopyReply())

    def action_copy_curl(self) -> None:
        self.post_message(self.CopyCurl())

    def set_prompt(self, text: str) -> None:
        box = self.query_one("#prompt", Input)
        box.value = text
        box.focus()
