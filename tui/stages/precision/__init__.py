"""Precision stage: the same weights on the CPU in float32 and on a device in bf16, compared position by position.

Run as ``python -m tui.stages.precision --model DIR …`` (see ``__main__``); one module per concern:
``metrics`` (pure tensor math), ``layers`` (hidden-state alignment and first divergence), ``loading``
(device, dtype, memory check, model loading), ``forward`` (teacher-forced runs), ``verdict``
(thresholds and the noise floor), ``api_mode`` (a server's top-k logprobs), ``report`` (JSON and CSV).

Only the stdlib is imported at package level: the console imports nothing from here, and the stage
imports torch/transformers inside the functions that need them.
"""
