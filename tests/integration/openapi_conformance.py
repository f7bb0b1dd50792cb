#!/usr/bin/python3
"""Checks a running portraitd's answers against docs/openapi.json (python3-jsonschema).

Run by tests/integration/openapi_test.cc against a daemon it started with the example config,
a [[model]] clv, a [[score]] rfm, a [[segment]] buyers and the sample customers loaded. Every
request below names the status it aims for; each answer must have that status, a status the
document lists for the operation, its content type, and a body valid against the schema given
for that status. At the end every operation of the document, and every status it lists (but
500 and 503, and the exemptions named in NOT_PROVOKED), must have been answered at least once.

usage: openapi_conformance.py --url http://127.0.0.1:PORT --token ADMIN_TOKEN
           --config DIR/portrait.toml --doc docs/openapi.json --customer EXTERNAL_ID
(--customer: a loaded customer with orders, for the score and prediction views)
"""
import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.parse

try:
    import jsonschema
except ImportError:
    sys.exit("openapi_conformance.py needs Debian's python3-jsonschema (scripts/deps.sh installs it)")

# Statuses no request of this test can provoke: an internal error, a daemon shutting down or an
# audit log that can't be written, a second fit or refresh racing the first, and a write to a
# profile whose erasure stopped half-way.
NEVER_PROVOKED = {"500", "503"}
# Only among several nodes (tests/integration/cluster_test.cc): a 421 for another node's subject
# or task.
MISDIRECTED = {"421"}
NOT_PROVOKED = {("post", "/v1/models/{name}/fit"): {"409"},
                ("post", "/v1/scores/{name}/refresh"): {"409"},
                ("put", "/v1/profiles/{id}"): {"404"} | MISDIRECTED,
                ("post", "/v1/events"): MISDIRECTED,
                ("delete", "/v1/profiles/{id}"): MISDIRECTED,
                ("put", "/v1/profiles/{id}/hold"): MISDIRECTED,
                ("delete", "/v1/profiles/{id}/hold"): MISDIRECTED,
                ("post", "/v1/profiles/{id}/consents"): MISDIRECTED,
                ("post", "/v1/profiles/{id}/merge"): MISDIRECTED,
                ("post", "/v1/tasks/{id}/retry"): MISDIRECTED,
                ("post", "/v1/tasks/{id}/cancel"): MISDIRECTED}


def references(node):
    """Every "$ref" value in `node`, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


class Document:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        self.doc = json.loads(self.raw)
        self.operations = {}  # (method, template) -> operation
        for template, item in self.doc["paths"].items():
            for method, operation in item.items():
                self.operations[(method, template)] = operation
        self.validator_class = jsonschema.validators.validator_for(
            {"$schema": "https://json-schema.org/draft/2020-12/schema"})
        for name, schema in self.doc["components"]["schemas"].items():
            self.validator_class.check_schema(schema)
        # Every reference points at something, and operation ids are unique.
        for ref in references(self.doc):
            node = self.doc
            for part in ref.removeprefix("#/").split("/"):
                node = node.get(part) if isinstance(node, dict) else None
            if not ref.startswith("#/") or node is None:
                raise SystemExit(f"docs/openapi.json: {ref} resolves to nothing")
        ids = [op["operationId"] for op in self.operations.values()]
        if len(ids) != len(set(ids)):
            raise SystemExit("docs/openapi.json: an operationId is used twice")

    def match(self, method, path):
        """The (method, template) of the operation `path` (no query) belongs to, or None."""
        segments = path.strip("/").split("/")
        for (m, template) in self.operations:
            want = template.strip("/").split("/")
            if m == method and len(want) == len(segments) and all(
                    w.startswith("{") or w == s for w, s in zip(want, segments)):
                return (m, template)
        return None

    def validate(self, schema, instance):
        """Errors of `instance` against `schema`, whose $refs point into this document."""
        # The document's components ride along, so "#/components/..." resolves in the root
        # schema: bookworm's jsonschema 4.10 (RefResolver) and later ones (referencing) alike.
        wrapped = dict(schema)
        wrapped["components"] = self.doc["components"]
        validator = self.validator_class(wrapped)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                for e in validator.iter_errors(instance)]


class Conformance:
    def __init__(self, args):
        self.doc = Document(args.doc)
        url = urllib.parse.urlparse(args.url)
        self.host, self.port = url.hostname, url.port
        self.admin = args.token
        self.config = args.config
        self.seen = {}  # (method, template) -> set of statuses
        self.failures = []
        self.exchanges = 0

    def fail(self, text):
        self.failures.append(text)
        print("FAIL", text, file=sys.stderr)

    def send(self, method, target, body=None, token=None, purpose=None, source="127.0.0.1",
             headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120,
                                          source_address=(source, 0))
        conn.putrequest(method, target, skip_accept_encoding=True)
        if token:
            conn.putheader("Authorization", "Bearer " + token)
        if purpose is not None:
            conn.putheader("X-Purpose", purpose)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        data = body if isinstance(body, bytes) else (
            None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode())
        conn.putheader("Content-Length", str(len(data or b"")))
        conn.endheaders(data)
        response = conn.getresponse()
        content = response.read()
        conn.close()
        return response.status, response.getheader("Content-Type", ""), content, response

    def call(self, method, target, expect, body=None, token="admin", purpose=None,
             while_conflict=0, **kw):
        """Sends, checks the answer against the document, and returns its JSON (or text).
        With `while_conflict` seconds, a 409 is sent again until it is something else."""
        token = self.admin if token == "admin" else token
        deadline = time.monotonic() + while_conflict
        while True:
            status, ctype, content, response = self.send(method.upper(), target, body, token,
                                                         purpose, **kw)
            if status != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.exchanges += 1
        what = f"{method.upper()} {target} ({'no token' if not token else 'token'}," \
               f" purpose {purpose!r}) -> {status}"
        if status != expect:
            self.fail(f"{what}: expected {expect}: {content[:300]!r}")
        key = self.doc.match(method.lower(), target.split("?")[0])
        if key is None:
            self.fail(f"{what}: no operation of the document matches")
            return None
        operation = self.doc.operations[key]
        self.seen.setdefault(key, set()).add(str(status))
        answer = operation["responses"].get(str(status))
        if answer is None:
            self.fail(f"{what}: the document lists no {status} for {key[0].upper()} {key[1]}")
            return None
        if "$ref" in answer:
            answer = self.doc.doc["components"]["responses"][answer["$ref"].split("/")[-1]]
        (media, spec), = answer["content"].items()
        if ctype != media:
            self.fail(f"{what}: Content-Type {ctype!r}, the document says {media!r}")
        if media.startswith("text/") or media == "application/jsonl":
            return content.decode()
        try:
            instance = json.loads(content)
        except ValueError:
            self.fail(f"{what}: the body is not JSON")
            return None
        for error in self.doc.validate(spec["schema"], instance):
            self.fail(f"{what}: {error}")
        return instance

    def coverage(self):
        for key, operation in self.doc.operations.items():
            listed = set(operation["responses"]) - NEVER_PROVOKED - NOT_PROVOKED.get(key, set())
            missing = listed - self.seen.get(key, set())
            if missing:
                self.fail(f"{key[0].upper()} {key[1]}: never answered {sorted(missing)}")


def example_path(template):
    """A concrete path of `template` for the probes answered before any handler runs."""
    return re.sub(r"\{[^}]+\}", "x", template)


def generic_probes(c, tokens):
    """The answers every operation gives before its handler: 400, 401, 403, 422, 413, 429."""
    for i, ((method, template), operation) in enumerate(sorted(c.doc.operations.items())):
        path = example_path(template)
        responses = operation["responses"]
        public = operation.get("security") == []
        c.call(method, path, 400, token="admin" if not public else None,
               headers={"X-Purpose": b"\xff\xfe"})
        if public:
            continue
        # A fresh address each: failed authentications are limited per address.
        c.call(method, path, 401, token=None, source=f"127.0.1.{i + 1}")
        c.call(method, path, 401, token="ptk_not-a-token", source=f"127.0.2.{i + 1}")
        c.call(method, path, 403, token=tokens["auditor"], purpose="care")
        if "422" in responses and not any(
                p.get("$ref", "").endswith("XPurposeAdmin") for p in operation["parameters"]):
            c.call(method, path, 422, purpose=None)  # admin acts for several purposes
        if "413" in responses:
            c.call(method, path, 413, body=b"x" * (1024 * 1024 + 1), purpose="service")
    # Ten failures from one address, then every operation is 429 from it.
    for _ in range(10):
        c.send("GET", "/v1/whoami", source="127.0.3.1")
    for (method, template), operation in sorted(c.doc.operations.items()):
        if operation.get("security") != []:
            c.call(method, example_path(template), 429, token=None, source="127.0.3.1")
    # Not a route: 404; a route's path with another method: 405 naming the methods.
    status, ctype, body, _ = c.send("GET", "/v1/nope", token=c.admin, purpose="service")
    if status != 404 or ctype != "application/problem+json":
        c.fail(f"GET /v1/nope -> {status} {ctype}")
    status, ctype, body, response = c.send("PATCH", "/v1/profiles/x", token=c.admin,
                                           purpose="service")
    if status != 405 or response.getheader("Allow") != "PUT, GET, DELETE":
        c.fail(f"PATCH /v1/profiles/x -> {status}, Allow {response.getheader('Allow')!r}")


def tokens_and_admin(c, tokens):
    for role in ("auditor", "marketer"):
        created = c.call("post", "/v1/tokens", 201, {"name": "oa-" + role, "role": role})
        tokens[role] = created["token"] if created else ""
    c.call("post", "/v1/tokens", 201, {"name": "oa-temp", "role": "auditor"})
    c.call("post", "/v1/tokens", 422, {"name": "oa-x", "role": "nope"})
    c.call("post", "/v1/tokens", 400, "{")
    c.call("post", "/v1/tokens", 403, {"name": "oa-y", "role": "auditor"}, token=tokens["auditor"])
    c.call("get", "/v1/tokens", 200)
    c.call("get", "/v1/tokens", 403, token=tokens["auditor"])
    c.call("delete", "/v1/tokens/oa-temp", 200)
    c.call("delete", "/v1/tokens/nope", 404)
    c.call("delete", "/v1/tokens/oa-temp", 403, token=tokens["auditor"])
    c.call("get", "/healthz", 200, token=None)
    c.call("get", "/metrics", 200)
    served = c.call("get", "/v1/openapi.json", 200, token=tokens["marketer"])
    if served != c.doc.doc:
        c.fail("GET /v1/openapi.json is not docs/openapi.json")
    c.call("get", "/v1/whoami", 200, token=tokens["auditor"])
    c.call("get", "/v1/stats", 200)
    c.call("get", "/v1/stats?x=1", 422)
    c.call("get", "/v1/stats", 403, token=tokens["marketer"])
    activity = c.call("get", "/v1/stats/activity?hours=3", 200)
    if activity and len(activity["hours"]) != 3:
        c.fail("GET /v1/stats/activity?hours=3: not 3 hours")
    c.call("get", "/v1/stats/activity", 200)
    c.call("get", "/v1/stats/activity?hours=0", 422)
    c.call("get", "/v1/stats/activity?x=1", 422)
    c.call("get", "/v1/stats/activity", 403, token=tokens["marketer"])


def profiles(c, tokens):
    me = {"fields": {"name": "Ada", "email": "ada@example.com", "phone": "+8613800138000",
                     "birthday": "1990-02-28"}, "tags": {"add": ["vip"]}, "timezone": "UTC"}
    c.call("put", "/v1/profiles/oa-1", 201, me, purpose="service")
    c.call("put", "/v1/profiles/oa-1", 200, {"fields": {"city": "Lyon"}}, purpose="service")
    c.call("put", "/v1/profiles/oa-1", 422, {"nmae": {}}, purpose="service")
    c.call("put", "/v1/profiles/oa-1", 400, "{", purpose="service")
    c.call("put", "/v1/profiles/oa-1", 403, {"fields": {}}, token=tokens["auditor"])
    for other in ("oa-2", "oa-3", "oa-4", "oa-5"):
        c.call("put", "/v1/profiles/" + other, 201, {"fields": {"name": "B"}}, purpose="service")
    c.call("get", "/v1/profiles/oa-1", 200, purpose="service")
    c.call("get", "/v1/profiles/oa-1", 200, token=tokens["marketer"])
    c.call("get", "/v1/profiles/nope", 404, purpose="service")
    c.call("get", "/v1/profiles/oa-1", 403, token=tokens["auditor"])
    c.call("get", "/v1/profiles?email=ada%40example.com", 200, purpose="service")
    c.call("get", "/v1/profiles", 422, purpose="service")
    c.call("get", "/v1/profiles?email=ada%40example.com", 403, token=tokens["marketer"])
    c.call("put", "/v1/profiles/oa-2/hold", 200, {"reason": "case 1"}, purpose="service")
    c.call("put", "/v1/profiles/oa-2/hold", 422, {"reason": 5}, purpose="service")
    c.call("put", "/v1/profiles/oa-2/hold", 400, "{", purpose="service")
    c.call("put", "/v1/profiles/nope/hold", 404, purpose="service")
    c.call("put", "/v1/profiles/oa-2/hold", 403, token=tokens["marketer"])
    c.call("delete", "/v1/profiles/oa-2", 409, purpose="service")
    c.call("delete", "/v1/profiles/oa-2/hold", 200, purpose="service")
    c.call("delete", "/v1/profiles/nope/hold", 404, purpose="service")
    c.call("delete", "/v1/profiles/oa-2/hold", 403, token=tokens["marketer"])
    c.call("delete", "/v1/profiles/oa-2", 200, purpose="service")
    c.call("delete", "/v1/profiles/nope", 404, purpose="service")
    c.call("delete", "/v1/profiles/oa-3", 403, token=tokens["marketer"])
    c.call("post", "/v1/profiles/oa-3/merge", 200, {"from": "oa-4"}, purpose="service")
    c.call("post", "/v1/profiles/oa-3/merge", 422, {"from": 5}, purpose="service")
    c.call("post", "/v1/profiles/oa-3/merge", 400, "{", purpose="service")
    c.call("post", "/v1/profiles/oa-3/merge", 404, {"from": "nope"}, purpose="service")
    c.call("put", "/v1/profiles/oa-5/hold", 200, purpose="service")
    c.call("post", "/v1/profiles/oa-3/merge", 409, {"from": "oa-5"}, purpose="service")
    c.call("post", "/v1/profiles/oa-3/merge", 403, {"from": "oa-5"}, token=tokens["marketer"])
    c.call("get", "/v1/profiles/oa-1/export", 200, purpose="service")
    c.call("get", "/v1/profiles/oa-1/export", 200, purpose="marketing")
    c.call("get", "/v1/profiles/nope/export", 404, purpose="service")
    c.call("get", "/v1/profiles/oa-1/export", 403, token=tokens["marketer"])


def consents(c, tokens):
    grant = {"purpose": "marketing", "status": "granted", "channel": "sms", "source": "web",
             "notice": "v1", "evidence": "form 7", "expires": "2099-01-01T00:00:00Z"}
    c.call("post", "/v1/profiles/oa-1/consents", 201, grant, purpose="service")
    c.call("post", "/v1/profiles/oa-1/consents", 201,
           {"purpose": "personalisation", "status": "objected"}, purpose="service")
    c.call("post", "/v1/profiles/oa-1/consents", 422, {"purpose": "nope", "status": "granted"},
           purpose="service")
    c.call("post", "/v1/profiles/oa-1/consents", 400, "{", purpose="service")
    c.call("post", "/v1/profiles/nope/consents", 404, {"purpose": "marketing", "status": "granted"},
           purpose="service")
    c.call("post", "/v1/profiles/oa-1/consents", 403, grant, token=tokens["marketer"])
    c.call("get", "/v1/profiles/oa-1/consents", 200, purpose="service")
    c.call("get", "/v1/profiles/nope/consents", 404, purpose="service")
    c.call("get", "/v1/profiles/oa-1/consents", 403, token=tokens["marketer"])


def events_and_imports(c, tokens):
    events = [{"id": "oa-e1", "type": "order.placed", "subject": "oa-1",
               "time": "2026-01-02T10:00:00Z", "data": {"amount": 12}},
              {"id": "oa-e2", "type": "oa.ping", "subject": "oa-pinged"}]
    c.call("post", "/v1/events", 202, events, purpose="service")
    c.call("post", "/v1/events", 202, events[0], purpose="service")  # a duplicate
    c.call("post", "/v1/events", 422, [{"id": "x"}], purpose="service")
    c.call("post", "/v1/events", 400, "[", purpose="service")
    c.call("post", "/v1/events", 403, events, token=tokens["auditor"])
    shown = c.call("get", "/v1/profiles/oa-1/events", 200, purpose="service")
    if shown and not (shown["shown"] and "data" in shown["events"][0]):
        c.fail("GET /v1/profiles/oa-1/events: the admin's service view has no event data")
    hidden = c.call("get", "/v1/profiles/oa-1/events?limit=1", 200, purpose="marketing")
    if hidden and (hidden["shown"] or "events" in hidden):
        c.fail("GET /v1/profiles/oa-1/events: shown to marketing, which may not use metrics")
    c.call("get", "/v1/profiles/oa-1/events?limit=0", 422, purpose="service")
    c.call("get", "/v1/profiles/nope/events", 404, purpose="service")
    c.call("get", "/v1/profiles/oa-1/events", 403, token=tokens["auditor"])
    rows = {"rows": [{"line": 2, "id": "oa-imp", "fields": {"name": "C"}, "tags": ["vip"]},
                     {"line": 3, "id": "oa-imp2", "fields": {"email": "not an email"}}],
            "match": ["email"]}
    c.call("post", "/v1/import/profiles", 200, rows, purpose="service")
    c.call("post", "/v1/import/profiles", 422, {"rows": 5}, purpose="service")
    c.call("post", "/v1/import/profiles", 400, "{", purpose="service")
    c.call("post", "/v1/import/profiles", 403, rows, token=tokens["auditor"])
    c.call("post", "/v1/rules/test", 200, {"profile": "oa-1", "event": events[0]}, purpose="care")
    c.call("post", "/v1/rules/test", 404, {"profile": "nope"}, purpose="care")
    c.call("post", "/v1/rules/test", 422, {}, purpose="care")
    c.call("post", "/v1/rules/test", 400, "{", purpose="care")
    c.call("post", "/v1/rules/test", 403, {"profile": "oa-1"}, token=tokens["auditor"])


def tasks(c, tokens):
    """The oa.ping event made a bare profile and fired the test's trigger: one service task to a
    sink nobody serves, retried with a backoff."""
    c.call("get", "/v1/tasks?limit=5", 200, purpose="service")
    c.call("get", "/v1/tasks?bogus=1", 422, purpose="service")
    c.call("get", "/v1/tasks?profile=nope", 404, purpose="service")
    c.call("get", "/v1/tasks", 403, token=tokens["marketer"])
    listed = c.call("get", "/v1/tasks?trigger=oa-ping", 200, purpose="service") or {"tasks": []}
    if not listed["tasks"]:
        return c.fail("the oa-ping trigger made no task")
    task = "/v1/tasks/%d" % listed["tasks"][0]["id"]
    # Cancellable once it is not being sent (the dispatcher may hold it for an attempt).
    c.call("post", task + "/cancel", 200, purpose="service", while_conflict=30)
    c.call("post", task + "/cancel", 409, purpose="service")
    c.call("post", task + "/retry", 200, purpose="service")
    c.call("post", task + "/retry", 409, purpose="service")
    c.call("post", "/v1/tasks/999999999/retry", 404, purpose="service")
    c.call("post", "/v1/tasks/999999999/cancel", 404, purpose="service")
    c.call("post", task + "/retry", 403, token=tokens["marketer"])
    c.call("post", task + "/cancel", 403, token=tokens["marketer"])


def derived(c, tokens, customer):
    c.call("post", "/v1/models/clv/fit", 200)
    c.call("post", "/v1/models/clv/fit", 200, {"from_events": True})
    c.call("post", "/v1/models/clv/fit", 422, {"bogus": 1})
    c.call("post", "/v1/models/nope/fit", 404)
    c.call("post", "/v1/models/clv/fit", 400, "{")
    c.call("post", "/v1/models/clv/fit", 403, token=tokens["marketer"])
    c.call("get", "/v1/models/clv", 200)
    c.call("get", "/v1/models/nope", 404)
    c.call("get", "/v1/models/clv", 403, token=tokens["marketer"])
    c.call("post", "/v1/scores/rfm/refresh", 200)
    c.call("post", "/v1/scores/rfm/refresh", 422, "x")
    c.call("post", "/v1/scores/nope/refresh", 404)
    c.call("post", "/v1/scores/rfm/refresh", 403, token=tokens["marketer"])
    c.call("get", "/v1/scores/rfm", 200)
    c.call("get", "/v1/scores/nope", 404)
    c.call("get", "/v1/scores/rfm", 403, token=tokens["marketer"])
    c.call("get", "/v1/profiles/%s/scores" % customer, 200, purpose="service")
    c.call("get", "/v1/profiles/%s/scores?score=rfm" % customer, 200, purpose="service")
    c.call("get", "/v1/profiles/%s/scores?score=rfm" % customer, 404, purpose="care")  # not its
    c.call("get", "/v1/profiles/%s/scores?score=nope" % customer, 404, purpose="service")
    c.call("get", "/v1/profiles/nope/scores", 404, purpose="service")
    c.call("get", "/v1/profiles/%s/scores?bogus=1" % customer, 422, purpose="service")
    c.call("get", "/v1/profiles/%s/scores" % customer, 403, token=tokens["auditor"])
    c.call("get", "/v1/profiles/" + customer, 200, purpose="service")  # scores and predictions
    c.call("get", "/v1/segments", 200, purpose="service")
    c.call("get", "/v1/segments?x=1", 422, purpose="service")
    c.call("get", "/v1/segments", 403, token=tokens["marketer"])
    page = c.call("get", "/v1/segments/buyers/members?limit=2", 200, purpose="service") or {}
    if not page.get("next_after"):
        c.fail("segment buyers has fewer than three members")
    else:
        c.call("get", "/v1/segments/buyers/members?after=" + page["next_after"], 200,
               purpose="service")
    c.call("get", "/v1/segments/buyers/members?after=garbage", 400, purpose="service")
    c.call("get", "/v1/segments/buyers/members?limit=0", 422, purpose="service")
    c.call("get", "/v1/segments/nope/members", 404, purpose="service")
    c.call("get", "/v1/segments/buyers/members", 403, token=tokens["marketer"])


def audit_and_reload(c, tokens):
    c.call("get", "/v1/audit?limit=5", 200)
    c.call("get", "/v1/audit?after=x", 422)
    c.call("get", "/v1/audit", 403, token=tokens["marketer"])
    c.call("get", "/v1/audit/verify", 200)
    c.call("get", "/v1/audit/verify", 403, token=tokens["marketer"])
    c.call("get", "/v1/audit/export", 200, token=tokens["auditor"])
    c.call("get", "/v1/audit/export", 403, token=tokens["marketer"])
    c.call("post", "/v1/admin/reload", 200)
    broken = os.path.join(os.path.dirname(c.config), "rules", "zz_broken.toml")
    with open(broken, "w") as f:
        f.write("[[trigger]]\nid = 5\n")
    c.call("post", "/v1/admin/reload", 422)
    os.remove(broken)
    c.call("post", "/v1/admin/reload", 200)
    c.call("post", "/v1/admin/reload", 403, token=tokens["marketer"])


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--url", "--token", "--config", "--doc", "--customer"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    c = Conformance(args)
    tokens = {}
    tokens_and_admin(c, tokens)
    profiles(c, tokens)
    consents(c, tokens)
    events_and_imports(c, tokens)
    tasks(c, tokens)
    derived(c, tokens, args.customer)
    audit_and_reload(c, tokens)
    generic_probes(c, tokens)
    c.coverage()
    print(f"{c.exchanges} answers checked against {len(c.doc.operations)} operations; "
          f"{len(c.failures)} failures")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
