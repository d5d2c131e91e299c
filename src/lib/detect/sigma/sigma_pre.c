/* SPDX-License-Identifier: Apache-2.0
 *
 * The literal prefilter that keeps Sigma's cost nearly flat in the number
 * of rules. For every rule we derive a set of literal needles such that the
 * rule cannot match an event unless one of them occurs (case-insensitively)
 * somewhere in the event's values:
 *
 *   search  = union over its maps of the most selective item's literals
 *   a and b = the better side;  a or b / 1 of = union;  not = no needles
 *
 * Rules are grouped by logsource. Each group gets one Vectorscan literal
 * database of its rules' needles. Per event the worker first decides which
 * logsources apply (a few field lookups, memoised on the values of the
 * fields logsource conditions read: EventID, Channel, ...), so a Sysmon
 * process-creation event only ever meets process-creation rules. For each
 * applicable group it scans the concatenated field values once and
 * evaluates only the rules whose needles hit plus the few rules without
 * usable needles (regex-only, numeric, exists...). The needle test ignores
 * which field a literal sits in: a superset of candidates, never a miss.
 * Without Vectorscan (compile failure, option sigma.prefilter=false) every
 * rule of an applicable group is a candidate.
 */
#include <hs/hs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "detect/fileinfo.h"
#include "sigma_pre.h"

#define MIN_NEEDLE 3
#define PAT_NEEDLE_MIN 6 /* with SG_PRE_PATTERNS: items with this many patterns */
#define MAX_NEEDLES_PER_RULE 1024
#define MAX_TEXT ((size_t)1 << 20)

typedef struct pgroup {
    const sg_lsrc *ls;      /* logsource of its rules; NULL = always applies */
    hs_database_t *db;      /* its needles, caseless, single-match; NULL = none */
    uint32_t *off;          /* needle i's rules: rules[off[i] .. off[i+1]) */
    uint32_t *rules;        /* run indices */
    uint32_t nneedles;      /* its own needles: database ids 0 .. nneedles-1 */
    uint32_t *emb;          /* groups whose needles db also holds (embed_broad) */
    uint32_t nemb;
    struct emb_id { uint32_t g, id; } *emap; /* db id - nneedles -> group, its id */
    uint32_t *always;       /* rules without needles */
    uint32_t nalways;
    uint32_t base;          /* global id of its needle 0 (hit bitset) */
    /* build-time only: the literals, compiled in parallel after grouping:
     * the needles, then each needle with a space again with '+' for every
     * space (plus_variants), under the needle's id */
    const char **lits;
    size_t *lens;
    unsigned *litids;
    uint32_t nlits;
    ks_arena *lit_arena;    /* owns the lowered literals */
    bool nl;                /* a literal holds '\n': a hit may span two values */
    uint32_t *members;      /* run indices of its rules */
    uint32_t nm;
    bool failed;            /* Vectorscan refused the database */
} pgroup;

typedef struct lsfield {    /* a field some logsource condition reads */
    const ks_sym *syms;
    uint32_t nsyms;
    bool presence;          /* only |exists tests read it: key on presence */
} lsfield;

struct sg_pre {
    pgroup *groups;
    uint32_t ngroups;
    uint32_t nrun;
    lsfield *lsf;           /* memo key fields */
    uint32_t nlsf;
    bool memo;              /* logsource results can be memoised */
    uint32_t nneedles, nalways; /* totals, for stats */
    uint32_t nids;          /* global needle ids (all groups) */
};

#define MEMO_MAX 4096
#define MEMO_KEY_MAX 512
#define STABLE_MAX 64     /* values of an event whose sameness is tracked */
#define STABLE_MIN 48     /* bytes of same values worth their own scan */
#define NOVAL UINT32_MAX  /* stable.len: the field has no text */

/* The values an event shares with the events of its layout before it
 * (a Security record's schema URL, provider, channel, computer: half of
 * its text), for one index slot of the scratch. Without a literal that
 * holds '\n' every hit of a database lies inside one value, so the
 * event's hits are those of its kept values, found once and kept, plus a
 * scan of the other values. Kept values stay kept while each equals the
 * same field of the layout's event before it; when one changes, the
 * hits are dropped and found again from the values that stayed. */
typedef struct stable {
    uint64_t build;         /* the index build prev is for (0: none) */
    ks_buf prev;            /* the text of the layout's last event */
    uint32_t off[STABLE_MAX], len[STABLE_MAX]; /* its values in prev */
    size_t n;               /* its fields */
    uint32_t front;         /* prev's values not kept end here (NOVAL: the
                               text is in field order) */
    uint64_t same;          /* values equal to the event before it */
    uint64_t steady;        /* ... and to the event before that */
    uint64_t keep;          /* values whose hits are in ids (0: none) */
    const pgroup *g;        /* the group the hits are for */
    uint32_t *ids;          /* database ids the kept values hold */
    size_t nids, capids;
    uint32_t uses;          /* events that used the kept hits */
    uint32_t wasted;        /* kept hits dropped unused, in a row */
    uint32_t tries;         /* events since keeping was last tried */
} stable;

/* Which field answers each logsource lookup, for one index of the
 * scratch (sg_scratch.lays[]: the events of one W3C header or EVTX
 * template share it). The memo key is then built from the values at these
 * positions instead of ~70 index probes per event (3% of an IIS hunt). */
typedef struct lsf_memo {
    uint64_t build;         /* the index build the positions are for (0: none) */
    uint32_t n;             /* logsource fields the layout has: */
    uint8_t f[64];          /* which (index into sg_pre.lsf), ascending */
    int32_t at[64];         /* and where (field index) */
} lsf_memo;

struct sg_pre_ws {
    hs_scratch_t *scratch;  /* big enough for every group's database */
    uint32_t *stamp;        /* per rule: event number it was listed for */
    uint32_t gen;
    uint32_t *list;         /* candidates of the current event */
    uint32_t n;
    ks_buf text;            /* concatenated values */
    bool have_text;
    const char *scan;       /* what is scanned: text.p, or the event's raw */
    size_t scann;
    const sg_pre *pre;
    const pgroup *cur;      /* group being scanned (callback) */
    ks_map *memo;           /* key -> 1 + offset in memo_res */
    ks_buf memo_res;        /* [count, group ids...] as uint32 */
    char key[MEMO_KEY_MAX]; /* the memo key of the current event */
    size_t keyn;
    lsf_memo lay[SG_LAYOUTS]; /* per index slot, the fields answering the
                               logsource lookups */
    struct last_key {       /* per index slot (sc->lay_slot), the memo key of */
        char key[MEMO_KEY_MAX]; /* the last event of that layout and its */
        size_t n;           /* answer (1 + offset in memo_res; 0 = none): */
        uint64_t slot;      /* a log's layouts interleave, each mostly with one key */
    } last[SG_LAYOUTS];
    uint64_t *hitbits;      /* global needle ids seen in this event */
    uint32_t *hitlist;      /* the same as a list, to clear them */
    uint32_t *gstamp;       /* per group: gen when it applies to this event */
    uint32_t *cstamp;       /* per group: gen when a scanned database holds its needles */
    uint32_t nhit;
    bool truncated;         /* an event too big to scan whole */
    stable stab[SG_LAYOUTS]; /* per index slot: the values that stay */
    stable *st;             /* this event's, when its text is tracked */
    uint32_t off[STABLE_MAX], len[STABLE_MAX]; /* this event's values in text */
    ks_buf part;            /* the part of the text scanned on its own */
    size_t front;           /* the text's values not kept end here */
    stable *rec;            /* on_hit also adds ids to rec->ids */
    bool rec_failed;        /* ... and could not */
};

/* ---- needle sets ------------------------------------------------------------------- */

typedef struct nset {
    bool ok;                /* false: this subtree cannot be prefiltered */
    const char **s;         /* needles (arena), lengths in n */
    size_t *n;
    size_t cnt;
    size_t minlen;
} nset;

static nset none(void)
{
    nset x = {0};
    return x;
}

static nset join(ks_arena *a, nset x, nset y)
{
    if (!x.ok || !y.ok || x.cnt + y.cnt > MAX_NEEDLES_PER_RULE)
        return none();
    nset r = {.ok = true, .cnt = x.cnt + y.cnt, .minlen = KS_MIN(x.minlen, y.minlen)};
    r.s = ks__arena_alloc(a, (r.cnt + 1) * sizeof *r.s);
    r.n = ks__arena_alloc(a, (r.cnt + 1) * sizeof *r.n);
    if (!r.s || !r.n)
        return none();
    memcpy(r.s, x.s, x.cnt * sizeof *r.s);
    memcpy(r.s + x.cnt, y.s, y.cnt * sizeof *r.s);
    memcpy(r.n, x.n, x.cnt * sizeof *r.n);
    memcpy(r.n + x.cnt, y.n, y.cnt * sizeof *r.n);
    return r;
}

/* Prefer longer shortest needles, then fewer needles. */
static nset pick(nset x, nset y)
{
    if (!x.ok)
        return y;
    if (!y.ok)
        return x;
    if (x.minlen != y.minlen)
        return x.minlen > y.minlen ? x : y;
    return x.cnt <= y.cnt ? x : y;
}

/* A literal selective enough to be a needle: 3+ bytes, or 2 bytes that
 * include a non-ASCII one (a homoglyph or emoji byte pair is rare in logs). */
static bool needle_ok(const char *s, size_t n)
{
    if (n >= MIN_NEEDLE)
        return true;
    return n == 2 && (((unsigned char)s[0] | (unsigned char)s[1]) & 0x80);
}

void sg__pat_run(const sg_pat *p, const char **s, size_t *n)
{
    size_t best = 0, bs = 0, st = 0;
    if (p->kind != SG_P_GLOB && !memchr(p->s, SG_GLOB_STAR, p->n) && !memchr(p->s, SG_GLOB_ONE, p->n)) {
        *s = p->s; /* no wildcard: the whole text (a byte loop was a tenth of the prefilter's build) */
        *n = p->n;
        return;
    }
    for (size_t i = 0; i <= p->n; i++) {
        if (i == p->n || p->s[i] == SG_GLOB_STAR || p->s[i] == SG_GLOB_ONE) {
            if (i - st > best)
                best = i - st, bs = st;
            st = i + 1;
        }
    }
    *s = p->s + bs;
    *n = best;
}

static nset val_needles(ks_arena *a, const sg_val *v)
{
    if (sg__val_is_regex(v) && v->relit) {
        nset r = {.ok = true, .cnt = 1, .minlen = v->relitn};
        r.s = ks__arena_alloc(a, sizeof *r.s);
        r.n = ks__arena_alloc(a, sizeof *r.n);
        if (!r.s || !r.n)
            return none();
        r.s[0] = v->relit;
        r.n[0] = v->relitn;
        return r;
    }
    if (!sg__val_is_string(v) || v->wants_missing || !v->npats)
        return none();
    nset r = {.ok = true, .minlen = SIZE_MAX};
    r.s = ks__arena_alloc(a, v->npats * sizeof *r.s);
    r.n = ks__arena_alloc(a, v->npats * sizeof *r.n);
    if (!r.s || !r.n)
        return none();
    for (uint32_t i = 0; i < v->npats; i++) {
        sg__pat_run(&v->pats[i], &r.s[i], &r.n[i]);
        if (!needle_ok(r.s[i], r.n[i]))
            return none();
        r.minlen = KS_MIN(r.minlen, r.n[i]);
    }
    r.cnt = v->npats;
    return r;
}

static nset item_needles(ks_arena *a, const sg_item *it)
{
    if (it->missing_ok || !it->nvals)
        return none();
    if (it->all) { /* every value must be there: any one value's needles do */
        nset best = none();
        for (uint32_t i = 0; i < it->nvals; i++)
            best = pick(best, val_needles(a, &it->vals[i]));
        return best;
    }
    /* any value: the union of all, made at once (joining one value at a
     * time copied the growing set for each: quadratic in a rule's list of
     * values, most of a SigmaHQ start-up's page faults) */
    nset *v = malloc(it->nvals * sizeof *v), r = {.ok = true, .minlen = SIZE_MAX};
    if (!v)
        return none();
    for (uint32_t i = 0; i < it->nvals && r.ok; i++) {
        v[i] = val_needles(a, &it->vals[i]);
        r.cnt += v[i].cnt; /* the cap applies to unions (join), not one value */
        r.ok = v[i].ok && (i == 0 || r.cnt <= MAX_NEEDLES_PER_RULE);
        r.minlen = KS_MIN(r.minlen, v[i].minlen);
    }
    if (r.ok && (!(r.s = ks__arena_alloc(a, (r.cnt + 1) * sizeof *r.s)) ||
                 !(r.n = ks__arena_alloc(a, (r.cnt + 1) * sizeof *r.n))))
        r.ok = false;
    for (size_t i = 0, at = 0; r.ok && i < it->nvals; at += v[i++].cnt) {
        memcpy(r.s + at, v[i].s, v[i].cnt * sizeof *r.s);
        memcpy(r.n + at, v[i].n, v[i].cnt * sizeof *r.n);
    }
    free(v);
    return r.ok ? r : none();
}

static nset search_needles(ks_arena *a, const sg_search *s)
{
    nset r = none();
    for (uint32_t g = 0; g < s->n; g++) {
        nset gb = none();
        for (uint32_t i = 0; i < s->groups[g].n; i++)
            gb = pick(gb, item_needles(a, &s->groups[g].items[i]));
        if (!gb.ok)
            return none();
        r = g == 0 ? gb : join(a, r, gb);
        if (!r.ok)
            return none();
    }
    return r;
}

static nset cond_needles(ks_arena *a, const sg_rule *r, const sg_cond *c)
{
    switch (c->op) {
    case SG_C_REF:
        return search_needles(a, &r->searches[c->ref]);
    case SG_C_AND:
        return pick(cond_needles(a, r, c->a), cond_needles(a, r, c->b));
    case SG_C_OR:
        return join(a, cond_needles(a, r, c->a), cond_needles(a, r, c->b));
    case SG_C_ANY: {
        nset x = search_needles(a, &r->searches[c->refs[0]]);
        for (uint32_t i = 1; i < c->nrefs && x.ok; i++)
            x = join(a, x, search_needles(a, &r->searches[c->refs[i]]));
        return x;
    }
    case SG_C_ALL: {
        nset x = none();
        for (uint32_t i = 0; i < c->nrefs; i++)
            x = pick(x, search_needles(a, &r->searches[c->refs[i]]));
        return x;
    }
    default:
        return none();
    }
}

/* ---- building ----------------------------------------------------------------------- */

static void group_free(pgroup *g)
{
    hs_free_database(g->db);
    free(g->members);
    free(g->lits);
    free(g->lens);
    free(g->litids);
    ks__arena_free(g->lit_arena);
    free(g->off);
    free(g->rules);
    free(g->always);
    free(g->emb);
    free(g->emap);
}

/* An input whose values are its raw record's tokens with '+' read as a
 * space (W3C header fields and query: ks_event.raw_plus) is scanned as
 * raw, not value by value. A value holding needle N then shows N in raw
 * with each space written '+' (a token has no space: every space of the
 * value was a '+'), so each needle with a space is also compiled in that
 * spelling under its own id. A needle with '+' and a space cannot be in
 * such a value (no '+' is left) and is found as written where it is.
 * Events of other inputs merely see the variant as one more needle hit,
 * a candidate more, never one less. Replaces *lits / *lens with arrays
 * of g->nlits entries and fills g->litids. */
static int plus_variants(ks_arena *a, pgroup *g, const char ***lits, size_t **lens)
{
    uint32_t nv = 0;
    for (uint32_t i = 0; i < g->nneedles; i++)
        nv += memchr((*lits)[i], ' ', (*lens)[i]) != NULL;
    uint32_t nl = g->nneedles + nv;
    const char **l2 = calloc(nl + 1, sizeof *l2);
    size_t *n2 = calloc(nl + 1, sizeof *n2);
    unsigned *id2 = calloc(nl + 1, sizeof *id2);
    if (!l2 || !n2 || !id2) {
        free(l2), free(n2), free(id2);
        return KS_ENOMEM;
    }
    memcpy(l2, *lits, g->nneedles * sizeof *l2);
    memcpy(n2, *lens, g->nneedles * sizeof *n2);
    for (uint32_t i = 0; i < g->nneedles; i++)
        id2[i] = i;
    for (uint32_t i = 0, k = g->nneedles; i < g->nneedles; i++) {
        if (!memchr(l2[i], ' ', n2[i]))
            continue;
        char *v = ks__arena_strndup(a, l2[i], n2[i]);
        if (!v) {
            free(l2), free(n2), free(id2);
            return KS_ENOMEM;
        }
        for (size_t q = 0; q < n2[i]; q++)
            if (v[q] == ' ')
                v[q] = '+';
        l2[k] = v;
        n2[k] = n2[i];
        id2[k++] = i;
    }
    free(*lits);
    free(*lens);
    *lits = l2;
    *lens = n2;
    g->litids = id2;
    g->nlits = nl;
    return KS_OK;
}

/* One group: the needles of its rules into one literal database. */
/* Every string pattern of the group's rules gets the id of its longest
 * literal run, so evaluation can skip patterns whose literal the scan did
 * not see (rules with long value lists). */
static size_t count_pats(sg_rule *r)
{
    size_t n = 0;
    for (uint32_t s = 0; s < r->nsearches; s++)
        for (uint32_t g = 0; g < r->searches[s].n; g++)
            for (uint32_t i = 0; i < r->searches[s].groups[g].n; i++) {
                const sg_item *it = &r->searches[s].groups[g].items[i];
                for (uint32_t v = 0; v < it->nvals; v++)
                    n += it->vals[v].npats;
            }
    return n;
}

static int needle_id(ks_arena *a, ks_map *ids, const char *s, size_t n, const char **lits,
                     size_t *lens, uint32_t *count, uint32_t *id)
{
    char *low = ks__arena_strndup(a, s, n);
    if (!low)
        return KS_ENOMEM;
    for (size_t q = 0; q < n; q++)
        if (low[q] >= 'A' && low[q] <= 'Z')
            low[q] = (char)(low[q] + 32);
    uint64_t *slot = ks__map_slot(ids, low, n, true);
    if (!slot)
        return KS_ENOMEM;
    if (!*slot) {
        lits[*count] = low;
        lens[*count] = n;
        *slot = ++*count;
    }
    *id = (uint32_t)(*slot - 1);
    return KS_OK;
}

static int group_build(pgroup *g, sg_rule *const *run, const uint32_t *members, size_t nm,
                       unsigned flags, uint32_t nrun)
{
    ks_arena *a = ks__arena_new(1 << 16, 0);
    ks_map *ids = ks__map_new(256);
    nset *sets = calloc(nm + 1, sizeof *sets);
    const char **lits = NULL;
    size_t *lens = NULL;
    uint32_t *counts = NULL;
    int rc = KS_ENOMEM;

    KS_UNUSED(nrun);
    g->always = calloc(nm + 1, sizeof *g->always);
    if (!a || !ids || !sets || !g->always)
        goto out;
    size_t total = 0;
    for (size_t m = 0; m < nm; m++) {
        const sg_rule *r = run[members[m]];
        sets[m] = (flags & SG_PRE_ON) && r->cond ? cond_needles(a, r, r->cond) : none();
        if (sets[m].ok)
            total += sets[m].cnt;
        else
            g->always[g->nalways++] = members[m];
    }
    size_t npats = 0;
    bool patterns = (flags & SG_PRE_ON) && (flags & SG_PRE_PATTERNS);
    for (size_t m = 0; (flags & SG_PRE_ON) && m < nm; m++)
        npats += count_pats(run[members[m]]);
    lits = calloc(total + npats + 1, sizeof *lits);
    lens = calloc(total + npats + 1, sizeof *lens);
    counts = calloc(total + npats + 2, sizeof *counts);
    if (!lits || !lens || !counts)
        goto out;
    for (size_t m = 0; m < nm; m++) {
        for (size_t k = 0; sets[m].ok && k < sets[m].cnt; k++) {
            uint32_t id;
            if (needle_id(a, ids, sets[m].s[k], sets[m].n[k], lits, lens, &g->nneedles, &id) != KS_OK)
                goto out;
            sets[m].n[k] = id; /* reuse n as the needle id */
        }
    }
    /* pattern needles (ids after, or shared with, the trigger needles):
     * keyword values always, since keyword_maybe would otherwise search
     * the event's text once per pattern (SigmaHQ's SSTI rule: ten
     * ks__memmem_ci a GET line, ~3 % of an IIS hunt) while the group's
     * scan of that same text answers them all at once; field values only
     * with SG_PRE_PATTERNS, in items with PAT_NEEDLE_MIN patterns */
    for (size_t m = 0; (flags & SG_PRE_ON) && m < nm; m++) {
        sg_rule *r = run[members[m]];
        for (uint32_t s = 0; s < r->nsearches; s++)
            for (uint32_t gi = 0; gi < r->searches[s].n; gi++)
                for (uint32_t i = 0; i < r->searches[s].groups[gi].n; i++) {
                    sg_item *it = &r->searches[s].groups[gi].items[i];
                    size_t ipats = 0;
                    for (uint32_t v = 0; v < it->nvals; v++)
                        ipats += it->vals[v].npats;
                    for (uint32_t v = 0; v < it->nvals; v++)
                        for (uint32_t q = 0; q < it->vals[v].npats; q++) {
                            sg_pat *pt = &it->vals[v].pats[q];
                            const char *ls;
                            size_t ln;
                            uint32_t id;
                            pt->needle = 0;
                            /* short lists are cheap to test directly: only long
                             * ones are worth a literal in the database */
                            if (it->field && (!patterns || ipats < PAT_NEEDLE_MIN))
                                continue;
                            sg__pat_run(pt, &ls, &ln);
                            if (!needle_ok(ls, ln))
                                continue;
                            if (needle_id(a, ids, ls, ln, lits, lens, &g->nneedles, &id) != KS_OK)
                                goto out;
                            pt->needle = g->base + id + 1;
                        }
                }
    }
    if (plus_variants(a, g, &lits, &lens) != KS_OK)
        goto out;
    g->off = calloc(g->nneedles + 2, sizeof *g->off);
    g->rules = calloc(total + 1, sizeof *g->rules);
    memset(counts, 0, (total + npats + 2) * sizeof *counts);
    for (size_t m = 0; m < nm; m++)
        for (size_t k = 0; sets[m].ok && k < sets[m].cnt; k++)
            counts[sets[m].n[k] + 1]++;
    if (!g->off || !g->rules)
        goto out;
    for (uint32_t i = 0; i < g->nneedles; i++)
        g->off[i + 1] = g->off[i] + counts[i + 1];
    memset(counts, 0, (total + npats + 2) * sizeof *counts);
    for (size_t m = 0; m < nm; m++)
        for (size_t k = 0; sets[m].ok && k < sets[m].cnt; k++) {
            size_t id = sets[m].n[k];
            g->rules[g->off[id] + counts[id]++] = members[m];
        }
    g->members = malloc((nm + 1) * sizeof *g->members);
    if (!g->members)
        goto out;
    memcpy(g->members, members, nm * sizeof *members);
    g->nm = (uint32_t)nm;
    g->lits = lits;
    g->lens = lens;
    g->lit_arena = a;
    lits = NULL;
    lens = NULL;
    a = NULL;
    rc = KS_OK;
out:
    ks__arena_free(a);
    ks__map_free(ids);
    free(sets);
    free(lits);
    free(lens);
    free(counts);
    return rc;
}

/* ---- compiling the databases, groups in parallel ---------------------------------------- */

typedef struct compile_job {
    pgroup *groups;
    uint32_t ngroups;
    uint32_t next;          /* next group to take (under mu) */
    pthread_mutex_t mu;
} compile_job;

static void group_compile(pgroup *g)
{
    hs_compile_error_t *err = NULL;
    unsigned *flags = NULL, *ids = NULL;
    if (!g->nlits)
        return;
    flags = calloc(g->nlits, sizeof *flags);
    ids = calloc(g->nlits, sizeof *ids);
    if (!flags || !ids) {
        g->failed = true;
        goto out;
    }
    for (uint32_t i = 0; i < g->nlits; i++) {
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = g->litids[i];
    }
    if (hs_compile_lit_multi(g->lits, flags, ids, g->lens, g->nlits, HS_MODE_BLOCK, NULL, &g->db,
                             &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        g->db = NULL;
        g->failed = true;
    }
out:
    free(flags);
    free(ids);
}

static void *compile_worker(void *arg)
{
    compile_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        uint32_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->ngroups)
            return NULL;
        group_compile(&j->groups[i]);
    }
}

/* Vectorscan compiles are independent and thread-safe: use the cores (the
 * rule set of a hunt compiles once, before any evidence is read). */
static void compile_groups(sg_pre *p)
{
    compile_job j = {.groups = p->groups, .ngroups = p->ngroups};
    pthread_t th[8];
    int n = KS_MIN(ks__ncpu(), 8), started = 0;
    pthread_mutex_init(&j.mu, NULL);
    for (int i = 1; i < n; i++)
        if (pthread_create(&th[started], NULL, compile_worker, &j) == 0)
            started++;
    compile_worker(&j);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.mu);
}

/* Through the compiled-rule cache when the engine has one (compiling the
 * literals of every SigmaHQ rule was half of the start-up): one entry
 * holds every group's database, keyed by every group's literals in order
 * (group_compile's flags and ids follow from them). A group that failed
 * to compile is not cached: the next run tries again. */
static void compile_all(const ks_engine *e, sg_pre *p)
{
    ks_hskey k;
    hs_database_t **dbs = NULL;
    if (ks__hskey_init(&k, e, &ks_hscache_sigma) && (dbs = calloc(p->ngroups + 1, sizeof *dbs))) {
        ks__hskey_add(&k, &p->ngroups, sizeof p->ngroups);
        for (uint32_t g = 0; g < p->ngroups; g++) {
            const pgroup *gr = &p->groups[g];
            ks__hskey_add(&k, &gr->nlits, sizeof gr->nlits);
            for (uint32_t i = 0; i < gr->nlits; i++) {
                uint64_t l = gr->lens[i];
                ks__hskey_add(&k, &l, sizeof l);
                ks__hskey_add(&k, gr->lits[i], gr->lens[i]);
                ks__hskey_add(&k, &gr->litids[i], sizeof gr->litids[i]);
            }
        }
        ks__hskey_final(&k);
    } else
        ks__hskey_release(&k);
    if (k.ok && ks__hscache_load(&k, 0, NULL, NULL, p->ngroups, dbs)) {
        for (uint32_t g = 0; g < p->ngroups; g++)
            p->groups[g].db = dbs[g];
        free(dbs);
        return;
    }
    compile_groups(p);
    bool all = k.ok;
    for (uint32_t g = 0; all && g < p->ngroups; g++) {
        dbs[g] = p->groups[g].db;
        all = !p->groups[g].failed;
    }
    if (all)
        ks__hscache_save(&k, NULL, 0, p->ngroups, dbs);
    free(dbs);
}

/* A group whose database failed: every rule is a candidate, no pattern
 * skipping (their needle bits would never be set). */
static void group_fallback(pgroup *g, sg_rule *const *run)
{
    g->nalways = 0;
    for (uint32_t m = 0; m < g->nm; m++)
        g->always[g->nalways++] = g->members[m];
    for (uint32_t m = 0; m < g->nm; m++) {
        sg_rule *r = run[g->members[m]];
        for (uint32_t s2 = 0; s2 < r->nsearches; s2++)
            for (uint32_t gi = 0; gi < r->searches[s2].n; gi++)
                for (uint32_t i = 0; i < r->searches[s2].groups[gi].n; i++) {
                    sg_item *it = &r->searches[s2].groups[gi].items[i];
                    for (uint32_t v = 0; v < it->nvals; v++)
                        for (uint32_t q = 0; q < it->vals[v].npats; q++)
                            it->vals[v].pats[q].needle = 0;
                }
    }
    g->nneedles = 0;
    g->nemb = 0; /* no database: the embedded groups scan their own */
}

/* Fields read by logsource conditions (memo key); false if some condition
 * cannot be memoised (keywords, field references). */
static bool collect_lsfields(sg_pre *p)
{
    for (uint32_t g = 0; g < p->ngroups; g++) {
        const sg_lsrc *ls = p->groups[g].ls;
        if (!ls || !ls->has_cond)
            continue;
        for (uint32_t k = 0; k < ls->cond.n; k++) {
            const sg_group *gr = &ls->cond.groups[k];
            for (uint32_t i = 0; i < gr->n; i++) {
                const sg_item *it = &gr->items[i];
                if (!it->field)
                    return false;
                for (uint32_t v = 0; v < it->nvals; v++)
                    if (it->vals[v].nref)
                        return false;
                bool presence = true;
                for (uint32_t v = 0; v < it->nvals; v++)
                    presence &= sg__val_is_exists(&it->vals[v]);
                uint32_t f;
                for (f = 0; f < p->nlsf; f++)
                    if (p->lsf[f].nsyms == it->nsyms &&
                        memcmp(p->lsf[f].syms, it->syms, it->nsyms * sizeof *it->syms) == 0)
                        break;
                if (f < p->nlsf) {
                    p->lsf[f].presence &= presence;
                    continue;
                }
                lsfield *n = realloc(p->lsf, (p->nlsf + 1) * sizeof *n);
                if (!n)
                    return false;
                p->lsf = n;
                p->lsf[p->nlsf].syms = it->syms;
                p->lsf[p->nlsf].nsyms = it->nsyms;
                p->lsf[p->nlsf++].presence = presence;
            }
        }
    }
    return p->nlsf <= 64;
}

/* A small group whose logsource names only a product (product: windows,
 * no category or service: any record with an EventID) applies together
 * with nearly every other group of that product, and scanning its few
 * needles on their own was a second Vectorscan call per event (a Security
 * log: service: security, then product: windows alone for one keyword
 * rule, Mimikatz Use). Its needles are compiled into each
 * other database of the product as well, under ids after that group's
 * own; an event whose groups include both is scanned once. Candidates
 * stay a superset: a hit of an embedded needle lists the small group's
 * rules only when that group applies to the event. */
#define EMBED_MAX 64 /* needles of a group embedded elsewhere */

static size_t product_len(const sg_lsrc *ls)
{
    const char *slash = ls && ls->key ? strchr(ls->key, '/') : NULL;
    return slash && ls->key[0] != '*' ? (size_t)(slash - ls->key) : 0; /* "*": no product */
}

static bool broad(const pgroup *g)
{
    size_t pl = product_len(g->ls);
    return pl && g->nneedles && g->nneedles <= EMBED_MAX && strcmp(g->ls->key + pl, "/*/*") == 0;
}

static int embed_broad(sg_pre *p)
{
    for (uint32_t gi = 0; gi < p->ngroups; gi++) {
        pgroup *g = &p->groups[gi];
        size_t pl = product_len(g->ls);
        if (!g->nneedles || !pl || broad(g))
            continue;
        uint32_t ids = 0, nlits = 0, nb = 0;
        for (uint32_t bi = 0; bi < p->ngroups; bi++) {
            const pgroup *b = &p->groups[bi];
            if (bi != gi && broad(b) && product_len(b->ls) == pl && !memcmp(b->ls->key, g->ls->key, pl))
                ids += b->nneedles, nlits += b->nlits, nb++;
        }
        if (!ids)
            continue;
        size_t total = (size_t)g->nlits + nlits + 1;
        const char **lits = realloc(g->lits, total * sizeof *lits);
        if (!lits)
            return KS_ENOMEM;
        g->lits = lits;
        size_t *lens = realloc(g->lens, total * sizeof *lens);
        if (!lens)
            return KS_ENOMEM;
        g->lens = lens;
        unsigned *litids = realloc(g->litids, total * sizeof *litids);
        if (!litids)
            return KS_ENOMEM;
        g->litids = litids;
        g->emb = calloc(nb, sizeof *g->emb);
        g->emap = calloc(ids, sizeof *g->emap);
        if (!g->emb || !g->emap)
            return KS_ENOMEM;
        uint32_t next = g->nneedles; /* database id of the next group's needle 0 */
        for (uint32_t bi = 0; bi < p->ngroups; bi++) {
            const pgroup *b = &p->groups[bi];
            if (bi == gi || !broad(b) || product_len(b->ls) != pl || memcmp(b->ls->key, g->ls->key, pl))
                continue;
            g->emb[g->nemb++] = bi;
            for (uint32_t i = 0; i < b->nneedles; i++)
                g->emap[next - g->nneedles + i] = (struct emb_id){bi, i};
            for (uint32_t k = 0; k < b->nlits; k++) { /* its '+' variants too */
                g->lits[g->nlits] = b->lits[k];
                g->lens[g->nlits] = b->lens[k];
                g->litids[g->nlits++] = next + b->litids[k];
            }
            next += b->nneedles;
        }
    }
    return KS_OK;
}

int sg__pre_build(sg_rule *const *run, size_t nrun, unsigned flags, const ks_engine *e,
                  sg_pre **out)
{
    sg_pre *p = calloc(1, sizeof *p);
    uint32_t *members = calloc(nrun + 1, sizeof *members);
    int rc = KS_ENOMEM;
    if (!p || !members)
        goto out;
    p->nrun = (uint32_t)nrun;
    p->groups = calloc(nrun + 1, sizeof *p->groups);
    if (!p->groups)
        goto out;
    /* group by logsource, in first-seen order */
    for (size_t i = 0; i < nrun; i++) {
        const sg_lsrc *ls = run[i]->ls && run[i]->ls->has_cond ? run[i]->ls : NULL;
        bool seen = false;
        for (uint32_t g = 0; g < p->ngroups && !seen; g++)
            seen = p->groups[g].ls == ls;
        if (seen)
            continue;
        size_t nm = 0;
        for (size_t k = i; k < nrun; k++) {
            const sg_lsrc *lk = run[k]->ls && run[k]->ls->has_cond ? run[k]->ls : NULL;
            if (lk == ls)
                members[nm++] = (uint32_t)k;
        }
        pgroup *g = &p->groups[p->ngroups++];
        g->ls = ls;
        g->base = p->nids;
        if ((rc = group_build(g, run, members, nm, flags, p->nrun)) != KS_OK)
            goto out;
        p->nids += g->nneedles;
    }
    if ((rc = embed_broad(p)) != KS_OK)
        goto out;
    compile_all(e, p);
    for (uint32_t g = 0; g < p->ngroups; g++) {
        pgroup *pg = &p->groups[g];
        for (uint32_t i = 0; i < pg->nlits && !pg->nl; i++)
            pg->nl = memchr(pg->lits[i], '\n', pg->lens[i]) != NULL;
        if (pg->failed)
            group_fallback(pg, run);
        free(pg->lits);
        free(pg->lens);
        free(pg->litids);
        ks__arena_free(pg->lit_arena);
        pg->lits = NULL;
        pg->lens = NULL;
        pg->litids = NULL;
        pg->lit_arena = NULL;
        p->nneedles += pg->nneedles;
        p->nalways += pg->nalways;
    }
    p->memo = collect_lsfields(p) && p->nlsf > 0;
    *out = p;
    p = NULL;
    rc = KS_OK;
out:
    sg__pre_free(p);
    free(members);
    return rc;
}

void sg__pre_free(sg_pre *p)
{
    if (!p)
        return;
    for (uint32_t g = 0; g < p->ngroups; g++)
        group_free(&p->groups[g]);
    free(p->groups);
    free(p->lsf);
    free(p);
}

void sg__pre_stats(const sg_pre *p, uint32_t *nneedles, uint32_t *nalways)
{
    *nneedles = p->nneedles;
    *nalways = p->nalways;
}

int sg__pre_ws_new(const sg_pre *p, sg_pre_ws **out)
{
    sg_pre_ws *w = calloc(1, sizeof *w);
    if (!w)
        return KS_ENOMEM;
    w->pre = p;
    w->stamp = calloc(p->nrun + 1, sizeof *w->stamp);
    w->list = calloc(p->nrun + 1, sizeof *w->list);
    w->memo = ks__map_new(256);
    w->text.limit = MAX_TEXT + 64;
    w->part.limit = MAX_TEXT + 64;
    for (size_t i = 0; i < SG_LAYOUTS; i++)
        w->stab[i].prev.limit = MAX_TEXT + 64;
    w->hitbits = calloc(p->nids / 64 + 1, sizeof *w->hitbits);
    w->hitlist = calloc(p->nids + 1, sizeof *w->hitlist);
    w->gstamp = calloc(p->ngroups + 1, sizeof *w->gstamp);
    w->cstamp = calloc(p->ngroups + 1, sizeof *w->cstamp);
    if (!w->stamp || !w->list || !w->memo || !w->hitbits || !w->hitlist || !w->gstamp || !w->cstamp)
        goto fail;
    for (uint32_t g = 0; g < p->ngroups; g++)
        if (p->groups[g].db && hs_alloc_scratch(p->groups[g].db, &w->scratch) != HS_SUCCESS)
            goto fail;
    *out = w;
    return KS_OK;
fail:
    sg__pre_ws_free(w);
    return KS_ENOMEM;
}

void sg__pre_ws_free(sg_pre_ws *w)
{
    if (!w)
        return;
    hs_free_scratch(w->scratch);
    free(w->stamp);
    free(w->list);
    ks__map_free(w->memo);
    ks__buf_release(&w->memo_res);
    ks__buf_release(&w->text);
    ks__buf_release(&w->part);
    for (size_t i = 0; i < SG_LAYOUTS; i++) {
        ks__buf_release(&w->stab[i].prev);
        free(w->stab[i].ids);
    }
    free(w->hitbits);
    free(w->hitlist);
    free(w->gstamp);
    free(w->cstamp);
    free(w);
}

/* ---- per event ------------------------------------------------------------------------- */

static inline void push(sg_pre_ws *w, uint32_t r)
{
    if (w->stamp[r] != w->gen) {
        w->stamp[r] = w->gen;
        w->list[w->n++] = r;
    }
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    sg_pre_ws *w = ctx;
    const pgroup *g = w->cur;
    KS_UNUSED(from), KS_UNUSED(to), KS_UNUSED(flags);
    if (w->rec) {
        stable *st = w->rec;
        if (st->nids < st->capids ||
            ks__grow(&st->ids, &st->capids, st->nids + 1, sizeof *st->ids, 16) == KS_OK)
            st->ids[st->nids++] = id;
        else
            w->rec_failed = true;
    }
    if (id >= g->nneedles) { /* an embedded group's needle: its id there */
        const struct emb_id *e = &g->emap[id - g->nneedles];
        bool on = w->gstamp[e->g] == w->gen;
        g = &w->pre->groups[e->g];
        id = e->id;
        if (!on) { /* the group does not apply: its rules are not listed */
            uint32_t gid = g->base + id;
            if (!(w->hitbits[gid >> 6] >> (gid & 63) & 1)) {
                w->hitbits[gid >> 6] |= 1ull << (gid & 63);
                w->hitlist[w->nhit++] = gid;
            }
            return 0;
        }
    }
    uint32_t gid = g->base + id;
    if (!(w->hitbits[gid >> 6] >> (gid & 63) & 1)) {
        w->hitbits[gid >> 6] |= 1ull << (gid & 63);
        w->hitlist[w->nhit++] = gid;
    }
    for (uint32_t i = g->off[id]; i < g->off[id + 1]; i++)
        push(w, g->rules[i]);
    return 0;
}

/* Compares this event's values (w->text, w->off/len) with those of its
 * layout's last event, and makes this event's text the layout's last:
 * the buffers are swapped, w->text gets the old one for the next event. */
static void stable_update(sg_pre_ws *w, size_t n, const sg_scratch *sc, uint64_t last)
{
    stable *st = &w->stab[sc->lay_slot];
    uint64_t same = 0;
    if (st->build == sc->lay->build) {
        for (size_t i = 0; i < n; i++)
            if (w->len[i] != NOVAL && w->len[i] == st->len[i] &&
                memcmp(w->text.p + w->off[i], st->prev.p + st->off[i], w->len[i]) == 0)
                same |= (uint64_t)1 << i;
    } else {
        st->build = sc->lay->build;
        st->same = 0;
        st->keep = 0;
        st->wasted = 0;
    }
    if (st->keep & ~same) { /* a kept value changed: its hits do not hold */
        st->wasted = st->uses ? 0 : st->wasted + 1;
        st->keep = 0;
    }
    st->steady = same & st->same;
    st->same = same;
    ks_buf t = w->text;
    w->text = st->prev;
    st->prev = t;
    memcpy(st->off, w->off, n * sizeof *st->off);
    memcpy(st->len, w->len, n * sizeof *st->len);
    st->n = n;
    st->front = last && st->keep == last ? w->front : NOVAL;
    w->st = st;
}

/* All field values, newline-separated, built once per event, or the
 * event's raw record when its input vouches for it (ks_event.raw: a W3C
 * line without '%'; plus_variants find the '+'-for-space values in it).
 * Sets w->scan/scann. Returns false when the event is too large to scan
 * whole. Strings and integers are written here, the buffer grown only
 * when a value does not fit: a grow call, a text call and a copy of the
 * number per value were ~15 % of Sigma's instructions on a Security log. */
static bool event_text(sg_pre_ws *w, const ks_event *ev, sg_scratch *sc)
{
    if (w->have_text)
        return w->scann < MAX_TEXT;
    w->have_text = true;
    w->st = NULL;
    if (ev->raw.p && ev->raw.n < MAX_TEXT) {
        w->scan = ev->raw.p;
        w->scann = ev->raw.n;
        return true;
    }
    w->scan = "";
    w->scann = MAX_TEXT;
    ks__buf_reset(&w->text);
    bool track = sc->lay && ev->n <= STABLE_MAX;
    /* a layout whose kept values change before they are used (W3C lines
     * with '%' among raw ones: the same values seldom meet twice) is
     * tracked again only every 64th event: a try is two scans, and the
     * compare of every value was ~2 % of an IIS hunt's Sigma for nothing */
    stable *sl = track ? &w->stab[sc->lay_slot] : NULL;
    if (sl && sl->build == sc->lay->build && sl->wasted >= 4 && ++sl->tries % 64 != 0)
        track = false;
    /* the values kept for the layout go last: the others are the text's
     * front, scanned as it is (scan_text) */
    uint64_t last = 0;
    if (track && w->stab[sc->lay_slot].build == sc->lay->build)
        last = w->stab[sc->lay_slot].keep;
    w->front = 0;
    for (size_t k = 0; k < (last ? 2 * ev->n : ev->n); k++) {
        size_t i = k < ev->n ? k : k - ev->n;
        if (k == ev->n)
            w->front = w->text.n;
        if (last && (bool)(last >> i & 1) != (k >= ev->n))
            continue;
        const ks_value *v = &ev->fields[i].v;
        char num[24];
        const char *s = num;
        size_t n;
        if (track)
            w->len[i] = NOVAL;
        if (v->type == KS_VSTR || v->type == KS_VBIN)
            s = v->u.s.p, n = v->u.s.n;
        else if (v->type == KS_VINT)
            n = ks__fmt_i64(num, v->u.i);
        else if (v->type == KS_VUINT && v->u.u <= (uint64_t)INT64_MAX)
            n = ks__fmt_i64(num, (int64_t)v->u.u);
        else if (!sg__value_text(v, sc, &s, &n))
            continue;
        /* NEEDSWORK: scan huge events in pieces */
        if (w->text.n + n + 1 >= MAX_TEXT ||
            (w->text.n + n + 2 > w->text.cap && ks__buf_grow(&w->text, n + 1) != KS_OK))
            return false;
        if (track) {
            w->off[i] = (uint32_t)w->text.n;
            w->len[i] = (uint32_t)n;
        }
        memcpy(w->text.p + w->text.n, s, n);
        w->text.n += n;
        w->text.p[w->text.n++] = '\n';
    }
    if (w->text.p)
        w->text.p[w->text.n] = '\0';
    if (track && w->text.p)
        stable_update(w, ev->n, sc, last);
    w->scan = w->st ? w->st->prev.p : w->text.p ? w->text.p : "";
    w->scann = w->st ? w->st->prev.n : w->text.n;
    return true;
}

/* The scan of g could not be done: every rule of it and of the applying
 * groups its database holds is a candidate. */
static void group_all(const sg_pre *p, sg_pre_ws *w, const pgroup *g)
{
    w->truncated = true;
    for (uint32_t r = 0; r < g->off[g->nneedles]; r++)
        push(w, g->rules[r]);
    for (uint32_t i = 0; i < g->nemb; i++) {
        const pgroup *b = &p->groups[g->emb[i]];
        if (w->gstamp[g->emb[i]] == w->gen)
            for (uint32_t r = 0; r < b->off[b->nneedles]; r++)
                push(w, b->rules[r]);
    }
}

/* The values of st's text in mask (in) or not in it (!in), newline-
 * separated, into w->part. */
static bool part_of(sg_pre_ws *w, const stable *st, uint64_t mask, bool in)
{
    ks__buf_reset(&w->part);
    for (size_t i = 0; i < st->n; i++) {
        if (st->len[i] == NOVAL || (bool)(mask >> i & 1) != in)
            continue;
        if (ks__buf_add(&w->part, st->prev.p + st->off[i], st->len[i] + 1) != KS_OK)
            return false; /* the value and its newline */
    }
    return true;
}

static bool scan_part(sg_pre_ws *w, const pgroup *g)
{
    return !w->part.n ||
           hs_scan(g->db, w->part.p, (unsigned)w->part.n, 0, w->scratch, on_hit, w) == HS_SUCCESS;
}

/* Scans the event's text with g's database: the values kept for its
 * layout by their hits found before (struct stable), the others by a
 * scan; or all of it. False if a scan failed. */
static bool scan_text(sg_pre_ws *w, const pgroup *g)
{
    stable *st = w->st;
    if (st && !g->nl && st->keep && st->g == g) {
        st->uses++;
        for (size_t i = 0; i < st->nids; i++)
            on_hit((unsigned)st->ids[i], 0, 0, 0, w);
        if (st->front != NOVAL) /* written as its kept values were */
            return !st->front || hs_scan(g->db, st->prev.p, st->front, 0, w->scratch, on_hit, w) ==
                                     HS_SUCCESS;
        return part_of(w, st, st->keep, false) && scan_part(w, g);
    }
    if (st && !g->nl && st->steady) {
        size_t kept = 0;
        for (size_t i = 0; i < st->n; i++)
            if (st->steady >> i & 1)
                kept += st->len[i] + 1;
        if (kept >= STABLE_MIN && part_of(w, st, st->steady, true)) {
            st->nids = 0;
            w->rec = st;
            w->rec_failed = false;
            bool ok = scan_part(w, g);
            w->rec = NULL;
            st->keep = ok && !w->rec_failed ? st->steady : 0;
            st->uses = 0;
            st->g = g;
            st->front = NOVAL; /* the text is in the order of the old keep */
            return ok && part_of(w, st, st->steady, false) && scan_part(w, g);
        }
    }
    return hs_scan(g->db, w->scan, (unsigned)w->scann, 0, w->scratch, on_hit, w) == HS_SUCCESS;
}

static void group_candidates(const sg_pre *p, sg_pre_ws *w, uint32_t gi, const ks_event *ev,
                             sg_scratch *sc)
{
    const pgroup *g = &p->groups[gi];
    for (uint32_t i = 0; i < g->nalways; i++)
        push(w, g->always[i]);
    if (!g->db || w->cstamp[gi] == w->gen) /* none, or scanned with another */
        return;
    if (!event_text(w, ev, sc)) {
        group_all(p, w, g); /* too big to scan: all of the group */
        return;
    }
    w->cur = g;
    if (w->scann && !scan_text(w, g))
        group_all(p, w, g);
}

/* The positions of lsf_memo for this event, worked out when its index is
 * new; NULL when lookups are not indexed (they scan: keep asking them). */
static const lsf_memo *lsf_layout(const sg_pre *p, lsf_memo *memo, const ks_event *ev, sg_scratch *sc)
{
    if (!sc->lay || p->nlsf > KS_ARRAY_LEN(memo->at))
        return NULL;
    lsf_memo *m = &memo[sc->lay_slot];
    if (m->build == sc->lay->build)
        return m;
    m->build = 0;
    m->n = 0;
    for (uint32_t f = 0; f < p->nlsf; f++) {
        const ks_value *v = sg__lookup(sc, p->lsf[f].syms, p->lsf[f].nsyms);
        const ks_field *at = v ? (const ks_field *)(const void *)((const char *)v - offsetof(ks_field, v)) : NULL;
        if (at && (at < ev->fields || at >= ev->fields + ev->n))
            return NULL; /* not a field of the event: ask each time */
        if (at) {
            m->f[m->n] = (uint8_t)f;
            m->at[m->n++] = (int32_t)(at - ev->fields);
        }
    }
    m->build = sc->lay->build;
    return m;
}

/* Appends field f's part of the memo key: f, its type and, unless only
 * its presence counts, its text (length first); an integer's 8 bytes
 * stand for its text (the type tells them apart: the EventID was
 * formatted twice per event, here and for the prefilter's scan). False
 * if it does not fit. */
static bool key_add(const sg_pre *p, sg_pre_ws *w, size_t *at, uint32_t f, const ks_value *v,
                    sg_scratch *sc)
{
    const char *s = "";
    size_t n = 0;
    if (p->lsf[f].presence)
        ;
    else if (v->type == KS_VINT || v->type == KS_VUINT)
        s = (const char *)&v->u.u, n = sizeof v->u.u;
    else if (!sg__value_text(v, sc, &s, &n))
        s = "", n = 0;
    if (*at + n + 4 > MEMO_KEY_MAX)
        return false;
    char *k = w->key + *at;
    k[0] = (char)f;
    k[1] = (char)('A' + v->type);
    if (!p->lsf[f].presence) {
        k[2] = (char)(n & 0xff);
        k[3] = (char)(n >> 8);
        memcpy(k + 4, s, n);
        *at += 2 + n;
    }
    *at += 2;
    return true;
}

/* The memo key: presence and text of the fields logsource conditions read
 * that the event has, written in place (a call per byte was 4% of an IIS
 * hunt). With the layout's positions only the fields it has are visited:
 * the dozens it lacks (Sysmon's, PowerShell's on a Security record) wrote
 * a byte each per event. */
static bool memo_key(const sg_pre *p, sg_pre_ws *w, const ks_event *ev, sg_scratch *sc)
{
    size_t at = 0;
    const lsf_memo *m = lsf_layout(p, w->lay, ev, sc);
    if (m) {
        for (uint32_t i = 0; i < m->n; i++)
            if (!key_add(p, w, &at, m->f[i], &ev->fields[m->at[i]].v, sc))
                return false;
    } else {
        for (uint32_t f = 0; f < p->nlsf; f++) {
            const ks_value *v = sg__lookup(sc, p->lsf[f].syms, p->lsf[f].nsyms);
            if (v && !key_add(p, w, &at, f, v, sc))
                return false;
        }
    }
    w->keyn = at;
    return true;
}

/* Which groups apply to this event; fills sc->ls_res for rule evaluation. */
static const uint32_t *active_groups(const sg_pre *p, sg_pre_ws *w, const ks_event *ev,
                                     sg_scratch *sc, uint32_t *count)
{
    uint64_t *slot = NULL;
    bool keyed = p->memo && memo_key(p, w, ev, sc);
    if (keyed) {
        /* the events of one layout mostly share the key: one compare, no hash */
        struct last_key *last = &w->last[sc->lay ? sc->lay_slot : 0];
        bool same = last->slot && w->keyn == last->n && !memcmp(w->key, last->key, w->keyn);
        slot = same ? &last->slot : ks__map_get(w->memo, w->key, w->keyn);
        if (slot && *slot) {
            if (!same) {
                memcpy(last->key, w->key, w->keyn);
                last->n = w->keyn;
                last->slot = *slot;
            }
            const uint32_t *res = (const uint32_t *)(void *)(w->memo_res.p + (*slot - 1));
            /* Only the logsources that apply are written: the others stay
             * "unknown" (sg__scratch_event) and are never asked, since no
             * rule of theirs is a candidate (if one were, it would evaluate
             * its condition, with the same answer). Clearing all ~80 groups
             * here was 3.5% of an EVTX hunt with all SigmaHQ rules. */
            for (uint32_t i = 0; i < res[0]; i++) {
                const sg_lsrc *ls = p->groups[res[1 + i]].ls;
                if (ls && ls->idx < sc->nls)
                    sc->ls_res[ls->idx] = 1;
            }
            *count = res[0];
            return res + 1;
        }
        if (ks__map_count(w->memo) >= MEMO_MAX) {
            ks__map_free(w->memo);
            w->memo = ks__map_new(256);
            ks__buf_reset(&w->memo_res);
            for (size_t i = 0; i < SG_LAYOUTS; i++)
                w->last[i].slot = 0;
            if (!w->memo)
                keyed = false;
        }
    }
    /* evaluate every logsource condition once */
    size_t at = w->memo_res.n;
    uint32_t zero = 0;
    if (ks__buf_add(&w->memo_res, &zero, sizeof zero) != KS_OK)
        return NULL;
    uint32_t n = 0;
    for (uint32_t g = 0; g < p->ngroups; g++) {
        const sg_lsrc *ls = p->groups[g].ls;
        bool on = true;
        if (ls) {
            on = sg__search_eval(&ls->cond, ev, sc);
            if (ls->idx < sc->nls)
                sc->ls_res[ls->idx] = on;
        }
        if (on) {
            if (ks__buf_add(&w->memo_res, &g, sizeof g) != KS_OK)
                return NULL;
            n++;
        }
    }
    memcpy(w->memo_res.p + at, &n, sizeof n);
    if (keyed && w->memo && (slot = ks__map_slot(w->memo, w->key, w->keyn, true)) != NULL)
        *slot = at + 1;
    *count = n;
    return (const uint32_t *)(void *)(w->memo_res.p + at) + 1;
}

size_t sg__pre_candidates(const sg_pre *p, sg_pre_ws *w, const ks_event *ev, sg_scratch *sc,
                          const uint32_t **list)
{
    uint32_t ng = 0;
    if (++w->gen == 0) {
        memset(w->stamp, 0, p->nrun * sizeof *w->stamp);
        memset(w->gstamp, 0, p->ngroups * sizeof *w->gstamp);
        memset(w->cstamp, 0, p->ngroups * sizeof *w->cstamp);
        w->gen = 1;
    }
    w->n = 0;
    w->have_text = false;
    w->truncated = false;
    for (uint32_t i = 0; i < w->nhit; i++)
        w->hitbits[w->hitlist[i] >> 6] = 0;
    w->nhit = 0;
    const uint32_t *groups = active_groups(p, w, ev, sc, &ng);
    if (!groups) { /* out of memory: everything, evaluated the slow way */
        for (uint32_t r = 0; r < p->nrun; r++)
            push(w, r);
    } else {
        /* copy: scanning may not touch memo_res, but keep the ids stable */
        uint32_t ids[256];
        ng = KS_MIN(ng, 256);
        memcpy(ids, groups, ng * sizeof *ids);
        for (uint32_t i = 0; i < ng; i++)
            w->gstamp[ids[i]] = w->gen;
        /* a group whose needles another applying group's database holds
         * is scanned with it (embed_broad) */
        for (uint32_t i = 0; i < ng; i++) {
            const pgroup *g = &p->groups[ids[i]];
            for (uint32_t k = 0; g->db && k < g->nemb; k++)
                w->cstamp[g->emb[k]] = w->gen;
        }
        for (uint32_t i = 0; i < ng; i++)
            group_candidates(p, w, ids[i], ev, sc);
    }
    /* evaluation may skip patterns whose literal was not seen */
    sc->hits = w->hitbits;
    sc->hits_ok = groups && !w->truncated && p->nids;
    if (w->have_text && w->scann < MAX_TEXT) {
        sc->text = w->scan;
        sc->textn = w->scann;
        sc->text_plus = w->scan == ev->raw.p && ev->raw_plus;
    }
    *list = w->list;
    return w->n;
}
