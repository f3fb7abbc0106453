"""The case file every loader differential writes: gzip (mtime 0), one JSON case per line."""
import gzip
import io
import json


def write_cases(path, cases):
    """Writes `cases` to `path` reproducibly: sorted keys, gzip with no timestamp."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for case in cases:
            gz.write((json.dumps(case, sort_keys=True) + "\n").encode())
    with open(path, "wb") as f:
        f.write(raw.getvalue())
