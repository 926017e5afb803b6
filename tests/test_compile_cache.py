"""The command keeps its compiled programs on disk: a second run reads them, with the same
numbers; the folder is the user's to choose, to turn off, and it stays under its size."""

import json
import os
import shutil
import subprocess
import sys

from jaxmin import compile_cache


def test_the_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("JAXMIN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.cache_folder() == tmp_path / "jaxmin" / "xla"
    monkeypatch.setenv("JAXMIN_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.cache_folder() == tmp_path / "mine"
    for off in ("off", "OFF", "0", ""):
        monkeypatch.setenv("JAXMIN_CACHE_DIR", off)
        assert compile_cache.cache_folder() is None


def test_trim_removes_the_oldest_files_first(tmp_path):
    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = tmp_path / name
        path.write_bytes(b"x" * 100)
        os.utime(path, (1e9 - age * 1000, 1e9 - age * 1000))
    compile_cache.trim(tmp_path, 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["middle", "newest"]
    compile_cache.trim(tmp_path, 1000)  # under the limit: nothing goes
    assert len(list(tmp_path.iterdir())) == 2
    compile_cache.trim(tmp_path / "absent", 0)  # no folder yet: nothing to do


def test_a_second_run_of_the_command_reads_its_programs(tmp_path):
    exe = shutil.which("jaxmin")
    assert exe is not None, "the jaxmin console script is not installed"
    cache = tmp_path / "cache"
    env = dict(os.environ, JAXMIN_CACHE_DIR=str(cache))
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    argv = [exe, "cmaes", "--function", "rosenbrock", "--dim", "3", "--max-evals", "600"]
    summaries = []
    for run in ("first", "second"):
        out = tmp_path / run
        subprocess.run([*argv, "--out", str(out)], env=env, check=True, capture_output=True)
        summaries.append(json.loads((out / "rosenbrock3_cmaes.json").read_text()))
        if run == "first":
            written = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}
            assert written  # the programs were kept
    assert summaries[0] == summaries[1]
    assert {path.name: path.stat().st_mtime_ns for path in cache.iterdir()} == written  # read


def test_the_users_own_jax_cache_off_and_an_unwritable_folder_mean_no_cache(tmp_path):
    script = "from jaxmin.compile_cache import use_compile_cache; print(use_compile_cache())"
    env = dict(os.environ, JAXMIN_CACHE_DIR=str(tmp_path / "mine"))
    env["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path / "theirs")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "None"
    env = dict(os.environ, JAXMIN_CACHE_DIR="off")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "None"
    (tmp_path / "file").write_text("not a folder")
    env["JAXMIN_CACHE_DIR"] = str(tmp_path / "file" / "cache")  # cannot be made: no cache
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "None"
    env["JAXMIN_CACHE_DIR"] = str(tmp_path / "mine")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == str(tmp_path / "mine")
