"""Where a local run keeps its Optuna study: a journal file in --output, checked before the run and served by
`sealtrain ui --optuna`."""

import pytest

from sealtrain.components.core import endpoints
from sealtrain.pipelines import preflight, ui
from sealtrain.pipelines.contract import UsageError


def test_a_journal_url_names_its_file():
    assert endpoints.journal_path("journal:///srv/out/optuna.journal") == "/srv/out/optuna.journal"
    assert endpoints.journal_path("sqlite:////srv/out/optuna.db") is None
    assert endpoints.optuna_storage("journal:///srv/out/optuna.journal") == "journal:///srv/out/optuna.journal"


def test_preflight_accepts_a_journal_it_can_create_and_refuses_one_it_cannot(tmp_path):
    preflight.check_store("--optuna-storage", f"journal://{tmp_path / 'new' / 'optuna.journal'}")
    (tmp_path / "optuna.journal").mkdir()
    with pytest.raises(UsageError, match="--optuna-storage journal://.*optuna.journal is not a writable file"):
        preflight.check_store("--optuna-storage", f"journal://{tmp_path / 'optuna.journal'}")


def test_the_dashboard_gets_the_journal_else_an_older_runs_sqlite_file(tmp_path):
    assert ui._optuna_store(tmp_path) is None
    (tmp_path / "optuna.db").touch()
    assert ui._optuna_store(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'optuna.db'}"
    (tmp_path / "optuna.journal").touch()
    assert ui._optuna_store(tmp_path) == str(tmp_path.resolve() / "optuna.journal")
