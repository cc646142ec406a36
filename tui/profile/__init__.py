"""The parts behind `tui.profiles`: model, TOML key locator, schema and validation, storage and discovery.

Import from `tui.profiles`, which re-exports the public names; the split into
modules here only keeps each file small enough to read in one sitting.
"""
