/* SPDX-License-Identifier: Apache-2.0
 *
 * The "sunburst" detector: decodes the avsvmcloud.com names SUNBURST
 * resolved, in any DNS evidence kensa reads (Windows DNS server debug logs,
 * Zeek, Suricata, Sysmon 22, passive DNS), and reports each victim host:
 * its Active Directory domain, GUID, the client addresses and hosts that
 * sent the queries, first and last beacon, and the stage: "beacon", or
 * "activated" when a CNAME answer pointed the implant at a second-stage
 * server or a time message carries the stage-2 flag.
 *
 * Fragments of one domain are reassembled by GUID across queries, files
 * and log formats: every worker writes into one table (SUNBURST lookups
 * are rare, so a lock taken only for them costs nothing on the rest).
 * The table is bounded (sunburst.max_victims); names that do not decode
 * are still C2 lookups and are reported per client.
 *
 * Encoding: sunburst_dga.c; docs/SUNBURST.md.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/netfields.h"
#include "detect/sunburst_dga.h"

#define MAX_IDS 8        /* clients / hosts / images kept per victim */
#define MAX_EV 4         /* evidence examples per finding */
#define MAX_BAD_CLIENTS 4096

static const char *const TECH[] = {"T1195.002", "T1071.004", "T1568.002"};

typedef struct sb_ev {
    uint32_t path;        /* strpool id */
    const char *format;   /* static, from the input's vtable */
    uint64_t record, line, offset;
    int64_t time;
} sb_ev;

typedef struct idset {
    uint32_t id[MAX_IDS];
    uint8_t n;
    bool more;            /* distinct values beyond MAX_IDS were seen */
} idset;

typedef struct victim {
    uint8_t guid[8];
    uint64_t have;                      /* bit i: fragment with sequence i */
    char frag[KS_SB_LAST + 1][KS_SB_FRAG_MAX + 1];
    int64_t first, last;                /* event times of its queries */
    int64_t tfirst, tlast;              /* times the implant encoded */
    uint64_t queries;
    bool stage2;                        /* time message with the flag */
    bool region_bad;                    /* a name's region disagreed */
    uint32_t cname;                     /* first CNAME target (strpool) */
    uint32_t query;                     /* first query name (strpool) */
    uint8_t svc[KS_SB_DATA_MAX];        /* last service status seen */
    size_t nsvc;
    idset clients, hosts, images;
    sb_ev ev[MAX_EV];
    size_t nev;
} victim;

typedef struct bad_client {
    uint32_t client, host, query;       /* strpool ids */
    uint64_t n;
    int64_t first, last;
    sb_ev ev;
} bad_client;

typedef struct sb_det {
    ks_engine *e;
    pthread_mutex_t lock;
    ks_strpool pool;
    ks_map *by_guid;                    /* guid -> index + 1 */
    victim *v;
    size_t nv, capv, maxv;
    uint64_t dropped;                   /* victims over the cap */
    ks_map *bad_by_client;              /* client -> index + 1 */
    bad_client *bad;
    size_t nbad, capbad;
} sb_det;

typedef struct sb_ws {
    sb_det *d;
    ks_net_syms *syms;
} sb_ws;

static void sb_destroy(void *p)
{
    sb_det *d = p;
    if (!d)
        return;
    ks__strpool_release(&d->pool);
    ks__map_free(d->by_guid);
    ks__map_free(d->bad_by_client);
    free(d->v);
    free(d->bad);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int sb_create(ks_engine *e, void **out)
{
    sb_det *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return KS_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->e = e;
    d->maxv = (size_t)ks__opt_int(e, "sunburst.max_victims");
    d->by_guid = ks__map_new(64);
    d->bad_by_client = ks__map_new(64);
    if (ks__strpool_init(&d->pool) != KS_OK || !d->by_guid || !d->bad_by_client) {
        sb_destroy(d);
        return KS_ENOMEM;
    }
    *out = d;
    return KS_OK;
}

static int sb_worker_new(void *det, ks_worker *w, void **out)
{
    sb_ws *ws = calloc(1, sizeof *ws);
    KS_UNUSED(w);
    if (!ws)
        return KS_ENOMEM;
    ws->d = det;
    ws->syms = ks__net_syms_new(ks__engine_symtab(ws->d->e));
    if (!ws->syms) {
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static void sb_worker_done(void *det, void *p)
{
    sb_ws *ws = p;
    KS_UNUSED(det);
    if (!ws)
        return;
    ks__net_syms_free(ws->syms);
    free(ws);
}

/* ---- recording (under d->lock) ------------------------------------------ */

static void idset_add(sb_det *d, idset *s, ks_slice v)
{
    uint32_t id = ks__strpool_add(&d->pool, v.p, v.n);
    if (!id)
        return;
    for (uint8_t i = 0; i < s->n; i++)
        if (s->id[i] == id)
            return;
    if (s->n < MAX_IDS)
        s->id[s->n++] = id;
    else
        s->more = true;
}

static void ev_fill(sb_det *d, sb_ev *x, const ks_event *ev)
{
    const ks_prov *pv = ks_event_prov(ev);
    x->path = ks__strpool_add(&d->pool, pv->path, strlen(pv->path));
    x->format = pv->format;
    x->record = pv->record;
    x->line = pv->line;
    x->offset = pv->offset;
    x->time = ev->time;
}

static void span(int64_t *first, int64_t *last, int64_t t)
{
    if (t == KS_TIME_NONE)
        return;
    if (*first == KS_TIME_NONE || t < *first)
        *first = t;
    if (*last == KS_TIME_NONE || t > *last)
        *last = t;
}

static victim *victim_get(sb_det *d, const uint8_t guid[8])
{
    uint64_t *slot = ks__map_get(d->by_guid, guid, 8);
    if (slot)
        return &d->v[*slot - 1];
    if (d->nv >= d->maxv || ks__grow(&d->v, &d->capv, d->nv, sizeof *d->v, 64) != KS_OK) {
        d->dropped++;
        return NULL;
    }
    slot = ks__map_slot(d->by_guid, guid, 8, true);
    if (!slot) {
        d->dropped++;
        return NULL;
    }
    victim *v = &d->v[d->nv];
    memset(v, 0, sizeof *v);
    memcpy(v->guid, guid, 8);
    v->first = v->last = v->tfirst = v->tlast = KS_TIME_NONE;
    *slot = ++d->nv;
    return v;
}

/* A CNAME answer: a name (not an address) outside the C2 domain. */
static bool is_cname_target(ks_slice a)
{
    const char *l;
    size_t nl;
    bool alpha = false;
    for (size_t i = 0; i < a.n; i++)
        if ((a.p[i] >= 'a' && a.p[i] <= 'z') || (a.p[i] >= 'A' && a.p[i] <= 'Z'))
            alpha = true;
    return alpha && memchr(a.p, '.', a.n) && !memchr(a.p, ':', a.n) &&
           !ks__sb_is_c2_name(a.p, a.n, &l, &nl);
}

static void record(sb_det *d, const ks_sb_msg *m, const ks_net_view *nv, const ks_event *ev,
                   ks_slice q)
{
    victim *v = victim_get(d, m->guid);
    if (!v)
        return;
    v->queries++;
    span(&v->first, &v->last, ev->time);
    if (!v->query)
        v->query = ks__strpool_add(&d->pool, q.p, q.n);
    if (!m->region_ok)
        v->region_bad = true;
    if (m->kind == KS_SB_DOMAIN && !(v->have >> m->seq & 1)) {
        v->have |= 1ull << m->seq;
        memcpy(v->frag[m->seq], m->frag, m->nfrag + 1);
    } else if (m->kind == KS_SB_TIME) {
        span(&v->tfirst, &v->tlast, m->time);
        v->stage2 |= m->stage2;
        if (m->ndata) {
            memcpy(v->svc, m->data, m->ndata);
            v->nsvc = m->ndata;
        }
    }
    for (size_t i = 0; i < nv->nanswers && !v->cname; i++)
        if (is_cname_target(nv->answers[i]))
            v->cname = ks__strpool_add(&d->pool, nv->answers[i].p, nv->answers[i].n);
    ks_slice c = ks__net_str(nv, KS_NET_CLIENT), h = ks__net_str(nv, KS_NET_HOST),
             im = ks__net_str(nv, KS_NET_IMAGE);
    if (c.n)
        idset_add(d, &v->clients, c);
    if (h.n)
        idset_add(d, &v->hosts, h);
    if (im.n)
        idset_add(d, &v->images, im);
    if (v->nev < MAX_EV)
        ev_fill(d, &v->ev[v->nev++], ev);
}

/* A lookup under the C2 domain that is not a decodable beacon. */
static void record_bad(sb_det *d, const ks_net_view *nv, const ks_event *ev, ks_slice q)
{
    ks_slice c = ks__net_str(nv, KS_NET_CLIENT);
    ks_slice key = c.n ? c : ks__net_str(nv, KS_NET_HOST);
    uint64_t *slot = ks__map_get(d->bad_by_client, key.p, key.n);
    bad_client *b;
    if (slot) {
        b = &d->bad[*slot - 1];
    } else {
        if (d->nbad >= MAX_BAD_CLIENTS ||
            ks__grow(&d->bad, &d->capbad, d->nbad, sizeof *d->bad, 16) != KS_OK ||
            !(slot = ks__map_slot(d->bad_by_client, key.p, key.n, true)))
            return;
        b = &d->bad[d->nbad];
        memset(b, 0, sizeof *b);
        b->first = b->last = KS_TIME_NONE;
        b->client = ks__strpool_add(&d->pool, c.p, c.n);
        ks_slice h = ks__net_str(nv, KS_NET_HOST);
        b->host = ks__strpool_add(&d->pool, h.p, h.n);
        b->query = ks__strpool_add(&d->pool, q.p, q.n);
        ev_fill(d, &b->ev, ev);
        *slot = ++d->nbad;
    }
    b->n++;
    span(&b->first, &b->last, ev->time);
}

static int sb_on_event(void *p, const ks_event *ev)
{
    sb_ws *ws = p;
    const ks_net_view *nv;
    const char *label;
    size_t nl;
    if (!(nv = ks__net_view_of(ws->syms, ev)))
        return KS_OK;
    ks_slice q = ks__net_str(nv, KS_NET_QUERY);
    if (!q.n || !ks__sb_is_c2_name(q.p, q.n, &label, &nl))
        return KS_OK;
    ks_sb_msg m;
    /* A name whose region is not the one its GUID selects was not written
     * by the implant (scanners, sinkhole tests, poisoned passive DNS). */
    bool ok = ks__sb_decode(q.p, q.n, &m) && (m.region < 0 || m.region_ok);
    pthread_mutex_lock(&ws->d->lock);
    if (ok)
        record(ws->d, &m, nv, ev, q);
    else
        record_bad(ws->d, nv, ev, q);
    pthread_mutex_unlock(&ws->d->lock);
    return KS_OK;
}

/* ---- findings ----------------------------------------------------------- */

static void idset_join(const sb_det *d, const idset *s, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (uint8_t i = 0; i < s->n && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", ks__strpool_get(&d->pool, s->id[i]));
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (s->more && o < cap)
        snprintf(buf + o, cap - o, ", ...");
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    if (t == KS_TIME_NONE)
        snprintf(buf, cap, "unknown");
    else
        ks_time_format(t, buf, cap);
}

static void fill_ev(const sb_det *d, const sb_ev *x, size_t n, ks_evidence *out)
{
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].path = ks__strpool_get(&d->pool, x[i].path);
        out[i].format = x[i].format;
        out[i].record = x[i].record;
        out[i].line = x[i].line;
        out[i].offset = x[i].offset;
        out[i].time = x[i].time;
    }
}

static int emit_victim(sb_det *d, const victim *v)
{
    char dom[600], guid[17], clients[512], hosts[512], images[512], first[48], last[48],
        tfirst[48], tlast[48], title[1800], queries[24], svc[24] = "";
    bool complete, b32;
    ks__sb_assemble(v->frag, v->have, dom, sizeof dom, &complete, &b32);
    for (int i = 0; i < 8; i++)
        snprintf(guid + 2 * i, 3, "%02X", v->guid[i]);
    idset_join(d, &v->clients, clients, sizeof clients);
    idset_join(d, &v->hosts, hosts, sizeof hosts);
    idset_join(d, &v->images, images, sizeof images);
    int64_t f = v->first != KS_TIME_NONE ? v->first : v->tfirst;
    int64_t l = v->last != KS_TIME_NONE ? v->last : v->tlast;
    fmt_time(f, first, sizeof first);
    fmt_time(l, last, sizeof last);
    fmt_time(v->tfirst, tfirst, sizeof tfirst);
    fmt_time(v->tlast, tlast, sizeof tlast);
    snprintf(queries, sizeof queries, "%" PRIu64, v->queries);
    for (size_t i = 0; i < v->nsvc; i++)
        snprintf(svc + 2 * i, sizeof svc - 2 * i, "%02x", v->svc[i]);
    bool activated = v->cname || v->stage2;
    const char *stage = activated ? "activated" : "beacon";
    const char *victim_dom = dom[0] ? dom : "(unknown: only time messages seen)";
    snprintf(title, sizeof title, "SUNBURST %s: victim domain %s%s (GUID %s) from %s",
             activated ? "activated for the second stage" : "beacon", victim_dom,
             dom[0] && !complete ? " (partial)" : "", guid,
             clients[0] ? clients : hosts[0] ? hosts : "unknown client");
    ks_kv matched[] = {
        {"dns.query", ks__strpool_get(&d->pool, v->query)},
        {"victim_domain", victim_dom},
        {"guid", guid},
    };
    ks_kv det[16];
    size_t nd = 0;
    det[nd++] = (ks_kv){"victim_domain", victim_dom};
    det[nd++] = (ks_kv){"domain_complete", complete ? "yes" : "no (fragments missing)"};
    det[nd++] = (ks_kv){"domain_encoding", b32 ? "base32" : "substitution"};
    det[nd++] = (ks_kv){"guid", guid};
    det[nd++] = (ks_kv){"stage", stage};
    det[nd++] = (ks_kv){"client", clients};
    det[nd++] = (ks_kv){"host", hosts};
    det[nd++] = (ks_kv){"first_beacon", first};
    det[nd++] = (ks_kv){"last_beacon", last};
    det[nd++] = (ks_kv){"queries", queries};
    det[nd++] = (ks_kv){"region", ks__sb_region(ks__sb_guid_region(v->guid))};
    if (images[0])
        det[nd++] = (ks_kv){"process", images};
    if (v->cname)
        det[nd++] = (ks_kv){"cname", ks__strpool_get(&d->pool, v->cname)};
    if (v->tfirst != KS_TIME_NONE) {
        det[nd++] = (ks_kv){"encoded_time_first", tfirst};
        det[nd++] = (ks_kv){"encoded_time_last", tlast};
    }
    if (v->stage2)
        det[nd++] = (ks_kv){"stage2_flag", "set"};
    if (v->nsvc && nd < 16)
        det[nd++] = (ks_kv){"service_status", svc};
    ks_evidence ev[MAX_EV];
    fill_ev(d, v->ev, v->nev, ev);
    ks_finding fi = {
        .rule_id = activated ? "kensa.sunburst.activated" : "kensa.sunburst.beacon",
        .title = title,
        .detector = "sunburst",
        .description = activated
            ? "A SolarWinds Orion host running the SUNBURST backdoor was told to proceed to the "
              "second stage (CNAME to a second-stage C2, or the stage-2 flag in its beacons). "
              "Treat as hands-on-keyboard compromise: isolate, hunt for TEARDROP/Cobalt Strike."
            : "A SolarWinds Orion host running the SUNBURST backdoor beaconed its Active "
              "Directory domain to avsvmcloud.com. Rebuild Orion, rotate the credentials it held.",
        .severity = activated ? KS_SEV_CRITICAL : KS_SEV_HIGH,
        .techniques = TECH,
        .ntechniques = KS_ARRAY_LEN(TECH),
        .first = f,
        .last = l,
        .evidence = ev,
        .nevidence = v->nev,
        .event_count = v->queries,
        .matched = matched,
        .nmatched = KS_ARRAY_LEN(matched),
        .details = det,
        .ndetails = nd,
    };
    return ks__emit(d->e, &fi);
}

static int emit_bad(sb_det *d, const bad_client *b)
{
    char title[600], n[24], first[48], last[48];
    const char *client = ks__strpool_get(&d->pool, b->client);
    const char *host = ks__strpool_get(&d->pool, b->host);
    snprintf(n, sizeof n, "%" PRIu64, b->n);
    fmt_time(b->first, first, sizeof first);
    fmt_time(b->last, last, sizeof last);
    snprintf(title, sizeof title, "SUNBURST C2 domain looked up by %s (%s lookups, not decodable)",
             client[0] ? client : host[0] ? host : "unknown client", n);
    ks_kv matched[] = {{"dns.query", ks__strpool_get(&d->pool, b->query)}};
    ks_kv det[] = {{"client", client}, {"host", host}, {"lookups", n},
                   {"first", first}, {"last", last}};
    ks_evidence ev;
    fill_ev(d, &b->ev, 1, &ev);
    ks_finding fi = {
        .rule_id = "kensa.sunburst.c2_lookup",
        .title = title,
        .detector = "sunburst",
        .description = "Lookups of avsvmcloud.com (SUNBURST's C2 domain) whose names do not "
                       "decode as beacons: a scanner, a sinkhole test, or a damaged log.",
        .severity = KS_SEV_HIGH,
        .techniques = TECH + 1,
        .ntechniques = 1,
        .first = b->first,
        .last = b->last,
        .evidence = &ev,
        .nevidence = 1,
        .event_count = b->n,
        .matched = matched,
        .nmatched = 1,
        .details = det,
        .ndetails = KS_ARRAY_LEN(det),
    };
    return ks__emit(d->e, &fi);
}

static int sb_finish(void *p)
{
    sb_det *d = p;
    int rc = KS_OK;
    for (size_t i = 0; i < d->nv && rc == KS_OK; i++)
        rc = emit_victim(d, &d->v[i]);
    for (size_t i = 0; i < d->nbad && rc == KS_OK; i++)
        rc = emit_bad(d, &d->bad[i]);
    if (d->dropped) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "sunburst", &loc,
                 "%" PRIu64 " beacons of hosts beyond sunburst.max_victims (%zu) not reported",
                 d->dropped, d->maxv);
    }
    return rc;
}

const struct ks_detector ks_detector_sunburst = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "sunburst",
    .description = "SUNBURST DNS beacons decoded: victim domain, GUID, client, stage",
    .flags = KS_DET_EVENTS,
    .create = sb_create,
    .worker_new = sb_worker_new,
    .on_event = sb_on_event,
    .worker_done = sb_worker_done,
    .finish = sb_finish,
    .destroy = sb_destroy,
};
