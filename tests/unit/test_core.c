/* SPDX-License-Identifier: Apache-2.0
 * Core building blocks: arena, buffer escaping, map, symtab, pool, time,
 * UTF helpers, parsing helpers, globs, sources (plain, gzip, zstd, lines). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include "harness.h"
#include "kensa_int.h"
#include "core/blake2b.h"
#include "core/sha256.h"
#include "input/weblog.h"

TEST(arena_alloc_reset_cap)
{
    ks_arena *a = ks__arena_new(64, 4096);
    char *p = ks__arena_strndup(a, "hello", 5);
    CHECK_STR(p, "hello");
    CHECK(((uintptr_t)ks__arena_alloc(a, 3) & 15) == 0);
    CHECK(ks__arena_alloc(a, 1000) != NULL);
    CHECK(ks__arena_alloc(a, 8192) == NULL); /* over the cap */
    ks__arena_reset(a);
    CHECK(ks__arena_used(a) <= 64);
    CHECK_STR(ks__arena_printf(a, "%d-%s", 7, "x"), "7-x");
    ks__arena_free(a);
    ks__arena_free(NULL);
}

/* Huge-page blocks: whole 2 MiB pages, aligned, the cap still holds, a
 * request larger than a block gets one of its own, and reset keeps one. */
TEST(arena_huge_pages)
{
    ks_arena *a = ks__arena_new(1 << 20, (size_t)9 << 20);
    ks__arena_huge_pages(a);
    char *p = ks__arena_alloc(a, 100);
    CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
    CHECK_INT(ks__arena_used(a) + 32 == ((size_t)2 << 20), 1); /* one page less the header */
    memset(p, 0xa5, 100);
    size_t n = 0;
    while (ks__arena_alloc(a, 1000))
        n++;
    CHECK(n >= 8000 && ks__arena_used(a) <= ((size_t)9 << 20)); /* four pages, no fifth */
    ks__arena_reset(a);
    CHECK(ks__arena_alloc(a, (size_t)3 << 20) != NULL); /* 2 + 4 MiB, under the cap */
    ks__arena_reset(a);
    CHECK(ks__arena_used(a) <= ((size_t)2 << 20));
    CHECK_INT((int)(((uintptr_t)ks__arena_alloc(a, 16) - 32) & (((size_t)2 << 20) - 1)), 0);
    ks__arena_free(a);
}

TEST(buf_json_and_csv_escaping)
{
    ks_buf b = KS_BUF_INIT;
    ks__buf_add_json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
    CHECK_STR(b.p, "a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\xc3\xa9");
    ks__buf_reset(&b);
    ks__buf_add_csv(&b, "x,\"y\"", 5);
    CHECK_STR(b.p, "\"x,\"\"y\"\"\"");
    ks__buf_reset(&b);
    ks__buf_add_csv(&b, "=cmd|' /C calc'!A0", 18);
    CHECK(b.p[0] == '"' && b.p[1] == '\''); /* formula made inert */
    ks__buf_release(&b);
    ks_buf lim = KS_BUF_INIT;
    lim.limit = 16;
    CHECK_INT(ks__buf_add(&lim, "0123456789abcdefXYZ", 19), KS_ELIMIT);
    ks__buf_release(&lim);
}

TEST(map_grow_iterate)
{
    ks_map *m = ks__map_new(4);
    char k[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(k, sizeof k, "key%d", i);
        *ks__map_slot(m, k, (size_t)n, true) = (uint64_t)i;
    }
    CHECK_INT(ks__map_count(m), 10000);
    CHECK_INT(*ks__map_get(m, "key4242", 7), 4242);
    CHECK(ks__map_get(m, "nokey", 5) == NULL);
    size_t it = 0, n, seen = 0;
    const char *key;
    uint64_t *v;
    while (ks__map_iter(m, &it, &key, &n, &v))
        seen++;
    CHECK_INT(seen, 10000);
    ks__map_free(m);
}

TEST(symtab_two_engines_independent)
{
    ks_symtab *a = ks__symtab_new(), *b = ks__symtab_new();
    ks_sym x = ks_symtab_intern(a, "Event.EventData.TargetUserName", 30);
    ks_sym y = ks_symtab_intern(a, "properties.ipAddress", 20);
    CHECK(x && y && x != y);
    CHECK_INT(ks_symtab_intern(a, "Event.EventData.TargetUserName", 30), x);
    CHECK_INT(ks_symtab_find(b, "properties.ipAddress", 20), 0);
    size_t len;
    CHECK_STR(ks_symtab_str(a, y, &len), "properties.ipAddress");
    ks_symcache *c = ks__symcache_new(a);
    CHECK_INT(ks__symcache_intern(c, "properties.ipAddress", 20), y);
    ks__symcache_free(c);
    ks__symtab_free(a);
    ks__symtab_free(b);
}

static int counter;
static void bump(void *arg, int worker)
{
    (void)arg;
    (void)worker;
    __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
}

TEST(pool_runs_every_task)
{
    ks_pool *p = NULL;
    CHECK_INT(ks__pool_new(3, &p), KS_OK);
    for (int i = 0; i < 1000; i++)
        ks__pool_submit(p, bump, NULL);
    ks__pool_wait(p);
    CHECK_INT(counter, 1000);
    ks__pool_free(p);
}

TEST(time_parse_format)
{
    int64_t t;
    char buf[64];
    CHECK_INT(ks_time_parse("2019-10-18T04:45:48.0729893-05:00", 33, &t), KS_OK);
    ks_time_format(t, buf, sizeof buf);
    CHECK_STR(buf, "2019-10-18T09:45:48.072989300Z");
    CHECK_INT(ks_time_parse("2021-03-02 04:05:06", 19, &t), KS_OK);
    ks_time_format(t, buf, sizeof buf);
    CHECK_STR(buf, "2021-03-02T04:05:06Z");
    CHECK_INT(ks_time_parse("2021-03-02", 10, &t), KS_OK);
    CHECK_INT(ks_time_parse("yesterday", 9, &t), KS_EFORMAT);
    CHECK_INT(ks_time_parse("2021-13-02", 10, &t), KS_EFORMAT);
    CHECK_INT(ks__filetime_to_ns(116444736000000000ull), 0);
    ks_time_format(-1000000000ll, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31T23:59:59Z");
    /* the hand-written digits match the printf formats they replace: ms,
     * us and ns precision, years 0-9999, and the printf path past them */
    static const struct { int64_t sec; uint32_t ns; const char *want; } cases[] = {
        {0, 0, "1970-01-01T00:00:00Z"},
        {1700000000, 1000000, "2023-11-14T22:13:20.001Z"},
        {1700000000, 120000, "2023-11-14T22:13:20.000120Z"},
        {1700000000, 7, "2023-11-14T22:13:20.000000007Z"},
        {1700000000, 999999999, "2023-11-14T22:13:20.999999999Z"},
        {-62167219200ll, 0, "0000-01-01T00:00:00Z"},
        {253402300799ll, 500000000, "9999-12-31T23:59:59.500Z"},
        {253402300800ll, 0, "10000-01-01T00:00:00Z"},
        {-62167219201ll, 0, "-001-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = ks__time_format_sec(cases[i].sec, cases[i].ns, buf, sizeof buf);
        CHECK_STR(buf, cases[i].want);
        CHECK_INT(n, strlen(cases[i].want));
    }
}

/* The compact analytics state (identity): ids dense from 1 in first-seen
 * order (findings list values in that order), locations read back exactly
 * by index and in order, whatever jumps between them. */
TEST(strids_and_locs)
{
    ks_strids *t = ks__strids_new();
    char k[32];
    CHECK(t != NULL);
    for (uint32_t i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "10.0.%u.%u", i / 250, i % 250);
        CHECK_INT(ks__strids_id(t, k, (size_t)n), i + 1);
    }
    CHECK_INT(ks__strids_id(t, "10.0.0.1", 8), 2);
    CHECK_INT(ks__strids_id(t, "10.0.0.", 7), 5001); /* a prefix is another value */
    CHECK_STR(ks__strids_str(t, 2), "10.0.0.1");
    CHECK_STR(ks__strids_str(t, 0), "");
    CHECK_STR(ks__strids_str(t, 99999), "");
    CHECK_INT(ks__strids_count(t), 5002);
    /* addresses are kept as 32 bits and written out when asked for; other
     * spellings of the same address stay other values, as their text is */
    static const char *const odd[] = {"010.0.0.1", "10.0.0.1 ", "10.0.0.256", "10.0.0", "10.0.0.1.2",
                                      "10..0.1", "0.0.0.0", "255.255.255.255", "1.2.3.4x", "1000.2.3.4"};
    for (size_t i = 0; i < KS_ARRAY_LEN(odd); i++) {
        uint32_t id = ks__strids_id(t, odd[i], strlen(odd[i]));
        CHECK_INT(id, 5002 + i);
        CHECK_INT(ks__strids_id(t, odd[i], strlen(odd[i])), id);
    }
    for (size_t i = 0; i < KS_ARRAY_LEN(odd); i++)
        CHECK_STR(ks__strids_str(t, 5002 + (uint32_t)i), odd[i]);
    const char *first = ks__strids_str(t, 3);
    CHECK_STR(first, "10.0.0.2");
    CHECK(ks__strids_str(t, 3) == first); /* written once, stable */
    char *big = malloc(70000);
    CHECK(big != NULL);
    memset(big, 'x', 70000);
    big[69999] = 0;
    uint32_t bid = ks__strids_id(t, big, 69999);
    CHECK_INT(ks__strids_id(t, "after.big", 9), bid + 1);
    CHECK_STR(ks__strids_str(t, bid), big);
    CHECK_STR(ks__strids_str(t, bid + 1), "after.big");
    CHECK_INT(ks__strids_id(t, big, 69999), bid);
    free(big);
    for (uint32_t i = 0; i < 5000; i++) { /* every address reads back after the others */
        snprintf(k, sizeof k, "10.0.%u.%u", i / 250, i % 250);
        CHECK_STR(ks__strids_str(t, i + 1), k);
    }
    ks__strids_free(t);

    ks_locs l = {0};
    uint64_t v[KS_LOC_FIELDS], w[KS_LOC_FIELDS], seed = 7;
    enum { N = 1000 };
    static uint64_t want[N][KS_LOC_FIELDS];
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        want[i][KS_LOC_OFFSET] = i % 97 == 0 ? UINT64_MAX - seed % 5 : (uint64_t)i * 400 + seed % 300;
        want[i][KS_LOC_RECORD] = i % 50 == 0 ? 0 : (uint64_t)i + 1;
        want[i][KS_LOC_LINE] = i % 3 ? seed >> 20 : 0;
        want[i][KS_LOC_PATH] = (uint64_t)(i / 300);
        CHECK_INT(ks__locs_add(&l, want[i]), KS_OK);
    }
    size_t bad = 0;
    ks_locs_cur c = {0};
    for (int i = 0; i < N; i++) {
        ks__locs_next(&l, &c, v);
        ks__locs_get(&l, (uint64_t)(N - 1 - i), w);
        bad += memcmp(v, want[i], sizeof v) != 0;
        bad += memcmp(w, want[N - 1 - i], sizeof w) != 0;
    }
    CHECK_INT(bad, 0);
    ks__locs_release(&l);
}

TEST(utf_conversions)
{
    const uint8_t u16[] = {'h', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 'x', 0};
    char out[64];
    size_t n = ks__utf16le_to_utf8(u16, sizeof u16, out, sizeof out, false);
    out[n] = 0;
    CHECK_STR(out, "h\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx");
    CHECK(ks__utf8_valid("\xc3\xa9", 2));
    CHECK(!ks__utf8_valid("\xc0\xaf", 2));        /* overlong */
    CHECK(!ks__utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    CHECK(ks__memmem_ci("Hello WORLD", 11, "world", 5) != NULL);
}

/* The ASCII runs ks__utf8_valid_prefix skips a vector at a time end where
 * a byte loop would: every length and offset of ASCII runs broken by
 * multibyte, cut and invalid sequences. */
static size_t ascii_ref(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

/* Well-formed UTF-8 by the Unicode standard's table 3-7 (the second
 * byte's range per lead byte). */
static size_t utf8_ref(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], lo = 0x80, hi = 0xbf, len;
        if (c < 0x80)
            len = 1;
        else if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return i;
        if (len > n - i || (len > 1 && (s[i + 1] < lo || s[i + 1] > hi)))
            return i;
        for (unsigned k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += len;
    }
    return i;
}

TEST(utf8_prefix_vector_runs)
{
    static const char *const pieces[] = {"a", "hello world, ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "\xc3", "\xed\xa0\x80", "\xff", "\x80", "\n\t", "0123456789abcdefXYZ"};
    char buf[256];
    size_t bad = 0;
    unsigned r = 12345;
    for (int t = 0; t < 20000; t++) {
        size_t n = 0;
        while (n < 160) {
            r = r * 1103515245u + 12345u;
            const char *pc = pieces[(r >> 16) % KS_ARRAY_LEN(pieces)];
            size_t l = strlen(pc);
            /* mostly ASCII, as mail is */
            if ((r >> 8) % 4 && (unsigned char)pc[0] >= 0x80)
                pc = "plain text ", l = 11;
            memcpy(buf + n, pc, l);
            n += l;
        }
        for (size_t off = 0; off < 20; off++) {
            size_t len = n - off - (size_t)(r % 7);
            const unsigned char *u = (const unsigned char *)buf + off;
            bad += ks__ascii_prefix(u, len) != ascii_ref(u, len);
            bad += ks__utf8_valid_prefix((const char *)u, len) != utf8_ref(u, len);
        }
    }
    CHECK_INT(bad, 0);
}

/* ks__memmem_ci anchors on a needle byte without case: the same first
 * match as a plain scan, on random haystacks over a small alphabet. */
static const char *memmem_ci_ref(const char *h, size_t hn, const char *nd, size_t nn)
{
    for (size_t i = 0; i + nn <= hn; i++)
        if (ks__ieq(h + i, nn, nd, nn))
            return h + i;
    return NULL;
}

TEST(memmem_ci_matches_plain_scan)
{
    static const char alpha[] = "sSiIgG=pP&v\xe9";
    static const char *const needles[] = {"sig=", "=s", "sp=", "a", "=", "sIg", "&v=", "gg", "\xe9s"};
    uint32_t seed = 12345;
    size_t differ = 0, found = 0;
    for (int round = 0; round < 4000; round++) {
        char h[64];
        size_t hn = (size_t)(round % 40);
        for (size_t i = 0; i < hn; i++) {
            seed = seed * 1103515245u + 12345u;
            h[i] = alpha[(seed >> 16) % (sizeof alpha - 1)];
        }
        for (size_t k = 0; k < KS_ARRAY_LEN(needles); k++) {
            size_t nn = strlen(needles[k]);
            const char *a = ks__memmem_ci(h, hn, needles[k], nn), *b = memmem_ci_ref(h, hn, needles[k], nn);
            differ += a != b;
            found += b != NULL;
        }
    }
    CHECK_INT(differ, 0);
    CHECK(found > 1000);
    CHECK(ks__memmem_ci("x", 1, "", 0) != NULL);
    CHECK(ks__memmem_ci("sig", 3, "sig=", 4) == NULL);
}

TEST(parse_helpers_and_glob)
{
    uint64_t sz;
    int64_t d;
    CHECK_INT(ks__parse_size("100M", &sz), KS_OK);
    CHECK_INT(sz, 100ull << 20);
    CHECK_INT(ks__parse_size("1.5G", &sz), KS_EUSAGE);
    CHECK_INT(ks__parse_duration("5m", &d), KS_OK);
    CHECK_INT(d, 300000000000ll);
    CHECK(ks__glob("*.log", "u_ex210302.log"));
    CHECK(ks__glob("*/node_modules/*", "/srv/app/node_modules/x.js"));
    CHECK(!ks__glob("*.log", "a.txt"));
    CHECK(ks__glob("file[0-9].txt", "file7.txt"));
    CHECK_STR(ks_strerror(KS_ETRUNCATED), "truncated input");
    CHECK_INT(ks_severity_parse("informational"), KS_SEV_INFO);
}

static const char *write_gz(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ks_test_tmpdir(), name);
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
    return ks_test_strdup(path);
}

static char *read_all(const char *path, size_t *n)
{
    ks_source *s = NULL;
    char err[256];
    const uint8_t *p;
    size_t avail;
    if (ks__source_open(AT_FDCWD, NULL, path, &s, err, sizeof err) != KS_OK)
        return NULL;
    ks__source_window(s, 0, 1 << 20, &p, &avail);
    char *out = malloc(avail + 1);
    memcpy(out, p, avail);
    out[avail] = 0;
    *n = avail;
    ks__source_close(s);
    return out;
}

TEST(source_plain_gzip_zstd)
{
    const char *text = "line one\nline two\r\nlast";
    size_t n;
    const char *plain = ks_test_write("plain.txt", text, strlen(text));
    char *got = read_all(plain, &n);
    CHECK_STR(got, text);
    free(got);
    const char *gz = write_gz("x.gz", text);
    got = read_all(gz, &n);
    CHECK_STR(got, text);
    free(got);
    char zbuf[256];
    size_t zn = ZSTD_compress(zbuf, sizeof zbuf, text, strlen(text), 3);
    const char *zs = ks_test_write("x.zst", zbuf, zn);
    got = read_all(zs, &n);
    CHECK_STR(got, text);
    free(got);
    /* truncated gzip: an error, not a hang, and the readable part */
    char tbuf[64];
    FILE *fp = fopen(gz, "rb");
    size_t tn = fread(tbuf, 1, sizeof tbuf, fp);
    fclose(fp);
    const char *tr = ks_test_write("trunc.gz", tbuf, tn > 20 ? tn - 8 : tn);
    ks_source *s = NULL;
    char err[256];
    const uint8_t *p;
    size_t avail;
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, tr, &s, err, sizeof err), KS_OK);
    int rc = ks__source_window(s, 0, 4096, &p, &avail);
    CHECK(rc == KS_ETRUNCATED || rc == KS_EFORMAT);
    ks__source_close(s);
}

TEST(lines_reader_long_lines)
{
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "short\n");
    for (int i = 0; i < 5000; i++)
        ks__buf_addc(&b, 'x');
    ks__buf_adds(&b, "\nafter\r\nend");
    const char *path = ks_test_write("lines.txt", b.p, b.n);
    ks__buf_release(&b);
    ks_source *s = NULL;
    char err[256];
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, path, &s, err, sizeof err), KS_OK);
    ks_lines l;
    ks__lines_init(&l, s, 1000);
    const char *line;
    size_t n;
    uint64_t no, off;
    CHECK_INT(ks__lines_next(&l, &line, &n, &no, &off), KS_OK);
    CHECK(n == 5 && !memcmp(line, "short", 5));
    CHECK_INT(ks__lines_next(&l, &line, &n, &no, &off), KS_ELIMIT);
    CHECK_INT(no, 2);
    CHECK_INT(ks__lines_next(&l, &line, &n, &no, &off), KS_OK);
    CHECK(n == 5 && !memcmp(line, "after", 5));
    CHECK_INT(no, 3);
    CHECK_INT(ks__lines_next(&l, &line, &n, &no, &off), KS_OK);
    CHECK(n == 3 && !memcmp(line, "end", 3));
    CHECK_INT(ks__lines_next(&l, &line, &n, &no, &off), KS_EOF);
    ks__source_close(s);
}

/* Reads mode (ks__source_use_reads: pread into a buffer) gives the lines
 * the mapping gives: lines across the buffer's edges, one longer than the
 * buffer, one over the limit; and a file cut short under the reader ends
 * its lines where the reads came up short, with ks__source_shrunk saying
 * where, instead of a SIGBUS. */
TEST(lines_reader_reads_mode)
{
    ks_buf b = KS_BUF_INIT;
    uint32_t r = 7;
    for (int i = 0; i < 30000; i++) {
        r = r * 1103515245u + 12345u;
        size_t len = i == 9000 ? 200000 : i == 15000 ? 500000 : (r >> 16) % 90;
        for (size_t k = 0; k < len; k++)
            ks__buf_addc(&b, (char)('a' + (k + (size_t)i) % 26));
        ks__buf_adds(&b, i % 7 ? "\n" : "\r\n");
    }
    ks__buf_adds(&b, "tail");
    const char *path = ks_test_write("reads.txt", b.p, b.n);
    size_t total = b.n;
    ks__buf_release(&b);
    ks_source *m = NULL, *s = NULL;
    char err[256];
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, path, &m, err, sizeof err), KS_OK);
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, path, &s, err, sizeof err), KS_OK);
    ks__source_use_reads(s);
    ks_lines lm, ls;
    ks__lines_init(&lm, m, 300000);
    ks__lines_init(&ls, s, 300000);
    size_t nlines = 0, nlong = 0;
    for (;;) {
        const char *a, *c;
        size_t an, cn;
        uint64_t ano, aoff, cno, coff;
        int ra = ks__lines_next(&lm, &a, &an, &ano, &aoff);
        int rc = ks__lines_next(&ls, &c, &cn, &cno, &coff);
        CHECK_INT(rc, ra);
        CHECK_INT(cno, ano);
        CHECK_INT(coff, aoff);
        if (ra == KS_EOF || rc != ra)
            break;
        if (ra == KS_ELIMIT) {
            nlong++;
            continue;
        }
        CHECK_INT(cn, an);
        if (cn != an || memcmp(a, c, an) != 0) {
            CHECK(!"same bytes");
            break;
        }
        nlines++;
    }
    CHECK_INT(nlines, 30000);
    CHECK_INT(nlong, 1);
    CHECK_INT(ks__source_shrunk(s), UINT64_MAX);
    ks__source_close(m);
    ks__source_close(s);

    /* cut short while read: the lines stop by the new end, no fault */
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, path, &s, err, sizeof err), KS_OK);
    ks__source_use_reads(s);
    ks__lines_init(&ls, s, 300000);
    const char *c;
    size_t cn;
    uint64_t cno, coff, last = 0;
    CHECK_INT(ks__lines_next(&ls, &c, &cn, &cno, &coff), KS_OK);
    CHECK_INT(truncate(path, 1 << 20), 0);
    int rc;
    while ((rc = ks__lines_next(&ls, &c, &cn, &cno, &coff)) == KS_OK || rc == KS_ELIMIT)
        last = coff + cn;
    CHECK_INT(rc, KS_EOF);
    CHECK(last <= (uint64_t)1 << 20);
    CHECK(ks__source_shrunk(s) <= (uint64_t)1 << 20);
    CHECK(ks__source_shrunk(s) < total);
    ks__source_close(s);
}

TEST(source_refuses_specials_and_missing)
{
    ks_source *s = NULL;
    char err[256];
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, "/nonexistent/file", &s, err, sizeof err), KS_ENOTFOUND);
    CHECK_INT(ks__source_open(AT_FDCWD, NULL, "/dev/null", &s, err, sizeof err), KS_EUNSUPPORTED);
    CHECK(strstr(err, "not a regular file") != NULL);
}

TEST(grow_arrays)
{
    uint32_t *v = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < 1000; i++) {
        CHECK_INT(ks__grow(&v, &cap, i, sizeof *v, 4), KS_OK);
        CHECK(cap > i);
        v[i] = (uint32_t)i;
    }
    CHECK_INT(cap, 1024); /* doubled from 4 */
    for (size_t i = 0; i < 1000; i++)
        CHECK_INT(v[i], i);
    size_t c2 = cap;
    CHECK_INT(ks__grow(&v, &c2, 10, sizeof *v, 4), KS_OK); /* room already */
    CHECK_INT(c2, cap);
    CHECK_INT(ks__grow(&v, &c2, SIZE_MAX / 2, sizeof *v, 4), KS_ENOMEM); /* too big: kept */
    CHECK_INT(c2, cap);
    CHECK_INT(v[999], 999);
    free(v);
}

/* ks__crc32 must be zlib's crc32 for every length, alignment and chained
 * start value: the folding path takes 64+ bytes in 16-byte steps and hands
 * the tail to zlib, so lengths around 16/64 boundaries are where it breaks. */
TEST(crc32_equals_zlib)
{
    enum { N = 4096 + 64 };
    uint8_t *b = malloc(N);
    uint32_t seed = 0x12345678u;
    int bad = 0;
    CHECK(b != NULL);
    if (!b)
        return;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len + off <= N; len += (len < 300 ? 1 : 37)) {
            uint32_t start = off & 1 ? 0 : (uint32_t)crc32(0, b, (uInt)off);
            uint32_t want = (uint32_t)crc32(start, b + off, (uInt)len);
            if (ks__crc32(start, b + off, len) != want && bad++ < 5)
                printf("FAIL crc32 off %zu len %zu\n", off, len);
        }
    CHECK_INT(bad, 0);
    memset(b, 0, N); /* all zeros and all ones: the degenerate inputs */
    CHECK(ks__crc32(0, b, N) == (uint32_t)crc32(0, b, N));
    memset(b, 0xff, N);
    CHECK(ks__crc32(0xffffffffu, b, N) == (uint32_t)crc32(0xffffffffu, b, N));
    free(b);
}

/* ks__b2_* must be libsodium's crypto_generichash (32 bytes, no key) for
 * both codes, every length around the 128-byte blocks (the last block is
 * held back for the final flag) and updates split anywhere: the hash is
 * stored in the index, so a difference is a different index. */
/* SHA-256 and HMAC-SHA-256 by the SHA extensions give libsodium's bytes:
 * every length up to 3,000 (one and more blocks, the padding's two cases),
 * split updates, an HMAC state libsodium keyed carried on here; then the
 * same through the fallback to libsodium. */
TEST(sha256_equals_libsodium)
{
    static uint8_t buf[3000];
    size_t bad = 0;
    CHECK(sodium_init() >= 0);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t t = 0; t < 2 * sizeof buf; t++) {
        size_t n = t % sizeof buf;
        uint8_t a[32], b[32], key[32];
        if (n == 0) /* the CPU's extensions if it has them, then libsodium's code */
            ks__sha256_force_sodium(t != 0);
        crypto_hash_sha256(a, buf, n);
        ks__sha256(b, buf, n);
        bad += memcmp(a, b, 32) != 0;
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        ks__sha256_update(&st, buf, n / 3);
        ks__sha256_update(&st, buf + n / 3, n - n / 3);
        ks__sha256_final(&st, b);
        bad += memcmp(a, b, 32) != 0;
        memcpy(key, buf + n % 100, sizeof key);
        crypto_auth_hmacsha256_state h0, h1;
        crypto_auth_hmacsha256_init(&h0, key, sizeof key);
        h1 = h0;
        crypto_auth_hmacsha256_update(&h0, (const unsigned char *)"tag", 4);
        crypto_auth_hmacsha256_update(&h0, buf, n);
        crypto_auth_hmacsha256_final(&h0, a);
        ks__hmacsha256_update(&h1, "tag", 4);
        ks__hmacsha256_update(&h1, buf, n);
        ks__hmacsha256_final(&h1, b);
        bad += memcmp(a, b, 32) != 0;
    }
    ks__sha256_force_sodium(false);
    CHECK_INT(bad, 0);
}

TEST(blake2b_equals_libsodium)
{
    enum { N = 2048 + 130 };
    uint8_t *b = malloc(N);
    uint32_t seed = 0x9e3779b9u;
    int bad = 0;
    CHECK(b != NULL && sodium_init() >= 0);
    if (!b)
        return;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
    for (int impl = KS_B2_OWN; impl <= KS_B2_SODIUM; impl++) {
        ks__b2_force(impl);
        for (size_t len = 0; len <= N; len += (len < 520 ? 1 : 61)) {
            uint8_t want[32], got[32], split[32];
            ks_b2 s;
            crypto_generichash(want, 32, b, len, NULL, 0);
            ks__b2_init(&s);
            ks__b2_update(&s, b, len);
            ks__b2_final(&s, got);
            ks__b2_init(&s); /* three pieces: at 1/3 and 2/3, then an empty one */
            ks__b2_update(&s, b, len / 3);
            ks__b2_update(&s, b + len / 3, len * 2 / 3 - len / 3);
            ks__b2_update(&s, b + len * 2 / 3, len - len * 2 / 3);
            ks__b2_update(&s, b, 0);
            ks__b2_final(&s, split);
            if ((memcmp(got, want, 32) || memcmp(split, want, 32)) && bad++ < 5)
                printf("FAIL blake2b impl %d len %zu\n", impl, len);
        }
    }
    CHECK_INT(bad, 0);
    free(b);
}

/* Dates as spreadsheet-style exports (Purview, Log Analytics) write them. */
TEST(us_export_times)
{
    int64_t t = 0;
    const int64_t want = 1795161600ll * 1000000000ll; /* 2026-11-20T08:00:00Z */
    CHECK(ks__us_time("11/20/2026 8:00:00 AM", 21, &t) == KS_OK && t == want);
    CHECK(ks__us_time("11/20/2026, 8:00:00.000 AM", 26, &t) == KS_OK && t == want);
    CHECK(ks__us_time("11/20/2026 08:00", 16, &t) == KS_OK && t == want);
    CHECK(ks__us_time("20/11/2026 08:00:00", 19, &t) == KS_OK && t == want); /* day first */
    CHECK(ks__us_time("11/20/2026 8:00:00 PM", 21, &t) == KS_OK && t == want + 12 * 3600000000000ll);
    CHECK(ks__us_time("11/20/2026 12:30:00 AM", 22, &t) == KS_OK && t == want - 8 * 3600000000000ll + 1800000000000ll);
    const char *bad[] = {"13/13/2026 8:00", "11/20/2026 13:00:00 PM", "11/20/26 8:00", "11/20/2026", "2026-11-20 08:00",
                         "11/20/2026 8:00:00 XM", "1/2/2026 8:00 AM junk"};
    for (size_t i = 0; i < KS_ARRAY_LEN(bad); i++)
        CHECK(ks__us_time(bad[i], strlen(bad[i]), &t) == KS_EFORMAT);
}
