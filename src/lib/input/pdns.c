/* SPDX-License-Identifier: Apache-2.0
 *
 * The "pdns" input: passive DNS exports as CSV with a header row naming
 * at least rrname and rdata (the Passive DNS Common Output Format's names:
 * rrname, rrtype, rdata, time_first, time_last, count, bailiwick; or
 * first_seen / last_seen, query / answer, as vendors' exports write them).
 *
 * Each row becomes one event whose fields are the header names (the
 * network view maps rrname/rdata/rrtype, detect/netfields.c); time is the
 * first of time_first, first_seen, firstseen, timestamp that parses (RFC
 * 3339 or epoch seconds). Quoted fields may hold commas and doubled quotes (RFC 4180, the
 * splitter the csv and exchange inputs use).
 * Farsight-style JSON lines need no reader of their own (json input).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "input/linein.h"
#include "input/weblog.h"

#define PD_MAX_FIELDS 32
#define PD_MAX_LINE ((size_t)64 << 10)

typedef struct pd_in {
    ks_linein in;
    ks_sym cols[PD_MAX_FIELDS];
    size_t ncols;
    int itime;
    bool have_header;
} pd_in;

static const char *const time_cols[] = {"time_first", "first_seen", "firstseen", "timestamp", "ts"};

static bool has_col(const char *line, size_t n, const char *name)
{
    ks_slice f[PD_MAX_FIELDS];
    size_t k = ks__csv_split(NULL, line, n, f, PD_MAX_FIELDS);
    if (k == (size_t)-1)
        return false;
    for (size_t i = 0; i < k && i < PD_MAX_FIELDS; i++)
        if (ks__ieq(f[i].p, f[i].n, name, strlen(name)))
            return true;
    return false;
}

static int pd_probe(const uint8_t *h, size_t n, const char *name)
{
    const uint8_t *eol = memchr(h, '\n', n);
    size_t l = eol ? (size_t)(eol - h) : n;
    KS_UNUSED(name);
    if (l && h[l - 1] == '\r')
        l--;
    return has_col((const char *)h, l, "rrname") && has_col((const char *)h, l, "rdata") ? 90 : 0;
}

_Static_assert(offsetof(pd_in, in) == 0, "ks__linein_open's layout");

static int pd_open(const ks_input_ctx *ctx, void **state)
{
    return ks__linein_open(ctx, sizeof(pd_in), "pdns", PD_MAX_LINE, state);
}

static void header(pd_in *p, const ks_slice *f, size_t k)
{
    int best = (int)KS_ARRAY_LEN(time_cols);
    p->ncols = 0;
    p->itime = -1;
    for (size_t i = 0; i < k && i < PD_MAX_FIELDS; i++) {
        for (int t = 0; t < best; t++)
            if (ks__ieq(f[i].p, f[i].n, time_cols[t], strlen(time_cols[t]))) {
                best = t;
                p->itime = (int)i;
            }
        p->cols[p->ncols++] = ks__symcache_intern(p->in.ctx.w->cache, f[i].p, f[i].n);
    }
    p->have_header = true;
}

static void set_time(ks_event *ev, ks_slice v)
{
    int64_t sec = 0;
    size_t i = 0;
    for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9' && i < 10; i++)
        sec = sec * 10 + (v.p[i] - '0');
    if (i == v.n && i > 0 && sec <= 9000000000ll)
        ev->time = sec * 1000000000ll;
    else
        ks_time_parse(v.p, v.n, &ev->time);
}

static int pd_next(void *state, ks_event *ev)
{
    pd_in *p = state;
    for (;;) {
        const char *s;
        size_t n;
        uint64_t lineno, off;
        ks_slice f[PD_MAX_FIELDS + 1];
        int rc = ks__linein_next(&p->in, &s, &n, &lineno, &off);
        if (rc != KS_OK)
            return rc;
        size_t k = ks__csv_split(ev->arena, s, n, f, PD_MAX_FIELDS);
        if (k == (size_t)-1) {
            p->in.nbad++;
            ks__linein_report(&p->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                              "passive DNS row has an unterminated quote; skipped");
            continue;
        }
        if (!p->have_header || (has_col(s, n, "rrname") && has_col(s, n, "rdata"))) {
            header(p, f, k);
            continue;
        }
        if (k != p->ncols) {
            p->in.nbad++;
            ks__linein_report(&p->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                              "passive DNS row has %zu fields, the header names %zu; skipped", k, p->ncols);
            continue;
        }
        ks__linein_prov(ev, lineno, off);
        for (size_t i = 0; i < k; i++) {
            if (!f[i].n)
                continue;
            ks_value v = {.type = KS_VSTR};
            v.u.s = f[i];
            ks__event_add(ev, p->cols[i], &v);
        }
        if (p->itime >= 0)
            set_time(ev, f[p->itime]);
        return KS_OK;
    }
}

const struct ks_input ks_input_pdns = {
    .abi = KS_INPUT_ABI_1,
    .name = "pdns",
    .description = "passive DNS CSV exports (rrname, rrtype, rdata, first/last seen)",
    .probe = pd_probe,
    .open = pd_open,
    .next = pd_next,
    .close = ks__linein_free,
};
