"""`download.media: auto`: no audio for videos whose acceptable captions yt-dlp already reported."""

from __future__ import annotations

from pathlib import Path

from tube2lora_download.config import DownloadConfig
from tube2lora_download.run import Downloader
from tube2lora_media.candidate import Candidate
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageSpec, run_stage
from tube2lora_shared.records import Video
from tube2lora_shared.rundir import RunDir


class FakeVideoSource:
    """Lists two YouTube videos, one with creator-made English captions; counts downloads."""

    def __init__(self, media: Path):
        self.media, self.downloads = media, []

    def list(self, url):
        for vid, subs in (("withCaps001", {"en-US": [{}]}), ("noCaptions1", {})):
            info = {"id": vid, "title": vid, "duration": 300, "extractor_key": "Youtube", "subtitles": subs,
                    "automatic_captions": {"en": [{}]}, "webpage_url": f"https://www.youtube.com/watch?v={vid}"}
            yield Candidate(url=info["webpage_url"], entry=info, extracted=False).with_info(info, f"youtube {vid}")

    def extract(self, candidate):
        return candidate.entry, candidate.archive_id

    def download(self, info, dest):
        self.downloads.append(info["id"])
        target = dest / "media.opus"
        target.write_bytes(self.media.read_bytes())
        return target


def run_with(recipe_path, source):
    spec = StageSpec(name="download", package="tube2lora-download", section=DownloadConfig,
                     run=lambda ctx: Downloader(ctx, source, "testvariant").run(["https://www.youtube.com/@x"]))
    assert run_stage(spec, recipe_path) == 0
    stage = RunDir.for_config(load_config(recipe_path)).stage_dir("download")
    return {v.id: v for v in read_jsonl(stage / "videos.jsonl", Video)}


def test_media_auto_skips_audio_for_captioned_videos(recipe, sample_channel):
    source = FakeVideoSource(sample_channel.media_dir / "short01-quick-tip.opus")
    videos = run_with(recipe(download={"media": "auto"}), source)
    assert source.downloads == ["noCaptions1"]
    assert videos["withCaps001"].media_path is None and videos["withCaps001"].status == "success"
    assert videos["withCaps001"].caption_languages.manual == ["en-US"]
    assert videos["noCaptions1"].media_path == "artifacts/download/noCaptions1.opus"

    # automatic captions count only when allowed
    source = FakeVideoSource(sample_channel.media_dir / "short01-quick-tip.opus")
    videos = run_with(recipe("other.yaml", download={"media": "auto", "auto_captions_ok": True}), source)
    assert source.downloads == [] and videos["withCaps001"].media_path is None

    # switching to audio later downloads only what was never fetched
    source = FakeVideoSource(sample_channel.media_dir / "short01-quick-tip.opus")
    videos = run_with(recipe("audio.yaml", download={"media": "audio"}), source)
    assert source.downloads == ["withCaps001"]
    assert videos["noCaptions1"].status == "cached"
