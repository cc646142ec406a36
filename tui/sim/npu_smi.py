"""`python -m tui.sim.npu_smi …`: the simulated `npu-smi`.

Supported, as the console and the common scripts call the real tool:

    info                         the device table and the process table
    info -m                      chip mapping (NPU id, chip id, logic id, name, Mcu rows)
    info -l                      card list
    info -t usages|temp|power|health -i N [-c C]

Anything else prints a short usage error on stdout (npu-smi has no stderr
habit) and exits with status 255, as a mistyped npu-smi command does. Values
come from the simulated host in `NPU_CONSOLE_SIM_HOME`; without one, an idle
8-chip 910B3 host is printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from tui.sim.npu_smi_render import (
    render_health,
    render_info,
    render_list,
    render_mapping,
    render_power,
    render_temp,
    render_usages,
)
from tui.sim.settings import sim_home
from tui.sim.telemetry import ChipReading, read_host_state

EXIT_USAGE = 255
EXIT_BAD_PARAMETER = 1

USAGE = """\
Usage: npu-smi info                              Show the device and process table.
       npu-smi info -m                           Show the chip mapping.
       npu-smi info -l                           Show the card list.
       npu-smi info -t <type> -i <id> [-c <id>]  Show one kind of information of one card.
                   <type>: usages | temp | power | health
"""

_KEY_VALUE_RENDERERS: dict[str, Callable[[ChipReading], str]] = {
    "usages": render_usages,
    "temp": render_temp,
    "power": render_power,
    "health": render_health,
}


class UsageError(Exception):
    """The command line is not one the simulated tool knows."""


def _options(args: Sequence[str]) -> dict[str, str | None]:
    """Parse `-x value` pairs and bare flags (`-m`, `-l`); reject anything unknown."""
    options: dict[str, str | None] = {}
    index = 0
    while index < len(args):
        flag = args[index]
        if flag in ("-m", "-l"):
            options[flag] = None
            index += 1
        elif flag in ("-t", "-i", "-c"):
            if index + 1 >= len(args):
                raise UsageError(f'Option "{flag}" needs a value.')
            options[flag] = args[index + 1]
            index += 2
        else:
            raise UsageError(f'Invalid option "{flag}".')
    return options


def run(argv: Sequence[str]) -> tuple[int, str]:
    """Execute one command line; return (exit status, text to print)."""
    if not argv or argv[0] != "info":
        command = argv[0] if argv else ""
        return EXIT_USAGE, f'Error command "{command}". Please check the command format.\n{USAGE}'
    try:
        options = _options(argv[1:])
    except UsageError as exc:
        return EXIT_USAGE, f"{exc}\n{USAGE}"
    home = sim_home()
    if not options:
        return 0, render_info(read_host_state(home))
    if set(options) == {"-m"}:
        return 0, render_mapping(read_host_state(home).spec)
    if set(options) == {"-l"}:
        return 0, render_list(read_host_state(home).spec)
    kind = options.get("-t")
    if kind is None or "-i" not in options or not set(options) <= {"-t", "-i", "-c"}:
        return EXIT_USAGE, f"Error command. Please check the command format.\n{USAGE}"
    renderer = _KEY_VALUE_RENDERERS.get(kind)
    if renderer is None:
        return EXIT_USAGE, f'Invalid type "{kind}".\n{USAGE}'
    reading = read_host_state(home)
    try:
        npu_id = int(options["-i"] or "")
        chip_id = int(options.get("-c") or "0")
    except ValueError:
        return EXIT_BAD_PARAMETER, "The parameter is invalid.\n"
    chip = reading.chip(npu_id)
    if chip is None or chip_id != chip.spec.chip_id:
        return EXIT_BAD_PARAMETER, "The parameter is invalid.\n"
    return 0, renderer(chip)


def main(argv: Sequence[str] | None = None) -> int:
    status, text = run(list(sys.argv[1:] if argv is None else argv))
    sys.stdout.write(text)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
