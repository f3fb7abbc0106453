#!/usr/bin/env python3
"""Helper for scripts/bench: makes the benchmark data, times a command, renders the report.

Subcommands (all driven by scripts/bench; each is usable by hand too):

  checkpoint --out FILE --bytes N [--writer auto|torch|zipfile]
      A PyTorch zip checkpoint holding one float32 tensor of N bytes of random data.
  pickles --out DIR --count N [--malicious 10]
      N small pickle files (1-20 KB, protocols 2-5, some with numpy arrays), a few of them
      malicious; writes DIR.manifest.json listing which.
  time --out FILE -- CMD...
      Fallback timer when /usr/bin/time is missing: runs CMD, writes "wall_us maxrss_kb cpu_us".
  report --results TSV --logs DIR --meta FILE --manifest FILE --out FILE
      Reads the timings and the tools' outputs, prints the Markdown report.

Nothing here ever unpickles anything: the malicious files are only written, never loaded.
Standard library only (numpy and torch are used when importable), Python >= 3.8.
"""

import argparse
import json
import os
import pickle
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

CHUNK = 16 * 1024 * 1024  # write random data in 16 MiB pieces, never all in memory
ALIGN = 64  # torch aligns every stored record's data to 64 bytes


# --------------------------------------------------------------------------------------------
# checkpoint
# --------------------------------------------------------------------------------------------


def _pickle_int(n):
    """Opcode bytes for a non-negative int, chosen the way pickle's protocol-2 pickler does."""
    if n < 0x100:
        return b"K" + struct.pack("<B", n)
    if n < 0x10000:
        return b"M" + struct.pack("<H", n)
    if n < 0x80000000:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little")  # LONG1: signed little-endian
    return b"\x8a" + struct.pack("<B", len(raw)) + raw


class _Memo:
    """Emits BINPUT with increasing memo ids, as the pickler does for every memoized object."""

    def __init__(self):
        self.next = 0

    def put(self):
        op = b"q" + struct.pack("<B", self.next)
        self.next += 1
        return op


def _str(memo, s):
    data = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data + memo.put()


def torch_state_dict_pickle(numel, key="w"):
    """The exact data.pkl bytes torch.save({key: torch.randn(numel)}) writes (protocol 2).

    Checked byte for byte against torch 2.x output. The tensor is pickled as
    torch._utils._rebuild_tensor_v2(storage, 0, (numel,), (1,), False, OrderedDict()),
    where storage is the persistent id ('storage', torch.FloatStorage, '0', 'cpu', numel)
    that torch resolves to the zip record data/0.
    """
    m = _Memo()
    out = b"\x80\x02" + b"}" + m.put()  # PROTO 2, EMPTY_DICT
    out += _str(m, key)
    out += b"ctorch._utils\n_rebuild_tensor_v2\n" + m.put()
    out += b"(("  # MARK (args), MARK (persistent id tuple)
    out += _str(m, "storage")
    out += b"ctorch\nFloatStorage\n" + m.put()
    out += _str(m, "0") + _str(m, "cpu") + _pickle_int(numel)
    out += b"t" + m.put() + b"Q"  # TUPLE, BINPERSID
    out += _pickle_int(0)  # storage_offset
    out += _pickle_int(numel) + b"\x85" + m.put()  # size
    out += _pickle_int(1) + b"\x85" + m.put()  # stride
    out += b"\x89"  # requires_grad=False
    out += b"ccollections\nOrderedDict\n" + m.put() + b")R" + m.put()  # backward hooks
    out += b"t" + m.put() + b"R" + m.put() + b"s."  # TUPLE, REDUCE, SETITEM, STOP
    return out


def _random_chunks(total, seed):
    """Yields `total` random (incompressible) bytes in CHUNK pieces."""
    rng = random.Random(seed)
    left = total
    while left > 0:
        n = min(CHUNK, left)
        yield rng.randbytes(n) if hasattr(rng, "randbytes") else os.urandom(n)
        left -= n


def _aligned_zipinfo(zf, name, size):
    """A STORED ZipInfo whose data will start on a 64-byte boundary.

    torch pads the local file header with an extra field of id 'FB' filled with 'Z' bytes so
    each record's data is 64-byte aligned (that is what lets torch.load mmap tensors). Python's
    zipfile writes the local header at the current position: 30 bytes + name + extra (+ a
    20-byte zip64 extra it appends itself for big records), so we size the padding for that.
    """
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 0
    info.file_size = size
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule for records opened to write
    header = 30 + len(name.encode("utf-8")) + (20 if zip64 else 0)
    pad = (-(zf.fp.tell() + header + 4)) % ALIGN
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    return info, zip64


def _write_record(zf, name, data_or_chunks, size):
    info, zip64 = _aligned_zipinfo(zf, name, size)
    with zf.open(info, "w", force_zip64=zip64) as f:
        if isinstance(data_or_chunks, bytes):
            f.write(data_or_chunks)
        else:
            for chunk in data_or_chunks:
                f.write(chunk)


def write_checkpoint_zipfile(path, nbytes, seed):
    """Writes a checkpoint without torch, mirroring what torch.save(path) produces.

    Layout of torch.save({'w': tensor}, 'big.pt') with torch 2.x (records in torch's order,
    all STORED, each record's data 64-byte aligned by an 'FB' extra field; the folder prefix
    is the file name's stem, as torch uses for a path; torch.load accepts any prefix):
        big/data.pkl                  pickle (protocol 2) of the state dict, see above
        big/.format_version           "1"
        big/.storage_alignment        "64"
        big/byteorder                 "little"
        big/data/0                    the tensor's raw storage: nbytes of float32 data
        big/version                   "3\n"
        big/.data/serialization_id    40 random decimal digits
    Differences that no reader depends on: torch streams records with data descriptors and
    keeps the padding out of the central directory; zipfile writes sizes in the local header.
    """
    if nbytes % 4:
        raise SystemExit("checkpoint size must be a multiple of 4 (float32)")
    prefix = os.path.splitext(os.path.basename(path))[0]
    rng = random.Random(seed)
    serial = "".join(rng.choice("0123456789") for _ in range(40)).encode()
    records = [
        ("data.pkl", torch_state_dict_pickle(nbytes // 4)),
        (".format_version", b"1"),
        (".storage_alignment", b"64"),
        ("byteorder", b"little"),
        ("data/0", None),
        ("version", b"3\n"),
        (".data/serialization_id", serial),
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in records:
            full = prefix + "/" + name
            if data is None:
                _write_record(zf, full, _random_chunks(nbytes, seed), nbytes)
            else:
                _write_record(zf, full, data, len(data))
    check_alignment(path)


def check_alignment(path):
    """Asserts every record's data starts on a 64-byte boundary (as torch writes it)."""
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        for info in zf.infolist():
            f.seek(info.header_offset + 26)
            name_len, extra_len = struct.unpack("<HH", f.read(4))
            start = info.header_offset + 30 + name_len + extra_len
            if start % ALIGN:
                raise SystemExit("%s: record %s data at %d is not 64-byte aligned" % (path, info.filename, start))


def write_checkpoint_torch(path, nbytes, seed):
    """The real thing: torch.save of a state dict with one random float32 tensor."""
    import torch  # noqa: PLC0415 (optional dependency)

    torch.manual_seed(seed)
    torch.save({"w": torch.randn(nbytes // 4, dtype=torch.float32)}, path)


def cmd_checkpoint(args):
    writer = args.writer
    if writer == "auto":
        try:
            import torch  # noqa: F401, PLC0415

            writer = "torch"
        except ImportError:
            writer = "zipfile"
    # Write in a temporary folder (same file name, so torch picks the same record prefix),
    # then rename: an interrupted run never leaves a half-written file that looks reusable.
    out = os.path.abspath(args.out)
    tmpdir = tempfile.mkdtemp(prefix=".gen-", dir=os.path.dirname(out))
    try:
        tmp = os.path.join(tmpdir, os.path.basename(out))
        if writer == "torch":
            write_checkpoint_torch(tmp, args.bytes, args.seed)
        else:
            write_checkpoint_zipfile(tmp, args.bytes, args.seed)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(writer)


# --------------------------------------------------------------------------------------------
# small pickles
# --------------------------------------------------------------------------------------------


class _Canary:
    """Pickles as os.system('touch /tmp/aigis-bench'). Only ever pickled, never unpickled."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/aigis-bench",))


def _payload(rng, kind, n, np):
    """A plain data object with about `n` elements of the given kind."""
    if kind == "floats":  # a dict of float lists, like a tiny hand-rolled state dict
        return {"layer_%d" % k: [rng.random() for _ in range(max(1, n // 4))] for k in range(4)}
    if kind == "vocab":  # a tokenizer-like mapping
        return {"tok_%06x" % rng.getrandbits(24): i for i in range(n)}
    if kind == "rows":  # a list of records
        return [{"id": i, "name": "row%d" % rng.getrandbits(20), "score": rng.random()} for i in range(n)]
    if kind == "numpy" and np is not None:
        arr = np.random.default_rng(rng.getrandbits(32)).standard_normal(n).astype(np.float32)
        return {"weights": arr, "bias": arr[:16].copy(), "config": {"dim": n}}
    return [rng.getrandbits(30) for _ in range(n)]  # "ints"


def _sized_payload(rng, kind, target, protocol, np):
    """A payload whose pickle is close to `target` bytes: one trial, then rescaled."""
    n = max(1, target // 16)
    size = len(pickle.dumps(_payload(random.Random(0), kind, n, np), protocol=protocol))
    return _payload(rng, kind, max(1, n * target // max(1, size)), np)


def cmd_pickles(args):
    try:
        import numpy as np  # noqa: PLC0415 (optional: a few files hold arrays when present)
    except ImportError:
        np = None
    rng = random.Random(args.seed)
    out = os.path.abspath(args.out)
    tmp = out + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    step = max(1, args.count // max(1, args.malicious))
    bad = {i * step + step // 2 for i in range(min(args.malicious, args.count))}
    kinds = ["floats", "vocab", "rows", "ints", "floats", "vocab", "rows", "ints", "floats", "numpy"]
    manifest = {"count": args.count, "malicious": [], "numpy": 0}
    for i in range(args.count):
        kind = kinds[i % len(kinds)]
        protocol = 2 + rng.randrange(4)
        obj = _sized_payload(rng, kind, rng.randint(1024, 20 * 1024), protocol, np)
        if kind == "numpy" and np is not None:
            manifest["numpy"] += 1
        name = "%04d.pkl" % i
        if i in bad:  # hide the payload inside an otherwise ordinary object
            obj = {"data": obj, "meta": _Canary()}
            manifest["malicious"].append(name)
        with open(os.path.join(tmp, name), "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    with open(out + ".manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)


# --------------------------------------------------------------------------------------------
# time (fallback when /usr/bin/time is missing)
# --------------------------------------------------------------------------------------------


def cmd_time(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    with open(args.out, "w") as f:
        cpu = usage.ru_utime + usage.ru_stime
        # wall and CPU in microseconds; ru_maxrss is KiB on Linux
        f.write("%d %d %d\n" % (round(wall * 1e6), usage.ru_maxrss, round(cpu * 1e6)))
    sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _aigis_detection(path, manifest):
    """Summary of an aigis JSON report: files flagged >= high, and whether they are the right ones."""
    try:
        doc = json.loads(_read(path))
        results = doc["results"]
    except (ValueError, KeyError, TypeError):
        return "n/a (no JSON report)"
    flagged = sorted(os.path.basename(r["path"]) for r in results if r.get("max_severity") in ("high", "critical"))
    statuses = {}
    for r in results:
        statuses[r.get("status")] = statuses.get(r.get("status"), 0) + 1
    text = "%d of %d files flagged high/critical" % (len(flagged), len(results))
    if manifest is not None:
        expected = sorted(manifest["malicious"])
        missed = sorted(set(expected) - set(flagged))
        extra = sorted(set(flagged) - set(expected))
        if not missed and not extra:
            text += " (exactly the %d planted)" % len(expected)
        else:
            text += " (missed %d: %s; false positives %d: %s)" % (
                len(missed), " ".join(missed[:5]), len(extra), " ".join(extra[:5]))
    text += "; status " + ", ".join("%s %d" % (k, v) for k, v in sorted(statuses.items(), key=str))
    if len(results) == 1:
        text += "; format %s, max severity %s" % (results[0].get("format"), results[0].get("max_severity"))
    return text


def _picklescan_detection(path):
    out = _read(path)
    m = re.search(r"Scanned files: (\d+).*?Infected files: (\d+)", out, re.S)
    if not m:
        return "n/a (no summary in output)"
    text = "%s infected of %s scanned" % (m.group(2), m.group(1))
    d = re.search(r"Dangerous globals: (\d+)", out)
    s = re.search(r"Suspicious globals: (\d+)", out)
    if d and s:
        text += " (%s dangerous, %s suspicious globals)" % (d.group(1), s.group(1))
    return text


def _modelscan_detection(path):
    out = _read(path)
    m = re.search(r"Total Issues: (\d+)", out)
    sources = set(re.findall(r"Source: (\S+)", out))
    if m:
        sev = dict(re.findall(r"- (LOW|MEDIUM|HIGH|CRITICAL): (\d+)", out))
        return "%s issues in %d files (critical %s, high %s)" % (
            m.group(1), len(sources), sev.get("CRITICAL", "?"), sev.get("HIGH", "?"))
    if "No issues found" in out:
        return "no issues found"
    return "n/a (no summary in output)"


def cmd_report(args):
    meta = {}
    for line in _read(args.meta).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            meta[k] = v
    rows = []  # dicts: case, tool, label, status, wall, rss, rc, note
    for line in _read(args.results).splitlines():
        f = line.split("\t")
        if len(f) < 9:
            continue
        rows.append(dict(zip(["case", "tool", "label", "status", "wall", "rss", "cpu", "rc", "note"], f)))
    by = {r["case"]: r for r in rows}

    def wall(case):
        r = by.get(case)
        if r and r["status"] == "ok":
            return float(r["wall"])
        return None

    def ratio(a, b):
        wa, wb = wall(a), wall(b)
        if wa is None or wb is None or wb <= 0:
            return None
        return wa / wb

    def fmt_ratio(x, what):
        if x is None:
            return "n/a"
        return ("%.2f× %s" if x >= 0.1 else "%.4f× %s") % (x, what)  # keep tiny ratios readable

    manifest = None
    if args.manifest and os.path.exists(args.manifest):
        try:
            manifest = json.loads(_read(args.manifest))
        except ValueError:
            manifest = None

    # Ratio and goal per case. Peers do not hash, so on the checkpoint they are compared with
    # aigis --no-hash (the same work); on the small files aigis runs with its default hashing.
    ratio_txt, goal_txt = {}, {}
    r = ratio("big-aigis-hash", "big-openssl")
    ratio_txt["big-openssl"] = "1.00× (baseline)" if wall("big-openssl") is not None else "n/a"
    ratio_txt["big-aigis-hash"] = fmt_ratio(r, "openssl")
    # Goals are judged on the ratio as printed (2 decimals), so the table never contradicts itself.
    goal_txt["big-aigis-hash"] = "≤ 1.2× openssl: " + ("n/a" if r is None else ("PASS" if round(r, 2) <= 1.2 else "FAIL"))
    ratio_txt["big-aigis-nohash"] = fmt_ratio(ratio("big-aigis-nohash", "big-openssl"), "openssl")
    nh = by.get("big-aigis-nohash")
    if nh and nh["status"] == "ok":
        w, rss = float(nh["wall"]), int(nh["rss"] or 0) / 1024.0
        goal_txt["big-aigis-nohash"] = "< 50 ms: %s; < 100 MB RSS: %s" % (
            "PASS" if w < 0.050 else "FAIL", "PASS" if rss < 100 else "FAIL")
    else:
        goal_txt["big-aigis-nohash"] = "< 50 ms, < 100 MB: n/a"
    rd = ratio("big-aigis-deep", "big-aigis-hash")
    ratio_txt["big-aigis-deep"] = fmt_ratio(rd, "aigis")
    goal_txt["big-aigis-deep"] = "≤ 1.3× aigis: " + ("n/a" if rd is None else ("PASS" if round(rd, 2) <= 1.3 else "FAIL"))
    for peer in ("picklescan", "modelscan"):
        ratio_txt["big-" + peer] = fmt_ratio(ratio("big-" + peer, "big-aigis-nohash"), "aigis --no-hash")
        ratio_txt["small-" + peer] = fmt_ratio(ratio("small-" + peer, "small-aigis"), "aigis")
    ratio_txt["small-aigis"] = "1.00× (baseline)" if wall("small-aigis") is not None else "n/a"
    ratio_txt["big-aigis-cached"] = fmt_ratio(ratio("big-aigis-cached", "big-openssl"), "openssl")
    ratio_txt["small-aigis-cached"] = fmt_ratio(ratio("small-aigis-cached", "small-aigis"), "aigis")
    r = ratio("small-picklescan", "small-aigis")
    goal_txt["small-picklescan"] = "aigis ≥ 20× faster: " + ("n/a" if r is None else ("PASS" if round(r, 2) >= 20 else "FAIL"))

    out = []
    out.append("# aigis benchmark (%s)" % meta.get("mode", "?"))
    out.append("")
    out.append("- When: %s; machine: %s, %s cores, %s RAM" % (
        meta.get("date", "?"), meta.get("cpu", "?"), meta.get("cores", "?"), meta.get("mem", "?")))
    out.append("- Method: each command runs once as a warm-up (so the page cache is warm: no disk I/O is "
               "measured), then %s timed runs; wall s and CPU s (user + system, all threads) = the "
               "least of them, peak RSS = the highest of them (MB = MiB). Timer: %s; its own overhead, timing `true`: %s ms." % (
                   meta.get("runs", "?"), meta.get("timer", "?"), meta.get("overhead_ms", "?")))
    out.append("- Ratio = this row's wall time ÷ the named baseline's (> 1 means slower than it). The peers do "
               "not hash, so on the checkpoint they are compared with `aigis --no-hash`; on the small "
               "pickles aigis runs as a user would, hashing on.")
    flags = meta.get("aigis_flags", "").strip()
    if meta.get("has_cache") == "1":
        out.append("- aigis runs as `aigis %s`: its result cache would answer every timed run after the "
                   "warm-up, so plain rows skip it; the \"cache warm\" rows time the cached re-scan (a "
                   "private `--cache-dir` filled by the warm-up)." % flags)
    else:
        out.append("- aigis runs as `aigis %s` (this build has no result cache)." % flags)
    out.append("- Checkpoint: `%s`, %s bytes, written by %s. Small files: %s pickles in `%s` "
               "(%s malicious, %s with numpy arrays)." % (
                   meta.get("big", "?"), meta.get("big_bytes", "?"), meta.get("writer", "?"),
                   meta.get("small_count", "?"), meta.get("small_dir", "?"),
                   len(manifest["malicious"]) if manifest else "?",
                   manifest.get("numpy", "?") if manifest else "?"))
    out.append("- Versions: %s" % meta.get("versions", "?"))
    out.append("- Load average (1 min): %s; other work on the machine skews the times." % meta.get("load", "?"))
    out.append("")
    out.append("| tool | case | wall s | CPU s | peak RSS MB | ratio | goal |")
    out.append("| --- | --- | ---: | ---: | ---: | --- | --- |")
    for row in rows:
        if row["status"] == "ok":
            w = ("%.3f" if float(row["wall"]) >= 0.1 else "%.4f") % float(row["wall"])
            rss = "%.1f" % (int(row["rss"]) / 1024.0) if row["rss"] else "n/a"
            cpu = "%.2f" % float(row["cpu"]) if row["cpu"] else "n/a"
            rt = ratio_txt.get(row["case"], "")
        else:
            w = "n/a (%s)" % _cell(row["note"])
            cpu, rss, rt = "n/a", "n/a", "n/a"
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            _cell(row["tool"]), _cell(row["label"]), w, cpu, rss, _cell(rt), _cell(goal_txt.get(row["case"], ""))))
    out.append("")
    out.append("Detection sanity (from the last timed run of each command; exit code in brackets):")
    out.append("")
    out.append("| tool | case | result |")
    out.append("| --- | --- | --- |")
    for row in rows:
        case, tool = row["case"], row["tool"]
        if case == "big-openssl":
            continue
        stdout = os.path.join(args.logs, case + ".stdout")
        if row["status"] != "ok":
            res = "n/a (%s)" % row["note"]
        elif tool.startswith("aigis"):
            res = _aigis_detection(stdout, manifest if case.startswith("small") else None)
        elif tool == "picklescan":
            res = _picklescan_detection(stdout)
        elif tool == "modelscan":
            res = _modelscan_detection(stdout)
        else:
            res = ""
        if row["status"] == "ok":
            res += " [exit %s]" % row["rc"]
        out.append("| %s | %s | %s |" % (_cell(tool), _cell(row["label"]), _cell(res)))
    out.append("")
    out.append("Canary: %s" % meta.get("canary", "?"))
    text = "\n".join(out) + "\n"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("checkpoint")
    s.add_argument("--out", required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--writer", choices=["auto", "torch", "zipfile"], default="auto")
    s.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("pickles")
    s.add_argument("--out", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--malicious", type=int, default=10)
    s.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("time")
    s.add_argument("--out", required=True)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s = sub.add_parser("report")
    for name in ("--results", "--logs", "--meta", "--out"):
        s.add_argument(name, required=True)
    s.add_argument("--manifest")
    args = p.parse_args()
    handlers = {"checkpoint": cmd_checkpoint, "pickles": cmd_pickles, "time": cmd_time, "report": cmd_report}
    if args.command not in handlers:
        p.print_help()
        sys.exit(2)
    handlers[args.command](args)


if __name__ == "__main__":
    main()
