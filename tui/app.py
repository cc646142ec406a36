"""The Textual application: wiring between the headless core and the widgets.

`make_app` is the one factory the CLI and the tests use. The app holds no
state of its own beyond the `ConsoleSession` it is given; work that touches
the outside (device tools, files) runs in workers that report back with the
messages of `tui.screens.messages`.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from tui.console_commands import CONSOLE_COMMANDS, ConsoleCommand
from tui.devices.host import HostSampler, HostSource
from tui.devices.locate import find_npu_smi, find_nvidia_smi, not_found_sentence
from tui.profiles import Profile, ProfileError, discover_profiles, load_profile
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.commands import ConsoleCommandsProvider
from tui.screens.main import MainScreen
from tui.screens.messages import DeviceToolRead, HostSampled, ProfileLoaded, RunDirReady
from tui.server.launch_plan import launch_plan
from tui.session import ConsoleSession
from widgets.console_header import ConsoleHeader, HeaderInfo
from widgets.devices_view import DevicesView
from widgets.playground_view import PlaygroundView
from widgets.server_view import ServerView
from widgets.stages_view import StagesView

DEVICE_TOOL_TIMEOUT_S = 10.0
SLOW_TOOL_S = 1.0  # a device tool slower than this is worth pointing out


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
    ) -> None:
        super().__init__()
        self.session = session
        self._host_interval_s = host_interval_s
        self._host_sampler = host_sampler or HostSampler()
        self._main_screen = MainScreen()

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
        self._show_profile()
        self.set_interval(self._host_interval_s, self._sample_host)
        self._sample_host()
        self.action_refresh_devices()
        if self.session.startup_note:
            self.notify(self.session.startup_note, timeout=8)
        if self.session.profile is None:
            self.action_switch_profile()
        else:
            self._create_run_dir()

    # ---- actions ---------------------------------------------------------------------------

    def action_show_area(self, area_id: str) -> None:
        self.main.show_area(area_id)

    def action_toggle_zoom(self) -> None:
        self.main.toggle_zoom()

    def action_refresh_devices(self) -> None:
        self._read_device_tool()

    def action_copy_launch(self) -> None:
        profile = self.session.profile
        if profile is None:
            self.notify("Pick a profile first (p).", severity="warning")
            return
        script = launch_plan(profile, self.session.variant, self.session.env).shell_script()
        self.copy_to_clipboard(script)
        self.notify(
            "Copied the launch script to the clipboard (through your terminal: OSC 52). "
            "It is also shown in the Server area.",
            title="Launch command",
        )

    @work(exclusive=True, group="profiles")
    async def action_switch_profile(self) -> None:
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

    # ---- workers ---------------------------------------------------------------------------

    def _sample_host(self) -> None:
        self._read_host()

    @work(exclusive=True, group="host")
    async def _read_host(self) -> None:
        snapshot = await asyncio.to_thread(self._host_sampler.sample)
        self.post_message(HostSampled(snapshot))

    @work(exclusive=True, group="devices")
    async def _read_device_tool(self) -> None:
        env = self.session.env
        tool = find_npu_smi(env)
        argv = [tool, "info"] if tool else None
        if argv is None:
            nvidia = find_nvidia_smi(env)
            argv = [nvidia] if nvidia else None
        if argv is None:
            self.post_message(DeviceToolRead("no device tool", "", not_found_sentence()))
            return
        result = await self.session.command_runner.run(argv, timeout=DEVICE_TOOL_TIMEOUT_S, env={"LC_ALL": "C"})
        when = self.session.clock.now().strftime("%H:%M:%S")
        source = f"{' '.join(argv)} · {when}"
        if result.duration_s >= SLOW_TOOL_S:
            source += f" · took {result.duration_s:.1f} s"
        if self.session.simulated:
            source += " · simulated"
        error = result.error
        if error is None and result.returncode != 0:
            error = f"{argv[0]} exited with status {result.returncode}: {result.output.strip() or 'no output'}"
        self.post_message(DeviceToolRead(source, result.output, error))

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

    def on_device_tool_read(self, message: DeviceToolRead) -> None:
        for view in self.main.query(DevicesView):
            view.show_tool_output(message.source, message.output, message.error)

    def on_run_dir_ready(self, message: RunDirReady) -> None:
        for view in self.main.query(StagesView):
            view.show_run_dir(message.path, message.error)

    def on_profile_loaded(self, message: ProfileLoaded) -> None:
        self.session.use_profile(message.profile)
        self._show_profile()
        self._create_run_dir()
        self.notify(f"Using profile {message.profile.name}.")

    # ---- drawing ---------------------------------------------------------------------------

    def _show_profile(self) -> None:
        profile: Profile | None = self.session.profile
        main = self.main
        main.query_one(ConsoleHeader).show(
            HeaderInfo(
                profile=profile.name if profile else None,
                variant=self.session.variant,
                server_state="not started",
                url=profile.base_url if profile else None,
                simulated=self.session.simulated,
            )
        )
        if profile is None:
            return
        try:
            plan = launch_plan(profile, self.session.variant, self.session.env)
        except ProfileError as error:
            main.query_one(ServerView).show_error(str(error))
        else:
            main.query_one(ServerView).show_plan(profile, plan)
        main.query_one(PlaygroundView).show_profile(profile)
        main.query_one(StagesView).show_profile(profile)


def make_app(
    session: ConsoleSession,
    *,
    host_interval_s: float = 2.0,
    host_sampler: HostSource | None = None,
) -> NpuConsoleApp:
    """Build the console for `session` (the CLI and the tests both come through here)."""
    return NpuConsoleApp(session, host_interval_s=host_interval_s, host_sampler=host_sampler)


