"""`python -m tui.sim.engine_core STATUS_FD PARENT_PID`: the simulated EngineCore process.

vLLM V1 runs the model in a child process of the API server; on an Ascend host
that child is the one `npu-smi` lists as holding the HBM (comm `VLLM::EngineCor`).
The simulation keeps that shape so the console's process-tree handling meets a
real tree: this program is started by `tui.sim.vllm_serve`, reads its plan as the
first JSON line on stdin, prints the EngineCore half of the start-up log under
its own `(EngineCore pid=N)` prefix, grows its HBM record while "loading
weights" and again at KV-cache allocation, and writes `ready` or `failed` to the
status pipe. While serving, the parent sends one JSON line per change of load
(`{"op": "load", ...}`) and the engine turns it into chip utilization.

It ends, withdrawing its record, on `{"op": "shutdown"}`, on SIGTERM/SIGINT, and
when stdin reaches EOF, which is how it notices that its parent died.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import sys
import time
from collections.abc import Iterable
from types import FrameType

from tui.sim import error_text, startup_log
from tui.sim.engine_plan import NON_TORCH_GIB, EnginePlan
from tui.sim.host import ROLE_ENGINE_CORE, ServerRecord, process_start_token, remove_record, write_record
from tui.sim.logfmt import VllmLog
from tui.sim.settings import FAULT_STARTUP, SimSettings, load_settings

PROCESS_TITLE = "VLLM::EngineCore"
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_UNSET_MB = -1


class _Stop(BaseException):
    """Raised from a signal handler to leave whatever the engine is doing."""


def _prctl(option: int, value: int | bytes) -> None:
    """Linux `prctl`; a no-op elsewhere (the simulation still works, names just differ)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)


def set_process_name(title: str) -> None:
    """Set the kernel comm name, which `ps`, psutil and npu-smi show (cut to 15 characters)."""
    _prctl(_PR_SET_NAME, title.encode("ascii", "replace")[:15])


def utilization(running: int, requests: int) -> int:
    """AI Core % for a batch of `running` requests: busy, but never pinned at 100."""
    if running <= 0 and requests <= 0:
        return 0
    return min(96, 35 + 6 * max(1, running))


class EngineCore:
    """The EngineCore's life: start-up script, serving loop, cleanup."""

    def __init__(self, plan: EnginePlan, settings: SimSettings, status_fd: int, parent_pid: int) -> None:
        self.plan = plan
        self.settings = settings
        self.home = settings.home
        self.status_fd = status_fd
        self.parent_pid = parent_pid
        self.pid = os.getpid()
        self.log = VllmLog("EngineCore", self.pid)
        self.hbm_mb = 0.0
        self.util_pct = 0
        self.started_at = time.time()
        self._published = (_UNSET_MB, -1)
        self._replayed = False

    # device state --------------------------------------------------------------------------

    def publish(self) -> None:
        """Write this process's record when what it holds changed."""
        state = (round(self.hbm_mb), self.util_pct)
        if self.home is None or state == self._published:
            return
        self._published = state
        with contextlib.suppress(OSError):
            write_record(
                self.home,
                ServerRecord(
                    pid=self.pid,
                    role=ROLE_ENGINE_CORE,
                    chips=self.plan.chips,
                    hbm_mb=state[0],
                    util_pct=state[1],
                    name=PROCESS_TITLE[:15],
                    parent_pid=self.parent_pid,
                    model=self.plan.model,
                    served_model_names=self.plan.served_model_names,
                    started_at=self.started_at,
                    proc_start=process_start_token(self.pid),
                ),
            )

    def withdraw(self) -> None:
        if self.home is not None:
            remove_record(self.home, self.pid)

    def hold(self, gib: float) -> None:
        self.hbm_mb += gib * 1024
        self.publish()

    def pause(self, nominal_s: float) -> None:
        seconds = self.settings.delay(nominal_s)
        if seconds > 0:
            time.sleep(seconds)

    def report(self, word: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.status_fd, (word + "\n").encode("ascii"))

    # start-up ------------------------------------------------------------------------------

    def start(self) -> bool:
        """Print the EngineCore start-up and take the device memory; False when it fails."""
        plan, log = self.plan, self.log
        startup_log.plugin_lines(log)
        self.pause(0.6)
        startup_log.model_loader_lines(log)
        log.info("core.py:103", startup_log.engine_config_line(plan))
        startup_log.ascend_config_lines(log)
        self.pause(0.6)
        log.info(
            "parallel_state.py:1395",
            f"world_size={plan.tensor_parallel_size} rank=0 local_rank=0 "
            "distributed_init_method=tcp://127.0.0.1:60243 backend=hccl",
        )
        log.info(
            "parallel_state.py:1717",
            f"rank 0 in world size {plan.tensor_parallel_size} is assigned as DP rank 0, PP rank 0, "
            "PCP rank 0, TP rank 0, EP rank N/A, EPLB rank N/A",
        )
        if FAULT_STARTUP in self.settings.faults or plan.device_error is not None:
            reason = (
                plan.device_error or "Set device failed, invalid device, set device=0, valid device range is [0, 0)"
            )
            self.fail("device", error_text.set_device_error(self.pid, reason))
            return False
        self.hold(0.06)  # the runtime context the driver creates on set_device
        log.info("cpu_binding.py:320", f"[cpu_bind_mode] mode=topo_affinity rank=0 visible_npus={list(plan.chips)}")
        self.pause(0.5)
        log.info("model_runner_v1.py:2562", f"Starting to load model {plan.model}...")
        log.info("vllm.py:754", "Asynchronous scheduling is enabled.")
        startup_log.compilation_lines(log, plan)
        self.load_weights()
        self.profile_and_compile()
        log.info("worker.py:357", f"Available KV cache memory: {plan.kv_cache_gib:.2f} GiB")
        kv_error = plan.kv_error
        if kv_error is not None:
            self.fail("kv", f"ValueError: {kv_error}")
            return False
        log.info("kv_cache_utils.py:1316", f"GPU KV cache size: {plan.kv_cache_tokens:,} tokens")
        log.info(
            "kv_cache_utils.py:1321",
            f"Maximum concurrency for {plan.max_model_len:,} tokens per request: {plan.max_concurrency:.2f}x",
        )
        self.hold(plan.kv_cache_gib)
        self.capture_graphs()
        total = plan.load_seconds + self._compile_seconds() + 1.5 + self._capture_seconds()
        log.info("core.py:281", f"init engine (profile, create kv cache, warmup model) took {total:.2f} seconds")
        return True

    def load_weights(self) -> None:
        """The safetensors progress bar; HBM grows shard by shard.

        `--load-format dummy` reads no checkpoint: the weights are allocated and
        filled with random values, so there is no progress bar and no
        `Loading weights took` line, only the memory line.
        """
        plan = self.plan
        if plan.load_format == "dummy":
            self.pause(0.3)
            self.hold(plan.weights_gib)
            self.log.info("model_runner_v1.py:2589", f"Loading model weights took {plan.weights_gib:.4f} GB")
            return
        shards = plan.shards
        steps = max(shards, 4)
        per_step = plan.load_seconds / steps
        desc = "Loading safetensors checkpoint shards"
        self.log.bare(startup_log.tqdm_frame(desc, 0, shards, 0.0))
        done_shards = 0
        for step in range(1, steps + 1):
            self.pause(per_step)
            self.hold(plan.weights_gib / steps)
            now_done = step * shards // steps
            if now_done > done_shards:
                done_shards = now_done
                self.log.bare(startup_log.tqdm_frame(desc, done_shards, shards, step * per_step))
        self.log.bare(startup_log.tqdm_frame(desc, shards, shards, plan.load_seconds))
        self.log.raw("", to_stderr=False)
        self.log.info("default_loader.py:384", f"Loading weights took {plan.load_seconds:.2f} seconds")
        self.log.info("model_runner_v1.py:2589", f"Loading model weights took {plan.weights_gib:.4f} GB")

    def _compile_seconds(self) -> float:
        if self.plan.compilation == "eager":
            return 0.0
        return round(1.2 + self.plan.num_layers * 0.05, 2) + round(1.5 + self.plan.num_layers * 0.06, 2)

    def _capture_seconds(self) -> float:
        return 0.0 if not self.plan.capture_sizes else round(0.4 + 0.03 * len(self.plan.capture_sizes), 2)

    def profile_and_compile(self) -> None:
        """torch.compile (graph modes) and the profiling run that sizes the activations."""
        plan, log = self.plan, self.log
        if plan.compilation != "eager":
            dynamo = round(1.2 + plan.num_layers * 0.05, 2)
            compile_s = round(1.5 + plan.num_layers * 0.06, 2)
            log.info(
                "backends.py:988",
                "Using cache directory: /root/.cache/vllm/torch_compile_cache/0d42d4420e/rank_0_0/backbone "
                "for vLLM's torch.compile",
            )
            self.pause(dynamo)
            log.info("backends.py:1048", f"Dynamo bytecode transform time: {dynamo:.2f} s")
            self.pause(compile_s)
            log.info(
                "backends.py:387",
                f"Compiling a graph for compile range (1, {plan.max_num_batched_tokens}) takes {compile_s:.2f} s",
            )
        self.pause(1.5)
        self.hold(plan.activation_gib + NON_TORCH_GIB)
        if plan.compilation != "eager":
            log.info(
                "monitor.py:48",
                "torch.compile and initial profiling/warmup run together took "
                f"{self._compile_seconds() + 1.5:.2f} s in total",
            )

    def capture_graphs(self) -> None:
        plan = self.plan
        if not plan.capture_sizes:
            return
        seconds = self._capture_seconds()
        self.pause(seconds)
        mode = {
            "PIECEWISE": "mixed prefill-decode, PIECEWISE",
            "FULL_DECODE_ONLY": "decode, FULL",
        }.get(plan.compilation, "mixed prefill-decode, FULL")
        count = len(plan.capture_sizes)
        self.log.bare(startup_log.tqdm_frame(f"Capturing CUDA graphs ({mode})", count, count, seconds, bar=True))
        self.hold(plan.graph_gib)
        self.log.info(
            "gpu_model_runner.py:5746",
            f"Graph capturing finished in {max(1, round(seconds))} secs, took {plan.graph_gib:.2f} GiB",
        )

    def fail(self, kind: str, exception_text: str) -> None:
        """Log the failure as vLLM does (ERROR record, then the raw traceback) and tell the parent."""
        self.log.error("core.py:1140", error_text.engine_failed_record(exception_text, kind))
        self.log.raw(error_text.process_engine_core_stderr(exception_text, kind))
        self.report("failed")

    # serving -------------------------------------------------------------------------------

    def serve(self, commands: Iterable[str]) -> None:
        """Follow the parent's load reports until it says shutdown or goes away."""
        for line in commands:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            op = message.get("op") if isinstance(message, dict) else None
            if op == "shutdown":
                return
            if op == "load":
                running = int(message.get("running", 0))
                requests = int(message.get("requests", 0))
                if (running or requests) and not self._replayed and self.plan.compilation != "eager":
                    self._replayed = True
                    self.log.info("acl_graph.py:192", "Replaying aclgraph")
                self.util_pct = utilization(running, requests)
                self.publish()


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    status_fd, parent_pid = int(args[0]), int(args[1])
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    set_process_name(PROCESS_TITLE)
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != parent_pid:
        return 1  # the parent died before we could ask to be told
    first = sys.stdin.readline()
    if not first:
        return 1
    plan = EnginePlan.from_json(json.loads(first))
    engine = EngineCore(plan, load_settings(), status_fd, parent_pid)
    try:
        if not engine.start():
            return 1
        engine.report("ready")
        engine.serve(sys.stdin)
        return 0
    except _Stop:
        return 0
    finally:
        engine.withdraw()
        with contextlib.suppress(OSError):
            os.close(status_fd)


if __name__ == "__main__":
    raise SystemExit(main())
