#!/usr/bin/env python3
"""Differential cases for compressed pickles: what Python's readers return for each variant.

Writes fixtures/differential/compressed.jsonl.gz (gzip, mtime 0), one case per line:
  {"codec": "gzip"|"zlib"|"bz2"|"lzma"|"zstd"|"lz4"|"zfile", "name": "...", "data": "<base64 input>",
   "ok": true|false, "len": N, "sha256": "<hex of all bytes the reader returned>", "why": "..."}

The readers, as loaders use them (nothing is unpickled; the payloads are plain bytes):
  gzip  gzip.GzipFile(fileobj=...).read()               (pickle.load(gzip.open(...)), pandas)
  zlib  joblib.compressor.BinaryZlibFile(fileobj).read()  (joblib.dump(compress=N)), modelled
        with zlib.decompressobj: it hangs on data after the first stream
  bz2   bz2.BZ2File(...).read()                         (joblib, pandas)
  lzma  lzma.LZMAFile(..., format=FORMAT_AUTO).read()    (joblib .xz/.lzma, pandas)
  zstd  zstandard.ZstdDecompressor().stream_reader(..., read_across_frames=True).read()
  lz4   lz4.frame.LZ4FrameFile(...).read()               (joblib .lz4)
  zfile joblib.numpy_pickle_compat.read_zfile(...)        (joblib < 0.10 `ZF` files)
Each reader is read in 64 KiB chunks; when it raises, "ok" is false and len/sha256 describe the
bytes it returned before the error (aigis must decode at least those).

Variants: valid streams as the libraries write them, odd-but-accepted ones (several members,
frames and streams, padding, skippable frames, header fields Python skips, every LZMA-alone
properties byte and dictionary size class, legacy ZF headers) and broken ones (truncated,
corrupt, bad checksums, trailing garbage). Fixed seed. Pins: scripts/differential/requirements.txt.
"""
import argparse
import base64
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import struct
import zlib

import joblib.compressor
import joblib.numpy_pickle_compat
import lz4.frame
import zstandard

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "differential", "compressed.jsonl.gz")
ARGS = argparse.ArgumentParser()
ARGS.add_argument("--seed", type=int, default=22)
ARGS.add_argument("--scale", type=int, default=3)
ARGS.add_argument("--out", default=OUT)
OPTS = ARGS.parse_args()
rng = random.Random(OPTS.seed)


def chunks(reader):
    out = bytearray()
    try:
        while True:
            block = reader.read(1 << 16)
            if not block:
                return bytes(out), True, ""
            out += block
    except Exception as e:  # noqa: BLE001 - the refusal is the recording
        return bytes(out), False, f"{type(e).__name__}: {e}"[:100]


def read(codec, data):
    fp = io.BytesIO(data)
    if codec == "gzip":
        return chunks(gzip.GzipFile(fileobj=fp))
    if codec == "zlib":
        # joblib's BinaryZlibFile returns the first stream and then, on any byte after it, loops
        # forever feeding its finished decompressor (memory grows until MemoryError): modelled
        # with the same zlib object instead of being run.
        d = zlib.decompressobj(15)
        try:
            out = d.decompress(data)
        except zlib.error as e:
            return b"", False, f"error: {e}"[:100]
        if not d.eof:
            return out, False, "EOFError: compressed file ended before the end-of-stream marker"
        if d.unused_data:
            return out, False, "joblib BinaryZlibFile never returns after the first stream"
        return out, True, ""
    if codec == "bz2":
        return chunks(bz2.BZ2File(fp))
    if codec == "lzma":
        return chunks(lzma.LZMAFile(fp))
    if codec == "zstd":
        return chunks(zstandard.ZstdDecompressor().stream_reader(fp, read_across_frames=True))
    if codec == "lz4":
        return chunks(lz4.frame.LZ4FrameFile(fp))
    if codec == "zfile":
        try:
            return joblib.numpy_pickle_compat.read_zfile(fp), True, ""
        except Exception as e:  # noqa: BLE001
            return b"", False, f"{type(e).__name__}: {e}"[:100]
    raise ValueError(codec)


def payload(kind=None):
    kind = kind or rng.choice(["small", "text", "random", "repeat", "empty"])
    if kind == "empty":
        return b""
    if kind == "small":
        return b"\x80\x04\x95" + bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) + b"."
    if kind == "text":
        return (b"the quick brown fox %d " % rng.randrange(1000)) * rng.randint(1, 400)
    if kind == "random":
        return bytes(rng.randrange(256) for _ in range(rng.randint(100, 3000)))
    return bytes([rng.randrange(256)]) * rng.randint(1000, 300000)


def corrupt(data, n=1):
    if not data:
        return data
    b = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(data):
    return data[: rng.randrange(len(data))] if data else data


GARBAGE = [b"x", b"\x00", b"\x00" * 4, b"\x00" * 7, b"garbage after the stream", b"\x1f\x8b", b"\x1f\x8bxx",
           b"BZh9", b"BZh91AY&SY", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"\x00\x00\x00\x01"]


# ---- gzip ------------------------------------------------------------------------------------
def gzip_member(data, flags=0, extra=b"", name=b"", comment=b"", hcrc=None, method=8, mtime=0,
                crc=None, isize=None, level=6):
    header = b"\x1f\x8b" + bytes([method, flags]) + struct.pack("<I", mtime) + b"\x00\xff"
    if flags & 4:
        header += struct.pack("<H", len(extra)) + extra
    if flags & 8:
        header += name
    if flags & 16:
        header += comment
    if flags & 2:
        header += struct.pack("<H", zlib.crc32(header) & 0xFFFF if hcrc is None else hcrc)
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    trailer = struct.pack("<II", zlib.crc32(data) if crc is None else crc,
                          (len(data) & 0xFFFFFFFF) if isize is None else isize)
    return header + body + trailer


def gzip_cases():
    yield "gzip.compress", gzip.compress(payload(), mtime=0)
    yield "gzip.compress level 1", gzip.compress(payload(), compresslevel=1, mtime=0)
    yield "empty member", gzip.compress(b"", mtime=0)
    yield "two members", gzip.compress(payload(), mtime=0) + gzip.compress(payload(), mtime=0)
    yield "five members", b"".join(gzip.compress(payload(), mtime=0) for _ in range(5))
    yield "member, zeros, member", gzip.compress(payload(), mtime=0) + b"\x00" * rng.randint(1, 9) + gzip.compress(payload(), mtime=0)
    yield "FEXTRA", gzip_member(payload(), flags=4, extra=b"ab\x02\x00xy")
    yield "FNAME", gzip_member(payload(), flags=8, name=b"model.pkl\x00")
    yield "FCOMMENT", gzip_member(payload(), flags=16, comment=b"c\x00")
    yield "all fields", gzip_member(payload(), flags=4 | 8 | 16 | 2, extra=b"", name=b"n\x00", comment=b"c\x00")
    yield "FHCRC wrong", gzip_member(payload(), flags=2, hcrc=0x1234)
    yield "reserved flags 0xe0", gzip_member(payload(), flags=0xE0)
    yield "reserved flag 0x20 + FNAME", gzip_member(payload(), flags=0x28, name=b"x\x00")
    yield "FTEXT", gzip_member(payload(), flags=1)
    yield "method 7", gzip_member(payload(), method=7)
    yield "CRC wrong", gzip_member(payload("text"), crc=0xDEADBEEF)
    yield "ISIZE wrong", gzip_member(payload("text"), isize=12345)
    yield "second member CRC wrong", gzip.compress(payload(), mtime=0) + gzip_member(payload("text"), crc=1)
    yield "FNAME unterminated", gzip_member(b"", flags=8, name=b"abc")[:13]
    yield "header only", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    yield "magic only", b"\x1f\x8b"
    for g in GARBAGE:
        yield f"trailing {g!r}", gzip.compress(payload(), mtime=0) + g
    for _ in range(3):
        yield "truncated", truncate(gzip.compress(payload(), mtime=0))
        yield "corrupt", corrupt(gzip.compress(payload("text"), mtime=0))


def zlib_cases():
    yield "zlib.compress", zlib.compress(payload())
    for level in (1, 9):
        yield f"level {level}", zlib.compress(payload(), level)
    yield "two streams", zlib.compress(payload()) + zlib.compress(payload())
    yield "empty", zlib.compress(b"")
    for g in GARBAGE:
        yield f"trailing {g!r}", zlib.compress(payload()) + g
    for _ in range(3):
        yield "truncated", truncate(zlib.compress(payload()))
        yield "corrupt", corrupt(zlib.compress(payload("text")))
    yield "zlib wbits 9", (lambda c: c.compress(payload("text")) + c.flush())(zlib.compressobj(6, zlib.DEFLATED, 9))


def bz2_cases():
    yield "bz2.compress", bz2.compress(payload())
    yield "level 1", bz2.compress(payload(), 1)
    yield "two streams", bz2.compress(payload()) + bz2.compress(payload())
    yield "four streams", b"".join(bz2.compress(payload()) for _ in range(4))
    yield "empty", bz2.compress(b"")
    for g in GARBAGE:
        yield f"trailing {g!r}", bz2.compress(payload()) + g
    for _ in range(3):
        yield "truncated", truncate(bz2.compress(payload()))
        yield "corrupt", corrupt(bz2.compress(payload("text")))


def lzma_alone(data, lc=3, lp=0, pb=2, dict_size=1 << 23):
    return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=[
        {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}])


def alone_with_size(data, lc=3, lp=0, pb=2, dict_size=1 << 20, size=None):
    """An LZMA-alone stream with a known uncompressed size (the raw LZMA1 stream Python writes
    carries an end marker, which a known size still allows)."""
    raw = lzma.compress(data, format=lzma.FORMAT_RAW, filters=[
        {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}])
    props = (pb * 5 + lp) * 9 + lc
    return bytes([props]) + struct.pack("<IQ", dict_size, len(data) if size is None else size) + raw


def lzma_cases():
    yield "xz", lzma.compress(payload())
    for check in (lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256):
        yield f"xz check {check}", lzma.compress(payload(), check=check)
    yield "xz preset 9e", lzma.compress(payload(), preset=9 | lzma.PRESET_EXTREME)
    yield "xz delta filter", lzma.compress(payload(), filters=[{"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2}])
    yield "xz x86 filter", lzma.compress(payload(), filters=[{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2}])
    yield "xz two streams", lzma.compress(payload()) + lzma.compress(payload())
    yield "xz, padding, xz", lzma.compress(payload()) + b"\x00" * 4 + lzma.compress(payload())
    yield "xz then lzma-alone", lzma.compress(payload()) + lzma_alone(payload())
    yield "lzma-alone then xz", lzma_alone(payload()) + lzma.compress(payload())
    yield "lzma-alone", lzma_alone(payload())
    yield "lzma-alone x2", lzma_alone(payload()) + lzma_alone(payload())
    for lc, lp, pb in [(0, 0, 0), (4, 0, 0), (0, 4, 4), (3, 0, 2), (1, 3, 4), (2, 2, 1), (0, 0, 4), (4, 0, 4)]:
        yield f"lzma-alone lc{lc} lp{lp} pb{pb}", lzma_alone(payload(), lc, lp, pb)
    for props in [rng.randrange(225) for _ in range(8)] + [0, 224]:
        pb, rem = divmod(props, 45)
        lp, lc = divmod(rem, 9)
        if lc + lp > 4:
            continue
        yield f"lzma-alone props {props}", lzma_alone(payload(), lc, lp, pb)
    for dict_size in [4096, 3 << 16, 1 << 16, 3 << 20, 1 << 26]:
        yield f"lzma-alone dict {dict_size}", lzma_alone(payload(), dict_size=dict_size)
    yield "lzma-alone known size", alone_with_size(payload("text"))
    yield "lzma-alone size too small", alone_with_size(payload("text"), size=5)
    data = payload("text")
    raw = alone_with_size(data)
    for dict_size in [0, 1, 5, 4097, (1 << 20) + 1, 3 << 20]:
        yield f"lzma-alone header dict {dict_size}", raw[:1] + struct.pack("<I", dict_size) + raw[5:]
    yield "lzma-alone size 2^38", raw[:5] + struct.pack("<Q", 1 << 38) + raw[13:]
    yield "lzma-alone props 225", b"\xe1" + raw[1:]
    for g in GARBAGE:
        yield f"xz trailing {g!r}", lzma.compress(payload()) + g
        yield f"alone trailing {g!r}", lzma_alone(payload()) + g
    for _ in range(3):
        yield "xz truncated", truncate(lzma.compress(payload()))
        yield "xz corrupt", corrupt(lzma.compress(payload("text")))
        yield "alone truncated", truncate(lzma_alone(payload()))


def skippable(n, content):
    return struct.pack("<II", 0x184D2A50 + n, len(content)) + content


def zstd_cases():
    c = zstandard.ZstdCompressor()
    yield "zstd", c.compress(payload())
    yield "no content size", zstandard.ZstdCompressor(write_content_size=False).compress(payload())
    yield "checksum", zstandard.ZstdCompressor(write_checksum=True).compress(payload())
    yield "level 19", zstandard.ZstdCompressor(level=19).compress(payload())
    yield "two frames", c.compress(payload()) + c.compress(payload())
    yield "skippable first", skippable(0, b"meta") + c.compress(payload())
    yield "skippable between", c.compress(payload()) + skippable(5, b"x" * 100) + c.compress(payload())
    yield "skippable last", c.compress(payload()) + skippable(15, b"")
    yield "skippable only", skippable(1, b"abc")
    yield "empty frame", c.compress(b"")
    yield "streamed", (lambda b: (c.stream_writer(b, closefd=False).write(payload("repeat")), b)[1])(io.BytesIO()).getvalue() or c.compress(b"x")
    for g in GARBAGE:
        yield f"trailing {g!r}", c.compress(payload()) + g
    for _ in range(3):
        yield "truncated", truncate(c.compress(payload()))
        yield "corrupt", corrupt(zstandard.ZstdCompressor(write_checksum=True).compress(payload("text")))
    yield "skippable truncated", c.compress(payload()) + skippable(0, b"abcdef")[:-2]


def lz4_cases():
    f = lz4.frame
    yield "lz4", f.compress(payload())
    yield "independent blocks", f.compress(payload("repeat"), block_linked=False)
    yield "linked 64K blocks", f.compress(payload("repeat"), block_size=f.BLOCKSIZE_MAX64KB, block_linked=True)
    yield "block checksum", f.compress(payload(), block_checksum=True)
    yield "content checksum", f.compress(payload(), content_checksum=True)
    yield "no size", f.compress(payload(), store_size=False)
    yield "4MB blocks", f.compress(payload("repeat"), block_size=f.BLOCKSIZE_MAX4MB)
    yield "stored (incompressible)", f.compress(payload("random"))
    yield "two frames", f.compress(payload()) + f.compress(payload())
    yield "skippable first", skippable(0, b"meta") + f.compress(payload())
    yield "skippable between", f.compress(payload()) + skippable(3, b"m") + f.compress(payload())
    yield "empty", f.compress(b"")
    for g in GARBAGE:
        yield f"trailing {g!r}", f.compress(payload()) + g
    for _ in range(3):
        yield "truncated", truncate(f.compress(payload()))
        yield "corrupt", corrupt(f.compress(payload("text"), block_checksum=True, content_checksum=True))


def zfile(data, field=None, space=False, stream=None):
    field = ("0x%x" % len(data)) if field is None else field
    return b"ZF" + field.encode().ljust(19) + (b" " if space else b"") + (zlib.compress(data) if stream is None else stream)


def zfile_cases():
    data = payload("text")
    yield "write_zfile", zfile(data)
    yield "python2 extra space", zfile(data, space=True)
    yield "no 0x", zfile(data, field="%x" % len(data))
    yield "upper 0X", zfile(data, field="0X%X" % len(data))
    yield "underscores", zfile(data, field="0x_%s" % "_".join("%x" % len(data)))
    yield "leading spaces", zfile(data, field="  0x%x" % len(data))
    yield "plus sign", zfile(data, field="+0x%x" % len(data))
    yield "length wrong", zfile(data, field="0x%x" % (len(data) + 1))
    yield "length negative", zfile(data, field="-0x1")
    yield "not hex", zfile(data, field="0xzz")
    yield "trailing garbage", zfile(data) + b"garbage"
    yield "two streams", zfile(data, stream=zlib.compress(data) + zlib.compress(b"more"))
    yield "truncated", truncate(zfile(data))
    yield "empty", zfile(b"")


def main():
    cases = []
    generators = {"gzip": gzip_cases, "zlib": zlib_cases, "bz2": bz2_cases, "lzma": lzma_cases,
                  "zstd": zstd_cases, "lz4": lz4_cases, "zfile": zfile_cases}
    for _ in range(OPTS.scale):
        for codec, gen in generators.items():
            for name, data in gen():
                out, ok, why = read(codec, data)
                cases.append({"codec": codec, "name": name, "data": base64.b64encode(data).decode(),
                              "ok": ok, "len": len(out), "sha256": hashlib.sha256(out).hexdigest(),
                              "why": why})
    lines = "".join(json.dumps(c) + "\n" for c in cases)
    os.makedirs(os.path.dirname(os.path.abspath(OPTS.out)), exist_ok=True)
    with open(OPTS.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(lines.encode())
    by = {}
    for c in cases:
        by.setdefault(c["codec"], [0, 0])[0 if c["ok"] else 1] += 1
    print(f"{len(cases)} cases ({', '.join(f'{k}: {v[0]} ok / {v[1]} refused' for k, v in by.items())}) -> {OPTS.out}")


if __name__ == "__main__":
    main()
