"""The command keeps its compiled programs on disk: a second run reads them, with the same
numbers; the folder is the user's to choose, to turn off, and it stays under its size."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

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


def test_trim_removes_the_oldest_entries_first_and_nothing_else(tmp_path):
    for age, name in enumerate(["newest-cache", "middle-cache", "oldest-cache", "notes.txt"]):
        path = tmp_path / name
        path.write_bytes(b"x" * 100)
        os.utime(path, (1e9 - age * 1000, 1e9 - age * 1000))
    compile_cache.trim(tmp_path, 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "middle-cache",
        "newest-cache",
        "notes.txt",
    ]
    compile_cache.trim(tmp_path, 0)  # the user's own files are never removed
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
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
            [folder] = cache.iterdir()  # one folder per CPU
            written = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
            assert written  # the programs were kept
    assert summaries[0] == summaries[1]
    # the first run's programs were read, not compiled and written again (a program near the
    # 0.1 s threshold may be written by either run)
    assert {name: (folder / name).stat().st_mtime_ns for name in written} == written


def test_the_users_own_jax_cache_off_and_an_unwritable_folder_mean_no_cache(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    cases = {  # JAXMIN_CACHE_DIR, JAX_COMPILATION_CACHE_DIR -> the folder in use
        "theirs": (str(tmp_path / "mine"), str(tmp_path / "theirs"), None),
        "off": ("off", None, None),
        "cannot be made": (str(tmp_path / "file" / "cache"), None, None),
        "ours": (str(tmp_path / "mine"), None, str(tmp_path / "mine" / compile_cache._this_cpu())),
    }
    script = textwrap.dedent(
        f"""
        import os, jax
        from jaxmin.compile_cache import use_compile_cache
        for ours, theirs, expected in {list(cases.values())!r}:
            os.environ["JAXMIN_CACHE_DIR"] = ours
            jax.config.update("jax_compilation_cache_dir", theirs)  # as JAX reads it
            folder = use_compile_cache()
            assert (None if folder is None else str(folder)) == expected, (ours, theirs, folder)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
