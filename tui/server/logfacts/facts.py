"""`LogFacts`: the incremental reader that turns a `vllm serve` log into the contract's facts.

The console feeds it bytes as they arrive from a live server (`feed(chunk)`),
the CLI feeds it a whole saved log (`parse_log_text`); both get the same
answer, however the text was cut into chunks. A partial last line is held
until its newline, so a chunk boundary inside a CR LF, an ANSI escape or a word
changes nothing; tqdm frames that arrive without a newline still report
progress.

Each physical line goes through `normalize` (control bytes, prefix, record
head), then, by its form, the record rules of `keylines` (one dict lookup on
the first word), the uvicorn access/startup checks, or the raw-line rules; ERROR
records and raw lines also go to `errors.classify`. Scalar facts keep, per
source, the first value stated, and the best source wins (RULES.md):
`max_model_len` from `Using max model len` beats the config dump, which beats
the arguments, the echoed command and `Maximum concurrency for N tokens`.

A hard-wrapped record (a continuation line starting with `:`, `,`, `.`, `)`, …
and no head of its own) is joined to the record before it and read again as
that line: facts and errors first stated on it are corrected, keeping its
line number.
"""

from __future__ import annotations

import re

from tui.server.logfacts import keylines, statements
from tui.server.logfacts.chunks import ChunkReader
from tui.server.logfacts.compilation import CompilationClues
from tui.server.logfacts.diagnosis import TRACEBACK, UNSUPPORTED_QUANTIZATION, Diagnosis, root_cause
from tui.server.logfacts.errors import classify
from tui.server.logfacts.events import (
    ErrorFound,
    FactChanged,
    PhaseEntered,
    Progress,
    Ready,
    RequestLogged,
    Stats,
    StatsUpdated,
)
from tui.server.logfacts.failure_context import FailureContext
from tui.server.logfacts.fields import FieldStore
from tui.server.logfacts.hints import hint_for
from tui.server.logfacts.keylines import Rule
from tui.server.logfacts.normalize import (
    ERROR_LEVELS,
    RECORD,
    UVICORN,
    clean,
    glued_record_start,
    split_head,
    strip_prefix,
)
from tui.server.logfacts.particulars import details, exception_message, quantization_details
from tui.server.logfacts.phases import READY, START, Phase, PhaseTracker
from tui.server.logfacts.statements import P_CONCURRENCY, Offer

FACT_KEYS: tuple[str, ...] = (
    "vllm_version", "engine", "platform", "model", "architecture", "dtype", "max_model_len",
    "tensor_parallel_size", "max_num_batched_tokens", "weights_gib", "weights_load_s", "kv_cache_gib",
    "kv_cache_tokens", "max_concurrency", "compilation", "graph_max_batch_sizes", "graph_capture_sizes",
    "torch_compile_s", "engine_init_s", "api_url", "ready", "stats", "requests", "errors", "root_cause",
)
"""The contract's keys, in the contract's order."""

_SCALARS: tuple[str, ...] = tuple(
    key for key in FACT_KEYS if key not in ("compilation", "ready", "stats", "requests", "errors", "root_cause")
)
_PRIVATE: tuple[str, ...] = ("quantization",)
"""Facts the reader keeps for its own rules (the `--quantization` method), not contract keys."""
_SOURCES = P_CONCURRENCY + 1
_WRAP_STARTS = frozenset(":,.;)]}")
_ACCESS = re.compile(r'\S+ - "(\S+) (\S*)[^"]*" (\d{3})\b')


class LogFacts(ChunkReader):
    """Accumulates what a vLLM server's log says, line by line.

    `feed(chunk)` / `feed_line(line)` return the events that chunk or line
    produced (empty when built with `collect_events=False`, the fast path for
    whole files); `facts()` gives the contract object, `phases()` the start-up
    phases. Call `close()` at the end of a file so a last line without a
    newline is read too.
    """

    __slots__ = (
        "_amending",
        "_at",
        "_by_status",
        "_compilation",
        "_context",
        "_engine_marker",
        "_errors",
        "_fields",
        "_known_errors",
        "_mode",
        "_phases",
        "_progress",
        "_ready",
        "_requests",
        "_stats",
        "_validation",
        "_wrap_level",
        "_wrap_line",
        "_wrap_msg",
        "_wrap_stamp",
    )

    def __init__(self, *, collect_events: bool = True) -> None:
        super().__init__(collect_events)
        self._at = 0
        self._fields = FieldStore(_SCALARS + _PRIVATE, _SOURCES)
        self._compilation = CompilationClues()
        self._mode: str | None = None
        self._stats: Stats | None = None
        self._requests = 0
        self._by_status: dict[str, int] = {}
        self._ready = False
        self._errors: list[Diagnosis] = []
        self._known_errors: dict[tuple[str, str | None], int] = {}
        self._validation: tuple[int, int] | None = None
        self._context = FailureContext()
        self._phases = PhaseTracker()
        self._progress: dict[str, int] = {}
        self._engine_marker = ""
        self._wrap_line = 0
        self._wrap_level = ""
        self._wrap_stamp = ""
        self._wrap_msg = ""
        self._amending = False

    # ------------------------------------------------------------------ one physical line

    def _physical(self, line: str) -> None:
        self._line = number = self._line + 1
        self._at = number
        if number == 1:
            self._enter(START, "")
        if line.endswith("\r") or "\x1b" in line or "\x00" in line or line.endswith("^M"):
            line = clean(line)
        if not self._engine_marker and ("EngineCore" in line or "MQLLMEngine" in line):
            self._engine_marker = "V1" if "EngineCore" in line else "V0"
            self._offer("engine", 1, self._engine_marker)
        if self._wrap_line:
            if line and line[0] in _WRAP_STARTS and not line.startswith("..."):
                self._continue_wrapped(line)
                return
            self._wrap_line = 0
        if "\r" in line:
            self._frames(line)
        else:
            self._piece(line)

    def _frames(self, line: str) -> None:
        """A line of CR-separated tqdm frames: the text before the first CR, progress, the last frame.

        Frames already reported while the line was still partial (all but the one after the
        last CR seen then) are not reported again.
        """
        head, *frames = line.split("\r")
        if strip_prefix(head).strip():
            self._piece(head)
        frames = [frame for frame in frames[self.reported_frames:] if frame]
        if not frames:
            return
        for frame in frames[:-1]:
            self._frame_progress(frame)
        self._piece(frames[-1])

    def _piece(self, text: str) -> None:
        """A line (or the last tqdm frame of one) without CRs: prefix, head, then by form."""
        rest = strip_prefix(text)
        form, level, stamp, message = split_head(rest)
        if form == RECORD:
            self._phases.note_stamp(stamp)
            self._record(level, stamp, message)
            if message and not message[-1].isspace():
                self._wrap_line, self._wrap_level, self._wrap_stamp, self._wrap_msg = (
                    self._at, level, stamp, message,
                )
        elif form == UVICORN:
            self._uvicorn(level, message)
        elif message:
            self._raw(message)

    def _continue_wrapped(self, continuation: str) -> None:
        """Join a hard-wrapped continuation to its record and read the whole record again at its line."""
        self._at = self._wrap_line
        self._wrap_msg += continuation
        self._amending = True
        try:
            self._record(self._wrap_level, self._wrap_stamp, self._wrap_msg)
        finally:
            self._amending = False

    # ------------------------------------------------------------------ by form

    def _record(self, level: str, stamp: str, message: str) -> None:
        word = keylines.first_word(message)
        rules = keylines.RECORD_RULES.get(word)
        if rules is not None:
            for rule in rules:
                match = rule.pattern.match(message)
                if match is not None:
                    self._apply(rule, match, message, stamp)
                    break
        elif not word and message:
            self._offer_all(statements.banner(message))
        elif word == "[shutdown]":
            self._context.note_record(message)
        if level in ERROR_LEVELS:
            self._error(message)
        elif level == "WARNING" and "cudagraph_mode" in message:
            override = keylines.OVERRIDE.search(message)
            if override is not None:
                self._compilation.override = override.group(1)
                self._compilation_changed()

    def _uvicorn(self, level: str, message: str) -> None:
        if level == "INFO":
            if ' - "' in message:
                match = _ACCESS.match(message)
                if match is not None:
                    self._access(match)
            elif message.startswith("Application startup complete"):
                self._set_ready()
        elif level in ERROR_LEVELS:
            self._error(message)

    def _raw(self, message: str) -> None:
        rules = keylines.RAW_RULES.get(keylines.first_word(message))
        if rules is not None:
            for rule in rules:
                match = rule.pattern.match(message)
                if match is not None:
                    self._apply(rule, match, message, "")
                    break
        if "vllm serve " in message:
            self._offer_all(statements.command(message, self._compilation))
        if "pid=" in message:
            glued = glued_record_start(message)
            if glued > 0:
                self._error(message[:glued])
                self._piece(message[glued:])
                return
        self._error(message)

    # ------------------------------------------------------------------ applying a key line

    def _apply(self, rule: Rule, match: re.Match[str], message: str, stamp: str) -> None:
        if rule.phase:
            self._enter(rule.phase, stamp)
        action = rule.action
        if action == "phase":
            return
        if action == "float":
            self._offer(rule.field, rule.priority, float(match.group(rule.group)))
        elif action == "int":
            self._offer(rule.field, rule.priority, int(match.group(rule.group)))
        elif action == "int_commas":
            self._offer(rule.field, rule.priority, int(match.group(rule.group).replace(",", "")))
        elif action == "str":
            self._offer(rule.field, rule.priority, match.group(rule.group))
        elif action == "version":
            self._offer(rule.field, rule.priority, statements.version_or_none(match.group(rule.group)))
        else:
            getattr(self, "_on_" + action)(match, message)

    def _offer_all(self, offers: list[Offer]) -> None:
        for name, priority, value in offers:
            self._offer(name, priority, value)
        self._compilation_changed()

    def _on_version_model(self, match: re.Match[str], message: str) -> None:
        self._offer("vllm_version", 0, statements.version_or_none(match.group(1)))
        self._offer("model", 0, match.group(2))

    def _on_engine_version(self, match: re.Match[str], message: str) -> None:
        self._offer("engine", 0, match.group(1))
        self._offer("vllm_version", 0, statements.version_or_none(match.group(2)))

    def _on_config_dump(self, match: re.Match[str], message: str) -> None:
        self._offer_all(statements.config_dump(match.group(1), match.group(2), message, self._compilation))

    def _on_args_dict(self, match: re.Match[str], message: str) -> None:
        self._offer_all(statements.arguments(statements.ARGS_DICT, message, self._compilation))

    def _on_args_namespace(self, match: re.Match[str], message: str) -> None:
        self._offer_all(statements.arguments(statements.ARGS_NAMESPACE, message, self._compilation))

    def _on_platform_plugin(self, match: re.Match[str], message: str) -> None:
        name = match.group(1).lower()
        if name in ("ascend", "npu"):
            self._offer("platform", 0, "ascend")

    def _on_platform_detected(self, match: re.Match[str], message: str) -> None:
        name = match.group(1).lower()
        if name in ("cuda", "cpu"):
            self._offer("platform", 0, name)

    def _on_kv_cache_size(self, match: re.Match[str], message: str) -> None:
        """`GPU|CPU KV cache size: N tokens` (0.32 adds `, Maximum concurrency for L tokens per request: Xx`)."""
        self._offer("kv_cache_tokens", 0, int(match.group(1).replace(",", "")))
        if match.group(2) is not None:
            self._on_concurrency(match, message, 2)

    def _on_concurrency(self, match: re.Match[str], message: str, first: int = 1) -> None:
        self._offer("max_concurrency", 0, float(match.group(first + 1)))
        self._offer("max_model_len", P_CONCURRENCY, int(match.group(first).replace(",", "")))

    def _on_npu_mode(self, match: re.Match[str], message: str) -> None:
        if self._compilation.npu_mode is None:
            self._compilation.npu_mode = match.group(1)
            self._compilation_changed()

    def _on_eager(self, match: re.Match[str], message: str) -> None:
        if not self._compilation.eager:
            self._compilation.eager = True
            self._compilation_changed()

    def _on_graph_caption(self, match: re.Match[str], message: str) -> None:
        if self._compilation.caption(match.group(1), match.group(2)):
            self._compilation_changed()
        self._frame_progress(message)

    def _on_graph_progress(self, match: re.Match[str], message: str) -> None:
        self._frame_progress(message)

    def _on_weights_progress(self, match: re.Match[str], message: str) -> None:
        self._frame_progress(message)

    def _on_stats(self, match: re.Match[str], message: str) -> None:
        prefix = match.group(6)
        stats = Stats(
            float(match.group(1)), float(match.group(2)), int(match.group(3)), int(match.group(4)),
            float(match.group(5)), None if prefix is None else float(prefix),
        )
        self._stats = stats
        if self._out is not None:
            self._out.append(StatsUpdated(stats))

    def _on_prefix_hit(self, match: re.Match[str], message: str) -> None:
        """V0 prints its prefix-cache hit rate on a line of its own after the stats line."""
        if self._stats is not None:
            stats = self._stats
            self._stats = Stats(stats.prompt_tps, stats.gen_tps, stats.running, stats.waiting, stats.kv_usage_pct,
                                float(match.group(1)))
            if self._out is not None:
                self._out.append(StatsUpdated(self._stats))

    # ------------------------------------------------------------------ progress, access, ready

    def _frame_progress(self, frame: str) -> None:
        """A tqdm frame: report its percentage when it changed (weights loading, graph capture)."""
        if frame.startswith("Loading safetensors checkpoint shards"):
            kind = "weights"
        elif frame.startswith("Capturing"):
            kind = "graph_capture"
        else:
            return
        found = keylines.TQDM_PERCENT.search(frame)
        if found is None:
            return
        pct = int(found.group(1))
        if self._progress.get(kind) == pct:
            return
        self._progress[kind] = pct
        if self._out is not None:
            count = keylines.TQDM_COUNT.search(frame)
            done, total = (int(count.group(1)), int(count.group(2))) if count else (None, None)
            self._out.append(Progress(kind, pct, done, total))

    def _partial_frame(self, frame: str) -> None:
        self._frame_progress(frame)

    def _access(self, match: re.Match[str]) -> None:
        status = match.group(3)
        self._requests += 1
        by_status = self._by_status
        by_status[status] = by_status.get(status, 0) + 1
        if self._out is not None:
            self._out.append(RequestLogged(int(status), match.group(1), match.group(2)))

    def _set_ready(self) -> None:
        if self._ready:
            return
        self._ready = True
        self._enter(READY, "")
        if self._out is not None:
            self._out.append(Ready(self._at))
            self._out.append(FactChanged("ready", True))

    # ------------------------------------------------------------------ facts, phases, errors

    def _offer(self, name: str, priority: int, value: object) -> None:
        """`value` for `name` from source `priority` (see `fields`); report the field when it changed."""
        changed = self._fields.offer(name, priority, value, self._at, self._amending)
        if changed and self._out is not None and name not in _PRIVATE:
            self._out.append(FactChanged(name, self._fields.value(name)))

    def _compilation_changed(self) -> None:
        mode = self._compilation.resolve()
        if mode != self._mode:
            self._mode = mode
            if self._out is not None:
                self._out.append(FactChanged("compilation", mode))

    def _enter(self, phase: str, stamp: str) -> None:
        entered, elapsed = self._phases.enter(phase, self._at, stamp)
        if entered and self._out is not None:
            self._out.append(PhaseEntered(phase, self._at, elapsed))

    def _error(self, message: str) -> None:
        self._context.note(message, self._at)
        if self._validation is not None and self._validation_detail(message):
            return
        found = classify(message)
        if found is None:
            return
        text = message.strip()
        repeated = text.find(" [repeated ")  # Ray's dedup suffix: `[repeated 3x across cluster] (Ray …)`
        if repeated > 0 and "across cluster]" in text:
            text = text[:repeated]
        detail = None
        if found[0] == TRACEBACK:
            method = self._fields.value("quantization")
            if isinstance(method, str) and self._context.through_quantization(text, self._at, method):
                found, detail = (UNSUPPORTED_QUANTIZATION, None), quantization_details(method)
        if self._context.is_stop_echo(found[0]):
            return
        self._diagnose(found, text, detail)

    def _diagnose(self, found: tuple[str, str | None], text: str, detail: dict[str, object] | None = None) -> None:
        """Record a failure of `found` (kind, code) stated by `text` at the current line, once per (kind, code)."""
        kind, code = found
        if detail is None:
            detail = details(kind, text, self._fields.value("model"))
        known = self._known_errors.get(found)
        if known is not None:
            held = self._errors[known]
            if self._amending and held.line == self._at and held.text != text:
                self._errors[known] = Diagnosis(held.kind, held.code, held.line, text,
                                                hint_for(kind, code, text, detail), exception_message(text), detail)
            return
        diagnosis = Diagnosis(kind, code, self._at, text, hint_for(kind, code, text, detail), exception_message(text),
                              detail)
        self._known_errors[found] = len(self._errors)
        if kind == TRACEBACK and "ValidationError" in text:
            self._validation = (self._at, len(self._errors))
        self._errors.append(diagnosis)
        if self._out is not None:
            self._out.append(ErrorFound(diagnosis))

    def _validation_detail(self, message: str) -> bool:
        """pydantic states what failed validation on the line after the exception (`  Value error, X`).

        That line is the real exception (`ValueError: X`): it becomes the ValidationError's message
        and chooses its hint. It may state a kind of its own (an architecture, a length), or name the
        `--quantization` method that failed; True when it was recorded as such a failure here.
        """
        line, index = self._validation or (0, 0)
        self._validation = None
        detail = message.strip()
        if self._at != line + 1 or not detail.startswith("Value error, "):
            return False
        held = self._errors[index]
        combined = f"{held.text} {detail}"
        hint = hint_for(held.kind, held.code, combined)
        self._errors[index] = Diagnosis(held.kind, held.code, held.line, held.text, hint, exception_message(detail),
                                        held.detail)
        if classify(message) is not None:
            return False
        method = self._fields.value("quantization")
        if isinstance(method, str) and self._context.through_quantization(detail, self._at, method):
            self._diagnose((UNSUPPORTED_QUANTIZATION, None), detail, quantization_details(method))
            return True
        return False

    # ------------------------------------------------------------------ answers

    @property
    def errors(self) -> list[Diagnosis]:
        """The failures found so far, one per (kind, code), in line order."""
        return sorted(self._errors, key=lambda diagnosis: diagnosis.line)

    @property
    def root_cause(self) -> Diagnosis | None:
        return root_cause(self._errors)

    @property
    def stats(self) -> Stats | None:
        return self._stats

    @property
    def ready(self) -> bool:
        return self._ready

    def value(self, name: str) -> object:
        """The current value of one scalar fact (or `compilation`)."""
        if name == "compilation":
            return self._compilation.resolve()
        return self._fields.value(name)

    def facts(self) -> dict[str, object]:
        """The contract object of `npu-console log facts --json`: every key, in the contract's order."""
        fields = self._fields
        errors = self.errors
        cause = root_cause(errors)
        result: dict[str, object] = {}
        for key in FACT_KEYS:
            if key == "compilation":
                result[key] = self._compilation.resolve()
            elif key == "ready":
                result[key] = self._ready
            elif key == "stats":
                result[key] = None if self._stats is None else self._stats.to_json()
            elif key == "requests":
                result[key] = {"total": self._requests, "by_status": dict(sorted(self._by_status.items()))}
            elif key == "errors":
                result[key] = [diagnosis.to_json() for diagnosis in errors]
            elif key == "root_cause":
                result[key] = None if cause is None else cause.to_json()
            else:
                result[key] = fields.value(key)
        return result

    def phases(self) -> list[Phase]:
        """The start-up phases entered so far, with line, elapsed time and duration."""
        return self._phases.phases()


def parse_log_text(text: str) -> dict[str, object]:
    """The contract facts of a whole log text (CRs kept: read files with `newline=""` or as bytes)."""
    reader = LogFacts(collect_events=False)
    step = 1 << 20
    for start in range(0, len(text), step):
        reader.feed(text[start:start + step])
    reader.close()
    return reader.facts()
