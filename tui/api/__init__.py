"""The OpenAI-compatible client and other HTTP to the server; headless, never imports Textual.

- `client`: `ApiClient` (models, chat, completions, whole or streamed) and `ReplyStream`.
- `request`, `reply`: the frozen values going out and coming back.
- `sse`, `assemble`, `think`: pure parsing of event streams and bodies, testable on bytes.
- `timing`: TTFT, gaps, E2E, tokens/s, one definition each, shared with the benchmark.
- `curl`: the exact request as a shell command; `errors`: every failure as one sentence.
- `metrics_fetch`: one bounded scrape of `/metrics`.
"""
