"""FP8 → BF16 dequantization stage: exact, streaming, all-or-nothing.

Run as ``python -m tui.stages.dequant SRC DST [--block N] [--force] [--dry-run]``; it writes the JSON-lines
events of the stage protocol (``tui.stages.events``) to stdout. ``dequantize()`` is the same work in-process.

The package, one concern per module:

* ``safetensors_format`` — the file format, read and written with the stdlib only;
* ``plan`` — what happens to each tensor and how the output is sharded, from headers alone;
* ``kernel`` — the math, bit-exact, in bounded chunks (torch imported lazily);
* ``io_threads`` — ``pread`` of input tensors and the writer thread;
* ``signals`` — SIGTERM and Ctrl-C as a flag the loops check (a handler never raises);
* ``install`` — path checks (a symlinked DST is refused) and the atomic rename into DST;
* ``leftovers`` — what a killed run left beside DST, removed (and named) by the next run;
* ``verify`` — the output headers re-read against the plan;
* ``convert`` — one run, start to end; ``cli`` — the command line.

Only the stdlib is imported at module level, because the console (and ``--help``) must run on hosts
without torch. The math is ``bf16(fp32(weight) × fp32(scale expanded to the block))``; a block's result
depends only on the FP8 byte and that block's scale, so it is evaluated once per (block, byte) into a
small table and every element is a gather: bit-exact by construction, and fast enough on a 2-core host
that the stage runs near disk speed.
"""

from tui.stages.dequant.cli import main
from tui.stages.dequant.convert import dequantize
from tui.stages.dequant.errors import DequantError, DequantInputError, Terminated
from tui.stages.dequant.kernel import dequant_chunks, dequant_tensor

__all__ = [
    "DequantError",
    "DequantInputError",
    "Terminated",
    "dequant_chunks",
    "dequant_tensor",
    "dequantize",
    "main",
]
