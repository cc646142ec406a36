"""The accuracy stage: GSM8K against an OpenAI-compatible server, graded three ways.

Run as ``python -m tui.stages.accuracy --url URL …`` (JSON-lines events on stdout, CONTRACTS.md
"Stages") or through ``npu-console accuracy``. Modules, one concern each: `dataset` (the shipped
GSM8K split and few-shot examples, `data/gsm8k/` with its MIT licence), `prompts` (few-shot chain
of thought, chat or completion), `graders` (`aisbench`, `lm-eval`, `boxed`), `client` (one request
over aiohttp, streamed or whole), `items` (the per-problem `items.jsonl`), `options` (the shared
command line), `stage` (the run end to end) and `compare` (two runs problem by problem).

Stdlib and aiohttp only (plus the console's own `tui.api` framing): the stage runs under the
console's interpreter, and Textual, httpx and numpy stay out of it.
"""
