#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The HTML report in headless Chromium, at 40 and at 10,000 findings.

Generates saved runs (kensa.finding/1 lines written by this script: hosts,
accounts, ATT&CK techniques, a secret finding with values by hash),
renders them with `kensa report RUN.jsonl --html F --stix F`, then:
  - the HTML is one self-contained file: no external URL anywhere (no
    http(s)://, no protocol-relative src/href, no url(), no @import), inline
    SVG timeline, ATT&CK matrix, host and rule tables, one row per grouped
    finding, the secret only redacted;
  - Debian's chromium renders each (`chromium --headless --screenshot`);
    the screenshots are kept under build/report-html/ and must be PNGs of
    the asked size that are not blank (many colours, a share of non-white
    pixels); the 10,000-finding page must render within 120 s.
Closing line "N passed, N failed, N skipped".
"""
import json, os, re, shutil, struct, subprocess, sys, time, zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from tally import Tally  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
KENSA = os.path.join(BUILD, "kensa")
OUT = os.path.join(BUILD, "report-html")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
T = Tally()
check = T.check
SECRET = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"


def skip(tag, what):
    """tag: tests/expected-skips ("tool", "corpus", "corpus-file")."""
    T.skip(what, tag)


TECHS = ["T1059.001", "T1003.001", "T1110.003", "T1021.002", "T1547.001", "T1505.003", "T1071.004",
         "T1190", "T1548.002", "T1070.001", "T1552.001", "T1078.004"]
SEVS = ["info", "low", "medium", "high", "critical"]


def iso(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def saved_run(path, n):
    """n findings over n//20+3 rules, 12 hosts, 9 accounts, 3 days."""
    nrules = n // 20 + 3
    with open(path, "w") as f:
        for i in range(n):
            r = (i * 7919) % nrules
            t = 1700000000 + (i * 40503) % 259200
            ev = {"path": "/evidence/host%d/Security.evtx" % (r % 12), "format": "evtx", "record": i + 1,
                  "offset": 4096 + i, "time": iso(t), "host": "HOST%02d" % (r % 12),
                  "channel": "Security", "event_id": str(4600 + r % 90), "record_id": str(i + 1),
                  "user": "CORP\\user%d" % (r % 9), "source": "10.0.%d.%d" % (r % 5, r % 200)}
            d = {"schema": "kensa.finding/1", "rule_id": "gen.rule.%d" % r,
                 "title": "Generated rule %d <b>not bold</b>" % r, "detector": "sigma",
                 "severity": SEVS[r % 5], "techniques": [TECHS[r % len(TECHS)]], "first": iso(t),
                 "last": iso(t), "event_count": 1, "evidence": [ev],
                 "matched": {"CommandLine": "cmd.exe /c whoami %d" % i}, "details": {"status": "test"}}
            f.write(json.dumps(d) + "\n")
        # a secret: values by hash, the clear value nowhere in the report
        d = {"schema": "kensa.finding/1", "rule_id": "kensa.secret.stripe-key", "title": "Stripe secret key",
             "detector": "secrets", "severity": "critical", "techniques": ["T1552.001"],
             "first": iso(1700000000), "last": iso(1700000000), "event_count": 1,
             "evidence": [{"path": "/evidence/mail/m1.eml", "format": "file", "offset": 773}],
             "matched": {"secret": "sk_l…p7dc"},
             "details": {"secret_sha256": "ab" * 32, "secret_type": "stripe.key"},
             "values": [{"type": "stripe.key", "value_sha256": "ab" * 32, "redacted": "sk_l…p7dc", "count": 1}]}
        f.write(json.dumps(d) + "\n")


def png_info(path):
    """(width, height, distinct colours sampled, share of non-white pixels)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    if depth != 8 or ctype not in (2, 6):
        return (w, h, 0, 0.0)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours, nonwhite, total, off = set(), 0, 0, 0
    for y in range(h):
        ft = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        for x in range(stride):  # undo the PNG filters
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if y % 4:
            continue
        for x in range(0, w, 4):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            total += 1
            if min(px) < 235:
                nonwhite += 1
    return (w, h, len(colours), nonwhite / max(total, 1))


EXTERNAL = [re.compile(p, re.I) for p in
            (r"https?://", r"(?:src|href|action|xlink:href)\s*=\s*['\"]?\s*//", r"url\s*\(", r"@import")]


def one(n):
    run = os.path.join(OUT, "run-%d.jsonl" % n)
    html = os.path.join(OUT, "report-%d.html" % n)
    stix = os.path.join(OUT, "report-%d.stix.json" % n)
    png = os.path.join(OUT, "report-%d.png" % n)
    saved_run(run, n)
    r = subprocess.run([KENSA, "report", "-q", "--force", run, "--html", html, "--stix", stix],
                       capture_output=True, text=True)
    check(r.returncode == 1, "kensa report %d: exit %d (%s)" % (n, r.returncode, r.stderr[-300:]))
    if not os.path.exists(html):
        check(False, "no HTML written for %d findings" % n)
        return
    page = open(html, encoding="utf-8").read()
    ext = [p.pattern for p in EXTERNAL if p.search(page)]
    check(not ext, "%d: external references in the HTML: %s" % (n, ext))
    check("<svg" in page and "findings over time" in page, "%d: timeline chart" % n)
    check("ATT&amp;CK tactics and techniques" in page and "Credential Access" in page, "%d: ATT&CK matrix" % n)
    check("<h2>Hosts" in page and "HOST03" in page and "<h2>Rules" in page, "%d: host and rule tables" % n)
    rows = page.count("<tr class='f'")
    check(0 < rows <= n + 1, "%d: %d finding rows" % (n, rows))
    check(SECRET not in page and "sk_l…p7dc" in page, "%d: the secret only redacted" % n)
    check("<b>not bold</b>" not in page and "&lt;b&gt;not bold" in page, "%d: evidence text escaped" % n)
    check(os.path.exists(stix) and json.load(open(stix)).get("type") == "bundle", "%d: STIX bundle too" % n)
    print("INFO %d findings: %d rows after grouping, HTML %d KB" % (n, rows, len(page.encode()) // 1024))
    if not os.path.exists(CHROMIUM):
        skip("tool", "chromium not installed: no screenshot of the %d-finding report" % n)
        return
    t0 = time.time()
    width, height = 1280, 2400
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--screenshot=" + os.path.abspath(png), "--window-size=%d,%d" % (width, height),
                        "--virtual-time-budget=5000", "file://" + os.path.abspath(html)],
                       capture_output=True, text=True, timeout=300)
    secs = time.time() - t0
    check(os.path.exists(png), "%d: chromium wrote no screenshot (%s)" % (n, r.stderr[-300:]))
    if not os.path.exists(png):
        return
    info = png_info(png)
    check(info is not None, "%d: the screenshot is a PNG" % n)
    if not info:
        return
    w, h, colours, ink = info
    print("INFO %d findings: screenshot %s %dx%d, %d KB, %d colours, %.1f%% non-white, rendered in %.1f s"
          % (n, png, w, h, os.path.getsize(png) // 1024, colours, ink * 100, secs))
    check((w, h) == (width, height), "%d: screenshot size %dx%d" % (n, w, h))
    check(os.path.getsize(png) > 20000, "%d: screenshot of %d bytes" % (n, os.path.getsize(png)))
    check(colours >= 20, "%d: screenshot has %d colours (blank?)" % (n, colours))
    check(ink >= 0.03, "%d: screenshot is %.1f%% non-white (blank?)" % (n, ink * 100))
    check(secs < 120, "%d: rendering took %.1f s" % (n, secs))


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(KENSA):
        print("FAIL no %s (make all first)" % KENSA)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    for n in (40, 10000):
        one(n)
    return T.close()


if __name__ == "__main__":
    sys.exit(main())
