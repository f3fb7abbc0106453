#!/usr/bin/env python3
"""What the current ML libraries' own files invoke when loaded, derived from the files themselves.

Developer tool (issue 18 item 5), never run in CI or at scan time. Reads every pickle stream in
the real files that make_real_files.py wrote (plain pickles, joblib, gzip/bz2/xz/zip-compressed
pickles, the data.pkl of torch zips, legacy torch files with pickles back to back) *statically*,
with `pickletools.genops` and a stack simulation -- nothing is imported or loaded -- and lists
each global the stream uses and how:

  call   the global is invoked (REDUCE, INST, OBJ)
  new    the class is constructed without __init__ (NEWOBJ, NEWOBJ_EX)
  ref    the global is stored as data (an attribute, a dtype's type, a score function)

with whether any real file passes a global reference (a function or class object, at any depth
inside the arguments) to the call: `refs` when one does, `data` when the arguments are always
plain data and the results of other calls. Output: a sorted TSV that
`crates/aigis-pickle/src/known.rs` embeds; the classifier treats these names as what the
library writes (dangerous names and the effects of effects.tsv still win over it; the standard
library is left to the reviewed tables of callables.rs), and a call
listed as `data` that is handed a function or class is judged as a forwarder would be.

  python scripts/realfiles/derive_reconstructors.py target/realfiles \
      --out crates/aigis-pickle/data/reconstructors.tsv
"""
import argparse
import bz2
import collections
import gzip
import io
import json
import lzma
import os
import pickletools
import sys
import zipfile
import zlib
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING

MARK = object()
STDLIB = set(sys.stdlib_module_names) | {"__builtin__", "copy_reg", "__main__"}


class G:
    """A global pushed on the stack, named as Python 3 finds it (protocol 0-2 pickles spell
    builtins `__builtin__` and copyreg `copy_reg`; the unpickler maps them back)."""
    __slots__ = ("name",)

    def __init__(self, name):
        mod, _, qn = name.partition(" ")
        if (mod, qn) in NAME_MAPPING:
            mod, qn = NAME_MAPPING[(mod, qn)]
        elif mod in IMPORT_MAPPING:
            mod = IMPORT_MAPPING[mod]
        self.name = f"{mod}.{qn}"


class V:
    """Any other value; `refs` are the globals inside it that are held as data."""
    __slots__ = ("refs", "text")

    def __init__(self, refs=(), text=None):
        self.refs = frozenset(refs)
        self.text = text


def refs_of(item):
    if isinstance(item, G):
        return {item.name}
    if isinstance(item, V):
        return set(item.refs)
    return set()


def streams(data):
    """Pickle streams in a file's bytes: the whole, decompressed, or zip members."""
    if data[:2] == b"\x1f\x8b":
        yield from streams(gzip.decompress(data))
    elif data[:3] == b"BZh":
        yield from streams(bz2.decompress(data))
    elif data[:6] == b"\xfd7zXZ\x00":
        yield from streams(lzma.decompress(data))
    elif data[:2] in (b"\x78\x9c", b"\x78\x01", b"\x78\xda", b"\x78\x5e"):
        try:
            yield from streams(zlib.decompress(data))
        except zlib.error:
            pass
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                n = info.filename
                if n.endswith(".pkl") or n.endswith("/data.pkl") or "." not in n.rsplit("/", 1)[-1]:
                    yield from streams(z.read(info))
    elif data[:1] == b"\x80" or data[:1] in (b"(", b"c", b"]", b"}"):
        yield data


def read_stream(data, uses):
    """Simulate the stack of every pickle back to back in `data`; record global uses."""
    pos = 0
    while pos < len(data):
        stack, memo = [], {}
        end = None
        try:
            for op, arg, at in pickletools.genops(io.BytesIO(data[pos:])):
                step(op, arg, stack, memo, uses)
                if op.name == "STOP":
                    end = at + 1
        except Exception:
            return
        if end is None:
            return
        pos += end
        # joblib / legacy torch: raw bytes may follow; keep going only at another pickle.
        if data[pos:pos + 1] != b"\x80":
            return


def pop_mark(stack):
    items = []
    while stack:
        x = stack.pop()
        if x is MARK:
            break
        items.append(x)
    items.reverse()
    return items


def note(uses, g, how, args_items=()):
    refs = set()
    for a in args_items:
        refs |= refs_of(a)
    u = uses[(how, g.name)]
    u["n"] += 1
    if refs:
        u["refs"] = True
    for r in refs:
        if not r.startswith("<"):
            uses[("ref", r)]["n"] += 1


def step(op, arg, stack, memo, uses):
    name = op.name
    if name == "MARK":
        stack.append(MARK)
    elif name in ("GLOBAL", "INST"):
        mod, qn = arg.split(" ", 1)
        g = G(f"{mod} {qn}")
        if name == "GLOBAL":
            stack.append(g)
        else:
            items = pop_mark(stack)
            note(uses, g, "call", items)
            stack.append(V())
    elif name == "STACK_GLOBAL":
        qn, mod = stack.pop(), stack.pop()
        mt = mod.text if isinstance(mod, V) else None
        qt = qn.text if isinstance(qn, V) else None
        stack.append(G(f"{mt} {qt}") if mt and qt else V())
    elif name == "OBJ":
        items = pop_mark(stack)
        if items and isinstance(items[0], G):
            note(uses, items[0], "call", items[1:])
        stack.append(V())
    elif name == "REDUCE":
        args, f = stack.pop(), stack.pop()
        result = V()
        if isinstance(f, G):
            note(uses, f, "call", [args])
            # What aigis's machine keeps as a callable rather than a call result: an attribute
            # fetched with getattr, a ufunc rebuilt by name, a partial (which holds its function).
            if f.name.rsplit(".", 1)[-1] in ("getattr", "_ufunc_reconstruct"):
                result = V({f"<{f.name}>"})
            elif f.name == "functools.partial":
                result = V(refs_of(args))
        stack.append(result)
    elif name in ("NEWOBJ", "NEWOBJ_EX"):
        kw = stack.pop() if name == "NEWOBJ_EX" else None
        args, cls = stack.pop(), stack.pop()
        if isinstance(cls, G):
            note(uses, cls, "new", [args] + ([kw] if kw is not None else []))
        stack.append(V())
    elif name == "BUILD":
        state = stack.pop()
        for r in refs_of(state):
            if not r.startswith("<"):
                uses[("ref", r)]["n"] += 1
    elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[arg] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        stack.append(memo.get(arg, V()))
    elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                  "BINSTRING", "SHORT_BINSTRING"):
        stack.append(V(text=arg if isinstance(arg, str) else None))
    elif name == "STOP":
        top = stack.pop() if stack else None
        for r in refs_of(top):
            if not r.startswith("<"):
                uses[("ref", r)]["n"] += 1
    else:
        before = op.stack_before
        popped = []
        if pickletools.markobject in before:
            n_after_mark = len(before) - before.index(pickletools.markobject) - 2
            for _ in range(max(n_after_mark, 0)):
                popped.append(stack.pop())
            popped.extend(pop_mark(stack))
            n_before_mark = before.index(pickletools.markobject)
            for _ in range(n_before_mark):
                popped.append(stack.pop())
        else:
            for _ in before:
                popped.append(stack.pop())
        refs = set()
        for p in popped:
            refs |= refs_of(p)
        for _ in op.stack_after:
            stack.append(V(refs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default="target/realfiles")
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    versions = {}
    for m in [os.path.join(args.dir, f) for f in sorted(os.listdir(args.dir))
                           if f.startswith("manifest-")]:
        if os.path.exists(m):
            with open(m) as f:
                first = json.loads(f.readline())
                versions.update(first.get("versions", {}))
    seen = collections.defaultdict(lambda: {"n": 0, "refs": False, "libs": set(), "file": None})
    for root, _, files in os.walk(args.dir):
        for fn in sorted(files):
            path = os.path.join(root, fn)
            rel = os.path.relpath(path, args.dir)
            lib = rel.split(os.sep)[0]
            with open(path, "rb") as f:
                data = f.read()
            uses = collections.defaultdict(lambda: {"n": 0, "refs": False})
            for s in streams(data):
                read_stream(s, uses)
            for key, u in uses.items():
                e = seen[key]
                e["n"] += u["n"]
                e["refs"] |= u["refs"]
                e["libs"].add(lib)
                e["file"] = e["file"] or rel
    lines = []
    for (how, name), e in seen.items():
        # The standard library is reviewed by hand (callables.rs): what `getattr` or
        # `copyreg._reconstructor` does depends on its arguments, not on who wrote the file.
        if name.split(".")[0] in STDLIB or name.startswith("__main__."):
            continue
        kind = "refs" if e["refs"] else "data"
        lines.append(f"{how}\t{name}\t{kind}\t{','.join(sorted(e['libs']))}\t{e['file']}")
    lines.sort(key=lambda l: (l.split("\t")[1], l.split("\t")[0]))
    header = [
        "# Generated by scripts/realfiles/derive_reconstructors.py from the files of "
        "scripts/realfiles/make_real_files.py; do not edit by hand.",
        "# " + "; ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "# how\tname\targuments\tlibraries\texample",
    ]
    text = "\n".join(header + lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"{len(lines)} names -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
