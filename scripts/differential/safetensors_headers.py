#!/usr/bin/env python3
"""Differential cases for safetensors headers: which files the reference library accepts.

Writes fixtures/differential/safetensors.jsonl.gz (gzip, mtime 0), one JSON case per line:
  {"b": base64 file, "why": how it was made, "ok": bool, "error": message | null}
-- safetensors.deserialize(bytes) (the Rust `safetensors` crate behind the Python package, what
`safetensors.torch.load_file` and transformers read checkpoints with), then `safe_open` on the
same bytes written to a file (it reads the header the same way; both must accept). Nothing but
the header and offsets is interpreted.

Variants from a fixed seed: files written by `safetensors.numpy.save` (every dtype numpy has,
empty and scalar tensors, metadata), then header mutations: duplicate and unknown keys, key
order, whitespace and padding, numbers spelled as floats or negative or huge, dtype spellings,
offsets that overlap, leave gaps, run past the data or leave trailing bytes, `__metadata__`
shapes, header lengths that lie, non-UTF-8 and escaped names, nesting.

Pins: safetensors==0.8.0, numpy (scripts/differential/requirements-config.txt).
Run: /work/venvs/hf/bin/python scripts/differential/safetensors_headers.py
"""
import argparse
import base64
import json
import os
import random
import struct
import tempfile

import numpy as np
import safetensors
import safetensors.numpy

from casefile import write_cases

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")

DTYPES = [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64,
          np.uint16, np.uint32, np.uint64, np.bool_, np.complex64]


def read(b):
    """The library's reading: accepted by deserialize and by safe_open on a file, or why not."""
    try:
        safetensors.deserialize(b)
    except Exception as e:  # noqa: BLE001
        return False, f"deserialize: {type(e).__name__}: {e}"[:200]
    with tempfile.NamedTemporaryFile(suffix=".safetensors") as f:
        f.write(b)
        f.flush()
        try:
            with safetensors.safe_open(f.name, framework="numpy") as st:
                for key in st.keys():
                    st.get_slice(key)
        except Exception as e:  # noqa: BLE001
            return False, f"safe_open: {type(e).__name__}: {e}"[:200]
    return True, None


def split(b):
    n = struct.unpack_from("<Q", b)[0]
    return b[8:8 + n], b[8 + n:]


def join(header, data, length=None):
    header = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def base_file(rng):
    tensors = {}
    for i in range(rng.randrange(0, 4)):
        dtype = rng.choice(DTYPES)
        shape = [rng.randrange(0, 4) for _ in range(rng.randrange(0, 3))]
        tensors[f"layer.{i}.weight"] = np.zeros(shape, dtype=dtype)
    metadata = {"format": "pt"} if rng.random() < 0.5 else None
    return safetensors.numpy.save(tensors, metadata=metadata)


def mutations(rng, b):
    """(why, bytes) variants of the file `b`."""
    header, data = split(b)
    obj = json.loads(header)
    names = [k for k in obj if k != "__metadata__"]
    out = []
    text = header.decode()
    out.append(("as written", b))
    out.append(("header padded with spaces", join(text + " " * rng.randrange(1, 9), data)))
    out.append(("header padded with a newline", join(text + "\n", data)))
    out.append(("header padded with NULs", join(text + "\0\0", data)))
    out.append(("leading whitespace in the header", join(" " + text, data)))
    out.append(("header length one short", join(header, data, len(header) - 1)))
    out.append(("header length past the end", join(header, data, len(header) + len(data) + 9)))
    out.append(("trailing byte after the data", join(header, data + b"\0")))
    out.append(("data cut by one byte", join(header, data[:-1]) if data else join(header, b"")))
    out.append(("empty header object", join("{}", b"")))
    out.append(("empty header object with data", join("{}", b"\0" * 4)))
    out.append(("metadata only", join('{"__metadata__":{"a":"b"}}', b"")))
    out.append(("metadata not strings", join('{"__metadata__":{"a":1}}', b"")))
    out.append(("metadata null", join('{"__metadata__":null}', b"")))
    out.append(("UTF-8 BOM before the header", join(b"\xef\xbb\xbf" + header, data)))
    out.append(("header is a list", join("[]", b"")))
    if names:
        n = rng.choice(names)
        t = obj[n]
        body = text.rstrip()[:-1]
        dup = body + "," + json.dumps(n) + ":" + json.dumps(t) + "}"
        out.append(("duplicate tensor key", join(dup, data)))
        other = dict(t, dtype="U8" if t["dtype"] != "U8" else "I8")
        dup = body + "," + json.dumps(n) + ":" + json.dumps(other) + "}"
        out.append(("duplicate tensor key, another dtype", join(dup, data)))
        for key, value in [("extra", 1), ("dtype", t["dtype"].lower()), ("dtype", "F8_E4M3"),
                           ("shape", [float(x) for x in t["shape"]]),
                           ("shape", [-1] + t["shape"]),
                           ("data_offsets", [float(x) for x in t["data_offsets"]]),
                           ("data_offsets", t["data_offsets"] + [0]),
                           ("data_offsets", [t["data_offsets"][1], t["data_offsets"][0]]),
                           ("data_offsets", [t["data_offsets"][0], t["data_offsets"][1] + 1]),
                           ("shape", t["shape"] + [1]),
                           ("shape", [2 ** 64] + t["shape"]),
                           ("data_offsets", [0, 2 ** 64])]:
            o = json.loads(header)
            o[n] = dict(o[n])
            o[n][key] = value
            out.append((f"tensor {key} set to {value!r}"[:80], join(json.dumps(o), data)))
        o = json.loads(header)
        del o[n]["dtype"]
        out.append(("tensor without dtype", join(json.dumps(o), data)))
        o = json.loads(header)
        o[n] = dict(reversed(list(o[n].items())))
        out.append(("tensor fields in another order", join(json.dumps(o), data)))
        out.append(("tensor name escaped", join(text.replace(json.dumps(n), json.dumps(n, ensure_ascii=True).replace(".", "\\u002e"), 1), data)))
        o = json.loads(header)
        o[n + "\u00e9"] = o.pop(n)
        out.append(("non-ASCII tensor name", join(json.dumps(o, ensure_ascii=False).encode(), data)))
    if len(names) >= 2:
        a, b2 = names[0], names[1]
        o = json.loads(header)
        o[a]["data_offsets"], o[b2]["data_offsets"] = o[b2]["data_offsets"], o[a]["data_offsets"]
        out.append(("two tensors' offsets swapped", join(json.dumps(o), data)))
    o = dict(obj)
    o["__metadata__"] = {"nested": {"x": "y"}}
    out.append(("metadata nested", join(json.dumps(o), data)))
    o = dict(obj)
    o["zz.hidden"] = {"dtype": "U8", "shape": [4], "data_offsets": [len(data), len(data) + 4]}
    out.append(("tensor added over 4 trailing bytes", join(json.dumps(o), data + b"\x80\x04K\x01")))
    o = dict(obj)
    o["zz.empty"] = {"dtype": "F32", "shape": [0], "data_offsets": [len(data), len(data)]}
    out.append(("empty tensor at the end", join(json.dumps(o), data)))
    out.append(("header with a NaN", join(text[:-1] + (',' if names or len(text) > 2 else '') + '"x":NaN}', data)))
    return out


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--scale", type=int, default=1)
    args.add_argument("--seed", type=int, default=3)
    args.add_argument("--out", default=OUT)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    seen = set()
    cases = []
    for _ in range(25 * opts.scale):
        for why, b in mutations(rng, base_file(rng)):
            if b in seen:
                continue
            seen.add(b)
            ok, error = read(b)
            cases.append({"b": base64.b64encode(b).decode(), "why": why, "ok": ok, "error": error})
    path = os.path.join(opts.out, "safetensors.jsonl.gz")
    write_cases(path, cases)
    print(f"{path}: {len(cases)} cases ({sum(c['ok'] for c in cases)} accepted)")


if __name__ == "__main__":
    main()
