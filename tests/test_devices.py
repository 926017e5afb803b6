"""jaxmin.devices.use_cpu_cores: one XLA device per core, set before JAX starts."""

import subprocess
import sys

import jax
import pytest

from jaxmin.devices import use_cpu_cores


def test_a_fresh_process_gets_the_devices_asked_for():
    script = (
        "from jaxmin.devices import use_cpu_cores\n"
        "assert use_cpu_cores(3) == 3\n"
        "import jax\n"
        "assert jax.device_count() == 3, jax.devices()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)


def test_once_jax_has_started_the_count_cannot_change(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    started = len(jax.devices("cpu"))
    assert use_cpu_cores(started) == started
    with pytest.raises(RuntimeError, match="already started"):
        use_cpu_cores(started + 1)


def test_an_explicit_flag_in_the_environment_wins(monkeypatch):
    started = len(jax.devices("cpu"))
    monkeypatch.setenv("XLA_FLAGS", f"--xla_force_host_platform_device_count={started}")
    assert use_cpu_cores(started + 5) == started


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_bad_counts_are_refused(count):
    with pytest.raises(ValueError, match="count must be a positive integer"):
        use_cpu_cores(count)
