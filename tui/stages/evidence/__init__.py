"""The inference-evidence stage: a fixed prompt set at temperature 0, each sent twice, and the API exchanges
(`/v1/models`, `/version`, one chat, one completion) as copy-pastable curl with the server's answers.

`python -m tui.stages.evidence --url URL …` speaks the stage protocol; `npu-console evidence` wraps it.
"""
