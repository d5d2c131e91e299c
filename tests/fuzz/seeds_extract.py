#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates the seed corpora of the extractor harnesses
# (tests/fuzz/corpus/extract_{archive,ooxml,pdf,text}/): documents from
# `kensa-gen docs` (run `make` first), archives, bombs, deep nesting and
# truncations written here with Python's standard library. Deterministic
# apart from archive timestamps, which are fixed.
#   python3 tests/fuzz/seeds_extract.py [BUILD_DIR]
import bz2, gzip, io, lzma, os, shutil, subprocess, sys, tarfile, tempfile, zipfile

build = sys.argv[1] if len(sys.argv) > 1 else "build"
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
T = (2023, 11, 14, 22, 13, 20)

def out(corpus, name, data):
    d = os.path.join(root, corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def zip_of(members, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, T), data, compress_type=method)
    return b.getvalue()

def tar_of(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1700000000
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()

secret = b"aws_access_key_id = AKIAEXAMPLEEXAMPLE12\npassword: hunter2\n"
tmp = tempfile.mkdtemp()
try:
    subprocess.run([os.path.join(build, "kensa-gen"), "docs", "--out", tmp], check=True, stdout=subprocess.DEVNULL)
    docs = {n: open(os.path.join(tmp, n), "rb").read()
            for n in ("notes.docx", "accounts.xlsx", "review.pptx", "notes.odt", "sow.pdf", "notes.rtf")}
finally:
    shutil.rmtree(tmp)

# archives
tar = tar_of([("conf/app.ini", secret), ("notes.rtf", docs["notes.rtf"])])
out("extract_archive", "two.zip", zip_of([("conf/app.ini", secret), ("empty", b"")]))
out("extract_archive", "stored.zip", zip_of([("a.txt", secret)], zipfile.ZIP_STORED))
out("extract_archive", "docs.tar.gz", gzip.compress(tar, mtime=0))
out("extract_archive", "docs.tar.bz2", bz2.compress(tar))
out("extract_archive", "docs.tar.xz", lzma.compress(tar))
out("extract_archive", "app.ini.gz", gzip.compress(secret, mtime=0))
out("extract_archive", "bomb.zip", zip_of([("zeros.bin", bytes(4 << 20)), ("after.txt", secret)]))
nested = secret
for i in range(8, 0, -1):
    nested = zip_of([("level%d.zip" % i if i < 8 else "secret.txt", nested)])
out("extract_archive", "nested.zip", nested)
full = zip_of([("a.txt", secret), ("b.docx", docs["notes.docx"])])
out("extract_archive", "truncated.zip", full[: len(full) * 2 // 3])
out("extract_archive", "truncated.tar.gz", gzip.compress(tar, mtime=0)[:200])

# office documents
for n in ("notes.docx", "accounts.xlsx", "review.pptx", "notes.odt"):
    out("extract_ooxml", n, docs[n])
out("extract_ooxml", "truncated.docx", docs["notes.docx"][: len(docs["notes.docx"]) // 2])
out("extract_ooxml", "embedded.docx", zip_of([("[Content_Types].xml", b"<Types/>"),
                                              ("word/document.xml", b"<w:p><w:t>x</w:t></w:p>"),
                                              ("word/embeddings/book.xlsx", docs["accounts.xlsx"])]))

# pdf
out("extract_pdf", "sow.pdf", docs["sow.pdf"])
out("extract_pdf", "truncated.pdf", docs["sow.pdf"][: len(docs["sow.pdf"]) // 2])
out("extract_pdf", "noxref.pdf", docs["sow.pdf"].split(b"xref")[0])

# hand-written text decoders
out("extract_text", "page.html", b"<!DOCTYPE html><html><head><style>p{}</style></head><body><p>a&amp;b&#x41;"
    b"<a href='https://u:p@h/'>x</a><script>var k='sk_live';</script><input value=\"v\"><![CDATA[c]]>"
    b"<!-- c --> 1 < 2 &nbsp;&unknown; <unterminated")
out("extract_text", "utf16.xml", "\ufeff<?xml version=\"1.0\"?><r><v>p\u00e9</v></r>".encode("utf-16-le"))
out("extract_text", "latin1.xml", b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>caf\xe9</r>")
out("extract_text", "notes.rtf", docs["notes.rtf"])
out("extract_text", "unicode.rtf", b"{\\rtf1\\ansi\\ansicpg932\\uc2 \\u12354\\'82\\'a0 \\'82\\'a2{\\*\\x y}\\bin4 abcd}}}{")
out("extract_text", "utf16be.txt", "\ufeffpassword=\u00e9t\u00e9\n".encode("utf-16-be"))
out("extract_text", "cp1252.txt", b"caf\xe9 \x80 \x81 \x9d ok\n")
out("extract_text", "cut.txt", b"abc \xe2\x82")
