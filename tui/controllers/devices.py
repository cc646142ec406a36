"""The Devices area: device and host readings, stopping a memory holder, the chip detail.

The device reads themselves run in `DeviceMonitor` (an invisible widget with
the poll loop); this controller decides what to show of them and what to ask.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tui.controllers.base import Controller
from tui.controllers.messages import AttachedTreeChanged, OwnServerProcessStopped
from tui.devices.backends import NpuSmiBackend, read_npu_usages
from tui.devices.chip_memory import chip_memory_used_mb
from tui.devices.host import HostSampler, HostSource
from tui.devices.processes import HeldMemory
from tui.devices.visible_devices import visible_devices
from tui.processes.tree import Expected, stop_tree
from tui.profile import ProfileError, expand_env
from tui.screens.chip_detail import ChipDetailScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.device_monitor import DeviceMonitor
from tui.screens.messages import DevicesPolled, DevicesUnavailable, HostSampled, TreeStopped
from widgets.devices_view import DevicesView

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp

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


class DevicesController(Controller):
    """Owns the device monitor, the host sampler, and what a stop is waiting to see come back."""

    def __init__(self, app: NpuConsoleApp, *, interval_s: float, timeout_s: float,
                 host_sampler: HostSource | None) -> None:
        super().__init__(app)
        self.monitor = DeviceMonitor(app.session, interval_s, timeout_s, self.is_shown)
        self.host_sampler = host_sampler or HostSampler()
        self._pending_release: tuple[HeldMemory, int | None] | None = None  # a stopped holder, HBM before
        self._attached_pids: frozenset[int] = frozenset()  # the tree of the server we attached to, when seen

    # ---- actions ---------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.monitor.reading:
            self.app.notify("A device read is still running; the next one starts when it ends.")
        if not self.monitor.poll_now():
            self.app.notify("There is no device tool on this host to read.", severity="warning")

    def stop_holder(self, row: HeldMemory) -> None:
        self.worker(self._stop_holder, row, group="stop-holder")

    async def _stop_holder(self, row: HeldMemory) -> None:
        """Ask, then stop the tree of the process holding device memory, then re-read the devices."""
        pid = row.kill_pid
        if pid is None:
            self.app.notify(f"Process {row.device.pid} is not visible from here (another container?); "
                            "stop it where it runs.", severity="warning")
            return
        if pid in self._attached_pids:
            self.app.notify(f"Process {pid} belongs to the server you attached to; this console did not start it "
                            "and does not stop it. Detach first (s), then stop it where it was started.",
                            severity="warning", timeout=10)
            return
        host = row.host
        what = host.command if host else f"pid {pid}"
        memory = f"{row.device.memory_mb} MB" if row.device.memory_mb is not None else "device memory"
        question = (f"Stop process {pid} and everything it started?\n\n{what}\n\n"
                    f"It holds {memory} on NPU {row.device.npu}. SIGTERM first, SIGKILL after 5 s.")
        if row.ours:
            question += (f"\n\nIt is part of the server this console launched (pid {self.app.server.status.pid}): "
                         "stopping it ends that server. To stop the server cleanly, use s instead.")
        if row.leftover:
            question += f"\n\nWhy it looks left over: {row.leftover}."
        if not await self.app.push_screen_wait(ConfirmScreen("Stop a device-memory holder", question, "Stop it")):
            return
        if row.ours:  # posted before the signal: the server's end arrives after it
            self.app.post_message(OwnServerProcessStopped(pid, row.device.name or (
                host.command.split()[0] if host else "?")))
        before = self._chip_hbm(row)
        report = await asyncio.to_thread(stop_tree, pid, expect=shown_process(row, pid))  # a PID can be reused
        self._pending_release = (row, before)
        self.app.post_message(TreeStopped(row, report))
        self.monitor.poll_now()

    def show_chip_detail(self, npu: int) -> None:
        self.worker(self._show_chip_detail, npu, group="chip-detail", exclusive=True)

    async def _show_chip_detail(self, npu: int) -> None:
        poller = self.monitor.poller
        backend = poller.backend if poller is not None else None
        if not isinstance(backend, NpuSmiBackend):
            self.app.notify("Usage rates come from npu-smi; this host's device tool has none.", severity="warning")
            return
        usages, error = await read_npu_usages(backend.path, self.session.command_runner, npu,
                                              timeout=DEVICE_TOOL_TIMEOUT_S)
        await self.app.push_screen_wait(ChipDetailScreen(npu, usages, error))

    def read_host(self) -> None:
        self.worker(self._read_host, group="host", exclusive=True)

    async def _read_host(self) -> None:
        snapshot = await asyncio.to_thread(self.host_sampler.sample)
        self.app.post_message(HostSampled(snapshot))

    # ---- messages --------------------------------------------------------------------------

    # A worker's message can arrive while the app shuts down and the views are gone: the
    # handlers iterate over `query` (empty then) rather than `query_one` (which would raise).

    def on_host_sampled(self, message: HostSampled) -> None:
        for view in self.main.query(DevicesView):
            view.show_host(message.snapshot)

    def on_devices_polled(self, message: DevicesPolled) -> None:
        now = self.session.clock.monotonic()
        selected = self._selected_logic_ids()
        for view in self.main.query(DevicesView):
            if not view.query("#processes"):  # the console is closing: its parts are gone already
                continue
            view.show_message(None)
            view.show_status(message.state, now, self.monitor.interval_s)
            view.show_devices(message.state, selected, now, self.monitor.interval_s)
            if message.state.error is None:
                view.show_holders(message.holders, attached=self._attached_pids)
        self._report_release(message)

    def on_devices_unavailable(self, message: DevicesUnavailable) -> None:
        for view in self.main.query(DevicesView):
            view.show_message(message.sentence)

    def on_attached_tree_changed(self, message: AttachedTreeChanged) -> None:
        self._attached_pids = message.pids

    def on_tree_stopped(self, message: TreeStopped) -> None:
        report = message.report
        if report.error:
            self.app.notify(report.error, title="Not stopped", severity="error", timeout=10)
            self._pending_release = None
        elif report.survivors:
            self.app.notify(f"Still running after {report.last_signal}: pids "
                            f"{', '.join(map(str, report.survivors))}.", title="Not all stopped", severity="error")
        else:
            self.app.notify(f"Stopped {len(report.stopped)} process(es) with {report.last_signal}; "
                            "reading the devices to see the memory come back…")

    # ---- what is shown ---------------------------------------------------------------------

    def is_shown(self) -> bool:
        """Whether the Devices area is on screen (reads pause when it is not)."""
        main = self.main
        if not main.is_mounted:
            return True
        if main.maximized is not None:
            return main.maximized.id == "devices"
        return not main.has_class("-compact") or main.active_area == "devices"

    def show_age(self) -> None:
        state = self.monitor.state
        if state is None:
            return
        for view in self.main.query(DevicesView):
            view.show_status(state, self.session.clock.monotonic(), self.monitor.interval_s)

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
        state = self.monitor.state
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
            self.app.notify(f"{where}: {before - after} MB came back ({before} → {after} MB used).",
                            title="Memory released", timeout=10)
        else:
            self.app.notify(f"Process {row.device.pid} no longer holds memory on {where}.", title="Memory released")
