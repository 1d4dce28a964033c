"""Near-duplicate videos with MinHash LSH (datasketch): candidate pairs from banded buckets, not all
pairs, then clusters by union-find; each cluster keeps its best video."""

from __future__ import annotations

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from tube2lora_shared.records import MINHASH_SCHEME, MINHASH_SEED


def clusters(signatures: dict[str, list[int]], threshold: float) -> list[list[str]]:
    """Groups (of two or more) of videos whose estimated shingle Jaccard similarity reaches threshold."""
    if not signatures:
        return []
    num_perm = len(next(iter(signatures.values())))
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes = {vid: LeanMinHash(seed=MINHASH_SEED, hashvalues=np.array(sig, dtype=np.uint64), scheme=MINHASH_SCHEME) for vid, sig in signatures.items()}
    for vid, h in hashes.items():
        lsh.insert(vid, h)
    parent = {vid: vid for vid in hashes}

    def root(v: str) -> str:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for vid, h in hashes.items():
        for other in lsh.query(h):
            if other != vid and h.jaccard(hashes[other]) >= threshold:
                parent[root(other)] = root(vid)
    groups: dict[str, list[str]] = {}
    for vid in hashes:
        groups.setdefault(root(vid), []).append(vid)
    return [group for group in groups.values() if len(group) > 1]


def similarity(a: list[int], b: list[int]) -> float:
    return float(np.mean(np.array(a, dtype=np.uint64) == np.array(b, dtype=np.uint64)))
