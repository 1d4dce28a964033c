from pathlib import Path

import pytest
from pydantic import Field

from tube2lora_shared.config import Section, load_config
from tube2lora_shared.errors import UsageError


class TrainLike(Section):
    learning_rate: float = 2e-4
    lora_r: int = Field(16, ge=1)


def test_unknown_section_is_named(recipe):
    with pytest.raises(UsageError, match=r"^trian: unknown section; expected one of"):
        load_config(recipe(trian={"lora_r": 8}))


def test_unknown_key_names_its_path(recipe):
    with pytest.raises(UsageError, match=r"^pipeline\.continue_on_eror: unknown key$"):
        load_config(recipe(pipeline={"continue_on_eror": True}))
    cfg = load_config(recipe(train={"lora_rank": 8}))
    with pytest.raises(UsageError, match=r"^train\.lora_rank: unknown key$"):
        cfg.section("train", TrainLike)


def test_types_and_ranges_are_checked(recipe):
    with pytest.raises(UsageError, match=r"pipeline\.max_failure_rate: Input should be less than or equal to 1"):
        load_config(recipe(pipeline={"max_failure_rate": 1.5}))
    with pytest.raises(UsageError, match=r"pipeline\.continue_on_error: Input should be a valid boolean"):
        load_config(recipe(pipeline={"continue_on_error": "sometimes"}))
    cfg = load_config(recipe(train={"lora_r": 0}))
    with pytest.raises(UsageError, match=r"train\.lora_r: Input should be greater than or equal to 1"):
        cfg.section("train", TrainLike)


def test_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  learning_rate: 1e-4\n")
    cfg = load_config(path)
    assert cfg.data["train"]["learning_rate"] == pytest.approx(1e-4)
    assert isinstance(cfg.data["train"]["learning_rate"], float)
    assert cfg.section("train", TrainLike).learning_rate == pytest.approx(1e-4)


def test_relative_paths_resolve_against_the_config_directory(tmp_path, monkeypatch):
    conf = tmp_path / "configs"
    conf.mkdir()
    (conf / "urls.txt").write_text("# my channel\n\nhttps://www.youtube.com/@someone\n  \n")
    path = conf / "r.yaml"
    path.write_text("paths:\n  runs_dir: ../runs\n  cache_dir: cache\ninput:\n  url_file: urls.txt\n")
    monkeypatch.chdir(Path("/"))
    cfg = load_config(path)
    assert cfg.runs_dir == (tmp_path / "runs").resolve()
    assert cfg.cache_dir == (conf / "cache").resolve()
    assert cfg.input.url_file == (conf / "urls.txt").resolve()
    assert cfg.input.source_urls() == ["https://www.youtube.com/@someone"]


def test_default_cache_lives_in_the_runs_dir(recipe):
    cfg = load_config(recipe())
    assert cfg.cache_dir == cfg.runs_dir / ".cache"


def test_missing_url_file_is_named(recipe):
    with pytest.raises(UsageError, match=r"^input\.url_file: file 'nope\.txt' not found"):
        load_config(recipe(input={"url_file": "nope.txt"}))


def test_unsupported_urls_are_rejected(recipe, tmp_path):
    with pytest.raises(UsageError, match=r"input\.urls\.0: unsupported URL 'ftp://x/y'"):
        load_config(recipe(input={"urls": ["ftp://x/y"]}))
    (tmp_path / "urls.txt").write_text("https://ok.example/v\nnot a url\n")
    with pytest.raises(UsageError, match=r"urls\.txt:2: unsupported URL 'not a url'"):
        load_config(recipe(input={"url_file": "urls.txt"}))


@pytest.mark.parametrize("name", ["../escape", "a/b", "x..y", ".hidden"])
def test_run_names_cannot_escape_the_runs_dir(recipe, name):
    with pytest.raises(UsageError, match=r"^pipeline\.run_name: must be letters"):
        load_config(recipe(pipeline={"run_name": name}))


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("pipeline:\n  run_name: [oops\n")
    with pytest.raises(UsageError, match=r"r\.yaml line \d+: .*fix the YAML syntax"):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(UsageError, match="not found; pass --config"):
        load_config(tmp_path / "absent.yaml")
