"""Test configuration: float64 for tight comparisons with references, modest hypothesis budgets."""

import logging
import os

import jax
import numpy as np
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", True)
# the console scripts the tests start keep no compiled programs in the user's ~/.cache
# (tests of the cache name their own folder)
os.environ.setdefault("JAXMIN_CACHE_DIR", "off")

settings.register_profile("jaxmin", deadline=None, max_examples=10, derandomize=True)
settings.load_profile("jaxmin")


@pytest.fixture
def parton_pdf():
    """``parton.mkPDF(name, member, pdfdir=…)``, an independent LHAPDF6 reader, patched for
    one-flavour sets: parton's block parser assumes several flavours (``np.loadtxt`` makes the
    lone PID 0-d and the one-column grid 1-D)."""
    parton = pytest.importorskip("parton")

    def read(pdfdir, member, name):
        pdf = parton.mkPDF(name, member, pdfdir=str(pdfdir))
        for grid in pdf.pdfgrids:
            grid.flavors = np.atleast_1d(grid.flavors)
            grid.xfgrid = grid.xfgrid.reshape(grid.x.size * grid.Q.size, grid.flavors.size)
        return pdf

    return read


@pytest.fixture
def compilations(caplog):
    """``compilations(run)``: ``run()``'s result and the programs XLA compiled while it ran, by
    name (``"jit(run_chunk)"``), from jax's compile log."""

    def compiled_while(run):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="jax"), jax.log_compiles():
            result = run()
        messages = (record.getMessage() for record in caplog.records)
        return result, [m.split()[1] for m in messages if m.startswith("Compiling ")]

    return compiled_while
