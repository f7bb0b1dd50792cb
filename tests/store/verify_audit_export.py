#!/usr/bin/python3
"""A second, independent verifier of a portrait audit export (python3-nacl + hashlib).

usage: verify_audit_export.py EXPORT.jsonl PUBLIC_KEY_HEX
Recomputes every record's chain hash (BLAKE2b-256 over the previous hash and the canonical
record) and checks every checkpoint's Ed25519 signature. Exit 0 and "ok N" when all holds,
exit 1 naming the first problem otherwise.
"""
import hashlib
import json
import sys

import nacl.exceptions
import nacl.signing


def canonical(rec):
    fields = {k: rec[k] for k in ("action", "actor", "detail", "profile", "purpose", "seq",
                                  "time_us")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main(path, public_key_hex):
    verify_key = nacl.signing.VerifyKey(bytes.fromhex(public_key_hex))
    lines = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    signed = {}
    for c in (l for l in lines if l["kind"] == "checkpoint"):
        message = "portrait-audit-checkpoint-v1\n%d\n%s" % (c["seq"], c["hash"])
        try:
            verify_key.verify(message.encode(), bytes.fromhex(c["signature"]))
        except nacl.exceptions.BadSignatureError:
            print("bad signature on checkpoint %d" % c["seq"])
            return 1
        signed[c["seq"]] = c["hash"]
    prev = bytes(32)
    seq = 0
    for r in (l for l in lines if l["kind"] == "record"):
        if r["seq"] != seq + 1:
            print("record %d missing or out of order" % (seq + 1))
            return 1
        h = hashlib.blake2b(prev + canonical(r).encode("utf-8"), digest_size=32).hexdigest()
        if h != r["hash"] or signed.get(r["seq"], h) != h:
            print("record %d altered" % r["seq"])
            return 1
        prev, seq = bytes.fromhex(h), r["seq"]
    if signed and max(signed) > seq:
        print("records after %d missing" % seq)
        return 1
    print("ok %d" % seq)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
