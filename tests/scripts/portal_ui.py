# SPDX-License-Identifier: Apache-2.0
"""The portal's web UI in headless Chromium (Debian's chromium, driven by
chromedriver over the W3C WebDriver protocol, stdlib only): sign up, claim a
domain, fail verification with a wrong DNS token, pass with the right one,
read the exposure page (counts equal the generator's truth, own addresses
only), be refused another organisation's page, check one address with the
in-browser k-anonymity lookup, log out. Screenshots of every step go to
build/test-output/portal-ui/. Prints SKIP when the browser cannot run."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from portal_lib import Counter, Dns, Server, free_port, have, make_index, out_dir  # noqa: E402

T = Counter()
ELEM = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM = "/usr/bin/chromium"


class Driver:
    def __init__(self):
        self.port = free_port()
        self.p = subprocess.Popen(["chromedriver", "--port=%d" % self.port], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:%d" % self.port
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--no-first-run", "--disable-dev-shm-usage", "--window-size=1200,1000"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"] if path != "/session" else json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("webdriver %s %s: %s" % (method, path, e.read()[:300]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEM]

    def finds(self, css):
        return [e[ELEM] for e in self.s("POST", "/elements", {"using": "css selector", "value": css})]

    def type(self, css, text):
        self.s("POST", "/element/%s/value" % self.find(css), {"text": text})

    def click(self, css):
        self.s("POST", "/element/%s/click" % self.find(css), {})

    def text(self, css):
        return self.s("GET", "/element/%s/text" % self.find(css))

    def url(self):
        return self.s("GET", "/url")

    def source(self):
        return self.s("GET", "/source")

    def shot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))

    def wait(self, what, limit=15.0):
        """Poll until what(self) holds: a click that submits a form returns
        before the next page is loaded on a loaded machine (CI failed on it),
        and a DNS proof takes a resolver round trip besides. Returns what's
        last value so the caller still asserts it."""
        end = time.time() + limit
        while True:
            try:
                ok = what(self)
            except RuntimeError:  # the element is gone mid-navigation
                ok = False
            if ok or time.time() >= end:
                return ok
            time.sleep(0.1)

    def quit(self):
        try:
            self.call("DELETE", "/session/%s" % self.sid)
        except Exception:
            pass
        self.p.terminate()
        self.p.wait()


def main():
    if not (os.path.exists(CHROMIUM) and have("chromedriver") and have("dnsmasq")):
        T.skip("portal UI: no chromium, chromedriver or dnsmasq")
        return T.close()
    out = out_dir("portal-ui")
    db, truth = make_index(out)
    dns_port = free_port()
    s = Server(db, "--resolver", "127.0.0.1:%d" % dns_port, "--rate-ip", "0", "--rate-account", "0")
    base = "http://127.0.0.1:%d" % s.port
    dns = drv = None
    try:
        try:
            drv = Driver()
        except Exception as e:
            T.skip("portal UI: the browser cannot run here (%s)" % str(e)[:200])
            return T.close()
        step = [0]

        def shot(name):
            step[0] += 1
            drv.shot(os.path.join(out, "%02d-%s.png" % (step[0], name)))

        drv.go(base + "/")
        T.check("Is your organisation" in drv.source(), "home page")
        shot("home")
        drv.type("#signup input[name=name]", "acme-sec")
        drv.type("#signup input[name=password]", "a long enough password")
        drv.click("#signup button")
        T.check(drv.wait(lambda d: d.url().endswith("/dashboard")), "signup lands on the dashboard: " + drv.url())
        shot("dashboard")
        drv.type("#add-domain input[name=domain]", "org01.example")
        drv.click("#add-domain button")
        drv.wait(lambda d: d.finds(".dns-value"))
        value = drv.text(".dns-value")
        T.check(re.fullmatch(r"kensa-verify=[0-9a-f]{64}", value or "") is not None, "proof shown: " + value)
        shot("proof-instructions")
        # a wrong token first
        dns = Dns(dns_port, [("org01.example", "kensa-verify=" + "0" * 64)])
        T.check(dns.ready, "dnsmasq answers on 127.0.0.1:%d" % dns_port)
        drv.click(".verify-dns")
        drv.wait(lambda d: "Not verified" in d.source())
        src = drv.source()
        said = re.search(r"<p[^>]*>([^<]*)</p>", src[src.find("Not verified"):]) if "Not verified" in src else None
        T.check("Not verified" in src and "no TXT record" in src,
                "wrong DNS token refused (%s)" % (said.group(1)[:160] if said else drv.url()))
        shot("verify-failed")
        dns.stop()
        dns = Dns(dns_port, [("org01.example", value)])
        T.check(dns.ready, "dnsmasq answers again on 127.0.0.1:%d" % dns_port)
        drv.go(base + "/dashboard")
        drv.click(".verify-dns")
        T.check(drv.wait(lambda d: d.url().endswith("/domains/org01.example") and d.finds("#addresses")),
                "right DNS token: exposure page " + drv.url())
        src = drv.source()
        t = truth["org01.example"]
        lis = drv.finds("#addresses li")
        T.check(len(lis) == t["addresses"], "addresses listed %d == truth %d" % (len(lis), t["addresses"]))
        listed = re.findall(r"<li>([^<\s]+@[^<\s]+) ", src)
        T.check(len(listed) == t["addresses"] and all(a.endswith("@org01.example") for a in listed),
                "only the domain's own addresses: %s" % listed[:3])
        phones = drv.text("#phones")
        T.check(phones.split()[-2:-1] == [] or str(t["phones"]) in phones.split(), "phones row: " + phones)
        T.check("What these numbers mean" in src and "unverified" in src, "page explains the numbers")
        shot("exposure")
        drv.go(base + "/domains/org02.example")
        T.check("Not yours to see" in drv.source() and "@org02" not in drv.source(), "other domain refused")
        shot("forbidden")
        exposed = listed
        drv.go(base + "/")
        drv.type("#addr", exposed[0] if exposed else "x@org01.example")
        drv.click("#check button")
        drv.wait(lambda d: d.text("#check-result"))
        res = drv.text("#check-result")
        T.check("appears" in res and "not" not in res, "single-address check finds it: " + res)
        shot("address-check")
        drv.click("#logout")
        T.check(drv.wait(lambda d: "Log in" in d.source()), "logged out")
        shot("logged-out")
        print("INFO portal UI screenshots: %s (%d)" % (out, step[0]))
    finally:
        if drv:
            drv.quit()
        if dns:
            dns.stop()
        s.stop()
    return T.close()


if __name__ == "__main__":
    sys.exit(main())
