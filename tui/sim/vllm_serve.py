"""`python -m tui.sim.vllm_serve serve MODEL [flags]`: a stand-in for `vllm serve` on an Ascend host.

It behaves as vLLM-Ascend 0.18 does, as seen from outside: the same command
line (unknown flags fail in argparse), the same start-up log wording and order
(plugin banner, `non-default args`, `Resolved architecture`, ACL graph sizing, an
EngineCore child that loads weights and allocates the KV cache, `Starting vLLM
server on …`, uvicorn's `Application startup complete.`), the same HTTP API on
the same port, the same shutdown lines on SIGINT/SIGTERM, and the same failures
(a busy port, a too long `--max-model-len`, a missing model folder, an Ascend
error block). Delays are scaled by `NPU_CONSOLE_SIM_SPEED`; see
`tui.sim.settings` for the other knobs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from types import FrameType

from tui.sim import error_text, startup_log
from tui.sim.engine_link import EngineLink
from tui.sim.engine_plan import EnginePlan, PlanError, build_plan
from tui.sim.host import (
    ROLE_API_SERVER,
    ServerRecord,
    process_comm,
    process_start_token,
    remove_record,
    write_record,
)
from tui.sim.http_server import HttpServer, Request, reason_phrase
from tui.sim.logfmt import VllmLog
from tui.sim.model_config import (
    SUPPORTED_ARCHITECTURES,
    ModelConfigError,
    ModelFacts,
    load_model_facts,
    read_generation_defaults,
)
from tui.sim.openai_api import SimServing
from tui.sim.serve_args import (
    TOP_LEVEL_USAGE,
    VLLM_VERSION,
    non_default_args,
    parse_serve_args,
    top_level_usage_error,
)
from tui.sim.settings import SimSettings, load_settings
from tui.sim.textgen import QWEN25_DEFAULT_SYSTEM

ROUTES = (
    ("/openapi.json", "HEAD, GET"),
    ("/docs", "HEAD, GET"),
    ("/docs/oauth2-redirect", "HEAD, GET"),
    ("/redoc", "HEAD, GET"),
    ("/tokenize", "POST"),
    ("/detokenize", "POST"),
    ("/load", "GET"),
    ("/version", "GET"),
    ("/health", "GET"),
    ("/metrics", "GET"),
    ("/v1/models", "GET"),
    ("/ping", "GET"),
    ("/ping", "POST"),
    ("/invocations", "POST"),
    ("/v1/chat/completions", "POST"),
    ("/v1/responses", "POST"),
    ("/v1/completions", "POST"),
    ("/v1/messages", "POST"),
)
LOAD_REPORT_INTERVAL_S = 0.25
SHUTDOWN_GRACE_S = 5.0
READY_TIMEOUT_EXTRA_S = 60.0


class _Shutdown(BaseException):
    """SIGINT or SIGTERM arrived while the server was still starting."""


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise _Shutdown


def display_url(host: str | None, port: int) -> str:
    shown = host or "0.0.0.0"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def bind_socket(host: str | None, port: int) -> socket.socket:
    """Bind (not yet listen) as vLLM's `create_server_socket` does, so a busy port fails first."""
    family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host or "0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)  # the EngineCore child must not hold the port
    return sock


class ApiServer:
    """The API server process: start-up script, serving, shutdown."""

    def __init__(self, args: argparse.Namespace, settings: SimSettings) -> None:
        self.args = args
        self.settings = settings
        self.pid = os.getpid()
        self.log = VllmLog("APIServer", self.pid)
        self.engine: EngineLink | None = None
        self.sock: socket.socket | None = None
        self.plan: EnginePlan | None = None
        self.exit_status = 0
        self._stop: asyncio.Event | None = None

    def pause(self, nominal_s: float) -> None:
        seconds = self.settings.delay(nominal_s)
        if seconds > 0:
            time.sleep(seconds)

    # ---------------------------------------------------------------------------- start-up

    def run(self) -> int:
        signal.signal(signal.SIGTERM, _raise_shutdown)
        signal.signal(signal.SIGINT, _raise_shutdown)
        try:
            plan = self.start()
            if plan is None:
                return 1
            return asyncio.run(self.serve(plan))
        except _Shutdown:
            return 0
        finally:
            if self.engine is not None:
                self.engine.shutdown()
            if self.settings.home is not None:
                remove_record(self.settings.home, self.pid)
            if self.sock is not None:
                self.sock.close()

    def start(self) -> EnginePlan | None:
        """Everything up to `Application startup complete.`; None when the start-up failed."""
        args, log = self.args, self.log
        startup_log.plugin_lines(log)
        self.pause(0.6)
        startup_log.model_loader_lines(log.without_prefix())
        startup_log.banner(log, args.model)
        log.info("utils.py:233", f"non-default args: {non_default_args(args)}")
        try:
            self.sock = bind_socket(args.host, args.port)
        except OSError as exc:
            log.raw(error_text.port_in_use_traceback(str(exc)))
            return None
        self.pause(0.8)
        facts = self._model_facts()
        if facts is None:
            return None
        try:
            plan = build_plan(args, facts)
        except PlanError as exc:
            log.raw(error_text.config_validation_traceback(str(exc)))
            return None
        self.plan = plan
        self._print_config(plan)
        self._register(plan)
        self.engine = EngineLink(plan)
        self.engine.spawn()
        timeout = self.settings.delay(30.0) + READY_TIMEOUT_EXTRA_S
        if not self.engine.wait_ready(timeout):
            if self.engine.wait_exit(5.0) == 0:
                raise _Shutdown  # it left on the SIGINT/SIGTERM that is on its way to us too
            short, _ = error_text.cann_time()
            log.raw(
                error_text.engine_init_failed_traceback() + f"\n[ERROR] {short} (PID:{self.pid}, Device:-1, RankID:-1) "
                "ERR99999 UNKNOWN applicaiton exception"
            )
            return None
        self._print_ready(plan, facts)
        return plan

    def _model_facts(self) -> ModelFacts | None:
        args, log = self.args, self.log
        try:
            facts = load_model_facts(args.model)
        except ModelConfigError:
            log.raw(error_text.model_not_found_traceback(args.model))
            return None
        if facts.has_remote_code and not args.trust_remote_code:
            log.raw(error_text.config_validation_traceback(error_text.trust_remote_code_message()))
            return None
        if facts.architecture not in SUPPORTED_ARCHITECTURES:
            log.raw(
                error_text.config_validation_traceback(
                    error_text.unsupported_architecture_message(facts.architecture, SUPPORTED_ARCHITECTURES)
                )
            )
            return None
        return facts

    def _print_config(self, plan: EnginePlan) -> None:
        log = self.log
        log.info("model.py:533", f"Resolved architecture: {plan.architecture}")
        if plan.max_model_len > plan.model_max_len:
            log.warning(
                "model.py:1566",
                f"User-specified max_model_len ({plan.max_model_len}) is greater than the derived "
                f"max_model_len ({plan.model_max_len}). VLLM_ALLOW_LONG_MAX_MODEL_LEN is set, "
                "so the value is used as is.",
            )
        log.info("model.py:1582", f"Using max model len {plan.max_model_len}")
        log.info(
            "scheduler.py:231",
            f"Chunked prefill is enabled with max_num_batched_tokens={plan.max_num_batched_tokens}.",
        )
        log.info("vllm.py:754", "Asynchronous scheduling is enabled.")
        log.warning(
            "platform.py:749",
            "Parameter '--disable-cascade-attn' is a GPU-specific feature. Resetting to False for Ascend.",
        )
        startup_log.ascend_config_lines(log)
        startup_log.compilation_lines(log, plan)
        log.info("utils.py:1114", "Block size is set to 128 if prefix cache or chunked prefill is enabled.")

    def _print_ready(self, plan: EnginePlan, facts: ModelFacts) -> None:
        log = self.log
        log.info("api_server.py:576", "Supported tasks: ['generate']")
        defaults = read_generation_defaults(plan.model)
        if defaults and self.args.generation_config == "auto":
            log.warning(
                "model.py:1376",
                "Default vLLM sampling parameters have been overridden by the model's "
                f"`generation_config.json`: `{defaults}`. If this is not intended, "
                "please relaunch vLLM instance with `--generation-config vllm`.",
            )
        log.info(
            "hf.py:320",
            "Detected the chat template content format to be 'string'. You can set "
            "`--chat-template-content-format` to override this.",
        )
        self.pause(0.5)
        log.info("api_server.py:580", f"Starting vLLM server on {display_url(self.args.host, self.args.port)}")
        log.info("launcher.py:37", "Available routes are:")
        for route, methods in ROUTES:
            log.info("launcher.py:46", f"Route: {route}, Methods: {methods}")

    def _register(self, plan: EnginePlan) -> None:
        if self.settings.home is None:
            return
        with contextlib.suppress(OSError):
            write_record(
                self.settings.home,
                ServerRecord(
                    pid=self.pid,
                    role=ROLE_API_SERVER,
                    chips=plan.chips,
                    name=process_comm(self.pid),
                    parent_pid=os.getppid(),
                    port=self.args.port,
                    model=plan.model,
                    served_model_names=plan.served_model_names,
                    started_at=time.time(),
                    proc_start=process_start_token(self.pid),
                ),
            )

    # ---------------------------------------------------------------------------- serving

    async def serve(self, plan: EnginePlan) -> int:
        assert self.sock is not None and self.engine is not None
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop.set)
        facts_system = QWEN25_DEFAULT_SYSTEM if "Qwen2" in plan.architecture else None
        serving = SimServing(
            plan,
            self.settings,
            api_keys=self.args.api_key or (),
            default_system=facts_system,
            force_include_usage=self.args.enable_force_include_usage,
            max_logprobs=self.args.max_logprobs,
        )
        access = None if self.args.disable_uvicorn_access_log else self._access_line
        http = HttpServer(serving.handle, access, self._bad_request_line)
        await http.start(self.sock)
        self.log.uvicorn(f"Started server process [{self.pid}]")
        self.log.uvicorn("Waiting for application startup.")
        self.log.uvicorn("Application startup complete.")
        tasks = [
            asyncio.create_task(self._report_load(serving)),
            asyncio.create_task(self._watch_engine()),
        ]
        if not self.args.disable_log_stats:
            tasks.append(asyncio.create_task(self._log_stats(serving)))
        await self._stop.wait()
        self.log.info("launcher.py:110", "Shutting down FastAPI HTTP server.")
        for task in tasks:
            task.cancel()
        await http.stop(SHUTDOWN_GRACE_S)
        self.engine.shutdown()
        self.log.uvicorn("Shutting down")
        self.log.uvicorn("Waiting for application shutdown.")
        self.log.uvicorn("Application shutdown complete.")
        return self.exit_status

    def _access_line(self, request: Request, status: int) -> None:
        self.log.access(request.client, request.method, request.target, status, reason_phrase(status))

    def _bad_request_line(self) -> None:
        self.log.uvicorn("Invalid HTTP request received.", level="WARNING")

    def stats_interval(self) -> float:
        """`VLLM_LOG_STATS_INTERVAL` when set, else vLLM's 10 s scaled by the sim speed (at least 0.5 s)."""
        raw = os.environ.get("VLLM_LOG_STATS_INTERVAL", "")
        try:
            if raw:
                return max(0.05, float(raw))
        except ValueError:
            pass
        return max(0.5, 10.0 * self.settings.speed)

    async def _log_stats(self, serving: SimServing) -> None:
        interval = self.stats_interval()
        last = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            line = serving.metrics.stats_line(now - last)
            last = now
            if line is not None:
                self.log.info("loggers.py:259", line)

    async def _report_load(self, serving: SimServing) -> None:
        assert self.engine is not None
        while True:
            await asyncio.sleep(LOAD_REPORT_INTERVAL_S)
            self.engine.report_load(*serving.take_load_window())

    async def _watch_engine(self) -> None:
        """A dead EngineCore takes the API server down, as in vLLM V1."""
        assert self.engine is not None and self._stop is not None
        status = await asyncio.to_thread(self.engine.wait_exit, None)
        if self._stop.is_set() or status == 0:
            # We stopped it, or it left on the same SIGINT/SIGTERM that is about to stop us.
            self._stop.set()
            return
        self.log.error("core_client.py:704", "Engine core proc EngineCore died unexpectedly, shutting down client.")
        self.exit_status = 1
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        print(VLLM_VERSION, flush=True)
        return 0
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(TOP_LEVEL_USAGE)
        return 0 if args else 2
    if args[0] != "serve":
        sys.stderr.write(top_level_usage_error(args[0]))
        return 2
    parsed = parse_serve_args(args[1:])
    return ApiServer(parsed, load_settings()).run()


if __name__ == "__main__":
    raise SystemExit(main())
