"""Compiled programs kept on disk between runs of the ``jaxmin`` command.

XLA compiles each program of a run before it runs it, and on a CPU that often takes longer than
the run: ``jaxmin cmaes`` with six IPOP restarts compiles six programs (one per population
size, ~2 s each) for a tenth of a second of generations. The command therefore keeps what it
compiled in JAX's persistent compilation cache, so that running it again — the same options, or
others that need the same programs — reads the programs instead of compiling them. The numbers
are the same either way (the cache holds the very programs XLA compiled).

The folder is ``$JAXMIN_CACHE_DIR`` if set (``off`` turns the cache off), otherwise
``$XDG_CACHE_HOME/jaxmin/xla`` (``~/.cache/jaxmin/xla``), with one subfolder per CPU (machine
type and feature flags: a home shared by different machines keeps their programs apart); a
``JAX_COMPILATION_CACHE_DIR`` of the user's own is left as it is. It may be deleted at any
time; when JAX's entries in it take more than :data:`MAX_BYTES`, those least recently written
are removed first (nothing else in the folder is touched).

In Python, call :func:`use_compile_cache` (or set JAX's own ``jax_compilation_cache_dir``).
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import jax

MAX_BYTES = 1 << 30
"""The most the cache folder keeps (1 GiB), trimmed when :func:`use_compile_cache` starts."""

MIN_COMPILE_SECONDS = 0.1
"""Programs that compile faster than this are not written (reading one costs milliseconds)."""


def cache_folder() -> Path | None:
    """Where the command keeps compiled programs, or None if ``JAXMIN_CACHE_DIR=off``."""
    given = os.environ.get("JAXMIN_CACHE_DIR")
    if given is not None:
        return None if given.strip().lower() in ("", "off", "0", "no") else Path(given)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no home folder to be found: no cache
            return None
    return Path(base) / "jaxmin" / "xla"


def _this_cpu() -> str:
    """The machine type and a digest of the CPU's feature flags: programs compiled for one CPU
    are kept apart from another's (a home folder shared by a cluster's machines)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        flags = platform.processor()
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:12]}"


def use_compile_cache() -> Path | None:
    """Keep this process's compiled programs in this CPU's subfolder of :func:`cache_folder`
    (call before the first compilation); returns that folder, or None where the cache is off,
    the folder cannot be made, read or written, or the user's own
    ``JAX_COMPILATION_CACHE_DIR`` (``jax_compilation_cache_dir``) is in use."""
    if jax.config.jax_compilation_cache_dir:  # JAX reads JAX_COMPILATION_CACHE_DIR itself
        return None
    base = cache_folder()
    if base is None:
        return None
    folder = base.expanduser().resolve() / _this_cpu()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            return None
        trim(folder, MAX_BYTES)
    except OSError:
        return None  # a folder that cannot be made or read: no cache (not a warning per program)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder


def trim(folder: Path, max_bytes: int) -> None:
    """Remove JAX's cache entries (``*-cache``, ``*-atime``; nothing else) of ``folder``
    written longest ago until they take at most ``max_bytes`` (an entry that cannot be read or
    removed — another process's doing — is skipped)."""
    if not folder.is_dir():
        return
    entries = []
    for path in folder.iterdir():
        if not path.name.endswith(("-cache", "-atime")):
            continue
        try:
            if path.is_file():
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        except OSError:
            continue
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries, key=lambda entry: entry[0]):
        if total <= max_bytes:
            break
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue
        total -= size
