"""Benchmark: analyze + filter throughput on synthetic documents, and how dedup time grows with N.

    uv run python bench/filter.py [--docs 10000]

Documents: 300 words drawn from a 20,000-word vocabulary, 5% of them near-copies of another (last 10%
of words replaced). Measures, in this run: analyze's per-document work (`measure`: Mistral v3 and cl100k
tokens, words, sentences, MATTR, reading ease, language id, quality, MinHash) and filter's work (gates,
MinHash LSH clustering, boilerplate) on all documents; then the LSH dedup alone at 1,000 ... N
documents, printing time per document and the growth ratio (linear growth keeps time per document flat;
all pairs would grow it 10x from 1,000 to 10,000).
"""

from __future__ import annotations

import argparse
import random
import time

from tube2lora_analyze.config import AnalyzeConfig
from tube2lora_analyze.run import measure
from tube2lora_analyze.tokens import MistralTokens
from tube2lora_filter import boilerplate
from tube2lora_filter.config import FilterConfig
from tube2lora_filter.dedup import clusters
from tube2lora_filter.gates import failed_gate
from tube2lora_shared.records import Chunk, Normalized, Segment, Transcript, Video


def documents(n: int, seed: int = 11) -> dict[str, str]:
    rng = random.Random(seed)
    vocabulary = [f"{rng.choice('bcdfghklmnprst')}{rng.choice('aeiou')}{i}" for i in range(20000)]
    docs: dict[str, str] = {}
    for i in range(n):
        if i and rng.random() < 0.05:
            words = docs[f"doc{rng.randrange(i)}"].rstrip(".").split()
            words[-30:] = [rng.choice(vocabulary) for _ in range(30)]
        else:
            words = [rng.choice(vocabulary) for _ in range(300)]
        docs[f"doc{i}"] = " ".join(words[k] + ("." if k % 15 == 14 else "") for k in range(len(words)))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10000)
    args = parser.parse_args()
    docs = documents(args.docs)
    tokens, cfg = MistralTokens("v3"), AnalyzeConfig()
    measure(Normalized(id="warm", status="success", text="warm up text."), None, None, {}, tokens, cfg)
    start = time.perf_counter()
    profiles = {}
    for vid, text in docs.items():
        t = Transcript(id=vid, status="success", source="whisper", language="en", duration=120,
                       segments=[Segment(start=0, end=120, text=text, avg_logprob=-0.3)])
        n = Normalized(id=vid, status="success", text=text, chunks=[Chunk(index=0, start=0, end=120, source=text, text=text)])
        profiles[vid] = measure(n, t, Video(id=vid, url="x", status="success", duration=120), {"similarity": 0.9,
                                "words_ratio": 0.95}, tokens, cfg)
    analyze_s = time.perf_counter() - start
    fcfg = FilterConfig(min_language_probability=None)
    start = time.perf_counter()
    passing = [vid for vid, p in profiles.items() if failed_gate(p, fcfg, []) is None]
    groups = clusters({vid: profiles[vid].minhash for vid in passing}, fcfg.dedup_threshold)
    boilerplate.remove({vid: docs[vid] for vid in passing}, 3, 0.3, 4, 0.25)
    filter_s = time.perf_counter() - start
    print(f"{args.docs} synthetic 300-word documents ({sum(len(g) - 1 for g in groups)} near-copies found)")
    print(f"  analyze: {analyze_s:7.1f} s  {args.docs / analyze_s:8.0f} docs/s")
    print(f"  filter:  {filter_s:7.1f} s  {args.docs / filter_s:8.0f} docs/s (gates, LSH dedup, boilerplate)")
    sizes = [s for s in (1000, 2000, 5000, 10000, 20000) if s <= args.docs]
    per_doc = {}
    clusters({vid: profiles[vid].minhash for vid in list(profiles)[:200]}, fcfg.dedup_threshold)  # warm-up
    for size in sizes:
        subset = {vid: profiles[vid].minhash for vid in list(profiles)[:size]}
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            clusters(subset, fcfg.dedup_threshold)
            runs.append(time.perf_counter() - start)
        per_doc[size] = min(runs) / size
        print(f"  dedup of {size:6d}: {per_doc[size] * size:6.2f} s  {per_doc[size] * 1e6:7.1f} us/doc (best of 3)")
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        growth = per_doc[last] * last / (per_doc[first] * first)
        print(f"dedup time grew {growth:.1f}x for {last // first}x the documents (linear: {last // first}x; "
              f"all pairs: {(last // first) ** 2}x)")


if __name__ == "__main__":
    main()
