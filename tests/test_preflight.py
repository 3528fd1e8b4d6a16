"""Every argument of `sealtrain run` is checked before anything runs: exit 2 within seconds,
one line naming the flag, column or file, and nothing written to the output directory."""

import json
import subprocess
import sys
import time

import pytest

from sealtrain.components.core import quality
from sealtrain.components.core.errors import InvalidInputError
from sealtrain.pipelines import cli, preflight
from sealtrain.pipelines.contract import UsageError

DEMO_COLUMNS = "['subject_id', 'gender', 'pan_day'"
KOSTECKI = ["--label", "headache", "--positive-class", "yes", "--group", "id", "--drop", "rownames"]
SECONDS = 5


def refused(tmp_path, *args, env=None, out=None) -> str:
    """Runs `sealtrain run` with the arguments; checks exit 2 within SECONDS and an untouched
    output directory, and returns the one-line error."""
    out = out or tmp_path / "out"
    started = time.monotonic()
    # The timeout only stops a run that a missed check let start.
    result = subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", "run", "--output", str(out), *args],
                            capture_output=True, text=True, env=env, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr + result.stdout[-2000:]
    assert elapsed < SECONDS, f"took {elapsed:.1f}s"
    assert not out.exists()
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "nope"], f"covid_testing.csv.gz: label column 'nope' not found; the columns are {DEMO_COLUMNS}"),
        (["--group", "nope"], "covid_testing.csv.gz: group column 'nope' not found"),
        (["--drop", "gender", "nope"], "covid_testing.csv.gz: drop column 'nope' not found"),
        (["--time-column", "when"], "covid_testing.csv.gz: time column 'when' not found"),
        (["--positive-class", "yes"],
         "positive class 'yes' does not occur in label column 'result' (values: ['negative', 'positive'])"),
        (["--label", "pan_day"], "label column 'pan_day' must have exactly two values, found"),
        (["--bootstrap-samples", "-5"], "--bootstrap-samples must be at least 1, got -5"),
        (["--bootstrap-samples", "0"], "--bootstrap-samples must be at least 1, got 0"),
        (["--trials", "0"], "--trials must be at least 1, got 0"),
        (["--tuning-workers", "0"], "--tuning-workers must be at least 1, got 0"),
        (["--trials", "2", "--tuning-workers", "3"], "3 tuning workers for 2 trials would leave workers idle"),
        (["--tuning-timeout", "-1"], "--tuning-timeout must be at least 0, got -1.0"),
        (["--tuning-timeout", "nan"], "--tuning-timeout must be a finite number, got nan"),
        (["--seed", "-1"], "--seed must be between 0 and 2147483647, got -1"),
        (["--min-auc", "1.5"], "--min-auc must be between 0 and 1, got 1.5"),
        (["--max-duplicate-share", "-0.1"], "--max-duplicate-share must be between 0 and 1, got -0.1"),
        (["--split-tolerance", "0.5"], "--split-ratios/--split-tolerance: split tolerance must be in (0, 0.05)"),
        (["--split-ratios", "0.5", "0.5", "0.1", "0.1"],
         "--split-ratios/--split-tolerance: split ratios must sum to 1, they sum to 1.200000"),
        (["--split-ratios", "0.7", "0.3", "0", "0"], "split ratios must be positive"),
    ],
)
def test_a_bad_flag_on_the_demo_is_named_before_anything_runs(tmp_path, args, message):
    assert message in refused(tmp_path, *args)


def test_an_output_directory_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "file").write_text("x")
    line = refused(tmp_path, out=tmp_path / "file" / "out")
    assert line == f"error: --output {tmp_path / 'file' / 'out'}: {tmp_path / 'file'} is a file, not a directory"


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"status": "PASSED", "overall_score": 1.0, "score": 1.0},
         "unknown key score (allowed: checks, overall_score, source, status)"),
        ({"status": "PASSED"}, "missing key overall_score"),
        ({"status": "GOOD", "overall_score": 1.0},
         "'status' must be one of ['PASSED', 'WARNING', 'FAILED'], got 'GOOD'"),
        ({"status": "FAILED", "overall_score": 0.2, "checks": [{"name": "rows", "status": "FAILED", "why": "x"}]},
         "checks[0]: missing key detail; checks[0]: unknown key why"),
        ([{"status": "PASSED"}], "holds a JSON list, not an object with status, overall_score"),
        ("status: PASSED", "not valid JSON"),
    ],
)
def test_a_qc_report_is_checked_against_its_schema(tmp_path, report, message):
    path = tmp_path / "qc.json"
    path.write_text(report if isinstance(report, str) else json.dumps(report))
    line = refused(tmp_path, "--qc-report", str(path))
    assert line.startswith(f"error: --qc-report {path}: ") and message in line


def test_a_missing_qc_report_is_named(tmp_path):
    assert refused(tmp_path, "--qc-report", str(tmp_path / "nope.json")) == (
        f"error: --qc-report {tmp_path / 'nope.json'}: No such file or directory")


def _write(kostecki, path) -> str:
    if path.suffix == ".parquet":
        kostecki.to_parquet(path, index=False)
    else:
        kostecki.to_csv(path, index=False, sep="\t" if ".tsv" in path.name else ",")
    return str(path)


@pytest.mark.parametrize("name", ["k.csv", "k.csv.gz", "k.tsv", "k.parquet"])
def test_the_header_of_a_real_table_is_read_in_every_format(tmp_path, kostecki, name):
    line = refused(tmp_path, "--data", _write(kostecki, tmp_path / name), *KOSTECKI, "--label", "migraine")
    assert f"{name}: label column 'migraine' not found; the columns are ['rownames', 'id', 'time'" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--group": "patient"}, "group column 'patient' not found"),
        ({"--positive-class": "maybe"}, "positive class 'maybe' does not occur in label column 'headache'"),
        ({"--label": "sex"}, "positive class 'yes' does not occur in label column 'sex' (values: ['female', 'male'])"),
    ],
)
def test_a_bad_column_role_of_a_real_table_is_named(tmp_path, kostecki, change, message):
    flags = dict(zip(KOSTECKI[::2], KOSTECKI[1::2])) | change
    data = _write(kostecki, tmp_path / "k.parquet")
    assert message in refused(tmp_path, "--data", data, *[item for pair in flags.items() for item in pair])


def test_a_label_with_three_values_is_named(tmp_path, kostecki):
    three = kostecki.copy()
    three.loc[0, "headache"] = "maybe"
    three.to_csv(tmp_path / "three.csv", index=False)
    assert "label column 'headache' must have exactly two values, found 3: ['maybe', 'no', 'yes']" in refused(
        tmp_path, "--data", str(tmp_path / "three.csv"), *KOSTECKI)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "empty.csv: the file is empty"),
        ("header.csv", "headache,id\n", "header.csv: the table has no rows"),
        ("data.xlsx", "x", "data.xlsx: unknown table format"),
    ],
)
def test_an_unusable_file_is_named(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    assert message in refused(tmp_path, "--data", str(tmp_path / name), *KOSTECKI)


def test_a_cloud_storage_table_is_checked_too(tmp_path, gcs):
    import os

    line = refused(tmp_path, "--data", "gs://sealtrain-data/kostecki.csv", "--label", "migraine",
                   env={**os.environ, **gcs})
    assert "gs://sealtrain-data/kostecki.csv: label column 'migraine' not found" in line


def test_good_arguments_pass_and_leave_the_output_directory_alone(tmp_path, kostecki):
    kostecki.to_parquet(tmp_path / "k.parquet", index=False)
    for flags in ([], ["--data", str(tmp_path / "k.parquet"), *KOSTECKI, "--time-column", "time"]):
        args = cli._parser().parse_args(["run", *flags, "--output", str(tmp_path / "out")])
        arguments = cli.pipeline_arguments(args, tmp_path / "out")
        assert arguments["run_db_url"] == f"sqlite:///{tmp_path / 'out' / 'runs.db'}"
    assert arguments["label_column"] == "headache" and arguments["time_column"] == "time"
    assert not (tmp_path / "out").exists()


def test_parse_report_reads_a_full_report_back():
    report = quality.QCReport(status="WARNING", overall_score=0.75,
                              checks=[quality.QCCheck("constant_columns", "WARNING", "constant: ['x']")])
    assert quality.parse_report(report.to_json()) == report
    with pytest.raises(InvalidInputError, match="'overall_score' must be a number"):
        quality.parse_report('{"status": "PASSED", "overall_score": "high"}')


def test_a_submitted_runs_scheduler_is_left_to_the_cluster_and_a_local_runs_must_answer():
    """A scheduler address inside the cluster need not answer from the submitting machine; locally it must."""
    arguments = {"engine": "dask", "dask_scheduler": "tcp://127.0.0.1:9", "dask_workers": 0, "algorithm": "xgboost",
                 "group_column": "patient", "no_group": False}
    preflight.check_engine(arguments, local=False)
    with pytest.raises(UsageError, match="no Dask scheduler answered"):
        preflight.check_engine(arguments, local=True)
