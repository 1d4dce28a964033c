"""The stage graph: each stage package declares itself once, and Make, the image tools, the config
loader and the CLI all read that one declaration."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
from harness import REPO

from tube2lora_shared.config import load_config
from tube2lora_shared.errors import UsageError
from tube2lora_shared.pipeline import IMAGE_STAGE_ENV, downstream_of, make_include, stages, topological_order


def test_every_stage_package_declares_itself_and_the_graph_is_ordered():
    packages = sorted(p.parent.name for p in (REPO / "stages").glob("*/pyproject.toml"))
    graph = stages()
    assert sorted(graph) == packages
    for position, (name, spec) in enumerate(graph.items()):
        pyproject = tomllib.loads((REPO / "stages" / name / "pyproject.toml").read_text())
        assert pyproject["project"]["entry-points"]["tube2lora.stages"] == {name: f"tube2lora_{name}.cli:SPEC"}
        assert spec.package == pyproject["project"]["name"] == f"tube2lora-{name}"
        assert spec.description and set(spec.upstream) <= set(list(graph)[:position])  # reads only earlier stages
    assert list(graph)[0] == "download" and graph["download"].upstream == ()
    assert {n for n, s in graph.items() if s.llm} == {"normalize", "generate", "evaluate"}
    assert {n for n, s in graph.items() if s.gpu} == {"transcribe", "train", "evaluate"}


def test_reading_the_graph_imports_no_stage_library():
    code = ("import sys; from tube2lora_shared.pipeline import stages; stages(); "
            "print(sorted(m for m in ('torch', 'transformers', 'yt_dlp', 'datasketch', 'faster_whisper') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_order_follows_upstream_tuples_and_a_branch_off_an_earlier_stage():
    graph = {"train": ["generate"], "export": ["train"], "generate": [], "evaluate": ["train", "generate"]}
    assert topological_order(graph) == ["generate", "train", "evaluate", "export"]
    with pytest.raises(UsageError, match="cycle among a, b"):
        topological_order({"a": ["b"], "b": ["a"], "c": []})


def test_downstream_follows_every_path():
    assert downstream_of("filter") == ("generate", "train", "evaluate", "export")
    assert downstream_of("train") == ("evaluate", "export")  # export hangs off train, not after evaluate
    assert downstream_of("transcribe") == tuple(list(stages())[2:])  # analyze reads transcribe directly too
    assert downstream_of("evaluate") == ()


def test_make_include_is_what_the_makefile_reads():
    text = make_include()
    assert f"STAGES := {' '.join(stages())}" in text
    assert "UPSTREAM_analyze := normalize transcribe download" in text
    assert re.search(r"^LLM_STAGES := normalize generate evaluate$", text, re.M)
    result = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "-n", "analyze",
                             "CONFIG=configs/sample.yaml"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # analyze's prerequisites are every stage it reads: all three run before it, in order
    ran = [m.group(1) for m in re.finditer(r"tube2lora-(\w+) --config", result.stdout)]
    assert ran == ["download", "transcribe", "normalize", "analyze"]
    assert (REPO / ".make" / "stages.mk").read_text() == text
    help_text = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "help"],
                               capture_output=True, text=True, timeout=120).stdout
    for name, spec in stages().items():
        assert re.search(rf"^  {name} +{re.escape(spec.description)}", help_text, re.M), name


def test_stage_names_are_written_down_once():
    """No product file or test spells out the pipeline again: they read the graph."""
    listed = re.compile(r"download\W+transcribe\W+normalize|normalize\W+generate\W+evaluate|"
                        r"transcribe\W+train\W+evaluate")
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "Makefile", "*.py", "*.mk", "docker/*Dockerfile"],
                           capture_output=True, text=True, check=True).stdout.split()
    offenders = [f"{name}:{number}" for name in files
                 for number, line in enumerate((REPO / name).read_text().splitlines(), start=1)
                 if listed.search(line) and "test_pipeline.py" not in name]
    assert offenders == []


def test_unknown_sections_are_refused_except_inside_a_stage_image(tmp_path, monkeypatch):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("trian:\n  lora_r: 8\n")
    with pytest.raises(UsageError, match="trian: unknown section; expected one of pipeline, paths, input, llm, download"):
        load_config(recipe)
    monkeypatch.setenv(IMAGE_STAGE_ENV, "download")  # an image holds one stage: others' sections pass unchecked
    assert load_config(recipe).data["trian"] == {"lora_r": 8}
