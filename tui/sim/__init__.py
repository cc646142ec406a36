"""The simulated Ascend NPU host behind `npu-console --demo` and the tests.

Everything here is stdlib only, so the simulation runs on any laptop and in CI
without torch, an NPU or a network. It is made of ordinary programs that the
console starts the same way it starts the real ones:

- `python -m tui.sim.npu_smi info`     stands in for `npu-smi` (910B 98-column layout);
- `python -m tui.sim.vllm_serve serve`  stands in for `vllm serve` (vLLM-Ascend 0.18 log
  wording, an EngineCore child process, an OpenAI-compatible HTTP server);
- `tui.sim.demo.prepare_demo_host()`   writes shims named `npu-smi` and `vllm` plus two
  model folders, so putting its `bin/` first on PATH is all the demo needs.

The programs share state through files in one folder (`NPU_CONSOLE_SIM_HOME`):
`host.json` describes the chips, `servers/<pid>.json` says what each simulated
process holds on them. `tui.sim.settings` lists every knob the simulation reads.

Module map:

    settings        environment variables and headers, parsed once
    host            host.json and the per-process records in servers/
    telemetry       what the chips read now (HBM, AI Core %, power, lagging temperature)
    npu_smi_render  the exact text of `npu-smi info`, `-m`, `-l`, `-t …`
    npu_smi         the `npu-smi` command line
    model_config    config.json → model geometry and parameter count
    serve_args      the `vllm serve` argparse parser, `non-default args`
    engine_plan     weights, KV cache, ACL graph sizes, compilation mode of one start-up
    startup_log     start-up lines both processes print (plugins, banner, graph sizing)
    error_text      tracebacks and Ascend error blocks of failed start-ups
    logfmt          vLLM / uvicorn line format, flushed per line
    engine_core     the EngineCore child process (holds the HBM)
    engine_link     the API server's handle on that child
    textgen         toy tokenizer and seeded text generation
    api_protocol    request validation and response bodies of the OpenAI API
    metrics         `/metrics` and the `Engine 000:` stats line
    http_server     asyncio HTTP/1.1 server (keep-alive, pipelining, chunked streams)
    openai_api      routes, batching, latency model, fault injection
    vllm_serve      the `vllm serve` program: start-up, serving, shutdown
    demo_models     config files of the two demo models
    demo            prepare_demo_host() and DemoHost
"""
