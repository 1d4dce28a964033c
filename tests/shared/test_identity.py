import shutil

from tube2lora_shared.config import load_config
from tube2lora_shared.identity import run_id, section_hash

RECIPE = """\
# the sample recipe
pipeline:
  run_name: demo
input:
  url_file: urls.txt   # one URL per line
download:
  media: audio
  max_videos: 5
"""


def make(directory, text=RECIPE, urls="https://www.youtube.com/@someone\n"):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "urls.txt").write_text(urls)
    (directory / "r.yaml").write_text(text)
    return load_config(directory / "r.yaml")


def test_same_content_same_id_regardless_of_comments_order_or_checkout(tmp_path):
    first = run_id(make(tmp_path / "a"))
    reformatted = "download:\n  max_videos: 5\n  media:    audio\ninput: {url_file: urls.txt}\npipeline:\n  run_name: demo\n"
    assert run_id(make(tmp_path / "b", reformatted)) == first
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "checkout")
    assert run_id(load_config(tmp_path / "elsewhere" / "checkout" / "r.yaml")) == first
    assert first.startswith("demo-") and len(first) == len("demo-") + 12


def test_where_runs_live_is_not_part_of_the_identity(tmp_path):
    base = run_id(make(tmp_path / "a"))
    moved = RECIPE + "paths:\n  runs_dir: /somewhere/else\n  cache_dir: /tmp/c\n"
    assert run_id(make(tmp_path / "b", moved)) == base


def test_any_content_change_gives_a_new_id(tmp_path):
    base = run_id(make(tmp_path / "a"))
    assert run_id(make(tmp_path / "b", RECIPE.replace("max_videos: 5", "max_videos: 6"))) != base
    assert run_id(make(tmp_path / "c", urls="https://www.youtube.com/@other\n")) != base


def test_prefix_defaults_to_the_file_name(tmp_path):
    (tmp_path / "my channel.yaml").write_text("download: {media: none}\n")
    assert run_id(load_config(tmp_path / "my channel.yaml")).startswith("my-channel-")


def test_a_changed_prompt_file_gives_a_new_id(tmp_path):
    (tmp_path / "talk.yaml").write_text("system: You are the creator.\n")
    (tmp_path / "r.yaml").write_text("generate:\n  prompt_file: talk.yaml\n")
    before = run_id(load_config(tmp_path / "r.yaml"))
    (tmp_path / "talk.yaml").write_text("system: You are the creator, briefly.\n")
    assert run_id(load_config(tmp_path / "r.yaml")) != before


def test_how_patiently_the_llm_is_asked_is_not_part_of_the_identity(tmp_path):
    llm = "llm:\n  model: m\n  concurrency: 8\n  timeout_s: 120\n  max_attempts: 4\n  backoff_s: 1\n  max_backoff_s: 60\n"
    base = make(tmp_path / "a", RECIPE + llm)
    patient = make(tmp_path / "b", RECIPE + "llm:\n  model: m\n  concurrency: 1\n  timeout_s: 600\n  max_attempts: 9\n"
                   "  backoff_s: 5\n  max_backoff_s: 300\n")
    assert run_id(patient) == run_id(base) == run_id(make(tmp_path / "c", RECIPE + "llm:\n  model: m\n"))
    assert section_hash(patient, ("normalize", "llm")) == section_hash(base, ("normalize", "llm"))
    assert run_id(make(tmp_path / "d", RECIPE + llm.replace("model: m", "model: other"))) != run_id(base)


def test_which_interpreter_runs_llama_cpp_is_not_part_of_the_identity(tmp_path):
    base = make(tmp_path / "a", RECIPE + "export:\n  merged: false\n")
    elsewhere = make(tmp_path / "b", RECIPE + "export:\n  merged: false\n  llama_cpp_python: /opt/llama/bin/python\n")
    assert run_id(elsewhere) == run_id(base)
    assert section_hash(elsewhere, ("export",)) == section_hash(base, ("export",))
    assert run_id(make(tmp_path / "c", RECIPE + "export:\n  merged: true\n")) != run_id(base)
