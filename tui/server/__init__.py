"""Launching, stopping and attaching to a model server; reading what its log says."""
