"""Processes the console runs: bounded external commands, stopping a process tree, how the console ends."""
