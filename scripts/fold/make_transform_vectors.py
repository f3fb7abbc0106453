#!/usr/bin/env python3
"""Test vectors for the str/bytes methods, operators and base-N decoders folded by
crates/aigis-pickle/src/fold/{methods,basen}.rs, computed by CPython's own functions.

Each line is a JSON object: `f`, the callee as the pickle machine names it
(`builtins.bytes.replace`, `operator.mod`, `base64.a85decode`...); `a`, the positional
arguments (for a method, `self` first); `k`, keyword arguments; `out`, CPython's result, or
`"!"` when CPython raises (the fold must refuse); `may_refuse`, true where the fold is allowed
to leave a value CPython computes uncomputed (outside the subset it folds, so the loader that
receives it is reported instead). Values: {"b": hex} bytes, {"ba": hex} bytearray, {"s": str},
{"i": int}, {"float": x}, {"bool": b}, {"none": 1}, {"t": [...]} tuple, {"l": [...]} list, {"d": [[k, v]]}
dict, {"rev": value} `reversed(value)`.

Seeded and standard library only:

    python3 scripts/fold/make_transform_vectors.py > crates/aigis-pickle/tests/data/transform_vectors.jsonl
"""
import base64
import json
import operator
import random
import sys

rng = random.Random(18)


class Rev:
    def __init__(self, v):
        self.v = v


def enc(v):
    if isinstance(v, Rev):
        return {"rev": enc(v.v)}
    if isinstance(v, bool):
        return {"bool": v}
    if v is None:
        return {"none": 1}
    if isinstance(v, int):
        return {"i": v}
    if isinstance(v, float):
        return {"float": v}
    if isinstance(v, bytearray):
        return {"ba": bytes(v).hex()}
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, str):
        return {"s": v}
    if isinstance(v, tuple):
        return {"t": [enc(x) for x in v]}
    if isinstance(v, list):
        return {"l": [enc(x) for x in v]}
    if isinstance(v, dict):
        return {"d": [[enc(k), enc(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def real(v):
    return reversed(real(v.v)) if isinstance(v, Rev) else v


FUNCS = {
    "operator.mul": operator.mul,
    "_operator.mul": operator.mul,
    "operator.__mul__": operator.__mul__,
    "operator.mod": operator.mod,
    "_operator.__mod__": operator.__mod__,
    "base64.a85decode": base64.a85decode,
    "base64.b85decode": base64.b85decode,
    "base64.b32decode": base64.b32decode,
    "base64.b32hexdecode": base64.b32hexdecode,
    "builtins.bytes": bytes,
    "builtins.bytearray": bytearray,
}


def resolve(f):
    if f in FUNCS:
        return FUNCS[f]
    _, ty, method = f.split(".")
    return getattr({"bytes": bytes, "bytearray": bytearray, "str": str}[ty], method)


def has_surrogate(v):
    return isinstance(v, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in v)


def emit(f, args, kw=None, may_refuse=False):
    kw = kw or {}
    try:
        out = resolve(f)(*[real(a) for a in args], **kw)
        if has_surrogate(out):
            out, may_refuse = "!", False
        else:
            out = enc(out)
    except Exception:  # noqa: BLE001 -- whatever CPython raises, the fold refuses
        out = "!"
    row = {"f": f, "a": [enc(a) for a in args], "k": {k: enc(v) for k, v in kw.items()},
           "out": out}
    if may_refuse:
        row["may_refuse"] = True
    print(json.dumps(row, ensure_ascii=False))


TEXT = ["", "a", "abc", "aaa", "abab", "cos\nsystem\n", " \t x \n", "\u00e9t\u00e9", "\U0001F600x",
        "\x1c a \x1f", "\u3000a\u2028", "\x85\xa0z\u200b"]
BYTES = [b"", b"a", b"abc", b"aaa", b"abab", b"cos\nsystem\n", b" \t x \n", b"\x0b\x0cz\x1c",
         b"\x80\x02c", b"\x00\xff\x00"]


def rand_bytes(alpha, n):
    return bytes(rng.choice(alpha) for _ in range(rng.randrange(n)))


def rand_text(alpha, n):
    return "".join(rng.choice(alpha) for _ in range(rng.randrange(n)))


def methods():
    balpha = b"ab \t\n\x0b\x00\xff"
    talpha = "ab \t\n\u00e9\u3000\x1c\U0001F600"
    for ty, pool, rnd in [("bytes", BYTES, lambda: rand_bytes(balpha, 9)),
                          ("bytearray", [bytearray(b) for b in BYTES],
                           lambda: bytearray(rand_bytes(balpha, 9))),
                          ("str", TEXT, lambda: rand_text(talpha, 9))]:
        conv = (lambda x: x) if ty != "bytearray" else bytearray
        part = (lambda: rand_bytes(b"ab\x00", 3)) if ty != "str" else (lambda: rand_text("ab\u00e9", 3))
        f = f"builtins.{ty}."
        samples = list(pool) + [rnd() for _ in range(60)]
        for s in samples:
            old, new = conv(part()), conv(part())
            emit(f + "replace", [s, old, new])
            emit(f + "replace", [s, old, new, rng.choice([-1, 0, 1, 2, 5])])
            emit(f + "strip", [s])
            emit(f + "lstrip", [s, None])
            emit(f + "rstrip", [s, conv(part())])
            emit(f + "strip", [s, conv(part())])
            emit(f + "removeprefix", [s, conv(part())])
            emit(f + "removesuffix", [s, conv(part())])
            for m in ["upper", "lower", "swapcase"]:
                emit(f + m, [s], may_refuse=ty == "str" and not s.isascii())
            emit(f + "__mul__", [s, rng.choice([-2, 0, 1, 3, True])])
            emit(f + "__rmul__", [s, rng.choice([0, 2])])
            emit("operator.mul", [rng.choice([0, 2, False]), s])
            emit("operator.mul", [s, 3])
        # Wrong types: the fold refuses what CPython refuses.
        other = "x" if ty != "str" else b"x"
        emit(f + "replace", [pool[2], other, pool[1]])
        emit(f + "strip", [pool[2], other])
        emit(f + "replace", [pool[2], pool[1], pool[1], 1.5])
        emit(f + "replace", [pool[2]])
        emit("operator.mul", [pool[2], pool[2]])
    emit("builtins.bytes.replace", [bytearray(b"abc"), b"a", b"b"])
    emit("builtins.str.replace", [b"abc", "a", "b"])
    # translate and maketrans.
    table = bytes.maketrans(b"abc", b"xyz")
    emit("builtins.bytes.maketrans", [b"abc", b"xyz"])
    emit("builtins.bytearray.maketrans", [bytearray(b"\x00\xff"), b"\xff\x00"])
    emit("builtins.bytes.maketrans", [b"ab", b"x"])
    emit("builtins.bytes.maketrans", ["ab", "xy"])
    for s in BYTES + [rand_bytes(b"abcz\x00\xff", 12) for _ in range(40)]:
        emit("builtins.bytes.translate", [s, table])
        emit("builtins.bytes.translate", [s, None, b"a\x00"])
        emit("builtins.bytes.translate", [s, table], {"delete": b"z"})
        emit("builtins.bytearray.translate", [bytearray(s), bytes(range(255, -1, -1))])
    emit("builtins.str.maketrans", ["abc", "xyz"])
    emit("builtins.str.maketrans", ["aab", "xyz", "qa"])
    emit("builtins.str.maketrans", ["ab", "x"])
    emit("builtins.str.maketrans", [{"a": "b", 98: None, 99: "\U0001F600", "a": 7}])
    emit("builtins.str.maketrans", [{"ab": 1}])
    emit("builtins.str.maketrans", [b"ab", b"xy"])
    emit("builtins.bytes.translate", [b"abc", b"xyz"])
    emit("builtins.bytes.translate", [b"abc", "x" * 256])
    for s in TEXT + [rand_text("abcz\u00e9\U0001F600", 12) for _ in range(40)]:
        emit("builtins.str.translate", [s, str.maketrans("abc", "xyz", "z")])
        emit("builtins.str.translate", [s, {97: "AA", 98: None, 99: 0x1F600, True: "one",
                                            "a": "never"}])
        emit("builtins.str.translate", [s, "0123456789" * 10])
        emit("builtins.str.translate", [s, {97: 0x110000}])
        emit("builtins.str.translate", [s, {97: 0xD800}])
        emit("builtins.str.translate", [s, {97: 1.5}])
        emit("builtins.str.translate", [s, {}])
    # reversed, consumed by bytes() and join.
    for b in BYTES + [rand_bytes(b"ab\x00\xff", 10) for _ in range(20)]:
        emit("builtins.bytes", [Rev(b)])
        emit("builtins.bytearray", [Rev(list(b))])
        emit("builtins.bytes", [Rev(tuple(b))])
        emit("builtins.bytes.join", [b"-", Rev([b[:1], b[1:2], b[2:]])])
        emit("builtins.bytes.join", [b"", Rev(b)])
    for t in TEXT + [rand_text("ab\u00e9\U0001F600", 10) for _ in range(20)]:
        emit("builtins.str.join", ["", Rev(t)])
        emit("builtins.str.join", ["+", t])
        emit("builtins.str.join", ["", Rev([t, "x", t[:2]])])
        emit("builtins.bytes", [Rev(t)])
    emit("builtins.bytes.join", [bytearray(b""), [b"a"]])


def plain_format(fmt, convs):
    """Whether every `%` of `fmt` is followed by one of `convs` (no flags, width, key)."""
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in convs:
                return False
            i += 2
        else:
            i += 1
    return True


def formatting():
    args_pool = ["x", "", "\u00e9", 0, 7, -255, True, False, None, 65, 0x1F600, 2 ** 40, b"q",
                 1.5, [1], "ab"]
    convs = ["s", "d", "i", "u", "x", "X", "o", "c", "r", "a", "%", "5d", "-s", "(k)s", "ld",
             "e"]
    for _ in range(400):
        n = rng.randrange(4)
        fmt = "".join(rng.choice(["a", "%" + rng.choice(convs), "\u00e9", " "]) for _ in range(n + 2))
        plain = plain_format(fmt, "sdiuxXoc%")
        k = fmt.count("%") - 2 * fmt.count("%%")
        vals = tuple(rng.choice(args_pool) for _ in range(max(0, k + rng.choice([-1, 0, 0, 0, 1]))))
        ok_vals = all(isinstance(v, (str, int)) or v is None for v in vals)
        refusable = not plain or not ok_vals or "%(" in fmt
        emit("operator.mod", [fmt, vals], may_refuse=refusable)
        if len(vals) == 1:
            emit("builtins.str.__mod__", [fmt, vals[0]], may_refuse=refusable)
    bconvs = ["s", "b", "d", "x", "c", "%", "r", "a", "5s"]
    bpool = [b"x", bytearray(b"yz"), b"", 0, 255, 256, -1, "s", True, b"\x80\x02"]
    for _ in range(300):
        n = rng.randrange(4)
        fmt = b"".join(rng.choice([b"a", b"%" + rng.choice(bconvs).encode(), b"\xff"])
                       for _ in range(n + 2))
        k = fmt.count(b"%") - 2 * fmt.count(b"%%")
        vals = tuple(rng.choice(bpool) for _ in range(max(0, k + rng.choice([-1, 0, 0, 1]))))
        refusable = not plain_format(fmt.decode("latin-1"), "sbdxc%")
        emit("operator.mod", [fmt, vals], may_refuse=refusable)
        emit("_operator.__mod__", [bytearray(fmt), vals], may_refuse=refusable)
    emit("operator.mod", ["abc", {}], may_refuse=True)
    emit("operator.mod", ["abc", b"x"], may_refuse=True)
    emit("operator.mod", ["%s", "abc"])
    emit("operator.mod", ["abc", 5])
    emit("operator.mod", [b"%s", b"abc"])
    emit("operator.mod", [b"abc", b"abc"])
    # str.format.
    fields = ["{}", "{0}", "{1}", "{k}", "{{", "}}", "}", "{", "{0!r}", "{:>3}", "{0.real}",
              "{0[0]}", "{ }", "{00}", "{x y}", "a", "\u00e9"]
    fpool = ["x", 3, True, None, "\U0001F600", 1.5, b"b"]
    for _ in range(400):
        fmt = "".join(rng.choice(fields) for _ in range(rng.randrange(1, 5)))
        args = [rng.choice(fpool) for _ in range(rng.randrange(3))]
        kw = {k: rng.choice(fpool) for k in rng.sample(["k", " ", "x y"], rng.randrange(3))}
        refusable = any(x in fmt for x in ["!", ":", ".", "["]) or any(
            isinstance(v, (float, bytes)) for v in list(args) + list(kw.values()))
        emit("builtins.str.format", [fmt] + args, kw, may_refuse=refusable)


def basen():
    blobs = [b"", b"\x00", b"\x00\x00\x00\x00", b"    ", b"abc", bytes(range(256)),
             b"\x80\x02cos\nsystem\n"] + [bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
                                          for _ in range(60)]
    for b in blobs:
        e = base64.a85encode(b)
        emit("base64.a85decode", [e])
        emit("base64.a85decode", [e.decode()])
        emit("base64.a85decode", [base64.a85encode(b, foldspaces=True)], {"foldspaces": True})
        emit("base64.a85decode", [base64.a85encode(b, adobe=True)], {"adobe": True})
        emit("base64.a85decode", [base64.a85encode(b, wrapcol=7)])
        emit("base64.a85decode", [base64.a85encode(b, wrapcol=7)], {"ignorechars": b""})
        emit("base64.b85decode", [base64.b85encode(b)])
        emit("base64.b85decode", [base64.b85encode(b, pad=True)])
        emit("base64.b32decode", [base64.b32encode(b)])
        emit("base64.b32decode", [base64.b32encode(b).lower()], {"casefold": True})
        emit("base64.b32decode", [base64.b32encode(b).lower()])
        emit("base64.b32hexdecode", [base64.b32hexencode(b)])
        emit("base64.b32hexdecode", [base64.b32hexencode(b).decode()], {"casefold": True})
        m = base64.b32encode(b).replace(b"O", b"0").replace(b"L", b"1")
        emit("base64.b32decode", [m], {"map01": b"L"})
        emit("base64.b32decode", [m, False, "L"])
    a85 = [bytes([c]) for c in b"!\"#$%&'()*+,-./0123456789:;<=>?@ABSZuz y~>\n\t"] + [b"<~", b"~>"]
    for _ in range(300):
        data = b"".join(rng.choice(a85) for _ in range(rng.randrange(12)))
        emit("base64.a85decode", [data])
        emit("base64.a85decode", [data], {"adobe": True, "foldspaces": True})
    b85 = [bytes([c]) for c in b"0189AZaz!#~|}{^_`;<=>?@ \x00\xff\""]
    for _ in range(300):
        emit("base64.b85decode", [b"".join(rng.choice(b85) for _ in range(rng.randrange(12)))])
    b32 = [bytes([c]) for c in b"AZ27aO01L=========89V!"]
    for _ in range(400):
        data = b"".join(rng.choice(b32) for _ in range(rng.choice([0, 7, 8, 8, 16, 16, 24])))
        emit("base64.b32decode", [data])
        emit("base64.b32decode", [data], {"casefold": True, "map01": b"L"})
        emit("base64.b32hexdecode", [data])
    emit("base64.a85decode", ["\u00e9"])
    emit("base64.a85decode", [b"abc"], {"ignorechars": "x"})
    emit("base64.b32decode", [b"AAAAAAAA"], {"map01": b"LL"})


def main():
    methods()
    formatting()
    basen()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
