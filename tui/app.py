"""The Textual application: wiring between the headless core and the widgets.

`make_app` is the one factory the CLI and the tests use. The app holds no
state of its own beyond the `ConsoleSession` it is given; work that touches
the outside (device tools, files) runs in workers that report back with the
messages of `tui.screens.messages`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from tui.atomic import atomic_write_text
from tui.console_commands import CONSOLE_COMMANDS, ConsoleCommand
from tui.devices.host import HostSampler, HostSource, disk_probe_path
from tui.devices.processes import HeldMemory
from tui.playground import PlaygroundState
from tui.profiles import Profile, ProfileError, discover_profiles, load_profile
from tui.screens.bench_actions import BenchActions
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.clipboard import clipboard_sentence
from tui.screens.commands import ConsoleCommandsProvider
from tui.screens.confirm import ConfirmScreen
from tui.screens.demo_stages import DemoStages
from tui.screens.device_monitor import DeviceMonitor
from tui.screens.devices_actions import DEVICE_TOOL_TIMEOUT_S, DevicesActions
from tui.screens.failure_policy import FailurePolicy
from tui.screens.main import MainScreen
from tui.screens.messages import (
    HostSampled,
    ProfileLoaded,
    RunDirReady,
)
from tui.screens.playground_actions import PlaygroundActions
from tui.screens.server_actions import RunningLaunch, ServerActions
from tui.screens.server_control import ServerControl
from tui.screens.stage_actions import StageActions
from tui.server.launch_plan import launch_plan
from tui.session import ConsoleSession
from tui.stages.runner import DeviceQueue, StageRun
from widgets.console_header import ConsoleHeader, HeaderInfo
from widgets.devices_view import DevicesView
from widgets.server_view import ServerView
from widgets.stages_view import StagesView


class NpuConsoleApp(FailurePolicy, BenchActions, DemoStages, StageActions, PlaygroundActions, ServerActions,
                    DevicesActions):
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
        self._host_sampler = host_sampler or HostSampler()
        self._main_screen = MainScreen()
        self.devices = DeviceMonitor(session, device_interval_s, device_timeout_s, self._devices_shown)
        self._pending_release: tuple[HeldMemory, int | None] | None = None  # a stopped holder, HBM before
        self.server = ServerControl(session.http_transport)
        self._holders: tuple[HeldMemory, ...] = ()  # who holds device memory, as of the last read
        self._prelaunch_hbm: dict[tuple[int, int | None], int] | None = None
        self._running_launch: RunningLaunch | None = None  # what the server we launched really runs
        self._attached_pids: frozenset[int] = frozenset()  # the tree of the server we attached to, when seen
        self._killed_own: tuple[int, str] | None = None  # a process of our server stopped from the Devices area
        self.playground = PlaygroundState.from_profile(session.profile) if session.profile else PlaygroundState()
        self._last_exchange = None
        self._stage: StageRun | None = None
        self._stage_queue = DeviceQueue()

    # ---- structure -------------------------------------------------------------------------

    @property
    def main(self) -> MainScreen:
        """The main screen (under any modal that is open)."""
        return self._main_screen

    def console_commands(self) -> tuple[ConsoleCommand, ...]:
        """The commands that exist in this console (palette entries and bindings)."""
        return CONSOLE_COMMANDS

    async def on_mount(self) -> None:
        await self.push_screen(self._main_screen)
        await self._main_screen.mount(self.devices, self.server)
        self._show_profile()
        self.set_interval(self._host_interval_s, self._read_host)
        self.set_interval(1.0, self._show_device_age)
        self.set_interval(1.0, self._tick_uptime)
        self._read_host()
        self.devices.start()
        if self.session.startup_note:
            self.notify(self.session.startup_note, timeout=8)
        if self.session.profile is None:
            self.action_switch_profile()
        else:
            self._create_run_dir()

    # ---- actions ---------------------------------------------------------------------------

    def action_show_area(self, area_id: str) -> None:
        self.main.show_area(area_id)
        if area_id == "devices":
            self.devices.poll_now()  # reads pause while the area is hidden

    def action_toggle_zoom(self) -> None:
        self.main.toggle_zoom()

    def action_copy_launch(self) -> None:
        profile = self.session.profile
        if profile is None:
            self.notify("Pick a profile first (p).", severity="warning")
            return
        script = launch_plan(profile, self.session.variant, self.session.env).shell_script()
        self.copy_to_clipboard(script)
        self.notify(clipboard_sentence("the launch script", self.session.env,
                                       "It is also shown in the Server area and saved as launch.sh at each launch."),
                    title="Launch command")

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save the screen as SVG in this session's run folder (a server has no ~/Downloads)."""
        self._save_screenshot(self.export_screenshot(), filename, path)

    @work(exclusive=True, group="screenshot")
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

    @work(exclusive=True, group="profiles")
    async def action_switch_profile(self) -> None:
        if self.server.status.ours_running and not await self.push_screen_wait(ConfirmScreen(
            "Switch profile while serving",
            f"The server of {self._running_label()} is running. Another profile does not stop it: its stages "
            "and results would still be about this server. Switch anyway?",
            "Switch profile",
        )):
            return
        entries = await asyncio.to_thread(discover_profiles)
        current = self.session.profile.path if self.session.profile else None
        choices = [
            Choice(
                key=str(entry.path),
                label=entry.name,
                detail=f"{entry.origin} · {entry.path}",
                problem=str(entry.error) if entry.error else None,
            )
            for entry in entries
        ]
        if not choices:
            self.notify("No profiles found. Write one under ./profiles or ~/.config/npu-console/profiles.",
                        severity="error")
            return
        picked = await self.push_screen_wait(
            ChoiceScreen("Switch profile", choices, hint="Enter picks, Esc keeps the current one.",
                         current=str(current) if current else None)
        )
        if picked is None:
            return
        try:
            profile = await asyncio.to_thread(load_profile, picked)
        except ProfileError as error:
            self.notify(str(error), title="Profile not loaded", severity="error", timeout=12)
            return
        self.post_message(ProfileLoaded(profile))

    @work(exclusive=True, group="variants")
    async def action_switch_variant(self) -> None:
        profile = self.session.profile
        if profile is None or not profile.variants:
            self.notify("This profile has no variants.", severity="warning")
            return
        choices = [Choice(name, name, variant.description) for name, variant in profile.variants.items()]
        picked = await self.push_screen_wait(
            ChoiceScreen("Switch variant", choices, current=self.session.variant)
        )
        if picked is not None:
            self.session.variant = picked
            self._show_profile()
            running = self._running_launch
            if self.server.status.ours_running and running is not None and running.variant != picked:
                self.notify(f"Selected {picked}; the server still runs {running.variant}. Results stay labelled "
                            f"{running.variant} until you relaunch (R).", title="Variant selected", timeout=8)

    # ---- workers ---------------------------------------------------------------------------

    @work(exclusive=True, group="host")
    async def _read_host(self) -> None:
        snapshot = await asyncio.to_thread(self._host_sampler.sample)
        self.post_message(HostSampled(snapshot))

    @work(thread=True, exclusive=True, group="run-dir")
    def _create_run_dir(self) -> None:
        try:
            path = self.session.ensure_run_dir()
        except OSError as error:
            self.post_message(RunDirReady(None, f"Could not create the run directory under "
                                                f"{self.session.runs_root}: {error.strerror}. "
                                                "Use --runs-dir to put it somewhere writable."))
            return
        self.post_message(RunDirReady(path))

    # ---- messages --------------------------------------------------------------------------

    # A worker's message can arrive while the app shuts down and the views are gone: the
    # handlers iterate over `query` (empty then) rather than `query_one` (which would raise).

    def on_host_sampled(self, message: HostSampled) -> None:
        for view in self.main.query(DevicesView):
            view.show_host(message.snapshot)

    def on_run_dir_ready(self, message: RunDirReady) -> None:
        for view in self.main.query(StagesView):
            view.show_run_dir(message.path, message.error)

    def on_profile_loaded(self, message: ProfileLoaded) -> None:
        self.session.use_profile(message.profile)
        self.playground = PlaygroundState.from_profile(message.profile)
        self._show_profile()
        self._create_run_dir()
        self.notify(f"Using profile {message.profile.name}.")

    # ---- drawing ---------------------------------------------------------------------------

    def _show_header(self) -> None:
        profile = self.session.profile
        status = self.server.status
        running = self._running_launch if status.ours_running else None
        self.main.query_one(ConsoleHeader).show(
            HeaderInfo(
                profile=profile.name if profile else None,
                variant=self.session.variant,
                server_state=status.state,
                url=status.url or (profile.base_url if profile else None),
                simulated=self.session.simulated,
                running_profile=running.profile if running else None,
                running_variant=running.variant if running else None,
            )
        )

    def _show_profile(self) -> None:
        profile: Profile | None = self.session.profile
        main = self.main
        self._show_header()
        if profile is None:
            return
        try:
            plan = launch_plan(profile, self.session.variant, self.session.env)
        except ProfileError as error:
            main.query_one(ServerView).show_error(str(error))
        else:
            main.query_one(ServerView).show_plan(profile, plan)
            if isinstance(self._host_sampler, HostSampler):
                self._host_sampler.disk_path = disk_probe_path(plan.model, self.session.env)
        self._show_playground_settings()
        main.query_one(StagesView).show_profile(profile)


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


