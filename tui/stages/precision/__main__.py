"""`python -m tui.stages.precision --model DIR …`: the precision check as a stage (JSON lines on stdout).

Local mode loads the model folder once in float32 on the CPU (the reference) and once on the candidate
device in the chosen dtype (`--candidate-model DIR` puts another folder, e.g. a converted checkpoint, on
that side), plus a CPU run in bf16 of the reference weights for the noise floor, one model in memory at a
time. API mode (`--url`) keeps the CPU reference and asks the server instead (see `api_mode`).

Prompts: `--prompt TEXT` (repeatable), or `--prompts F`: a JSON list of strings, or else one prompt per
line where the two characters `\\n` stand for a newline and `\\\\` for a backslash (so
"def hello(name):\\n    return" survives); without either, the profile's default prompts.

Exit status: 0 PASS, 1 FAIL or the check could not run, 2 bad usage or unreadable input; every non-zero
exit ends with an `error` event whose message is one sentence saying what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tui.profile.model import DEFAULT_PRECISION_PROMPTS
from tui.stages.events import emit_error, emit_log, emit_progress, emit_result, stage_folder
from tui.stages.precision.loading import (
    PrecisionInputError,
    PrecisionRunError,
)
from tui.stages.precision.options import add_check_arguments
from tui.stages.precision.provenance import provenance
from tui.stages.precision.verdict import Thresholds

REFERENCE = {"device": "cpu", "dtype": "float32"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as an `error` event and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        emit_error(f"bad usage: {message}; see python -m tui.stages.precision --help")
        self.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tui.stages.precision", description=__doc__.split("\n\n")[0])
    add_check_arguments(parser, from_profile=False)
    parser.add_argument("--csv", metavar="F",
                        help="the per-position CSV (default: precision_positions.csv in the stage's run folder)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="API mode: seconds per request")
    return parser


def read_prompts(path: str | None, given: Sequence[str]) -> list[str]:
    """The prompts to use: `given`, then the file's, else the defaults; empty prompts are refused."""
    prompts = list(given)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PrecisionInputError(f"cannot read the prompts file {path}: {exc}") from exc
        prompts += parse_prompts_text(text, path)
    if not prompts:
        prompts = list(DEFAULT_PRECISION_PROMPTS)
    for index, prompt in enumerate(prompts, start=1):
        if not prompt.strip():
            raise PrecisionInputError(f"prompt {index} is empty; give every prompt some text")
    return prompts


def parse_prompts_text(text: str, source: str = "the prompts file") -> list[str]:
    """A JSON list of strings, or one prompt per line with `\\n` and `\\\\` escapes (blank lines skipped)."""
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise PrecisionInputError(f"{source} starts with '[' but is not a JSON list: {exc}") from exc
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise PrecisionInputError(f"{source} must be a JSON list of strings")
        return list(value)
    prompts = []
    for line in text.splitlines():
        if line.strip():
            prompts.append(_unescape(line))
    return prompts


def _unescape(line: str) -> str:
    out, index = [], 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line) and line[index + 1] in "n\\":
            out.append("\n" if line[index + 1] == "n" else "\\")
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


class Progress:
    """One monotonic prompt counter over every phase, so a bar never runs backwards."""

    def __init__(self, prompts: int, phases: int) -> None:
        self.total = prompts * phases
        self.done = 0

    def phase(self, message: str) -> None:
        emit_progress(self.done, self.total, "prompt", message)

    def step(self, message: str) -> None:
        self.done += 1
        emit_progress(self.done, self.total, "prompt", message)


def _short(prompt: str) -> str:
    text = prompt.replace("\n", "\\n")
    return text if len(text) <= 40 else text[:39] + "…"


def _encode_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    id_lists = []
    for index, prompt in enumerate(prompts, start=1):
        ids = [int(i) for i in tokenizer(prompt)["input_ids"]]
        if not ids:
            raise PrecisionInputError(f"prompt {index} ({_short(prompt)!r}) tokenizes to no tokens")
        id_lists.append(ids)
    return id_lists


def _decoder(tokenizer: Any) -> Callable[[int | str | None], str]:
    def decode(token: int | str | None) -> str:
        if token is None:
            return ""
        if isinstance(token, str):
            return token
        return str(tokenizer.decode([token]))

    return decode


def _memory_gate(folder: Path, skip: bool) -> None:
    from tui.stages.precision.loading import memory_shortfall

    shortfall = memory_shortfall(folder, "float32")
    if shortfall is None:
        return
    if skip:
        emit_log(f"{shortfall[0].upper()}{shortfall[1:]}; loading anyway (--skip-memory-check)", "warning")
        return
    raise PrecisionRunError(shortfall)


def _run_side(progress: Progress, label: str, folder: Path, device: str, dtype: str,
              id_lists: Sequence[Sequence[int]], prompts: Sequence[str]) -> list[Any]:
    from tui.stages.precision.forward import release, run_prompts
    from tui.stages.precision.loading import load_model

    progress.phase(f"loading {label} ({dtype} on {device})")
    model = load_model(folder, device, dtype)
    runs = run_prompts(model, id_lists, device,
                       on_prompt=lambda i: progress.step(f"{label}: {_short(prompts[i])}"))
    release(model)
    del model
    return runs


def run_local(args: argparse.Namespace, prompts: list[str], thresholds: Thresholds) -> dict[str, Any]:
    from tui.stages.precision.compare import candidate_nan_inf, compare_local
    from tui.stages.precision.loading import check_model_folder, choose_device, load_tokenizer
    from tui.stages.precision.verdict import decide

    model_dir = Path(args.model).expanduser()
    candidate_dir = Path(args.candidate_model).expanduser() if args.candidate_model else model_dir
    check_model_folder(model_dir)
    if candidate_dir != model_dir:
        check_model_folder(candidate_dir)
    device = choose_device(args.device)
    emit_log(f"candidate device: {device.note}")
    _memory_gate(model_dir, args.skip_memory_check)
    tokenizer = load_tokenizer(model_dir)
    id_lists = _encode_prompts(tokenizer, prompts)
    noise_dtype = args.dtype if args.dtype != "float32" else "bfloat16"
    reuse = device.device == "cpu" and args.dtype == noise_dtype and candidate_dir == model_dir
    with_noise = not args.no_noise_floor
    phases = 3 + (1 if with_noise and not reuse else 0)
    progress = Progress(len(prompts), phases)
    reference = _run_side(progress, "reference", model_dir, "cpu", "float32", id_lists, prompts)
    candidate = _run_side(progress, "candidate", candidate_dir, device.device, args.dtype, id_lists, prompts)
    noise = None
    if with_noise:
        if reuse:
            noise = candidate
            emit_log(f"noise floor: the candidate already is a CPU {noise_dtype} run of the same weights; reused")
        else:
            noise = _run_side(progress, "noise floor", model_dir, "cpu", noise_dtype, id_lists, prompts)
    results = compare_local(prompts, id_lists, reference, candidate, noise)
    for prompt in prompts:
        progress.step(f"comparing: {_short(prompt)}")
    decision = decide(results, thresholds)
    decode = _decoder(tokenizer)
    csv_path = _write_csv(args, results, decode, args.dtype, thresholds)
    from tui.stages.precision.report import build_result

    noise_floor = None
    if noise is not None:
        noise_floor = {"device": "cpu", "dtype": noise_dtype, "error": decision.summary["noise_relative_l2_mean"],
                       "error_metric": "mean relative L2 of the logits", "reused_candidate": reuse}
    return build_result(
        model=str(model_dir), mode="local", reference={**REFERENCE, "model": str(model_dir)},
        candidate={"device": device.device, "dtype": args.dtype, "model": str(candidate_dir)},
        verdict=decision.verdict, reasons=decision.reasons, summary=decision.summary, results=results,
        thresholds=thresholds.to_json(), nan_inf=candidate_nan_inf(results), csv_path=csv_path,
        noise_floor=noise_floor, provenance=provenance(model_dir, candidate_dir, device.device),
    )


def run_api(args: argparse.Namespace, prompts: list[str], thresholds: Thresholds) -> dict[str, Any]:
    from tui.stages.precision.api_mode import NO_LOGPROBS_SENTENCE, ApiClient, check_top_k, compare_api, fetch_prompt
    from tui.stages.precision.forward import release, run_prompts
    from tui.stages.precision.loading import check_model_folder, load_model, load_tokenizer
    from tui.stages.precision.report import build_result
    from tui.stages.precision.verdict import decide

    model_dir = Path(args.model).expanduser()
    check_model_folder(model_dir)
    top_k = check_top_k(args.top_k)
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        raise PrecisionInputError(f"--api-key-env {args.api_key_env} names a variable that is not set; export it")
    tokenizer = load_tokenizer(model_dir)
    id_lists = _encode_prompts(tokenizer, prompts)
    client = ApiClient(args.url, timeout=args.timeout, api_key=api_key)
    served = args.served_model or client.served_model()
    progress = Progress(len(prompts), 3)
    if served is None:
        emit_log(f"{client.url}/v1/models lists no model; asking without a model name (the server's own)")
    progress.phase(f"asking {client.url} ({served or 'its model'})")

    def encode(text: str) -> list[int]:
        return [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]

    told = []
    for prompt, ids in zip(prompts, id_lists, strict=True):
        told.append(fetch_prompt(client, served, ids, prompt, top_k, encode))
        progress.step(f"server: {_short(prompt)}")
    notes = []
    if any(item.source == "greedy" for item in told):
        notes.append(NO_LOGPROBS_SENTENCE.format(url=client.url))
        emit_log(notes[-1], "warning")
    _memory_gate(model_dir, args.skip_memory_check)
    progress.phase("loading reference (float32 on cpu)")
    model = load_model(model_dir, "cpu", "float32")
    full = [list(ids) + item.continuation for ids, item in zip(id_lists, told, strict=True)]
    runs = run_prompts(model, full, "cpu", on_prompt=lambda i: progress.step(f"reference: {_short(prompts[i])}"))
    release(model)
    del model
    decode = _decoder(tokenizer)
    results = compare_api(prompts, id_lists, told, [run.logits for run in runs], lambda i: decode(i))
    for prompt in prompts:
        progress.step(f"comparing: {_short(prompt)}")
    decision = decide(results, thresholds)
    if decision.summary.get("top1_agreement") == 0 and decision.summary.get("top5_overlap") == 0:
        notes.append(f"no position agrees with the reference at all: the server ({served or client.url}) most "
                     f"likely serves other weights or another tokenizer than {model_dir}; point --model at the "
                     "folder the server was started with")
        emit_log(notes[-1], "warning")
    csv_path = _write_csv(args, results, decode, None, thresholds)
    sources = sorted({item.source for item in told})
    return build_result(
        model=str(model_dir), mode="api", reference={**REFERENCE, "model": str(model_dir)},
        candidate={"device": "server", "dtype": None, "url": client.url, "served_model": served,
                   "logprobs_source": sources[0] if len(sources) == 1 else sources, "top_k": top_k},
        verdict=decision.verdict, reasons=decision.reasons, summary=decision.summary, results=results,
        thresholds=thresholds.to_json(), nan_inf=None, csv_path=csv_path, noise_floor=None, notes=notes,
        provenance=provenance(model_dir, None, "cpu"),
    )


def _write_csv(args: argparse.Namespace, results: Sequence[Any], decode: Callable[[int | str | None], str],
               my_dtype: str | None, thresholds: Thresholds) -> str | None:
    from tui.stages.precision.report import CSV_NAME, csv_text, write_csv

    folder = stage_folder()
    target = Path(args.csv) if args.csv else (Path(folder) / CSV_NAME if folder else None)
    if target is None:
        return None
    text = csv_text(results, golden_dtype="float32", my_dtype=my_dtype, decode=decode,
                    cosine_min=thresholds.cosine_min)
    try:
        return str(write_csv(target, text))
    except OSError as exc:
        raise PrecisionRunError(f"cannot write the per-position CSV {target}: {exc}") from exc


def _sentence(exc: Exception) -> str:
    text = str(exc).strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    thresholds = Thresholds(args.top1_agreement_min, args.top5_overlap_min, args.cosine_min,
                            args.relative_error_max, args.kl_max, args.noise_floor_ratio_max)
    try:
        prompts = read_prompts(args.prompts, args.prompt)
        result = run_api(args, prompts, thresholds) if args.url else run_local(args, prompts, thresholds)
        if args.json:
            from tui.stages.precision.report import write_json

            try:
                write_json(Path(args.json), result)
            except OSError as exc:
                raise PrecisionRunError(f"cannot write {args.json}: {exc}") from exc
    except PrecisionInputError as exc:
        emit_error(_sentence(exc))
        return 2
    except PrecisionRunError as exc:
        emit_error(_sentence(exc))
        return 1
    except KeyboardInterrupt:
        emit_error("interrupted; nothing was judged.")
        return 1
    except Exception as exc:  # a bug or an unforeseen library failure: a sentence here, the trace on stderr
        traceback.print_exc()
        emit_error(f"the precision check failed unexpectedly ({type(exc).__name__}: {exc}); "
                   "the traceback is in the stage's stderr.log.")
        return 1
    emit_result(result)
    return 0 if result["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
