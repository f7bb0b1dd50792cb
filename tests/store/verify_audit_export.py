#!/usr/bin/python3
"""A second, independent verifier of a portrait audit export (python3-nacl + hashlib).

usage: verify_audit_export.py EXPORT.jsonl PUBLIC_KEY_HEX
Recomputes every record's chain hash (BLAKE2b-256 over the previous hash and the canonical
record), checks every checkpoint's Ed25519 signature and its link to the checkpoint before, and
(format v2) the header's signed head. Exit 0 and "ok N" when all holds, exit 1 naming the first
problem otherwise.
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


def signed(verify_key, message, signature_hex):
    try:
        verify_key.verify(message.encode(), bytes.fromhex(signature_hex))
        return True
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False


def checkpoint_message(c):
    if c.get("prev_seq", -1) < 0:
        return "portrait-audit-checkpoint-v1\n%d\n%s" % (c["seq"], c["hash"])
    return "portrait-audit-checkpoint-v2\n%d\n%s\n%d\n%d" % (c["seq"], c["hash"], c["prev_seq"],
                                                            c["time_us"])


def main(path, public_key_hex):
    verify_key = nacl.signing.VerifyKey(bytes.fromhex(public_key_hex))
    lines = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    header = lines[0]
    if header.get("format") != "portrait-audit-v2":
        print("not a portrait-audit-v2 export (v1 has no signed head)")
        return 1
    head = None
    if True:
        message = "portrait-audit-export-v2\n%d\n%s\n%d" % (header["head_seq"],
                                                            header["head_hash"], header["time_us"])
        if header["public_key"] != public_key_hex or not signed(verify_key, message,
                                                                header["signature"]):
            print("bad signature on the header")
            return 1
        head = (header["head_seq"], header["head_hash"])
    checkpoints = {}
    last = 0
    for c in sorted((l for l in lines if l["kind"] == "checkpoint"), key=lambda c: c["seq"]):
        if not signed(verify_key, checkpoint_message(c), c["signature"]):
            print("bad signature on checkpoint %d" % c["seq"])
            return 1
        if c.get("prev_seq", -1) >= 0 and c["prev_seq"] != last:
            print("checkpoint %d missing" % c["prev_seq"])
            return 1
        checkpoints[c["seq"]], last = c["hash"], c["seq"]
    prev = bytes(32)
    seq = 0
    for r in (l for l in lines if l["kind"] == "record"):
        if r["seq"] != seq + 1:
            print("record %d missing or out of order" % (seq + 1))
            return 1
        h = hashlib.blake2b(prev + canonical(r).encode("utf-8"), digest_size=32).hexdigest()
        if h != r["hash"] or checkpoints.get(r["seq"], h) != h:
            print("record %d altered" % r["seq"])
            return 1
        prev, seq = bytes.fromhex(h), r["seq"]
    if (checkpoints and max(checkpoints) > seq) or (head and head[0] > seq):
        print("records after %d missing" % seq)
        return 1
    if head and (head[0] != seq or (seq and head[1] != prev.hex())):
        print("the chain does not end at the signed head %d" % head[0])
        return 1
    print("ok %d" % seq)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
