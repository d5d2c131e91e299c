# SPDX-License-Identifier: Apache-2.0
"""Black-box tests of the exposure portal (kensa serve) against loopback
instances this test starts and stops: nothing for unauthenticated or
cross-organisation requests, DNS TXT proofs through a dnsmasq on loopback
(wrong token fails, right one passes), HTTPS well-known proofs against an
openssl s_server with its own CA, the counts an owner sees equal the
generator's truth, the k-anonymity range lookup, CSRF on browser sessions,
rate limits with 429 + Retry-After, an audit line per request with an
unbroken hash chain, no identifier in clear in the database, TLS, and the
notification of new exposure. Closing line "N passed, N failed, N skipped"."""

import json
import os
import re
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from portal_lib import (Counter, Dns, Server, WellKnown, chain_ok, free_port, have, make_index,  # noqa: E402
                        openssl_ca, out_dir, sha256_hex, KENSA)

T = Counter()


def no_data(body):
    """An answer that carries no exposure data."""
    return not re.search(r'"(addresses|emails|phones|documents)"\s*:', body) and "@" not in body


def account(s, name):
    st, _, body = s.req("POST", "/api/v1/accounts", {"name": name, "password": "correct horse " + name})
    T.check(st == 201, "create account %s: %d %s" % (name, st, body))
    st, _, body = s.req("POST", "/api/v1/tokens", {"name": name, "password": "correct horse " + name})
    T.check(st == 201, "token for %s: %d" % (name, st))
    return json.loads(body)["token"]


def claim(s, tok, dom):
    st, _, body = s.req("POST", "/api/v1/domains", {"domain": dom}, token=tok)
    T.check(st == 201, "claim %s: %d %s" % (dom, st, body))
    return json.loads(body)


def main():
    work = out_dir("portal")
    db, truth = make_index(work)
    dns_port = free_port()
    wk_port = free_port()
    tls_ok = have("openssl")
    if tls_ok:
        ca, cert, key = openssl_ca(work, ["org03.example", "127.0.0.1"])
    args = ["--resolver", "127.0.0.1:%d" % dns_port, "--rate-ip", "0", "--rate-account", "0"]
    if tls_ok:
        args += ["--connect-to", "org03.example:443:127.0.0.1:%d" % wk_port, "--cainfo", ca]
    s = Server(db, *args)
    dns = wk = None
    try:
        # ---- nothing without proof of control
        for path in ["/api/v1/domains/org01.example/exposure", "/api/v1/domains/org01.example/addresses",
                     "/api/v1/domains/nowhere.example/exposure"]:
            st, h, body = s.req("GET", path)
            T.check(st == 401 and no_data(body) and "bearer" in h.get("www-authenticate", "").lower(),
                    "unauthenticated %s: %d %s" % (path, st, body))
        st, _, body = s.req("GET", "/api/v1/domains/org01.example/exposure", token="00" * 32)
        T.check(st == 401 and no_data(body), "unknown token: %d" % st)
        st, _, body = s.req("GET", "/api/v1/domains/org01.example/exposure", headers={"Authorization": "Basic x"})
        T.check(st == 401 and no_data(body), "malformed credential: %d" % st)

        a, b, c = account(s, "alpha"), account(s, "bravo"), account(s, "charlie")
        st, _, _ = s.req("POST", "/api/v1/accounts", {"name": "alpha", "password": "another password"})
        T.check(st == 400, "duplicate account name refused: %d" % st)
        st, _, _ = s.req("POST", "/api/v1/tokens", {"name": "alpha", "password": "wrong password!"})
        T.check(st == 401, "wrong password: %d" % st)
        pa = claim(s, a, "org01.example")
        pb = claim(s, b, "org02.example")
        st, _, body = s.req("GET", "/api/v1/domains/org01.example/exposure", token=a)
        T.check(st == 403 and no_data(body), "claimed but unverified: %d %s" % (st, body))
        st, _, body_none = s.req("GET", "/api/v1/domains/nowhere.example/exposure", token=a)
        T.check(st == 403 and body_none == body, "unclaimed and unverified answer alike")

        # ---- DNS proof: right token passes, wrong token fails
        if have("dnsmasq"):
            dns = Dns(dns_port, [("org01.example", pa["dns"]["value"]),
                                 ("org02.example", "kensa-verify=" + "0" * 64)])
            st, _, body = s.req("POST", "/api/v1/domains/org02.example/verify", {"method": "dns"}, token=b)
            T.check(st == 403 and "no TXT record" in body, "wrong DNS token fails: %d %s" % (st, body))
            st, _, body = s.req("POST", "/api/v1/domains/org01.example/verify", {"method": "dns"}, token=b)
            T.check(st == 403, "verify a domain not claimed: %d" % st)
            st, _, body = s.req("POST", "/api/v1/domains/org01.example/verify", {"method": "dns"}, token=a)
            T.check(st == 200 and '"verified":true' in body, "right DNS token passes: %d %s" % (st, body))
        else:
            T.skip("DNS proof: no dnsmasq")

        # ---- HTTPS well-known proof
        pc = claim(s, c, "org03.example")
        if tls_ok:
            root = os.path.join(work, "www")
            os.makedirs(os.path.join(root, ".well-known"), exist_ok=True)
            wkf = os.path.join(root, ".well-known", "kensa-verify.txt")
            with open(wkf, "w") as f:
                f.write("kensa-verify=" + "1" * 64 + "\n")
            wk = WellKnown(root, wk_port, cert, key)
            st, _, body = s.req("POST", "/api/v1/domains/org03.example/verify", {"method": "https"}, token=c)
            T.check(st == 403 and "does not hold" in body, "wrong well-known token fails: %d %s" % (st, body))
            with open(wkf, "w") as f:
                f.write(pc["https"]["content"] + "\n")
            st, _, body = s.req("POST", "/api/v1/domains/org03.example/verify", {"method": "https"}, token=c)
            T.check(st == 200, "right well-known token passes: %d %s" % (st, body))
        else:
            T.skip("HTTPS proof: no openssl")

        # ---- the owner sees its domain, and the numbers are the generator's truth
        st, _, body = s.req("GET", "/api/v1/domains/org01.example/exposure", token=a)
        if T.check(st == 200, "owner reads exposure: %d %s" % (st, body)):
            x, t = json.loads(body), truth["org01.example"]
            for k in ["addresses", "phones", "people", "org_names", "documents"]:
                T.check(x[k] == t[k], "org01 %s: index %s, truth %s" % (k, x[k], t[k]))
            T.check(x["documents_by_type"].get("mail", 0) == t["doc_mail"], "org01 mail documents")
            T.check(x["first_seen"] == t["first"] and x["last_seen"] == t["last"], "org01 date range")
            T.check(x["dataset"]["status"] == "unverified" and x["dataset"]["duplicates_collapsed"],
                    "data set status")
        st, _, body = s.req("GET", "/api/v1/domains/org01.example/addresses", token=a)
        if T.check(st == 200, "owner lists addresses: %d" % st):
            addrs = [e["address"] for e in json.loads(body)["addresses"]]
            T.check(len(addrs) == truth["org01.example"]["addresses"] and
                    all(e.endswith("@org01.example") for e in addrs), "own addresses only")
        # ---- cross-organisation: nothing
        for tok, dom in [(a, "org02.example"), (b, "org01.example"), (c, "org01.example"), (a, "org03.example")]:
            for path in ["exposure", "addresses"]:
                st, _, body = s.req("GET", "/api/v1/domains/%s/%s" % (dom, path), token=tok)
                T.check(st == 403 and no_data(body), "cross-organisation %s/%s: %d" % (dom, path, st))

        # ---- k-anonymity range
        exposed = addrs[0] if addrs else "nobody@org01.example"
        h = sha256_hex(exposed)
        st, hdr, body = s.req("GET", "/api/v1/range/" + h[:5])
        lines = body.split()
        T.check(st == 200 and h[5:] in lines and len(lines) >= 64 and len(lines) % 32 == 0,
                "range lookup finds an exposed address in a padded answer (%d lines)" % len(lines))
        h2 = sha256_hex("never.seen@org01.example")
        st, _, body = s.req("GET", "/api/v1/range/" + h2[:5])
        T.check(st == 200 and h2[5:] not in body.split(), "range lookup misses an address never seen")
        for bad in ["/api/v1/range/XYZ12", "/api/v1/range/abc", "/api/v1/range/ABCDEF"]:
            st, _, _ = s.req("GET", bad)
            T.check(st == 404, "bad range prefix %s: %d" % (bad, st))

        # ---- browser session: CSRF required on state changes
        st, h, _ = s.req("POST", "/login", {"name": "alpha", "password": "correct horse alpha"})
        cookie = h.get("set-cookie", "").split(";")[0]
        T.check(st == 303 and cookie.startswith("kensa_sid=") and "HttpOnly" in h.get("set-cookie", "")
                and "SameSite=Strict" in h.get("set-cookie", ""), "login sets a session cookie")
        st, _, page = s.req("GET", "/dashboard", cookie=cookie)
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
        T.check(st == 200 and m, "dashboard carries a CSRF token")
        st, _, _ = s.req("POST", "/domains", {"domain": "csrf.example"}, cookie=cookie)
        T.check(st == 403, "POST without CSRF token refused: %d" % st)
        st, _, _ = s.req("POST", "/domains", {"domain": "csrf.example", "csrf": "0" * 64}, cookie=cookie)
        T.check(st == 403, "POST with a wrong CSRF token refused: %d" % st)
        st, _, _ = s.req("POST", "/domains", {"domain": "csrf.example", "csrf": m.group(1) if m else ""},
                         cookie=cookie, headers={"Origin": "http://evil.example", "Host": "127.0.0.1"})
        T.check(st == 403, "POST from a foreign Origin refused: %d" % st)
        st, _, _ = s.req("POST", "/domains", {"domain": "csrf.example", "csrf": m.group(1) if m else ""},
                         cookie=cookie)
        T.check(st == 303, "POST with the CSRF token accepted: %d" % st)
        st, _, page = s.req("GET", "/domains/org01.example", cookie=cookie)
        T.check(st == 200 and "org01.example" in page and "What these numbers mean" in page,
                "owner page renders")
        st, _, page = s.req("GET", "/domains/org02.example", cookie=cookie)
        T.check(st == 403 and "@" not in page, "another organisation's page refused")

        # ---- notification of new exposure
        st, _, body = s.req("POST", "/api/v1/domains/org01.example/ack", token=a)
        T.check(st == 200, "acknowledge: %d" % st)
        late = os.path.join(work, "dump", "late", "late.txt")
        os.makedirs(os.path.dirname(late), exist_ok=True)
        with open(late, "w") as f:
            f.write("new contact zed.late@org01.example +44 20 7946 0999\n")
        subprocess.run([KENSA, "index", "build", "-q", "--db", db, os.path.join(work, "dump")], check=True)
        st, _, body = s.req("GET", "/api/v1/domains/org01.example/exposure", token=a)
        x = json.loads(body) if st == 200 else {}
        T.check(st == 200 and x["notification"]["new_items"] >= 2 and x["new"]["addresses"] == 1
                and x["addresses"] == truth["org01.example"]["addresses"] + 1,
                "new exposure notified after incremental build: %s" % body[-200:])
        # the server's in-memory range buckets pick the new address up
        # within their sync interval (1 s); up to 20 s on a loaded machine
        h3, found = sha256_hex("zed.late@org01.example"), False
        for _ in range(40):
            st, _, body = s.req("GET", "/api/v1/range/" + h3[:5])
            if st == 200 and h3[5:] in body.split():
                found = True
                break
            time.sleep(0.5)
        T.check(found, "range lookup finds an address of the incremental build")
    finally:
        s.stop()
        for p in (dns, wk):
            if p:
                p.stop()

    # ---- the audit log: a line per request, chain intact, nothing secret
    audit = db + ".audit.jsonl"
    ok, n = chain_ok(audit)
    T.check(ok, "audit hash chain intact (%d lines)" % n)
    T.check(n == s.requests, "audit lines %d == requests %d" % (n, s.requests))
    with open(audit) as f:
        text = f.read()
    T.check("correct horse" not in text and all(k in text for k in ['"ip":"127.0.0.1"', '"time":', '"path":']),
            "audit lines say who/what/when/where and hold no password")
    # ---- no identifier in clear in the database, portal tables included
    blob = b""
    for suffix in ["", "-wal"]:
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as f:
                blob += f.read()
    for needle in [b"org01", b"example", b"@org", b"alpha", b"bravo", b"Orgname", b"+44"]:
        T.check(needle not in blob, "no %r in clear in the database" % needle)

    # ---- rate limits: per address and per account, 429 with Retry-After
    s = Server(db, "--rate-ip", "1", "--burst", "2", "--rate-account", "0")
    try:
        codes = [s.req("GET", "/healthz") for _ in range(15)]
        limited = [c for c in codes if c[0] == 429]
        T.check(len(limited) >= 8 and all(int(c[1].get("retry-after", "0")) >= 1 for c in limited),
                "per-address limit: %d of 15 answered 429 with Retry-After" % len(limited))
    finally:
        s.stop()
    s = Server(db, "--rate-ip", "0", "--rate-account", "1", "--burst", "2")
    try:
        tok = account(s, "delta")
        codes = [s.req("GET", "/api/v1/domains/org01.example/exposure", token=tok)[0] for _ in range(10)]
        T.check(codes.count(429) >= 4 and 403 in codes, "per-account limit: %s" % codes)
    finally:
        s.stop()

    # ---- TLS
    if tls_ok:
        ctx = ssl.create_default_context(cafile=ca)
        s = Server(db, "--tls-cert", cert, "--tls-key", key, tls=ctx)
        try:
            st, h, body = s.req("GET", "/healthz")
            T.check(st == 200 and '"ok":true' in body, "HTTPS: %d" % st)
            st, h, _ = s.req("POST", "/login", {"name": "alpha", "password": "correct horse alpha"})
            T.check("Secure" in h.get("set-cookie", ""), "session cookie is Secure over TLS")
        finally:
            s.stop()
    else:
        T.skip("TLS: no openssl")
    return T.close()


if __name__ == "__main__":
    sys.exit(main())
