"""Shared pytest plugins: the fake LLM server fixtures."""

pytest_plugins = ["tests.fakes.fixtures"]
