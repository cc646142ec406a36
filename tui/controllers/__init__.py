"""The console's behaviour, one controller per area; the App (`tui.app`) keeps the keys and routes messages.

Each controller owns its area's state and decides what to ask the operator and
what to show: `devices` (readings, stopping holders, the chip detail, the host),
`server` (preflight, launch, stop, attach, quit), `playground` (chat and
completion), `stages` (running stages and their past runs), `bench` (the
benchmark and its comparisons), `precision` (the precision check) and `profile`
(switching profile and variant, the header). A controller reaches its widgets
through the App's queries and tells another area what happened by posting a
message (`tui.controllers.messages`) that the App routes; only an operation
that must be awaited (the benchmark launching a variant and waiting for it) is
a direct call. Workers run through `App.run_worker` and report with messages.
"""
