"""A typed client for Arbiter's HTTP API."""

from arbiter_client.client import ArbiterClient, ArbiterError, RetryPolicy

__all__ = ["ArbiterClient", "ArbiterError", "RetryPolicy"]
