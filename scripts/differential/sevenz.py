#!/usr/bin/env python3
"""Differential cases for 7z archives: how py7zr (the 7z reader of Python tooling) reads
generated variants.

Writes fixtures/differential/py7zr.jsonl.gz (gzip, mtime 0), one JSON case per line:
  {"b": base64 archive, "why": how it was made, "ok": bool (extractall raised or not),
   "files": [[name, base64 data]], "error": "ExceptionName: message" | null}
-- py7zr.SevenZipFile(BytesIO).extractall(factory=BytesIOFactory): the files it writes, with
their bytes, in the order it writes them. Nothing is executed: py7zr only decompresses.

Variants from a fixed seed: every coder and filter py7zr writes (LZMA2, LZMA, PPMd, BZip2,
Deflate, Zstandard, Brotli, Copy; BCJ x86/ARM/ARMT/PPC/SPARC, Delta in front of a compressor)
with their options, several members (empty ones, non-ASCII and backslash names), plain
and encoded headers; coders py7zr reads but aigis does not decode (Deflate64: a Deflate archive
whose coder id says Deflate64, the same stream when no length-258 match is used), an unknown
coder id, encrypted members and headers (no password given, as a loader gives none), and corrupt
or truncated archives.

Pins: scripts/differential/requirements-7z.txt (Python 3.11.7).
Run: python3 -m venv /work/venvs/7z && /work/venvs/7z/bin/pip install -r scripts/differential/requirements-7z.txt
     /work/venvs/7z/bin/python scripts/differential/sevenz.py
"""
import argparse
import base64
import binascii
import io
import json
import os
import random
import struct

import py7zr
import py7zr.compressor
import py7zr.exceptions
import py7zr.helpers
import py7zr.io

from casefile import in_child, write_cases

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")

rng = random.Random(7)

# py7zr stamps writestr() members with "now"; pin it for reproducible bytes.
py7zr.helpers.ArchiveTimestamp.from_now = classmethod(lambda cls: cls.from_datetime(315532800.0))
# ... and draws its AES IVs at random; a fixed IV keeps the encrypted variants reproducible.
py7zr.compressor.get_random_bytes = lambda n: bytes(range(n))

COMPRESSORS = [
    [{"id": py7zr.FILTER_LZMA2, "preset": 6}],
    [{"id": py7zr.FILTER_LZMA2, "preset": 1}],
    [{"id": py7zr.FILTER_LZMA}],
    [{"id": py7zr.FILTER_PPMD, "order": 6, "mem": 24}],
    [{"id": py7zr.FILTER_PPMD, "order": 2, "mem": 16}],
    [{"id": py7zr.FILTER_PPMD, "order": 32, "mem": 20}],
    [{"id": py7zr.FILTER_BZIP2}],
    [{"id": py7zr.FILTER_DEFLATE}],
    [{"id": py7zr.FILTER_ZSTD, "level": 3}],
    [{"id": py7zr.FILTER_ZSTD, "level": 19}],
    [{"id": py7zr.FILTER_BROTLI, "level": 11}],
    [{"id": py7zr.FILTER_BROTLI, "level": 1}],
    [{"id": py7zr.FILTER_COPY}],
]
FILTERS = [
    {"id": py7zr.FILTER_X86},
    {"id": py7zr.FILTER_ARM},
    {"id": py7zr.FILTER_ARMTHUMB},
    {"id": py7zr.FILTER_POWERPC},
    {"id": py7zr.FILTER_SPARC},
    {"id": py7zr.FILTER_DELTA, "dist": 4},
    {"id": py7zr.FILTER_DELTA, "dist": 1},
]


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def payload(size):
    kind = rng.randrange(4) if size <= 1000 else rng.randrange(1, 4)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(size))
    if kind == 1:
        return (b"\x80\x04\x95pickle-like model bytes " * (size // 24 + 1))[:size]
    if kind == 2:
        words = [b"weight", b"bias", b"layer", b"\x00\x00\x80?", b"config"]
        return b"".join(rng.choice(words) for _ in range(size // 4 + 1))[:size]
    return bytes([rng.randrange(3)] * size)


NAMES = ["model.pkl", "data.pkl", "weights/model.bin", "config.json", "ünïcødé/模型.pt",
         "a b/c d.txt", "deep/er/still/x.npy", "archive/data/0", "tokenizer.json"]


def members():
    n = rng.randrange(1, 5)
    out = []
    for name in rng.sample(NAMES, n):
        size = rng.choice([0, 1, 7, 100, 1000, 5000, 70000])
        out.append((name, payload(size)))
    return out


def make(files, filters, header=True, password=None, encrypt_header=False):
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", filters=filters, password=password) as z:
        z.set_encoded_header_mode(header)
        if encrypt_header:
            z.set_encrypted_header(True)
        for name, data in files:
            z.writestr(data, name)
    return buf.getvalue()


def read(b):
    """`read_here` in a forked child: py7zr's native decoders (pyppmd) can corrupt memory on
    corrupt input and abort the process; an abort is recorded as the reader's refusal."""
    reading, crash = in_child(read_here, b)
    if crash:
        return [], crash
    files, error = reading
    return files, error


def read_here(b, password=None):
    """py7zr's extraction of `b`: files in the order written, and the error if it raised."""
    files = []
    error = None
    factory = py7zr.io.BytesIOFactory(1 << 26)
    try:
        with py7zr.SevenZipFile(io.BytesIO(b), "r", password=password) as z:
            z.extractall(factory=factory)
    except Exception as e:  # every refusal is a reading: recorded, compared
        error = f"{type(e).__name__}: {e}"[:300]
    for name, product in factory.products.items():
        try:
            data = product.getvalue() if hasattr(product, "getvalue") else product.read()
        except Exception:  # noqa: BLE001
            data = b""
        files.append([name, b64(bytes(data))])
    return files, error


def fix_start_header(b):
    """Recomputes the start header's CRC over the next-header offset, size and CRC fields, and
    the next header's CRC, after the header bytes were patched."""
    off, size = struct.unpack_from("<QQ", b, 12)
    header = b[32 + off: 32 + off + size]
    b = bytearray(b)
    struct.pack_into("<I", b, 28, binascii.crc32(header))
    struct.pack_into("<I", b, 8, binascii.crc32(bytes(b[12:32])))
    return bytes(b)


def patch_coder(b, old, new):
    """Replaces the coder id `old` by `new` (same length) in a plain (unencoded) header."""
    off, size = struct.unpack_from("<QQ", b, 12)
    start = 32 + off
    header = b[start: start + size]
    i = header.find(old)
    if i < 0:
        return None
    b = bytearray(b)
    b[start + i: start + i + len(old)] = new
    return fix_start_header(bytes(b))


def main():
    global rng
    args = argparse.ArgumentParser()
    args.add_argument("--scale", type=int, default=1)
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--out", default=OUT)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    cases = []

    def case(b, why):
        files, error = read(b)
        cases.append({"b": b64(b), "why": why, "ok": error is None, "files": files, "error": error})

    for _ in range(6 * opts.scale):
        for comp in COMPRESSORS:
            header = rng.random() < 0.5
            case(make(members(), comp, header), f"{comp[0]['id']:#x} header_encoded={header}")
        for filt in FILTERS:
            comp = rng.choice(COMPRESSORS[:2] + COMPRESSORS[3:4] + COMPRESSORS[8:9])
            chain = [filt] + comp
            try:
                b = make(members(), chain)
            except (py7zr.exceptions.UnsupportedCompressionMethodError, AttributeError):
                continue  # a combination py7zr does not write
            case(b, f"filter {filt} + {comp[0]['id']:#x}")

    # Coders py7zr reads that aigis does not decode, and unknown ones.
    for i in range(4 * opts.scale):
        files = [(n, b"\x80\x04K\x01." * rng.randrange(1, 40)) for n in rng.sample(NAMES, 2)]
        deflate = make(files, [{"id": py7zr.FILTER_DEFLATE}], header=False)
        # A coder record: flags (id length | 0x20 when properties follow), the id, the properties.
        d64 = patch_coder(deflate, b"\x03\x04\x01\x08", b"\x03\x04\x01\x09")
        if d64:
            case(d64, "Deflate coder id patched to Deflate64 (04 01 09)")
        lz = make(files, [{"id": py7zr.FILTER_LZMA2}], header=False)
        unknown = patch_coder(lz, b"\x21\x21\x01", b"\x21\x7e\x01")
        if unknown:
            case(unknown, "LZMA2 coder id patched to an unknown id 7E")
        bz = make(files, [{"id": py7zr.FILTER_BZIP2}], header=False)
        future = patch_coder(bz, b"\x03\x04\x02\x02", b"\x03\x04\xf7\x11")
        if future:
            case(future, "BZip2 coder id patched to an unassigned 04 F7 11 id")

    # Encrypted members and headers, read without a password.
    for i in range(3 * opts.scale):
        files = members()
        case(make(files, [{"id": py7zr.FILTER_LZMA2}, {"id": py7zr.FILTER_CRYPTO_AES256_SHA256}],
                  password="secret"), "AES-256 encrypted members, no password")
        case(make(files, [{"id": py7zr.FILTER_LZMA2}, {"id": py7zr.FILTER_CRYPTO_AES256_SHA256}],
                  password="secret", encrypt_header=True), "AES-256 encrypted header, no password")

    # Corrupt and truncated archives.
    for i in range(10 * opts.scale):
        comp = rng.choice(COMPRESSORS)
        b = make(members(), comp, rng.random() < 0.5)
        bad = bytearray(b)
        at = rng.randrange(32, len(b)) if len(b) > 32 else len(b) - 1
        bad[at] ^= 1 << rng.randrange(8)
        case(bytes(bad), f"{comp[0]['id']:#x} with one bit flipped at byte {at}")
        cut = rng.randrange(1, len(b))
        case(b[:cut], f"{comp[0]['id']:#x} cut at byte {cut} of {len(b)}")

    path = os.path.join(opts.out, "py7zr.jsonl.gz")
    write_cases(path, cases)
    ok = sum(c["ok"] for c in cases)
    print(f"{path}: {len(cases)} cases ({ok} read without error)")


if __name__ == "__main__":
    main()
