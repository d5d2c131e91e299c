/* SPDX-License-Identifier: Apache-2.0
 *
 * The "beacon" detector: periodic lookups or connections from one client
 * to one destination (a DNS name, or a server address and port), the
 * shape of implant check-ins and DGA polling, scored against the
 * evidence's own baseline of how many clients reach that destination.
 *
 * Per (client, destination) the event times are kept (up to
 * beacon.max_times each, pairs bounded by beacon.max_pairs; per worker,
 * folded at the end so files may arrive in any order). At the end, for
 * pairs with at least beacon.min_events distinct seconds:
 *   interval median M >= beacon.min_interval, and
 *   jitter = median absolute deviation of the intervals / M
 *            <= beacon.max_jitter
 * makes a beacon. Rarity: the destination is reached by at most
 * beacon.rare_clients clients in all the evidence read; a rare beacon is
 * medium severity, a common one (NTP, update checks every client does) is
 * low. Thresholds and their sources: docs/NETWORK.md.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/netfields.h"

#define KEY_INLINE 44 /* key bytes kept in the pair (IPv4 client, address:port) */

typedef struct pair {
    /* what a record reads first, in its first cache line */
    uint64_t hash;            /* of the key: client \x1f dest */
    int64_t *t;               /* seconds */
    size_t n, cap;
    uint32_t kn;              /* key length */
    char key[KEY_INLINE];     /* the key when kn <= KEY_INLINE (else lkey) */
    uint32_t lkey;            /* strpool id of a longer key */
    uint32_t client, dest;    /* strpool ids (the worker's, then the detector's) */
    uint32_t path;            /* first evidence file */
    const char *format;
    uint64_t line, offset;
} pair;

/* Pairs are found through an index of their own rather than a ks_map:
 * an IIS log's records cycle through thousands of clients, and the map's
 * slot, its copy of the key and then the pair were three cache misses per
 * record (8% of the hunt). A slot here is 8 bytes (hash tag, pair index)
 * and the key is compared in the pair, which the record updates anyway. */
typedef struct pairs {
    ks_strpool pool;
    uint64_t *slot;           /* hash >> 32 << 32 | (index + 1); 0 = empty */
    size_t mask;              /* slots - 1 (a power of two, at most half full) */
    pair *p;
    size_t n, cap;
    uint64_t dropped;
} pairs;

typedef struct beacon_det {
    ks_engine *e;
    pthread_mutex_t lock;
    pairs all;
    size_t max_pairs, max_times, min_events, rare_clients;
    int64_t min_interval;     /* seconds */
    double max_jitter;
} beacon_det;

typedef struct beacon_ws {
    beacon_det *d;
    ks_net_syms *syms;
    pairs own;
} beacon_ws;

static int pairs_init(pairs *s)
{
    memset(s, 0, sizeof *s);
    s->mask = 2047;
    if (ks__strpool_init(&s->pool) != KS_OK || !(s->slot = calloc(s->mask + 1, sizeof *s->slot))) {
        ks__strpool_release(&s->pool);
        return KS_ENOMEM;
    }
    return KS_OK;
}

static void pairs_release(pairs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->p[i].t);
    free(s->p);
    free(s->slot);
    ks__strpool_release(&s->pool);
    memset(s, 0, sizeof *s);
}

static bool pair_is(const pairs *s, const pair *p, uint64_t h, const char *key, size_t kn)
{
    if (p->hash != h || p->kn != kn)
        return false;
    return !memcmp(kn <= KEY_INLINE ? p->key : ks__strpool_get(&s->pool, p->lkey), key, kn);
}

/* Doubles the index (the pairs keep their hashes). */
static int slots_grow(pairs *s)
{
    size_t nm = s->mask * 2 + 1;
    uint64_t *ns = calloc(nm + 1, sizeof *ns);
    if (!ns)
        return KS_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        size_t j = s->p[i].hash & nm;
        while (ns[j])
            j = (j + 1) & nm;
        ns[j] = (s->p[i].hash >> 32 << 32) | (i + 1);
    }
    free(s->slot);
    s->slot = ns;
    s->mask = nm;
    return KS_OK;
}

static pair *pair_get(pairs *s, const char *c, size_t cn, const char *dst, size_t dn, size_t max)
{
    char key[600];
    size_t kn = cn + dn + 1;
    if (kn >= sizeof key)
        return NULL;
    memcpy(key, c, cn);
    key[cn] = 0x1f;
    memcpy(key + cn + 1, dst, dn);
    uint64_t h = ks__hash(key, kn), tag = h >> 32 << 32;
    size_t j = h & s->mask;
    for (; s->slot[j]; j = (j + 1) & s->mask) {
        pair *p = &s->p[(uint32_t)s->slot[j] - 1];
        if ((s->slot[j] & ~0xffffffffull) == tag && pair_is(s, p, h, key, kn))
            return p;
    }
    if (s->n >= max || s->n >= UINT32_MAX - 1 ||
        ks__grow(&s->p, &s->cap, s->n, sizeof *s->p, 256) != KS_OK ||
        ((s->n + 1) * 2 > s->mask + 1 && slots_grow(s) != KS_OK)) {
        s->dropped++;
        return NULL;
    }
    for (j = h & s->mask; s->slot[j]; j = (j + 1) & s->mask) /* the index may have grown */
        ;
    pair *p = &s->p[s->n];
    memset(p, 0, sizeof *p);
    p->hash = h;
    p->kn = (uint32_t)kn;
    if (kn <= KEY_INLINE)
        memcpy(p->key, key, kn);
    else if (!(p->lkey = ks__strpool_add(&s->pool, key, kn))) {
        s->dropped++;
        return NULL;
    }
    p->client = ks__strpool_add(&s->pool, c, cn);
    p->dest = ks__strpool_add(&s->pool, dst, dn);
    s->slot[j] = tag | ++s->n;
    return p;
}

static void pair_time(pair *p, int64_t sec, size_t max)
{
    if (p->n >= max || ks__grow(&p->t, &p->cap, p->n, sizeof *p->t, 16) != KS_OK)
        return;
    p->t[p->n++] = sec;
}

static void beacon_destroy(void *v)
{
    beacon_det *d = v;
    if (!d)
        return;
    pairs_release(&d->all);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int beacon_create(ks_engine *e, void **out)
{
    beacon_det *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return KS_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->e = e;
    d->max_pairs = (size_t)ks__opt_int(e, "beacon.max_pairs");
    d->max_times = (size_t)ks__opt_int(e, "beacon.max_times");
    d->min_events = (size_t)ks__opt_int(e, "beacon.min_events");
    d->rare_clients = (size_t)ks__opt_int(e, "beacon.rare_clients");
    d->min_interval = ks__opt_int(e, "beacon.min_interval") / 1000000000ll;
    d->max_jitter = ks__opt_double(e, "beacon.max_jitter");
    if (pairs_init(&d->all) != KS_OK) {
        beacon_destroy(d);
        return KS_ENOMEM;
    }
    *out = d;
    return KS_OK;
}

static int beacon_worker_new(void *det, ks_worker *w, void **out)
{
    beacon_ws *ws = calloc(1, sizeof *ws);
    KS_UNUSED(w);
    if (!ws)
        return KS_ENOMEM;
    ws->d = det;
    if (!(ws->syms = ks__net_syms_new(ks__engine_symtab(ws->d->e))) || pairs_init(&ws->own) != KS_OK) {
        ks__net_syms_free(ws->syms);
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

/* "server:port" (or the server alone without a port) into dst, which holds
 * s.n + 21 bytes (s.n <= 200 checked): written by hand, as an snprintf per
 * record was 2% of an IIS log hunt. Returns the length. */
static size_t dest_name(char *dst, ks_slice s, int64_t port)
{
    char d[20];
    size_t n = s.n, k = 0;
    memcpy(dst, s.p, s.n);
    if (port < 0)
        return n;
    for (uint64_t u = (uint64_t)port; k == 0 || u; u /= 10)
        d[k++] = (char)('0' + u % 10);
    dst[n++] = ':';
    while (k)
        dst[n++] = d[--k];
    return n;
}

static int beacon_on_event(void *v, const ks_event *ev)
{
    beacon_ws *ws = v;
    const ks_net_view *nv;
    char dst[300];
    size_t dn = 0;
    if (ev->time == KS_TIME_NONE || !(nv = ks__net_view_of(ws->syms, ev)))
        return KS_OK;
    ks_slice c = ks__net_str(nv, KS_NET_CLIENT);
    ks_slice q = ks__net_str(nv, KS_NET_QUERY);
    if (!c.n)
        return KS_OK;
    if (q.n) {
        const ks_value *resp = ks_event_get_path(ev, "dns.response");
        if (resp && resp->type == KS_VBOOL && resp->u.b)
            return KS_OK; /* the DNS server's answer to a query already counted */
        dn = ks__net_name_lower(q.p, q.n, dst, sizeof dst);
    } else {
        ks_slice s = ks__net_str(nv, KS_NET_SERVER);
        int64_t port = ks__net_int(nv, KS_NET_SPORT);
        if (!s.n || s.n > 200)
            return KS_OK;
        dn = dest_name(dst, s, port);
    }
    if (!dn)
        return KS_OK;
    pair *p = pair_get(&ws->own, c.p, c.n, dst, dn, ws->d->max_pairs);
    if (!p)
        return KS_OK;
    if (p->n == 0) {
        const ks_prov *pv = ks_event_prov(ev);
        p->path = ks__strpool_add(&ws->own.pool, pv->path, strlen(pv->path));
        p->format = pv->format;
        p->line = pv->line;
        p->offset = pv->offset;
    }
    pair_time(p, ev->time / 1000000000ll, ws->d->max_times);
    return KS_OK;
}

static void beacon_worker_done(void *det, void *v)
{
    beacon_det *d = det;
    beacon_ws *ws = v;
    if (!ws)
        return;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < ws->own.n; i++) {
        const pair *src = &ws->own.p[i];
        const char *c = ks__strpool_get(&ws->own.pool, src->client), *t = ks__strpool_get(&ws->own.pool, src->dest);
        pair *p = pair_get(&d->all, c, strlen(c), t, strlen(t), d->max_pairs);
        if (!p)
            continue;
        if (p->n == 0) {
            const char *path = ks__strpool_get(&ws->own.pool, src->path);
            p->path = ks__strpool_add(&d->all.pool, path, strlen(path));
            p->format = src->format;
            p->line = src->line;
            p->offset = src->offset;
        }
        for (size_t k = 0; k < src->n; k++)
            pair_time(p, src->t[k], d->max_times);
    }
    d->all.dropped += ws->own.dropped;
    pthread_mutex_unlock(&d->lock);
    pairs_release(&ws->own);
    ks__net_syms_free(ws->syms);
    free(ws);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest of v[0..n) (0-based), v reordered so that every
 * element before k is no greater (Hoare selection): linear, where the
 * sort it replaces was a sixth of the detector's finish over an IIS log. */
static int64_t select_k(int64_t *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        int64_t pivot = v[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                int64_t t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        /* [lo, j] <= pivot, (j, i) == pivot, [i, hi] >= pivot */
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

int64_t ks__beacon_median(int64_t *v, size_t n)
{
    int64_t hi = select_k(v, n, n / 2);
    if (n % 2)
        return hi;
    int64_t lo = v[0]; /* the (n/2 - 1)-th smallest: the largest before n/2 */
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return (lo + hi) / 2;
}

static bool sorted(const int64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] < v[i - 1])
            return false;
    return true;
}

static int emit(beacon_det *d, const pair *p, size_t nt, int64_t med, double jitter, size_t nclients)
{
    const char *client = ks__strpool_get(&d->all.pool, p->client), *dest = ks__strpool_get(&d->all.pool, p->dest);
    bool rare = nclients <= d->rare_clients;
    char title[800], iv[32], jt[32], cnt[24], ncl[24], first[48], last[48];
    snprintf(iv, sizeof iv, "%" PRId64 "s", med);
    snprintf(jt, sizeof jt, "%.1f%%", jitter * 100);
    snprintf(cnt, sizeof cnt, "%zu", nt);
    snprintf(ncl, sizeof ncl, "%zu", nclients);
    ks_time_format(p->t[0] * 1000000000ll, first, sizeof first);
    ks_time_format(p->t[p->n - 1] * 1000000000ll, last, sizeof last);
    snprintf(title, sizeof title, "Periodic traffic from %s to %s every %s (jitter %s, %s client%s reach it)",
             client, dest, iv, jt, ncl, nclients == 1 ? "" : "s");
    static const char *const tech[] = {"T1071", "T1568.002"};
    ks_kv matched[] = {{"client.ip", client}, {"destination", dest}};
    ks_kv det[] = {{"client", client}, {"destination", dest}, {"interval", iv}, {"jitter", jt},
                   {"events", cnt},    {"clients_reaching_destination", ncl},
                   {"rarity", rare ? "rare in this evidence" : "common in this evidence"},
                   {"first", first},  {"last", last}};
    ks_evidence ev = {ks__strpool_get(&d->all.pool, p->path), p->format, 0, p->line, p->offset,
                      p->t[0] * 1000000000ll};
    ks_finding f = {
        .rule_id = rare ? "kensa.beacon.rare" : "kensa.beacon.common",
        .title = title,
        .detector = "beacon",
        .description = rare ? "A client reaches a destination few others reach, at a steady interval: the "
                              "shape of an implant checking in. Find the process on the client."
                            : "A steady interval to a destination many clients reach: usually software "
                              "updates or time sync; listed for context.",
        .severity = rare ? KS_SEV_MEDIUM : KS_SEV_LOW,
        .techniques = tech,
        .ntechniques = 2,
        .first = p->t[0] * 1000000000ll,
        .last = p->t[p->n - 1] * 1000000000ll,
        .evidence = &ev,
        .nevidence = 1,
        .event_count = p->n,
        .matched = matched,
        .nmatched = 2,
        .details = det,
        .ndetails = KS_ARRAY_LEN(det),
    };
    return ks__emit(d->e, &f);
}

static int beacon_finish(void *v)
{
    beacon_det *d = v;
    pairs *s = &d->all;
    int rc = KS_OK;
    ks_map *clients = ks__map_new(1024); /* dest -> distinct clients */
    int64_t *iv = NULL;
    size_t capiv = 0;
    if (!clients)
        return KS_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        const char *t = ks__strpool_get(&s->pool, s->p[i].dest);
        uint64_t *c = ks__map_slot(clients, t, strlen(t), true);
        if (c)
            (*c)++;
    }
    for (size_t i = 0; i < s->n && rc == KS_OK; i++) {
        pair *p = &s->p[i];
        if (p->n < d->min_events)
            continue;
        if (!sorted(p->t, p->n)) /* a log is written in time order */
            qsort(p->t, p->n, sizeof *p->t, cmp_i64);
        size_t u = 1; /* distinct seconds (a query logged by two sensors counts once) */
        for (size_t k = 1; k < p->n; k++)
            if (p->t[k] != p->t[u - 1])
                p->t[u++] = p->t[k];
        p->n = u;
        if (u < d->min_events || ks__grow(&iv, &capiv, u, sizeof *iv, 256) != KS_OK)
            continue;
        for (size_t k = 1; k < u; k++)
            iv[k - 1] = p->t[k] - p->t[k - 1];
        int64_t med = ks__beacon_median(iv, u - 1);
        if (med < d->min_interval || med <= 0)
            continue;
        for (size_t k = 0; k + 1 < u; k++)
            iv[k] = iv[k] > med ? iv[k] - med : med - iv[k];
        double jitter = (double)ks__beacon_median(iv, u - 1) / (double)med;
        if (jitter > d->max_jitter)
            continue;
        const char *t = ks__strpool_get(&s->pool, p->dest);
        uint64_t *c = ks__map_get(clients, t, strlen(t));
        rc = emit(d, p, u, med, jitter, c ? (size_t)*c : 1);
    }
    if (s->dropped) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "beacon", &loc,
                 "%" PRIu64 " events of client/destination pairs beyond beacon.max_pairs (%zu) not analysed",
                 s->dropped, d->max_pairs);
    }
    free(iv);
    ks__map_free(clients);
    return rc;
}

const struct ks_detector ks_detector_beacon = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "beacon",
    .description = "periodic lookups/connections per client and destination, scored by rarity",
    .flags = KS_DET_EVENTS,
    .create = beacon_create,
    .worker_new = beacon_worker_new,
    .on_event = beacon_on_event,
    .worker_done = beacon_worker_done,
    .finish = beacon_finish,
    .destroy = beacon_destroy,
};
