#!/usr/bin/env python3
"""Pickle programs for the loader differential: valid, odd-but-accepted and broken streams, each
with the real loaders' reading (see `pickle_loader.py`). Standard library only.

    pickle_streams.py --seed S --start K --count N [--out FILE]

writes one JSON object per line: `i` (case index), `f` (the family that made it), `b` (the bytes,
hex) and `r` (the readings, ways that agree merged; see `pickle_loader.read_all_ways`), plus `x`:
the names of the generator's dangerous pool that some reading reached. Case `i` of seed `S` is
always the same stream, so a range of cases can be regenerated alone.

Nothing in a stream is ever imported or called for real.
"""

import argparse
import json
import os
import random
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pickle_loader  # noqa: E402

# ---- names ---------------------------------------------------------------------------------

# Functions and classes that attack the host when imported or called. The public 2025–2026
# scanner advisories are among them (pkgutil.resolve_name, _operator aliases, _io.FileIO, uuid and
# _aix_support command helpers, profile/cProfile/timeit, ensurepip, sub-interpreters, logging
# handlers, cloudpickle's function builder).
DANGEROUS = [
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("subprocess", "check_output"),
    ("subprocess", "getoutput"),
    ("commands", "getoutput"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "open"),
    ("builtins", "__import__"),
    ("__builtin__", "eval"),
    ("__builtin__", "execfile"),
    ("io", "open"),
    ("io", "FileIO"),
    ("_io", "FileIO"),
    ("_io", "open"),
    ("shutil", "rmtree"),
    ("pty", "spawn"),
    ("runpy", "run_path"),
    ("code", "InteractiveInterpreter"),
    ("pkgutil", "resolve_name"),
    ("importlib", "import_module"),
    ("operator", "attrgetter"),
    ("operator", "methodcaller"),
    ("_operator", "attrgetter"),
    ("_operator", "methodcaller"),
    ("uuid", "_get_command_stdout"),
    ("_aix_support", "_read_cmd_output"),
    ("profile", "run"),
    ("cProfile", "run"),
    ("profile", "Profile.runctx"),
    ("timeit", "timeit"),
    ("timeit", "Timer"),
    ("ensurepip", "_run_pip"),
    ("ensurepip", "bootstrap"),
    ("_xxsubinterpreters", "run_string"),
    ("_interpreters", "run_string"),
    ("_interpreters", "exec"),
    ("logging", "FileHandler"),
    ("logging.handlers", "RotatingFileHandler"),
    ("cloudpickle.cloudpickle", "_make_function"),
    ("cloudpickle.cloudpickle", "_builtin_type"),
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("marshal", "loads"),
    ("types", "FunctionType"),
    ("types", "CodeType"),
    ("ctypes", "CDLL"),
    ("socket", "create_connection"),
    ("webbrowser", "open"),
    ("pydoc", "locate"),
]

HARMLESS = [
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
    ("builtins", "object"),
    ("__builtin__", "set"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch", "FloatStorage"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("datetime", "date"),
    ("decimal", "Decimal"),
    ("copyreg", "_reconstructor"),
    ("copy_reg", "_reconstructor"),
    ("functools", "partial"),
    ("collections", "defaultdict"),
    ("_codecs", "encode"),
]

UNKNOWN = [
    ("mymod", "Thing"),
    ("evil", "run"),
    ("__main__", "Net"),
    ("foo.bar", "baz"),
    ("x", "y.z"),
    ("torch.nn.modules.linear", "Linear"),
]

# Spellings a scanner may not expect: dotted names, whitespace, other scripts, empties.
WEIRD = [
    ("os.path", "join"),
    ("os", "path.join"),
    ("torch", "os.system"),
    ("", "system"),
    ("os", ""),
    ("os ", "system"),
    ("os", "system "),
    ("os", "sys tem"),
    ("os", ".system"),
    ("os.", "system"),
    ("\uff4f\uff53", "system"),
    ("os\r", "system"),
    ("os", "system\r"),
    ("o\u0301s", "system"),
    ("builtins", "getattr"),
    ("sys", "modules"),
    ("os", "\u0455ystem"),
]

DANGEROUS_SET = set(DANGEROUS)

# ---- encoders ------------------------------------------------------------------------------

P = struct.pack


def proto(n):
    return b"\x80" + bytes([n & 0xFF])


def frame(n):
    return b"\x95" + P("<Q", n & 0xFFFFFFFFFFFFFFFF)


def utf8(s):
    return s.encode("utf-8", "surrogatepass")


def text_line(s):
    return (s if isinstance(s, bytes) else utf8(s)) + b"\n"


def short_binunicode(s):
    b = utf8(s)[:255]
    return b"\x8c" + bytes([len(b)]) + b


def binunicode(s):
    b = utf8(s)
    return b"X" + P("<I", len(b)) + b


def binunicode8(s):
    b = utf8(s)
    return b"\x8d" + P("<Q", len(b)) + b


def unicode0(s):
    return b"V" + s.encode("raw-unicode-escape").replace(b"\n", b"\\u000a") + b"\n"


def string0(s, quote="'"):
    body = s.encode("latin-1", "replace")
    body = body.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(quote.encode(), b"\\" + quote.encode())
    return b"S" + quote.encode() + body + quote.encode() + b"\n"


def binstring(s):
    b = s.encode("latin-1", "replace")
    return b"T" + P("<i", len(b)) + b


def short_binstring(s):
    b = s.encode("latin-1", "replace")[:255]
    return b"U" + bytes([len(b)]) + b


STRING_ENCODERS = [
    short_binunicode,
    binunicode,
    binunicode8,
    unicode0,
    string0,
    lambda s: string0(s, '"'),
    binstring,
    short_binstring,
]


def push_str(r, s):
    return r.choice(STRING_ENCODERS)(s)


def push_int(r, v=None):
    if v is None:
        v = r.choice([0, 1, 2, 7, 255, 256, 65535, 65536, -1, 2**31 - 1, 2**40, -(2**63)])
    kind = r.randrange(6)
    if kind == 0 and 0 <= v < 256:
        return b"K" + bytes([v])
    if kind == 1 and 0 <= v < 65536:
        return b"M" + P("<H", v)
    if kind == 2 and -(2**31) <= v < 2**31:
        return b"J" + P("<i", v)
    if kind == 3:
        n = (v.bit_length() + 8) // 8 if v else 0
        return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)
    if kind == 4:
        return b"L" + str(v).encode() + b"L\n"
    return b"I" + str(v).encode() + b"\n"


INT_SPELLINGS = [
    "0", "1", "00", "01", "-0", "-00", "+5", "1_000", " 7", "7 ", "\t7", "7\t", "010", "0x1f",
    "0X1F", "0o17", "0b101", "0x_1f", "0_0", "00_0", "99999999999999999999999", "-1",
    "5\x00junk", "1__0", "_1", "1_", "08", "", "+", "5L", " ", "1e3", "\u0661", "0o", "-0x10",
    "\x0b5", "5\x0c", "+0", "-", "0b", "1 2", "9" * 40, "0x" + "f" * 20, "+_1", "0_7", "007",
]

LONG_SPELLINGS = [
    "5L", "5", "-5L", "0x10L", "1_000L", "010L", "L", "5LL", " 5L", "5 L", "9" * 30 + "L",
    "00L", "-0L", "0o7L", "1_0", "5l", "\t5L", "5L ", "0L", "+3L", "5\x00L",
]

FLOAT_SPELLINGS = [
    "1.5", "-0.0", " 1.5", "1.5 ", "1_000.5", "1e999", "-1e999", "inf", "-inf", "nan", "NaN",
    "infinity", "+1.5", "1.", "1e5", ".5", "0x1p3", "1,5", "", "1.5\x00x", "1_e5", "1e_5",
    "INF", "+nan", "1.5e", "e5", "5", "  2.0\t", "1__0.0", "0.1e-400", "nAn", "-iNfInItY",
]

STRING_SPELLINGS = [
    "'a'", '"a"', "'a\\n'", "'\\x41'", "'\\101'", "'a", "a'", "'it''s'", "'\\'", "''", "'\\z'",
    "'\\x4'", "'\\xzz'", "'caf\xe9'", "'a'\r", "'\\777'", "'\\0'", "\"it's\"", "'\"'", "'",
    "'a\\\\'", "'\\u0041'", "x", "'\\\n'", "'a' ", " 'a'",
]

UNICODE_SPELLINGS = [
    "abc", "\\u0041", "\\u00", "\\U0001F600", "\\U00110000", "caf\xe9", "\\x41", "\\", "\\u12g4",
    "\\N{DIGIT ONE}", "a\\u0062c", "\\U0000004", "", "\\\\u0041", "\\ud800",
]

INDEX_SPELLINGS = [
    "0", " 0", "0 ", "-0", "+0", "00", "0_0", "0\x00x", "1_0", "1", "-1", "", "0x0", "\t0",
    "0.0", "0L", "1e0", "٠",
]

PERSID_SPELLINGS = ["x", "1", "storage", "caf\xe9", "", "a b", "\x00"]


def raw_line(code, spelling):
    try:
        raw = spelling.encode("latin-1")
    except UnicodeEncodeError:
        raw = utf8(spelling)
    return code + raw + b"\n"


def push_const(r, depth=0):
    """Bytes that push one constant."""
    k = r.randrange(14 if depth < 2 else 9)
    if k == 0:
        return b"N"
    if k == 1:
        return r.choice([b"\x88", b"\x89", b"I00\n", b"I01\n"])
    if k in (2, 3):
        return push_int(r)
    if k == 4:
        return b"G" + P(">d", r.choice([0.5, -2.0, 1e300]))
    if k == 5:
        return b"F" + r.choice([b"1.5", b"-0.25", b"3"]) + b"\n"
    if k in (6, 7):
        return push_str(r, r.choice(["id", "touch /tmp/aigis", "x", "", "caf\xe9", "a\nb"]))
    if k == 8:
        data = r.choice([b"", b"abc", bytes(range(8))])
        return r.choice(
            [
                b"C" + bytes([len(data)]) + data,
                b"B" + P("<I", len(data)) + data,
                b"\x8e" + P("<Q", len(data)) + data,
                b"\x96" + P("<Q", len(data)) + data,
            ]
        )
    if k == 9:
        return b")"
    if k == 10:
        items = [push_const(r, depth + 1) for _ in range(r.randrange(4))]
        if len(items) in (1, 2, 3) and r.random() < 0.5:
            return b"".join(items) + bytes([0x84 + len(items)])
        return b"(" + b"".join(items) + b"t"
    if k == 11:
        items = [push_const(r, depth + 1) for _ in range(r.randrange(3))]
        return r.choice([b"]", b"(l"]) + (b"(" + b"".join(items) + b"e" if items else b"")
    if k == 12:
        pairs = [push_str(r, "k%d" % i) + push_const(r, depth + 1) for i in range(r.randrange(3))]
        return r.choice([b"}", b"(d"]) + (b"(" + b"".join(pairs) + b"u" if pairs else b"")
    return r.choice([b"\x8f", b"(\x91", b"\x8f(K\x01\x90"])


def push_args(r, allow_list=True):
    """Bytes that push a call's argument tuple (sometimes a list: the pure-Python REDUCE takes any
    iterable)."""
    n = r.choice([0, 1, 1, 1, 2])
    items = [
        push_str(r, r.choice(["id", "touch /tmp/aigis-diff", "import os", "x"]))
        if r.random() < 0.7
        else push_const(r, 1)
        for _ in range(n)
    ]
    if allow_list and r.random() < 0.05:
        return b"(" + b"".join(items) + b"l"
    if n == 0:
        return b")"
    if r.random() < 0.5:
        return b"".join(items) + bytes([0x84 + n])
    return b"(" + b"".join(items) + b"t"


def pick_name(r):
    roll = r.random()
    if roll < 0.55:
        return r.choice(DANGEROUS)
    if roll < 0.75:
        return r.choice(HARMLESS)
    if roll < 0.87:
        return r.choice(UNKNOWN)
    return r.choice(WEIRD)


def global_op(m, n):
    return b"c" + text_line(m) + text_line(n)


def push_global(r, m, n):
    """Bytes that push the global `m.n`: GLOBAL, or STACK_GLOBAL over strings of any kind, pushed
    directly, memoized on the way, or fetched back from the memo."""
    if "\n" not in m and "\n" not in n and r.random() < 0.5:
        return global_op(m, n)
    style = r.randrange(3)
    if style == 0:
        return push_str(r, m) + push_str(r, n) + b"\x93"
    if style == 1:
        return push_str(r, m) + b"\x94" + push_str(r, n) + b"\x94" + b"\x93"
    return (
        push_str(r, m)
        + b"q\x07"
        + b"0"
        + push_str(r, n)
        + b"r\x08\x00\x00\x00"
        + b"0"
        + b"h\x07"
        + b"j\x08\x00\x00\x00"
        + b"\x93"
    )


def payload(r):
    """Bytes that push one value, made by a call, construction or import."""
    m, n = pick_name(r)
    style = r.randrange(15)
    if style <= 2:  # GLOBAL/STACK_GLOBAL + args + REDUCE
        return push_global(r, m, n) + push_args(r) + b"R"
    if style == 3:  # INST
        if "\n" in m or "\n" in n:
            return push_global(r, m, n)
        return b"(" + push_str(r, "id") + b"i" + text_line(m) + text_line(n)
    if style == 4:  # OBJ
        return b"(" + push_global(r, m, n) + push_str(r, "id") + b"o"
    if style == 5:  # NEWOBJ
        return push_global(r, m, n) + push_args(r, False) + b"\x81"
    if style == 6:  # NEWOBJ_EX
        return push_global(r, m, n) + push_args(r, False) + b"}" + b"\x92"
    if style == 7:  # __setstate__ planted by a first BUILD, called by a second
        hm, hn = r.choice(HARMLESS + UNKNOWN)
        return (
            push_global(r, hm, hn)
            + b")\x81"
            + b"}"
            + push_str(r, "__setstate__")
            + push_global(r, m, n)
            + b"s"
            + b"b"
            + push_str(r, "id")
            + b"b"
        )
    if style == 8:  # getattr(module-level object, name)(args)
        return (
            global_op("builtins", "getattr")
            + push_global(r, m, "path" if not n else n.split(".")[0])
            + push_str(r, r.choice(["system", "join", n or "x"]))
            + b"\x86R"
            + push_args(r)
            + b"R"
        )
    if style == 9:  # EXT codes (unregistered in a default process), optionally registered first
        code = r.choice([1, 2, 255, 256, 65535, 65536, 0x7FFFFFFF, 0])
        ext = (
            b"\x82" + bytes([code & 0xFF])
            if code < 256
            else (b"\x83" + P("<H", code) if code < 65536 else b"\x84" + P("<i", code))
        )
        register = b""
        if r.random() < 0.5:
            register = (
                global_op("copyreg", "add_extension")
                + push_str(r, m)
                + push_str(r, n)
                + push_int(r, code)
                + b"\x87R0"
            )
        return register + ext + push_args(r) + b"R"
    if style == 10:  # persistent ids: torch.save's ('module', cls, ...) or an opaque id
        if r.random() < 0.5:
            pid = b"(" + push_str(r, "module") + push_global(r, m, n) + push_str(r, "f.py") + b"t"
            return pid + b"Q" + push_args(r) + b"R"
        return raw_line(b"P", r.choice(PERSID_SPELLINGS)) + push_args(r) + b"R"
    if style == 11:  # OBJ whose result is popped at once
        return b"(" + push_global(r, m, n) + push_str(r, "id") + b"o0" + push_const(r)
    if style == 12:  # functools.partial(f, args)() 
        return (
            global_op("functools", "partial")
            + b"("
            + push_global(r, m, n)
            + push_str(r, "id")
            + b"tR)R"
        )
    if style == 13:  # memoized global fetched back
        idx = r.choice([0, 1, 3, 200])
        put = r.choice(
            [b"p" + str(idx).encode() + b"\n", b"q" + bytes([idx & 0xFF]), b"r" + P("<I", idx)]
        )
        get = {b"p": b"g" + str(idx).encode() + b"\n", b"q": b"h" + bytes([idx & 0xFF]), b"r": b"j" + P("<I", idx)}[put[:1]]
        return push_global(r, m, n) + put + b"0" + get + push_args(r) + b"R"
    # out-of-band buffers before the call
    return b"\x97\x98" + b"0" + push_global(r, m, n) + push_args(r) + b"R"


def harmless_value(r):
    return push_const(r)


def body(r, calls=True):
    """Opcodes that leave exactly one value on the stack."""
    parts = []
    for _ in range(r.randrange(1, 4)):
        parts.append(payload(r) if calls and r.random() < 0.6 else harmless_value(r))
    if len(parts) == 1:
        return parts[0]
    return b"(" + b"".join(parts) + b"l"


def program(r, proto_n=None, calls=True):
    if proto_n is None:
        proto_n = r.choice([None, 0, 1, 2, 3, 4, 5])
    head = b"" if proto_n is None else proto(proto_n)
    return head + body(r, calls) + b"."


# ---- families ------------------------------------------------------------------------------


def fam_program(r):
    return program(r)


def fam_text_args(r):
    """Protocol-0 text arguments in every spelling, then a payload: a scanner that stops at one
    Python accepts never sees the payload."""
    parts = []
    for _ in range(r.randrange(1, 4)):
        kind = r.randrange(8)
        if kind == 0:
            parts.append(raw_line(b"I", r.choice(INT_SPELLINGS)) + b"0")
        elif kind == 1:
            parts.append(raw_line(b"L", r.choice(LONG_SPELLINGS)) + b"0")
        elif kind == 2:
            parts.append(raw_line(b"F", r.choice(FLOAT_SPELLINGS)) + b"0")
        elif kind == 3:
            parts.append(raw_line(b"S", r.choice(STRING_SPELLINGS)) + b"0")
        elif kind == 4:
            parts.append(raw_line(b"V", r.choice(UNICODE_SPELLINGS)) + b"0")
        elif kind == 5:
            idx = r.choice(INDEX_SPELLINGS)
            parts.append(b"N" + raw_line(b"p", idx) + b"0" + raw_line(b"g", r.choice([idx, "0"])) + b"0")
        elif kind == 6:
            parts.append(raw_line(b"P", r.choice(PERSID_SPELLINGS)) + b"0")
        else:
            parts.append(raw_line(b"I", r.choice(INT_SPELLINGS)) + b"p0\n0")
    head = r.choice([b"", b"", proto(2), proto(4)])
    return head + b"".join(parts) + payload(r) + b"."


def fam_first_op(r):
    """Any opcode first: FRAME, EMPTY_SET, SHORT_BINUNICODE, LONG1, MEMOIZE, …"""
    first = r.choice(
        [
            frame(r.randrange(0, 64)),
            b"\x8f",
            b"\x8c\x02ab",
            b"\x8a\x01\x05",
            b"\x8b\x01\x00\x00\x00\x05",
            b"\x94",
            b"\x88",
            b"G" + P(">d", 1.0),
            b"\x96" + P("<Q", 1) + b"x",
            b"\x97",
            b"B\x01\x00\x00\x00x",
            b"\x8e" + P("<Q", 0),
            b"\x8d" + P("<Q", 1) + b"a",
            b"}",
            b"(",
            b"0",
            b"1",
            b"2",
            b"h\x00",
            b"K\x00",
            b"\x85",
            b"e",
            b"u",
            b"s",
            b"a",
            b"b",
            b"R",
            b"Q",
            b"\x90",
            b"\x91",
            b"\x82\x01",
            b"\x95" + P("<Q", 2**63),
            b"\x80\x06",
            b"\x80\xff",
            b"\xff",
        ]
    )
    tail = payload(r) + b"."
    if first.startswith(b"\x95"):
        first = frame(len(tail)) if r.random() < 0.5 else first
    return first + tail


def fam_eof_line(r):
    """A final text line without a newline: the pure-Python unpickler reads it (and drops its
    last character where it slices the newline off)."""
    m, n = pick_name(r)
    if "\n" in m or "\n" in n:
        m, n = "os", "system"
    extra = r.choice(["X", "", "\r", "  "])
    kind = r.randrange(6)
    pre = r.choice([b"", proto(2), proto(4)])
    if kind == 0:
        return pre + b"(" + push_str(r, "id") + b"i" + text_line(m) + utf8(n + extra)
    if kind == 1:
        return pre + b"c" + text_line(m) + utf8(n + extra)
    if kind == 2:
        return pre + b"c" + utf8(m + extra)
    if kind == 3:
        return pre + b"c" + text_line(m)
    if kind == 4:
        return pre + push_args(r) + b"P" + utf8(r.choice(PERSID_SPELLINGS) + extra)
    return pre + b"(" + push_str(r, "id") + b"i" + text_line(m) + text_line(n) + b"I1"


def _split_frame(r, visible_linear, visible_buffered, pad=b""):
    """A FRAME that ends inside an opcode argument. Reading the argument, the linear readers
    (bytes, a file read through `peek`) take the frame's last bytes plus the bytes after it; a
    reader that holds the frame in its buffer (the C unpickler on `BytesIO`, or on a file when the
    frame was read whole) drops the frame's tail and takes the argument after the frame end. The
    two then go on `j` bytes apart: each sees its own program. The pure-Python unpickler stops
    there ("pickle exhausted before end of frame")."""
    j = 2
    hidden = visible_buffered if len(visible_buffered) < 128 else b"N."
    pre = r.choice([b"", b"N0", push_const(r) + b"0"])
    kind = r.randrange(4)
    if kind == 0:
        k = r.choice([4, 6, 10])
        opener = b"\x8c" + bytes([k])  # SHORT_BINUNICODE of k bytes
    elif kind == 1:
        k = 4
        opener = b"J"  # BININT: a 4-byte argument
    elif kind == 2:
        k = 8
        opener = b"G"  # BINFLOAT
    else:
        k = r.choice([4, 6])
        opener = b"C" + bytes([k])  # SHORT_BINBYTES
    in_frame = pad + pre + opener + b"a" * j
    rest_of_arg = b"b" * (k - j)
    # Linear: the argument ends after `rest_of_arg`; SHORT_BINBYTES then skips the buffered
    # reader's program. Buffered: the argument is `rest_of_arg` plus the SHORT_BINBYTES header,
    # so it goes on at `hidden`.
    skip = b"C" + bytes([len(hidden)])
    return (
        proto(4) + frame(len(in_frame)) + in_frame + rest_of_arg + skip + hidden + b"0" + visible_linear
    )


def fam_frame_split(r):
    evil = body(r) + b"."
    tame = harmless_value(r) + b"."
    if r.random() < 0.5:
        return _split_frame(r, tame, evil)
    return _split_frame(r, evil, tame)


def fam_frame_line(r):
    """A FRAME that ends inside a text line (GLOBAL, INT, UNICODE): the C unpickler on a buffered
    frame drops the frame's part of the line and reads the line from the frame end."""
    m, n = pick_name(r)
    if "\n" in m or "\n" in n:
        m, n = "os", "system"
    head = proto(r.choice([2, 4]))
    kind = r.randrange(3)
    if kind == 0:
        # in frame: "c" + "xx"; after: "os\nsystem\n" ... linear module = "xxos", buffered = "os"
        in_frame = b"c" + b"xx"
        after = text_line(m) + text_line(n) + push_args(r) + b"R."
    elif kind == 1:
        in_frame = b"(" + push_str(r, "id") + b"i" + b"zz"
        after = text_line(m) + text_line(n) + b"."
    else:
        in_frame = b"V" + b"abc"
        after = b"\n0" + payload(r) + b"."
    return head + frame(len(in_frame)) + in_frame + after


def fam_stop_in_frame(r):
    """STOP inside a frame that declares more bytes; then more pickles. A reader that loads the
    next pickle from the same file starts at the frame end (the C unpickler buffering the frame,
    the pure-Python unpickler) or right after STOP (reading through `peek`)."""
    first = proto(4) + harmless_value(r) + b"."
    tail = r.choice([program(r, 4), b"", b"junk", payload(r) + b"."])
    second = program(r, r.choice([None, 2, 4]))
    fr = frame(len(first) - 2 + len(tail) + r.choice([0, 0, 3]))
    return first[:2] + fr + first[2:] + tail + second


def fam_frame_nested(r):
    """A FRAME inside a frame, extending past the outer one."""
    inner_body = body(r) + b"."
    outer_pre = proto(4)
    inner = frame(len(inner_body) + r.choice([0, 5, 20]))
    outer_content = harmless_value(r) + b"0" + inner
    stream = outer_pre + frame(len(outer_content) + r.choice([0, 2, 6])) + outer_content + inner_body
    return stream


def fam_frame_oversized(r):
    """A FRAME declaring more bytes than the file holds: the C unpickler refuses it, the
    pure-Python one reads the short frame and goes on."""
    rest = body(r) + b"."
    return proto(4) + frame(len(rest) + r.choice([1, 100, 2**20, 2**40])) + rest


def fam_frames_random(r):
    """Frames at random opcode boundaries with exact, short and long lengths."""
    prog = program(r, r.choice([4, 5]))
    out = prog[:2]
    rest = prog[2:]
    cuts = sorted(r.sample(range(len(rest) + 1), min(len(rest) + 1, r.randrange(1, 4))))
    prev = 0
    for c in cuts:
        chunk = rest[prev:c]
        out += chunk
        remaining = len(rest) - c
        length = r.choice([remaining, r.randrange(0, remaining + 1), remaining + r.randrange(1, 5), 0])
        out += frame(length)
        prev = c
    out += rest[prev:]
    return out


def fam_big_prefix_frame(r):
    """A frame longer than a file buffer: the C unpickler reading a real file through `peek`
    reads such a frame whole (buffered) rather than through the peeked bytes."""
    pad = b"B" + P("<I", 9000) + b"\x00" * 9000 + b"0"
    if r.random() < 0.5:
        return _split_frame(r, harmless_value(r) + b".", body(r) + b".", pad)
    return _split_frame(r, body(r) + b".", harmless_value(r) + b".", pad)


def fam_multi(r):
    """Pickles back to back (the legacy torch.save layout), some failing, data after STOP."""
    pickles = []
    if r.random() < 0.3:
        pickles.append(proto(2) + b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")
        pickles.append(proto(2) + b"M\xe9\x03.")
    for _ in range(r.randrange(1, 4)):
        pickles.append(program(r, r.choice([None, 2, 4]), calls=r.random() < 0.5))
    if r.random() < 0.5:
        pickles.append(program(r))
    tail = r.choice(
        [b"", b"", b"\x00" * 8, b"junk\n", payload(r), b"\xff\xfe", program(r)[:-1], b"\n", b"."]
    )
    return b"".join(pickles) + tail


def fam_random_ops(r):
    """Random opcodes with random arguments: mostly broken, sometimes odd-but-accepted."""
    out = b""
    if r.random() < 0.5:
        out += proto(r.choice([0, 2, 4, 5, 6]))
    for _ in range(r.randrange(1, 12)):
        roll = r.random()
        if roll < 0.3:
            out += push_const(r)
        elif roll < 0.45:
            out += payload(r)
        elif roll < 0.75:
            out += bytes([r.choice(b"()}].0121RbaesutdlNoi\x85\x86\x87\x81\x92\x93\x94\x90\x91\x97\x98")])
        elif roll < 0.85:
            out += frame(r.randrange(0, 40))
        else:
            out += bytes([r.randrange(256)])
    if r.random() < 0.8:
        out += b"."
    return out


def mutate(r, data):
    if not data:
        return data
    k = r.randrange(5)
    i = r.randrange(len(data))
    if k == 0:
        return data[:i] + bytes([r.randrange(256)]) + data[i + 1 :]
    if k == 1:
        return data[:i] + data[i + 1 :]
    if k == 2:
        return data[:i] + bytes([r.choice(b"\n.0(\x95\x94")]) + data[i:]
    if k == 3:
        return data[:i]
    return data + data[i:]


FAMILIES = [
    (fam_program, 18),
    (fam_text_args, 14),
    (fam_first_op, 6),
    (fam_eof_line, 6),
    (fam_frame_split, 8),
    (fam_frame_line, 5),
    (fam_stop_in_frame, 6),
    (fam_frame_nested, 4),
    (fam_frame_oversized, 3),
    (fam_frames_random, 6),
    (fam_big_prefix_frame, 1),
    (fam_multi, 10),
    (fam_random_ops, 8),
]
_FAMILY_TOTAL = sum(w for _, w in FAMILIES)


def make_case(seed, i):
    r = random.Random("%d:%d" % (seed, i))
    pick = r.randrange(_FAMILY_TOTAL)
    for fam, weight in FAMILIES:
        if pick < weight:
            break
        pick -= weight
    data = fam(r)
    name = fam.__name__[4:]
    if r.random() < 0.12:
        data = mutate(r, data)
        name += "+mutated"
    return name, data


def dangerous_reached(readings):
    out = set()
    for reading in readings:
        for m, q in reading["g"]:
            if (m, q) in DANGEROUS_SET:
                out.add("%s.%s" % (m, q))
        for m, q, _ in reading["c"]:
            if (m, q) in DANGEROUS_SET:
                out.add("%s.%s" % (m, q))
    return sorted(out)


def json_safe(value):
    """`value` with every lone surrogate in its strings (a name a loader decoded with
    `surrogateescape`) replaced by U+FFFD: JSON readers other than Python's refuse them."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    out = sys.stdout if args.out == "-" else open(args.out, "w")  # noqa: SIM115
    fd, tmp = tempfile.mkstemp(prefix="aigis-pickle-diff-")
    os.close(fd)
    try:
        for i in range(args.start, args.start + args.count):
            family, data = make_case(args.seed, i)
            readings = pickle_loader.read_all_ways(data, tmp)
            row = {"i": i, "f": family, "b": data.hex(), "r": readings}
            row["x"] = dangerous_reached(readings)
            out.write(json.dumps(json_safe(row), separators=(",", ":")) + "\n")
    finally:
        os.unlink(tmp)
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
