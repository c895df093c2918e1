"""A resilience and load-testing harness for code that calls LLM APIs."""

__version__ = "0.1.0"
