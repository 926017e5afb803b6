"""How often JAX has traced a test's function, by name.

A traced function reaches the count as ``_tracing.count(name)``: an attribute of a module, known
to jaxmin's fingerprints by name, so that the count growing does not change the function's
content (a global list the function appended to would: the globals a function reads enter its
fingerprint by value)."""

from collections import Counter

COUNTS: Counter = Counter()


def count(name: str) -> None:
    """Note one tracing of the function ``name``."""
    COUNTS[name] += 1
