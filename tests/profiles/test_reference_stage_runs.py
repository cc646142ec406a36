"""Per-seed profile: each shipped reference profile's `[stages.*]` runs what that system's report ran.

Where the repository's sources record a report's setting (issue 2's verified runs, issue 16's report outline),
the profile holds it; where they are silent, the console's defaults stand (nothing invented).
"""

from __future__ import annotations

import math

import pytest

from tests.profiles.helpers import SHIPPED
from tui.profile import load_profile
from tui.profile.model import BenchSettings, PrecisionSettings

REFERENCE = ("qwen2-0.5b-base-ascend", "qwen2.5-7b-mindspore", "qwen2.5-coder-0.5b-ascend",
             "qwen3-4b-thinking-2507-fp8-ascend", "qwen3.5-2b-base-ascend")
BASE_MODELS = {"qwen2-0.5b-base-ascend", "qwen3.5-2b-base-ascend"}


@pytest.mark.parametrize("name", REFERENCE)
def test_gsm8k_as_the_reports_ran_it(name: str) -> None:
    """AISBench GSM8K: the first 200 test problems, 4-shot chain of thought, the last number, temperature 0."""
    accuracy = load_profile(SHIPPED / f"{name}.toml").stages.accuracy
    assert (accuracy.dataset, accuracy.limit, accuracy.shots, accuracy.grader) == ("gsm8k", 200, 4, "aisbench")
    assert accuracy.temperature == 0.0 and accuracy.top_p is None
    assert accuracy.mode == ("completion" if name in BASE_MODELS else "chat")
    # 512 tokens, as the reports; the thinking model reasons first and gets room for it.
    assert accuracy.max_tokens == (4096 if "thinking" in name else 512)


def test_what_the_sources_record_is_what_the_profiles_run() -> None:
    fp8 = load_profile(SHIPPED / "qwen3-4b-thinking-2507-fp8-ascend.toml").stages
    serve = fp8.bench.serve
    assert (serve.num_prompts, serve.random_input_len, serve.random_output_len, serve.request_rate) == (32, 128, 128, 4)
    assert fp8.precision.thresholds.relative_error_max == 0.01
    base35 = load_profile(SHIPPED / "qwen3.5-2b-base-ascend.toml").stages.bench
    assert (base35.latency.runs, base35.latency.max_tokens) == (10, 50)
    assert (base35.concurrency.requests, base35.concurrency.concurrency) == (50, 10)
    coder = load_profile(SHIPPED / "qwen2.5-coder-0.5b-ascend.toml").stages.evidence
    assert (coder.mode, coder.prompts) == ("chat", ("say hi", "Write a Python function to reverse a string."))
    base2 = load_profile(SHIPPED / "qwen2-0.5b-base-ascend.toml").stages.evidence
    assert base2.mode == "completion" and base2.prompts[:5] == (
        "The capital of France is", "The chemical symbol for water is", "def hello(name):\n    return", "中国的首都是",
        "Complete the sequence: 2, 4, 6, 8,")


@pytest.mark.parametrize("name", REFERENCE)
def test_where_the_sources_are_silent_the_defaults_stand(name: str) -> None:
    stages = load_profile(SHIPPED / f"{name}.toml").stages
    defaults_bench, defaults_precision = BenchSettings(), PrecisionSettings()
    if name != "qwen3-4b-thinking-2507-fp8-ascend":
        assert stages.bench.serve == defaults_bench.serve and math.isinf(stages.bench.serve.request_rate)
        assert stages.precision == defaults_precision
    if name not in BASE_MODELS:  # the base models' only own setting is a sentence-start prompt
        assert stages.bench.latency == defaults_bench.latency
        assert stages.bench.concurrency == defaults_bench.concurrency
    else:
        assert (stages.bench.latency.runs, stages.bench.latency.max_tokens) == (10, 50)
        assert (stages.bench.concurrency.requests, stages.bench.concurrency.concurrency) == (50, 10)
    thresholds = stages.precision.thresholds
    assert (thresholds.top1_agreement_min, thresholds.top5_overlap_min, thresholds.cosine_min) == (0.95, 0.9, 0.99)
