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

#define KEY_INLINE 48 /* text key bytes kept in the pair (longer ones in the pool) */
#define IMG_WORDS 5   /* a key image: client (2 words) and destination (3 words) */
#define LOG_MAX 65536 /* records' times a worker holds before they go to their pairs */

/* A pair's key is an image when the client has at most 15 bytes and the
 * destination at most 23 (an IPv4 client, address:port): the two texts as
 * fixed words (ks__text_image), compared and hashed a word at a time; any
 * other key is its text, client \x1f destination. */
typedef struct pair {
    int64_t *t;               /* seconds */
    uint32_t n, cap;
    uint64_t hash; /* of the image or the text */
    bool is_img;
    uint64_t img[IMG_WORDS];  /* the image (is_img) */
    uint32_t kn;              /* text key length */
    char key[KEY_INLINE];     /* the text key when kn <= KEY_INLINE (else lkey) */
    uint32_t lkey;            /* strpool id of a longer text key */
    uint32_t client, dest;    /* strpool ids (the worker's, then the detector's) */
    uint32_t path;            /* first evidence file */
    const char *format;
    uint64_t line, offset;
} pair;

/* A slot of the pairs' index: one cache line holding what a record
 * compares (a short key's image) and which pair it is. An IIS log's
 * records cycle through thousands of clients: a slot, the pair's key and
 * the end of its times were three cache misses per record (~15 % of the
 * hunt's samples); now a record reads its slot and appends its time to
 * the worker's log (beacon_ws), written to the pairs LOG_MAX at a time. */
typedef struct slot {
    uint64_t img[IMG_WORDS]; /* the image of an image key (else unused) */
    uint64_t tag;            /* slot_tag(hash, is_img) | (pair index + 1); 0 = empty */
    uint64_t pad[2];
} slot;

typedef struct pairs {
    ks_strpool pool;
    slot *slot;               /* 64-byte aligned */
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
    /* records not yet at their pairs: pair index and second, in order */
    uint32_t log_pair[LOG_MAX];
    int64_t log_t[LOG_MAX];
    size_t nlog;
} beacon_ws;

static slot *slots_new(size_t n)
{
    slot *v = aligned_alloc(64, n * sizeof *v);
    if (v)
        memset(v, 0, n * sizeof *v);
    return v;
}

static int pairs_init(pairs *s)
{
    memset(s, 0, sizeof *s);
    s->mask = 2047;
    if (ks__strpool_init(&s->pool) != KS_OK || !(s->slot = slots_new(s->mask + 1))) {
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

/* The slot's tag: the hash's top 31 bits and the key's kind (an image
 * never equals a text key), above the pair index. */
static uint64_t slot_tag(uint64_t h, bool is_img)
{
    return (h >> 33 << 33) | (uint64_t)is_img << 32;
}

static void slot_set(slot *sl, const pair *p, size_t i)
{
    if (p->is_img)
        memcpy(sl->img, p->img, sizeof sl->img);
    sl->tag = slot_tag(p->hash, p->is_img) | (i + 1);
}

/* Doubles the index (the pairs keep their hashes and images). */
static int slots_grow(pairs *s)
{
    size_t nm = s->mask * 2 + 1;
    slot *ns = slots_new(nm + 1);
    if (!ns)
        return KS_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        size_t j = s->p[i].hash & nm;
        while (ns[j].tag)
            j = (j + 1) & nm;
        slot_set(&ns[j], &s->p[i], i);
    }
    free(s->slot);
    s->slot = ns;
    s->mask = nm;
    return KS_OK;
}

/* A new pair (hash h), its key set by the caller, and its index slot
 * taken once the key is set (pair_add); NULL (counted) past max or on
 * OOM. */
static pair *pair_new(pairs *s, uint64_t h, bool is_img, const char *c, size_t cn, const char *dst,
                      size_t dn, size_t max)
{
    if (s->n >= max || s->n >= UINT32_MAX - 1 ||
        ks__grow(&s->p, &s->cap, s->n, sizeof *s->p, 256) != KS_OK ||
        ((s->n + 1) * 2 > s->mask + 1 && slots_grow(s) != KS_OK)) {
        s->dropped++;
        return NULL;
    }
    pair *p = &s->p[s->n];
    memset(p, 0, sizeof *p);
    p->hash = h;
    p->is_img = is_img;
    p->client = ks__strpool_add(&s->pool, c, cn);
    p->dest = ks__strpool_add(&s->pool, dst, dn);
    return p;
}

/* Indexes the pair pair_new made, its key set. */
static void pair_add(pairs *s, pair *p)
{
    size_t j = p->hash & s->mask;
    while (s->slot[j].tag)
        j = (j + 1) & s->mask;
    slot_set(&s->slot[j], p, s->n++);
}

/* The index of a short key's pair, by its image; -1 when dropped. */
static int64_t pair_get_img(pairs *s, const char *c, size_t cn, const char *dst, size_t dn,
                            size_t max)
{
    uint64_t img[IMG_WORDS];
    ks__text_image(c, cn, img, 2);
    ks__text_image(dst, dn, img + 2, 3);
    uint64_t h = (img[0] * 0x9E3779B97F4A7C15ull ^ img[1] * 0xC2B2AE3D27D4EB4Full) +
                 (img[2] * 0xBF58476D1CE4E5B9ull ^ img[3] * 0x94D049BB133111EBull ^
                  img[4] * 0xD6E8FEB86659FD93ull);
    h = (h ^ h >> 32) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    uint64_t tag = slot_tag(h, true);
    for (size_t j = h & s->mask; s->slot[j].tag; j = (j + 1) & s->mask) {
        const slot *sl = &s->slot[j];
        if ((sl->tag & ~0xffffffffull) == tag && sl->img[0] == img[0] && sl->img[1] == img[1] &&
            sl->img[2] == img[2] && sl->img[3] == img[3] && sl->img[4] == img[4])
            return (int64_t)(uint32_t)sl->tag - 1;
    }
    pair *p = pair_new(s, h, true, c, cn, dst, dn, max);
    if (!p)
        return -1;
    memcpy(p->img, img, sizeof img);
    pair_add(s, p);
    return (int64_t)s->n - 1;
}

/* The index of any other key's pair, by its text; -1 when dropped. */
static int64_t pair_get_text(pairs *s, const char *c, size_t cn, const char *dst, size_t dn,
                             size_t max)
{
    char key[600];
    size_t kn = cn + dn + 1;
    if (kn >= sizeof key)
        return -1;
    memcpy(key, c, cn);
    key[cn] = 0x1f;
    memcpy(key + cn + 1, dst, dn);
    uint64_t h = ks__hash(key, kn), tag = slot_tag(h, false);
    for (size_t j = h & s->mask; s->slot[j].tag; j = (j + 1) & s->mask) {
        if ((s->slot[j].tag & ~0xffffffffull) != tag)
            continue;
        const pair *p = &s->p[(uint32_t)s->slot[j].tag - 1];
        if (p->kn == kn &&
            !memcmp(kn <= KEY_INLINE ? p->key : ks__strpool_get(&s->pool, p->lkey), key, kn))
            return (int64_t)(uint32_t)s->slot[j].tag - 1;
    }
    uint32_t lkey = 0;
    if (s->n >= max || (kn > KEY_INLINE && !(lkey = ks__strpool_add(&s->pool, key, kn)))) {
        s->dropped++;
        return -1;
    }
    pair *p = pair_new(s, h, false, c, cn, dst, dn, max);
    if (!p)
        return -1;
    p->kn = (uint32_t)kn;
    p->lkey = lkey;
    if (kn <= KEY_INLINE)
        memcpy(p->key, key, kn);
    pair_add(s, p);
    return (int64_t)s->n - 1;
}

static int64_t pair_get(pairs *s, const char *c, size_t cn, const char *dst, size_t dn, size_t max)
{
    if (cn && cn <= 15 && dn && dn <= 23)
        return pair_get_img(s, c, cn, dst, dn, max);
    return pair_get_text(s, c, cn, dst, dn, max);
}

static void pair_time(pair *p, int64_t sec, size_t max)
{
    if (p->n < p->cap && p->n < max) { /* nearly every time: room, no call */
        p->t[p->n++] = sec;
        return;
    }
    if (p->n >= max || p->n >= UINT32_MAX)
        return;
    size_t nc = p->cap ? (size_t)p->cap * 2 : 16;
    if (nc > UINT32_MAX)
        nc = UINT32_MAX;
    int64_t *nt = realloc(p->t, nc * sizeof *nt);
    if (!nt)
        return;
    p->t = nt;
    p->cap = (uint32_t)nc;
    p->t[p->n++] = sec;
}

/* The logged records' times to their pairs, in record order (so each pair
 * keeps its first beacon.max_times as before). A tight loop: the pairs'
 * cache misses overlap here, where per record they stalled it. */
static void log_flush(beacon_ws *ws)
{
    for (size_t i = 0; i < ws->nlog; i++)
        pair_time(&ws->own.p[ws->log_pair[i]], ws->log_t[i], ws->d->max_times);
    ws->nlog = 0;
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
    size_t before = ws->own.n;
    int64_t k = pair_get(&ws->own, c.p, c.n, dst, dn, ws->d->max_pairs);
    if (k < 0)
        return KS_OK;
    if (ws->own.n != before) { /* a new pair: its first record is the example */
        pair *p = &ws->own.p[k];
        const ks_prov *pv = ks_event_prov(ev);
        p->path = ks__strpool_add(&ws->own.pool, pv->path, strlen(pv->path));
        p->format = pv->format;
        p->line = pv->line;
        p->offset = pv->offset;
    }
    if (ws->nlog == LOG_MAX)
        log_flush(ws);
    ws->log_pair[ws->nlog] = (uint32_t)k;
    ws->log_t[ws->nlog++] = ev->time / 1000000000ll;
    return KS_OK;
}

static void beacon_worker_done(void *det, void *v)
{
    beacon_det *d = det;
    beacon_ws *ws = v;
    if (!ws)
        return;
    log_flush(ws);
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < ws->own.n; i++) {
        const pair *src = &ws->own.p[i];
        const char *c = ks__strpool_get(&ws->own.pool, src->client), *t = ks__strpool_get(&ws->own.pool, src->dest);
        int64_t k = pair_get(&d->all, c, strlen(c), t, strlen(t), d->max_pairs);
        if (k < 0)
            continue;
        pair *p = &d->all.p[k];
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
