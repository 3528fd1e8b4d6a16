"""The runtime guard beside the static one: components refuse artifacts of the wrong role.

The mis-wired pipeline here really runs under kfp.local, with the real components.
"""

import pytest
from kfp import dsl, local

from sealtrain.components.core import lineage
from sealtrain.components.core.constants import META_MANIFEST_FINGERPRINT, META_ROLE
from sealtrain.components.core.errors import DataLeakageError
from sealtrain.components.fit_preprocessor import fit_preprocessor
from sealtrain.components.load_dataset import load_dataset
from sealtrain.components.split_dataset import split_dataset


def test_wrong_role_is_refused_with_the_consumer_named():
    with pytest.raises(DataLeakageError, match="fit_preprocessor accepts only the train split, .* role 'validation'"):
        lineage.require_role({META_ROLE: "validation"}, "train", "fit_preprocessor")
    with pytest.raises(DataLeakageError, match="role None"):
        lineage.require_role({}, "train", "fit_preprocessor")


def test_artifacts_of_different_split_manifests_are_refused():
    same = {META_MANIFEST_FINGERPRINT: "a"}
    assert lineage.require_same_manifest("evaluate_model", test=same, model=same) == "a"
    with pytest.raises(DataLeakageError, match="evaluate_model: inputs come from different split manifests"):
        lineage.require_same_manifest("evaluate_model", test=same, model={META_MANIFEST_FINGERPRINT: "b"})


@dsl.pipeline
def preprocessor_fitted_on_validation(data_uri: str):
    loaded = load_dataset(data_uri=data_uri, data_fingerprint="")
    split = split_dataset(
        dataset=loaded.outputs["dataset"], qc_status="PASSED", label_column="headache", positive_class="yes",
        group_column="id", no_group=False, drop_columns=["rownames"], time_column="", split_ratios=[], split_salt="s",
        split_tolerance=0.02, stratify=False, max_duplicate_share=0.01, allow_features=[],
    )
    fit_preprocessor(train=split.outputs["validation"])


@pytest.mark.pipeline
def test_a_mis_wired_pipeline_fails_at_run_time(tmp_path, kostecki, capfd):
    kostecki.to_csv(tmp_path / "k.csv", index=False)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    with pytest.raises(RuntimeError, match="Inner task failed: .*fit-preprocessor"):
        preprocessor_fitted_on_validation(data_uri=str(tmp_path / "k.csv"))
    assert "DataLeakageError: fit_preprocessor accepts only the train split" in capfd.readouterr().out
