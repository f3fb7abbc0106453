#!/usr/bin/env python3
"""Puts test data into the loopback storage servers of aigis's remote-scanning tests.

S3 (moto's server) is driven with boto3, the AWS SDK that moto ships with; Azure Blob (Azurite)
with its REST API signed with Shared Key (the emulator's documented account key), standard
library only. Never points anywhere but the endpoint it is given.

  seed.py s3-bucket   --endpoint URL --bucket B
  seed.py s3-put      --endpoint URL --bucket B --key K --file F
  seed.py s3-policy   --endpoint URL --bucket B (--json POLICY | --delete)
  seed.py s3-delete   --endpoint URL --bucket B --key K
  seed.py s3-big-torch --endpoint URL --bucket B --key K --pickle-from PT --size BYTES
        a PyTorch-style zip checkpoint: archive/data.pkl taken from the torch file PT (its
        `*/data.pkl` member), a stored archive/data/0 tensor storage of BYTES zero bytes,
        archive/version and archive/byteorder; written to a temporary file and uploaded with
        multipart upload.
  seed.py s3-fleet    --endpoint URL --bucket B --count N [--size BYTES] --file MALICIOUS
        N objects under `models/` for the fleet tests: every tenth a copy of the file
        MALICIOUS (`models/NNNNN-rigged.pkl`), the others plain-data pickles of about BYTES
        (`models/NNNNN.pkl`, made with pickle.dumps), and one object `frozen/model.pkl` in the
        GLACIER storage class, which every GET refuses (a poison object).
  seed.py az-container --endpoint URL --container C [--public blob|container]
  seed.py az-put      --endpoint URL --container C --name N --file F
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import os
import sys
import tempfile
import urllib.request
import zipfile

AZ_ACCOUNT = "devstoreaccount1"
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def s3(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(s3={"addressing_style": "path"}))


def big_torch(pickle_from, size, out):
    with zipfile.ZipFile(pickle_from) as src:
        name = next(n for n in src.namelist() if n.endswith("/data.pkl"))
        pickle = src.read(name)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pickle)
        info = zipfile.ZipInfo("archive/data/0")
        chunk = bytes(16 << 20)
        with zf.open(info, "w", force_zip64=size >= (1 << 31)) as member:
            left = size
            while left > 0:
                n = min(left, len(chunk))
                member.write(chunk[:n])
                left -= n
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/byteorder", "little")


def az_request(endpoint, method, path, query=None, headers=None, body=b""):
    query = query or {}
    headers = dict(headers or {})
    # urllib would add its own form Content-Type to a PUT body; set (and sign) ours.
    headers.setdefault("Content-Type", "application/octet-stream")
    headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    headers["x-ms-version"] = "2021-08-06"
    url_path = "/" + AZ_ACCOUNT + path
    length = str(len(body)) if body else ""
    canon_headers = "".join(f"{k.lower()}:{v}\n" for k, v in sorted(headers.items())
                            if k.lower().startswith("x-ms-"))
    canon_resource = f"/{AZ_ACCOUNT}{url_path}" + "".join(
        f"\n{k}:{v}" for k, v in sorted(query.items()))
    content_type = headers.get("Content-Type", "")
    to_sign = "\n".join([method, "", "", length, "", content_type, "", "", "", "", "", ""]) + \
        "\n" + canon_headers + canon_resource
    sig = base64.b64encode(hmac.new(base64.b64decode(AZ_KEY), to_sign.encode(),
                                    hashlib.sha256).digest()).decode()
    headers["Authorization"] = f"SharedKey {AZ_ACCOUNT}:{sig}"
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    url = endpoint.rstrip("/") + path + ("?" + qs if qs else "")
    req = urllib.request.Request(url, data=body if method == "PUT" else None,
                                 method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command")
    p.add_argument("--endpoint", required=True)
    for opt in ("bucket", "key", "file", "json", "pickle-from", "container", "name", "public"):
        p.add_argument(f"--{opt}")
    p.add_argument("--size", type=int)
    p.add_argument("--count", type=int)
    p.add_argument("--delete", action="store_true")
    a = p.parse_args()
    host = a.endpoint.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        sys.exit("seed.py only talks to loopback endpoints")
    if a.command == "s3-bucket":
        s3(a.endpoint).create_bucket(Bucket=a.bucket)
    elif a.command == "s3-put":
        s3(a.endpoint).upload_file(a.file, a.bucket, a.key)
    elif a.command == "s3-delete":
        s3(a.endpoint).delete_object(Bucket=a.bucket, Key=a.key)
    elif a.command == "s3-policy":
        client = s3(a.endpoint)
        if a.delete:
            client.delete_bucket_policy(Bucket=a.bucket)
        else:
            client.put_bucket_policy(Bucket=a.bucket, Policy=a.json)
    elif a.command == "s3-big-torch":
        from boto3.s3.transfer import TransferConfig

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "big.pt")
            big_torch(a.pickle_from, a.size, path)
            config = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=128 << 20,
                                    max_concurrency=4)
            s3(a.endpoint).upload_file(path, a.bucket, a.key, Config=config)
    elif a.command == "s3-fleet":
        import pickle

        client = s3(a.endpoint)
        with open(a.file, "rb") as f:
            rigged = f.read()
        size = a.size or 4096
        for i in range(a.count):
            if i % 10 == 9:
                client.put_object(Bucket=a.bucket, Key=f"models/{i:05d}-rigged.pkl", Body=rigged)
            else:
                floats = [float(i + j) / 7.0 for j in range(max(1, size // 9))]
                body = pickle.dumps({"name": f"layer-{i}", "weights": floats}, protocol=4)
                client.put_object(Bucket=a.bucket, Key=f"models/{i:05d}.pkl", Body=body)
        client.put_object(Bucket=a.bucket, Key="frozen/model.pkl",
                          Body=pickle.dumps({"frozen": True}), StorageClass="GLACIER")
    elif a.command == "az-container":
        headers = {"x-ms-blob-public-access": a.public} if a.public else {}
        az_request(a.endpoint, "PUT", "/" + a.container, {"restype": "container"}, headers)
    elif a.command == "az-put":
        with open(a.file, "rb") as f:
            body = f.read()
        az_request(a.endpoint, "PUT", f"/{a.container}/{a.name}", {},
                   {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"},
                   body)
    else:
        sys.exit(f"unknown command {a.command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
