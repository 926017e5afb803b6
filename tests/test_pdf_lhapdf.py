"""LHAPDF6 export: the written set reads back with ``parton``, an independent LHAPDF reader."""

import numpy as np
import pytest

parton = pytest.importorskip("parton")

from jaxmin.pdf import lhapdf  # noqa: E402
from jaxmin.pdf.lhapdf import write_lhapdf_set  # noqa: E402

NAME = "jaxmin_gluon"
Q = (1.0, 10.0, 100.0, 1000.0)
X = np.logspace(-5.0, 0.0, 51)
X[-1] = 1.0
N_MEMBERS = 5


def xg(x, k=0):
    """Member k of the test set: (1 + 0.01 k) A x^a (1 - x)^b, zero at x = 1."""
    return (1.0 + 0.01 * k) * 2.5 * x**-0.2 * (1.0 - x) ** 5


MEMBERS = np.stack([xg(X, k) for k in range(N_MEMBERS)])


@pytest.fixture
def written(tmp_path):
    path = write_lhapdf_set(
        tmp_path,
        NAME,
        X,
        MEMBERS,
        q=Q,
        description='Gluon: closure "test"',
        extra_info={"Note": "no evolution: x·g at every Q", "Seeds": [1, 2], "Epochs": 3.5},
    )
    return tmp_path, path


def test_layout_and_metadata(written):
    pdfdir, path = written
    assert path == pdfdir / NAME
    assert sorted(p.name for p in pdfdir.iterdir()) == [NAME]
    expected = {f"{NAME}.info"} | {f"{NAME}_{k:04d}.dat" for k in range(N_MEMBERS)}
    assert {p.name for p in path.iterdir()} == expected

    info = parton.pdf.PDFSet(NAME, pdfdir=str(pdfdir)).info
    assert info["NumMembers"] == N_MEMBERS
    assert info["Format"] == "lhagrid1"
    assert info["Flavors"] == [21]
    assert info["ErrorType"] == "replicas"
    assert info["SetDesc"] == 'Gluon: closure "test"'
    assert info["Note"] == "no evolution: x·g at every Q"
    assert info["Seeds"] == [1, 2] and info["Epochs"] == 3.5
    assert info["XMin"] == pytest.approx(1e-5, rel=1e-14) and info["XMax"] == 1.0
    assert (info["QMin"], info["QMax"]) == (Q[0], Q[-1])
    assert info["AlphaS_Qs"] == list(Q) and info["AlphaS_Vals"] == [0.118] * len(Q)

    pdfset = parton.pdf.PDFSet(NAME, pdfdir=str(pdfdir))
    types = [parton.pdf.PDFMember(pdfset, k).load()[0]["PdfType"] for k in range(N_MEMBERS)]
    assert types == ["central"] + ["replica"] * (N_MEMBERS - 1)
    with pytest.raises(ValueError, match="not found"):
        parton.pdf.PDFMember(pdfset, N_MEMBERS).load()


@pytest.mark.parametrize("member", [0, 1, N_MEMBERS - 1])
def test_read_back_at_nodes_and_between(written, member, parton_pdf):
    pdfdir, _ = written
    pdf = parton_pdf(pdfdir, member, NAME)
    (grid,) = pdf.pdfgrids
    np.testing.assert_array_equal(grid.x, X)
    np.testing.assert_array_equal(grid.Q, Q)
    np.testing.assert_array_equal(grid.xfgrid[:, 0], np.repeat(MEMBERS[member], len(Q)))

    q = np.array([Q[0], 30.0, Q[-1]])
    at_nodes = pdf.xfxQ(21, X, q)
    np.testing.assert_allclose(at_nodes, np.repeat(MEMBERS[member][:, None], 3, 1), rtol=1e-8)
    np.testing.assert_allclose(pdf.xfxQ(0, X[:-1], 100.0)[:, 0], MEMBERS[member][:-1], rtol=1e-8)

    mid = np.sqrt(X[:-1] * X[1:])
    mid = mid[mid < 0.3]
    np.testing.assert_allclose(
        pdf.xfxQ(21, mid, q), np.repeat(xg(mid, member)[:, None], 3, 1), rtol=1e-3
    )


@pytest.mark.parametrize(
    ("arg", "kwargs"),
    [
        ("name", {"name": ""}),
        ("name", {"name": "bad name"}),
        ("name", {"name": "a/b"}),
        ("name", {"name": ".hidden"}),
        ("x", {"x": X[::-1]}),
        ("x", {"x": np.r_[X[:3], X[2], X[4:]]}),
        ("x", {"x": np.r_[0.0, X[1:]]}),
        ("x", {"x": np.r_[X[:-1], 1.5]}),
        ("x", {"x": np.r_[np.nan, X[1:]]}),
        ("x", {"x": X[None, :]}),
        ("x", {"x": X[-3:], "members": MEMBERS[:, -3:]}),
        ("members", {"members": np.where(X > 0.5, np.nan, MEMBERS)}),
        ("members", {"members": np.where(X > 0.5, np.inf, MEMBERS)}),
        ("members", {"members": MEMBERS[0]}),
        ("members", {"members": MEMBERS[:, 1:]}),
        ("members", {"members": MEMBERS[:0]}),
        ("q", {"q": (1.0, 100.0, 10.0, 1000.0)}),
        ("q", {"q": (0.0, 10.0, 100.0, 1000.0)}),
        ("q", {"q": (1.0, 100.0)}),
        ("extra_info", {"extra_info": {"NumMembers": 3}}),
        ("extra_info", {"extra_info": {"bad key": 1}}),
        ("extra_info", {"extra_info": {"Nan": float("nan")}}),
    ],
)
def test_bad_input_names_the_argument(tmp_path, arg, kwargs):
    args = {"name": NAME, "x": X, "members": MEMBERS} | kwargs
    with pytest.raises(ValueError, match=rf"^{arg}\b"):
        write_lhapdf_set(tmp_path / "sets", args.pop("name"), args.pop("x"), **args)
    assert not (tmp_path / "sets").exists()


def test_existing_set_and_overwrite(written, parton_pdf):
    pdfdir, path = written
    with pytest.raises(FileExistsError):
        write_lhapdf_set(pdfdir, NAME, X, MEMBERS[:2], q=Q)
    assert parton.pdf.PDFSet(NAME, pdfdir=str(pdfdir)).info["NumMembers"] == N_MEMBERS

    assert write_lhapdf_set(pdfdir, NAME, X, MEMBERS[:2], q=Q, overwrite=True) == path
    assert parton.pdf.PDFSet(NAME, pdfdir=str(pdfdir)).info["NumMembers"] == 2
    assert sorted(p.name for p in path.iterdir()) == [
        f"{NAME}.info",
        f"{NAME}_0000.dat",
        f"{NAME}_0001.dat",
    ]
    assert sorted(p.name for p in pdfdir.iterdir()) == [NAME]
    np.testing.assert_allclose(
        parton_pdf(pdfdir, 1, NAME).xfxQ(21, X, 10.0)[:, 0], MEMBERS[1], rtol=1e-8
    )


def test_failure_leaves_no_partial_set(tmp_path, monkeypatch):
    write_lhapdf_set(tmp_path, NAME, X, MEMBERS, q=Q)
    before = {p.name: p.read_text() for p in (tmp_path / NAME).iterdir()}
    member = lhapdf._member

    def failing(values, central, x, q):
        if not central:
            raise OSError("disk full")
        return member(values, central, x, q)

    monkeypatch.setattr(lhapdf, "_member", failing)
    with pytest.raises(OSError, match="disk full"):
        write_lhapdf_set(tmp_path, "other", X, MEMBERS, q=Q)
    with pytest.raises(OSError, match="disk full"):
        write_lhapdf_set(tmp_path, NAME, X, 2 * MEMBERS, q=Q, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]
    assert {p.name: p.read_text() for p in (tmp_path / NAME).iterdir()} == before


def test_default_q_is_readable(tmp_path, parton_pdf):
    write_lhapdf_set(tmp_path, NAME, X, MEMBERS[:2])
    pdf = parton_pdf(tmp_path, 1, NAME)
    assert pdf.pdfgrids[0].Q.size >= 4
    np.testing.assert_allclose(pdf.xfxQ(21, X, 50.0)[:, 0], MEMBERS[1], rtol=1e-8)
