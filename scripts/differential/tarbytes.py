"""Tar header blocks spelled byte by byte, for the tar differential and fixtures: any field in
any spelling, the checksum as the unsigned or the signed byte sum, pax records, GNU sparse runs.
Standard library only."""


def raw_header(name=b"model_config.yaml", size=None, typ=b"0", fields=None, checksum="unsigned",
               magic=b"ustar\x0000"):
    """A header block with any field spelled as given ({offset: bytes}), its checksum the
    unsigned or the signed byte sum (or given bytes)."""
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = b"0000644\x00"
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = (size if isinstance(size, bytes) else b"%011o\x00" % (size or 0)).ljust(12, b"\x00")[:12]
    h[136:148] = b"00000000000\x00"
    h[156:157] = typ
    h[257:257 + len(magic)] = magic
    for at, value in (fields or {}).items():
        h[at:at + len(value)] = value
    h[148:156] = b" " * 8
    if isinstance(checksum, bytes):
        h[148:148 + len(checksum)] = checksum
    else:
        if checksum == "signed":
            chk = sum(x - 256 if x > 127 else x for x in h)
        else:
            chk = sum(h)
        h[148:156] = b"%06o\x00 " % chk
    return bytes(h)


def pad(data):
    return data + b"\x00" * ((-len(data)) % 512)


def pax(records, typ=b"x"):
    body = b""
    for key, value in records:
        rec = b" " + key + b"=" + value + b"\n"
        n = len(rec) + 1
        while len(str(n).encode()) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    return raw_header(b"././@PaxHeader", len(body), typ) + pad(body)


def sparse_struct(pairs, count):
    out = b""
    for off, n in pairs[:count]:
        out += b"%011o\x00" % off + b"%011o\x00" % n
    return out + b"\x00" * (24 * (count - len(pairs[:count])))
