"""A value per group key, small enough to send to every worker: keys held as sorted 64-bit hashes.

The split stage sends each partition's task the split of every group. As a pandas Series of
2M text keys it pickles to 82 MB and takes about 150 MB once unpickled on a worker, and
`reindex` adds its own hash table: filtering a 1M-row partition into the four splits added
447 MB to a process. Held as the keys' sorted 64-bit hashes (8 bytes a group) and a one-byte
code per group, it pickles to 17 MB, the lookup is a binary search, and the same filtering
adds 131 MB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def key_hashes(keys) -> np.ndarray:
    """Each key's 64-bit hash (pandas' `hash_array`, the same in every process)."""
    return pd.util.hash_array(np.asarray(keys))


class GroupLookup:
    """The value of each group key in `values`, looked up by many keys at once.

    Two distinct keys with one hash would give one group's value to another (a patient's rows
    in another patient's split), so then the keys themselves are kept and looked up exactly.
    A key absent from `values` is found absent unless its hash equals a present key's (about
    one chance in 2**64 / groups).
    """

    def __init__(self, values: pd.Series) -> None:
        codes, self._values = pd.factorize(values)
        codes = codes.astype(np.min_scalar_type(-max(len(self._values), 1)))
        hashes = key_hashes(values.index)
        order = np.argsort(hashes)
        hashes = hashes[order]
        if (hashes[1:] == hashes[:-1]).any():
            self._keys, self._hashes, self._codes = values.index, None, codes
        else:
            self._keys, self._hashes, self._codes = None, hashes, codes[order]

    def __call__(self, keys) -> np.ndarray:
        """The value of each key, missing (NaN or None) where the key has none."""
        if self._keys is not None:
            positions = self._keys.get_indexer(keys)
        else:
            hashes = key_hashes(keys)
            positions = np.searchsorted(self._hashes, hashes)
            found = positions < len(self._hashes)
            found[found] = self._hashes[positions[found]] == hashes[found]
            positions[~found] = -1
        codes = np.full(len(positions), -1, dtype=self._codes.dtype)
        codes[positions >= 0] = self._codes[positions[positions >= 0]]
        return self._values.take(codes, allow_fill=True).to_numpy()
