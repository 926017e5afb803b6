"""The API reference (mkdocs + mkdocstrings, from the docstrings) builds without a warning."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_api_reference_builds_without_warnings(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    page = (site / "api" / "pdf" / "index.html").read_text()
    for name in ("jaxmin.pdf.fit", "jaxmin.pdf.FitResult", "jaxmin.pdf.closure.bias"):
        assert f'id="{name}"' in page
    assert 'id="jaxmin.nn.train"' in (site / "api" / "nn" / "index.html").read_text()
