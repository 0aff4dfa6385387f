"""The fake API key of the reliability tests (a module of its own: `conftest` is ambiguous)."""

KEY = "sk-reliability-tests"
