"""A small multi-document corpus whose entities recur across documents."""

from __future__ import annotations

CORPUS: dict[str, str] = {
    "acme.txt": (
        "Alice Smith founded Acme Corp in Berlin. "
        "Acme Corp builds weather satellites for NASA.\n"
        "Bob Jones joined Acme Corp as chief engineer."
    ),
    "berlin.txt": (
        "Berlin hosts the Orbital Summit every spring. "
        "Alice Smith presented the Helios Satellite at the Orbital Summit.\n"
        "Carol White reported on the Helios Satellite for Space Weekly."
    ),
    "jones.txt": (
        "Bob Jones studied physics at Delft University. "
        "Bob Jones later mentored Dana Green at Acme Corp."
    ),
}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):  # noqa: ANN001, ANN201
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
