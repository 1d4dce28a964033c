"""A fake YouTube for youtube-transcript-api: a requests transport adapter answering the three calls
the library makes (watch page, innertube player API, timedtext XML), so the library's own parsing
and error handling run for real, offline."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import requests
from requests.adapters import BaseAdapter


@dataclass
class FakeTrack:
    language_code: str
    name: str
    lines: list[tuple[float, float, str]]  # (start, duration, text)
    generated: bool = False


@dataclass
class FakeVideo:
    tracks: list[FakeTrack] = field(default_factory=list)
    blocked: bool = False  # the watch page is a reCAPTCHA: youtube-transcript-api raises IpBlocked
    disabled: bool = False  # no caption tracks at all: TranscriptsDisabled


class FakeYouTube(BaseAdapter):
    def __init__(self, videos: dict[str, FakeVideo]):
        super().__init__()
        self.videos = videos
        self.requests: Counter[str] = Counter()

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("https://www.youtube.com/", self)
        return session

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        query = parse_qs(url.query)
        self.requests[url.path] += 1
        if url.path == "/watch":
            video = self.videos.get(query["v"][0])
            if video is not None and video.blocked:
                return self._answer(request, 200, '<html><div class="g-recaptcha"></div></html>')
            return self._answer(request, 200, '<html><script>{"INNERTUBE_API_KEY": "fakekey"}</script></html>')
        if url.path == "/youtubei/v1/player":
            video_id = json.loads(request.body)["videoId"]
            video = self.videos.get(video_id)
            if video is None:
                body = {"playabilityStatus": {"status": "ERROR", "reason": "This video is unavailable"}}
            elif video.disabled or not video.tracks:
                body = {"playabilityStatus": {"status": "OK"}}
            else:
                tracks = [{"baseUrl": f"https://www.youtube.com/api/timedtext?v={video_id}&lang={t.language_code}",
                           "name": {"runs": [{"text": t.name}]}, "languageCode": t.language_code,
                           "isTranslatable": False, **({"kind": "asr"} if t.generated else {})}
                          for t in video.tracks]
                body = {"playabilityStatus": {"status": "OK"},
                        "captions": {"playerCaptionsTracklistRenderer": {"captionTracks": tracks,
                                                                          "translationLanguages": []}}}
            return self._answer(request, 200, json.dumps(body), "application/json")
        if url.path == "/api/timedtext":
            video = self.videos[query["v"][0]]
            track = next(t for t in video.tracks if t.language_code == query["lang"][0])
            lines = "".join(f'<text start="{s}" dur="{d}">{escape(escape(text))}</text>' for s, d, text in track.lines)
            return self._answer(request, 200, f'<?xml version="1.0" encoding="utf-8" ?><transcript>{lines}</transcript>',
                                "text/xml")
        return self._answer(request, 404, "not found")

    @staticmethod
    def _answer(request, status: int, body: str, content_type: str = "text/html") -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = body.encode()
        response.headers["Content-Type"] = content_type
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self):
        pass
