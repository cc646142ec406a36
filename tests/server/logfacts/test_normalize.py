"""One physical line made readable: control bytes, process prefixes, record heads."""

from __future__ import annotations

import pytest

from tui.server.logfacts.normalize import RAW, RECORD, UVICORN, clean, split_head, strip_prefix


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("INFO 07-22 04:05:08 [x.py:1] ok\r", "INFO 07-22 04:05:08 [x.py:1] ok"),
        ("\x1b[1;36m(APIServer pid=1009)\x1b[0;0m INFO x", "(APIServer pid=1009) INFO x"),
        ("\x1b[0;36m(EngineCore_DP0 pid=4)\x1b[0;0m \x1b[32mINFO\x1b[0m \x1b[90m01-29\x1b[0m y",
         "(EngineCore_DP0 pid=4) INFO 01-29 y"),
        ("\x00\x00\x00(Worker_TP4 pid=1) INFO z", "(Worker_TP4 pid=1) INFO z"),
        ("EngineCore failed to start.^M", "EngineCore failed to start."),
        ("frame one\rframe two", "frame one\rframe two"),
    ],
)
def test_clean_removes_control_bytes_but_keeps_tqdm_crs(raw: str, plain: str) -> None:
    assert clean(raw) == plain


@pytest.mark.parametrize(
    ("line", "rest"),
    [
        ("(EngineCore pid=3012) INFO 07-22 x", "INFO 07-22 x"),
        ("(APIServer pid=2719) INFO:     Application startup complete.", "INFO:     Application startup complete."),
        ("(EngineCore_0 pid=1159) (RayWorkerWrapper pid=345, ip=10.42.11.243) INFO 09-10 y", "INFO 09-10 y"),
        ("(EngineCore_0 pid=1159) (pid=1273) INFO z", "INFO z"),
        ("(VllmWorker rank=1 pid=97934) ERROR e", "ERROR e"),
        ("Worker_TP0_EP0 pid=342473) ERROR 06-22 cut", "ERROR 06-22 cut"),
        ("(EngineCore pid=3012) ", ""),
        ("(EngineCore pid=3012)", ""),
        ("[rank0]: RuntimeError: EZ9999: Inner Error!", "RuntimeError: EZ9999: Inner Error!"),
        ("(EngineCore pid=6890) [rank0]:W0803 21:48:43.773000 x", "W0803 21:48:43.773000 x"),
        ("(vllm-v1) sss@ascend-01:~$ vllm serve Qwen", "(vllm-v1) sss@ascend-01:~$ vllm serve Qwen"),
        ("[ERROR] 2025-08-05-11:23:25 (PID:519998, Device:0, RankID:-1) ERR00100 x",
         "[ERROR] 2025-08-05-11:23:25 (PID:519998, Device:0, RankID:-1) ERR00100 x"),
        ("", ""),
    ],
)
def test_strip_prefix(line: str, rest: str) -> None:
    assert strip_prefix(line) == rest


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ("INFO 07-22 04:05:30 [model.py:533] Resolved architecture: X",
         (RECORD, "INFO", "07-22 04:05:30", "Resolved architecture: X")),
        ("ERROR 04-18 01:55:45 engine.py:400] EH9999: Inner Error!",
         (RECORD, "ERROR", "04-18 01:55:45", "EH9999: Inner Error!")),
        ("DEBUG 10-28 10:45:18 [v1/metrics/loggers.py:127] Engine 000: x",
         (RECORD, "DEBUG", "10-28 10:45:18", "Engine 000: x")),
        ("INFO 07-01 10:00:00 vllm-mindspore[utils.py:230] Run with Mindformers backend!",
         (RECORD, "INFO", "07-01 10:00:00", "Run with Mindformers backend!")),
        ('INFO:     127.0.0.1:1 - "GET / HTTP/1.1" 200 OK',
         (UVICORN, "INFO", "", '127.0.0.1:1 - "GET / HTTP/1.1" 200 OK')),
        ("WARNING:  Invalid HTTP request received.", (UVICORN, "WARNING", "", "Invalid HTTP request received.")),
        ("ERROR:    [Errno 98] error while attempting to bind",
         (UVICORN, "ERROR", "", "[Errno 98] error while attempting to bind")),
        ("  File \"/x.py\", line 3, in f", (RAW, "", "", "  File \"/x.py\", line 3, in f")),
        ("EL0006: [PID: 1] The resources are insufficient.",
         (RAW, "", "", "EL0006: [PID: 1] The resources are insufficient.")),
        ("Traceback (most recent call last):", (RAW, "", "", "Traceback (most recent call last):")),
    ],
)
def test_split_head(text: str, head: tuple[int, str, str, str]) -> None:
    assert split_head(text) == head
