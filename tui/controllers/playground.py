"""The Playground area: send, stream, cancel, options, presets, history.

A reply streams in a worker, which never touches the view: it posts what has
arrived (`ReplyStarted`, `ReplyDelta` at most 25 times a second, not once per
token, `ReplyFinished`) and the handlers here draw it. The view follows the
bottom only when the reader is there, Esc cancels and keeps what had arrived,
and every request and reply goes to the run's `chat.jsonl` as it happens.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from tui.api.client import ApiClient
from tui.api.curl import as_curl
from tui.api.errors import ApiError
from tui.api.reply import Reply
from tui.controllers.base import Controller
from tui.controllers.messages import (
    ConversationReopened,
    PlaygroundSettingsChanged,
    PromptPicked,
    ReplyDelta,
    ReplyFinished,
    ReplyStarted,
)
from tui.failures import os_error_reason
from tui.files.runs import safe_name
from tui.playground.journal import ChatJournal, journals_under, read_conversations
from tui.playground.state import PlaygroundState
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.clipboard import clipboard_sentence
from tui.screens.options import Options, OptionsScreen
from widgets.chat_turn import ChatTurn
from widgets.playground_view import PlaygroundView

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp

REPAINT_EVERY_S = 1 / 25  # at most 25 redraws a second while tokens stream (the issue allows ~30)


def reply_stats(reply: Reply) -> str:
    """`TTFT 123 ms · 45.6 tok/s · 128 tokens · stop` (an estimate is labelled as one)."""
    timings = reply.timings
    parts = []
    if timings.ttft_ms is not None:
        parts.append(f"TTFT {timings.ttft_ms:.0f} ms")
    if timings.tokens_per_s is not None:
        parts.append(f"{timings.tokens_per_s:.1f} tok/s")
    if timings.output_tokens is not None:
        estimated = " (estimated: the server sent no usage)" if timings.output_tokens_estimated else ""
        parts.append(f"{timings.output_tokens} tokens{estimated}")
    if timings.e2e_ms is not None:
        parts.append(f"{timings.e2e_ms / 1000:.2f} s")
    parts.append(reply.finish_reason or ("cancelled" if reply.partial else "no finish reason"))
    return " · ".join(parts)


class PlaygroundController(Controller):
    """Owns the conversation (`state`) and the last exchange (for the copy keys)."""

    def __init__(self, app: NpuConsoleApp) -> None:
        super().__init__(app)
        profile = app.session.profile
        self.state = PlaygroundState.from_profile(profile) if profile else PlaygroundState()
        self._state_profile = profile  # the profile `state` was made from: an equal one again keeps the conversation
        self._last_exchange: tuple[str, Reply | None, Any] | None = None  # prompt, reply, the HttpRequest
        self._reply_ids = itertools.count(1)
        self._turns: dict[int, ChatTurn] = {}  # the turns whose reply is streaming, by their message's reply_id

    def use_profile(self) -> None:
        """A new profile: a new conversation with its settings (the profile it already has: nothing changes)."""
        profile = self.session.profile
        if profile == self._state_profile:
            return
        self._state_profile = profile
        self.state = PlaygroundState.from_profile(profile) if profile else PlaygroundState()

    def _playground_view(self) -> PlaygroundView | None:
        views = self.main.query(PlaygroundView)
        return views.first() if views else None

    def show_settings(self) -> None:
        view = self._playground_view()
        if view is None:
            return
        state = self.state
        line = Text(no_wrap=False)
        line.append(state.mode, style="bold")
        line.append(f" · {self._api_root()}/v1", style="underline")
        line.append(f" · model {state.model or 'the first the server lists'}")
        sampling = state.sampling
        for name, label in (("max_tokens", "max"), ("temperature", "temp"), ("top_p", "top_p"), ("seed", "seed")):
            value = getattr(sampling, name)
            if value is not None:
                line.append(f" · {label} {value:g}" if isinstance(value, float) else f" · {label} {value}")
        if state.mode == "chat" and state.history:
            line.append(f" · {len(state.history) // 2} turn(s) so far")
        line.append("\ntype to write a prompt · Enter send · Esc cancel/leave · ^T chat/completion · ^N new · "
                    "^B edit last · ^O options · "
                    "^G presets · ^R history · ^Y copy reply · ^L copy curl", style="dim")
        view.show_settings(line)

    def _api_root(self) -> str:
        profile = self.session.profile
        return self.app.server.status.url or (profile.base_url if profile else "http://127.0.0.1:8000")

    def _client(self) -> ApiClient:
        profile = self.session.profile
        return ApiClient(self._api_root(), api_key_env=profile.server.api_key_env if profile else None,
                         transport=self.session.http_transport, profile=profile.name if profile else None)

    # ---- what the view asks for --------------------------------------------------------------

    def send(self, prompt: str) -> None:
        self.worker(self._stream_reply, prompt, group="playground-reply", exclusive=True)
        self.show_settings()

    def cancel(self) -> None:
        for worker in self.app.workers:
            if worker.group == "playground-reply":
                worker.cancel()
        self.show_settings()

    async def toggle_mode(self) -> None:
        self.state.toggle_mode()
        await self._clear_transcript()
        self.app.notify(f"Playground in {self.state.mode} mode; a new conversation starts.")
        self.show_settings()

    async def new_conversation(self) -> None:
        self.state.new_conversation()
        await self._clear_transcript()
        self.show_settings()

    def edit_options(self) -> None:
        self.worker(self._edit_options, group="playground-dialog", exclusive=True)
        self.show_settings()

    def pick_preset(self) -> None:
        self.worker(self._pick_preset, group="playground-dialog", exclusive=True)
        self.show_settings()

    def reopen_history(self) -> None:
        self.worker(self._reopen_history, group="playground-dialog", exclusive=True)
        self.show_settings()

    async def edit_last(self) -> None:
        """Take the last exchange back: its prompt returns to the box, to be edited and sent again."""
        await self._edit_last()
        self.show_settings()

    def copy_reply(self) -> None:
        self._copy("copy_reply")
        self.show_settings()

    def copy_curl(self) -> None:
        self._copy("copy_curl")
        self.show_settings()

    async def _edit_last(self) -> None:
        view = self._playground_view()
        shown = list(self.main.query(ChatTurn))
        if view is None or not shown or view.streaming:
            self.app.notify("Nothing to edit (or a reply is still streaming).", severity="warning")
            return
        prompt = self.state.take_back_last(shown[-1].prompt)
        await shown[-1].remove()
        view.set_prompt(prompt)

    async def _clear_transcript(self) -> None:
        view = self._playground_view()
        if view is not None:
            await view.clear()

    def _copy(self, what: str) -> None:
        if self._last_exchange is None:
            self.app.notify("Nothing sent yet.", severity="warning")
            return
        _, reply, http_request = self._last_exchange
        if what == "copy_curl":
            self.app.copy_to_clipboard(as_curl(http_request))
            self.app.notify(clipboard_sentence("the exact request as a curl command (the API key as its variable)",
                                           self.session.env, "The request is also in the run's chat.jsonl."))
        elif reply is not None:
            self.app.copy_to_clipboard(reply.text)
            self.app.notify(clipboard_sentence(f"the reply ({len(reply.text)} characters)", self.session.env,
                                           "The reply is also in the run's chat.jsonl."))

    # ---- streaming ---------------------------------------------------------------------------

    async def _stream_reply(self, prompt: str) -> None:
        """Send `prompt` and stream the reply; the turn is drawn by the handlers of the messages posted here."""
        state = self.state
        try:
            run_dir: Path | None = await asyncio.to_thread(self.session.ensure_run_dir)
        except OSError as error:  # the chat works without its journal; say so once
            run_dir = None
            self.app.notify(f"This chat is not saved: no run folder ({os_error_reason(error)}).", title="Chat journal",
                            severity="error", timeout=10)
        journal = ChatJournal(run_dir)
        reply_id = next(self._reply_ids)
        self.app.post_message(ReplyStarted(reply_id, prompt, "you" if state.mode == "chat" else "prompt"))
        answer: list[str] = []
        thinking: list[str] = []
        stream = None
        cancelled = told = False
        try:
            async with self._client() as client:
                if state.model is None:
                    try:
                        models = await client.list_models()
                    except ApiError as error:
                        told = True
                        self.app.post_message(ReplyFinished(reply_id, None, error=str(error)))
                        return
                    state.model = models[0].id if models else None
                request = state.request(prompt)
                stream = client.stream(request)
                self._last_exchange = (prompt, None, stream.request)
                unsaved = await asyncio.to_thread(journal.request, state.conversation_id, state.mode,
                                                  state.model or "", self._api_root(), stream.request.json_body(),
                                                  prompt, state.system)
                if unsaved is not None:
                    self.app.notify(unsaved, title="Chat journal", severity="error", timeout=10)
                posted_at = 0.0
                async with stream:
                    async for delta in stream:
                        answer.append(delta.text)
                        thinking.append(delta.reasoning)
                        now = time.monotonic()
                        if now - posted_at >= REPAINT_EVERY_S:
                            posted_at = now
                            self.app.post_message(ReplyDelta(reply_id, "".join(answer), "".join(thinking)))
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if stream is None:  # it ended before the request went out: nothing to keep or journal
                if not told:
                    self.app.post_message(ReplyFinished(reply_id, None, cancelled=cancelled,
                                                        error=None if cancelled else "The request was not sent."))
            else:
                reply = stream.reply if stream.finished else Reply(
                    text="".join(answer), reasoning="".join(thinking), partial=True, error="cancelled")
                self._keep(prompt, reply, stream.request)
                unsaved = None
                try:  # journalled (a partial reply too) before the turn is drawn as ended
                    unsaved = await asyncio.to_thread(journal.reply, state.conversation_id, reply.text,
                                                      reply.reasoning, reply.finish_reason, reply.error,
                                                      reply.partial, reply.timings.to_json())
                finally:
                    self.app.post_message(ReplyFinished(reply_id, reply, cancelled=cancelled))
                if unsaved is not None:
                    self.app.notify(unsaved, title="Chat journal", severity="error", timeout=10)

    def _keep(self, prompt: str, reply: Reply, http_request: Any) -> None:
        """Remember the exchange (for the copy keys) and, when it is complete, the turn (for the next prompt)."""
        self._last_exchange = (prompt, reply, http_request)
        if reply.ok and not reply.partial:
            self.state.remember(prompt, reply.text)

    # ---- the reply's messages ----------------------------------------------------------------

    async def on_reply_started(self, message: ReplyStarted) -> None:
        view = self._playground_view()
        if view is None:
            return
        self._turns[message.reply_id] = await view.start_turn(message.prompt, message.label)
        view.streaming = True

    def on_reply_delta(self, message: ReplyDelta) -> None:
        view, turn = self._playground_view(), self._turns.get(message.reply_id)
        if view is not None and turn is not None:
            view.update_turn(turn, message.text, message.reasoning)

    def on_reply_finished(self, message: ReplyFinished) -> None:
        """Draw the final text and numbers (the sentence why, when it failed or was cancelled)."""
        view, turn = self._playground_view(), self._turns.pop(message.reply_id, None)
        if view is not None:
            view.streaming = bool(self._turns)
        reply = message.reply
        if view is not None and turn is not None:
            if reply is None:
                turn.finish("", "Cancelled (Esc) before the request was sent." if message.cancelled
                            else message.error)
            else:
                view.update_turn(turn, reply.text, reply.reasoning)
                error = "Cancelled (Esc): the text above is what had arrived." if message.cancelled else reply.error
                turn.finish(reply_stats(reply), error, reply.logprobs)
        self.show_settings()

    # ---- dialogs -----------------------------------------------------------------------------

    async def _edit_options(self) -> None:
        models: list[str] = []
        async with self._client() as client:
            try:
                models = [model.id for model in await asyncio.wait_for(client.list_models(), 3.0)]
            except (ApiError, asyncio.TimeoutError):  # the form works without the list; the server may be down
                models = []
        state = self.state
        options = await self.app.push_screen_wait(OptionsScreen(Options(state.model, state.system, state.sampling),
                                                                models))
        if options is not None:
            state.model, state.system, state.sampling = options.model, options.system, options.sampling
            self.app.post_message(PlaygroundSettingsChanged())

    async def _pick_preset(self) -> None:
        profile = self.session.profile
        presets = list(profile.playground.presets) if profile else []
        if profile is not None and self.state.mode == "completion":
            presets += [p for p in profile.stages.evidence.prompts if p not in presets]
        if not presets:
            self.app.notify("This profile has no prompt presets.", severity="warning")
            return
        choices = [Choice(str(i), preset.replace("\n", "⏎")[:90]) for i, preset in enumerate(presets)]
        picked = await self.app.push_screen_wait(ChoiceScreen("Prompt presets", choices))
        if picked is not None:
            self.app.post_message(PromptPicked(presets[int(picked)]))

    async def _reopen_history(self) -> None:
        profile = self.session.profile
        journals = await asyncio.to_thread(journals_under, self.session.runs_root,
                                           safe_name(profile.name) if profile else None)
        conversations = await asyncio.to_thread(read_conversations, journals)
        if not conversations:
            self.app.notify("No saved conversations yet for this profile.")
            return
        choices = [
            Choice(str(i), c.title, f"{c.mode} · {len(c.turns)} turn(s) · {c.path.parent.name}")
            for i, c in enumerate(conversations[:50])
        ]
        picked = await self.app.push_screen_wait(ChoiceScreen("Reopen a conversation", choices))
        if picked is None:
            return
        conversation = conversations[int(picked)]
        self.state.reopen(conversation)
        self.app.post_message(ConversationReopened(conversation))
        self.app.notify(f"Reopened: {conversation.title.rstrip('.')}. New prompts continue it.")

    # ---- what the dialogs chose --------------------------------------------------------------

    def on_playground_settings_changed(self, message: PlaygroundSettingsChanged) -> None:
        self.show_settings()

    def on_prompt_picked(self, message: PromptPicked) -> None:
        view = self._playground_view()
        if view is not None:
            view.set_prompt(message.text)

    async def on_conversation_reopened(self, message: ConversationReopened) -> None:
        """The reopened conversation's turns, drawn as they were saved."""
        view, conversation = self._playground_view(), message.conversation
        if view is None:
            return
        await view.clear()
        for saved in conversation.turns:
            turn = await view.start_turn(saved.prompt, "you" if conversation.mode == "chat" else "prompt")
            view.update_turn(turn, saved.reply or "", saved.reasoning)
            turn.finish("saved " + (saved.finish_reason or ""), saved.error)
        self.show_settings()

