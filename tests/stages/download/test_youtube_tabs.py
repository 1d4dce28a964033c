"""A YouTube channel, played offline: the download stage against real yt-dlp, whose two YouTube extractors are
replaced by fakes that answer from a fixture shaped as the real ones answer (yt_dlp/extractor/youtube/_tab.py:
a channel URL gives a playlist of its tabs, videos, streams and shorts, each a playlist of `url` entries with
ie_key "Youtube"; a video gives its metadata and formats, here loopback media of the sample channel). Everything
else is the product's: yt-dlp's processing, the tab walk, the filters, the cache, the circuit breaker."""

from __future__ import annotations

from collections import Counter

import pytest
from test_download import outputs
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError

import tube2lora_download.run as download_run
from tube2lora_download.cli import SPEC
from tube2lora_media.ytdlp import YtDlpSource
from tube2lora_shared.lifecycle import run_stage

HOME = "https://www.youtube.com/@fenwickfixes"
CHANNEL, CHANNEL_ID = "Fenwick Fixes Bikes", "UCfenw1ckF1xesB1kes00001"
# 11-character ids, as YouTube's; each plays one of the sample channel's episodes
VIDEOS = {"chainCare01": ("Chain care without the drama", 81, "ep01-chain-care"),
          "punctureR02": ("Fixing a puncture at the roadside", 95, "ep02-puncture-roadside"),
          "brakePads03": ("Brake pads: when and how", 88, "ep03-brake-pads"),
          "gearIndex04": ("Gear indexing in five minutes", 90, "ep04-gear-indexing")}
STREAMS = {"liveQandA05": ("Sunday workshop Q&A", 3600, "ep05-tubeless-setup", "was_live"),
           "nextLive006": ("Next week's workshop", None, None, "is_upcoming"),
           "gearIndex04": ("Gear indexing in five minutes", 90, "ep04-gear-indexing", "was_live")}  # in both tabs
SHORTS = {"quickTip007": ("Quick tip: the quick release", "ep06-saddle-height"),
          "quickTip008": ("Quick tip: tyre pressure", "ep07-wheel-truing")}


class YouTubeFixture:
    """What the fakes answer, and what they were asked."""

    def __init__(self, media_base: str):
        self.media_base = media_base
        self.asked: Counter[str] = Counter()
        self.bot_check: set[str] = set()  # video ids answered with YouTube's bot check

    def entry(self, video_id: str, title: str, duration: float | None, live_status: str | None) -> dict:
        """A videos/streams tab entry as YoutubeTabIE._extract_video builds it."""
        return {"_type": "url", "ie_key": "Youtube", "id": video_id,
                "url": f"https://www.youtube.com/watch?v={video_id}",
                "title": title, "description": None, "duration": duration, "channel_id": CHANNEL_ID,
                "channel": CHANNEL, "channel_url": f"https://www.youtube.com/channel/{CHANNEL_ID}",
                "uploader": CHANNEL, "uploader_id": "@fenwickfixes", "uploader_url": HOME, "thumbnails": [],
                "timestamp": None, "release_timestamp": 1893456000 if live_status == "is_upcoming" else None,
                "availability": None, "view_count": 1234, "live_status": live_status, "channel_is_verified": None}

    def tab(self, name: str, title: str, entries: list[dict]) -> dict:
        return {"_type": "playlist", "id": CHANNEL_ID, "title": f"{CHANNEL} - {title}", "channel": CHANNEL,
                "channel_id": CHANNEL_ID, "uploader_id": "@fenwickfixes", "entries": entries,
                "webpage_url": f"{HOME}/{name}", "extractor_key": "YoutubeTab", "extractor": "youtube:tab"}

    def tabs(self) -> dict[str, dict]:
        videos = [self.entry(i, t, d, None) for i, (t, d, _) in VIDEOS.items()]
        streams = [self.entry(i, t, d, s) for i, (t, d, _, s) in STREAMS.items()]
        shorts = [{"_type": "url", "ie_key": "Youtube", "id": i, "url": f"https://www.youtube.com/shorts/{i}",
                   "title": t, "view_count": 99, "thumbnails": []}  # a shorts lockup: no duration, no channel
                  for i, (t, _) in SHORTS.items()]
        return {"videos": self.tab("videos", "Videos", videos), "streams": self.tab("streams", "Live", streams),
                "shorts": self.tab("shorts", "Shorts", shorts)}

    def video(self, ie: InfoExtractor, video_id: str) -> dict:
        self.asked[video_id] += 1
        if video_id in self.bot_check:  # the real extractor's words (raise_no_formats with the login hint)
            raise ExtractorError(f"Sign in to confirm you\u2019re not a bot. {ie._login_hint(method='cookies')}",
                                 expected=True)
        if video_id in STREAMS and STREAMS[video_id][3] == "is_upcoming":
            raise ExtractorError("This live event will begin in 7 days.", expected=True)
        known = {**STREAMS, **{i: (t, d, e, None) for i, (t, d, e) in VIDEOS.items()},  # an upload, not a stream
                 **{i: (t, 42, e, None) for i, (t, e) in SHORTS.items()}}
        title, duration, episode, live = known[video_id]
        return {"id": video_id, "title": title, "duration": duration, "channel": CHANNEL, "channel_id": CHANNEL_ID,
                "upload_date": "20260302", "live_status": live or "not_live",
                "webpage_url": f"https://www.youtube.com/watch?v={video_id}", "subtitles": {}, "automatic_captions": {},
                "formats": [{"format_id": "251", "url": f"{self.media_base}/media/{episode}.opus", "ext": "opus",
                             "acodec": "opus", "vcodec": "none", "abr": 128}]}


def fake_extractors(fixture: YouTubeFixture) -> list[InfoExtractor]:
    class FakeYoutubeTabIE(InfoExtractor):
        IE_NAME = "youtube:tab"
        _VALID_URL = r"https?://www\.youtube\.com/@fenwickfixes(?:/(?P<tab>videos|streams|shorts))?/?$"

        @classmethod
        def ie_key(cls):
            return "YoutubeTab"

        def _real_extract(self, url):
            tab = self._match_valid_url(url).group("tab")
            fixture.asked[tab or "home"] += 1
            tabs = fixture.tabs()
            if tab:
                return tabs[tab]
            # the channel's home: every uploads tab, videos first, then streams and shorts (as YoutubeTabIE orders)
            return {**fixture.tab("", "Home", [tabs["videos"], tabs["streams"], tabs["shorts"]]),
                    "title": CHANNEL, "webpage_url": HOME}

    class FakeYoutubeIE(InfoExtractor):
        IE_NAME = "youtube"
        _VALID_URL = r"https?://www\.youtube\.com/(?:watch\?v=|shorts/)(?P<id>[\w-]{11})"

        @classmethod
        def ie_key(cls):
            return "Youtube"

        def _real_extract(self, url):
            return fixture.video(self, self._match_id(url))

    return [FakeYoutubeTabIE(), FakeYoutubeIE()]


@pytest.fixture
def youtube(channel, monkeypatch):
    """The download stage's yt-dlp instances get the fake YouTube extractors in place of the real ones."""
    fixture = YouTubeFixture(channel.base_url)

    class OfflineYouTube(YtDlpSource):
        def _youtube_dl(self, params):
            ydl = super()._youtube_dl(params)
            for ie in fake_extractors(fixture):
                ydl.add_info_extractor(ie)  # same key: replaces yt-dlp's own, in its place
            return ydl

    monkeypatch.setattr(download_run, "YtDlpSource", OfflineYouTube)
    return fixture


def youtube_recipe(recipe, **download):
    return recipe(input={"urls": [HOME]}, download={"retries": 0, "attempts": 1, "backoff_s": 0, **download})


def test_channel_tabs_are_walked_once_with_shorts_and_streams_flagged(recipe, youtube, channel):
    path = youtube_recipe(recipe)
    assert run_stage(SPEC, path) == 0
    _, manifest, videos = outputs(path)
    assert youtube.asked["home"] == 1 and not any(youtube.asked[t] for t in ("videos", "streams", "shorts"))
    assert len(videos) == 8  # gearIndex04 is in the videos and the streams tab: listed once
    assert {i for i, v in videos.items() if v.status == "success"} == set(VIDEOS)
    assert {i: videos[i].reason for i in SHORTS} == {i: "short" for i in SHORTS}
    assert {i: videos[i].reason for i in ("liveQandA05", "nextLive006")} == {"liveQandA05": "live",
                                                                           "nextLive006": "live"}
    assert set(youtube.asked) - {"home"} == set(VIDEOS)  # skipped videos cost no request
    ep1 = videos["chainCare01"]
    assert (ep1.extractor, ep1.archive_id, ep1.channel) == ("Youtube", "youtube chainCare01", CHANNEL)
    assert ep1.url == "https://www.youtube.com/watch?v=chainCare01" and ep1.media_path.endswith(".opus")
    assert manifest.counts["dropped_short"] == 2 and manifest.counts["dropped_live"] == 2


def test_include_shorts_and_live_take_them_and_an_upcoming_stream_waits(recipe, youtube):
    path = youtube_recipe(recipe, include_shorts=True, include_live=True)
    assert run_stage(SPEC, path) == 0
    _, manifest, videos = outputs(path)
    assert {i for i, v in videos.items() if v.status == "success"} == {*VIDEOS, *SHORTS, "liveQandA05"}
    assert (videos["nextLive006"].status, videos["nextLive006"].reason) == ("skipped", "live")


def test_bot_checks_in_a_row_open_the_breaker(recipe, youtube, capfd):
    youtube.bot_check = {"punctureR02", "brakePads03"}
    path = youtube_recipe(recipe, breaker_after=2)
    assert run_stage(SPEC, path) == 1
    assert youtube.asked["chainCare01"] == 1 and youtube.asked["gearIndex04"] == 0  # asked no more
    message = [line for line in capfd.readouterr().err.splitlines() if " ERROR " in line]
    assert len(message) == 1 and "bot check" in message[0] and "1 video(s) left unasked" in message[0]

    youtube.bot_check.clear()
    youtube.asked.clear()
    assert run_stage(SPEC, path) == 0
    assert youtube.asked["chainCare01"] == 0 and youtube.asked["gearIndex04"] == 1


def test_deno_runs_here_and_yt_dlp_takes_it_with_the_packaged_solver_scripts():
    """The locked deno binary runs on this CPU, yt-dlp's own detection accepts it, the yt-dlp-ejs scripts are
    the ones this yt-dlp trusts (same version, same hashes), and deno runs them the way yt-dlp does."""
    import hashlib
    import subprocess

    import yt_dlp
    import yt_dlp_ejs.yt.solver
    from yt_dlp.extractor.youtube.jsc._builtin import vendor
    from yt_dlp.extractor.youtube.jsc._builtin.deno import DenoJCP

    from tube2lora_media.jsruntime import js_runtime

    runtime = js_runtime()
    assert runtime is not None, "deno or yt-dlp-ejs missing: run `make sync`"
    assert subprocess.run([runtime.path, "eval", "console.log(6 * 7)"], capture_output=True, text=True,
                          timeout=60).stdout.strip() == "42"
    with yt_dlp.YoutubeDL({"quiet": True, "js_runtimes": runtime.params()}) as ydl:
        info = ydl._js_runtimes["deno"].info  # what yt-dlp's challenge providers will use
    assert (info.path, info.version, info.supported) == (runtime.path, runtime.version, True)
    assert runtime.describe() == f"deno {runtime.version} with yt-dlp-ejs {yt_dlp_ejs.version}"

    lib, core = yt_dlp_ejs.yt.solver.lib(), yt_dlp_ejs.yt.solver.core()
    assert yt_dlp_ejs.version.split(".")[:2] == vendor.VERSION.split(".")[:2]
    assert hashlib.sha3_512(lib.encode()).hexdigest() == vendor.HASHES["yt.solver.lib.min.js"]
    assert hashlib.sha3_512(core.encode()).hexdigest() == vendor.HASHES["yt.solver.core.min.js"]
    script = f"{lib}\nObject.assign(globalThis, lib);\n{core}\nconsole.log(typeof jsc);\n"
    solved = subprocess.run([runtime.path, "run", *DenoJCP._DENO_BASE_OPTIONS, "--no-npm", "-"], input=script,
                            capture_output=True, text=True, timeout=60)
    assert solved.stdout.strip() == "function", solved.stderr
