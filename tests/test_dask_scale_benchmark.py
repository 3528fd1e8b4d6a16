"""The Dask scale benchmark's table is what its docstring says: seeded, patient-level, reproducible by file."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def scale():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("dask_scale")
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("dask_scale", None)


def test_files_are_reproducible_and_patients_do_not_cross_files(scale):
    first, again = scale.generate_file(1, 20_000), scale.generate_file(1, 20_000)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(scale.generate_file(1, 20_000, seed=scale.SEED + 1))
    other = scale.generate_file(0, 20_000)
    assert set(first[scale.GROUP]).isdisjoint(other[scale.GROUP])
    assert (first.groupby(scale.GROUP).size() == scale.VISITS_PER_PATIENT).all()


def test_patient_attributes_are_constant_and_visits_carry_signal(scale):
    frame = scale.generate_file(0, 200_000)
    per_patient = frame.groupby(scale.GROUP)[["age", "sex", "site"]].nunique()
    assert (per_patient == 1).all().all()
    assert 0.15 < frame[scale.LABEL].mean() < 0.25
    labs = frame.filter(like="lab_")
    assert labs.isna().mean().between(0.04, 0.06).all()
    # lab_0 raises the risk and lab_1 lowers it, as the documented logit says.
    assert frame[scale.LABEL].corr(frame["lab_0"]) > 0.05 > -0.05 > frame[scale.LABEL].corr(frame["lab_1"])


def test_generate_writes_files_once_and_rejects_a_partial_patient(scale, tmp_path, monkeypatch):
    monkeypatch.setattr(scale, "ROWS_PER_FILE", 10_000)
    directory = scale.generate(25_000, tmp_path / "table")
    files = sorted(directory.glob("part-*.parquet"))
    assert [len(pd.read_parquet(f)) for f in files] == [10_000, 10_000, 5_000]
    stamps = [f.stat().st_mtime_ns for f in files]
    scale.generate(25_000, directory)
    assert [f.stat().st_mtime_ns for f in files] == stamps
    with pytest.raises(ValueError, match="multiple of"):
        scale.generate_file(0, 1_001)


def test_a_workers_peak_is_reset_between_stages(scale):
    """What the per-stage worker peaks rest on: a process's high-water mark is read, then reset to its RSS."""
    child = subprocess.Popen([sys.executable, "-c",
                              "import sys, time\n"
                              "block = bytearray(200 * 2**20)\n"
                              "for i in range(0, len(block), 4096): block[i] = 1\n"
                              "del block\n"
                              "print('freed', flush=True)\n"
                              "time.sleep(30)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "freed\n"
        assert scale._high_water_kb(child.pid) > 200 * 1024
        scale._clear_high_water(child.pid)
        assert scale._high_water_kb(child.pid) < 100 * 1024
    finally:
        child.kill()
        child.wait()
    scale._clear_high_water(child.pid)  # a process that has gone is skipped
