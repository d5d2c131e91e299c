/* SPDX-License-Identifier: Apache-2.0
 *
 * The "c2" detector: command-and-control indicators (domains, addresses
 * and CIDR ranges, URLs, JA3/JA3S fingerprints) matched against every
 * network event kensa reads: DNS queries and answers (a CNAME or an A
 * record pointing at C2), connection endpoints in flow and firewall logs,
 * proxy URLs and Host headers, TLS SNI and fingerprints.
 *
 * Lists come from the same files and loaders as the file IOC detector
 * (ioclist.h: the "ioc" option and <rules>/ioc, so kensa's bundled
 * SUNBURST list and the FireEye/Mandiant network indicator CSV load as
 * they are), plus "c2.ioc" for lists meant only for logs. Matching:
 *  - names: a hash set probed with the name and each parent domain
 *    ("a.b.evil.com", "b.evil.com", "evil.com"), so an indicator matches
 *    its subdomains; URLs: exact (case-insensitive) and by their host;
 *  - addresses: a hash set of exact IPv4/IPv6 addresses and a binary prefix
 *    trie for CIDR ranges (longest prefix wins);
 *  - fingerprints: hash sets.
 * All compiled once and shared read-only; hits are aggregated per
 * (indicator, client) under a lock taken only on a hit, bounded by
 * c2.max_hits. Docs: docs/NETWORK.md.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/ioclist.h"
#include "detect/netfields.h"

#define MAX_EV 4
#define NAME_MAX_LEN 512

enum { K_DOMAIN, K_IP, K_URL, K_JA3, K_JA3S, NKINDS };
static const char *const RULE[NKINDS] = {"kensa.c2.domain", "kensa.c2.ip", "kensa.c2.url", "kensa.c2.ja3",
                                         "kensa.c2.ja3s"};
static const char *const WHAT[NKINDS] = {"domain", "address", "URL", "JA3 fingerprint", "JA3S fingerprint"};

/* Binary trie over address bits; node 0 is the root. */
typedef struct trie_node {
    uint32_t child[2];        /* 0 = none */
    uint32_t src;             /* src + 1 of a range ending here, 0 = none */
    uint8_t plen;             /* that range's prefix length */
} trie_node;

typedef struct trie {
    trie_node *n;
    size_t count, cap;
} trie;

typedef struct hit {
    int kind;
    uint32_t indicator, client, host, field, value, src; /* strpool ids; src index */
    uint64_t n;
    int64_t first, last;
    struct {
        uint32_t path;
        const char *format;
        uint64_t record, line, offset;
        int64_t time;
    } ev[MAX_EV];
    size_t nev;
} hit;

typedef struct c2_det {
    ks_engine *e;
    ks_ioc_srcs srcs;         /* where each indicator came from */
    ks_map *set[NKINDS];      /* lower-case text (names, URLs, hashes) or raw address -> src + 1 */
    trie v4, v6;
    size_t nentries;          /* all indicators */
    size_t nranges;           /* CIDR ranges among them */
    pthread_mutex_t lock;
    ks_strpool pool;
    ks_map *by_key;           /* kind|indicator|client -> hit index + 1 */
    hit *hits;
    size_t nhits, caphits, maxhits;
    uint64_t dropped;
    /* The listed IPv4 addresses as a 1,024-bit filter (bit v4_bit of
     * each): a dotted quad whose bit is clear is no indicator, known in a
     * few instructions (check_ip); only without CIDR ranges. */
    uint64_t v4_filter[16];
    size_t nset[NKINDS]; /* entries of each set, once loaded */
} c2_det;

#define MISS_BITS 11
#define MISS_SLOTS (1u << MISS_BITS) /* 32 KiB per worker */

/* An address text of 1..15 bytes as 16 bytes: the text, zeros, and its
 * length in the last byte (compared and hashed as two words). */
typedef struct miss_slot {
    uint64_t w[2]; /* w[1] >> 56: the length, 0 = empty */
} miss_slot;

typedef struct c2_ws {
    c2_det *d;
    ks_net_syms *syms;
    /* Address texts that matched no indicator (the sets are fixed once
     * loaded), direct-mapped by text: a web log names the same server on
     * every line and a few thousand clients in turn, and parsing plus
     * looking each one up (a cache miss into the indicator map) was 3% of
     * an IIS hunt. */
    miss_slot miss[MISS_SLOTS];
} c2_ws;

/* ---- loading ------------------------------------------------------------ */

static uint32_t sink_src(void *ud, const char *desc, size_t dn, const char *file, uint64_t line)
{
    c2_det *d = ud;
    return ks__ioc_srcs_add(&d->srcs, desc, dn, file, line);
}

static int sink_hash(void *ud, const char *hex, size_t n, uint32_t src)
{
    KS_UNUSED(ud), KS_UNUSED(hex), KS_UNUSED(n), KS_UNUSED(src);
    return KS_OK; /* file hashes: the ioc detector's */
}

static int sink_name(void *ud, const char *re, size_t n, int score, const char *fp, size_t fpn, uint32_t src,
                     const char *file, uint64_t line)
{
    KS_UNUSED(ud), KS_UNUSED(re), KS_UNUSED(n), KS_UNUSED(score), KS_UNUSED(fp), KS_UNUSED(fpn);
    KS_UNUSED(src), KS_UNUSED(file), KS_UNUSED(line);
    return KS_OK; /* file name regexes: the ioc detector's */
}

static int set_add(c2_det *d, int kind, const void *key, size_t n, uint32_t src)
{
    uint64_t *slot = ks__map_slot(d->set[kind], key, n, true);
    if (!slot)
        return KS_ENOMEM;
    if (!*slot) {
        *slot = (uint64_t)src + 1;
        d->nentries++;
    }
    return KS_OK;
}

static int trie_add(trie *t, const uint8_t *a, int bits, uint32_t src)
{
    uint32_t cur = 0;
    if (t->count == 0) {
        if (ks__grow(&t->n, &t->cap, 0, sizeof *t->n, 256) != KS_OK)
            return KS_ENOMEM;
        memset(&t->n[0], 0, sizeof t->n[0]);
        t->count = 1;
    }
    for (int i = 0; i < bits; i++) {
        int b = a[i / 8] >> (7 - i % 8) & 1;
        if (!t->n[cur].child[b]) {
            if (t->count >= UINT32_MAX || ks__grow(&t->n, &t->cap, t->count, sizeof *t->n, 256) != KS_OK)
                return KS_ENOMEM;
            memset(&t->n[t->count], 0, sizeof t->n[0]);
            t->n[cur].child[b] = (uint32_t)t->count++;
        }
        cur = t->n[cur].child[b];
    }
    if (!t->n[cur].src) {
        t->n[cur].src = src + 1;
        t->n[cur].plen = (uint8_t)bits;
    }
    return KS_OK;
}

/* Longest matching prefix: src + 1, or 0. */
static uint32_t trie_find(const trie *t, const uint8_t *a, int bits)
{
    uint32_t cur = 0, best = 0;
    if (t->count == 0)
        return 0;
    for (int i = 0; i <= bits; i++) {
        if (t->n[cur].src)
            best = t->n[cur].src;
        if (i == bits)
            break;
        uint32_t nx = t->n[cur].child[a[i / 8] >> (7 - i % 8) & 1];
        if (!nx)
            break;
        cur = nx;
    }
    return best;
}

static unsigned v4_bit(uint32_t a)
{
    return (a * 2654435761u) >> 22; /* 10 bits: v4_filter */
}

/* A plain dotted quad ("10.1.2.3": four decimal octets, no leading zeros)
 * into *out (first octet in the top byte). Every text it takes,
 * inet_pton(AF_INET) takes with the same value; others (IPv6, brackets,
 * "010.1.2.3") are left to parse_ip. */
static bool parse_v4(const char *s, size_t n, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    uint32_t a = 0;
    if (n < 7 || n > 15)
        return false;
    for (int k = 0; k < 4; k++) {
        unsigned d, v;
        if (p >= e || (v = (unsigned)*p - '0') > 9)
            return false;
        p++;
        if (p < e && (d = (unsigned)*p - '0') <= 9) { /* a second digit: no leading zero */
            if (!v)
                return false;
            v = v * 10 + d;
            p++;
            if (p < e && (d = (unsigned)*p - '0') <= 9) {
                v = v * 10 + d;
                p++;
                if (v > 255)
                    return false;
            }
        }
        a = a << 8 | v;
        if (k < 3 && (p >= e || *p++ != '.'))
            return false;
    }
    *out = a;
    return p == e;
}

/* Parses an address (an IPv4-mapped IPv6 address counts as IPv4);
 * returns its length in bytes (4 or 16), 0 if it is not one. */
static int parse_ip(const char *s, size_t n, uint8_t out[16])
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (buf[0] == '[' && buf[n - 1] == ']')
        memmove(buf, buf + 1, n - 2), buf[n - 2] = 0;
    if (inet_pton(AF_INET, buf, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, buf, out) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(out, mapped, 12)) {
            memmove(out, out + 12, 4);
            return 4;
        }
        return 16;
    }
    return 0;
}

static size_t lower(const char *s, size_t n, char *buf, size_t cap)
{
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    buf[n] = 0;
    return n;
}

static int sink_lit(void *ud, ks_ioc_kind kind, const char *s, size_t n, uint32_t src)
{
    c2_det *d = ud;
    char buf[NAME_MAX_LEN];
    uint8_t a[16];
    while (n && (*s == ' ' || *s == '*' || *s == '.'))
        s++, n--; /* "*.evil.com", ".evil.com": the domain and its subdomains */
    if (kind == KS_IOC_LITERAL)
        kind = ks__ioc_classify(s, n);
    size_t ln = lower(s, n, buf, sizeof buf);
    if (!ln)
        return KS_OK;
    switch (kind) {
    case KS_IOC_DOMAIN:
        return set_add(d, K_DOMAIN, buf, ln, src);
    case KS_IOC_URL:
        return set_add(d, K_URL, buf, ln, src);
    case KS_IOC_JA3:
    case KS_IOC_JA3S:
        return ln == 32 ? set_add(d, kind == KS_IOC_JA3 ? K_JA3 : K_JA3S, buf, ln, src) : KS_OK;
    case KS_IOC_IP: {
        char *slash = strchr(buf, '/');
        int bits = -1, len;
        if (slash) {
            char *end = NULL;
            long b = strtol(slash + 1, &end, 10);
            if (!end || *end || b < 0)
                return KS_OK;
            bits = (int)b;
            *slash = 0;
        }
        len = parse_ip(buf, strlen(buf), a);
        if (!len || bits > len * 8)
            return KS_OK;
        if (bits < 0 || bits == len * 8)
            return set_add(d, K_IP, a, (size_t)len, src);
        d->nentries++;
        d->nranges++;
        return trie_add(len == 4 ? &d->v4 : &d->v6, a, bits, src);
    }
    default:
        return KS_OK;
    }
}

static void c2_destroy(void *p)
{
    c2_det *d = p;
    if (!d)
        return;
    ks__ioc_srcs_free(&d->srcs);
    for (int k = 0; k < NKINDS; k++)
        ks__map_free(d->set[k]);
    free(d->v4.n);
    free(d->v6.n);
    ks__strpool_release(&d->pool);
    ks__map_free(d->by_key);
    free(d->hits);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int c2_create(ks_engine *e, void **out)
{
    c2_det *d = calloc(1, sizeof *d);
    int rc = KS_ENOMEM;
    *out = NULL;
    if (!d)
        return KS_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->e = e;
    d->maxhits = (size_t)ks__opt_int(e, "c2.max_hits");
    for (int k = 0; k < NKINDS; k++)
        if (!(d->set[k] = ks__map_new(256)))
            goto out;
    if (!(d->by_key = ks__map_new(64)) || ks__strpool_init(&d->pool) != KS_OK)
        goto out;
    ks_ioc_sink sink = {.e = e, .ud = d, .src = sink_src, .hash = sink_hash, .name = sink_name, .lit = sink_lit};
    if ((rc = ks__ioc_load_configured(&sink)) != KS_OK)
        goto out;
    const char **vals = NULL;
    size_t nv = ks__opt_list(e, "c2.ioc", &vals);
    for (size_t i = 0; i < nv && rc == KS_OK; i++)
        rc = ks__ioc_load(&sink, vals[i]);
    if (rc != KS_OK)
        goto out;
    if (d->nentries == 0) {
        rc = KS_OK; /* no network indicators: nothing to do */
        goto out;
    }
    for (int kd = 0; kd < NKINDS; kd++)
        d->nset[kd] = ks__map_count(d->set[kd]);
    size_t it = 0, kn;
    const char *k;
    uint64_t *v;
    while (ks__map_iter(d->set[K_IP], &it, &k, &kn, &v))
        if (kn == 4) {
            const uint8_t *b = (const uint8_t *)k;
            unsigned bit =
                v4_bit((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
            d->v4_filter[bit >> 6] |= (uint64_t)1 << (bit & 63);
        }
    ks_loc loc = KS_LOC_NONE;
    ks__diag(e, KS_DIAG_INFO, KS_OK, "c2", &loc,
             "%zu network indicators: %zu domains, %zu addresses, %zu ranges, %zu URLs, %zu JA3/JA3S", d->nentries,
             ks__map_count(d->set[K_DOMAIN]), ks__map_count(d->set[K_IP]), d->nranges,
             ks__map_count(d->set[K_URL]), ks__map_count(d->set[K_JA3]) + ks__map_count(d->set[K_JA3S]));
    *out = d;
    return KS_OK;
out:
    c2_destroy(d);
    return rc;
}

static int c2_worker_new(void *det, ks_worker *w, void **out)
{
    c2_ws *ws = calloc(1, sizeof *ws);
    KS_UNUSED(w);
    if (!ws)
        return KS_ENOMEM;
    ws->d = det;
    if (!(ws->syms = ks__net_syms_new(ks__engine_symtab(ws->d->e)))) {
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static void c2_worker_done(void *det, void *p)
{
    c2_ws *ws = p;
    KS_UNUSED(det);
    if (!ws)
        return;
    ks__net_syms_free(ws->syms);
    free(ws);
}

/* ---- matching ----------------------------------------------------------- */

/* Probes the name and each parent domain; returns src + 1 and the matched
 * suffix, or 0. */
static uint32_t match_name(const c2_det *d, const char *s, size_t n, char *buf, ks_slice *ind)
{
    size_t ln = lower(s, n, buf, NAME_MAX_LEN);
    for (size_t i = 0; ln && i < ln;) {
        const char *p = buf + i;
        size_t pn = ln - i;
        if (!memchr(p, '.', pn))
            break; /* a bare top-level label is never an indicator */
        uint64_t *v = ks__map_get(d->set[K_DOMAIN], p, pn);
        if (v) {
            *ind = (ks_slice){p, pn};
            return (uint32_t)*v;
        }
        const char *dot = memchr(p, '.', pn);
        i = (size_t)(dot - buf) + 1;
    }
    return 0;
}

static uint32_t match_ip(const c2_det *d, const char *s, size_t n, char *buf, ks_slice *ind)
{
    uint8_t a[16];
    int len = parse_ip(s, n, a);
    if (!len)
        return 0;
    uint64_t *v = ks__map_get(d->set[K_IP], a, (size_t)len);
    uint32_t r = v ? (uint32_t)*v : trie_find(len == 4 ? &d->v4 : &d->v6, a, len * 8);
    if (r) {
        /* the indicator as listed: the address, or the range it fell in */
        const trie *t = len == 4 ? &d->v4 : &d->v6;
        int plen = len * 8;
        if (!v) {
            uint32_t cur = 0;
            for (int i = 0; i < len * 8 && t->n[cur].child[a[i / 8] >> (7 - i % 8) & 1]; i++) {
                cur = t->n[cur].child[a[i / 8] >> (7 - i % 8) & 1];
                if (t->n[cur].src == r)
                    plen = t->n[cur].plen;
            }
        }
        char ip[64];
        for (int i = plen; i < len * 8; i++)
            a[i / 8] &= (uint8_t)~(0x80 >> (i % 8)); /* the network, as listed */
        inet_ntop(len == 4 ? AF_INET : AF_INET6, a, ip, sizeof ip);
        int w = v ? snprintf(buf, NAME_MAX_LEN, "%s", ip) : snprintf(buf, NAME_MAX_LEN, "%s/%d", ip, plen);
        *ind = (ks_slice){buf, (size_t)w};
    }
    return r;
}

static void record(c2_det *d, int kind, ks_slice ind, uint32_t src1, const char *field, ks_slice value,
                   const ks_net_view *nv, const ks_event *ev)
{
    ks_slice c = ks__net_str(nv, KS_NET_CLIENT), h = ks__net_str(nv, KS_NET_HOST);
    char key[NAME_MAX_LEN + 128];
    int kl = snprintf(key, sizeof key, "%d|%.*s|%.*s", kind, (int)ind.n, ind.p, (int)(c.n ? c.n : h.n),
                      c.n ? c.p : h.p);
    if (kl < 0 || (size_t)kl >= sizeof key)
        return;
    pthread_mutex_lock(&d->lock);
    uint64_t *slot = ks__map_get(d->by_key, key, (size_t)kl);
    hit *x;
    if (slot) {
        x = &d->hits[*slot - 1];
    } else if (d->nhits >= d->maxhits ||
               ks__grow(&d->hits, &d->caphits, d->nhits, sizeof *d->hits, 64) != KS_OK ||
               !(slot = ks__map_slot(d->by_key, key, (size_t)kl, true))) {
        d->dropped++;
        goto out;
    } else {
        x = &d->hits[d->nhits];
        memset(x, 0, sizeof *x);
        x->kind = kind;
        x->first = x->last = KS_TIME_NONE;
        x->indicator = ks__strpool_add(&d->pool, ind.p, ind.n);
        x->client = ks__strpool_add(&d->pool, c.p, c.n);
        x->host = ks__strpool_add(&d->pool, h.p, h.n);
        x->field = ks__strpool_add(&d->pool, field, strlen(field));
        x->value = ks__strpool_add(&d->pool, value.p, value.n);
        x->src = src1 - 1;
        *slot = ++d->nhits;
    }
    x->n++;
    if (ev->time != KS_TIME_NONE) {
        if (x->first == KS_TIME_NONE || ev->time < x->first)
            x->first = ev->time;
        if (x->last == KS_TIME_NONE || ev->time > x->last)
            x->last = ev->time;
    }
    if (x->nev < MAX_EV) {
        const ks_prov *pv = ks_event_prov(ev);
        x->ev[x->nev].path = ks__strpool_add(&d->pool, pv->path, strlen(pv->path));
        x->ev[x->nev].format = pv->format;
        x->ev[x->nev].record = pv->record;
        x->ev[x->nev].line = pv->line;
        x->ev[x->nev].offset = pv->offset;
        x->ev[x->nev].time = ev->time;
        x->nev++;
    }
out:
    pthread_mutex_unlock(&d->lock);
}

static void match_name_record(c2_det *d, const ks_net_view *nv, const ks_event *ev, int field,
                              ks_slice v)
{
    char buf[NAME_MAX_LEN];
    ks_slice ind;
    uint32_t s;
    if ((s = match_name(d, v.p, v.n, buf, &ind)))
        record(d, K_DOMAIN, ind, s, ks__net_field_name(field), v, nv, ev);
}

/* Inline: most of the names asked of a web log line (query, SNI, Host)
 * are empty, and the call with its buffer cost more than the test. */
static inline void check_name(c2_det *d, const ks_net_view *nv, const ks_event *ev, int field,
                              ks_slice v)
{
    if (v.n)
        match_name_record(d, nv, ev, field, v);
}

/* The miss_slot image of s[0..n) (1..15 bytes). */
static miss_slot miss_key(const char *s, size_t n)
{
    miss_slot k;
    ks__text_image(s, n, k.w, 2);
    return k;
}

/* The slot the text k is remembered in. The slot comes from the top bits
 * of a last multiply: the low bits of a product see only the low bytes of
 * the text ("10.1" of every client of a 10.1.x.y network). */
static miss_slot *miss_of(c2_ws *ws, const miss_slot *k)
{
    uint64_t h = k->w[0] * 0x9E3779B97F4A7C15ull ^ k->w[1] * 0xC2B2AE3D27D4EB4Full;
    h = (h ^ h >> 32) * 0x9E3779B97F4A7C15ull;
    return &ws->miss[h >> (64 - MISS_BITS)];
}

/* The address text v, once the filter or the memo has not answered. */
static void check_ip_slow(c2_ws *ws, const ks_net_view *nv, const ks_event *ev, int field,
                          ks_slice v, miss_slot *m, const miss_slot *key)
{
    char buf[NAME_MAX_LEN];
    ks_slice ind;
    uint32_t s;
    if ((s = match_ip(ws->d, v.p, v.n, buf, &ind)))
        record(ws->d, K_IP, ind, s, ks__net_field_name(field), v, nv, ev);
    else if (m)
        *m = *key;
}

/* Inline down to the filter and the memo: a plain dotted quad is parsed
 * and, without CIDR ranges, ruled out by the filter (no memory touched);
 * other texts are looked up in the memo. */
static inline void check_ip(c2_ws *ws, const ks_net_view *nv, const ks_event *ev, int field,
                            ks_slice v)
{
    miss_slot key, *m = NULL;
    uint32_t a4;
    if (!v.n)
        return;
    if (!ws->d->v4.count && parse_v4(v.p, v.n, &a4)) {
        unsigned bit = v4_bit(a4);
        if (ws->d->v4_filter[bit >> 6] >> (bit & 63) & 1)
            check_ip_slow(ws, nv, ev, field, v, NULL, NULL);
        return;
    }
    if (v.n < 16) {
        key = miss_key(v.p, v.n);
        m = miss_of(ws, &key);
        if (m->w[0] == key.w[0] && m->w[1] == key.w[1])
            return;
    }
    check_ip_slow(ws, nv, ev, field, v, m, &key);
}

static void check_set(c2_det *d, int kind, const ks_net_view *nv, const ks_event *ev, int field)
{
    char buf[NAME_MAX_LEN];
    ks_slice v = ks__net_str(nv, field);
    size_t ln = lower(v.p, v.n, buf, sizeof buf);
    uint64_t *s = ln ? ks__map_get(d->set[kind], buf, ln) : NULL;
    if (s)
        record(d, kind, (ks_slice){buf, ln}, (uint32_t)*s, ks__net_field_name(field), v, nv, ev);
}

/* The host of a URL ("http://h:80/p", "h:443", "h/p"). */
static ks_slice url_host(ks_slice u)
{
    const char *p = u.p, *e = u.p + u.n, *sch = NULL;
    /* the first "://", found by its ':' (glibc's memmem cost ~230
     * instructions on every web log line's path) */
    for (const char *c = u.p; c < e && (c = memchr(c, ':', (size_t)(e - c))); c++)
        if (e - c >= 3 && c[1] == '/' && c[2] == '/') {
            sch = c;
            break;
        }
    if (sch)
        p = sch + 3;
    const char *h = p;
    while (p < e && *p != '/' && *p != ':' && *p != '?' && *p != '@')
        p++;
    return (ks_slice){h, (size_t)(p - h)};
}

static int c2_on_event(void *p, const ks_event *ev)
{
    c2_ws *ws = p;
    c2_det *d = ws->d;
    const ks_net_view *nv;
    if (!(nv = ks__net_view_of(ws->syms, ev)))
        return KS_OK;
    check_name(d, nv, ev, KS_NET_QUERY, ks__net_str(nv, KS_NET_QUERY));
    for (size_t i = 0; i < nv->nanswers; i++) {
        ks_slice a = nv->answers[i];
        uint8_t tmp[16];
        if (parse_ip(a.p, a.n, tmp))
            check_ip(ws, nv, ev, KS_NET_ANSWERS, a);
        else
            check_name(d, nv, ev, KS_NET_ANSWERS, a);
    }
    check_ip(ws, nv, ev, KS_NET_SERVER, ks__net_str(nv, KS_NET_SERVER));
    check_ip(ws, nv, ev, KS_NET_CLIENT, ks__net_str(nv, KS_NET_CLIENT));
    check_name(d, nv, ev, KS_NET_SNI, ks__net_str(nv, KS_NET_SNI));
    check_name(d, nv, ev, KS_NET_HTTP_HOST, ks__net_str(nv, KS_NET_HTTP_HOST));
    ks_slice url = ks__net_str(nv, KS_NET_URL);
    if (url.n) {
        if (d->nset[K_URL])
            check_set(d, K_URL, nv, ev, KS_NET_URL);
        ks_slice h = url_host(url);
        uint8_t tmp[16];
        if (h.n && parse_ip(h.p, h.n, tmp)) /* h empty: a path alone ("/owa/", web server logs) */
            check_ip(ws, nv, ev, KS_NET_URL, h);
        else if (!ks__net_str(nv, KS_NET_HTTP_HOST).n)
            check_name(d, nv, ev, KS_NET_URL, h);
    }
    /* no such indicators loaded (URLs, JA3: the bundled lists have none) */
    if (d->nset[K_JA3])
        check_set(d, K_JA3, nv, ev, KS_NET_JA3);
    if (d->nset[K_JA3S])
        check_set(d, K_JA3S, nv, ev, KS_NET_JA3S);
    return KS_OK;
}

/* ---- findings ----------------------------------------------------------- */

static int emit_hit(c2_det *d, const hit *x)
{
    static const char *const tech_dns[] = {"T1071.004"}, *const tech_web[] = {"T1071.001"},
                             *const tech_any[] = {"T1071"}, *const tech_tls[] = {"T1573"};
    const char *ind = ks__strpool_get(&d->pool, x->indicator), *client = ks__strpool_get(&d->pool, x->client),
               *host = ks__strpool_get(&d->pool, x->host), *field = ks__strpool_get(&d->pool, x->field);
    const ks_ioc_src *s = &d->srcs.v[x->src];
    char title[1200], n[24], first[48] = "unknown", last[48] = "unknown", where[600];
    snprintf(n, sizeof n, "%" PRIu64, x->n);
    if (x->first != KS_TIME_NONE) {
        ks_time_format(x->first, first, sizeof first);
        ks_time_format(x->last, last, sizeof last);
    }
    snprintf(where, sizeof where, "%s%s%" PRIu64, s->file, s->line ? ":" : "", s->line);
    if (!s->line)
        snprintf(where, sizeof where, "%s", s->file);
    snprintf(title, sizeof title, "C2 %s %s seen for %s%s%s", WHAT[x->kind], ind,
             client[0] ? client : host[0] ? host : "an unknown client", s->desc[0] ? " — " : "", s->desc);
    bool dns = !strncmp(field, "dns.", 4);
    ks_kv matched[] = {{field, ks__strpool_get(&d->pool, x->value)}, {"indicator", ind}};
    ks_kv det[] = {{"indicator", ind},     {"indicator_kind", WHAT[x->kind]},
                   {"indicator_source", s->desc}, {"list", where},
                   {"client", client},     {"host", host},
                   {"matched_field", field}, {"events", n},
                   {"first", first},       {"last", last}};
    ks_evidence ev[MAX_EV];
    for (size_t i = 0; i < x->nev; i++) {
        memset(&ev[i], 0, sizeof ev[i]);
        ev[i].path = ks__strpool_get(&d->pool, x->ev[i].path);
        ev[i].format = x->ev[i].format;
        ev[i].record = x->ev[i].record;
        ev[i].line = x->ev[i].line;
        ev[i].offset = x->ev[i].offset;
        ev[i].time = x->ev[i].time;
    }
    bool fp = x->kind == K_JA3 || x->kind == K_JA3S;
    ks_finding f = {
        .rule_id = RULE[x->kind],
        .title = title,
        .detector = "c2",
        .description = fp ? "A TLS fingerprint on a C2 list: many programs share fingerprints, so confirm with "
                            "the destination before acting."
                          : "Traffic to or from a listed command-and-control indicator: find the process "
                            "behind it on the client and what else that client reached.",
        .severity = fp ? KS_SEV_MEDIUM : KS_SEV_HIGH,
        .techniques = fp ? tech_tls : dns ? tech_dns : x->kind == K_URL ? tech_web : tech_any,
        .ntechniques = 1,
        .first = x->first,
        .last = x->last,
        .evidence = ev,
        .nevidence = x->nev,
        .event_count = x->n,
        .matched = matched,
        .nmatched = KS_ARRAY_LEN(matched),
        .details = det,
        .ndetails = KS_ARRAY_LEN(det),
    };
    return ks__emit(d->e, &f);
}

static int c2_finish(void *p)
{
    c2_det *d = p;
    int rc = KS_OK;
    for (size_t i = 0; i < d->nhits && rc == KS_OK; i++)
        rc = emit_hit(d, &d->hits[i]);
    if (d->dropped) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "c2", &loc,
                 "%" PRIu64 " C2 matches beyond c2.max_hits (%zu indicator/client pairs) not reported", d->dropped,
                 d->maxhits);
    }
    return rc;
}

const struct ks_detector ks_detector_c2 = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "c2",
    .description = "C2 indicators (domains, addresses/CIDR, URLs, JA3/JA3S) in DNS, proxy, flow and TLS logs",
    .flags = KS_DET_EVENTS,
    .create = c2_create,
    .worker_new = c2_worker_new,
    .on_event = c2_on_event,
    .worker_done = c2_worker_done,
    .finish = c2_finish,
    .destroy = c2_destroy,
};
