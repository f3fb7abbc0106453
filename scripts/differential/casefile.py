"""The case file every loader differential writes: gzip (mtime 0), one JSON case per line."""
import gzip
import io
import json
import os


def write_cases(path, cases):
    """Writes `cases` to `path` reproducibly: sorted keys, gzip with no timestamp."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for case in cases:
            gz.write((json.dumps(case, sort_keys=True) + "\n").encode())
    with open(path, "wb") as f:
        f.write(raw.getvalue())


def in_child(fn, arg):
    """`fn(arg)` in a forked child, its JSON-able result sent back through a pipe: a reader whose
    native code crashes on corrupt input is a refusal, not a dead generator. Returns
    `(result, None)`, or `(None, "reader crashed (wait status N)")`."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            with os.fdopen(wfd, "wb") as w:
                w.write(json.dumps(fn(arg)).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        out = r.read()
    _, status = os.waitpid(pid, 0)
    if not out or status != 0:
        return None, f"reader crashed (wait status {status})"
    return json.loads(out), None
