"""A loopback media host and an RSS feed listing its files, for yt-dlp's generic extractor. A test replaces a
file between fetches (a damaged upload first, a good one later); `gets` counts the GETs per file (yt-dlp makes
two per fetch: one to look at the URL, one to download)."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeMediaHost:
    def __init__(self, files: dict[str, bytes], content_type: str = "audio/mp4"):
        self.files = files  # name -> what it serves now
        self.content_type = content_type
        self.gets: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/media/{name}"

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{name}</title><guid isPermaLink=\"false\">{name.rsplit('.', 1)[0]}</guid>"
            f"<pubDate>Mon, 02 Mar 2026 12:00:00 +0000</pubDate><itunes:duration>1:30</itunes:duration>"
            f"<enclosure url=\"{self.url(name)}\" type=\"{self.content_type}\" length=\"{len(data)}\"/></item>"
            for name, data in self.files.items())
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
                'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>Flaky host</title>'
                f"<link>{self.base_url}/</link><description>damaged uploads</description>{items}</channel></rss>\n")

    def _serve(self, name: str, get: bool) -> bytes:
        with self._lock:
            self.gets[name] += get
            return self.files[name]

    def _handler(self):
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

            def _answer(self):
                path = self.path.split("?")[0]
                if path == "/feed.xml":
                    return self._send(host.feed().encode(), "application/rss+xml")
                name = path.removeprefix("/media/")
                if name not in host.files:
                    return self.send_error(404)
                return self._send(host._serve(name, get=self.command == "GET"), host.content_type)

            do_GET = _answer
            do_HEAD = _answer

        return Handler

    def __enter__(self) -> "FakeMediaHost":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
