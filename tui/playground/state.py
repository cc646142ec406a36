"""The playground's state: mode, model, parameters, and the conversation so far (no Textual).

Kept apart from the widgets so the request the playground sends, and what it
remembers of a conversation, can be tested without a screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tui.api.request import ChatRequest, CompletionRequest, Message, Sampling
from tui.playground.journal import Conversation, new_conversation_id
from tui.profile import Profile

Mode = Literal["chat", "completion"]


@dataclass
class PlaygroundState:
    """What the next request will be made of."""

    mode: Mode = "chat"
    model: str | None = None
    system: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    conversation_id: str = field(default_factory=new_conversation_id)
    history: list[Message] = field(default_factory=list)

    @classmethod
    def from_profile(cls, profile: Profile) -> PlaygroundState:
        settings = profile.playground
        return cls(
            mode=settings.mode,
            model=profile.server.served_model_name,
            system=settings.system,
            sampling=Sampling(max_tokens=settings.max_tokens, temperature=settings.temperature,
                              top_p=settings.top_p),
        )

    def request(self, prompt: str) -> ChatRequest | CompletionRequest:
        """The request for `prompt`: the next chat turn, or a raw completion (which has no history)."""
        if self.mode == "completion":
            return CompletionRequest(prompt=prompt, model=self.model, sampling=self.sampling)
        messages = (*self.history, Message("user", prompt))
        return ChatRequest(messages, model=self.model, system=self.system, sampling=self.sampling)

    def remember(self, prompt: str, answer: str) -> None:
        """A finished chat turn joins the history (completions are independent)."""
        if self.mode == "chat":
            self.history += [Message("user", prompt), Message("assistant", answer)]

    def take_back_last(self, prompt: str) -> str:
        """Drop the last exchange from the history (to edit its prompt and send it again); its prompt."""
        if self.mode == "chat" and len(self.history) >= 2 and self.history[-2].content == prompt:
            self.history = self.history[:-2]
        return prompt

    def new_conversation(self) -> None:
        self.conversation_id = new_conversation_id()
        self.history = []

    def reopen(self, conversation: Conversation) -> None:
        """Continue a conversation read back from a journal."""
        self.conversation_id = conversation.id
        self.mode = conversation.mode
        self.model = conversation.model or self.model
        self.system = conversation.system
        self.history = [Message(m["role"], m["content"]) for m in conversation.messages() if m["role"] != "system"]

    def toggle_mode(self) -> None:
        self.mode = "completion" if self.mode == "chat" else "chat"
        self.new_conversation()
