"""Tests of the profile model, validation, storage, discovery, the shipped profiles and the CLI."""
