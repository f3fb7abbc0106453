#!/usr/bin/env python3
"""A small Hugging Face Hub look-alike for aigis's remote-scanning tests (loopback only).

Serves every folder ROOT/<org>/<name>/ as the model repository `org/name`, with the parts of the
Hub API aigis uses (shapes as documented for huggingface.co):

  GET  /api/models/{org}/{name}/revision/{rev}  -> {"id", "sha", "siblings": [{"rfilename"}]}
  GET  /api/models/{org}/{name}/tree/{rev}      -> [{"type": "file", "path", "size"}]
  HEAD|GET /{org}/{name}/resolve/{rev}/{path}   -> 302 to /cdn/... like the Hub does for LFS files
  HEAD|GET /cdn/{org}/{name}/{path}             -> the bytes, with single-range `Range` support

The revision must be `main` or the repository's fixed commit id. With `--token T`, every request
must carry `Authorization: Bearer T` (401 otherwise), as gated/private repositories do.
Usage: hf_hub_server.py --port PORT --root DIR [--token T]
"""

import argparse
import hashlib
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def repo_files(repo_dir):
    files = []
    for base, _dirs, names in os.walk(repo_dir):
        for name in names:
            full = os.path.join(base, name)
            files.append(os.path.relpath(full, repo_dir).replace(os.sep, "/"))
    return sorted(files)


class Handler(BaseHTTPRequestHandler):
    root = "."
    token = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, value):
        self.send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def repo_dir(self, org, name):
        path = os.path.realpath(os.path.join(self.root, org, name))
        if not path.startswith(os.path.realpath(self.root) + os.sep) or not os.path.isdir(path):
            return None
        return path

    def handle_any(self):
        if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
            return self.send(401, b'{"error":"Invalid credentials"}')
        path = unquote(urlsplit(self.path).path)
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/(revision|tree)/([^/]+)(?:/.*)?", path)
        if m:
            org, name, kind, rev = m.groups()
            repo = self.repo_dir(org, name)
            if repo is None or rev not in ("main", COMMIT):
                return self.send(404, b'{"error":"Repository not found"}')
            files = repo_files(repo)
            if kind == "revision":
                return self.json({"id": f"{org}/{name}", "modelId": f"{org}/{name}", "sha": COMMIT,
                                  "siblings": [{"rfilename": f} for f in files]})
            return self.json([{"type": "file", "path": f,
                               "size": os.path.getsize(os.path.join(repo, f))} for f in files])
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            org, name, rev, file = m.groups()
            if self.repo_dir(org, name) is None or rev not in ("main", COMMIT):
                return self.send(404, b"Entry not found")
            return self.send(302, b"", {"Location": f"/cdn/{org}/{name}/{file}"})
        m = re.fullmatch(r"/cdn/([^/]+)/([^/]+)/(.+)", path)
        if m:
            org, name, file = m.groups()
            repo = self.repo_dir(org, name)
            full = os.path.realpath(os.path.join(repo or "/nonexistent", file))
            if repo is None or not full.startswith(repo + os.sep) or not os.path.isfile(full):
                return self.send(404, b"Entry not found")
            return self.serve_file(full)
        return self.send(404, b"not found")

    def serve_file(self, full):
        size = os.path.getsize(full)
        etag = '"' + hashlib.sha256(full.encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Accept-Ranges": "bytes",
                   "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
                   "Content-Type": "application/octet-stream"}
        rng = self.headers.get("Range")
        with open(full, "rb") as f:
            if rng:
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
                if not m or (m.group(1) == "" and m.group(2) == ""):
                    return self.send(416, b"", {"Content-Range": f"bytes */{size}"})
                if m.group(1) == "":
                    start, end = max(0, size - int(m.group(2))), size - 1
                else:
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                if start >= size or start > end:
                    return self.send(416, b"", {"Content-Range": f"bytes */{size}"})
                f.seek(start)
                body = f.read(end - start + 1) if self.command != "HEAD" else b""
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                if self.command == "HEAD":
                    self.send_response(206)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(end - start + 1))
                    return self.end_headers()
                return self.send(206, body, headers)
            if self.command == "HEAD":
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(size))
                return self.end_headers()
            return self.send(200, f.read(), headers)

    do_GET = handle_any
    do_HEAD = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--token")
    args = parser.parse_args()
    Handler.root = os.path.realpath(args.root)
    Handler.token = args.token
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
