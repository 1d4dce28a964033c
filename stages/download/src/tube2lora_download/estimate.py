"""What `tube2lora estimate` forecasts of download: the videos it will fetch and how long each is.

Finished: the videos it fetched (`videos.jsonl`, with their media durations). Before: the sources listed flat
(a few requests, no media), with the same selection the stage makes (shorts, live, titles, dates, max_videos);
a listing that gives no duration (a plain feed) gets DEFAULT_SECONDS, said as an assumption; sources that
cannot be listed at all count as download.max_videos videos of DEFAULT_SECONDS when it is set (else: an error). Videos that will
then fail (private, removed) are counted too: the listing cannot tell them.
"""

from __future__ import annotations

from tube2lora_shared.errors import StageError
from tube2lora_shared.estimate import EstimateContext
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.records import Video

from tube2lora_media.candidate import Candidate
from tube2lora_media.mediacache import archive_path, variant_of
from tube2lora_media.ytdlp import ListingError, YtDlpSource

from .config import DownloadConfig
from .selection import iso_day, skip_reason

DEFAULT_SECONDS = 600.0  # a video whose listing has no duration: ten minutes


def forecast(ectx: EstimateContext) -> None:
    finished = ectx.finished()
    if finished:
        videos = [v for v in read_jsonl(finished / "videos.jsonl", Video) if v.status in ("success", "cached")]
        ectx.assume(f"{len(videos)} video(s) fetched, durations from videos.jsonl")
    else:
        videos = _listed(ectx)
    ectx.forecast.videos = videos


def _listed(ectx: EstimateContext) -> list[Video]:
    cfg: DownloadConfig = ectx.section
    settings = cfg.fetch_settings()
    source = YtDlpSource(settings, cfg.media_kind(), archive_path(ectx.cache, variant_of(settings, cfg.media_kind())),
                         ectx.log, ectx.config.input.cookies_file(), ectx.config.input.proxy())
    urls = ectx.config.input.source_urls()
    found: dict[str, Candidate] = {}
    errors = []
    for url in urls:
        for item in source.list(url):
            if isinstance(item, ListingError):
                errors.append(f"{item.url}: {item.message}")
            else:
                found.setdefault(item.archive_id or item.url, item)
    if not found and errors and cfg.max_videos:
        ectx.assume(f"the sources could not be listed ({errors[0]}): download.max_videos ({cfg.max_videos}) "
                    f"videos of {DEFAULT_SECONDS:.0f} s assumed")
        return [Video(id=f"video-{i}", url=urls[0], duration=DEFAULT_SECONDS, status="success")
                for i in range(cfg.max_videos)]
    if not found and errors:
        raise StageError(f"could not list the sources in input ({errors[0]}); the estimate needs the listing "
                         "(check the URLs and the network) or download's videos.jsonl (`make download`)")
    chosen = [c for c in found.values() if skip_reason(c, cfg) is None][: cfg.max_videos or None]
    missing = sum(c.duration is None for c in chosen)
    ectx.assume(f"{len(chosen)} video(s) of {len(found)} listed from {len(urls)} source(s) would be fetched "
                "(all counted as fetched: the listing cannot tell which will fail)"
                + (f"; {len(errors)} listing error(s)" if errors else ""))
    if missing:
        ectx.assume(f"{missing} listed video(s) without a duration: {DEFAULT_SECONDS:.0f} s each assumed")
    return [Video(id=c.safe_id, title=c.title, url=c.url, channel=c.channel, upload_date=iso_day(c.upload_date),
                  duration=c.duration if c.duration is not None else DEFAULT_SECONDS, status="success")
            for c in chosen]
