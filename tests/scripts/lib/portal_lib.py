# SPDX-License-Identifier: Apache-2.0
"""Helpers of the portal's black-box tests (portal.py, portal_ui.py): a
generated dump and index, a loopback `kensa serve` started and stopped by the
test, dnsmasq for DNS proofs, openssl for certificates and an HTTPS
well-known server, plain HTTP requests, and the pass/fail/skip counters."""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

from tally import Tally

BUILD = os.environ.get("BUILD", "build")
KENSA = os.path.abspath(os.path.join(BUILD, "kensa"))
GEN = os.path.abspath(os.path.join(BUILD, "kensa-gen"))


# the pass/fail/skip counters, shared with the other Python tests
Counter = Tally


def out_dir(name):
    d = os.path.abspath(os.path.join(BUILD, "test-output", name))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_index(work, orgs=3):
    """A generated dump, its truth and its index. Returns (db, truth by domain)."""
    dump = os.path.join(work, "dump")
    truth = os.path.join(work, "truth.jsonl")
    db = os.path.join(work, "index.db")
    subprocess.run([GEN, "dump", "--out", dump, "--orgs", str(orgs), "--formats", "eml,txt,csv",
                    "--truth", truth], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([KENSA, "index", "build", "-q", "--db", db, dump], check=True)
    with open(truth) as f:
        t = {j["domain"]: j for j in map(json.loads, f)}
    return db, t


class Server:
    """kensa serve on 127.0.0.1 with a free port; stop() ends it."""

    def __init__(self, db, *args, tls=None):
        self.err = open(db + ".serve.log", "a")
        cmd = [KENSA, "serve", "--db", db, "--listen", "127.0.0.1:0"] + list(args)
        self.tls = tls
        self.p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.p.stderr.readline()
            if not line:
                break
            self.err.write(line)
            if "listening on" in line:
                self.port = int(line.split("127.0.0.1:")[1].split()[0])
                break
        if not self.port:
            self.stop()
            raise RuntimeError("kensa serve did not start")
        self.requests = 0

    def req(self, method, path, body=None, headers=None, token=None, cookie=None):
        h = dict(headers or {})
        if body is not None and not isinstance(body, bytes):
            from urllib.parse import urlencode
            body = urlencode(body).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if token:
            h["Authorization"] = "Bearer " + token
        if cookie:
            h["Cookie"] = cookie
        if self.tls:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=30)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        self.requests += 1
        return r.status, hdrs, data

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()


class Dns:
    """dnsmasq on 127.0.0.1:port answering the given TXT records."""

    def __init__(self, port, records):
        args = ["dnsmasq", "--no-daemon", "--port=%d" % port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--pid-file="]
        for name, value in records:
            args.append("--txt-record=%s,%s" % (name, value))
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = port
        self.name = records[0][0] if records else "localhost"
        self.ready = self._wait_ready(20.0)

    def _wait_ready(self, limit):
        """Until dnsmasq answers a TXT query: a fixed sleep was too short on a
        loaded CI machine, and the portal then reported "the DNS resolver did
        not answer" where the test expected the wrong-token refusal."""
        labels = b"".join(bytes([len(x)]) + x.encode() for x in self.name.split(".")) + b"\0"
        query = b"\x4b\x53\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x10\x00\x01"
        end = time.time() + limit
        while time.time() < end and self.p.poll() is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                if s.recv(4096)[:2] == query[:2]:
                    return True
            except OSError:
                time.sleep(0.05)
            finally:
                s.close()
        return False

    def stop(self):
        self.p.terminate()
        self.p.wait()


def have(cmd):
    return shutil.which(cmd) is not None


def openssl_ca(work, names):
    """A CA and a certificate for names (DNS or IP). Returns (ca, cert, key)."""
    ca_key, ca = os.path.join(work, "ca.key"), os.path.join(work, "ca.pem")
    key, csr, cert = os.path.join(work, "srv.key"), os.path.join(work, "srv.csr"), os.path.join(work, "srv.pem")
    ext = os.path.join(work, "ext.cnf")
    q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=kensa test CA"], **q)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]], **q)
    san = ",".join(("IP:" if n[0].isdigit() else "DNS:") + n for n in names)
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                    "-out", cert, "-days", "2", "-extfile", ext], **q)
    return ca, cert, key


class WellKnown:
    """openssl s_server -WWW serving files under root over HTTPS."""

    def __init__(self, root, port, cert, key):
        self.p = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", str(port), "-cert", cert,
                                   "-key", key, "-WWW"], cwd=root, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # listening, not just started: a fixed sleep failed on a loaded machine
        deadline = time.time() + 15
        while time.time() < deadline and self.p.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

    def stop(self):
        self.p.terminate()
        self.p.wait()


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest().upper()


def chain_ok(path):
    """The audit log's hash chain holds: each prev is the SHA-256 of the line before."""
    prev = "0" * 64
    n = 0
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\n")
            if json.loads(line)["prev"] != prev:
                return False, n
            prev = hashlib.sha256(line).hexdigest()
            n += 1
    return True, n
