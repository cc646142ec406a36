"""The Textual application: the keys, and the routing of messages to the area controllers.

`make_app` is the one factory the CLI and the tests use. The App holds the
`ConsoleSession` it is given, the two invisible widgets that do the process
work (`DeviceMonitor`, `ServerControl`), and one controller per area
(`tui.controllers`): every key's action and every message is handed to the
controller of its area here, in one place. Work that touches the outside
(device tools, files, the server) runs in workers that report back with
messages (`tui.screens.messages`, `tui.controllers.messages`); workers never
touch widgets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from tui.console_commands import CONSOLE_COMMANDS, ConsoleCommand
from tui.controllers.bench import BenchController
from tui.controllers.devices import DEVICE_TOOL_TIMEOUT_S, DevicesController
from tui.controllers.failure_policy import FailurePolicy
from tui.controllers.messages import (
    AreaWanted,
    AttachedTreeChanged,
    ComparisonReady,
    ConversationReopened,
    OwnServerProcessStopped,
    PlaygroundSettingsChanged,
    PromptPicked,
    ReplyDelta,
    ReplyFinished,
    ReplyStarted,
    ServerNoteChanged,
    SessionChanged,
    StageEventArrived,
    StageFinished,
    StageRunPicked,
    StageStatusChanged,
)
from tui.controllers.playground import PlaygroundController
from tui.controllers.precision import PrecisionController
from tui.controllers.profile import ProfileController
from tui.controllers.server import ServerController
from tui.controllers.stages import StagesController
from tui.devices.host import HostSource
from tui.files.atomic import atomic_write_text
from tui.playground.state import PlaygroundState
from tui.screens.commands import ConsoleCommandsProvider
from tui.screens.main import MainScreen
from tui.screens.messages import (
    DevicesPolled,
    DevicesUnavailable,
    HostSampled,
    ProfileLoaded,
    RunDirReady,
    ServerFactsChanged,
    ServerLinesArrived,
    ServerMetricsRead,
    ServerStatusChanged,
    TreeStopped,
)
from tui.screens.server_control import ServerControl
from tui.startup.session import ConsoleSession
from widgets.devices_view import DevicesView
from widgets.playground_view import PlaygroundView
from widgets.server_log import ServerLog


class NpuConsoleApp(App[None]):
    """npu-console's App. Build it with `make_app`."""

    CSS_PATH = "app.tcss"
    TITLE = "npu-console"
    COMMANDS = App.COMMANDS | {ConsoleCommandsProvider}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(command.key, command.action, command.footer_label or command.title,
                    show=bool(command.footer_label))
            for command in CONSOLE_COMMANDS
        ),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        session: ConsoleSession,
        *,
        host_interval_s: float = 2.0,
        host_sampler: HostSource | None = None,
        device_interval_s: float = 2.0,
        device_timeout_s: float = DEVICE_TOOL_TIMEOUT_S,
    ) -> None:
        super().__init__()
        self.session = session
        self._host_interval_s = host_interval_s
        self._main_screen = MainScreen()
        self.failures = FailurePolicy(self)
        self.server = ServerControl(session.http_transport)
        self.devices_area = DevicesController(self, interval_s=device_interval_s, timeout_s=device_timeout_s,
                                              host_sampler=host_sampler)
        self.devices = self.devices_area.monitor
        self.server_area = ServerController(self)
        self.profile_area = ProfileController(self)
        self.playground_area = PlaygroundController(self)
        self.stages_area = StagesController(self)
        self.bench_area = BenchController(self)
        self.precision_area = PrecisionController(self)

    # ---- structure -------------------------------------------------------------------------

    @property
    def main(self) -> MainScreen:
        """The main screen (under any modal that is open)."""
        return self._main_screen

    @property
    def playground(self) -> PlaygroundState:
        """The Playground's conversation and settings."""
        return self.playground_area.state

    def console_commands(self) -> tuple[ConsoleCommand, ...]:
        """The commands that exist in this console (palette entries and bindings)."""
        return CONSOLE_COMMANDS

    def kept_running(self) -> Collection[str]:
        """Tree marks of what the operator chose to leave running at quit (the console's end keeps them)."""
        return self.failures.kept_running()

    def _handle_exception(self, error: Exception) -> None:
        self.failures.handle(error)

    def _every(self, seconds: float, tick: Callable[[], object]) -> None:
        """A periodic redraw or reading, skipped once the app is closing (its widgets are being taken down)."""
        self.set_interval(seconds, lambda: None if not self.is_running else tick())

    async def on_mount(self) -> None:
        await self.push_screen(self._main_screen)
        await self._main_screen.mount(self.devices, self.server)
        self.profile_area.show_profile()
        self._every(self._host_interval_s, self.devices_area.read_host)
        self._every(1.0, self.devices_area.show_age)
        self._every(1.0, self.server_area.tick_uptime)
        self.devices_area.read_host()
        self.devices.start()
        if self.session.startup_note:
            self.notify(self.session.startup_note, timeout=8)
        if self.session.profile is None:
            self.profile_area.switch_profile()
        else:
            self.profile_area.create_run_dir()

    # ---- actions (the keys and the palette) --------------------------------------------------

    def action_show_area(self, area_id: str) -> None:
        self.main.show_area(area_id)
        if area_id == "devices":
            self.devices.poll_now()  # reads pause while the area is hidden

    def action_toggle_zoom(self) -> None:
        self.main.toggle_zoom()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save the screen as SVG in this session's run folder (a server has no ~/Downloads)."""
        svg = self.export_screenshot()
        self.run_worker(self._save_screenshot(svg, filename, path), name="_save_screenshot", group="screenshot",
                        exclusive=True)

    async def _save_screenshot(self, svg: str, filename: str | None, path: str | None) -> None:
        try:
            run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
            name = filename or f"screenshot-{time.strftime('%Y%m%d-%H%M%S')}.svg"
            target = Path(path) / name if path else run_dir / name
            await asyncio.to_thread(atomic_write_text, target, svg)
        except OSError as error:
            self.notify(f"The screenshot could not be saved: {error.strerror or error}.", severity="error")
            return
        self.notify(str(target), title="Screenshot saved")

    def action_switch_profile(self) -> None:
        self.profile_area.switch_profile()

    def action_switch_variant(self) -> None:
        self.profile_area.switch_variant()

    def action_refresh_devices(self) -> None:
        self.devices_area.refresh()

    def action_copy_launch(self) -> None:
        self.server_area.copy_launch()

    def action_launch_server(self) -> None:
        self.server_area.launch()

    def action_stop_server(self) -> None:
        self.server_area.stop()

    def action_restart_server(self) -> None:
        self.server_area.restart()

    def action_attach_server(self) -> None:
        self.server_area.attach()

    async def action_quit(self) -> None:
        await self.stages_area.stop_for_quit()  # nothing outlives us; the server's own question comes next
        self.server_area.quit()

    def action_run_dequant(self) -> None:
        self.stages_area.run_dequant()

    def action_run_download(self) -> None:
        self.stages_area.run_download()

    def action_run_accuracy(self) -> None:
        self.stages_area.run_accuracy()

    def action_run_evidence(self) -> None:
        self.stages_area.run_evidence()

    def action_write_report(self) -> None:
        self.stages_area.write_report()

    def action_cancel_stage(self) -> None:
        self.stages_area.cancel()

    def action_show_runs(self) -> None:
        self.stages_area.show_runs()

    def action_run_precision(self) -> None:
        self.precision_area.run()

    def action_run_benchmark(self) -> None:
        self.bench_area.run()

    # ---- routing: each message to the controller of its area -----------------------------------

    def on_area_wanted(self, message: AreaWanted) -> None:
        self.main.show_area(message.area)

    def on_session_changed(self, message: SessionChanged) -> None:
        self.profile_area.on_session_changed(message)

    def on_profile_loaded(self, message: ProfileLoaded) -> None:
        self.profile_area.on_profile_loaded(message)

    def on_run_dir_ready(self, message: RunDirReady) -> None:
        self.profile_area.on_run_dir_ready(message)

    def on_host_sampled(self, message: HostSampled) -> None:
        self.devices_area.on_host_sampled(message)

    def on_devices_polled(self, message: DevicesPolled) -> None:
        self.server_area.on_devices_polled(message)  # the holders for preflight, the HBM check after a stop
        self.devices_area.on_devices_polled(message)

    def on_devices_unavailable(self, message: DevicesUnavailable) -> None:
        self.devices_area.on_devices_unavailable(message)

    def on_tree_stopped(self, message: TreeStopped) -> None:
        self.devices_area.on_tree_stopped(message)

    def on_attached_tree_changed(self, message: AttachedTreeChanged) -> None:
        self.devices_area.on_attached_tree_changed(message)

    def on_devices_view_kill_requested(self, message: DevicesView.KillRequested) -> None:
        self.devices_area.stop_holder(message.row)

    def on_devices_view_detail_requested(self, message: DevicesView.DetailRequested) -> None:
        self.devices_area.show_chip_detail(message.npu)

    def on_own_server_process_stopped(self, message: OwnServerProcessStopped) -> None:
        self.server_area.on_own_server_process_stopped(message)

    def on_server_status_changed(self, message: ServerStatusChanged) -> None:
        self.server_area.on_server_status_changed(message)

    def on_server_note_changed(self, message: ServerNoteChanged) -> None:
        self.server_area.on_server_note_changed(message)

    def on_server_lines_arrived(self, message: ServerLinesArrived) -> None:
        self.server_area.on_server_lines_arrived(message)

    def on_server_facts_changed(self, message: ServerFactsChanged) -> None:
        self.server_area.on_server_facts_changed(message)

    def on_server_metrics_read(self, message: ServerMetricsRead) -> None:
        self.server_area.on_server_metrics_read(message)

    def on_server_log_filter_changed(self, message: ServerLog.FilterChanged) -> None:
        self.server_area.on_server_log_filter_changed(message)

    def on_server_log_search_requested(self, message: ServerLog.SearchRequested) -> None:
        self.server_area.on_server_log_search_requested(message)

    def on_stage_event_arrived(self, message: StageEventArrived) -> None:
        self.stages_area.on_stage_event_arrived(message)

    def on_stage_finished(self, message: StageFinished) -> None:
        self.stages_area.on_stage_finished(message)

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        self.stages_area.on_comparison_ready(message)

    def on_stage_status_changed(self, message: StageStatusChanged) -> None:
        self.stages_area.on_stage_status_changed(message)

    def on_stage_run_picked(self, message: StageRunPicked) -> None:
        self.stages_area.on_stage_run_picked(message)

    async def on_reply_started(self, message: ReplyStarted) -> None:
        await self.playground_area.on_reply_started(message)

    def on_reply_delta(self, message: ReplyDelta) -> None:
        self.playground_area.on_reply_delta(message)

    def on_reply_finished(self, message: ReplyFinished) -> None:
        self.playground_area.on_reply_finished(message)

    def on_playground_settings_changed(self, message: PlaygroundSettingsChanged) -> None:
        self.playground_area.on_playground_settings_changed(message)

    def on_prompt_picked(self, message: PromptPicked) -> None:
        self.playground_area.on_prompt_picked(message)

    async def on_conversation_reopened(self, message: ConversationReopened) -> None:
        await self.playground_area.on_conversation_reopened(message)

    def on_playground_view_send_prompt(self, message: PlaygroundView.SendPrompt) -> None:
        self.playground_area.send(message.text)

    def on_playground_view_cancel_reply(self, message: PlaygroundView.CancelReply) -> None:
        self.playground_area.cancel()

    async def on_playground_view_toggle_mode(self, message: PlaygroundView.ToggleMode) -> None:
        await self.playground_area.toggle_mode()

    async def on_playground_view_new_conversation(self, message: PlaygroundView.NewConversation) -> None:
        await self.playground_area.new_conversation()

    def on_playground_view_edit_options(self, message: PlaygroundView.EditOptions) -> None:
        self.playground_area.edit_options()

    def on_playground_view_pick_preset(self, message: PlaygroundView.PickPreset) -> None:
        self.playground_area.pick_preset()

    def on_playground_view_reopen_history(self, message: PlaygroundView.ReopenHistory) -> None:
        self.playground_area.reopen_history()

    async def on_playground_view_edit_last(self, message: PlaygroundView.EditLast) -> None:
        await self.playground_area.edit_last()

    def on_playground_view_copy_reply(self, message: PlaygroundView.CopyReply) -> None:
        self.playground_area.copy_reply()

    def on_playground_view_copy_curl(self, message: PlaygroundView.CopyCurl) -> None:
        self.playground_area.copy_curl()


def make_app(
    session: ConsoleSession,
    *,
    host_interval_s: float = 2.0,
    host_sampler: HostSource | None = None,
    device_interval_s: float = 2.0,
    device_timeout_s: float = DEVICE_TOOL_TIMEOUT_S,
) -> NpuConsoleApp:
    """Build the console for `session` (the CLI and the tests both come through here)."""
    return NpuConsoleApp(session, host_interval_s=host_interval_s, host_sampler=host_sampler,
                         device_interval_s=device_interval_s, device_timeout_s=device_timeout_s)
