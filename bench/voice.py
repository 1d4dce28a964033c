"""Benchmark: which training data makes the adapter sound like the creator (issue 13), on the demo's models.

    uv run python bench/voice.py [--steps 48]

Four recipes, identical but for `train.mix` (same data, steps, seed, split):
  A  talk_as_creator only      answers an LLM wrote "in the creator's style" (the old default)
  B  own_words only            the creator's real passages as answers to LLM-written questions
  C  own_words + monologue     B plus the passages as plain text, loss on every token (the default)
  D  monologue only            the passages as plain text
Each runs the real chain through Make (`make evaluate`) on the sample channel with llama.cpp + SmolLM2
(`make llm-server` first), like `make demo`: the recipes share one cache (the demo's), so download,
transcribe, normalize and generate run once and only train and evaluate run per recipe. Printed per
recipe, as ratios to the base model measured in the same run: held-out transcript perplexity, the real
held-out answers' perplexity, the answers' signature-phrase ratio, copied share, Burrows' Delta,
identical answers, repetition; and each generator's yield. Targets: C (or better) <= 0.70x base on
held-out transcripts, its phrase ratio within 0.5..2, own_words' yield >= 70%.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from tube2lora_shared.config import load_config
from tube2lora_shared.documents import DatasetManifest, Evaluation, TrainingMetrics
from tube2lora_shared.rundir import RunDir

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "configs" / "demo.yaml"
RECIPES = {
    "A": ("talk_as_creator only", {"talk_as_creator": 1}),
    "B": ("own_words only", {"own_words": 1}),
    "C": ("own_words + monologue", {"own_words": 1, "monologue": 1}),
    "D": ("monologue only", {"monologue": 1}),
}


def recipe(folder: Path, name: str, mix: dict, steps: int) -> Path:
    """The demo recipe with this mix; talk_as_creator is generated for every recipe (A trains on it), so
    all four share generate's answers through the cache."""
    data = yaml.safe_load(DEMO.read_text())
    data["pipeline"]["run_name"] = f"voice-{name}"
    data["paths"] = {"runs_dir": str(REPO / "runs"), "cache_dir": str(REPO / "runs" / ".cache")}
    data = _absolute_files(data)
    data["generate"]["talk_as_creator"]["enabled"] = True
    data["train"]["mix"] = mix
    data["train"]["max_steps"] = steps
    path = folder / f"voice-{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _absolute_files(node):
    """Every `*_file` value resolved against the demo recipe's folder (the copy lives elsewhere)."""
    if isinstance(node, dict):
        return {k: str((DEMO.parent / v).resolve()) if k.endswith("_file") and isinstance(v, str) else _absolute_files(v)
                for k, v in node.items()}
    return node


def ratio(pair: dict | None) -> str:
    if not pair or not pair.get("base") or pair.get("adapter") is None:
        return "n/a"
    return f"{pair['adapter'] / pair['base']:.2f}x ({pair['base']:.1f} -> {pair['adapter']:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=48, help="train.max_steps of every recipe (the demo's)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="tube2lora-voice-") as tmp:
        for name, (label, mix) in RECIPES.items():
            path = recipe(Path(tmp), name, mix, args.steps)
            print(f"== {name}: {label} (train.mix {mix})", flush=True)
            done = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "evaluate", f"CONFIG={path}"])
            if done.returncode != 0:
                print(f"recipe {name} failed (exit {done.returncode}); see its run's logs/pipeline.log", file=sys.stderr)
                return 1
            run = RunDir.for_config(load_config(path))
            results[name] = (Evaluation.read(run.stage_dir("evaluate")), TrainingMetrics.read(run.stage_dir("train")),
                             DatasetManifest.read(run.stage_dir("generate")))

    print("\nheld-out results per recipe (adapter / base, same split, same steps, seed)")
    print(f"{'recipe':<28} {'transcripts':<26} {'real answers':<26} phrases   copied  delta(base->adapter)  identical  looping")
    for name, (evaluation, metrics, _) in results.items():
        voice = evaluation.voice or {}
        phrases = (voice.get("phrases") or {}).get("adapter") or {}
        delta = voice.get("delta") or {}
        same = voice.get("identical") or {}
        shown_phrases = f"{phrases['ratio']:.2f}x" if phrases.get("ratio") is not None else "n/a"
        print(f"{name} {RECIPES[name][0]:<26} {ratio(evaluation.perplexity.get('transcripts')):<26} "
              f"{ratio(evaluation.perplexity.get('answers')):<26} {shown_phrases:<9} "
              f"{(voice.get('copied') or {}).get('adapter', 'n/a')!s:<7} "
              f"{delta.get('base', 'n/a')!s} -> {delta.get('adapter', 'n/a')!s:<8} "
              f"{same.get('count', '?')}/{same.get('of', '?'):<8} "
              f"{((voice.get('repetition') or {}).get('adapter') or {}).get('looping', 'n/a')}"
              f"   (best step {metrics.best_step}, {metrics.train_examples} rows)")
    datasets = results["C"][2]
    print("\ngenerator yields (one generate run shared by all recipes)")
    for generator, counts in datasets.generators.items():
        share = f"{counts.accepted / counts.attempted:.0%}" if counts.attempted else "n/a"
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(counts.rejected.items(), key=lambda kv: -kv[1]))
        print(f"  {generator:<18} {counts.accepted} of {counts.attempted} ({share})" + (f"; rejected: {rejected}" if rejected else ""))

    c = results["C"][0]
    transcripts = c.perplexity.get("transcripts") or {}
    met = transcripts.get("base") and transcripts.get("adapter") is not None
    c_ratio = transcripts["adapter"] / transcripts["base"] if met else None
    phrases = ((c.voice or {}).get("phrases") or {}).get("adapter", {}).get("ratio")
    own = datasets.generators.get("own_words")
    own_yield = own.accepted / own.attempted if own and own.attempted else None
    print("\ntargets")
    print(f"  C held-out transcripts <= 0.70x base: {f'{c_ratio:.2f}x' if c_ratio else 'n/a'} "
          f"({'met' if c_ratio and c_ratio <= 0.70 else 'not met'})")
    print(f"  C signature-phrase ratio within 0.5..2: {f'{phrases:.2f}x' if phrases is not None else 'n/a'} "
          f"({'met' if phrases is not None and 0.5 <= phrases <= 2 else 'not met'})")
    print(f"  own_words yield >= 70%: {f'{own_yield:.0%}' if own_yield is not None else 'n/a'} "
          f"({'met' if own_yield is not None and own_yield >= 0.7 else 'not met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
