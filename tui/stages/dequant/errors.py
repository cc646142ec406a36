"""How a dequant run fails: the exception types and the exit status each one means."""

from __future__ import annotations


class DequantError(Exception):
    """A run that failed; ``exit_code`` is 1 for a failed run, 2 for bad input."""

    exit_code = 1


class DequantInputError(DequantError):
    """The input or the arguments are wrong: nothing was written, fix the input and rerun."""

    exit_code = 2


class Terminated(BaseException):
    """SIGTERM arrived: raised (never from the signal handler itself) so cleanup removes the partial output."""
