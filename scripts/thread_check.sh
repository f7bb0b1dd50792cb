#!/usr/bin/env bash
# thread_check.sh [BUILD_DIR]: runs Clang's thread-safety analysis (-Wthread-safety, as errors)
# over every library and program source, so that what a mutex guards (GUARDED_BY, REQUIRES on
# base/mutex.h's Mutex) is checked by the compiler. It only parses (no code is generated), with
# the flags of an existing build tree's compile_commands.json (default: build-test/, which
# scripts/test.sh makes). Tests are not checked. Exits non-zero on the first warning.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-test}
[ -f "$build/compile_commands.json" ] || { echo "thread_check.sh: no $build/compile_commands.json; build first"; exit 1; }
python3 - "$build/compile_commands.json" "$top" <<'PY' | xargs -0 -n1 -P"$(nproc)" bash -c
import json, shlex, sys
commands, top = json.load(open(sys.argv[1])), sys.argv[2]
for c in commands:
    source = c["file"]
    if "/tests/" in source or not source.startswith(top) or "/build" in source:
        continue
    args = c.get("arguments") or shlex.split(c["command"])
    keep, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-fsanitize") or a == "-fno-sanitize-recover=undefined":
            continue
        keep.append(a)
    cmd = ["clang++", "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
           "-Wno-unknown-warning-option"] + keep
    sys.stdout.write("cd " + shlex.quote(c["directory"]) + " && " + " ".join(map(shlex.quote, cmd)) + "\0")
PY
echo "thread_check.sh: no thread-safety warning"
