"""The dequant stage under hostile conditions: SIGTERM at any moment, SIGKILL, links, read-only and full disks.

Each run here is the real stage (``python -m tui.stages.dequant`` or the same ``program`` under a small
driver that makes its writes slow or its chunks tiny, so a signal lands mid-write), on a real checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tests.hostile.helpers import fill, tmpfs  # noqa: E402
from tests.stages.test_dequant import (  # noqa: E402
    REPO_ROOT,
    Events,
    assert_exact,
    leftovers,
    make_tensors,
    write_checkpoint,
)
from tui.stages.dequant import DequantError, DequantInputError, dequantize  # noqa: E402
from tui.stages.dequant.leftovers import lock_folder, release  # noqa: E402

# The real stage's program (what `python -m` runs), with its chunks made tiny (many queue hand-offs to the
# writer thread, so a signal often lands inside the queue's locking) and each write optionally slowed (a
# slow disk), so that a signal sent after the first progress event arrives while the output is written.
DRIVER = """
import sys, time
from tui.stages.dequant import io_threads, kernel
from tui.stages.dequant.cli import program
kernel.CHUNK_ELEMENTS = 1
io_threads.COPY_CHUNK = int(sys.argv[1])
delay = float(sys.argv[2])
if delay:
    real = io_threads.write_all
    def slow(fd, data):
        time.sleep(delay)
        real(fd, data)
    io_threads.write_all = slow
sys.exit(program(sys.argv[3:]))
"""

EXIT_BOUND_S = 60.0  # generous: a cancelled run must end well within the runner's grace, on any machine


def start_driver(src: Path, dst: Path, *, copy_chunk: int = 64, delay: float = 0.0) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(copy_chunk), str(delay), str(src), str(dst)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def wait_for_progress(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """Read events until the first progress one (the write has begun); all events read so far."""
    assert proc.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in proc.stdout:
        event = json.loads(line)
        seen.append(event)
        if event["event"] == "progress":
            return seen
    raise AssertionError(f"the stage ended before writing anything: {seen}")


def finish(proc: subprocess.Popen[str], bound: float = EXIT_BOUND_S) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, remaining events and stderr; the test fails (and the child is killed) past ``bound``."""
    try:
        out, err = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the stage did not end within {bound:g} s of the signal (deadlock)")
    return proc.returncode, [json.loads(line) for line in out.splitlines()], err


def storm_tensors() -> dict[str, Any]:
    """Enough tensors and bytes that tiny chunks make the write last a moment, with both kinds of tensor."""
    gen = torch.Generator().manual_seed(11)
    out: dict[str, Any] = {}
    for i in range(6):
        out[f"layers.{i}.proj.weight"] = (torch.randn((256, 200), generator=gen) * 50).to(torch.float8_e4m3fn)
        out[f"layers.{i}.proj.weight_scale_inv"] = torch.rand((2, 2), generator=gen) + 1e-3
        out[f"layers.{i}.norm.weight"] = torch.randn((96, 96), generator=gen).to(torch.bfloat16)
    return out


def dead_pid() -> int:
    """The PID of a process that has ended and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------------------------------- SIGTERM storm

# One interpreter imports torch and the stage once, then forks one real stage process per run: each child
# runs the stage's `program` exactly as `python -m` does (stdout to a pipe), and the parent reads its events,
# sends SIGTERM at a random moment after the first progress event and reaps it within a bound. torch is
# only imported in the parent, never used there, so each child starts its own thread pool. The first run
# gets no signal: its write time is the span the delays are drawn from.
STORM = """
import json, os, random, select, signal, sys, time
import torch  # noqa: F401 - imported once, before the forks
from tui.stages.dequant import io_threads, kernel
from tui.stages.dequant.cli import program

kernel.CHUNK_ELEMENTS = 1
io_threads.COPY_CHUNK = 64
src, parent, runs, bound = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rng = random.Random(20261207)


def one(i, delay):
    dst = os.path.join(parent, f"out{i}")
    r, w = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        code = program([src, dst])
        sys.stdout.flush()
        os._exit(code)
    os.close(w)
    buf, started, t0 = b"", None, time.monotonic()
    sent = None
    while True:
        ready, _, _ = select.select([r], [], [], 0.05)
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
            if started is None and b'"progress"' in buf:
                started = time.monotonic()
        if delay is not None and started is not None and sent is None and time.monotonic() - started >= delay:
            os.kill(pid, signal.SIGTERM)
            sent = time.monotonic()
        if time.monotonic() - t0 > bound:
            break
    os.close(r)
    deadline = time.monotonic() + bound
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            code = "hung"
            break
        time.sleep(0.02)
    events = [json.loads(line) for line in buf.decode().splitlines() if line.strip()]
    write_s = time.monotonic() - started if started is not None else None
    return {"run": i, "code": code, "signalled": sent is not None, "last": events[-1] if events else None,
            "dst": dst, "write_s": write_s}


calm = one(0, None)
print(json.dumps(calm), flush=True)
for i in range(1, runs + 1):
    print(json.dumps(one(i, rng.uniform(0.0, calm["write_s"]))), flush=True)
"""


def test_sigterm_at_random_points_never_hangs_and_leaves_nothing(tmp_path: Path) -> None:
    """40 runs, each sent SIGTERM at a random moment of its write: every one ends promptly, all-or-nothing.

    The handler once raised inside the writer queue's locking and hung the stage (about 1 in 53); now it
    only sets a flag. Tiny chunks make the queue hand-offs, where that lock is taken, most of the run.
    """
    tensors = storm_tensors()
    src = write_checkpoint(tmp_path / "fp8", tensors)
    out = tmp_path / "out"
    out.mkdir()
    storm = subprocess.run([sys.executable, "-c", STORM, str(src), str(out), "40", str(EXIT_BOUND_S)],
                           capture_output=True, text=True, timeout=40 * 2 * EXIT_BOUND_S,
                           env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert storm.returncode == 0, storm.stderr
    assert "Traceback" not in storm.stderr, storm.stderr
    runs = [json.loads(line) for line in storm.stdout.splitlines()]
    assert len(runs) == 41
    calm, signalled = runs[0], runs[1:]
    assert calm["code"] == 0 and calm["last"]["event"] == "result"
    assert_exact(Path(calm["dst"]), tensors, 128)
    cancelled = 0
    for run in signalled:
        assert run["code"] != "hung", f"run {run['run']} did not end within {EXIT_BOUND_S:g} s of SIGTERM"
        dst = Path(run["dst"])
        if run["code"] == 0:  # the signal came after the rename: DST is complete and said so
            assert run["last"]["event"] == "result"
            assert_exact(dst, tensors, 128)
        else:
            cancelled += 1
            assert run["code"] == 1, run
            assert run["last"] == {"event": "error",
                                   "message": "dequantization was cancelled; nothing was written to DST."}
            assert not dst.exists()
    assert leftovers(out) == []
    assert cancelled > 0, runs


def test_sigterm_while_the_writer_is_stuck_on_a_slow_disk(tmp_path: Path) -> None:
    """Each write takes 1 s (a slow disk): the cancel is still seen at once, and the thread stops too."""
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    proc = start_driver(src, tmp_path / "bf16", copy_chunk=4096, delay=1.0)  # ~13 s of writing
    wait_for_progress(proc)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)  # an impatient second signal must not cut the cleanup short
    code, events, err = finish(proc)
    assert code == 1 and "cancelled" in events[-1]["message"], err
    assert not (tmp_path / "bf16").exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------- leftovers


def test_a_sigkilled_runs_partial_folder_is_removed_and_named_by_the_next_run(tmp_path: Path) -> None:
    tensors = make_tensors()
    src = write_checkpoint(tmp_path / "fp8", tensors)
    dst = tmp_path / "bf16"
    proc = start_driver(src, dst, copy_chunk=1024, delay=0.5)  # ~10 s of writing: the kill lands mid-run
    wait_for_progress(proc)
    proc.kill()
    proc.communicate(timeout=EXIT_BOUND_S)
    assert leftovers(tmp_path) == [f".bf16.partial-{proc.pid}"] and not dst.exists()

    ev = Events()
    dequantize(src, dst, block=None, force=False, dry_run=False, emit=ev)
    assert_exact(dst, tensors, 128)
    assert leftovers(tmp_path) == []
    warnings = [e["message"] for e in ev.of("log") if e["level"] == "warning"]
    assert f"removed .bf16.partial-{proc.pid}, left by an earlier run that was killed (process {proc.pid} is gone)" \
        in warnings


def test_a_dry_run_names_the_leftover_and_keeps_it(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    pid = dead_pid()
    (tmp_path / f".bf16.partial-{pid}").mkdir()
    ev = Events()
    dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=True, emit=ev)
    assert any(m["message"].startswith(f"would remove .bf16.partial-{pid}") for m in ev.of("log"))
    assert leftovers(tmp_path) == [f".bf16.partial-{pid}"]


def test_a_live_runs_partial_folder_is_left_alone_and_said(tmp_path: Path) -> None:
    """The folder a running dequant holds (its lock) is not another run's to remove: one sentence, exit 2."""
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    live = tmp_path / f".bf16.partial-{dead_pid()}"  # whatever its PID now, the lock says it is in use
    live.mkdir()
    (live / "model.safetensors").write_bytes(b"being written")
    fd = lock_folder(live)
    try:
        with pytest.raises(DequantInputError, match=r"another dequant run \(PID \d+\) is writing .* right now"):
            dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
        assert (live / "model.safetensors").read_bytes() == b"being written"
    finally:
        release(fd)


def test_a_previous_dst_moved_aside_by_a_killed_run_is_restored_not_lost(tmp_path: Path) -> None:
    """Killed between moving the old DST aside and putting the new one in: the old one comes back."""
    tensors = make_tensors()
    src = write_checkpoint(tmp_path / "fp8", tensors)
    old = tmp_path / f".bf16.old-{dead_pid()}"
    old.mkdir()
    (old / "precious.txt").write_text("the previous output")
    dry = Events()
    dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=True, emit=dry)
    assert any(m["message"].startswith(f"would restore bf16 from {old.name}") for m in dry.of("log"))
    assert old.exists() and not (tmp_path / "bf16").exists()
    ev = Events()
    with pytest.raises(DequantInputError, match=r"is not empty; pass --force"):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=ev)
    assert (tmp_path / "bf16" / "precious.txt").read_text() == "the previous output"
    assert any(m["message"].startswith(f"restored bf16 from {old.name}") for m in ev.of("log"))
    assert leftovers(tmp_path) == []

    dequantize(src, tmp_path / "bf16", block=None, force=True, dry_run=False, emit=Events())
    assert_exact(tmp_path / "bf16", tensors, 128)
    assert leftovers(tmp_path) == []


def test_a_stale_old_folder_beside_a_finished_dst_is_removed(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    old = tmp_path / f".bf16.old-{dead_pid()}"
    old.mkdir()
    (old / "stale.txt").write_text("x")
    (tmp_path / "bf16").mkdir()
    ev = Events()
    dequantize(src, tmp_path / "bf16", block=None, force=True, dry_run=False, emit=ev)
    assert leftovers(tmp_path) == []
    assert any(m["message"].startswith(f"removed {old.name}") for m in ev.of("log"))


# ------------------------------------------------------------------------------------------- links, disks


@pytest.mark.parametrize("force", [False, True])
def test_a_symlinked_dst_is_refused_and_its_target_untouched(tmp_path: Path, force: bool) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    target = tmp_path / "elsewhere" / "shared-model"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("not yours")
    link = tmp_path / "bf16"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(DequantInputError, match=r"bf16 is a symbolic link to .*shared-model; give the folder"):
        dequantize(src, link, block=None, force=force, dry_run=False, emit=Events())
    assert link.is_symlink() and sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert leftovers(tmp_path) == [] and leftovers(target.parent) == []


def test_a_dangling_symlink_dst_is_refused(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    (tmp_path / "bf16").symlink_to(tmp_path / "nowhere")
    with pytest.raises(DequantInputError, match="symbolic link"):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
    assert not (tmp_path / "nowhere").exists()


def run_stage_module(src: Path, dst: Path) -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run([sys.executable, "-m", "tui.stages.dequant", str(src), str(dst)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_a_read_only_dst_parent_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    with tmpfs(tmp_path / "ro", read_only=True) as parent:
        code, events, err = run_stage_module(src, parent / "bf16")
        assert code == 2 and err == ""
        assert events[-1] == {"event": "error", "message": f"cannot write in {parent} (read-only file system); "
                                                           "choose a writable destination."}


def test_a_full_dst_parent_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    with tmpfs(tmp_path / "full", size="256k") as parent:
        fill(parent)
        code, events, err = run_stage_module(src, parent / "bf16")
        assert code == 1 and err == ""
        (error,) = [e for e in events if e["event"] == "error"]
        assert error["message"].startswith(f"not enough free space in {parent}: need ")
        assert sorted(p.name for p in parent.iterdir()) == ["filler"]


def test_the_disk_filling_up_mid_write_is_one_sentence_and_nothing_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Free space looked enough, then the disk filled (another writer): the partial output goes, exit 1."""
    import tui.stages.dequant.convert as convert

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    # Let the up-front check pass so that the write itself meets the full disk.
    monkeypatch.setattr(convert, "DISK_MARGIN", -10**9)
    with tmpfs(tmp_path / "small", size="96k") as parent:
        with pytest.raises(DequantError, match=r"writing the output failed: No space left on device"):
            dequantize(src, parent / "bf16", block=None, force=False, dry_run=False, emit=Events())
        assert list(parent.iterdir()) == []


def test_main_in_process_leaves_the_callers_signal_handlers_alone(tmp_path: Path) -> None:
    """Only the stage process (`program`) ignores a late signal; an in-process `main` restores what it found.

    (Ignored dispositions are inherited by every process started afterwards: a test process left with
    SIGINT ignored makes later CLI children deaf to Ctrl-C.)
    """
    from tui.stages.dequant import main

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    assert main([str(src), str(tmp_path / "bf16")]) == 0
    assert {sig: signal.getsignal(sig) for sig in before} == before
