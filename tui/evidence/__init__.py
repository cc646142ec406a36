"""Evidence about the host a server ran on: software versions, CANN, driver, firmware, chips, OS and CPU.

Headless and stdlib-only (the device tools are read through `tui.devices`). `environment.capture_environment`
gathers one `environment.json`; every field is `{"value": …, "source": …}` or `{"value": null, "reason": …}`,
so a report can cite where each version came from and say why one is missing, never guess it.
"""
