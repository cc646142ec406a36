"""The result of one preflight check, and what the UI may offer to do about it.

Values only: the checks produce them, the launch screen draws them, the CLI
prints them. A check that warns or fails must say what to do (`fix`), because
"port busy" without "stop pid 4711 or pick another port" just moves the
operator's search elsewhere; the constructor enforces that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["pass", "warn", "fail"]
OfferKind = Literal["stop_process"]


@dataclass(frozen=True)
class Offer:
    """Something the UI can do for the operator with one key, after asking: stop these processes.

    The checks never act themselves; `pids` are what to stop (the process to signal,
    e.g. a zombie's parent), `label` is the button's text.
    """

    kind: OfferKind
    pids: tuple[int, ...]
    label: str


@dataclass(frozen=True)
class Check:
    """One check's verdict: `detail` says what was found, `fix` what to do when it is not a pass."""

    key: str
    title: str
    status: CheckStatus
    detail: str
    fix: str | None = None
    offer: Offer | None = None

    def __post_init__(self) -> None:
        if self.status != "pass" and not self.fix:
            raise ValueError(f"check {self.key!r} is {self.status} but says nothing about what to do")

    @property
    def ok(self) -> bool:
        """True unless the check failed (a warning does not block a launch)."""
        return self.status != "fail"


def passed(key: str, title: str, detail: str) -> Check:
    return Check(key, title, "pass", detail)


def warned(key: str, title: str, detail: str, fix: str, offer: Offer | None = None) -> Check:
    return Check(key, title, "warn", detail, fix, offer)


def failed(key: str, title: str, detail: str, fix: str, offer: Offer | None = None) -> Check:
    return Check(key, title, "fail", detail, fix, offer)


def worst(statuses: list[CheckStatus]) -> CheckStatus:
    """The most serious of `statuses` ("pass" for none)."""
    if "fail" in statuses:
        return "fail"
    return "warn" if "warn" in statuses else "pass"
