/* SPDX-License-Identifier: Apache-2.0
 *
 * The "nsgflow" input: Azure Network Security Group flow logs (versions 1
 * and 2) as stored in the insights-logs-networksecuritygroupflowevent
 * container: one JSON document whose records hold, per rule, per MAC,
 * "flowTuples" strings:
 *
 *   "1542110377,10.0.0.4,13.67.143.118,44931,443,T,O,A,E,1,66,1,66"
 *
 * time, source, destination, ports, T/U, Inbound/Outbound, Allowed/Denied,
 * and for version 2 the flow state (Begin/Continuing/End) with packets and
 * bytes each way. One tuple is one connection record, so each becomes its
 * own event (the json input would give one event per record with the
 * tuples as opaque strings): client.ip / server.ip (source / destination),
 * client.port, server.port, network.transport, network.direction,
 * event.action, network.bytes_out / _in, and nsg.rule, the rule that
 * decided. The document is scanned, not parsed whole: a damaged tuple is
 * reported by byte offset and skipped.
 */
#include <stdlib.h>
#include <string.h>
#include "kensa_int.h"

#define NSG_MAX_DIAGS 20

typedef struct nsg_in {
    ks_input_ctx ctx;
    ks_engine *e;
    const char *p;            /* the whole document (ks__source_map) */
    size_t n, pos;
    bool in_tuples;           /* inside a flowTuples array */
    ks_slice rule;            /* the rule those tuples belong to */
    uint64_t ndiag;
} nsg_in;

static int nsg_probe(const uint8_t *h, size_t n, const char *name)
{
    const char *s = (const char *)h;
    KS_UNUSED(name);
    if (n && (h[0] == '{' || h[0] == '[') &&
        (memmem(s, n, "\"flowTuples\"", 12) || memmem(s, n, "NetworkSecurityGroupFlowEvent", 29)))
        return 92;
    return 0;
}

static int nsg_open(const ks_input_ctx *ctx, void **state)
{
    nsg_in *g = calloc(1, sizeof *g);
    const uint8_t *p;
    uint64_t n;
    if (!g)
        return KS_ENOMEM;
    int rc = ks__source_map(ctx->src, &p, &n);
    if (rc != KS_OK) {
        free(g);
        return rc;
    }
    g->ctx = *ctx;
    g->e = ctx->w->engine;
    g->p = (const char *)p;
    g->n = (size_t)n;
    *state = g;
    return KS_OK;
}

static void nsg_close(void *state)
{
    free(state);
}

static void bad(nsg_in *g, uint64_t off, const char *why)
{
    if (g->ndiag++ >= NSG_MAX_DIAGS)
        return;
    ks_loc loc = KS_LOC_NONE;
    loc.path = g->ctx.path;
    loc.offset = off;
    ks__diag(g->e, KS_DIAG_WARN, KS_EFORMAT, "nsgflow", &loc, "%s; skipped", why);
}

/* The string value of the last "rule": "..." before `end`, from `from`. */
static void find_rule(nsg_in *g, size_t from, size_t end)
{
    const char *s = g->p + from, *e = g->p + end, *hit = NULL;
    while (s < e && (s = memmem(s, (size_t)(e - s), "\"rule\"", 6)) != NULL)
        hit = s, s += 6;
    if (!hit)
        return;
    const char *q = memchr(hit + 6, '"', (size_t)(e - hit - 6));
    const char *qe = q ? memchr(q + 1, '"', (size_t)(e - q - 1)) : NULL;
    if (q && qe)
        g->rule = (ks_slice){q + 1, (size_t)(qe - q - 1)};
}

static void add(ks_event *ev, const char *name, ks_slice v)
{
    if (v.n)
        ks__event_add_str(ev, name, strlen(name), v.p, v.n);
}

static bool tuple(ks_event *ev, const char *s, size_t n, ks_slice rule)
{
    ks_slice f[14];
    size_t k = 0, i = 0;
    while (k < 14) {
        size_t b = i;
        while (i < n && s[i] != ',')
            i++;
        f[k++] = (ks_slice){s + b, i - b};
        if (i >= n)
            break;
        i++;
    }
    if (k < 8 || f[5].n != 1 || f[6].n != 1 || f[7].n != 1)
        return false;
    int64_t sec = 0;
    for (size_t d = 0; d < f[0].n; d++) {
        if (f[0].p[d] < '0' || f[0].p[d] > '9' || d >= 10)
            return false;
        sec = sec * 10 + (f[0].p[d] - '0');
    }
    if (sec > 9000000000ll)
        return false;
    ev->time = sec * 1000000000ll;
    add(ev, "client.ip", f[1]);
    add(ev, "server.ip", f[2]);
    add(ev, "client.port", f[3]);
    add(ev, "server.port", f[4]);
    add(ev, "network.transport", f[5].p[0] == 'T' ? (ks_slice){"tcp", 3} : (ks_slice){"udp", 3});
    add(ev, "network.direction", f[6].p[0] == 'I' ? (ks_slice){"inbound", 7} : (ks_slice){"outbound", 8});
    add(ev, "event.action", f[7].p[0] == 'A' ? (ks_slice){"allowed", 7} : (ks_slice){"denied", 6});
    if (k >= 13) {
        add(ev, "network.bytes_out", f[10]);
        add(ev, "network.bytes_in", f[12]);
    }
    add(ev, "nsg.rule", rule);
    return true;
}

static int nsg_next(void *state, ks_event *ev)
{
    nsg_in *g = state;
    for (;;) {
        if (!g->in_tuples) {
            const char *t = g->pos < g->n ? memmem(g->p + g->pos, g->n - g->pos, "\"flowTuples\"", 12) : NULL;
            if (!t)
                return KS_EOF;
            find_rule(g, g->pos, (size_t)(t - g->p));
            const char *br = memchr(t, '[', g->n - (size_t)(t - g->p));
            if (!br)
                return KS_EOF;
            g->pos = (size_t)(br - g->p) + 1;
            g->in_tuples = true;
        }
        while (g->pos < g->n && strchr(" \t\r\n,", g->p[g->pos]))
            g->pos++;
        if (g->pos >= g->n)
            return KS_EOF;
        if (g->p[g->pos] == ']' || g->p[g->pos] != '"') {
            if (g->p[g->pos] != ']')
                bad(g, g->pos, "flowTuples holds something other than strings");
            g->in_tuples = false;
            g->pos++;
            continue;
        }
        const char *q = g->p + g->pos + 1;
        const char *qe = memchr(q, '"', g->n - g->pos - 1);
        if (!qe)
            return KS_EOF;
        uint64_t off = g->pos;
        g->pos = (size_t)(qe - g->p) + 1;
        ev->prov.offset = off;
        if (tuple(ev, q, (size_t)(qe - q), g->rule))
            return KS_OK;
        bad(g, off, "flow tuple does not have time,src,dst,sport,dport,T/U,I/O,A/D");
        ks__event_reset(ev);
    }
}

const struct ks_input ks_input_nsgflow = {
    .abi = KS_INPUT_ABI_1,
    .name = "nsgflow",
    .description = "Azure NSG flow logs (flowTuples, versions 1 and 2)",
    .probe = nsg_probe,
    .open = nsg_open,
    .next = nsg_next,
    .close = nsg_close,
};
