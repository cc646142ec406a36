"""The profile and the variant: switching them, the run folder they write to, the header that names them.

A profile change redraws what depends on it: the Server area's plan, the
Playground's settings line (a new conversation), the Stages area, and the disk
the host reading watches.
"""

from __future__ import annotations

import asyncio

from tui.controllers.base import Controller
from tui.controllers.messages import SessionChanged
from tui.devices.host import HostSampler, disk_probe_path
from tui.profile import Profile, ProfileError, discover_profiles, load_profile
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.messages import ProfileLoaded, RunDirReady
from tui.server.launch_plan import launch_plan
from widgets.console_header import ConsoleHeader, HeaderInfo
from widgets.server_view import ServerView
from widgets.stages_view import StagesView


class ProfileController(Controller):
    """The session's profile and variant are the state here (`ConsoleSession` holds them for the headless core)."""

    # ---- actions ---------------------------------------------------------------------------

    def switch_profile(self) -> None:
        self.worker(self._switch_profile, group="profiles", exclusive=True)

    def switch_variant(self) -> None:
        self.worker(self._switch_variant, group="variants", exclusive=True)

    def select_variant(self, variant: str) -> None:
        """Make `variant` the selected one (what the next launch runs); what shows it is drawn again."""
        self.session.variant = variant
        self.app.post_message(SessionChanged())

    async def _switch_profile(self) -> None:
        server = self.app.server
        if server.status.ours_running and not await self.app.push_screen_wait(ConfirmScreen(
            "Switch profile while serving",
            f"The server of {self.app.server_area.running_label()} is running. Another profile does not stop it: "
            "its stages and results would still be about this server. Switch anyway?",
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
            self.app.notify("No profiles found. Write one under ./profiles or ~/.config/npu-console/profiles.",
                            severity="error")
            return
        picked = await self.app.push_screen_wait(
            ChoiceScreen("Switch profile", choices, hint="Enter picks, Esc keeps the current one.",
                         current=str(current) if current else None)
        )
        if picked is None:
            return
        try:
            profile = await asyncio.to_thread(load_profile, picked)
        except ProfileError as error:
            self.app.notify(str(error), title="Profile not loaded", severity="error", timeout=12)
            return
        self.app.post_message(ProfileLoaded(profile))

    async def _switch_variant(self) -> None:
        profile = self.session.profile
        if profile is None or not profile.variants:
            self.app.notify("This profile has no variants.", severity="warning")
            return
        choices = [Choice(name, name, variant.description) for name, variant in profile.variants.items()]
        picked = await self.app.push_screen_wait(
            ChoiceScreen("Switch variant", choices, current=self.session.variant)
        )
        if picked is not None:
            self.select_variant(picked)
            running = self.app.server_area.running_launch
            if running is not None and running.variant != picked:
                self.app.notify(f"Selected {picked}; the server still runs {running.variant}. Results stay "
                                f"labelled {running.variant} until you relaunch (R).", title="Variant selected",
                                timeout=8)

    # ---- the run folder --------------------------------------------------------------------

    def create_run_dir(self) -> None:
        self.app.run_worker(self._create_run_dir, name="_create_run_dir", group="run-dir", exclusive=True,
                            thread=True)

    def _create_run_dir(self) -> None:
        try:
            path = self.session.ensure_run_dir()
        except OSError as error:
            self.app.post_message(RunDirReady(None, f"Could not create the run directory under "
                                                    f"{self.session.runs_root}: {error.strerror}. "
                                                    "Use --runs-dir to put it somewhere writable."))
            return
        self.app.post_message(RunDirReady(path))

    # ---- messages --------------------------------------------------------------------------

    def on_run_dir_ready(self, message: RunDirReady) -> None:
        for view in self.main.query(StagesView):
            view.show_run_dir(message.path, message.error)

    def on_session_changed(self, message: SessionChanged) -> None:
        if message.header_only:
            self.show_header()
        else:
            self.show_profile()

    def on_profile_loaded(self, message: ProfileLoaded) -> None:
        self.session.use_profile(message.profile)
        self.app.playground_area.use_profile()
        self.show_profile()
        self.create_run_dir()
        self.app.notify(f"Using profile {message.profile.name}.")

    # ---- drawing ---------------------------------------------------------------------------

    def show_header(self) -> None:
        profile = self.session.profile
        status = self.app.server.status
        running = self.app.server_area.running_launch
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

    def show_profile(self) -> None:
        profile: Profile | None = self.session.profile
        main = self.main
        self.show_header()
        if profile is None:
            return
        try:
            plan = launch_plan(profile, self.session.variant, self.session.env)
        except ProfileError as error:
            main.query_one(ServerView).show_error(str(error))
        else:
            main.query_one(ServerView).show_plan(profile, plan)
            sampler = self.app.devices_area.host_sampler
            if isinstance(sampler, HostSampler):
                sampler.disk_path = disk_probe_path(plan.model, self.session.env)
        self.app.playground_area.show_settings()
        main.query_one(StagesView).show_profile(profile)
