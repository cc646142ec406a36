"""The console's commands as data: palette title, key, action and help.

One list drives both the key bindings in the footer and the command palette,
so the two can never disagree. Titles marked in CONTRACTS.md are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleCommand:
    """A palette entry and its key binding."""

    title: str
    key: str
    action: str  # a Textual action string on the app, e.g. "switch_profile"
    help: str
    footer_label: str = ""  # shown in the footer when set

    @property
    def help_line(self) -> str:
        return f"{self.help} · key {self.key}"


CONSOLE_COMMANDS: tuple[ConsoleCommand, ...] = (
    ConsoleCommand("Switch profile", "p", "switch_profile", "Pick another profile for this session", "Profile"),
    ConsoleCommand("Switch variant", "v", "switch_variant", "Pick the profile variant to launch", "Variant"),
    ConsoleCommand("Start server", "l", "launch_server", "Preflight checks, then launch the profile's server",
                   "Launch"),
    ConsoleCommand("Stop server", "s", "stop_server",
                   "Stop the launched server's whole tree (or detach from an attached one)", "Stop"),
    ConsoleCommand("Restart server", "R", "restart_server", "Stop, then preflight and launch again"),
    ConsoleCommand("Attach to running server", "a", "attach_server",
                   "Follow a server someone else started: its log file and/or URL", "Attach"),
    ConsoleCommand("Show devices", "1", "show_area('devices')", "Bring the Devices area to the front"),
    ConsoleCommand("Show server log", "2", "show_area('server')", "Bring the Server area and its log to the front"),
    ConsoleCommand("Open playground", "3", "show_area('playground')", "Bring the Playground area to the front"),
    ConsoleCommand("Show stages", "4", "show_area('stages')", "Bring the Stages area to the front"),
    ConsoleCommand("Run dequant", "d", "run_dequant",
                   "FP8 → BF16: the profile's [stages.dequant] source into its destination", "Dequant"),
    ConsoleCommand("Run benchmark", "b", "run_benchmark",
                   "Latency, concurrency or vLLM serve benchmark against the server; compare results or variants",
                   "Bench"),
    ConsoleCommand("Run precision check", "P", "run_precision",
                   "CPU float32 against the device (or the server's logprobs): per prompt, position and layer",
                   "Precision"),
    ConsoleCommand("Run accuracy", "g", "run_accuracy",
                   "GSM8K against the server with the profile's [stages.accuracy]: graded replies, running accuracy"),
    ConsoleCommand("Run inference evidence", "e", "run_evidence",
                   "The profile's evidence prompts at temperature 0, twice each, and the API exchanges as curl"),
    ConsoleCommand("Write report", "W", "write_report",
                   "report.md and report.json (Chinese; English beside them) from this session's evidence"),
    ConsoleCommand("Run download", "D", "run_download",
                   "Fetch the profile's ModelScope model into its cache, with progress"),
    ConsoleCommand("Cancel stage", "x", "cancel_stage", "Stop the running stage's whole process group"),
    ConsoleCommand("Show runs", "w", "show_runs", "Past stage runs of this session, with their results"),
    ConsoleCommand("Refresh devices", "r", "refresh_devices", "Read the device tool again now", "Refresh"),
    ConsoleCommand(
        "Copy launch command", "c", "copy_launch", "Copy the exact launch script to the clipboard", "Copy cmd"
    ),
    ConsoleCommand("Zoom area", "z", "toggle_zoom", "Give the active area the whole window, or restore", "Zoom"),
)
