"""MinHash signatures over word shingles (datasketch), stored as plain lists for JSONL. Words in any script
(shared segmentation): in Chinese and Japanese a word is a character, so a shingle is a character n-gram."""

from __future__ import annotations

from tube2lora_shared.records import MINHASH_SCHEME, MINHASH_SEED
from tube2lora_shared.segmentation import words


def shingles(text: str, size: int) -> set[bytes]:
    tokens = [w.lower() for w in words(text)]
    if len(tokens) < size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i:i + size]).encode() for i in range(len(tokens) - size + 1)}


def minhash(text: str, size: int, num_perm: int) -> list[int]:
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME)
    m.update_batch(list(shingles(text, size)))
    return [int(v) for v in m.hashvalues]
