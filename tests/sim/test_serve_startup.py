"""`vllm serve` from a prepared demo host: the start-up log, the process tree, the device memory."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import psutil

from tests.sim.harness import SimServer, free_port, run_tool, wait_for
from tests.sim.test_npu_smi import hbm_used, process_rows
from tui.sim.demo import DemoHost
from tui.sim.host import live_records

PREFIXED = r"^\((APIServer|EngineCore) pid=(\d+)\) (INFO|WARNING|ERROR) \d\d-\d\d \d\d:\d\d:\d\d \[[\w.]+\.py:\d+\] "

# One pattern per key fact in KEYLINES.md, each anchored on vLLM's record format.
KEY_LINES = [
    r"^INFO \d\d-\d\d \d\d:\d\d:\d\d \[__init__\.py:239\] Platform plugin ascend is activated$",
    PREFIXED + r" ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0\.18\.0$",
    PREFIXED + r"non-default args: \{'model_tag': '.*Qwen2\.5-0\.5B-Instruct', 'host': '127\.0\.0\.1', 'port': \d+",
    PREFIXED + r"Resolved architecture: Qwen2ForCausalLM$",
    PREFIXED + r"Using max model len 32768$",
    PREFIXED + r"Chunked prefill is enabled with max_num_batched_tokens=2048\.$",
    PREFIXED + r"PIECEWISE compilation enabled on NPU\. use_inductor not supported - using only ACL Graph mode$",
    PREFIXED + r"Calculated maximum supported batch sizes for ACL graph: 72$",
    PREFIXED + r"No adjustment needed for ACL graph batch sizes: Qwen2ForCausalLM model \(layers: 24\) with 35 sizes$",
    PREFIXED + r"Initializing a V1 LLM engine \(v0\.18\.0\) with config: model='.*', .*device_config=npu, ",
    r"^Loading safetensors checkpoint shards: 100% Completed \| 1/1 \[\d\d:\d\d<00:00, +[\d.]+it/s\]$",
    PREFIXED + r"Loading weights took \d+\.\d\d seconds$",
    PREFIXED + r"Loading model weights took 0\.9\d{3} GB$",
    PREFIXED + r"Available KV cache memory: \d+\.\d\d GiB$",
    PREFIXED + r"GPU KV cache size: [\d,]+ tokens$",
    PREFIXED + r"Maximum concurrency for 32,768 tokens per request: [\d.]+x$",
    r"^Capturing CUDA graphs \(mixed prefill-decode, PIECEWISE\): 100%\|█+\| 35/35 ",
    PREFIXED + r"Graph capturing finished in \d+ secs, took 0\.\d\d GiB$",
    PREFIXED + r"init engine \(profile, create kv cache, warmup model\) took \d+\.\d\d seconds$",
    PREFIXED + r"Starting vLLM server on http://127\.0\.0\.1:\d+$",
    r"^\(APIServer pid=\d+\) INFO:     Started server process \[\d+\]$",
    r"^\(APIServer pid=\d+\) INFO:     Waiting for application startup\.$",
    r"^\(APIServer pid=\d+\) INFO:     Application startup complete\.$",
]


def test_server_starts_with_the_key_log_lines_in_order(sim_server: Callable[..., SimServer]) -> None:
    server = sim_server().wait_ready()
    lines = server.log().splitlines()
    position = -1
    for pattern in KEY_LINES:
        found = next((i for i, line in enumerate(lines) if i > position and re.search(pattern, line)), None)
        assert found is not None, f"missing after line {position + 1}: {pattern}\n" + "\n".join(lines)
        position = found
    api_pids = {m.group(2) for m in map(re.compile(PREFIXED).match, lines) if m and m.group(1) == "APIServer"}
    assert api_pids == {str(server.pid)}


def test_engine_core_is_a_child_that_holds_the_hbm(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server().wait_ready()
    engine = server.engine_pid()
    assert psutil.Process(engine).ppid() == server.pid
    assert psutil.Process(engine).name() == "VLLM::EngineCor"
    table = run_tool(demo, "npu-smi", "info").stdout
    assert hbm_used(table)[0] > 55_000 and hbm_used(table)[1] < 3500
    assert process_rows(table) == [(0, engine, "VLLM::EngineCor", hbm_used(table)[0] - 3318)]
    roles = {record.role: record for record in live_records(demo.home)}
    assert roles["api_server"].pid == server.pid and roles["api_server"].port == server.port
    assert roles["engine_core"].parent_pid == server.pid


def test_visible_devices_choose_the_chips(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    sim_server(
        "Qwen2.5-0.5B-Instruct", "--tensor-parallel-size", "2", env={"ASCEND_RT_VISIBLE_DEVICES": "5,6"}
    ).wait_ready()
    used = hbm_used(run_tool(demo, "npu-smi", "info").stdout)
    assert used[5] > 20_000 and used[6] > 20_000 and used[0] < 3500


def test_utilization_shows_while_serving(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server(env={"NPU_CONSOLE_SIM_TPOT_MS": "20"}).wait_ready()
    request = {"prompt": "hi", "max_tokens": 200, "ignore_eos": True, "stream": True}

    def busy() -> bool:
        table = run_tool(demo, "npu-smi", "info").stdout
        return "| 0                         | 0000:C1:00.0  | 0 " not in table

    with (
        httpx.Client(base_url=server.url, timeout=20) as client,
        client.stream("POST", "/v1/completions", json=request) as reply,
    ):
        chunks = reply.iter_lines()
        next(chunks)
        wait_for(busy, 10, 0.1, "AI Core % of chip 0 to rise")
        for _ in chunks:
            pass
    assert "Replaying aclgraph" in server.log()


def test_compilation_modes_change_the_log(sim_server: Callable[..., SimServer]) -> None:
    eager = sim_server("Qwen2.5-0.5B-Instruct", "--enforce-eager").wait_ready()
    full = sim_server(
        "Qwen3-4B-Thinking-2507",
        "--max-model-len",
        "32768",
        "--compilation-config",
        '{"cudagraph_mode": "FULL_DECODE_ONLY"}',
    ).wait_ready()
    eager_log, full_log = eager.log(), full.log()
    assert "Compilation disabled, using eager mode by default" in eager_log
    assert "enforce_eager=True" in eager_log and "ACL graph" not in eager_log
    assert "Capturing CUDA graphs" not in eager_log
    assert "FULL_DECODE_ONLY compilation enabled on NPU." in full_log
    assert "Calculated maximum supported batch sizes for ACL graph: 48" in full_log
    assert "Capturing CUDA graphs (decode, FULL)" in full_log
    assert "Resolved architecture: Qwen3ForCausalLM" in full_log


def test_unknown_flag_fails_like_vllms_argparse(demo: DemoHost) -> None:
    result = run_tool(demo, "vllm", "serve", str(demo.model_dir()), "--bogus-flag", "1")
    assert result.returncode == 2
    assert result.stderr.endswith("vllm serve: error: unrecognized arguments: --bogus-flag 1\n")
    assert result.stderr.startswith("usage: vllm serve [model_tag] [options]")
    bad_value = run_tool(demo, "vllm", "serve", str(demo.model_dir()), "--port", "eighty")
    assert bad_value.returncode == 2 and "argument --port: invalid int value: 'eighty'" in bad_value.stderr
    other = run_tool(demo, "vllm", "sirve")
    assert other.returncode == 2 and "invalid choice: 'sirve'" in other.stderr


def test_too_long_max_model_len_fails_with_vllms_message(demo: DemoHost) -> None:
    result = run_tool(
        demo, "vllm", "serve", str(demo.model_dir()), "--max-model-len", "40000", "--port", str(free_port())
    )
    assert result.returncode == 1
    assert "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig" in result.stderr
    assert (
        "Value error, User-specified max_model_len (40000) is greater than the derived max_model_len "
        "(max_position_embeddings=32768 or model_max_length=None in model's config.json)"
    ) in result.stderr
    assert not live_records(demo.home)


def test_missing_model_folder_fails_like_vllm(demo: DemoHost) -> None:
    result = run_tool(demo, "vllm", "serve", "/no/such/model", "--port", str(free_port()))
    assert result.returncode == 1
    assert "ValueError: Invalid repository ID or local directory specified: '/no/such/model'." in result.stderr


def test_hbm_grows_while_loading_and_jumps_at_kv_cache(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server(env={"NPU_CONSOLE_SIM_SPEED": "0.2"})
    seen: list[int] = []

    def engine_hbm_then_ready() -> bool:
        engines = [r for r in live_records(demo.home, clean=False) if r.role == "engine_core"]
        if engines and (not seen or engines[0].hbm_mb != seen[-1]):
            seen.append(engines[0].hbm_mb)
        return "Application startup complete." in server.log()

    wait_for(engine_hbm_then_ready, 20, 0.01, "the server to start")
    assert seen == sorted(seen), f"HBM only grows during start-up: {seen}"
    loading = [mb for mb in seen if 0 < mb < 1000]
    assert len(loading) >= 2, f"weights arrive in steps: {seen}"
    before_kv = max(mb for mb in seen if mb < 10_000)
    assert seen[-1] - before_kv > 40_000, f"the KV cache is allocated in one go: {seen}"


def test_dummy_weights_and_negative_flags(sim_server: Callable[..., SimServer]) -> None:
    server = sim_server(
        "Qwen2.5-0.5B-Instruct", "--load-format", "dummy", "--no-enforce-eager", "--no-enable-prefix-caching"
    ).wait_ready()
    log = server.log()
    assert "Loading safetensors checkpoint shards" not in log and "Loading weights took" not in log
    assert re.search(PREFIXED + r"Loading model weights took 0\.9\d{3} GB$", log, re.MULTILINE)
    assert "load_format=dummy" in log and "enforce_eager=False" in log and "enable_prefix_caching=False" in log


def test_frozen_sim_prints_fixed_timestamps(sim_server: Callable[..., SimServer]) -> None:
    server = sim_server(env={"NPU_CONSOLE_SIM_FROZEN": "1"}).wait_ready()
    stamps = set(re.findall(r"(?:INFO|WARNING) (\d\d-\d\d \d\d:\d\d:\d\d) \[", server.log()))
    assert len(stamps) == 1
    with httpx.Client(base_url=server.url, timeout=20) as client:
        ids = [client.post("/v1/completions", json={"prompt": "x", "max_tokens": 2}).json()["id"] for _ in range(2)]
    assert ids == ["cmpl-" + "1".rjust(32, "0"), "cmpl-" + "2".rjust(32, "0")]
