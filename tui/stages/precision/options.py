"""The options the precision check shares between `npu-console precision` and `python -m tui.stages.precision`.

Both take the same model, prompt, API-mode and threshold options; they differ in their defaults: the
stage has concrete ones, while the command leaves them unset so that a `--profile` can fill them in.
Defining them once keeps the two from drifting. Stdlib only: the command imports this without torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from tui.stages.precision.loading import DEVICE_CHOICES, DTYPE_NAMES
from tui.stages.precision.verdict import Thresholds

THRESHOLD_FLAGS = (
    ("--top1-min", "top1_agreement_min"),
    ("--top5-min", "top5_overlap_min"),
    ("--cosine-min", "cosine_min"),
    ("--relative-error-max", "relative_error_max"),
    ("--kl-max", "kl_max"),
    ("--noise-floor-ratio-max", "noise_floor_ratio_max"),
)
DEFAULT_TOP_K = 5


def parse_threshold(text: str) -> float | None:
    """A threshold value: a number, or `none` (report the figure without judging on it)."""
    if text.strip().lower() in ("none", "off", "null", ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def add_check_arguments(parser: argparse.ArgumentParser, *, from_profile: bool) -> None:
    """The shared options; with `from_profile`, no defaults (the profile's, then the stage's, apply)."""
    fallback = " (default: the profile's, else {})" if from_profile else " (default {})"

    def default(value: Any) -> Any:
        return None if from_profile else value

    parser.add_argument("--model", required=not from_profile, metavar="DIR",
                        help="the model folder, the reference side" + (
                            " (default: the profile's model path)" if from_profile else ""))
    parser.add_argument("--candidate-model", metavar="DIR",
                        help="another folder on the candidate side (e.g. a converted checkpoint); default --model")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default=default("auto"),
                        help="the candidate device: npu, cuda or cpu; auto takes the first present"
                             + fallback.format("auto"))
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default=default("bfloat16"),
                        help="the candidate dtype" + fallback.format("bfloat16"))
    parser.add_argument("--prompts", metavar="F",
                        help="prompts file: a JSON list of strings, or one prompt per line with \\n for a newline")
    parser.add_argument("--prompt", action="append", default=[], metavar="TEXT", help="a prompt (repeatable)")
    parser.add_argument("--json", metavar="F", help="also write the result object to F")
    parser.add_argument("--url", metavar="URL",
                        help="API mode: compare a running server's top-k logprobs with the CPU reference")
    parser.add_argument("--served-model", metavar="NAME", help="API mode: the model name (default: /v1/models)")
    parser.add_argument("--api-key-env", metavar="VAR", help="API mode: the environment variable with the API key")
    parser.add_argument("--top-k", type=int, default=default(DEFAULT_TOP_K), metavar="K",
                        help=f"API mode: logprobs to ask for, 1-20 (default {DEFAULT_TOP_K})")
    parser.add_argument("--no-noise-floor", action="store_true",
                        help="skip the CPU run in the candidate dtype (the noise-floor ratio is then null)")
    parser.add_argument("--skip-memory-check", action="store_true",
                        help="load even when the available RAM looks too small for a float32 copy")
    thresholds = Thresholds()
    for flag, attr in THRESHOLD_FLAGS:
        # the command keeps the text: `none` given must stay apart from "not given, take the profile's"
        parser.add_argument(flag, dest=attr, type=str if from_profile else parse_threshold,
                            default=default(getattr(thresholds, attr)),
                            metavar="X", help="threshold" + fallback.format(getattr(thresholds, attr))
                            + "; 'none' reports without judging")
