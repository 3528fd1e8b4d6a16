"""The leaks a user makes by accident stop a real run through the CLI, naming the column and the fix.

Two real tables with repeated rows per patient (KosteckiDillon: 133 patients, ~31 visits each;
the bundled covid_testing: ~12,000 patients), each with one mistake: no `--group` while a
patient id is a column, a feature that copies the label, the same patients again under new
ids, a time column on which every patient starts together. Each run stops in the stage that
sees the mistake, before any tuning, and writes no summary.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo" / "covid_testing.csv.gz"
TABLES = {
    "kostecki": {"label": "headache", "positive": "yes", "group": "id", "drop": ["rownames"]},
    "covid": {"label": "result", "positive": "positive", "group": "subject_id", "drop": []},
}


def _table(name: str, kostecki: pd.DataFrame) -> pd.DataFrame:
    return kostecki if name == "kostecki" else pd.read_csv(DEMO)


def _forget_group(frame, spec):
    return frame, ["--drop", *spec["drop"]] if spec["drop"] else []


def _copy_label(frame, spec):
    leaky = frame.assign(outcome_code=np.where(frame[spec["label"]] == spec["positive"], "A", "B"))
    return leaky, ["--group", spec["group"], *(["--drop", *spec["drop"]] if spec["drop"] else [])]


def _same_patients_new_ids(frame, spec):
    again = frame.copy()
    again[spec["group"]] = again[spec["group"]].astype(str) + "-again"
    return pd.concat([frame, again]), ["--group", spec["group"], *(["--drop", *spec["drop"]] if spec["drop"] else [])]


def _everyone_starts_together(frame, spec):
    visits = frame.assign(visit=frame.groupby(spec["group"]).cumcount())
    return visits, ["--group", spec["group"], "--time-column", "visit",
                    *(["--drop", *spec["drop"]] if spec["drop"] else [])]


MISTAKES = {
    "no --group": (_forget_group, "qc-gate: QCGateBlockedError", ["identifier column '{group}'", "--group {group}",
                                                                   "--drop {group}", "--no-group"]),
    "a feature copies the label": (_copy_label, "split-dataset: DataLeakageError",
                                   ["feature 'outcome_code'", "alone separates the label", "--drop outcome_code",
                                    "--allow-feature outcome_code"]),
    "same patients under new ids": (_same_patients_new_ids, "split-dataset: DataLeakageError",
                                    ["the same patients appear to be in train and in an evaluation split",
                                     "repeat the feature values of one train patient", "-again"]),
    "everyone starts together": (_everyone_starts_together, "split-dataset: DataLeakageError",
                                 ["cannot order the splits in time", "start at the same time"]),
}


@pytest.mark.pipeline
@pytest.mark.parametrize("mistake", MISTAKES)
@pytest.mark.parametrize("table", TABLES)
def test_an_accidental_leak_stops_the_run_naming_the_column_and_the_fix(tmp_path, kostecki, table, mistake):
    spec = TABLES[table]
    make, where, phrases = MISTAKES[mistake]
    frame, flags = make(_table(table, kostecki), spec)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "sealtrain.pipelines.cli", "run", "--data", str(data), "--label", spec["label"],
         "--positive-class", spec["positive"], *flags, "--trials", "1", "--output", str(tmp_path / "out"),
         "--summary-json", str(tmp_path / "summary.json")],
        capture_output=True, text=True,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr
    assert f"error in {where}: " in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase.format(**spec) in result.stderr, (phrase, result.stderr)
    assert "tune-hyperparameters ..." not in result.stdout, "the run stopped before any tuning"
    assert not (tmp_path / "summary.json").exists()
