#!/bin/sh
# Turns the CDNOW purchase log (CDNOW_master.txt: customer id, date YYYYMMDD, CDs, dollars) into
# CloudEvents, one JSON object per line, for `portraitctl import events`. Each purchase becomes
# an `order.placed` event for subject cdnow-<customer id>, with a stable id (cdnow-<line>), so
# re-importing the output skips every event already stored.
#   examples/cdnow/cdnow_events.sh examples/cdnow/CDNOW_master.txt > cdnow.jsonl
set -eu
awk '{ sub(/\r$/, "") }
NF == 4 && $1 ~ /^[0-9]+$/ && length($2) == 8 && $2 ~ /^[0-9]+$/ && $4 ~ /^[0-9.]+$/ {
  printf "{\"specversion\":\"1.0\",\"id\":\"cdnow-%d\",\"source\":\"cdnow\",", NR
  printf "\"type\":\"order.placed\",\"subject\":\"cdnow-%s\",", $1
  printf "\"time\":\"%s-%s-%sT12:00:00Z\",", substr($2, 1, 4), substr($2, 5, 2), substr($2, 7, 2)
  printf "\"data\":{\"amount\":%s,\"items\":%d,\"category\":\"music\"}}\n", $4, $3
}' "${1:-CDNOW_master.txt}"
