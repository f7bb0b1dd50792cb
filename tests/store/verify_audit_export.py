#!/usr/bin/python3
"""A second, independent verifier of a portrait audit export (python3-nacl + hashlib).

usage: verify_audit_export.py EXPORT.jsonl PUBLIC_KEY_HEX
Recomputes every record's chain hash (BLAKE2b-256 over the previous hash and the canonical
record), checks every checkpoint's Ed25519 signature and its link to the checkpoint before, and
the header's signed head: in format v2 of the one chain, in v3 (a store several nodes write) of
every node's chain, each line naming its node. Across master-key rotations (key.rotate records
naming the old and new public keys) each checkpoint is checked with the key in force at its
record, a checkpoint of the old key must vouch for each rotation record, the header is the last
key's, and PUBLIC_KEY may be any key the rotations name. Exit 0 and "ok N" when all holds, exit 1
naming the first problem otherwise.
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


def rotations(lines):
    """[(seq, old key hex, new key hex)] of the key.rotate records, in order."""
    out = []
    for r in (l for l in lines if l["kind"] == "record" and l["action"] == "key.rotate"):
        detail = json.loads(r["detail"])
        out.append((r["seq"], detail["old_public_key"], detail["new_public_key"]))
    return out


def key_at(spans, seq, final):
    for rotation_seq, old, _ in spans:
        if seq <= rotation_seq:
            return old
    return final


def verify_chain(lines, public_key_hex, header, head):
    """Checks one chain's lines against its signed head; None when all holds, else the problem."""
    spans = rotations(lines)
    final = spans[-1][2] if spans else public_key_hex
    named = {k for _, old, new in spans for k in (old, new)}
    if spans and public_key_hex not in named:
        return "the given public key is none of the keys the rotations name"
    for (_, _, new), (seq, old, _) in zip(spans, spans[1:]):
        if old != new:
            return "record %d rotates from a key the last rotation did not name" % seq
    if header["public_key"] != final:
        return "the header names another public key"
    checkpoints = {}
    last = 0
    for c in sorted((l for l in lines if l["kind"] == "checkpoint"), key=lambda c: c["seq"]):
        key = nacl.signing.VerifyKey(bytes.fromhex(key_at(spans, c["seq"], final)))
        if not signed(key, checkpoint_message(c), c["signature"]):
            return "bad signature on checkpoint %d" % c["seq"]
        if c.get("prev_seq", -1) >= 0 and c["prev_seq"] != last:
            return "checkpoint %d missing" % c["prev_seq"]
        checkpoints[c["seq"]], last = c["hash"], c["seq"]
    for seq, _, _ in spans:
        if seq not in checkpoints:
            return "no checkpoint of the old key vouches for rotation record %d" % seq
    prev = bytes(32)
    seq = 0
    for r in (l for l in lines if l["kind"] == "record"):
        if r["seq"] != seq + 1:
            return "record %d missing or out of order" % (seq + 1)
        h = hashlib.blake2b(prev + canonical(r).encode("utf-8"), digest_size=32).hexdigest()
        if h != r["hash"] or checkpoints.get(r["seq"], h) != h:
            return "record %d altered" % r["seq"]
        prev, seq = bytes.fromhex(h), r["seq"]
    if (checkpoints and max(checkpoints) > seq) or head[0] > seq:
        return "records after %d missing" % seq
    if head[0] != seq or (seq and head[1] != prev.hex()):
        return "the chain does not end at the signed head %d" % head[0]
    return None


def lower_hex(line):
    """Whether every hex member is written as the exporter writes it, in lower case."""
    members = ["hash", "signature", "public_key", "head_hash"]
    values = [line[k] for k in members if k in line]
    values += [c["head_hash"] for c in line.get("chains", [])]
    return all(isinstance(v, str) and v == v.lower() for v in values)


def main(path, public_key_hex):
    text = open(path, encoding="utf-8").read()
    if not text.endswith("\n") or "\n\n" in text:
        print("a blank or unterminated line: altered")
        return 1
    lines = [json.loads(line) for line in text.split("\n")[:-1]]
    header, body = lines[0], lines[1:]
    if not all(isinstance(l, dict) and l.get("kind") in ("record", "checkpoint") for l in body):
        print("a line after the header is neither a record nor a checkpoint: altered")
        return 1
    if not all(lower_hex(l) for l in lines):
        print("a hex member not in lower case: altered")
        return 1
    verify_key = nacl.signing.VerifyKey(bytes.fromhex(header["public_key"]))
    if header.get("format") == "portrait-audit-v2":
        message = "portrait-audit-export-v2\n%d\n%s\n%d" % (header["head_seq"],
                                                             header["head_hash"], header["time_us"])
        chains = [("", (header["head_seq"], header["head_hash"]))]
    elif header.get("format") == "portrait-audit-v3":
        # Every node's chain: the header signs each one's head, node names JSON-quoted.
        message = "portrait-audit-export-v3\n%d\n" % header["time_us"] + "".join(
            "%s\n%d\n%s\n" % (json.dumps(c["node"], ensure_ascii=False), c["head_seq"],
                                c["head_hash"]) for c in header["chains"])
        chains = [(c["node"], (c["head_seq"], c["head_hash"])) for c in header["chains"]]
        if not chains:
            print("the header lists no chain: altered")
            return 1
    else:
        print("not a portrait-audit-v2 or v3 export (v1 has no signed head)")
        return 1
    if not signed(verify_key, message, header["signature"]):
        print("bad signature on the header")
        return 1
    nodes = [node for node, _ in chains]
    if len(set(nodes)) != len(nodes) or any(l.get("node", "") not in nodes for l in body):
        print("a line of a chain the header does not name")
        return 1
    total = 0
    for node, head in chains:
        chain = [l for l in body if l.get("node", "") == node]
        problem = verify_chain(chain, public_key_hex, header, head)
        if problem:
            print(("node %s: " % node if node else "") + problem)
            return 1
        total += sum(1 for l in chain if l["kind"] == "record")
    print("ok %d" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
