"""The evaluation report: one self-contained HTML page with real plots.

The plots are PNGs embedded as data URIs, so the page renders in the KFP UI (HTML
artifact), in MLflow's artifact viewer and straight from disk alike.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from .constants import TEST

THRESHOLD_GRID = 101


def test_reuse_warning(test_evaluations: int) -> str:
    """The warning due when more than one model has been evaluated on a test split, else ''."""
    if test_evaluations <= 1:
        return ""
    return (f"{test_evaluations} models of this experiment have been evaluated on this test split: repeated test "
            "evaluation overfits the test split (the choice among models adapts to it), so its metrics overstate "
            "performance on new patients; confirm on the holdout or new data")


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figures(y: np.ndarray, p: np.ndarray, threshold: float, bins: list[dict], split: str) -> dict[str, str]:
    import matplotlib
    from sklearn.metrics import precision_recall_curve, roc_curve

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {}
    if len(np.unique(y)) < 2:  # curves of a single-class split are undefined; the notes say so
        return figures
    fig, ax = plt.subplots(figsize=(4.5, 4))
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC curve ({split})")
    ax.legend(loc="lower right")
    figures["ROC curve"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    precision, recall, _ = precision_recall_curve(y, p)
    ax.plot(recall, precision)
    ax.axhline(y.mean(), linestyle="--", color="grey", label=f"prevalence {y.mean():.3f}")
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision-recall curve ({split})")
    ax.legend(loc="upper right")
    figures["Precision-recall curve"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([b["mean_score"] for b in bins], [b["observed_rate"] for b in bins], "o-", label="model")
    ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title=f"Calibration ({split})")
    ax.legend(loc="upper left")
    figures["Calibration curve"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    edges = np.linspace(0, 1, 41)
    ax.hist(p[y == 0], bins=edges, alpha=0.6, density=True, label="negative")
    ax.hist(p[y == 1], bins=edges, alpha=0.6, density=True, label="positive")
    ax.axvline(threshold, color="black", linestyle=":", label=f"threshold {threshold:.3f}")
    ax.set(xlabel="predicted probability", ylabel="density", title=f"Scores by class ({split})")
    ax.legend()
    figures["Score distributions"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    grid = np.linspace(0, 1, THRESHOLD_GRID)
    predicted = p[None, :] >= grid[:, None]
    tp = (predicted & (y == 1)).sum(axis=1)
    fp = (predicted & (y == 0)).sum(axis=1)
    fn = (y == 1).sum() - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        ax.plot(grid, np.where(tp + fp > 0, tp / (tp + fp), np.nan), label="precision")
        ax.plot(grid, tp / max((y == 1).sum(), 1), label="recall")
        ax.plot(grid, np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan), label="F1")
    ax.axvline(threshold, color="black", linestyle=":", label="chosen on validation")
    ax.set(xlabel="threshold", ylabel="value", title=f"Threshold analysis ({split})")
    ax.legend()
    figures["Threshold analysis"] = _png(fig)
    plt.close(fig)
    return figures


def render_report(y: np.ndarray, p: np.ndarray, evaluation: dict, title: str, split: str = TEST) -> str:
    """Builds the HTML report of an evaluation.

    Args:
        y: The labels of the split evaluated.
        p: Its scores.
        evaluation: The output of `evaluation.evaluate` (with train/validation metrics).
        title: The page title.
        split: The split evaluated (test, or holdout after deployment), as the page names it.
    """
    threshold = evaluation["optimal_threshold"]
    figures = _figures(y, p, threshold, evaluation["details"]["calibration_bins"], split)
    rows = []
    for name, value in evaluation["test_metrics"].items():
        bounds = evaluation["confidence_interval"].get(name)
        interval = f"{bounds[0]:.4f} – {bounds[1]:.4f}" if bounds else ""
        train = evaluation.get("train_metrics", {}).get(name)
        val = evaluation.get("validation_metrics", {}).get(name)
        cells = [f"{v:.4f}" if v is not None else "" for v in (train, val, value)]
        cells_html = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells_html}<td>{interval}</td></tr>")
    at_k = "".join(f"<tr><th>precision@{k}</th><td>{v:.4f}</td></tr>" for k, v in evaluation["precision_at_k"].items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in evaluation["details"]["notes"])
    acceptance = evaluation.get("acceptance")
    verdict = (f"<p><b>Validation gate:</b> {'accepted' if acceptance['accepted'] else 'rejected'}: "
               f"{html.escape(acceptance['reason'])}</p>") if acceptance else ""
    plots = "".join(
        f'<figure><img alt="{html.escape(name)}" src="{uri}"><figcaption>{html.escape(name)}</figcaption></figure>'
        for name, uri in figures.items()
    )
    boot = evaluation["details"]["bootstrap"]
    count = evaluation.get("test_evaluations")
    ledger = (f"<p><b>Test split:</b> evaluated by {count} {'model' if count == 1 else 'models'} of this experiment, "
              "this one included.</p>") if count else ""
    if warning := test_reuse_warning(count or 0):
        ledger += f'<p class="warning"><b>Warning:</b> {html.escape(warning)}.</p>'

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}figure{{display:inline-block;margin:.5em}}
.warning{{color:#a40000}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{evaluation['details']['test_samples']} {split} rows; decision threshold {threshold:.4f}, chosen on the validation
split.
95% intervals: percentile bootstrap, {boot['samples']} resamples of whole {boot['unit']}s.</p>
{verdict}
{ledger}
<table><tr><th>metric</th><th>train</th><th>validation</th><th>{split}</th><th>{split} 95% CI</th></tr>
{''.join(rows)}</table>
<h2>Precision at k</h2><table>{at_k}</table>
<ul>{notes}</ul>
<h2>Plots</h2>{plots}
</body></html>
"""


def render_tuning_report(trials, metric: str, direction: str, title: str) -> str:
    """The optimisation history of a study: every trial's value, the best so far, the top trials.

    Args:
        trials: The trials table (see `optuna_study.trials_table`).
        metric: The objective's name.
        direction: "maximize" or "minimize".
        title: The page title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        subset = trials[trials["state"] == state]
        ax.scatter(subset["number"], subset["value"], marker=marker, label=state.lower(), alpha=0.7)
    complete = trials[trials["state"] == "COMPLETE"].sort_values("number")
    best = complete["value"].cummax() if direction == "maximize" else complete["value"].cummin()
    ax.step(complete["number"], best, where="post", color="black", label="best so far")
    ax.set(xlabel="trial", ylabel=f"validation {metric}", title="Optimisation history")
    ax.legend()
    plot = _png(fig)
    plt.close(fig)
    ranked = complete.sort_values("value", ascending=direction != "maximize").head(10)
    params = [c for c in trials.columns if c.startswith("param_")]
    header = "".join(f"<th>{html.escape(c.removeprefix('param_'))}</th>" for c in ["number", "value", *params])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(f'{row[c]:.4g}' if isinstance(row[c], float) else str(row[c]))}</td>"
                         for c in ["number", "value", *params]) + "</tr>"
        for _, row in ranked.iterrows()
    )
    counts = trials["state"].value_counts().to_dict()
    summary = ", ".join(f"{v} {k.lower()}" for k, v in counts.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}</style></head><body>
<h1>{html.escape(title)}</h1><p>{len(trials)} trials: {summary}.</p>
<img alt="Optimisation history" src="{plot}">
<h2>Best trials</h2><table><tr>{header}</tr>{body}</table>
</body></html>
"""
