#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compares a stream's committed findings with a file hunt of the same events.

A finding is (rule, first, last, event count, matched values); the stream's
latest version of each finding_id counts, and the same id with the same
content twice is a duplicate. Prints
  stream: F findings from the stream, H from the file hunt, D duplicates
and with --check "N passed, N failed" (at least 20 findings, the same set,
no duplicate), exiting 1 on a difference.
"""
import json, sys

def sig(f):
    return (f["rule_id"], f["first"], f["last"], f["event_count"],
            tuple(sorted(f.get("matched", {}).items())))

file = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
stream = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
latest, seen, dups = {}, set(), 0
for f in stream:
    fid = f["details"]["finding_id"]
    s = sig(f)
    if (fid, s) in seen:
        dups += 1
    seen.add((fid, s))
    latest[fid] = s
fs = sorted(sig(f) for f in file)
ss = sorted(latest.values())
print("stream: %d findings from the stream, %d from the file hunt, %d duplicates" % (len(ss), len(fs), dups))
if len(sys.argv) > 3 and sys.argv[3] == "--check":
    for s in [s for s in fs if s not in set(ss)][:5]:
        print("INFO only in the file hunt:", s[:4])
    for s in [s for s in ss if s not in set(fs)][:5]:
        print("INFO only in the stream:", s[:4])
    checks = [len(fs) >= 20, ss == fs, dups == 0]
    print("%d passed, %d failed" % (sum(checks), len(checks) - sum(checks)))
    sys.exit(0 if all(checks) else 1)
