"""The few-shot chain-of-thought prompt, in chat form (the default) or as one completion string.

Chat form, as operators run AISBench's 4-shot CoT chat prompt: each example is a user turn
`Question: …\\nLet's think step by step\\nAnswer:` and an assistant turn with the worked steps ending
`The answer is N`; the problem is the last user turn. Completion form joins the same turns into one
text (`Answer:` then the steps on the next line, a blank line between examples) and ends after the
problem's `Answer:`, for base models without a chat template.
"""

from __future__ import annotations

from typing import Any, Literal

from tui.stages.accuracy.dataset import Problem

PromptMode = Literal["chat", "completion"]
MODES: tuple[PromptMode, ...] = ("chat", "completion")


def question_turn(question: str) -> str:
    return f"Question: {question}\nLet's think step by step\nAnswer:"


def worked_answer(example: Problem) -> str:
    return f"{example.reasoning}\nThe answer is {example.reference}"


def chat_messages(problem: Problem, examples: list[Problem]) -> list[dict[str, str]]:
    """The messages of one chat request: the examples as user/assistant turns, then the problem."""
    messages: list[dict[str, str]] = []
    for example in examples:
        messages.append({"role": "user", "content": question_turn(example.question)})
        messages.append({"role": "assistant", "content": worked_answer(example)})
    messages.append({"role": "user", "content": question_turn(problem.question)})
    return messages


def completion_prompt(problem: Problem, examples: list[Problem]) -> str:
    """The text of one completion request: the examples worked out, then the problem up to `Answer:`."""
    parts = [f"{question_turn(example.question)}\n{worked_answer(example)}\n\n" for example in examples]
    parts.append(question_turn(problem.question) + "\n")
    return "".join(parts)


def request_body(mode: PromptMode, model: str, problem: Problem, examples: list[Problem], *, max_tokens: int,
                 temperature: float, top_p: float | None, stream: bool, seed: int | None = None) -> dict[str, Any]:
    """The JSON body of the request for one problem (no stop sequences: the graders cut at `Question:`)."""
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "temperature": temperature, "stream": stream}
    if mode == "chat":
        body["messages"] = chat_messages(problem, examples)
    else:
        body["prompt"] = completion_prompt(problem, examples)
    if top_p is not None:
        body["top_p"] = top_p
    if seed is not None:
        body["seed"] = seed
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body
