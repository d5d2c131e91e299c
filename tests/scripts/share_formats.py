#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sharing formats against their schemas, and saved runs re-rendered.

Hunts kensa-gen's demo evidence with --json --stix --sarif --timesketch
--misp, then:
  - STIX 2.1: every object validates against its own type's OASIS schema
    (../shared/corpus/stix2-json-schemas; bundle-level errors are noisy, as
    the corpus MANIFEST says); every *_ref resolves inside the bundle; no
    indicator pattern carries a secret_sha256/value_sha256;
  - SARIF 2.1.0 validates against ../shared/corpus/sarif-schema;
  - Timesketch lines carry message, datetime, timestamp_desc;
  - MISP: an Event with typed attributes;
  - kensa report RUN.jsonl re-renders the same findings (jsonl identical as
    a set), merging two copies of a run keeps each finding once, and the
    STIX bundle from the saved run equals the one from the hunt
    (SOURCE_DATE_EPOCH fixes the times).
Schema checks print SKIP when the corpus or python3-jsonschema is missing.
Closing line "N passed, N failed, N skipped".
"""
import glob, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from tally import Tally  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
KENSA = os.path.join(BUILD, "kensa")
GEN = os.path.join(BUILD, "kensa-gen")
HERE = os.path.dirname(os.path.abspath(__file__))


def find_corpus():
    """../shared/corpus beside the checkout, from a worktree too."""
    d = HERE
    for _ in range(6):
        d = os.path.dirname(d)
        c = os.path.join(d, "shared", "corpus")
        if os.path.isdir(c):
            return c
    return os.path.join(HERE, "missing-corpus")


CORPUS = find_corpus()
T = Tally()
check = T.check


def skip(tag, what):
    """tag: tests/expected-skips ("tool", "corpus", "corpus-file")."""
    T.skip(what, tag)


def run(args, env=None):
    e = dict(os.environ)
    e["SOURCE_DATE_EPOCH"] = "1700000000"
    if env:
        e.update(env)
    return subprocess.run(args, capture_output=True, timeout=600, env=e)


def schemas(root):
    store = {}
    for p in glob.glob(os.path.join(root, "**", "*.json"), recursive=True):
        with open(p) as f:
            s = json.load(f)
        if "$id" in s:
            store[s["$id"]] = s
    return store


def validate_stix(bundle):
    try:
        import jsonschema
    except ImportError:
        skip("tool", "STIX schemas: python3-jsonschema missing")
        return
    root = os.path.join(CORPUS, "stix2-json-schemas", "schemas")
    if not os.path.isdir(root):
        skip("corpus" if not os.path.isdir(CORPUS or "") else "corpus-file",
             "STIX schemas: ../shared/corpus/stix2-json-schemas missing")
        return
    store = schemas(root)
    by_type = {}
    for sid, s in store.items():
        by_type[os.path.basename(sid)[:-5]] = s
    bad = 0
    for o in bundle["objects"]:
        s = by_type.get(o["type"])
        if s is None:
            bad += 1
            print("INFO no schema for", o["type"])
            continue
        resolver = jsonschema.RefResolver(base_uri=s["$id"], referrer=s, store=store)
        v = jsonschema.Draft202012Validator(s, resolver=resolver,
                                            format_checker=jsonschema.FormatChecker())
        errs = list(v.iter_errors(o))
        if errs:
            bad += 1
            if bad <= 5:
                print("INFO", o["type"], o["id"], errs[0].message[:300])
    print("INFO STIX objects %d, invalid %d" % (len(bundle["objects"]), bad))
    check(bad == 0, "every STIX object validates against its type's schema")


def validate_sarif(log):
    try:
        import jsonschema
    except ImportError:
        skip("tool", "SARIF schema: python3-jsonschema missing")
        return
    p = os.path.join(CORPUS, "sarif-schema", "sarif-schema-2.1.0.json")
    if not os.path.isfile(p):
        skip("corpus" if not os.path.isdir(CORPUS or "") else "corpus-file",
             "SARIF schema: ../shared/corpus/sarif-schema missing")
        return
    with open(p) as f:
        s = json.load(f)
    v = jsonschema.Draft7Validator(s)
    errs = list(v.iter_errors(log))
    for e in errs[:5]:
        print("INFO SARIF", list(e.path), e.message[:300])
    check(not errs, "SARIF log validates against sarif-schema-2.1.0")


def main():
    tmp = tempfile.mkdtemp(prefix="kensa-share-")
    demo = os.path.join(tmp, "demo")
    r = run([GEN, "demo", demo])
    check(r.returncode == 0, "kensa-gen demo")
    out = {k: os.path.join(tmp, "run." + k) for k in ("jsonl", "stix", "sarif", "ts", "misp")}
    r = run([KENSA, "hunt", "-q", "--json", out["jsonl"], "--stix", out["stix"], "--sarif", out["sarif"],
             "--timesketch", out["ts"], "--misp", out["misp"], demo])
    check(r.returncode in (1, 3), "hunt with every sharing output exits with findings (%d)" % r.returncode)
    findings = [json.loads(l) for l in open(out["jsonl"]) if l.strip()]
    check(len(findings) >= 20, "demo hunt has >= 20 findings (%d)" % len(findings))

    bundle = json.load(open(out["stix"]))
    ids = {o["id"] for o in bundle["objects"]}
    types = {}
    for o in bundle["objects"]:
        types[o["type"]] = types.get(o["type"], 0) + 1
    print("INFO STIX", json.dumps(types, sort_keys=True))
    check(bundle.get("type") == "bundle" and len(ids) == len(bundle["objects"]), "STIX ids unique")
    dangling = [(o["id"], k) for o in bundle["objects"] for k, v in o.items()
                if k.endswith("_ref") and v not in ids] + \
               [(o["id"], k) for o in bundle["objects"] for k, v in o.items()
                if k.endswith("_refs") for x in v if x not in ids]
    check(not dangling, "every STIX reference resolves in the bundle %s" % dangling[:3])
    check(types.get("identity") == 1 and types.get("indicator", 0) >= 3 and types.get("sighting", 0) >= 10,
          "STIX has the producer, indicators and sightings")
    sightings = sum(1 for o in bundle["objects"] if o["type"] in ("sighting", "note"))
    check(sightings == len(findings), "one sighting or note per finding (%d vs %d)" % (sightings, len(findings)))
    pats = " ".join(o.get("pattern", "") for o in bundle["objects"])
    for f in findings:
        for k, v in list(f.get("details", {}).items()) + list(f.get("matched", {}).items()):
            if ("secret" in k or "value_sha" in k) and v in pats:
                check(False, "a secret/value hash was published as an indicator")
    validate_stix(bundle)

    log = json.load(open(out["sarif"]))
    res = log["runs"][0]["results"]
    check(len(res) == len(findings), "one SARIF result per finding")
    check(all(r["ruleIndex"] < len(log["runs"][0]["tool"]["driver"]["rules"]) for r in res),
          "SARIF ruleIndex points into rules")
    validate_sarif(log)

    lines = [json.loads(l) for l in open(out["ts"]) if l.strip()]
    check(len(lines) >= len(findings) and all(
        {"message", "datetime", "timestamp_desc", "timestamp"} <= set(l) for l in lines),
        "Timesketch lines carry message, datetime, timestamp_desc")

    ev = json.load(open(out["misp"]))["Event"]
    attrs = ev["Attribute"]
    check(len(attrs) >= 5 and all({"type", "category", "value", "to_ids"} <= set(a) for a in attrs),
          "MISP attributes typed (%d)" % len(attrs))
    check(any(a["type"] == "sha256" for a in attrs) and any(a["type"] == "ip-dst" for a in attrs),
          "MISP has file hashes and addresses")

    # Saved run re-rendered and merged.
    again = os.path.join(tmp, "again.jsonl")
    r = run([KENSA, "report", "-q", out["jsonl"], out["jsonl"], "--json", again,
             "--stix", os.path.join(tmp, "again.stix")])
    check(r.returncode == 1, "report exits 1 with findings (%d) %s" % (r.returncode, r.stderr[:200]))
    a = sorted(l for l in open(out["jsonl"]) if l.strip())
    b = sorted(l for l in open(again) if l.strip())
    check(a == b, "report re-renders the saved run exactly, merged copies kept once (%d vs %d)" % (len(a), len(b)))
    check(open(out["stix"]).read() == open(os.path.join(tmp, "again.stix")).read(),
          "STIX from the saved run equals STIX from the hunt")
    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"not":"a finding"}\n')
    r = run([KENSA, "report", "-q", bad])
    check(r.returncode == 2 and b"no kensa findings" in r.stderr, "a file with no findings is an error")
    subprocess.run(["rm", "-rf", tmp])
    return T.close()


if __name__ == "__main__":
    sys.exit(main())
