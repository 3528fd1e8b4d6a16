"""KFP component: the QC gate, which no FAILED report passes."""

from kfp import dsl
from kfp.dsl import Artifact, Input

from sealtrain.components.runtime import DEFAULT_IMAGE


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def qc_gate(qc_report: Input[Artifact]) -> str:
    """Refuses to continue unless the QC report says PASSED or WARNING.

    Args:
        qc_report: The report from `check_data_quality`.

    Returns:
        The report's status; `split_dataset` takes it as input, so nothing is split before
        the gate has passed.

    Raises:
        QCGateBlockedError: The report says FAILED.
    """
    from pathlib import Path

    from sealtrain.components.core import quality

    report = quality.parse_report(Path(qc_report.path).read_text(), qc_report.uri)
    status = quality.gate(report)
    print(f"[sealtrain] QC gate: {status} (score {report.overall_score})")
    return status
