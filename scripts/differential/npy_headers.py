#!/usr/bin/env python3
"""Differential cases for `.npy` headers: how numpy reads each one.

Writes fixtures/differential/npy_headers.jsonl.gz (gzip, mtime 0), one case per line:
  {"v": [major, minor], "h": "<header bytes as a latin-1 string>", "numpy": "object" | "plain" | "error", "why": "..."}

The header variants are generated (fixed seed): valid headers as numpy writes them, odd spellings
numpy still accepts (every way to say "object", escapes, implicit string concatenation, duplicate
keys, comments, Python 2 `L` suffixes, structured/nested/subarray descriptors, comma strings) and
broken ones. The reading is numpy's own: `read_magic`, `_check_version`, `_read_array_header`
(with `max_header_size` lifted, as `allow_pickle=True` does) and `dtype.hasobject`. No array data
is read and nothing is unpickled: `_read_array_header` only runs `ast.literal_eval` and `np.dtype`.

Pins: scripts/differential/requirements.txt. Run: python scripts/differential/npy_headers.py
Campaign: python scripts/differential/npy_headers.py --scale 20 --seed 7 --out /tmp/npy.jsonl.gz, then
AIGIS_NPY_DIFFERENTIAL=/tmp/npy.jsonl.gz cargo test -p aigis-scan reads_headers_as_numpy_does
"""
import gzip
import io
import json
import os
import random
import struct
import warnings

import numpy as np
try:
    from numpy.lib import _format_impl as npformat  # numpy 2
except ImportError:  # numpy 1
    from numpy.lib import format as npformat

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "differential", "npy_headers.jsonl.gz")
import argparse

ARGS = argparse.ArgumentParser()
ARGS.add_argument("--scale", type=int, default=1, help="multiply the random cases")
ARGS.add_argument("--seed", type=int, default=22)
ARGS.add_argument("--out", default=None)
OPTS = ARGS.parse_args()
if OPTS.out:
    OUT = OPTS.out
rng = random.Random(OPTS.seed)


def read(version, header: bytes):
    fmt = "<H" if version == (1, 0) else "<I"
    data = b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(header)) + header
    fp = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = npformat.read_magic(fp)
            npformat._check_version(v)
            shape, _fortran, dtype = npformat._read_array_header(fp, v, max_header_size=2**64)
            # read_array computes the element count before it reads (or unpickles) the data.
            if len(shape) != 0:
                np.multiply.reduce(shape, dtype=np.int64)
        return ("object" if dtype.hasobject else "plain"), ""
    except Exception as e:  # noqa: BLE001 - every refusal is recorded
        return "error", f"{type(e).__name__}: {e}"[:80]


# ---- descriptor spellings -------------------------------------------------------------------
ORDERS = ["", "|", "<", ">", "=", "!"]
CORES = ["O", "O8", "O4", "O16", "O0", "O2", "object", "object_", "Object", "object0", "o", "T",
         "f4", "i8", "S5", "U3", "V8", "V", "S", "U", "a", "a5", "c", "b1", "?", "M8", "m8[s]",
         "M8[xx]", "datetime64[ns]", "timedelta64", "\x11", "\x12", "\x14", "\x17", "\x18",
         "float64", "int0", "bool8", "void", "str", "bytes", "i", "d", "g", "G", "e", "u8", "f16",
         "c32", "i16", "M8[10s]", "O 8", "O+8", "O-8", "O\t8", "O08", "O 08 ", "O8 ", " O", "O\x008"]
COMMA = ["i4,O", "O,", "2O", "(2,)O", "(2)O", "(2,3)i4, O", "O, ", " O,i4", ",O", "2,O", "O,,i4",
         "i4,(2)O8", "O8 , f4", "3S", "()O", "|()O", "<()O", "2 O", "(2, )O", "O,i4 ,", "i4,O\n",
         "i4, >O", "<i4,>f4", "<>i4,O", "O[x],i4", "M8[s],O", "1O", "0O", "(0,)O", "(2,3,)O4",
         "(1000000,1000000)O", "(2147483648,)O", "2|O", "2<O", "10S,O", "O,(2)i4", "(2),O",
         "i4\u3000,O", "i4\x1c,O", "f8, ", ",", "O ,i4", "O,\ti4"]
ALPHABET = "Oo08|<>=,() 2fi4S[]T\x11"


def random_spelling():
    n = rng.randint(1, 6)
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def spellings():
    out = []
    for core in CORES:
        for order in ORDERS:
            out.append(order + core)
    out += COMMA
    out += [random_spelling() for _ in range(1500 * OPTS.scale)]
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


def py(s):
    """A Python literal for the string s."""
    return repr(s)


LEAF = ["'O'", "'|O'", "'<f4'", "'O8'", "'i4'", "'object'", "'V8'", "'V4'", "'S3'", "'i4,O'",
        "'2O'", "'xyz'", "('O', 2)", "('O', (2, 3))", "('O', ())", "('i8', 'O')", "('V8', 'O')",
        "('<f4', (2,))", "[('a', 'O')]", "('O', [2])", "('O', 2.0)", "('O', True)", "('S', 3)",
        "('O', -1)", "('O', (2147483648,))", "('O',)", "()", "None", "5", "b'O'", "('|O', 1)",
        "('O', '2')", "('U', 4)"]
NAMES = ["'a'", "'b'", "''", "('t', 'a')", "('a', 'a')", "('', 'x')", "(1, 'a')", "('t',)", "1",
         "b'a'", "'f0'", "None"]
SHAPES = ["(2,)", "2", "()", "(2, 3)", "[2]", "(-1,)", "2.0", "'2'", "(0,)", "True"]


def random_field(depth):
    name = rng.choice(NAMES)
    dt = random_descr(depth + 1) if depth < 2 and rng.random() < 0.3 else rng.choice(LEAF)
    if rng.random() < 0.3:
        return f"({name}, {dt}, {rng.choice(SHAPES)})"
    if rng.random() < 0.05:
        return rng.choice(["'aO'", "'xO8'", "('a', 'O', 2, 3)", "('a',)", "['a', 'O']", "{'a', 'O'}"])
    return f"({name}, {dt})"


def random_descr(depth=0):
    n = rng.randint(0, 3)
    body = ", ".join(random_field(depth) for _ in range(n))
    shape = rng.random()
    if shape < 0.8:
        return f"[{body}]"
    if shape < 0.9:
        return f"({rng.choice(LEAF)}, {rng.choice(SHAPES)})"
    return rng.choice(["{'aO': 1}", "{'ab': 1}", "{'aO'}", "b'aO'", "'aO'", "['aO', 'bi']"])


def header(descr, fortran="False", shape="(3,)", pad=False):
    text = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    if pad:
        text += " " * ((64 - (len(text) + 11) % 64) % 64) + "\n"
    return text


# ---- whole-header variants (literal syntax) -------------------------------------------------
SYNTAX = [
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
    "{\"descr\": \"|O\", \"fortran_order\": False, \"shape\": (1,)}",
    "{'descr': '\\x4f', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\117', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\u004f', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\U0000004f', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\N{LATIN CAPITAL LETTER O}', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\N{latin capital letter o}8', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\N{DC1}', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\N{DEVICE CONTROL ONE}', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\N{VERTICAL LINE}O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\N{NO SUCH NAME}', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\x11', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '\\021', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|' 'O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': ('|'\n 'O'), 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|' \"O\" '''8''', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': u'O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': r'O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': R'\\x4f', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': b'O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': f'O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': 'O' b'', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '''O''', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': 'O\\\n8', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|O', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), 'shape': (2,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
    "{'descr': '|O', 'fortran_order': False}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), 1: 2}",
    "{'descr': '|O', 'fortran_order': False, b'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': 0, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': None, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': True, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': [1]}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (True, False)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (-1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1.0,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (9223372036854775807,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (9223372036854775808,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (-9223372036854775809,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (18446744073709551615,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (18446744073709551616,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (-9223372036854775808, 3)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': 1, 2}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)},",
    "{'descr': '|O', 'fortran_order': False, 'shape': ()}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (0x1, 0o2, 0b11, 1_0)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (01,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1L,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1L, 2 L)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1LL,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1\nL,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (+1, -0)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (--1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), # comment\n}",
    "# leading comment\n{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "\n{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "\n  {'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "  \t{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "\x0c{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\n\n   ",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\n   \n",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\r\n",
    "{'descr': '|O',\r 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)} \\\n",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)} \\\n  ",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\n1",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)};",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\x00",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\x0b",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\xa0",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}['descr']",
    "dict(descr='|O', fortran_order=False, shape=(1,))",
    "['descr', 'fortran_order', 'shape']",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), **{}}",
    "{'descr': '\xe9O', 'fortran_order': False, 'shape': (1,)}",
    "{'descr': 'O', 'fortran_order': False, 'shape': (1,), 'x\xe9': 1}",
    "{'descr': {'O'}, 'fortran_order': False, 'shape': (1,)}",
    "{'descr': set(), 'fortran_order': False, 'shape': (1,)}",
    "{'descr': [], 'fortran_order': False, 'shape': (1,)}",
    "{'descr': ..., 'fortran_order': False, 'shape': (1,)}",
    "{'descr': 1+2j, 'fortran_order': False, 'shape': (1,)}",
    "{'descr': [('a', 'O')] , 'fortran_order': False, 'shape': (1,), }",
    "{'descr': [('a', 'O'),], 'fortran_order': False, 'shape': (1,,)}",
    "{'descr': ('O'), 'fortran_order': False, 'shape': (1,)}",
    "{'descr': ('O',), 'fortran_order': False, 'shape': (1,)}",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,)",
    "",
    "   ",
    "{}",
]


def main():
    cases = []

    def add(version, text):
        data = text.encode("utf-8" if version == (3, 0) else "latin-1", "surrogatepass")
        result, why = read(version, data)
        cases.append({"v": list(version), "h": data.decode("latin-1"), "numpy": result, "why": why})

    for s in spellings():
        add((1, 0), header(py(s)))
    for text in SYNTAX:
        for version in [(1, 0), (2, 0), (3, 0)]:
            try:
                text.encode("latin-1")
            except UnicodeEncodeError:
                if version != (3, 0):
                    continue
            add(version, text)
    for _ in range(1500 * OPTS.scale):
        add((1, 0), header(random_descr()))
    # Whole-header mutations of a valid object header: drop, duplicate or replace a character.
    base = header("'|O'", pad=True)
    for _ in range(600 * OPTS.scale):
        chars = list(base)
        i = rng.randrange(len(chars))
        op = rng.random()
        if op < 0.33:
            del chars[i]
        elif op < 0.66:
            chars.insert(i, chars[i])
        else:
            chars[i] = rng.choice("'\"\\#\n ,:()[]{}Lb0xO|\t")
        add((1, 0), "".join(chars))
    for version, major in [((2, 0), 2), ((3, 0), 3), ((1, 1), 1), ((4, 0), 4), ((0, 0), 0)]:
        add(version, header("'|O'", pad=True))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    lines = "".join(json.dumps(case, ensure_ascii=True) + "\n" for case in cases)
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(lines.encode("ascii"))
    counts = {}
    for case in cases:
        counts[case["numpy"]] = counts.get(case["numpy"], 0) + 1
    print(f"{len(cases)} cases written to {os.path.normpath(OUT)} (numpy {np.__version__}): {counts}")


if __name__ == "__main__":
    main()
