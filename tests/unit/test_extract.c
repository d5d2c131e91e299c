/* SPDX-License-Identifier: Apache-2.0
 * The extraction core: charset sniffing, text conversion with offsets,
 * provenance chains, budgets (depth, size, total, children) and their
 * diagnostics. The format families have their own tests. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "extract/extract.h"

/* Collects every text unit as "part|chain|offset|text\n". */
typedef struct collect {
    ks_buf out;
    ks_buf text;     /* concatenated text only */
    int units;
    int stop_after;  /* non-zero: stop after that many units */
} collect;

static int on_text(void *ud, const ks_xtext *t)
{
    collect *c = ud;
    ks__buf_printf(&c->out, "%s|", t->part);
    ks__xnode_path(t->node, &c->out);
    ks__buf_printf(&c->out, "|%llu|", (unsigned long long)t->offset);
    ks__buf_add(&c->out, t->p, t->n);
    ks__buf_addc(&c->out, '\n');
    ks__buf_add(&c->text, t->p, t->n);
    c->units++;
    return c->stop_after && c->units >= c->stop_after;
}

static void collect_release(collect *c)
{
    ks__buf_release(&c->out);
    ks__buf_release(&c->text);
}

static int extract_mem(ks_xctx *x, const char *name, const void *p, size_t n)
{
    ks_xnode top = {.name = name, .offset = UINT64_MAX};
    return ks__extract(x, &top, p, n);
}

TEST(sniff_charsets)
{
    size_t bom;
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"hello world\n", 12, &bom), "utf-8");
    CHECK_INT(bom, 0);
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"\xEF\xBB\xBFhi", 5, &bom), "utf-8");
    CHECK_INT(bom, 3);
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"\xFF\xFEh\0i\0", 6, &bom), "utf-16le");
    CHECK_INT(bom, 2);
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"\xFE\xFF\0h\0i", 6, &bom), "utf-16be");
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"p\0a\0s\0s\0w\0o\0r\0d\0", 16, &bom), "utf-16le");
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"\0p\0a\0s\0s\0w\0o\0r\0d", 16, &bom), "utf-16be");
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"caf\xc3\xa9 cr\xc3\xa8me", 12, &bom), "utf-8");
    CHECK_STR(ks__xsniff_charset((const uint8_t *)"caf\xe9 cr\xe8me \x80 10", 15, &bom), "windows-1252");
    /* ELF-like header: binary. */
    CHECK(ks__xsniff_charset((const uint8_t *)"\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0", 20, &bom) == NULL);
    /* A UTF-8 sequence cut by the sample's end is still UTF-8. */
    char big[5000];
    memset(big, 'a', sizeof big);
    memcpy(big + 4094, "\xe2\x82\xac", 3);
    CHECK_STR(ks__xsniff_charset((const uint8_t *)big, sizeof big, &bom), "utf-8");
}

TEST(text_utf8_zero_copy_and_bom)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, NULL, "t.txt", on_text, &c);
    CHECK_INT(extract_mem(&x, "t.txt", "\xEF\xBB\xBFkey=abc\n", 11), KS_OK);
    CHECK_STR(c.out.p, "text|t.txt|0|key=abc\n\n");
    CHECK_INT(c.units, 1);
    collect_release(&c);
}

TEST(text_utf16_latin1_to_utf8)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, NULL, "u.txt", on_text, &c);
    /* UTF-16LE without BOM, with a non-ASCII character (é). */
    const char u16[] = "p\0w\0=\0\xe9\0s\0e\0c\0r\0e\0t\0\n\0";
    CHECK_INT(extract_mem(&x, "u.txt", u16, sizeof u16 - 1), KS_OK);
    CHECK_STR(c.text.p, "pw=\xc3\xa9secret\n");
    ks__buf_reset(&c.text);
    /* UTF-16BE with BOM. */
    const char be[] = "\xFE\xFF\0t\0o\0k\0e\0n";
    CHECK_INT(extract_mem(&x, "b.txt", be, sizeof be - 1), KS_OK);
    CHECK_STR(c.text.p, "token");
    ks__buf_reset(&c.text);
    /* Windows-1252: the euro sign is 0x80, 0x81 is undefined (kept as U+0081). */
    CHECK_INT(extract_mem(&x, "l.txt", "caf\xe9 \x80 \x81 ok", 11), KS_OK);
    CHECK_STR(c.text.p, "caf\xc3\xa9 \xe2\x82\xac \xc2\x81 ok");
    ks__buf_reset(&c.text);
    /* An explicit charset label, and an unknown one (sniffed instead). */
    ks_xnode top = {.name = "m", .offset = UINT64_MAX};
    CHECK_INT(ks__extract_text(&x, &top, "body", "\xe0\xe9", 2, "iso-8859-1"), KS_OK);
    CHECK_STR(c.text.p, "\xc3\xa0\xc3\xa9");
    ks__buf_reset(&c.text);
    CHECK_INT(ks__extract_text(&x, &top, "body", "plain", 5, "x-no-such-charset"), KS_OK);
    CHECK_STR(c.text.p, "plain");
    ks__buf_reset(&c.text);
    /* A dangling UTF-16 half unit and a lone surrogate: U+FFFD, no crash. */
    CHECK_INT(ks__extract_text(&x, &top, "body", "a\0\x00\xd8" "b\0c", 7, "utf-16le"), KS_OK);
    CHECK(c.text.n >= 3 && c.text.p[0] == 'a');
    collect_release(&c);
}

TEST(text_big_utf16_pieces_keep_offsets_and_lines)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, NULL, "big.txt", on_text, &c);
    /* 3 MiB of UTF-16LE lines -> 1.5 MiB UTF-8... make it 12 MiB (6 MiB out)
     * so it takes more than one 4 MiB piece. */
    const char *line = "line with some words and a token ghp_x\n";
    size_t ll = strlen(line), nlines = (6u << 20) / ll + 1;
    size_t n = 2 + nlines * ll * 2;
    uint8_t *u = malloc(n);
    u[0] = 0xFF, u[1] = 0xFE;
    for (size_t i = 0, o = 2; i < nlines; i++)
        for (size_t k = 0; k < ll; k++, o += 2)
            u[o] = (uint8_t)line[k], u[o + 1] = 0;
    CHECK_INT(extract_mem(&x, "big.txt", u, n), KS_OK);
    CHECK(c.units >= 2);
    CHECK_INT(c.text.n, nlines * ll);
    /* Every piece ends at a line end: no token split across pieces. */
    const char *p = c.out.p;
    int pieces_ok = 1;
    for (int i = 0; i < c.units; i++) {
        const char *nl = strchr(p, '\n');
        (void)nl;
        p = strstr(p, "text|big.txt|");
        if (!p)
            break;
        unsigned long long off = strtoull(p + 13, NULL, 10);
        if (off % ll != 0)
            pieces_ok = 0;
        p += 13;
    }
    CHECK(pieces_ok);
    free(u);
    collect_release(&c);
}

TEST(binary_blob_gives_no_text)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, NULL, "b.bin", on_text, &c);
    uint8_t bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)(i * 7);
    x.strings = false;
    CHECK_INT(extract_mem(&x, "b.bin", bin, sizeof bin), KS_OK);
    CHECK_INT(c.units, 0);
    collect_release(&c);
}

TEST(binary_strings_with_offsets)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, NULL, "db.sqlite", on_text, &c);
    uint8_t bin[200];
    memset(bin, 0x01, sizeof bin);
    memcpy(bin + 10, "token=abcdef123456", 18);
    memcpy(bin + 40, "short", 5); /* under 8: not a string */
    const char w[] = "p\0a\0s\0s\0w\0o\0r\0d\0=\0x\0";
    memcpy(bin + 60, w, sizeof w - 1);
    bin[0] = 0x7f; /* ELF-ish */
    CHECK_INT(extract_mem(&x, "db.sqlite", bin, sizeof bin), KS_OK);
    CHECK_STR(c.out.p, "strings|db.sqlite|0|token=abcdef123456\nstrings|db.sqlite|18|password=x\n");
    collect_release(&c);
}

/* The strings of a binary blob, byte by byte (the definition the 16-byte
 * search must keep): runs of 8+ printable bytes, else runs of 8+ (printable,
 * zero) pairs, as "strings|name|offset|text\n" like collect. */
static void strings_by_byte(const uint8_t *p, size_t n, const char *name, ks_buf *out)
{
    size_t i = 0, off = 0;
    while (i < n) {
        size_t j = i, k = i;
        while (j < n && ((p[j] >= 0x20 && p[j] < 0x7F) || p[j] == '\t'))
            j++;
        if (j - i >= 8) {
            ks__buf_printf(out, "strings|%s|%zu|%.*s\n", name, off, (int)(j - i), (const char *)p + i);
            off += j - i;
            i = j;
            continue;
        }
        while (k + 1 < n && ((p[k] >= 0x20 && p[k] < 0x7F) || p[k] == '\t') && p[k + 1] == 0)
            k += 2;
        if ((k - i) / 2 >= 8) {
            ks__buf_printf(out, "strings|%s|%zu|", name, off);
            for (size_t q = i; q < k; q += 2)
                ks__buf_addc(out, (char)p[q]);
            ks__buf_addc(out, '\n');
            off += (k - i) / 2;
            i = k;
            continue;
        }
        i = (j > k ? j : k) + 1;
    }
}

TEST(binary_strings_same_as_byte_by_byte)
{
    static const uint8_t junk[] = {0, 0, 1, 0x7f, 0x80, 0xff, 0x1f, '\t', ' ', '~', 0x0a, 0xc3};
    uint8_t *bin = malloc(8192);
    uint32_t seed = 12345;
    int units = 0;
    CHECK(bin != NULL);
    for (int round = 0; bin && round < 300; round++) {
        size_t n = 0;
        while (n < 8000) { /* pieces: ASCII runs, UTF-16 runs, junk, at every alignment */
            seed = seed * 1103515245u + 12345u;
            unsigned kind = (seed >> 16) % 3, len = (seed >> 8) % 24;
            for (unsigned q = 0; q < len + 1 && n + 2 < 8192; q++) {
                seed = seed * 1103515245u + 12345u;
                uint8_t c = (uint8_t)('a' + (seed >> 16) % 26);
                if ((seed >> 24) % 17 == 0)
                    c = junk[(seed >> 8) % sizeof junk];
                if (kind == 0)
                    bin[n++] = c;
                else if (kind == 1)
                    bin[n++] = c, bin[n++] = (seed >> 24) % 29 ? 0 : c;
                else
                    bin[n++] = junk[(seed >> 12) % sizeof junk];
            }
        }
        bin[0] = 0x01, bin[1] = 0x00, bin[2] = 0x02; /* binary from the first byte */
        collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
        ks_buf want = KS_BUF_INIT;
        ks_xctx x;
        ks__xctx_init(&x, NULL, "b.bin", on_text, &c);
        size_t len = n - (size_t)round % 17; /* tails of every length */
        CHECK_INT(extract_mem(&x, "b.bin", bin, len), KS_OK);
        strings_by_byte(bin, len, "b.bin", &want);
        CHECK(c.out.n == want.n && (!want.n || memcmp(c.out.p, want.p, want.n) == 0));
        units += c.units;
        collect_release(&c);
        ks__buf_release(&want);
    }
    CHECK(units > 3000); /* the blobs did hold strings of both kinds */
    free(bin);
}

/* A fake container for the budget tests: each call makes `fanout` children
 * of itself down to the depth its content names ("nest:N"). */
static int nest_children(ks_xctx *x, const ks_xnode *node, int fanout)
{
    char name[32];
    for (int i = 0; i < fanout && !x->stopped; i++) {
        snprintf(name, sizeof name, "m%d.txt", i);
        ks__extract_child(x, node, name, "fake", NULL, (uint64_t)i * 100, (const uint8_t *)"leaf text", 9);
    }
    return KS_OK;
}

TEST(provenance_chain_and_mail_inheritance)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, NULL, "box.mbox", on_text, &c);
    ks_xmail mail = {.message_id = "a@b", .subject = "hi"};
    ks_xnode top = {.name = "box.mbox", .format = "mbox", .offset = UINT64_MAX};
    ks_xnode msg = {.parent = &top, .name = "message 3", .format = "mime", .mail = &mail, .offset = 1234, .depth = 1};
    x.budget.max_depth = 0; /* defaults filled by ks__extract */
    ks__extract(&x, &top, (const uint8_t *)"", 0);
    CHECK_INT(ks__extract_child(&x, &msg, "report.txt", NULL, NULL, 77, (const uint8_t *)"pw: x", 5), KS_OK);
    CHECK_STR(c.out.p, "text|box.mbox!message 3!report.txt|0|pw: x\n");
    ks_buf b = KS_BUF_INIT;
    CHECK_INT(ks__xnode_path(&msg, &b), KS_OK);
    CHECK_STR(b.p, "box.mbox!message 3");
    ks__buf_release(&b);
    (void)nest_children;
    collect_release(&c);
}

/* Budgets need an engine to see the diagnostics. */
typedef struct diags {
    int warn;
    char last[512];
} diags;

static void on_diag(void *ud, const ks_diag *d)
{
    diags *g = ud;
    if (d->level == KS_DIAG_WARN)
        g->warn++;
    snprintf(g->last, sizeof g->last, "%s", d->msg);
}

static int deep_extract(ks_xctx *x, const ks_xnode *node, int levels)
{
    if (!levels)
        return ks__extract_text(x, node, "text", "deep", 4, "utf-8");
    /* Recurse by hand the way a container extractor does. */
    ks_xnode child = {.parent = node, .name = "inner.zip", .format = "fake", .offset = 0, .depth = node->depth + 1};
    if (child.depth > x->budget.max_depth)
        return ks__extract_child(x, node, "inner.zip", "fake", NULL, 0, (const uint8_t *)"x", 1);
    return deep_extract(x, &child, levels - 1);
}

TEST(budgets_are_diagnostics)
{
    ks_engine *e = NULL;
    diags g = {0, ""};
    CHECK_INT(ks_engine_new(&e), KS_OK);
    ks_engine_on_diag(e, on_diag, &g);
    CHECK_INT(ks_engine_set(e, "extract.max_depth", "3"), KS_OK);
    CHECK_INT(ks_engine_set(e, "extract.max_children", "5"), KS_OK);
    CHECK_INT(ks_engine_set(e, "extract.max_blob", "4"), KS_OK);
    CHECK_INT(ks_engine_set(e, "extract.max_total", "1k"), KS_OK);
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    ks__xctx_init(&x, e, "ev.zip", on_text, &c);
    CHECK_INT(x.budget.max_depth, 3);
    CHECK_INT(x.budget.max_total, 1024);
    ks_xnode top = {.name = "ev.zip", .offset = UINT64_MAX};
    ks__extract(&x, &top, (const uint8_t *)"", 0);
    /* depth */
    deep_extract(&x, &top, 10);
    CHECK_INT(g.warn, 1);
    CHECK(strstr(g.last, "ev.zip!inner.zip!inner.zip!inner.zip!inner.zip: nested deeper") != NULL);
    /* per-child size: cut to max_blob and said so */
    g.warn = 0;
    ks__buf_reset(&c.text);
    ks__extract_child(&x, &top, "big.txt", NULL, NULL, 0, (const uint8_t *)"abcdefgh", 8);
    CHECK_STR(c.text.p, "abcd");
    CHECK_INT(g.warn, 1);
    /* children: the 6th stops the blob, one diagnostic */
    ks__extract(&x, &top, (const uint8_t *)"", 0);
    x.budget.max_blob = 64;
    g.warn = 0;
    nest_children(&x, &top, 50);
    CHECK_INT(x.children, 6);
    CHECK(x.stopped);
    CHECK_INT(g.warn, 1);
    CHECK(strstr(g.last, "max_children") != NULL);
    /* total: text beyond 1 KiB is cut, one diagnostic */
    ks__extract(&x, &top, (const uint8_t *)"", 0);
    g.warn = 0;
    ks__buf_reset(&c.text);
    char kb[700];
    memset(kb, 'z', sizeof kb);
    ks__extract_text(&x, &top, "text", kb, sizeof kb, "utf-8");
    ks__extract_text(&x, &top, "text", kb, sizeof kb, "utf-8");
    ks__extract_text(&x, &top, "text", kb, sizeof kb, "utf-8");
    CHECK_INT(c.text.n, 1024);
    CHECK_INT(g.warn, 1);
    /* ratio room: 1 KiB stored may decode to the floor, not 200 KiB */
    ks__extract(&x, &top, (const uint8_t *)"", 0);
    CHECK_INT(ks__xchild_room(&x, 1024), 64); /* max_blob is smaller */
    x.budget.max_blob = (uint64_t)1 << 40;
    x.budget.max_total = (uint64_t)1 << 40;
    CHECK_INT(ks__xchild_room(&x, 1024), KS_XRATIO_FLOOR);
    CHECK_INT(ks__xchild_room(&x, (uint64_t)1 << 20), (uint64_t)200 << 20);
    /* a callback asking to stop */
    ks__extract(&x, &top, (const uint8_t *)"", 0);
    c.stop_after = 1;
    c.units = 0;
    nest_children(&x, &top, 4);
    CHECK_INT(c.units, 1);
    collect_release(&c);
    ks_engine_free(e);
}

TEST(extract_file_maps_source)
{
    collect c = {KS_BUF_INIT, KS_BUF_INIT, 0, 0};
    ks_xctx x;
    const char *path = ks_test_write("f.txt", "AKIA in a file\n", 15);
    ks_source *src = NULL;
    char err[128];
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, path, &src, err, sizeof err), KS_OK);
    size_t nh;
    const uint8_t *h = ks__source_head(src, &nh);
    ks_file f = {.path = path, .name = "f.txt", .src = src, .head = h, .nhead = nh};
    ks__xctx_init(&x, NULL, path, on_text, &c);
    CHECK_INT(ks__extract_file(&x, &f), KS_OK);
    CHECK_STR(c.text.p, "AKIA in a file\n");
    /* An in-memory blob with provenance: its node is used as is. */
    ks_xgit git = {.repo = "r", .commit = "abc", .path = "k.txt"};
    ks_xnode repo = {.name = "r", .format = "git", .offset = UINT64_MAX};
    ks_xnode blob = {.parent = &repo, .name = "abc:k.txt", .git = &git, .offset = UINT64_MAX, .depth = 1};
    f.xnode = &blob;
    ks__buf_reset(&c.out);
    CHECK_INT(ks__extract_file(&x, &f), KS_OK);
    CHECK_STR(c.out.p, "text|r!abc:k.txt|0|AKIA in a file\n\n");
    ks__source_close(src);
    collect_release(&c);
}
