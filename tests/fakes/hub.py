"""A fake Hugging Face Hub on a loopback port: the endpoints huggingface_hub calls to create a repository and
commit small files (create, validate-yaml for a README.md's metadata, preupload, commit), so the library's own requests and payloads run for real, offline.
Every file is answered "regular" at preupload (sent inline in the commit, no LFS or Xet storage); the commits land in
`repos[repo_id]` as {path: bytes}. Any other request is answered 404 and kept in `unexpected`."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml


class FakeHub:
    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, dict[str, bytes]] = {}
        self.private: dict[str, bool] = {}
        self.commits: list[tuple[str, str]] = []  # (repo id, summary)
        self.unexpected: list[str] = []
        self.validated: list[str] = []  # README.md texts whose metadata was checked
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/api/agent-harnesses":  # huggingface_hub's best-effort user-agent registry: none here
                    hub.unexpected.append(f"GET {self.path}")
                self._answer(404, {"error": "not in the fake"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self._answer(401, {"error": "Invalid credentials in Authorization header"})
                path = self.path.split("?")[0]
                if path == "/api/validate-yaml":  # a model card's front matter must be YAML, as on the Hub
                    content = json.loads(body)["content"]
                    hub.validated.append(content)
                    try:
                        parts = content.split("---\n")
                        assert content.startswith("---\n") and isinstance(yaml.safe_load(parts[1]), dict)
                    except (AssertionError, IndexError, yaml.YAMLError):
                        return self._answer(400, {"errors": [{"message": "README.md has no YAML metadata block"}]})
                    return self._answer(200, {"warnings": []})
                if path == "/api/repos/create":
                    request = json.loads(body)
                    repo = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
                    if repo in hub.repos:
                        return self._answer(409, {"error": "You already created this model repo", "url": hub.url(repo)})
                    hub.repos[repo], hub.private[repo] = {}, request.get("private") or request.get("visibility") == "private"
                    return self._answer(200, {"url": hub.url(repo), "name": repo})
                found = re.fullmatch(r"/api/models/(.+)/(preupload|commit)/([^/]+)", path)
                if not found or found[1] not in hub.repos:
                    hub.unexpected.append(f"POST {self.path}")
                    return self._answer(404, {"error": "Repository not found"})
                repo = found[1]
                if found[2] == "preupload":
                    files = json.loads(body)["files"]
                    return self._answer(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                         "oid": None} for f in files]})
                summary = ""
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        summary = item["value"]["summary"]
                    elif item["key"] == "file":
                        hub.repos[repo][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    else:
                        hub.unexpected.append(f"commit item {item['key']}")
                hub.commits.append((repo, summary))
                oid = f"{len(hub.commits):040x}"
                return self._answer(200, {"commitUrl": f"{hub.url(repo)}/commit/{oid}", "commitOid": oid})

            def _answer(self, status: int, document: dict):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"

    def url(self, repo: str) -> str:
        return f"{self.endpoint}/{repo}"

    def __enter__(self) -> "FakeHub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
