"""Checkpoint files: a refused resume names what differs, and a write that is interrupted
leaves the previous checkpoint whole and no temporary file."""

import numpy as np
import pytest

from jaxmin import checkpoint

TREE = {"a": np.arange(3.0), "b": np.int32(7)}


def test_round_trip(tmp_path):
    path = tmp_path / "run.npz"
    checkpoint.save(path, TREE, {"seed": 1})
    loaded = checkpoint.load(path, TREE, {"seed": 1})
    np.testing.assert_array_equal(loaded["a"], TREE["a"])
    assert int(loaded["b"]) == 7


def test_a_refusal_names_the_nested_settings_that_differ(tmp_path):
    path = tmp_path / "run.npz"
    settings = {f"option_{i}": i for i in range(30)}  # longer than a message shows whole
    checkpoint.save(path, TREE, {"settings": settings, "seed": 1})
    changed = settings | {"option_17": 0.5}
    with pytest.raises(ValueError) as refused:
        checkpoint.load(path, TREE, {"settings": changed, "seed": 1, "data": "new"})
    message = str(refused.value)
    assert "(data, settings.option_17 differ: " in message
    assert "settings.option_17: 17 in the checkpoint, 0.5 now" in message
    assert "data: <absent> in the checkpoint, new now" in message


def test_an_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    checkpoint.save(path, TREE, {"seed": 1})

    def interrupted(handle, **arrays):
        handle.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"a": np.zeros(3), "b": np.int32(0)}, {"seed": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    assert int(checkpoint.load(path, TREE, {"seed": 1})["b"]) == 7
