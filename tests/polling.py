"""Waiting in tests for what a background thread or process does."""
import time


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Call ``predicate`` until it returns something true, and return that; after ``timeout``
    seconds return its last (false) answer, for the caller's assertion to report."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
