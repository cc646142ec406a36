"""The Devices area's behaviour on the app: reading results, stopping holders, the chip detail.

A mixin of `NpuConsoleApp`, kept apart so the app module stays the wiring and
each area's reactions live in one place.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from tui.devices.backends import NpuSmiBackend, read_npu_usages
from tui.devices.chip_memory import chip_memory_used_mb
from tui.devices.processes import HeldMemory
from tui.devices.visible_devices import visible_devices
from tui.proc_tree import Expected, stop_tree
from tui.profiles import ProfileError, expand_env
from tui.screens.chip_detail import ChipDetailScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.device_monitor import DeviceMonitor
from tui.screens.main import MainScreen
from tui.screens.messages import DevicesPolled, DevicesUnavailable, TreeStopped
from tui.screens.server_control import ServerControl
from tui.session import ConsoleSession
from widgets.devices_view import DevicesView

DEVICE_TOOL_TIMEOUT_S = 10.0


def shown_process(row: HeldMemory, pid: int) -> Expected:
    """What the operator was shown of `pid`, checked again right before it is signalled.

    The holder itself: its start time and command line. A zombie's parent (shown through
    its child): it must be older than that child, or the PID has been reused since.
    """
    host = row.host
    if host is None:
        return Expected(pid)
    if host.pid == pid:
        return Expected(pid, create_time=host.started_at, command=host.command)
    return Expected(pid, started_before=host.started_at)


class DevicesActions(App[None]):
    """Device reactions; the app provides `session`, `devices` and `main`."""

    session: ConsoleSession
    devices: DeviceMonitor
    _pending_release: tuple[HeldMemory, int | None] | None
    _attached_pids: frozenset[int]
    _killed_own: tuple[int, str] | None  # a process of our own server stopped with k: (pid, name)
    server: ServerControl

    if TYPE_CHECKING:  # provided by the app; declared here for the type checker only
        @property
        def main(self) -> MainScreen: ...

    def action_refresh_devices(self) -> None:
        if self.devices.reading:
            self.notify("A device read is still running; the next one starts when it ends.")
        if not self.devices.poll_now():
            self.notify("There is no device tool on this host to read.", severity="warning")

    @work(group="stop-holder")
    async def _stop_holder(self, row: HeldMemory) -> None:
        """Ask, then stop the tree of the process holding device memory, then re-read the devices."""
        pid = row.kill_pid
        if pid is None:
            self.notify(f"Process {row.device.pid} is not visible from here (another container?); "
                        "stop it where it runs.", severity="warning")
            return
        if pid in self._attached_pids:
            self.notify(f"Process {pid} belongs to the server you attached to; this console did not start it "
                        "and does not stop it. Detach first (s), then stop it where it was started.",
                        severity="warning", timeout=10)
            return
        host = row.host
        what = host.command if host else f"pid {pid}"
        memory = f"{row.device.memory_mb} MB" if row.device.memory_mb is not None else "device memory"
        question = (f"Stop process {pid} and everything it started?\n\n{what}\n\n"
                    f"It holds {memory} on NPU {row.device.npu}. SIGTERM first, SIGKILL after 5 s.")
        if row.ours:
            question += (f"\n\nIt is part of the server this console launched (pid {self.server.status.pid}): "
                         "stopping it ends that server. To stop the server cleanly, use s instead.")
        if row.leftover:
            question += f"\n\nWhy it looks left over: {row.leftover}."
        if not await self.push_screen_wait(ConfirmScreen("Stop a device-memory holder", question, "Stop it")):
            return
        if row.ours:
            self._killed_own = (pid, row.device.name or (host.command.split()[0] if host else "?"))
        before = self._chip_hbm(row)
        report = await asyncio.to_thread(stop_tree, pid, expect=shown_process(row, pid))  # a PID can be reused
        self._pending_release = (row, before)
        self.post_message(TreeStopped(row, report))
        self.devices.poll_now()

    def on_devices_polled(self, message: DevicesPolled) -> None:
        now = self.session.clock.monotonic()
        selected = self._selected_logic_ids()
        for view in self.main.query(DevicesView):
            if not view.query("#processes"):  # the console is closing: its parts are gone already
                continue
            view.show_message(None)
            view.show_status(message.state, now, self.devices.interval_s)
            view.show_devices(message.state, selected, now, self.devices.interval_s)
            if message.state.error is None:
                view.show_holders(message.holders, attached=self._attached_pids)
        self._report_release(message)

    def on_devices_unavailable(self, message: DevicesUnavailable) -> None:
        for view in self.main.query(DevicesView):
            view.show_message(message.sentence)

    def on_devices_view_kill_requested(self, message: DevicesView.KillRequested) -> None:
        self._stop_holder(message.row)

    def on_devices_view_detail_requested(self, message: DevicesView.DetailRequested) -> None:
        self._show_chip_detail(message.npu)

    @work(group="chip-detail", exclusive=True)
    async def _show_chip_detail(self, npu: int) -> None:
        poller = self.devices.poller
        backend = poller.backend if poller is not None else None
        if not isinstance(backend, NpuSmiBackend):
            self.notify("Usage rates come from npu-smi; this host's device tool has none.", severity="warning")
            return
        usages, error = await read_npu_usages(backend.path, self.session.command_runner, npu,
                                              timeout=DEVICE_TOOL_TIMEOUT_S)
        await self.push_screen_wait(ChipDetailScreen(npu, usages, error))

    def on_tree_stopped(self, message: TreeStopped) -> None:
        report = message.report
        if report.error:
            self.notify(report.error, title="Not stopped", severity="error", timeout=10)
            self._pending_release = None
        elif report.survivors:
            self.notify(f"Still running after {report.last_signal}: pids "
                        f"{', '.join(map(str, report.survivors))}.", title="Not all stopped", severity="error")
        else:
            self.notify(f"Stopped {len(report.stopped)} process(es) with {report.last_signal}; "
                        "reading the devices to see the memory come back…")

    # ---- devices ---------------------------------------------------------------------------

    def _devices_shown(self) -> bool:
        """Whether the Devices area is on screen (reads pause when it is not)."""
        main = self.main
        if not main.is_mounted:
            return True
        if main.maximized is not None:
            return main.maximized.id == "devices"
        return not main.has_class("-compact") or main.active_area == "devices"

    def _selected_logic_ids(self) -> set[int]:
        profile = self.session.profile
        if profile is None:
            return set()
        try:
            written = profile.effective_env(profile.variant(self.session.variant))
        except ProfileError:
            return set()
        # Expanded as the launch expands it (sourced files aside: they are read only at a launch).
        env = {**self.session.env, **expand_env(written, self.session.env)}
        return set(visible_devices(env, profile.runtime) or ())

    def _chip_hbm(self, row: HeldMemory) -> int | None:
        state = self.devices.state
        if state is None or state.snapshot is None:
            return None
        for chip in state.snapshot.chips:
            if chip.npu == row.device.npu and (row.device.chip is None or chip.chip == row.device.chip):
                return chip_memory_used_mb(chip)
        return None

    def _report_release(self, message: DevicesPolled) -> None:
        """After a stop: once the pid has left the device's table, say how much memory came back."""
        if self._pending_release is None or message.state.error is not None:
            return
        row, before = self._pending_release
        snapshot = message.state.snapshot
        if snapshot is None or any(p.pid == row.device.pid for p in snapshot.processes):
            return
        self._pending_release = None
        after = self._chip_hbm(row)
        where = f"NPU {row.device.npu}" + (f"/{row.device.chip}" if row.device.chip is not None else "")
        if before is not None and after is not None:
            self.notify(f"{where}: {before - after} MB came back ({before} → {after} MB used).",
                        title="Memory released", timeout=10)
        else:
            self.notify(f"Process {row.device.pid} no longer holds memory on {where}.", title="Memory released")

    def _show_device_age(self) -> None:
        state = self.devices.state
        if state is None:
            return
        for view in self.main.query(DevicesView):
            view.show_status(state, self.session.clock.monotonic(), self.devices.interval_s)
