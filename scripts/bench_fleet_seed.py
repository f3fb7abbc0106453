#!/usr/bin/env python3
"""The object mix of scripts/bench-fleet, put into a loopback S3 server (moto) with boto3.

  bench_fleet_seed.py seed   --endpoint URL --bucket B --objects N --big K --rigged FILE
                             [--summary JSON]
        creates bucket B and N objects `models/NNNNN.<ext>`, except the K big checkpoints,
        whose keys it prints (one a line) for the caller to upload with
        `seed.py s3-big-torch`; they sit evenly spread among the others, so they fall into
        different shards. The small objects, by index i:
          i % 5 in (0, 1, 2)  a pickle: every tenth one a copy of FILE (`NNNNN-rigged.pkl`),
                              the others plain data, 2-36 KB (`NNNNN.pkl`, pickle.dumps)
          i % 5 in (3, 4)     a safetensors file of 1-3 tensors, 4-64 KB (`NNNNN.safetensors`)
        Prints a summary line on stderr (and writes the counts by kind and the bytes uploaded
        to JSON, with --summary).
  bench_fleet_seed.py change --endpoint URL --bucket B --objects N --big K --count C
        overwrites C of the small objects (evenly spread; never a rigged or big one) with new
        content of the same kind (plain pickle stays plain, safetensors stays safetensors).

Everything is deterministic (the content of object i depends only on i and its revision).
Uploads run on a pool of 16 threads. Only loopback endpoints are accepted.
"""

import argparse
import concurrent.futures
import json
import pickle
import random
import struct
import sys
import time


def client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32,
                                      retries={"max_attempts": 5, "mode": "standard"}))


def big_indices(objects, big):
    """Indices of the big checkpoints: the middles of `big` equal slices of the key space."""
    return {int((j + 0.5) * objects / big) for j in range(big)} if big else set()


def layout(objects, big):
    """(index, key, kind) for every object; kind is big, rigged, pickle or safetensors."""
    bigs = big_indices(objects, big)
    out, pickles = [], 0
    for i in range(objects):
        if i in bigs:
            out.append((i, f"models/{i:05d}-big.pt", "big"))
        elif i % 5 < 3:
            if pickles % 10 == 9:
                out.append((i, f"models/{i:05d}-rigged.pkl", "rigged"))
            else:
                out.append((i, f"models/{i:05d}.pkl", "pickle"))
            pickles += 1
        else:
            out.append((i, f"models/{i:05d}.safetensors", "safetensors"))
    return out


def plain_pickle(i, rev):
    rng = random.Random(i * 1000 + rev)
    n = rng.randint(200, 4000)
    return pickle.dumps({"name": f"layer-{i}", "revision": rev,
                         "labels": [f"class-{k}" for k in range(rng.randint(2, 20))],
                         "weights": [rng.uniform(-1, 1) for _ in range(n)]}, protocol=4)


DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def safetensors(i, rev):
    """The safetensors format: an 8-byte little-endian header length, a JSON header (tensor
    dtype, shape and byte range within the data; padded with spaces to 8 bytes), the data."""
    rng = random.Random(i * 1000 + rev)
    header, data = {"__metadata__": {"format": "pt", "revision": str(rev)}}, bytearray()
    target = rng.randint(4 << 10, 64 << 10)
    count = rng.randint(1, 3)
    for t in range(count):
        dtype = rng.choice(list(DTYPES))
        rows = rng.randint(1, 64)
        cols = max(1, target // count // DTYPES[dtype] // rows)
        size = rows * cols * DTYPES[dtype]
        header[f"layers.{t}.weight"] = {"dtype": dtype, "shape": [rows, cols],
                                        "data_offsets": [len(data), len(data) + size]}
        data += rng.randbytes(size)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(data)


def content(i, kind, rev, rigged):
    if kind == "rigged":
        return rigged
    if kind == "pickle":
        return plain_pickle(i, rev)
    return safetensors(i, rev)


def put_all(s3, bucket, items):
    """Uploads [(key, body)] on 16 threads; returns the bytes uploaded."""
    def put(item):
        s3.put_object(Bucket=bucket, Key=item[0], Body=item[1])
        return len(item[1])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return sum(pool.map(put, items))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["seed", "change"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--objects", type=int, required=True)
    p.add_argument("--big", type=int, default=0)
    p.add_argument("--rigged")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--summary", help="seed: also write the counts by kind and the bytes as JSON here")
    a = p.parse_args()
    host = a.endpoint.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        sys.exit("bench_fleet_seed.py only talks to loopback endpoints")
    if a.big > a.objects:
        sys.exit("--big cannot exceed --objects")
    s3 = client(a.endpoint)
    objects = layout(a.objects, a.big)
    start = time.monotonic()
    if a.command == "seed":
        if not a.rigged:
            sys.exit("seed needs --rigged FILE")
        with open(a.rigged, "rb") as f:
            rigged = f.read()
        s3.create_bucket(Bucket=a.bucket)
        small = [(key, content(i, kind, 1, rigged)) for i, key, kind in objects if kind != "big"]
        total = put_all(s3, a.bucket, small)
        kinds = {}
        for _, _, kind in objects:
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"seeded {len(small)} small objects ({total} bytes) in "
              f"{time.monotonic() - start:.1f} s: " +
              ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())), file=sys.stderr)
        if a.summary:
            with open(a.summary, "w") as f:
                json.dump({"kinds": kinds, "small_objects": len(small), "small_bytes": total}, f)
        for _, key, kind in objects:
            if kind == "big":
                print(key)
    else:
        pool = [(i, key, kind) for i, key, kind in objects if kind in ("pickle", "safetensors")]
        count = min(a.count, len(pool))
        chosen = [pool[int(j * len(pool) / count)] for j in range(count)] if count else []
        total = put_all(s3, a.bucket, [(key, content(i, kind, 2, None)) for i, key, kind in chosen])
        print(f"overwrote {len(chosen)} objects ({total} bytes) in "
              f"{time.monotonic() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
