"""Post-deployment holdout validation: the rules on real data, then the whole flow through the real
CLI on one training run per store: refused for a candidate-only model, accepted once a person sets
`production`, refused the second time, accepted again only with --force --reason (recorded), and
refused when the data changed. On the embedded SQLite stores and on PostgreSQL with a live
`mlflow server`."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pandas as pd
import pytest

from sealtrain.components.core import holdout_validation, model_registry, run_store, split_ledger, splitting
from sealtrain.components.core.constants import GROUP_COLUMN, HOLDOUT
from sealtrain.components.core.errors import HoldoutAccessError, InvalidInputError

EXPERIMENT = "holdout-e2e"
DATASET = {"label_column": "headache", "positive_class": "yes", "group_column": "id", "no_group": False,
           "drop_columns": ["rownames"], "time_column": ""}


# --- the rules, on KosteckiDillon ------------------------------------------------------------

@pytest.fixture(scope="module")
def run_holdout(kostecki_splits):
    """A run's manifest (with the dataset section split_dataset writes) and its holdout groups' hashes."""
    manifest = {**kostecki_splits.manifest, "dataset": DATASET}
    groups = frozenset(splitting.group_hashes(kostecki_splits.tables[HOLDOUT][GROUP_COLUMN].unique(),
                                              manifest["salt"]))
    return manifest, groups


def test_the_holdout_is_rebuilt_exactly_from_the_data_and_the_locked_groups(kostecki, kostecki_splits, run_holdout):
    manifest, groups = run_holdout
    rebuilt = holdout_validation.rebuild(kostecki, manifest, groups, "kostecki", "run-1")
    pd.testing.assert_frame_equal(rebuilt, kostecki_splits.tables[HOLDOUT])


def test_one_changed_cell_is_refused_naming_both_fingerprints(kostecki, run_holdout):
    manifest, groups = run_holdout
    changed = kostecki.copy()
    changed.loc[17, "age"] += 1
    with pytest.raises(HoldoutAccessError, match=r"the data changed since training run run-1: changed prepares to "
                                                 rf"a table with fingerprint \w+, but the run's split manifest "
                                                 rf"recorded {manifest['data_fingerprint']}"):
        holdout_validation.rebuild(changed, manifest, groups, "changed", "run-1")


def test_groups_that_are_not_the_runs_holdout_are_refused(kostecki, run_holdout):
    manifest, groups = run_holdout
    with pytest.raises(HoldoutAccessError, match="the run store's holdout groups are not this run's holdout"):
        holdout_validation.rebuild(kostecki, manifest, groups - {min(groups)}, "kostecki", "run-1")
    with pytest.raises(HoldoutAccessError, match="training run run-1 locked no holdout groups"):
        holdout_validation.rebuild(kostecki, manifest, frozenset(), "kostecki", "run-1")


@pytest.mark.parametrize(("text", "expected"), [
    ("models:/m@production", model_registry.ModelReference("m", alias="production")),
    ("models:/my-model/12", model_registry.ModelReference("my-model", version="12")),
])
def test_model_references(text, expected):
    assert model_registry.parse_reference(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["m@production", "models:/m", "models:/m/latest", "models:/m@a/1", "runs:/x/model"])
def test_other_references_are_refused_naming_both_forms(text):
    with pytest.raises(InvalidInputError, match="is neither models:/NAME@ALIAS or models:/NAME/VERSION"):
        model_registry.parse_reference(text)


def _version(*aliases):
    return model_registry.RegisteredVersion("m", "3", aliases, "r", "e", "t")


def test_only_a_production_version_passes_and_a_validated_one_only_when_forced():
    with pytest.raises(HoldoutAccessError, match="model 'm' version 3 carries candidate, not the alias 'production'"):
        holdout_validation.require_production(_version("candidate"))
    holdout_validation.require_production(_version("candidate", "production"))
    earlier = [{"evaluated_at": datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), "model_version": "models:/m/3"}]
    with pytest.raises(HoldoutAccessError, match=r"validated on the holdout already \(1 time, first on 2026-01-02 "
                                                 r"03:04 UTC as models:/m/3\).*--force --reason TEXT"):
        holdout_validation.require_first_validation(earlier, _version("production"), force=False)
    holdout_validation.require_first_validation(earlier, _version("production"), force=True)
    holdout_validation.require_first_validation([], _version("production"), force=False)


def test_force_needs_a_reason_and_a_reason_needs_force():
    with pytest.raises(InvalidInputError, match="--force needs --reason TEXT"):
        holdout_validation.require_reason(True, "  ")
    with pytest.raises(InvalidInputError, match="--reason goes with --force"):
        holdout_validation.require_reason(False, "why not")
    holdout_validation.require_reason(True, "label audit")


# --- through the CLI -------------------------------------------------------------------------

def _sealtrain(*args):
    return subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", *map(str, args)], capture_output=True,
                          text=True, env=os.environ.copy())


@pytest.fixture(scope="module", params=[pytest.param("sqlite", marks=pytest.mark.pipeline),
                                        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.pipeline])])
def flow(request, tmp_path_factory, kostecki):
    """One training run and every validation attempt on it, in order, on one pair of stores."""
    work = tmp_path_factory.mktemp(f"holdout-{request.param}")
    out = work / "out"
    if request.param == "sqlite":
        stores, tracking_uri, db_url = [], f"sqlite:///{out / 'mlflow.db'}", f"sqlite:///{out / 'runs.db'}"
    else:
        tracking_uri, db_url = request.getfixturevalue("mlflow_server"), request.getfixturevalue("postgres_database")
        stores = ["--mlflow-uri", tracking_uri, "--db-url", db_url]
    data = work / "kostecki.csv"
    kostecki.to_csv(data, index=False)
    trained = _sealtrain("run", "--data", data, "--label", "headache", "--positive-class", "yes", "--group", "id",
                         "--drop", "rownames", "--trials", "2", "--bootstrap-samples", "50", "--experiment",
                         EXPERIMENT, "--output", out, "--summary-json", work / "run.json", *stores)
    assert trained.returncode == 0, trained.stderr + trained.stdout[-3000:]
    version = json.loads((work / "run.json").read_text())["mlflow"]["registered_version"]
    production = f"models:/{EXPERIMENT}@production"

    def validate(name, *flags):
        return name, _sealtrain("validate-holdout", "--output", out, "--summary-json", work / f"{name}.json",
                                *stores, *flags)

    changed = work / "changed.csv"
    edited = kostecki.copy()
    edited.loc[17, "age"] += 1
    edited.to_csv(changed, index=False)
    import mlflow

    steps = [validate("candidate", "--model", f"models:/{EXPERIMENT}/{version}")]
    mlflow.MlflowClient(tracking_uri).set_registered_model_alias(EXPERIMENT, "production", version)
    steps += [
        validate("first", "--model", production),
        validate("second", "--model", production),
        validate("forced", "--model", production, "--force", "--reason", "labels re-audited"),
        validate("changed", "--model", production, "--data", changed, "--force", "--reason", "new extract"),
    ]
    engine = run_store.engine_for(db_url)
    ledger = split_ledger.evaluations(engine, EXPERIMENT, HOLDOUT)
    engine.dispose()
    return {"work": work, "version": version, "tracking_uri": tracking_uri, "ledger": ledger, **dict(steps)}


def test_a_candidate_only_model_is_refused_naming_the_alias(flow):
    refused = flow["candidate"]
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.startswith("error in holdout-gate: HoldoutAccessError: model 'holdout-e2e' version "
                                     f"{flow['version']} carries candidate, not the alias 'production'"), refused.stderr
    assert "rebuild-holdout" not in refused.stdout  # nothing after the gate ran


def test_a_production_model_is_validated_on_its_run_and_version_and_in_the_ledger(flow):
    import mlflow

    first = flow["first"]
    assert first.returncode == 0, first.stderr + first.stdout
    record = json.loads((flow["work"] / "first.json").read_text())
    client = mlflow.MlflowClient(flow["tracking_uri"])
    run = client.get_run(record["mlflow"]["run_id"])
    assert run.data.metrics["holdout_auc"] == pytest.approx(record["metrics"]["auc"])
    assert {"holdout_auc_ci_low", "holdout_auc_ci_high", "holdout_brier_score", "test_auc"} <= set(run.data.metrics)
    assert run.data.tags["holdout_fingerprint"] == record["holdout"]["fingerprint"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "holdout_validation")}
    assert artifacts == {"holdout_validation/evaluation", "holdout_validation/report.html"}
    tags = client.get_model_version(EXPERIMENT, flow["version"]).tags
    assert tags["holdout_validation"] == "passed" and tags["holdout_verdict"] == "no acceptance criteria set"
    assert tags["holdout_auc"].startswith(f"{record['metrics']['auc']:.4f} (95% CI ")
    first_row = flow["ledger"][0]
    assert (first_row["split"], first_row["forced"], first_row["reason"]) == (HOLDOUT, False, None)
    assert first_row["model_version"] == f"models:/{EXPERIMENT}/{flow['version']}"
    assert first_row["split_fingerprint"] == record["holdout"]["fingerprint"]
    assert first_row["metrics"]["metrics"]["auc"] == pytest.approx(record["metrics"]["auc"])


def test_a_second_validation_is_refused_and_a_forced_one_records_its_reason(flow):
    second = flow["second"]
    assert second.returncode == 1
    assert "error in holdout-gate: HoldoutAccessError: model 'holdout-e2e' version" in second.stderr
    assert "validated on the holdout already (1 time" in second.stderr and "--force --reason" in second.stderr
    forced = flow["forced"]
    assert forced.returncode == 0, forced.stderr
    assert [(row["forced"], row["reason"]) for row in flow["ledger"]] == [(False, None), (True, "labels re-audited")]
    first, again = (json.loads((flow["work"] / f"{name}.json").read_text()) for name in ("first", "forced"))
    assert again["metrics"] == first["metrics"]  # the same rows, model and bootstrap seed
    assert again["version_tags"]["holdout_forced_reason"] == "labels re-audited"


def test_changed_data_is_refused_even_when_forced(flow):
    changed = flow["changed"]
    assert changed.returncode == 1
    assert changed.stderr.startswith("error in rebuild-holdout: HoldoutAccessError: the data changed since training "
                                     "run "), changed.stderr
    assert "point --data at that data" in changed.stderr
    assert len(flow["ledger"]) == 2  # nothing recorded for it
    assert not (flow["work"] / "changed.json").exists()


def test_the_ledger_keys_the_model_by_its_fingerprint(flow):
    assert len({row["model_fingerprint"] for row in flow["ledger"]}) == 1
    assert isinstance(flow["ledger"][0]["evaluated_at"], datetime)
