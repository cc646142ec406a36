"""Prometheus parsing, vLLM serving metrics and rates, and the bounded /metrics fetch."""
