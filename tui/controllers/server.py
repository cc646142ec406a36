"""The Server area: preflight, launch, stop, restart, attach, the quit question, the log and its facts.

The process work happens in `ServerControl` (an invisible widget) and the
headless `tui.server` modules; this controller decides what to ask the
operator and what to show, and remembers what the server it launched runs.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.controllers.base import Controller
from tui.controllers.messages import (
    AreaWanted,
    AttachedTreeChanged,
    OwnServerProcessStopped,
    ServerNoteChanged,
    SessionChanged,
)
from tui.devices.chip_memory import chip_memory_used_mb
from tui.devices.processes import HeldMemory
from tui.devices.visible_devices import visible_devices
from tui.processes.tree import Expected, identify, stop_tree
from tui.profile import Profile, ProfileError
from tui.screens.attach import AttachScreen, AttachTarget
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.clipboard import clipboard_sentence
from tui.screens.confirm import ConfirmScreen
from tui.screens.messages import (
    DevicesPolled,
    ServerFactsChanged,
    ServerLinesArrived,
    ServerMetricsRead,
    ServerStatusChanged,
)
from tui.screens.preflight import PreflightScreen
from tui.server.attach_check import find_left_running, record_left_running, server_tree
from tui.server.environment import resolve_environment
from tui.server.launch_plan import LaunchPlan, launch_plan, shell_command
from tui.server.launcher import LaunchError
from tui.server.pipeline_evidence import EvidenceError, evidence_sentence
from tui.server.preflight import run_preflight
from widgets.server_facts import metrics_rows, stats_rows
from widgets.server_log import ServerLog
from widgets.server_view import ServerView

PREFLIGHT_CANCELLED = "the launch was cancelled at preflight"


@dataclass(frozen=True)
class RunningLaunch:
    """What the server this console launched really runs: results take their labels from this, not the
    selection (`v` and `p` change what the next launch will be, not what is serving now)."""

    profile: str
    variant: str | None

    @property
    def label(self) -> str:
        return f"{self.profile} · {self.variant}" if self.variant else self.profile


DEVICE_READ_WAIT_S = 15.0  # npu-smi takes seconds on a busy host; what waits goes ahead with what it has after this
DEVICE_READ_POLL_S = 0.1
HBM_SLACK_MB = 1024  # within this of the pre-launch level, the memory "came back"

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp


class ServerController(Controller):
    """Owns what the launched server runs, the chips' memory before it, the attached tree, the holders seen."""

    def __init__(self, app: NpuConsoleApp) -> None:
        super().__init__(app)
        self._holders: tuple[HeldMemory, ...] = ()  # who holds device memory, as of the last read
        self._prelaunch_hbm: dict[tuple[int, int | None], int] | None = None
        self._running_launch: RunningLaunch | None = None  # what the server we launched really runs
        self._attached_pids: frozenset[int] = frozenset()  # the tree of the server we attached to, when seen
        self._killed_own: tuple[int, str] | None = None  # a process of our server stopped from the Devices area

    @property
    def attached_pids(self) -> frozenset[int]:
        """The processes of the server we attached to (empty when not attached, or not seen)."""
        return self._attached_pids

    @property
    def running_launch(self) -> RunningLaunch | None:
        """What our server runs while it is up (None when it is not)."""
        return self._running_launch if self.app.server.status.ours_running else None

    # ---- actions ---------------------------------------------------------------------------

    def launch(self) -> None:
        self.worker(self._launch_selected, group="server-launch", exclusive=True)

    def stop(self) -> None:
        self.worker(self._stop, group="server-stop", exclusive=True)

    def restart(self) -> None:
        self.worker(self._restart, group="server-launch", exclusive=True)

    def attach(self) -> None:
        self.worker(self._attach, group="server-attach", exclusive=True)

    def copy_launch(self) -> None:
        profile = self.session.profile
        if profile is None:
            self.app.notify("Pick a profile first (p).", severity="warning")
            return
        script = launch_plan(profile, self.session.variant, self.session.env).shell_script()
        self.app.copy_to_clipboard(script)
        self.app.notify(clipboard_sentence("the launch script", self.session.env,
                                           "It is also shown in the Server area and saved as launch.sh at each "
                                           "launch."), title="Launch command")

    async def _launch_selected(self) -> None:
        """Preflight, then launch the profile's server (variant as chosen)."""
        profile = self.session.profile
        if profile is None:
            self.app.notify("Pick a profile first (p).", severity="warning")
            return
        if self.app.server.status.ours_running:
            self.app.notify(f"The server is already running (pid {self.app.server.status.pid}); stop or restart it.",
                            severity="warning")
            return
        self.app.server.detach()
        problem = await self.preflight_and_launch(profile, self.session.variant)
        if problem is not None and not problem.startswith(PREFLIGHT_CANCELLED):
            self.app.notify(problem, title="Cannot launch", severity="error")

    async def preflight_and_launch(self, profile: Profile, variant: str | None) -> str | None:
        """Preflight `variant` (the operator confirms) and launch it; None, or the sentence why it did not start."""
        try:
            plan = launch_plan(profile, variant, self.session.env)
        except ProfileError as error:
            return str(error)
        self.app.post_message(AreaWanted("server"))
        previous = self.app.server.status.state
        self.app.server.set_status("preflight")
        env = await self._preflight(profile, plan)
        if env is None:
            self.app.server.set_status("not started" if previous == "preflight" else previous)
            return PREFLIGHT_CANCELLED
        await self._launch(profile, plan, env)
        return None

    async def _stop(self) -> None:
        """Stop what we launched (the whole tree), or stop following what we attached to."""
        status = self.app.server.status
        if status.state == "attached":
            self.app.server.detach()
            self.app.notify("Detached. The server keeps running: this console did not start it.")
            return
        if not status.ours_running:
            self.app.notify("No server started by this console is running.", severity="warning")
            return
        if not await self.app.push_screen_wait(ConfirmScreen(
            "Stop the server",
            f"Stop {self.running_label()} (pid {status.pid}) and every process it started? "
            "SIGINT, then SIGTERM, then SIGKILL; its log stays in the run folder.",
            "Stop it",
        )):
            return
        await self.stop_and_check()

    async def _restart(self) -> None:
        """Stop (if running), then preflight and launch again."""
        if self.app.server.status.ours_running:
            await self.stop_and_check()
        self.launch()

    async def _attach(self) -> None:
        if self.app.server.status.ours_running:
            self.app.notify("Stop the server this console started before attaching to another.", severity="warning")
            return
        profile = self.session.profile
        api_key = self._api_key(profile)
        left = await asyncio.to_thread(find_left_running, self.session.runs_root)
        target: AttachTarget | None = await self.app.push_screen_wait(
            AttachScreen(profile.base_url if profile else None, left, api_key, self.session.http_transport)
        )
        if target is None:
            return
        self.app.server.attach(target.log_path, target.url, target.from_start, api_key, self.session.run_dir)
        self._attached_pids = await asyncio.to_thread(server_tree, target.pid)
        self.app.post_message(AttachedTreeChanged(self._attached_pids))
        self.app.post_message(AreaWanted("server"))
        self.app.post_message(ServerNoteChanged(f"Attached: {target.summary}." if target.findings else None,
                                                warning=not target.alive))
        self.app.notify(f"Attached to {target.log_path or target.url}: {target.summary or 'not checked'}. "
                        "Stopping only detaches.", title="Attached" if target.alive else "Attached to nothing alive",
                        severity="information" if target.alive else "warning", timeout=12)

    def quit(self) -> None:
        """Quit now, or (our server running) ask whether to stop it or leave it running."""
        if not self.app.server.status.ours_running:
            self.app.exit()
            return
        self.worker(self._ask_before_quit, group="quit", exclusive=True)

    async def _ask_before_quit(self) -> None:
        choice = await self.app.push_screen_wait(ChoiceScreen(
            "The server is still running",
            [
                Choice("stop", "Stop it, then quit", "SIGINT, then SIGTERM, then SIGKILL to its whole tree"),
                Choice("leave", "Leave it running and quit",
                       f"it keeps logging to {self.app.server.status.log_path}; attach to it later"),
                Choice("cancel", "Cancel", "stay in the console"),
            ],
            hint=f"pid {self.app.server.status.pid} was started by this console.",
        ))
        if choice == "stop":
            await self.stop_and_check(quitting=True)
            self.app.exit()
        elif choice == "leave":
            self.app.server.release()
            await asyncio.to_thread(self._record_left_running)
            status = self.app.server.status
            self.app.exit(message=f"The server (pid {status.pid}) keeps running at {status.url or 'its URL'}, "
                                  f"logging to {status.log_path}. The next console offers it under attach (a).")

    def _record_left_running(self) -> None:
        """Note in the run folder that the server runs on, so that the next attach (`a`) offers it."""
        status, run_dir, running = self.app.server.status, self.session.run_dir, self._running_launch
        if status.pid is None or run_dir is None or status.log_path is None:
            return
        try:
            record_left_running(run_dir, status.pid, status.url, status.log_path,
                                running.profile if running else "server", running.variant if running else None)
        except OSError:
            pass  # the console is quitting; the notice below still says where the log is

    # ---- the steps -------------------------------------------------------------------------

    async def _preflight(self, profile: Profile, plan: LaunchPlan) -> dict[str, str] | None:
        """Run the checks until the operator launches (the env to launch with) or cancels (None)."""
        while True:
            resolved = await resolve_environment(self.session.env, plan.source_files, plan.env,
                                                 self.session.command_runner)
            state = self.app.devices.state
            snapshot = state.snapshot if state is not None else None
            npu_smi_found = self.app.devices.poller is not None and self.app.devices.poller.backend.name == "npu-smi"
            checks = await run_preflight(plan, profile, resolved, snapshot, self._holders,
                                         npu_smi_found=npu_smi_found)
            answer = await self.app.push_screen_wait(PreflightScreen(checks, shell_command(plan.argv)))
            if answer is None:
                return None
            if answer == "launch":
                return dict(resolved.env)
            offer = checks[int(answer.removeprefix("offer:"))].offer
            if offer is None:
                continue
            pids = ", ".join(map(str, offer.pids))
            shown = {pid: await asyncio.to_thread(identify, pid) for pid in offer.pids}  # checked again below
            commands = "".join(f"\n  {pid}: {(seen.command or '')[:100]}" for pid, seen in shown.items() if seen)
            if not await self.app.push_screen_wait(ConfirmScreen(
                "Stop processes", f"{offer.label}: stop pid(s) {pids} and everything they started?{commands}",
                "Stop them",
            )):
                continue
            for pid in offer.pids:  # only if each is still the process shown: a PID can be reused meanwhile
                report = await asyncio.to_thread(stop_tree, pid, expect=shown[pid] or Expected(pid))
                if not report.ok:
                    self.app.notify(report.error or f"pid {pid} survived", severity="error")
            self.app.devices.poll_now()
            await asyncio.sleep(0.5)  # let the next device read see the memory come back

    async def _launch(self, profile: Profile, plan: LaunchPlan, env: dict[str, str]) -> None:
        self._prelaunch_hbm = self._selected_hbm(env, profile.runtime)  # the expanded env the server gets
        try:  # the pipeline writes launch.json, launch.sh, facts.json and stop.json, as `serve` does
            run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
            await self.app.server.launch(plan, env, run_dir, profile.base_url, self._api_key(profile))
        except OSError as error:
            self.app.server.set_status("failed", detail=evidence_sentence(self.session.runs_root, error))
            return
        except (LaunchError, EvidenceError) as error:
            self.app.server.set_status("failed", detail=str(error))
            return
        self.session.launched_pids = (self.app.server.status.pid,) if self.app.server.status.pid else ()
        self._running_launch = RunningLaunch(profile.name, plan.variant)
        self.app.post_message(SessionChanged(header_only=True))

    async def stop_and_check(self, *, quitting: bool = False) -> None:
        """Stop our server's tree; then, unless the console is quitting, wait for the reading the HBM check needs."""
        report = await self.app.server.stop()
        self.session.launched_pids = ()
        if report is None:
            return
        if report.survivors:
            self.app.server.set_status("failed", detail=(
                f"still running after {report.last_signal}: pid(s) {', '.join(map(str, report.survivors))}; "
                "stop them from the Devices area (k) or as root"))
            return
        self.app.notify(f"Stopped the server's {len(report.stopped)} process(es) ({report.last_signal}).")
        if not quitting:
            await self._fresh_device_reading()  # the HBM check runs on it, and a relaunch's preflight must not judge
        # the chips' memory and the leftovers by a reading taken while the stopped server still held them

    async def _fresh_device_reading(self, timeout_s: float = DEVICE_READ_WAIT_S) -> None:
        """Ask for a device reading now and wait (bounded: npu-smi can hang) until it has arrived."""
        before = self.app.devices.state
        if not self.app.devices.poll_now():
            return  # no device tool on this host (vLLM's CPU build): no reading will come, nothing to wait for
        for _ in range(math.ceil(timeout_s / DEVICE_READ_POLL_S)):
            if self.app.devices.state is not before:
                return
            await asyncio.sleep(DEVICE_READ_POLL_S)

    def _selected_hbm(self, env: Mapping[str, str], runtime: str) -> dict[tuple[int, int | None], int] | None:
        state = self.app.devices.state
        if state is None or state.snapshot is None:
            return None
        ids = set(visible_devices(env, runtime) or ())
        hbm: dict[tuple[int, int | None], int] = {}
        for index, chip in enumerate(state.snapshot.chips):
            used = chip_memory_used_mb(chip)
            logic = next((m.logic_id for m in state.snapshot.mapping if (m.npu, m.chip) == (chip.npu, chip.chip)),
                         index)
            if used is not None and (not ids or logic in ids):
                hbm[(chip.npu, chip.chip)] = used
        return hbm

    @staticmethod
    def _api_key(profile: Profile | None) -> str | None:
        if profile is None or not profile.server.api_key_env:
            return None
        return os.environ.get(profile.server.api_key_env)

    # ---- messages --------------------------------------------------------------------------

    def on_own_server_process_stopped(self, message: OwnServerProcessStopped) -> None:
        self._killed_own = (message.pid, message.name)

    def on_server_note_changed(self, message: ServerNoteChanged) -> None:
        for view in self.main.query(ServerView):
            view.show_note(message.note, warning=message.warning)

    def on_server_status_changed(self, message: ServerStatusChanged) -> None:
        killed = self._killed_own
        if killed is not None and message.status.state in ("stopped", "failed"):
            self._killed_own = None  # say what really happened: the operator stopped part of it with k
            pid, name = killed
            ended = (message.status.detail or "").removeprefix("Nobody asked it to stop: ").rstrip(".")
            self.app.server.set_status(message.status.state, pid=None, detail=(
                f"You stopped its process {pid} ({name}) from the Devices area (k); the server then ended"
                + (f": {ended}." if ended else ".")))
            return
        if message.status.state in ("starting", "not started"):
            self._killed_own = None
        self.app.profile_area.show_header()
        for view in self.main.query(ServerView):
            view.show_status(message.status, self._uptime())
        if message.status.state in ("starting", "attached"):
            for view in self.main.query(ServerView):
                view.clear_facts()
                view.log_pane.replace([], 0)
        if message.status.state != "attached":
            if self._attached_pids:
                self._attached_pids = frozenset()
                self.app.post_message(AttachedTreeChanged(self._attached_pids))
            for view in self.main.query(ServerView):
                view.show_note(None)

    def on_server_lines_arrived(self, message: ServerLinesArrived) -> None:
        for view in self.main.query(ServerView):
            view.log_pane.append(message.lines, message.total)

    def on_server_facts_changed(self, message: ServerFactsChanged) -> None:
        self._show_facts()

    def on_server_metrics_read(self, message: ServerMetricsRead) -> None:
        self._show_facts()  # the pipeline keeps the history (reset by a launch and by an attach alike)

    def on_server_log_filter_changed(self, message: ServerLog.FilterChanged) -> None:
        for view in self.main.query(ServerView):
            pane = view.log_pane
            pane.replace([line for line in self.app.server.window.shown(message.log_filter) if pane.passes(line)],
                         self.app.server.window.total)

    def on_server_log_search_requested(self, message: ServerLog.SearchRequested) -> None:
        for view in self.main.query(ServerView):
            pane = view.log_pane
            shown = [line for line in self.app.server.window.shown(pane.log_filter) if pane.passes(line)][-5000:]
            found = self.app.server.window.find(shown, message.term, pane.last_match)
            if found is None:
                self.app.notify(f"{message.term!r} is not in the lines kept in memory (the whole log is in "
                                f"{self.app.server.status.log_path or 'the file'}).", severity="warning")
                return
            pane.last_match = found
            line = shown[found]
            column = line.shown.lower().find(message.term.lower())
            pane.scroll_to_line(found, max(0, column), line.number)

    def on_devices_polled(self, message: DevicesPolled) -> None:
        """After a stop: did the chips' HBM come back to where it was before the launch?"""
        self._holders = message.holders
        before = self._prelaunch_hbm
        if before is None or self.app.server.status.state != "stopped" or message.state.error is not None:
            return
        snapshot = message.state.snapshot
        if snapshot is None:
            return
        self._prelaunch_hbm = None
        held = []
        for chip in snapshot.chips:
            key = (chip.npu, chip.chip)
            used = chip_memory_used_mb(chip)
            if key in before and used is not None and used > before[key] + HBM_SLACK_MB:
                held.append(f"NPU {chip.npu}: {used} MB used, {before[key]} MB before the launch")
        if held:
            self.app.server.set_status("stopped", detail="The memory did not all come back — " + "; ".join(held)
                                   + ". A leftover may hold it: see the Devices area.")
        else:
            self.app.notify("The server's processes are gone and the chips' memory is back to its pre-launch level.",
                            title="Stopped cleanly")

    # ---- what runs ---------------------------------------------------------------------------

    def running_label(self) -> str:
        """"qwen · graph": the profile and variant of the server that is up (or was last launched)."""
        if self._running_launch is not None:
            return self._running_launch.label
        profile = self.session.profile
        return profile.name if profile else "the server"

    def running_variant(self) -> str | None:
        """The label a result gets: the running launch's variant, "attached" for someone else's server,
        the selected variant only when nothing of ours has been launched."""
        if self.app.server.status.state == "attached":
            return "attached"
        if self._running_launch is not None and self.app.server.status.state not in ("not started", "preflight"):
            return self._running_launch.variant
        return self.session.variant

    # ---- drawing ---------------------------------------------------------------------------

    def tick_uptime(self) -> None:
        """Redraw the status line once a second while the server is up, so its uptime counts."""
        status = self.app.server.status
        if status.state in ("starting", "ready") and status.started_at is not None:
            for view in self.main.query(ServerView):
                view.show_status(status, self._uptime())

    def _uptime(self) -> float | None:
        started = self.app.server.status.started_at
        return None if started is None else time.monotonic() - started

    def _show_facts(self) -> None:
        said = self.app.server.view
        finished = self.app.server.status.state not in ("starting",)
        rows = metrics_rows(self.app.server.metrics) if self.app.server.status.state in ("ready", "attached") else []
        if not rows:  # no /metrics (attached to a log only, or not scraped yet): the log's own stats lines
            rows = stats_rows(self.app.server.stats_history)
        for area in self.main.query(ServerView):
            area.show_facts(said.facts, said.phases, self.app.server.progress, said.root_cause, said.error_count,
                            rows, finished)

