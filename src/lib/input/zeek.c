/* SPDX-License-Identifier: Apache-2.0
 *
 * The "zeek" input: Zeek's tab-separated logs (dns.log, conn.log,
 * http.log, ssl.log and any other) with their header block:
 *
 *   #separator \x09
 *   #set_separator ,
 *   #empty_field (empty)
 *   #unset_field -
 *   #path dns
 *   #fields ts uid id.orig_h id.orig_p ... query ... answers ...
 *   #types  time string addr port ... string ... vector[string] ...
 *
 * Each record becomes one event whose field names are Zeek's own
 * ("id.orig_h", "query", "answers", "server_name", "ja3"), which the
 * network view (detect/netfields.c) and Sigma's Zeek rules read as they
 * are; "_path" carries the log's #path. Unset fields ("-") are left out,
 * empty ones ("(empty)") are empty strings; \xHH escapes are decoded
 * (invalid UTF-8 becomes U+FFFD); ts (epoch seconds) is the event time.
 * Zeek's JSON logs need no reader of their own: the json input reads them.
 *
 * A record with more fields than #fields names is reported and skipped;
 * a header block may appear again (log rotation concatenated) and
 * replaces the layout.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "input/linein.h"
#include "input/weblog.h"

#define ZK_MAX_FIELDS 128
#define ZK_MAX_LINE ((size_t)1 << 20)

typedef struct zk_in {
    ks_linein in;
    ks_sym cols[ZK_MAX_FIELDS];   /* interned #fields names */
    size_t ncols;
    int its;                      /* column of ts, -1 */
    char sep;                     /* field separator (tab) */
    char path[32];                /* #path */
    ks_sym path_sym;              /* "_path" */
} zk_in;

static int zk_probe(const uint8_t *h, size_t n, const char *name)
{
    static const char sep[] = "#separator \\x09";
    KS_UNUSED(name);
    if (n >= sizeof sep - 1 && !memcmp(h, sep, sizeof sep - 1))
        return 95;
    if (n >= 8 && !memcmp(h, "#fields\t", 8))
        return 85;
    return 0;
}

_Static_assert(offsetof(zk_in, in) == 0, "ks__linein_open's layout");

static int zk_open(const ks_input_ctx *ctx, void **state)
{
    int rc = ks__linein_open(ctx, sizeof(zk_in), "zeek", ZK_MAX_LINE, state);
    if (rc != KS_OK)
        return rc;
    zk_in *z = *state;
    z->its = -1;
    z->sep = '\t';
    z->path_sym = ks__symcache_intern(ctx->w->cache, "_path", 5);
    return KS_OK;
}

static void directive(zk_in *z, const char *s, size_t n, uint64_t lineno, uint64_t off)
{
    if (n > 8 && !memcmp(s, "#fields", 7)) {
        size_t i = 8;
        z->ncols = 0;
        z->its = -1;
        while (i <= n && z->ncols < ZK_MAX_FIELDS) {
            size_t b = i;
            while (i < n && s[i] != z->sep)
                i++;
            if (i - b == 2 && !memcmp(s + b, "ts", 2))
                z->its = (int)z->ncols;
            z->cols[z->ncols++] = ks__symcache_intern(z->in.ctx.w->cache, s + b, i - b);
            i++;
        }
        if (i < n)
            ks__linein_report(&z->in, KS_DIAG_WARN, KS_ELIMIT, lineno, off,
                              "more than %d #fields; the rest are ignored", ZK_MAX_FIELDS);
    } else if (n > 6 && !memcmp(s, "#path", 5)) {
        size_t k = KS_MIN(n - 6, sizeof z->path - 1);
        memcpy(z->path, s + 6, k);
        z->path[k] = 0;
    } else if (n > 11 && !memcmp(s, "#separator ", 11)) {
        /* "\x09" (the default) or a literal character */
        const char *v = s + 11;
        if (n - 11 == 4 && v[0] == '\\' && v[1] == 'x' && ks__hexval((unsigned char)v[2]) >= 0 &&
            ks__hexval((unsigned char)v[3]) >= 0)
            z->sep = (char)(ks__hexval((unsigned char)v[2]) * 16 + ks__hexval((unsigned char)v[3]));
        else if (n - 11 == 1)
            z->sep = v[0];
    }
}

/* \xHH escapes decoded into the arena; zero-copy when there are none. */
static ks_slice unescape(ks_event *ev, const char *s, size_t n)
{
    ks_slice out = {s, n};
    if (!memmem(s, n, "\\x", 2))
        return out;
    char *b = ks__arena_alloc(ev->arena, n + 1);
    size_t o = 0;
    if (!b)
        return out;
    for (size_t i = 0; i < n; i++) {
        int h1, h2;
        if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' &&
            (h1 = ks__hexval((unsigned char)s[i + 2])) >= 0 &&
            (h2 = ks__hexval((unsigned char)s[i + 3])) >= 0) {
            b[o++] = (char)(h1 * 16 + h2);
            i += 3;
        } else {
            b[o++] = s[i];
        }
    }
    b[o] = 0;
    ks__utf8_repair(ev->arena, b, o, &out);
    return out;
}

/* "1591005601.123456" (epoch seconds, Zeek writes microseconds) to ns,
 * exactly; KS_TIME_NONE when it is not a number. */
static int64_t epoch_ns(const char *s, size_t n)
{
    int64_t sec = 0, frac = 0, scale = 100000000;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && i < 10; i++)
        sec = sec * 10 + (s[i] - '0');
    if (i == 0 || sec > 9000000000ll) /* past 2255: not representable in ns */
        return KS_TIME_NONE;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
    return i == n ? sec * 1000000000ll + frac : KS_TIME_NONE;
}

static bool record(zk_in *z, ks_event *ev, const char *s, size_t n)
{
    size_t i = 0, col = 0;
    while (i <= n) {
        size_t b = i;
        while (i < n && s[i] != z->sep)
            i++;
        if (col >= z->ncols)
            return false;
        const char *v = s + b;
        size_t vn = i - b;
        if (!(vn == 1 && v[0] == '-')) {
            if (vn == 7 && !memcmp(v, "(empty)", 7))
                vn = 0;
            ks_slice u = unescape(ev, v, vn);
            ks_value val = {.type = KS_VSTR};
            val.u.s = u;
            ks__event_add(ev, z->cols[col], &val);
            if ((int)col == z->its)
                ev->time = epoch_ns(v, vn);
        }
        col++;
        i++;
    }
    if (col != z->ncols)
        return false;
    if (z->path[0]) {
        ks_value pv = {.type = KS_VSTR};
        pv.u.s = (ks_slice){z->path, strlen(z->path)};
        ks__event_add(ev, z->path_sym, &pv);
    }
    return true;
}

static int zk_next(void *state, ks_event *ev)
{
    zk_in *z = state;
    for (;;) {
        const char *s;
        size_t n;
        uint64_t lineno, off;
        int rc = ks__linein_next(&z->in, &s, &n, &lineno, &off);
        if (rc != KS_OK)
            return rc;
        if (s[0] == '#') {
            directive(z, s, n, lineno, off);
            continue;
        }
        if (z->ncols == 0) {
            z->in.nbad++;
            ks__linein_report(&z->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                              "Zeek record before any #fields line; skipped");
            continue;
        }
        ks__linein_prov(ev, lineno, off);
        if (record(z, ev, s, n))
            return KS_OK;
        z->in.nbad++;
        ks__linein_report(&z->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                          "Zeek record does not have the %zu fields #fields names; skipped", z->ncols);
        ks__event_reset(ev);
    }
}

const struct ks_input ks_input_zeek = {
    .abi = KS_INPUT_ABI_1,
    .name = "zeek",
    .description = "Zeek TSV logs with #fields headers (dns, conn, http, ssl, ...)",
    .probe = zk_probe,
    .open = zk_open,
    .next = zk_next,
    .close = ks__linein_free,
};
