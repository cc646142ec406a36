"""Will the engine accept the flags, and does the model allow the context length asked for.

Both fail a launch only after the engine has imported torch and its platform plugin: `vllm: error:
unrecognized arguments: --enforce-eagre` (exit 2), and `ValueError: User-specified max_model_len (4096)
is greater than the derived max_model_len (max_position_embeddings=512 …)`. Caught here, they cost
nothing. The flags are checked against the engine's own parser (`engine_flags`), never a list of ours.

Blocking (a subprocess, reading config.json): run in a thread.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from tui.profile import Profile
from tui.server.engine_flags import EngineFlags, engine_flags, normal
from tui.server.launch_plan import server_command
from tui.server.model_location import locate_model
from tui.server.preflight.check import Check, failed, passed, warned
from tui.server.preflight.plan_args import option_value

FLAGS_KEY = "flags"
CONTEXT_KEY = "max_model_len"
_LENGTH_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")


def given_flags(argv: Sequence[str], command_words: int) -> list[str]:
    """The option names in `argv` after the command itself (`vllm serve`), as written."""
    return [word.split("=", 1)[0] for word in argv[command_words:] if word.startswith("--")]


def check_flags(profile: Profile, env: Mapping[str, str], argv: Sequence[str], variant: str | None = None, *,
                flags: EngineFlags | None = None) -> Check:
    """Every `--flag` of the launch is one the installed engine's `serve` parser knows."""
    title = "Engine flags"
    if profile.runtime == "simulated":
        return passed(FLAGS_KEY, title, "the simulated server takes vLLM's flags as they are written")
    command = server_command(profile, variant)
    known = flags if flags is not None else engine_flags(command, env, profile.runtime)
    if known.problem is not None or not known.options:
        return warned(FLAGS_KEY, title, known.problem or "the engine listed no flags",
                      "Check the flags by hand with `vllm serve --help=all` in the serving environment.")
    written = dict.fromkeys(given_flags(argv, len(command)))
    unknown = [flag for flag in written if not known.accepts(flag)]
    version = f"vLLM {known.version}" if known.version else "the installed vLLM"
    if not unknown:
        source = " (cached)" if known.cached else ""
        return passed(FLAGS_KEY, title, f"{version} accepts all {len(given_flags(argv, 0))} flag(s){source}")
    choices = sorted({normal(option) for option in known.options if option.startswith("--")})
    described, fixes = [], []
    for flag in unknown:
        near = difflib.get_close_matches(normal(flag), choices, n=1, cutoff=0.75)
        described.append(f"{flag} (did you mean {near[0]}?)" if near else flag)
        key = normal(flag)[2:]
        fixes.append(f"Rename {key} to {near[0][2:]} in [server.flags]." if near
                     else f"Remove {key} from [server.flags] (or the variant).")
    return failed(FLAGS_KEY, title, f"{version} does not accept " + ", ".join(described), " ".join(fixes))


def model_context_limit(folder: Path) -> tuple[int | None, str | None]:
    """The model's position limit from config.json (text_config included), and the key that said it."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    for table in (config, config.get("text_config") if isinstance(config, dict) else None):
        if not isinstance(table, dict):
            continue
        for key in _LENGTH_KEYS:
            value = table.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                scaling = table.get("rope_scaling")
                if isinstance(scaling, dict) and isinstance(scaling.get("factor"), (int, float)):
                    return int(value * float(scaling["factor"])), f"{key} × rope_scaling.factor"
                return value, key
    return None, None


def check_max_model_len(profile: Profile, env: Mapping[str, str], argv: Sequence[str]) -> Check:
    """`--max-model-len` is not above what the model's config allows."""
    title = "Context length"
    raw = option_value(argv, "--max-model-len")
    if raw is None:
        return passed(CONTEXT_KEY, title, "--max-model-len not set: vLLM takes the model's own limit")
    try:
        asked = _tokens(raw)
    except ValueError:
        return failed(CONTEXT_KEY, title, f"--max-model-len {raw!r} is not a number of tokens",
                      "Write max-model-len as a whole number of tokens, e.g. 4096.")
    location = locate_model(profile.model, env)
    if location.path is None:
        return passed(CONTEXT_KEY, title, f"--max-model-len {asked}; the model's limit is read once it is there")
    limit, key = model_context_limit(location.path)
    if limit is None:
        return passed(CONTEXT_KEY, title, f"--max-model-len {asked}; config.json states no position limit")
    if asked > limit:
        return failed(CONTEXT_KEY, title,
                      f"--max-model-len {asked} is above the model's limit of {limit} ({key} in config.json)",
                      f"Set max-model-len to {limit} or less in [server.flags].")
    return passed(CONTEXT_KEY, title, f"--max-model-len {asked} fits the model's {limit} ({key})")


def _tokens(raw: str) -> int:
    """vLLM reads `4096`, `4k` and `1m` (k = 1000 and K = 1024 in its parser; both taken as 1024 here is
    wrong by 2.4 %, so the lower reading is used for `k` and the higher for `K`)."""
    text = raw.strip()
    factors = {"k": 1000, "K": 1024, "m": 1000_000, "M": 1024 * 1024}
    if text and text[-1] in factors:
        return int(float(text[:-1]) * factors[text[-1]])
    return int(text)
