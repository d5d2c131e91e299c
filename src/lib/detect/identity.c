/* SPDX-License-Identifier: Apache-2.0
 *
 * Identity analytics (issue: Midnight Blizzard's way in). Every sign-in and
 * logon the inputs produce is normalised (identity_norm.c) into a compact
 * record; workers keep their own records and string pools, merged in
 * worker_done; finish() sorts by event time (files arrive in any order) and
 * finds:
 *   - password spray from one source (IP / workstation): many distinct
 *     accounts failing in a window, counting only failures the user did not
 *     "recover" by signing in from the same source shortly after, so a busy
 *     NAT full of typos stays quiet;
 *   - distributed, low-and-slow spray: one tenant/app/user-agent group
 *     failing across many accounts from many addresses with one or two
 *     tries each over hours, above the tenant's own baseline;
 *   - brute force against one account;
 *   - spray followed by success (or by a correct password stopped by MFA),
 *     critical when the success was single-factor or from a spray source;
 *   - no-MFA exposure and legacy-protocol sign-ins per account, raised when
 *     the account was a spray target.
 * Memory is bounded by identity.max_records (records beyond it are counted
 * and reported, not kept). Thresholds: docs/IDENTITY.md.
 */
#include <stdlib.h>
#include <string.h>
#include "identity.h"

#define NS 1000000000ll
#define MAX_EVIDENCE 8
#define MAX_LISTED 40

/* ---- string pools ------------------------------------------------------------ */

typedef struct strpool {
    ks_strids *t;       /* text <-> id, compact: a spray brings a new source
                         * address on nearly every record */
} strpool;

static int pool_init(strpool *p)
{
    p->t = ks__strids_new();
    return p->t ? KS_OK : KS_ENOMEM;
}

static void pool_release(strpool *p)
{
    ks__strids_free(p->t);
}

static uint32_t pool_id(strpool *p, const char *s, size_t n)
{
    return s && n ? ks__strids_id(p->t, s, n) : 0;
}

static const char *pool_str(const strpool *p, uint32_t id)
{
    return ks__strids_str(p->t, id);
}

/* ids in use + 1 (id 0 = none) */
static uint32_t pool_n(const strpool *p)
{
    return ks__strids_count(p->t);
}

/* ---- records ------------------------------------------------------------------ */

/* What the analytics read of a sign-in: 24 bytes. Account and source are
 * nearly unique per record in a spray; group, code, application, kind and
 * flags repeat (a tenant's clients, a handful of result codes), so they
 * are one id of a profile kept once. The evidence location (offset,
 * record, line, path: 28 bytes) is only needed if the record ends up in a
 * finding, so it is kept delta-coded in the state's locs (~5 bytes) under
 * the record's arrival index. */
typedef struct __attribute__((packed, aligned(4))) arec {
    int64_t t;
    uint32_t acct;
    uint32_t src;                   /* in a worker until its end: with
                                     * PROF_ADDR the address itself, else an
                                     * id of P_SRC_TEXT (see sources_in) */
    uint32_t prof;                  /* its aprof in the state's profiles */
    uint32_t at;                    /* arrival index (its location in locs) */
} arec;

#define AT_MAX 0x7fffffffu          /* arrival indexes are 31-bit */
#define PROF_ADDR 0x80000000u       /* prof flag in a worker: src is an IPv4
                                     * address, not an id yet (ids < 2^28) */

/* The repeating part of a record: 16 bytes, the key it is interned by. */
typedef struct aprof {
    uint32_t grp, code, app;
    uint8_t kind, flags;
    uint16_t zero;                  /* padding, 0: part of the key */
} aprof;

/* P_PROF: aprof keys (16 bytes, never an address); P_SRC_TEXT: a worker's
 * sources that are not IPv4 addresses, until sources_in */
enum { P_ACCT, P_SRC, P_GRP, P_CODE, P_APP, P_PATH, P_PROF, P_SRC_TEXT, NPOOLS };

typedef struct state {
    strpool pool[NPOOLS];
    arec *r;
    size_t n, cap;
    ks_locs locs;           /* evidence locations by arrival index */
    uint64_t dropped;
    aprof *pv;              /* finish: profiles by id, read from P_PROF */
} state;

#define PV(s, r) (&(s)->pv[(r)->prof])

static aprof prof_key(uint32_t grp, uint32_t code, uint32_t app, int kind, unsigned flags)
{
    aprof p = {grp, code, app, (uint8_t)kind, (uint8_t)flags, 0};
    return p;
}

static uint32_t prof_id(state *s, uint32_t grp, uint32_t code, uint32_t app, int kind, unsigned flags)
{
    aprof p = prof_key(grp, code, app, kind, flags);
    return ks__strids_id(s->pool[P_PROF].t, (const char *)&p, sizeof p);
}

static aprof prof_get(const state *s, uint32_t id)
{
    aprof p;
    memcpy(&p, pool_str(&s->pool[P_PROF], id), sizeof p); /* id 0 never used */
    return p;
}

typedef struct cfg {
    int64_t window, recovery, slow_window, success_window, brute_window;
    int64_t min_accounts, dist_accounts, dist_sources, max_per_source, brute_min;
    int64_t explicit_min;   /* spray.explicit_min_accounts: 4648 targets per process */
    double baseline_factor;
    size_t max_records;
} cfg;

typedef struct id_det {
    ks_engine *e;
    cfg c;
    pthread_mutex_t lock;
    state all;
} id_det;

/* A pool's recent values and their ids: group, code, application,
 * profile and evidence path take a few values each, and a lookup that
 * misses the cache costs more than this compare. The memo is direct-mapped
 * (memo_way): a Security log's logon types and status codes change from
 * event to event, and a memo of the last value alone missed on 776k of
 * 1.24M lookups of a generated spray. */
#define MEMO_WAYS 16
typedef struct last_id {
    uint32_t id, n;         /* id 0: nothing kept */
    char s[184];
} last_id;

typedef struct id_ws {
    id_det *d;
    state st;
    last_id last[NPOOLS][MEMO_WAYS];
    ks_event scratch;     /* AuditData JSON strings */
    ks_arena *arena;
    ks_buf buf;
    char lower[512];
} id_ws;

static int state_init(state *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < NPOOLS; i++)
        if (pool_init(&s->pool[i]) != KS_OK)
            return KS_ENOMEM;
    return KS_OK;
}

static void state_release(state *s)
{
    for (int i = 0; i < NPOOLS; i++)
        pool_release(&s->pool[i]);
    ks__vm_free(s->r, s->cap * sizeof *s->r);
    free(s->pv);
    ks__locs_release(&s->locs);
}

static arec *push(state *s, size_t cap_limit)
{
    if (s->n >= cap_limit) {
        s->dropped++;
        return NULL;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        arec *nr = ks__vm_resize(s->r, s->cap * sizeof *nr, nc * sizeof *nr);
        if (!nr) {
            s->dropped++;
            return NULL;
        }
        s->r = nr;
        s->cap = nc;
    }
    return &s->r[s->n++];
}

static int id_create(ks_engine *e, void **out)
{
    id_det *d = calloc(1, sizeof *d);
    if (!d)
        return KS_ENOMEM;
    d->e = e;
    pthread_mutex_init(&d->lock, NULL);
    cfg *c = &d->c;
    c->window = ks__opt_duration(e, "spray.window");
    c->recovery = ks__opt_duration(e, "spray.recovery");
    c->slow_window = ks__opt_duration(e, "spray.slow_window");
    c->success_window = ks__opt_duration(e, "spray.success_window");
    c->brute_window = ks__opt_duration(e, "brute.window");
    c->min_accounts = ks__opt_int(e, "spray.min_accounts");
    c->dist_accounts = ks__opt_int(e, "spray.distributed_min_accounts");
    c->dist_sources = ks__opt_int(e, "spray.distributed_min_sources");
    c->max_per_source = ks__opt_int(e, "spray.max_attempts_per_source");
    c->baseline_factor = ks__opt_double(e, "spray.baseline_factor");
    c->brute_min = ks__opt_int(e, "brute.min_failures");
    c->explicit_min = ks__opt_int(e, "spray.explicit_min_accounts");
    c->max_records = (size_t)ks__opt_int(e, "identity.max_records");
    if (c->max_records > AT_MAX)
        c->max_records = AT_MAX;
    if (state_init(&d->all) != KS_OK) {
        free(d);
        return KS_ENOMEM;
    }
    *out = d;
    return KS_OK;
}

static int id_worker_new(void *detp, ks_worker *w, void **out)
{
    id_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return KS_ENOMEM;
    ws->d = detp;
    ws->arena = ks__arena_new(65536, (size_t)64 << 20);
    ws->scratch.syms = ks__engine_symtab(ws->d->e);
    ws->scratch.cache = w->cache;
    ws->scratch.arena = ws->arena;
    if (!ws->arena || state_init(&ws->st) != KS_OK) {
        state_release(&ws->st);
        ks__arena_free(ws->arena);
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

/* Account names compare case-insensitively (UPNs, sAMAccountNames). */
static ks_slice lower(id_ws *ws, ks_slice s)
{
    size_t n = KS_MIN(s.n, sizeof ws->lower);
    for (size_t i = 0; i < n; i++) {
        char c = s.p[i];
        ws->lower[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return (ks_slice){ws->lower, n};
}

/* The memo way of a value: its length and its first and last 8 bytes
 * (logon types and codes differ at the end, profiles anywhere in 16). */
static unsigned memo_way(const char *s, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (n) {
        memcpy(&a, s, n);
    }
    uint64_t x = (a ^ (b << 29 | b >> 35) ^ n) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(x >> 60) % MEMO_WAYS;
}

/* pool_id through the worker's memo of that pool's recent values. */
static uint32_t ws_pool_id(id_ws *ws, int pool, const char *s, size_t n)
{
    last_id *l = &ws->last[pool][memo_way(s, n)];
    if (l->id && l->n == n && memcmp(l->s, s, n) == 0)
        return l->id;
    uint32_t id = pool_id(&ws->st.pool[pool], s, n);
    l->id = n <= sizeof l->s ? id : 0;
    l->n = (uint32_t)n;
    if (l->id)
        memcpy(l->s, s, n);
    return id;
}

static int id_event(void *wsp, const ks_event *ev)
{
    id_ws *ws = wsp;
    auth_view v;
    if (!ks__id_normalize(ev, &ws->scratch, &ws->buf, &v))
        return KS_OK;
    arec *r = push(&ws->st, ws->d->c.max_records);
    if (!r)
        return KS_OK;
    const ks_prov *pv = ks_event_prov(ev);
    ks_slice a = lower(ws, v.account);
    uint32_t addr = 0;
    bool is_addr = ks__strids_ipv4(v.source.p, v.source.n, &addr);
    r->t = ks_event_time(ev);
    r->acct = pool_id(&ws->st.pool[P_ACCT], a.p, a.n);
    /* a spray's addresses are nearly all new and their table misses the
     * cache on each: they are looked up all at once, at the worker's end */
    r->src = is_addr ? addr : pool_id(&ws->st.pool[P_SRC_TEXT], v.source.p, v.source.n);
    aprof key = prof_key(ws_pool_id(ws, P_GRP, v.group.p, v.group.n), ws_pool_id(ws, P_CODE, v.code.p, v.code.n),
                         ws_pool_id(ws, P_APP, v.app.p, v.app.n), v.kind, v.flags);
    r->prof = ws_pool_id(ws, P_PROF, (const char *)&key, sizeof key);
    uint64_t loc[KS_LOC_FIELDS] = {pv->offset, pv->record, pv->line,
                                   ws_pool_id(ws, P_PATH, pv->path, pv->path ? strlen(pv->path) : 0)};
    r->at = (uint32_t)ws->st.locs.count;
    if (!r->acct || !r->prof) {
        ws->st.n--; /* pool full: drop rather than mislabel */
    } else if (ks__locs_add(&ws->st.locs, loc) != KS_OK) {
        ws->st.n--;
        ws->st.dropped++;
    } else if (is_addr) {
        r->prof |= PROF_ADDR;
    }
    return KS_OK;
}

/* Gives a worker's records their source ids, in arrival order: the ids
 * (and so the order findings list sources in) are those that looking each
 * up as it came gave. The addresses are looked up with their table lines
 * asked for ahead (ks__strids_want_addr), so the cache misses of a spray's
 * addresses overlap instead of stalling one record at a time: most of the
 * per-event cost of the identity pass on an EVTX hunt. */
static void sources_in(state *s)
{
    ks_strids *t = s->pool[P_SRC].t;
    strpool *text = &s->pool[P_SRC_TEXT];
    uint32_t *map = calloc(pool_n(text), sizeof *map); /* P_SRC_TEXT id -> id */
    for (size_t i = 0; i < s->n; i++) {
        arec *r = &s->r[i];
        if (i + 16 < s->n && (r[16].prof & PROF_ADDR))
            ks__strids_want_addr(t, r[16].src, 0);
        if (i + 8 < s->n && (r[8].prof & PROF_ADDR))
            ks__strids_want_addr(t, r[8].src, 1);
        if (r->prof & PROF_ADDR) {
            r->src = ks__strids_addr(t, r->src);
            r->prof &= ~PROF_ADDR;
        } else if (r->src) {
            uint32_t x = r->src;
            const char *str = pool_str(text, x);
            r->src = map && map[x] ? map[x] : pool_id(&s->pool[P_SRC], str, strlen(str));
            if (map)
                map[x] = r->src;
        }
    }
    free(map);
    pool_release(text); /* its values have their ids now */
    text->t = NULL;
}

static uint32_t remap(state *dst, const state *src, int pool, uint32_t id)
{
    const char *s = pool_str(&src->pool[pool], id);
    return id ? pool_id(&dst->pool[pool], s, strlen(s)) : 0;
}

/* A worker's profile in dst's ids; pmap (when allocated) remembers each. */
static uint32_t remap_prof(state *dst, const state *src, uint32_t id, uint32_t *pmap)
{
    if (pmap && pmap[id])
        return pmap[id];
    aprof p = prof_get(src, id);
    uint32_t to = prof_id(dst, remap(dst, src, P_GRP, p.grp), remap(dst, src, P_CODE, p.code),
                          remap(dst, src, P_APP, p.app), p.kind, p.flags);
    if (pmap)
        pmap[id] = to;
    return to;
}

static void id_worker_done(void *detp, void *wsp)
{
    id_det *d = detp;
    id_ws *ws = wsp;
    if (!ws)
        return;
    sources_in(&ws->st);
    pthread_mutex_lock(&d->lock);
    if (d->all.n == 0 && ws->st.n <= d->c.max_records) {
        /* the first worker's records become the run's as they are: no
         * copy (a copy doubled the peak of a one-thread run) */
        uint64_t dropped = d->all.dropped;
        state_release(&d->all);
        d->all = ws->st;
        d->all.dropped += dropped;
        memset(&ws->st, 0, sizeof ws->st);
    }
    ks_locs_cur cur = {0};
    uint32_t *pmap = ws->st.n ? calloc(pool_n(&ws->st.pool[P_PROF]), sizeof *pmap) : NULL;
    for (size_t i = 0; i < ws->st.n; i++) {
        uint64_t loc[KS_LOC_FIELDS];
        ks__locs_next(&ws->st.locs, &cur, loc); /* a worker's records are in arrival order */
        arec *r = push(&d->all, d->c.max_records);
        if (!r)
            continue;
        *r = ws->st.r[i];
        r->acct = remap(&d->all, &ws->st, P_ACCT, r->acct);
        r->src = remap(&d->all, &ws->st, P_SRC, r->src);
        r->prof = remap_prof(&d->all, &ws->st, r->prof, pmap);
        loc[KS_LOC_PATH] = remap(&d->all, &ws->st, P_PATH, (uint32_t)loc[KS_LOC_PATH]);
        r->at = (uint32_t)d->all.locs.count;
        if (!r->acct || !r->prof || ks__locs_add(&d->all.locs, loc) != KS_OK) {
            d->all.n--;
            d->all.dropped++;
        }
    }
    free(pmap);
    d->all.dropped += ws->st.dropped;
    pthread_mutex_unlock(&d->lock);
    state_release(&ws->st);
    free(ws->scratch.fields);
    ks__arena_free(ws->arena);
    ks__buf_release(&ws->buf);
    free(ws);
}

/* ==== finish: the analytics ======================================================= */

/* Compressed lists: for key k, recs[list[off[k] .. off[k+1]]] in time order. */
typedef struct csr {
    uint32_t *off;
    uint32_t *list;
} csr;

enum { K_ACCT, K_SRC, K_GRP };

static uint32_t key_of(const state *s, const arec *r, int which)
{
    return which == K_ACCT ? r->acct : which == K_SRC ? r->src : PV(s, r)->grp;
}

/* What the finish asks of a record, one byte each in record order
 * (fctx.cls): its kind, with CLS_RECOVERED on a failure the user fixed
 * right after (mark_recovered). A list names the classes it holds as a
 * mask of the 16 values: the tests were indirect calls reading the record
 * and its profile, per record of every pass (unrecovered_attempt,
 * any_attempt, explicit_logon: ~5 % of an identity-only 1 GB hunt). */
#define CLS_RECOVERED 8
#define CM(c) (1u << (c))
enum {
    W_ALL = 0xffff,
    W_ATTEMPT = CM(AK_FAIL) | CM(AK_VALID) | CM(AK_FAIL | CLS_RECOVERED) | CM(AK_VALID | CLS_RECOVERED),
    W_UNRECOVERED = CM(AK_FAIL) | CM(AK_VALID),
    W_EXPLICIT = CM(AK_EXPLICIT),
    W_FAIL_SUCCESS = CM(AK_FAIL) | CM(AK_SUCCESS),
    W_SIGNED_IN = CM(AK_SUCCESS) | CM(AK_VALID), /* the password was right */
    W_NOT_FAIL = W_ALL & ~(CM(AK_FAIL) | CM(AK_FAIL | CLS_RECOVERED))
};

static bool cls_in(const uint8_t *cls, size_t i, unsigned want)
{
    return want >> cls[i] & 1;
}

/* The lists of the records whose class `want` holds. off has nkeys + 2
 * entries: key k's records are counted at k + 2, so that after the
 * prefix sum off[k + 1] is the cursor of key k while filling, and ends as
 * its start (no separate fill counters). */
static int build_csr(const state *s, const uint8_t *cls, int which, uint32_t nkeys, unsigned want, csr *out)
{
    if (!(out->off = calloc((size_t)nkeys + 2, sizeof *out->off)))
        return KS_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (cls_in(cls, i, want))
            out->off[key_of(s, &s->r[i], which) + 2]++;
    for (uint32_t k = 0; k < nkeys; k++)
        out->off[k + 2] += out->off[k + 1];
    if (!(out->list = malloc((out->off[nkeys + 1] ? out->off[nkeys + 1] : 1) * sizeof *out->list)))
        return KS_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (cls_in(cls, i, want))
            out->list[out->off[key_of(s, &s->r[i], which) + 1]++] = (uint32_t)i;
    return KS_OK;
}

static uint32_t list_n(const csr *c, uint32_t k)
{
    return c->off[k + 1] - c->off[k];
}

static void csr_free(csr *c)
{
    free(c->off);
    free(c->list);
    c->off = c->list = NULL;
}

/* Event time, then arrival: the order a stable sort by time gives (glibc's
 * qsort is a merge sort), whatever the library. */
static int cmp_time(const void *a, const void *b)
{
    const arec *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* A spray found, kept for the success join. */
typedef struct spray {
    int64_t first, last;
    uint32_t *accts, naccts;    /* sorted */
    uint32_t *srcs, nsrcs;      /* sorted */
    const char *kind;           /* "source" / "distributed" */
} spray;

/* The finish's lists: each holds only the records its passes read, so
 * a pass reads no record it would skip and a key with fewer records than
 * a burst needs is passed over by its count (a spray's sources have ~10
 * records, one or two of them explicit logons). */
enum list_id {
    BY_ACCT_FS,     /* failures and successes: mark_recovered */
    BY_SRC_ATT,     /* unrecovered attempts: spray, brute force from a source */
    BY_SRC_EXPL,    /* explicit logons: explicit spray */
    BY_GRP,         /* all: the baseline's active days */
    BY_GRP_ATT,     /* unrecovered attempts: distributed spray */
    BY_ACCT_ATT,    /* attempts: brute force against an account */
    BY_SRC_IN,      /* not failures: established sources, the success join */
    BY_ACCT_IN,     /* an account's sign-ins past the password (success,
                     * valid): all the success join and the exposure read
                     * of an account's records, a few of its failures' worth */
    NLISTS
};
#define LB(l) (1u << (l))

typedef struct fctx {
    id_det *d;
    state *s;
    uint8_t *cls;               /* class by record (CLS_RECOVERED, W_*) */
    csr l[NLISTS];              /* by enum list_id, built by lists() */
    uint32_t *cnt_a, *cnt_s;    /* window counters by account / source id */
    spray *sp;
    size_t nsp, capsp;
    uint8_t *target;            /* account was a spray target */
    uint8_t *hit;               /* success-after-spray already reported */
    uint8_t *established;       /* source where >= 3 accounts sign in normally */
    double baseline;            /* median distinct failing accounts per group-day */
    uint64_t *seen;             /* distinct(): one bit an account, source or
                                 * group id, all zero between calls */
} fctx;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static bool in_sorted(const uint32_t *v, uint32_t n, uint32_t x)
{
    return bsearch(&x, v, n, sizeof x, cmp_u32) != NULL;
}

/* Distinct values of one field over recs[idx[0..n)], sorted. A long
 * burst (a month of brute force: 60k records from 42k sources) marks its
 * values in f->seen and reads them back in order, one bit a possible id
 * between its least and greatest: a sort of the whole burst was most of
 * the finish's sorting. A short one, or one whose values are far apart,
 * is sorted. */
static uint32_t *distinct(fctx *f, const uint32_t *idx, size_t n, int which, uint32_t *out_n)
{
    const state *s = f->s;
    uint32_t *v = malloc((n ? n : 1) * sizeof *v), lo = UINT32_MAX, hi = 0;
    size_t m = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i] = key_of(s, &s->r[idx[i]], which);
        lo = KS_MIN(lo, v[i]);
        hi = KS_MAX(hi, v[i]);
    }
    if (n >= 64 && (hi / 64 - lo / 64) <= 4 * n) {
        uint64_t *seen = f->seen;
        for (size_t i = 0; i < n; i++)
            seen[v[i] / 64] |= (uint64_t)1 << (v[i] % 64);
        for (uint32_t w = lo / 64; w <= hi / 64; w++) /* read back, leaving zeros */
            for (; seen[w]; seen[w] &= seen[w] - 1)
                v[m++] = w * 64 + (uint32_t)__builtin_ctzll(seen[w]);
    } else {
        qsort(v, n, sizeof *v, cmp_u32);
        for (size_t i = 0; i < n; i++)
            if (m == 0 || v[m - 1] != v[i])
                v[m++] = v[i];
    }
    *out_n = (uint32_t)m;
    return v;
}

/* "a, b, c ... and N more" of pool strings. */
static void list_names(ks_buf *b, const strpool *p, const uint32_t *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n && i < MAX_LISTED; i++)
        ks__buf_printf(b, "%s%s", i ? ", " : "", pool_str(p, ids[i]));
    if (n > MAX_LISTED)
        ks__buf_printf(b, " ... and %u more", n - MAX_LISTED);
}

/* "50126 invalid username or password x12; 50053 ... x2" */
static void list_codes(ks_buf *b, const state *s, const uint32_t *idx, size_t n)
{
    uint32_t codes[16], counts[16], k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = PV(s, &s->r[idx[i]])->code, j;
        for (j = 0; j < k && codes[j] != c; j++)
            ;
        if (j == k && k < 16) {
            codes[k] = c;
            counts[k++] = 0;
        }
        if (j < k)
            counts[j]++;
    }
    for (uint32_t j = 0; j < k; j++) {
        const char *c = pool_str(&s->pool[P_CODE], codes[j]);
        const char *w = ks__id_code_words(c, strlen(c));
        ks__buf_printf(b, "%s%s%s%s x%u", j ? "; " : "", c, w ? " " : "", w ? w : "", counts[j]);
    }
}

static void fill_evidence(const state *s, const uint32_t *idx, size_t n, ks_evidence *ev, size_t *nev)
{
    *nev = 0;
    for (size_t i = 0; i < n && *nev < MAX_EVIDENCE; i++) {
        /* spread the examples over the whole burst */
        size_t j = n <= MAX_EVIDENCE ? i : i * n / MAX_EVIDENCE;
        if (j >= n)
            break;
        const arec *r = &s->r[idx[j]];
        ks_evidence *e = &ev[(*nev)++];
        uint64_t loc[KS_LOC_FIELDS];
        ks__locs_get(&s->locs, r->at, loc);
        memset(e, 0, sizeof *e);
        e->path = pool_str(&s->pool[P_PATH], (uint32_t)loc[KS_LOC_PATH]);
        e->format = NULL;
        e->record = loc[KS_LOC_RECORD];
        e->line = loc[KS_LOC_LINE];
        e->offset = loc[KS_LOC_OFFSET];
        e->time = r->t;
        if (n <= MAX_EVIDENCE && i + 1 >= n)
            break;
    }
}

static void emit(fctx *f, const char *id, const char *title, const char *desc, ks_severity sev,
                 const char *const *tech, size_t ntech, const uint32_t *idx, size_t n,
                 const ks_kv *matched, size_t nm, const ks_kv *det, size_t nd)
{
    ks_evidence ev[MAX_EVIDENCE];
    ks_finding fi = {0};
    fi.rule_id = id;
    fi.title = title;
    fi.description = desc;
    fi.detector = "identity";
    fi.severity = sev;
    fi.techniques = tech;
    fi.ntechniques = ntech;
    fi.first = f->s->r[idx[0]].t;
    fi.last = f->s->r[idx[n - 1]].t;
    fi.event_count = n;
    fill_evidence(f->s, idx, n, ev, &fi.nevidence);
    fi.evidence = ev;
    fi.matched = matched;
    fi.nmatched = nm;
    fi.details = det;
    fi.ndetails = nd;
    ks__emit(f->d->e, &fi);
}

static const char *const t_spray[] = {"T1110.003"};
static const char *const t_brute[] = {"T1110.001"};
static const char *const t_valid[] = {"T1078", "T1110.003"};
static const char *const t_cloud[] = {"T1078.004"};

/* Keeps a reported burst for the success join, with the burst's distinct
 * accounts and sources the report has listed (taken: freed here if the
 * spray cannot be kept). */
static void record_spray(fctx *f, const uint32_t *idx, size_t n, const char *kind, uint32_t *accts,
                         uint32_t naccts, uint32_t *srcs, uint32_t nsrcs)
{
    if (!accts || !srcs)
        goto drop;
    if (f->nsp == f->capsp) {
        size_t nc = f->capsp ? f->capsp * 2 : 16;
        spray *ns = realloc(f->sp, nc * sizeof *ns);
        if (!ns)
            goto drop;
        f->sp = ns;
        f->capsp = nc;
    }
    spray *sp = &f->sp[f->nsp++];
    *sp = (spray){f->s->r[idx[0]].t, f->s->r[idx[n - 1]].t, accts, naccts, srcs, nsrcs, kind};
    for (uint32_t i = 0; i < naccts; i++)
        f->target[accts[i]] = 1;
    return;
drop:
    free(accts);
    free(srcs);
}

enum spray_mode { SPRAY_SOURCE, SPRAY_DISTRIBUTED, SPRAY_EXPLICIT };

static void report_spray(fctx *f, const uint32_t *idx, size_t n, enum spray_mode mode, uint32_t key)
{
    state *s = f->s;
    ks_buf accts = KS_BUF_INIT, srcs = KS_BUF_INIT, codes = KS_BUF_INIT;
    uint32_t na, ns;
    uint32_t *a = distinct(f, idx, n, K_ACCT, &na), *sv = distinct(f, idx, n, K_SRC, &ns);
    char cnt[96], per[32];
    if (!a || !sv)
        goto out;
    list_names(&accts, &s->pool[P_ACCT], a, na);
    list_names(&srcs, &s->pool[P_SRC], sv, ns);
    list_codes(&codes, s, idx, n);
    snprintf(cnt, sizeof cnt, "%zu attempts on %u accounts from %u sources", n, na, ns);
    snprintf(per, sizeof per, "%.1f", (double)n / (na ? na : 1));
    bool distributed = mode == SPRAY_DISTRIBUTED;
    ks_kv matched[2] = {{"source", distributed ? pool_str(&s->pool[P_GRP], key) : pool_str(&s->pool[P_SRC], key)},
                        {"accounts", accts.p ? accts.p : ""}};
    ks_kv det[4] = {{"counts", cnt}, {"attempts_per_account", per}, {"failure_codes", codes.p ? codes.p : ""},
                    {"sources", srcs.p ? srcs.p : ""}};
    if (mode == SPRAY_DISTRIBUTED)
        emit(f, "kensa.identity.spray_distributed", "Low-and-slow password spray from many addresses",
             "One client group (tenant, app, user agent) failed against many accounts from many addresses "
             "with one or two tries each, above the tenant's own baseline: the residential-proxy spray "
             "pattern. Check the targeted accounts for later successful sign-ins.",
             KS_SEV_HIGH, t_spray, 1, idx, n, matched, 2, det, 4);
    else if (mode == SPRAY_EXPLICIT)
        emit(f, "kensa.identity.spray_explicit", "Password spray with explicit credentials from one process",
             "One process (computer, program, user) logged on with the credentials of many different "
             "accounts (4648): a spraying tool, runas or net use in a loop (DeepBlueCLI's explicit-"
             "credential spray check). Check those accounts for successful logons afterwards.",
             KS_SEV_HIGH, t_spray, 1, idx, n, matched, 2, det, 3);
    else
        emit(f, "kensa.identity.spray", "Password spray from one source",
             "One source failed to sign in to many distinct accounts, few tries each, without the users "
             "succeeding afterwards (not typos). Check the targeted accounts for later sign-ins.",
             KS_SEV_HIGH, t_spray, 1, idx, n, matched, 2, det, 4);
    record_spray(f, idx, n, mode == SPRAY_DISTRIBUTED ? "distributed" : mode == SPRAY_EXPLICIT ? "explicit" : "source",
                 a, na, sv, ns);
    a = sv = NULL;
out:
    free(a);
    free(sv);
    ks__buf_release(&accts);
    ks__buf_release(&srcs);
    ks__buf_release(&codes);
}

/* Marks failures followed, from the same source, by the same account's
 * success within spray.recovery: users fixing a typo, not a spray.
 * An account's list is in time order, so a failure is recovered when the
 * nearest later success from its source is within reach: one backward
 * walk per account keeps that time per source (the forward search from
 * every failure read the whole window each time: a busy account's
 * records in a spray, a third of the finish). */
static void mark_recovered(fctx *f)
{
    state *s = f->s;
    uint32_t ns = pool_n(&s->pool[P_SRC]);
    int64_t *next = malloc((size_t)ns * sizeof *next); /* by source: its nearest later success */
    uint32_t *stamp = calloc(ns, sizeof *stamp);     /* account + 1 that set next[src] */
    /* differences of times within +-2^62 cannot overflow (the forward
     * search's q->t - r->t with a record without time could) */
    bool fast = next && stamp;
    for (size_t i = 0; fast && i < s->n; i++)
        fast = s->r[i].t >= -((int64_t)1 << 62) && s->r[i].t <= (int64_t)1 << 62;
    /* the list holds failures and successes only: the forward search's
     * first record past reach is as far as a success could be */
    const csr *c = &f->l[BY_ACCT_FS];
    for (uint32_t k = 0; k < pool_n(&s->pool[P_ACCT]); k++) {
        const uint32_t *L = c->list, begin = c->off[k], end = c->off[k + 1];
        for (uint32_t i = end; fast && i-- > begin;) {
            const arec *r = &s->r[L[i]];
            if (f->cls[L[i]] == AK_SUCCESS) {
                next[r->src] = r->t;
                stamp[r->src] = k + 1;
            } else if (stamp[r->src] == k + 1 && next[r->src] - r->t <= f->d->c.recovery) {
                f->cls[L[i]] |= CLS_RECOVERED;
            }
        }
        for (uint32_t i = begin; !fast && i < end; i++) {
            const arec *r = &s->r[L[i]];
            if (f->cls[L[i]] != AK_FAIL)
                continue;
            for (uint32_t j = i + 1; j < end; j++) {
                const arec *q = &s->r[L[j]];
                if (q->t - r->t > f->d->c.recovery)
                    break;
                if (f->cls[L[j]] == AK_SUCCESS && q->src == r->src) {
                    f->cls[L[i]] |= CLS_RECOVERED;
                    break;
                }
            }
        }
    }
    free(next);
    free(stamp);
}

typedef bool (*window_ok)(fctx *f, uint32_t da, uint32_t ds, size_t attempts, uint32_t key);

/* One pass of the window scan: the list it reads, what makes a window a
 * burst, and what a burst reports (the spray passes share one burst, told
 * apart by their mode). */
typedef struct pass pass;
struct pass {
    window_ok ok;               /* does a window of them make a burst */
    void (*burst)(fctx *f, const pass *p, const uint32_t *idx, size_t n, uint32_t key);
    enum spray_mode mode;       /* what spray_burst reports */
    int64_t least;              /* ok() needs at least this many records in a
                                 * window: a key with fewer is not scanned */
};

/* Sliding window over the records of one key (its time-ordered list,
 * read in place: every record of it counts); calls back with each burst
 * (maximal run of overlapping windows meeting the condition), a slice of
 * the list itself. */
static void scan_windows(fctx *f, const uint32_t *L, size_t m, int64_t width, const pass *p, uint32_t key)
{
    state *s = f->s;
    uint32_t da = 0, ds = 0;
    size_t lo = 0, bs = SIZE_MAX, be = 0; /* lo: first record in the window */
    for (size_t hi = 0; hi < m; hi++) {
        const arec *r = &s->r[L[hi]];
        /* a key's records are spread over all of them (an account's among
         * every other's): ask for one some records ahead */
        if (hi + 8 < m)
            __builtin_prefetch(&s->r[L[hi + 8]]);
        if (f->cnt_a[r->acct]++ == 0)
            da++;
        if (f->cnt_s[r->src]++ == 0)
            ds++;
        while (r->t - s->r[L[lo]].t > width) { /* stops at hi at the latest */
            const arec *q = &s->r[L[lo++]];
            if (--f->cnt_a[q->acct] == 0)
                da--;
            if (--f->cnt_s[q->src] == 0)
                ds--;
        }
        if (p->ok(f, da, ds, hi - lo + 1, key)) {
            if (bs != SIZE_MAX && lo > be) {
                p->burst(f, p, L + bs, be - bs + 1, key);
                bs = SIZE_MAX;
            }
            if (bs == SIZE_MAX)
                bs = lo;
            be = hi;
        }
    }
    if (bs != SIZE_MAX)
        p->burst(f, p, L + bs, be - bs + 1, key);
    for (size_t i = lo; i < m; i++) { /* leave the counters at zero */
        f->cnt_a[s->r[L[i]].acct]--;
        f->cnt_s[s->r[L[i]].src]--;
    }
}

/* Runs pass p's window scan over the records of every key of list c that
 * has enough of them for a burst (a spray's sources have ~10 records,
 * fewer of the kinds a pass reads: their scans were most of the finish). */
static void per_key(fctx *f, const csr *c, uint32_t nkeys, int64_t width, const pass *p)
{
    uint32_t least = p->least > 1 ? (uint32_t)KS_MIN(p->least, (int64_t)UINT32_MAX) : 1;
    for (uint32_t k = 1; k < nkeys; k++)
        if (list_n(c, k) >= least)
            scan_windows(f, c->list + c->off[k], list_n(c, k), width, p, k);
}

static bool spray_ok(fctx *f, uint32_t da, uint32_t ds, size_t n, uint32_t key)
{
    (void)ds; (void)n; (void)key;
    return da >= (uint32_t)f->d->c.min_accounts;
}

static void spray_burst(fctx *f, const pass *p, const uint32_t *idx, size_t n, uint32_t key)
{
    report_spray(f, idx, n, p->mode, key);
}

static bool dist_ok(fctx *f, uint32_t da, uint32_t ds, size_t n, uint32_t key)
{
    const cfg *c = &f->d->c;
    (void)key;
    double need = KS_MAX((double)c->dist_accounts, c->baseline_factor * f->baseline);
    return da >= need && ds >= (uint32_t)c->dist_sources && (double)n / ds <= (double)c->max_per_source;
}

static bool explicit_ok(fctx *f, uint32_t da, uint32_t ds, size_t n, uint32_t key)
{
    (void)ds; (void)n; (void)key;
    return da >= (uint32_t)f->d->c.explicit_min;
}

static bool brute_ok(fctx *f, uint32_t da, uint32_t ds, size_t n, uint32_t key)
{
    (void)da; (void)ds; (void)key;
    return n >= (size_t)f->d->c.brute_min;
}

static void brute_burst(fctx *f, const pass *p, const uint32_t *idx, size_t n, uint32_t key)
{
    (void)p;
    state *s = f->s;
    ks_buf srcs = KS_BUF_INIT, codes = KS_BUF_INIT;
    uint32_t ns;
    uint32_t *sv = distinct(f, idx, n, K_SRC, &ns);
    char cnt[64];
    if (sv)
        list_names(&srcs, &s->pool[P_SRC], sv, ns);
    list_codes(&codes, s, idx, n);
    snprintf(cnt, sizeof cnt, "%zu failures from %u sources", n, ns);
    ks_kv matched[1] = {{"account", pool_str(&s->pool[P_ACCT], key)}};
    ks_kv det[3] = {{"counts", cnt}, {"sources", srcs.p ? srcs.p : ""}, {"failure_codes", codes.p ? codes.p : ""}};
    emit(f, "kensa.identity.brute_force", "Brute force against one account",
         "Many failed sign-ins against a single account in a short time.", KS_SEV_MEDIUM, t_brute, 1, idx, n,
         matched, 1, det, 3);
    uint32_t na;
    uint32_t *av = distinct(f, idx, n, K_ACCT, &na);
    record_spray(f, idx, n, "brute force", av, na, sv, ns);
    ks__buf_release(&srcs);
    ks__buf_release(&codes);
}

/* Brute force from one source over a few accounts (a local account
 * guessing run: administrator, admin, guest... a few tries each), which
 * neither the per-account count nor the spray's distinct accounts reach:
 * enough unrecovered failures, on 2 or more accounts but fewer than a
 * spray, at least 3 tries an account (typos give one or two). */
static bool src_brute_ok(fctx *f, uint32_t da, uint32_t ds, size_t n, uint32_t key)
{
    (void)ds; (void)key;
    return n >= (size_t)f->d->c.brute_min && da >= 2 && da < (uint32_t)f->d->c.min_accounts &&
           n >= 3 * (size_t)da;
}

static void src_brute_burst(fctx *f, const pass *p, const uint32_t *idx, size_t n, uint32_t key)
{
    (void)p;
    state *s = f->s;
    ks_buf accts = KS_BUF_INIT, codes = KS_BUF_INIT;
    uint32_t na;
    uint32_t *av = distinct(f, idx, n, K_ACCT, &na);
    char cnt[64];
    /* When every account got enough tries for its own brute-force
     * finding, this one would only repeat them. */
    bool covered = av != NULL;
    for (uint32_t a = 0; covered && a < na; a++) {
        size_t tries = 0;
        for (size_t i = 0; i < n; i++)
            tries += s->r[idx[i]].acct == av[a];
        covered = tries >= (size_t)f->d->c.brute_min;
    }
    if (covered)
        goto out;
    if (av)
        list_names(&accts, &s->pool[P_ACCT], av, na);
    list_codes(&codes, s, idx, n);
    snprintf(cnt, sizeof cnt, "%zu failures on %u accounts", n, na);
    ks_kv matched[2] = {{"source", pool_str(&s->pool[P_SRC], key)}, {"accounts", accts.p ? accts.p : ""}};
    ks_kv det[2] = {{"counts", cnt}, {"failure_codes", codes.p ? codes.p : ""}};
    emit(f, "kensa.identity.brute_force", "Brute force from one source against a few accounts",
         "One source failed repeatedly against a handful of accounts (local administrator, admin, "
         "guest...) without the users succeeding afterwards.", KS_SEV_MEDIUM, t_brute, 1, idx, n,
         matched, 2, det, 2);
    uint32_t ns;
    uint32_t *sv = distinct(f, idx, n, K_SRC, &ns);
    record_spray(f, idx, n, "brute force", av, na, sv, ns);
    av = NULL;
out:
    free(av);
    ks__buf_release(&accts);
    ks__buf_release(&codes);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over active (group, UTC day) pairs of distinct unrecovered failing
 * accounts: what a normal day looks like for this tenant. */
static double compute_baseline(fctx *f)
{
    state *s = f->s;
    size_t cap = 1024, n = 0;
    double *v = malloc(cap * sizeof *v);
    if (!v)
        return 0;
    const uint32_t *L = f->l[BY_GRP].list;
    for (uint32_t g = 1; g < pool_n(&s->pool[P_GRP]); g++) {
        uint32_t begin = f->l[BY_GRP].off[g], end = f->l[BY_GRP].off[g + 1], day_start = begin, da = 0;
        for (uint32_t i = begin; i <= end; i++) {
            const arec *r = i < end ? &s->r[L[i]] : NULL;
            bool new_day = !r || (i > day_start && r->t / (86400 * NS) != s->r[L[day_start]].t / (86400 * NS));
            if (new_day) {
                /* every active group-day counts, quiet ones (0) included:
                 * the baseline is what a normal day looks like */
                if (i > day_start) {
                    if (n == cap) {
                        double *nv = realloc(v, (cap * 2) * sizeof *nv);
                        if (!nv)
                            break;
                        v = nv;
                        cap *= 2;
                    }
                    v[n++] = da;
                }
                for (uint32_t j = day_start; j < i; j++) /* zero that day's counters */
                    f->cnt_a[s->r[L[j]].acct] = 0;
                day_start = i;
                da = 0;
            }
            if (r && cls_in(f->cls, L[i], W_UNRECOVERED) && f->cnt_a[r->acct]++ == 0)
                da++;
        }
    }
    double med = 0;
    if (n) {
        qsort(v, n, sizeof *v, cmp_double);
        med = v[n / 2];
    }
    free(v);
    return med;
}

/* Did the account sign in successfully from src before `before`? Then a
 * later sign-in from there is the user, not the sprayer. */
static bool known_source(const fctx *f, uint32_t acct, uint32_t src, int64_t before)
{
    const csr *c = &f->l[BY_ACCT_IN];
    for (uint32_t i = c->off[acct]; i < c->off[acct + 1]; i++) {
        const arec *r = &f->s->r[c->list[i]];
        if (r->t >= before)
            break;
        if (f->cls[c->list[i]] == AK_SUCCESS && r->src == src)
            return true;
    }
    return false;
}

/* Successful sign-ins (or correct passwords stopped by MFA) of accounts a
 * spray targeted, from a spray source or soon after the spray. */
static void success_after_spray(fctx *f)
{
    state *s = f->s;
    uint32_t *cand = malloc((pool_n(&s->pool[P_ACCT]) + 1) * sizeof *cand);
    uint8_t *mark = calloc(pool_n(&s->pool[P_ACCT]), 1);
    if (!cand || !mark)
        goto out;
    for (size_t k = 0; k < f->nsp; k++) {
        spray *sp = &f->sp[k];
        bool brute = !strcmp(sp->kind, "brute force");
        /* the targeted accounts, and any account that signed in from a
         * spray source afterwards (a sprayed tenant may log it apart) */
        uint32_t nc = 0;
        for (uint32_t a = 0; a < sp->naccts; a++)
            if (!mark[sp->accts[a]]) {
                mark[sp->accts[a]] = 1;
                cand[nc++] = sp->accts[a];
            }
        uint32_t every = pool_n(&s->pool[P_ACCT]) - 1;
        const csr *in = &f->l[BY_SRC_IN]; /* a source's records that are not failures */
        for (uint32_t x = 0; x < sp->nsrcs && nc < every; x++) { /* until all are in */
            uint32_t src = sp->srcs[x];
            for (uint32_t i = in->off[src]; i < in->off[src + 1]; i++) {
                const arec *r = &s->r[in->list[i]];
                /* set, not count: a counter would wrap and list an account twice */
                if (r->t >= sp->first && !mark[r->acct]) {
                    mark[r->acct] = 1;
                    cand[nc++] = r->acct;
                }
            }
        }
        for (uint32_t c = 0; c < nc; c++)
            mark[cand[c]] = 0;
        for (uint32_t a = 0; a < nc; a++) {
            uint32_t acct = cand[a];
            if (f->hit[acct])
                continue;
            uint32_t hits[MAX_EVIDENCE];
            size_t nh = 0;
            bool single = false, from_src = false, success = false;
            const csr *ain = &f->l[BY_ACCT_IN];
            for (uint32_t i = ain->off[acct]; i < ain->off[acct + 1]; i++) {
                const arec *r = &s->r[ain->list[i]];
                const aprof *p = PV(s, r);
                if (r->t < sp->first)
                    continue;
                bool src = in_sorted(sp->srcs, sp->nsrcs, r->src);
                /* After a brute force only the guessing source counts, and
                 * not an office NAT (a phone with a stale password fails
                 * there all morning while its owner signs in). */
                if (brute && (!src || f->established[r->src] || r->t > sp->last + f->d->c.success_window))
                    continue;
                /* "shortly after" from elsewhere counts only from a source
                 * that is not the users' ordinary one (office NAT, their
                 * workstation): people keep signing in after a spray */
                if (!src && (r->t > sp->last + f->d->c.success_window || f->established[r->src] ||
                             known_source(f, acct, r->src, sp->first)))
                    continue;
                if (nh < MAX_EVIDENCE)
                    hits[nh++] = ain->list[i];
                single |= p->kind == AK_SUCCESS && (p->flags & AF_SINGLE_FACTOR);
                from_src |= src && p->kind == AK_SUCCESS;
                success |= p->kind == AK_SUCCESS;
            }
            if (!nh)
                continue;
            f->hit[acct] = 1;
            f->target[acct] = 1; /* its exposure findings are raised too */
            const arec *h = &s->r[hits[0]];
            const char *code = pool_str(&s->pool[P_CODE], PV(s, h)->code);
            const char *words = ks__id_code_words(code, strlen(code));
            char how[256];
            snprintf(how, sizeof how, "%s%s%s; %s", success ? "signed in" : "password accepted, sign-in stopped",
                     single ? " with a password alone (no MFA)" : "", from_src ? " from a spray source" : "",
                     words ? words : code);
            ks_kv matched[2] = {{"account", pool_str(&s->pool[P_ACCT], acct)},
                                {"source", pool_str(&s->pool[P_SRC], h->src)}};
            ks_kv det[3] = {{"outcome", how}, {"spray", sp->kind}, {"application", pool_str(&s->pool[P_APP], PV(s, h)->app)}};
            ks_severity sev = success && (single || from_src) ? KS_SEV_CRITICAL : KS_SEV_HIGH;
            if (brute)
                emit(f, "kensa.identity.brute_success", success ? "Brute force followed by a successful sign-in"
                                                                : "Brute force found a valid password (sign-in stopped)",
                     "An account that was being guessed signed in (or its password was confirmed) from the "
                     "guessing source. Treat the account as compromised: reset the password, revoke "
                     "sessions, look at what the source did next.",
                     success ? KS_SEV_CRITICAL : KS_SEV_HIGH, t_valid, 2, hits, nh, matched, 2, det, 3);
            else
                emit(f, "kensa.identity.spray_success", success ? "Password spray followed by a successful sign-in"
                                                                : "Password spray found a valid password (MFA stopped it)",
                     "An account targeted by the spray signed in (or its password was confirmed) from a spray "
                     "source or shortly after. Treat the account as compromised: reset the password, revoke "
                     "sessions, review mailbox rules and consents.",
                     sev, t_valid, 2, hits, nh, matched, 2, det, 3);
        }
    }
out:
    free(cand);
    free(mark);
}

/* Per account: successful single-factor and legacy-protocol sign-ins. */
static void exposure(fctx *f)
{
    state *s = f->s;
    for (uint32_t a = 1; a < pool_n(&s->pool[P_ACCT]); a++) {
        uint32_t sf[MAX_EVIDENCE], lg[MAX_EVIDENCE];
        size_t nsf = 0, nlg = 0, csf = 0, clg = 0;
        ks_buf apps = KS_BUF_INIT;
        const csr *ain = &f->l[BY_ACCT_IN];
        for (uint32_t i = ain->off[a]; i < ain->off[a + 1]; i++) {
            const arec *r = &s->r[ain->list[i]];
            const aprof *p = PV(s, r);
            if (p->kind != AK_SUCCESS)
                continue;
            if (p->flags & AF_SINGLE_FACTOR) {
                csf++;
                if (nsf < MAX_EVIDENCE)
                    sf[nsf++] = ain->list[i];
            }
            if (p->flags & AF_LEGACY) {
                const char *app = pool_str(&s->pool[P_APP], p->app);
                if (!apps.p || !strstr(apps.p, app))
                    ks__buf_printf(&apps, "%s%s", apps.n ? ", " : "", app);
                clg++;
                if (nlg < MAX_EVIDENCE)
                    lg[nlg++] = ain->list[i];
            }
        }
        bool tgt = f->target[a];
        char c1[64], c2[64];
        ks_kv matched[1] = {{"account", pool_str(&s->pool[P_ACCT], a)}};
        if (csf) {
            snprintf(c1, sizeof c1, "%zu", csf);
            ks_kv det[2] = {{"single_factor_successes", c1}, {"spray_target", tgt ? "yes" : "no"}};
            emit(f, "kensa.identity.no_mfa", "Successful sign-in without MFA (single-factor)",
                 "The account signed in with a password alone. Enforce MFA with conditional access; if it was "
                 "a spray target, treat it as compromised.",
                 tgt ? KS_SEV_HIGH : KS_SEV_MEDIUM, t_cloud, 1, sf, nsf, matched, 1, det, 2);
        }
        if (clg) {
            snprintf(c2, sizeof c2, "%zu", clg);
            ks_kv det[3] = {{"legacy_sign_ins", c2}, {"protocols", apps.p ? apps.p : ""},
                            {"spray_target", tgt ? "yes" : "no"}};
            emit(f, "kensa.identity.legacy_auth", "Sign-in over a legacy protocol that cannot do MFA",
                 "IMAP, POP, SMTP AUTH, EWS basic, ActiveSync and other legacy clients bypass MFA; block "
                 "legacy authentication with conditional access.",
                 tgt ? KS_SEV_HIGH : KS_SEV_LOW, t_cloud, 1, lg, nlg, matched, 1, det, 3);
        }
        ks__buf_release(&apps);
    }
}

/* Sources where at least 3 different accounts signed in successfully and
 * that were never a spray source: the office, a shared workstation. */
static void find_established(fctx *f)
{
    state *s = f->s;
    uint8_t *spray_src = calloc(pool_n(&s->pool[P_SRC]), 1);
    if (!spray_src)
        return;
    for (size_t k = 0; k < f->nsp; k++)
        for (uint32_t i = 0; i < f->sp[k].nsrcs; i++)
            spray_src[f->sp[k].srcs[i]] = 1;
    for (uint32_t src = 1; src < pool_n(&s->pool[P_SRC]); src++) {
        uint32_t seen[3] = {0}, n = 0;
        const csr *in = &f->l[BY_SRC_IN]; /* successes are among them */
        if (spray_src[src])
            continue;
        for (uint32_t i = in->off[src]; i < in->off[src + 1] && n < 3; i++) {
            const arec *r = &s->r[in->list[i]];
            if (f->cls[in->list[i]] != AK_SUCCESS || (n && (seen[0] == r->acct || (n > 1 && seen[1] == r->acct))))
                continue;
            seen[n++] = r->acct;
        }
        f->established[src] = n >= 3;
    }
    free(spray_src);
}

/* Makes exactly the lists in `which` (LB bits) present. */
static int lists(fctx *f, unsigned which)
{
    const state *s = f->s;
    static const struct {
        int key, pool;
        unsigned want;
    } l[NLISTS] = {[BY_ACCT_FS] = {K_ACCT, P_ACCT, W_FAIL_SUCCESS}, [BY_SRC_ATT] = {K_SRC, P_SRC, W_UNRECOVERED},
                   [BY_SRC_EXPL] = {K_SRC, P_SRC, W_EXPLICIT},      [BY_GRP] = {K_GRP, P_GRP, W_ALL},
                   [BY_GRP_ATT] = {K_GRP, P_GRP, W_UNRECOVERED},    [BY_ACCT_ATT] = {K_ACCT, P_ACCT, W_ATTEMPT},
                   [BY_SRC_IN] = {K_SRC, P_SRC, W_NOT_FAIL},       [BY_ACCT_IN] = {K_ACCT, P_ACCT, W_SIGNED_IN}};
    for (int i = 0; i < NLISTS; i++)
        if (!(which & LB(i)))
            csr_free(&f->l[i]);
    for (int i = 0; i < NLISTS; i++)
        if ((which & LB(i)) && !f->l[i].off &&
            build_csr(s, f->cls, l[i].key, pool_n(&s->pool[l[i].pool]), l[i].want, &f->l[i]) != KS_OK)
            return KS_ENOMEM;
    return KS_OK;
}

static int id_finish(void *detp)
{
    id_det *d = detp;
    state *s = &d->all;
    fctx f = {0};
    int rc = KS_ENOMEM;
    if (s->n == 0)
        return KS_OK;
    f.d = d;
    f.s = s;
    /* One file read by one worker arrives in time order: then the sort
     * would change nothing, and its scratch (16 bytes a record) is saved. */
    size_t unsorted = 1;
    while (unsorted < s->n && cmp_time(&s->r[unsorted - 1], &s->r[unsorted]) <= 0)
        unsorted++;
    if (unsorted < s->n)
        qsort(s->r, s->n, sizeof *s->r, cmp_time);
    uint32_t na = pool_n(&s->pool[P_ACCT]), ns = pool_n(&s->pool[P_SRC]), ng = pool_n(&s->pool[P_GRP]);
    uint32_t np = pool_n(&s->pool[P_PROF]);
    if (!(s->pv = calloc(np, sizeof *s->pv)))
        goto out;
    for (uint32_t i = 1; i < np; i++)
        s->pv[i] = prof_get(s, i);
    if (!(f.cls = malloc(s->n)))
        goto out;
    for (size_t i = 0; i < s->n; i++) { /* kinds are 1..4: below CLS_RECOVERED */
        unsigned k = PV(s, &s->r[i])->kind;
        f.cls[i] = (uint8_t)(k < CLS_RECOVERED ? k : 0);
    }
    f.cnt_a = calloc(na, sizeof *f.cnt_a);
    f.cnt_s = calloc(ns, sizeof *f.cnt_s);
    f.target = calloc(na, 1);
    f.hit = calloc(na, 1);
    f.established = calloc(ns, 1);
    f.seen = calloc(((size_t)KS_MAX(KS_MAX(na, ns), ng) + 63) / 64, sizeof *f.seen);
    /* Lists (4 bytes a listed record) live while their passes run: at
     * most an all-records list and a part one at a time. The passes run in
     * the order their findings and sprays are reported in. */
    if (!f.established || !f.seen || !f.cnt_a || !f.cnt_s || !f.target || !f.hit || lists(&f, LB(BY_ACCT_FS)))
        goto out;
    mark_recovered(&f);
    if (lists(&f, LB(BY_SRC_ATT)))
        goto out;
    per_key(&f, &f.l[BY_SRC_ATT], ns, d->c.window, &(pass){spray_ok, spray_burst, SPRAY_SOURCE, d->c.min_accounts});
    if (lists(&f, LB(BY_SRC_ATT) | LB(BY_SRC_EXPL)))
        goto out;
    per_key(&f, &f.l[BY_SRC_EXPL], ns, d->c.window,
            &(pass){explicit_ok, spray_burst, SPRAY_EXPLICIT, d->c.explicit_min});
    if (lists(&f, LB(BY_SRC_ATT) | LB(BY_GRP)))
        goto out;
    f.baseline = compute_baseline(&f);
    if (lists(&f, LB(BY_SRC_ATT) | LB(BY_GRP_ATT)))
        goto out;
    per_key(&f, &f.l[BY_GRP_ATT], ng, d->c.slow_window,
            &(pass){dist_ok, spray_burst, SPRAY_DISTRIBUTED, KS_MAX(d->c.dist_accounts, d->c.dist_sources)});
    if (lists(&f, LB(BY_SRC_ATT) | LB(BY_ACCT_ATT)))
        goto out;
    per_key(&f, &f.l[BY_ACCT_ATT], na, d->c.brute_window,
            &(pass){brute_ok, brute_burst, SPRAY_SOURCE, d->c.brute_min});
    per_key(&f, &f.l[BY_SRC_ATT], ns, d->c.brute_window,
            &(pass){src_brute_ok, src_brute_burst, SPRAY_SOURCE, d->c.brute_min});
    /* the joins read only sign-ins past the password, and of a source
     * what is not a failure */
    if (lists(&f, LB(BY_SRC_IN) | LB(BY_ACCT_IN)))
        goto out;
    find_established(&f);
    success_after_spray(&f);
    exposure(&f);
    if (s->dropped) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "identity", &loc,
                 "%llu sign-in records over identity.max_records were not analysed",
                 (unsigned long long)s->dropped);
    }
    rc = KS_OK;
out:
    for (size_t i = 0; i < f.nsp; i++) {
        free(f.sp[i].accts);
        free(f.sp[i].srcs);
    }
    free(f.sp);
    for (int i = 0; i < NLISTS; i++)
        csr_free(&f.l[i]);
    free(f.cls);
    free(f.cnt_a);
    free(f.cnt_s);
    free(f.target);
    free(f.hit);
    free(f.established);
    free(f.seen);
    return rc;
}

static void id_destroy(void *detp)
{
    id_det *d = detp;
    if (!d)
        return;
    state_release(&d->all);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const struct ks_detector ks_detector_identity = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "identity",
    .description = "password spray (per source and distributed), brute force, spray success, no-MFA and legacy sign-ins",
    .flags = KS_DET_EVENTS,
    .create = id_create,
    .worker_new = id_worker_new,
    .on_event = id_event,
    .worker_done = id_worker_done,
    .finish = id_finish,
    .destroy = id_destroy,
};
