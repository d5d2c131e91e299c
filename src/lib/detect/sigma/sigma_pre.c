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
 * All needles of all rules go into one Vectorscan literal database. Per
 * event the worker concatenates the field values once, scans them once, and
 * evaluates only the rules whose needles hit plus the few rules without
 * usable needles (regex-only, numeric, exists...). The needle test ignores
 * which field a literal sits in: a superset of candidates, never a miss.
 * Without Vectorscan (compile failure, option sigma.prefilter=false) every
 * rule is a candidate.
 */
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>
#include "sigma_pre.h"

#define MIN_NEEDLE 3
#define MAX_NEEDLES_PER_RULE 256
#define MAX_TEXT ((size_t)1 << 20)

struct sg_pre {
    hs_database_t *db;      /* all needles, caseless, single-match */
    uint32_t *off;          /* needle i's rules: rules[off[i] .. off[i+1]) */
    uint32_t *rules;        /* run indices */
    uint32_t nneedles;
    uint32_t *always;       /* rules without needles */
    uint32_t nalways;
    uint32_t nrun;
};

struct sg_pre_ws {
    hs_scratch_t *scratch;
    uint32_t *stamp;        /* per rule: event number it was listed for */
    uint32_t gen;
    uint32_t *list;         /* candidates of the current event */
    uint32_t n;
    ks_buf text;            /* concatenated values */
    const sg_pre *pre;
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

/* Longest literal run of a pattern. */
static void longest_run(const sg_pat *p, const char **s, size_t *n)
{
    size_t best = 0, bs = 0, st = 0;
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
    if (!sg__val_is_string(v) || v->wants_missing || !v->npats)
        return none();
    nset r = {.ok = true, .minlen = SIZE_MAX};
    r.s = ks__arena_alloc(a, v->npats * sizeof *r.s);
    r.n = ks__arena_alloc(a, v->npats * sizeof *r.n);
    if (!r.s || !r.n)
        return none();
    for (uint32_t i = 0; i < v->npats; i++) {
        longest_run(&v->pats[i], &r.s[i], &r.n[i]);
        if (r.n[i] < MIN_NEEDLE)
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
    nset r = val_needles(a, &it->vals[0]);
    for (uint32_t i = 1; i < it->nvals && r.ok; i++)
        r = join(a, r, val_needles(a, &it->vals[i]));
    return r;
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

int sg__pre_build(sg_rule *const *run, size_t nrun, bool enable, sg_pre **out)
{
    sg_pre *p = calloc(1, sizeof *p);
    ks_arena *a = ks__arena_new(1 << 16, 0);
    ks_map *ids = ks__map_new(1024);
    nset *sets = calloc(nrun + 1, sizeof *sets);
    const char **lits = NULL;
    size_t *lens = NULL;
    unsigned *flags = NULL, *hsids = NULL;
    uint32_t *counts = NULL;
    int rc = KS_ENOMEM;

    if (!p || !a || !ids || !sets)
        goto out;
    p->nrun = (uint32_t)nrun;
    p->always = calloc(nrun + 1, sizeof *p->always);
    if (!p->always)
        goto out;
    size_t total = 0;
    for (size_t i = 0; i < nrun; i++) {
        sets[i] = enable && run[i]->cond ? cond_needles(a, run[i], run[i]->cond) : none();
        if (sets[i].ok)
            total += sets[i].cnt;
        else
            p->always[p->nalways++] = (uint32_t)i;
    }
    /* distinct needles (lowercased) -> ids */
    lits = calloc(total + 1, sizeof *lits);
    lens = calloc(total + 1, sizeof *lens);
    counts = calloc(total + 2, sizeof *counts);
    if (!lits || !lens || !counts)
        goto out;
    for (size_t i = 0; i < nrun; i++) {
        for (size_t k = 0; sets[i].ok && k < sets[i].cnt; k++) {
            char *low = ks__arena_strndup(a, sets[i].s[k], sets[i].n[k]);
            if (!low)
                goto out;
            for (size_t q = 0; q < sets[i].n[k]; q++)
                if (low[q] >= 'A' && low[q] <= 'Z')
                    low[q] = (char)(low[q] + 32);
            uint64_t *slot = ks__map_slot(ids, low, sets[i].n[k], true);
            if (!slot)
                goto out;
            if (!*slot) {
                lits[p->nneedles] = low;
                lens[p->nneedles] = sets[i].n[k];
                *slot = ++p->nneedles;
            }
            sets[i].s[k] = lits[*slot - 1]; /* canonical */
            sets[i].n[k] = *slot - 1;        /* reuse n as the needle id */
        }
    }
    /* CSR: needle -> rules (a rule once per needle) */
    for (size_t i = 0; i < nrun; i++)
        for (size_t k = 0; sets[i].ok && k < sets[i].cnt; k++)
            counts[sets[i].n[k] + 1]++;
    p->off = calloc(p->nneedles + 2, sizeof *p->off);
    p->rules = calloc(total + 1, sizeof *p->rules);
    if (!p->off || !p->rules)
        goto out;
    for (uint32_t i = 0; i < p->nneedles; i++)
        p->off[i + 1] = p->off[i] + counts[i + 1];
    memset(counts, 0, (total + 2) * sizeof *counts);
    for (size_t i = 0; i < nrun; i++)
        for (size_t k = 0; sets[i].ok && k < sets[i].cnt; k++) {
            size_t id = sets[i].n[k];
            p->rules[p->off[id] + counts[id]++] = (uint32_t)i;
        }
    if (p->nneedles) {
        hs_compile_error_t *err = NULL;
        flags = calloc(p->nneedles, sizeof *flags);
        hsids = calloc(p->nneedles, sizeof *hsids);
        if (!flags || !hsids)
            goto out;
        for (uint32_t i = 0; i < p->nneedles; i++) {
            flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
            hsids[i] = i;
        }
        if (hs_compile_lit_multi(lits, flags, hsids, lens, p->nneedles, HS_MODE_BLOCK, NULL,
                                 &p->db, &err) != HS_SUCCESS) {
            /* fall back: every rule is a candidate */
            hs_free_compile_error(err);
            p->db = NULL;
            p->nalways = 0;
            for (size_t i = 0; i < nrun; i++)
                p->always[p->nalways++] = (uint32_t)i;
            p->nneedles = 0;
        }
    }
    *out = p;
    p = NULL;
    rc = KS_OK;
out:
    sg__pre_free(p);
    ks__arena_free(a);
    ks__map_free(ids);
    free(sets);
    free(lits);
    free(lens);
    free(flags);
    free(hsids);
    free(counts);
    return rc;
}

void sg__pre_free(sg_pre *p)
{
    if (!p)
        return;
    hs_free_database(p->db);
    free(p->off);
    free(p->rules);
    free(p->always);
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
    w->text.limit = MAX_TEXT + 64;
    if (!w->stamp || !w->list || (p->db && hs_alloc_scratch(p->db, &w->scratch) != HS_SUCCESS)) {
        sg__pre_ws_free(w);
        return KS_ENOMEM;
    }
    *out = w;
    return KS_OK;
}

void sg__pre_ws_free(sg_pre_ws *w)
{
    if (!w)
        return;
    hs_free_scratch(w->scratch);
    free(w->stamp);
    free(w->list);
    ks__buf_release(&w->text);
    free(w);
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    sg_pre_ws *w = ctx;
    const sg_pre *p = w->pre;
    KS_UNUSED(from), KS_UNUSED(to), KS_UNUSED(flags);
    for (uint32_t i = p->off[id]; i < p->off[id + 1]; i++) {
        uint32_t r = p->rules[i];
        if (w->stamp[r] != w->gen) {
            w->stamp[r] = w->gen;
            w->list[w->n++] = r;
        }
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

size_t sg__pre_candidates(const sg_pre *p, sg_pre_ws *w, const ks_event *ev, sg_scratch *sc,
                          const uint32_t **list)
{
    if (++w->gen == 0) {
        memset(w->stamp, 0, p->nrun * sizeof *w->stamp);
        w->gen = 1;
    }
    w->n = 0;
    for (uint32_t i = 0; i < p->nalways; i++) {
        w->stamp[p->always[i]] = w->gen;
        w->list[w->n++] = p->always[i];
    }
    if (p->db) {
        ks__buf_reset(&w->text);
        bool full = false;
        for (size_t i = 0; i < ev->n && !full; i++) {
            const char *s;
            size_t n;
            if (!sg__value_text(&ev->fields[i].v, sc, &s, &n))
                continue;
            if (w->text.n + n + 1 > MAX_TEXT) {
                n = MAX_TEXT - w->text.n - 1; /* NEEDSWORK: scan huge events in pieces */
                full = true;
            }
            if (ks__buf_add(&w->text, s, n) != KS_OK || ks__buf_addc(&w->text, '\n') != KS_OK)
                break;
        }
        if (w->text.n && hs_scan(p->db, w->text.p, (unsigned)w->text.n, 0, w->scratch, on_hit, w) !=
                             HS_SUCCESS) {
            /* scan error: be safe, evaluate everything */
            for (uint32_t r = 0; r < p->nrun; r++)
                if (w->stamp[r] != w->gen)
                    w->stamp[r] = w->gen, w->list[w->n++] = r;
        }
        if (full) /* the tail was not scanned: every rule is a candidate */
            for (uint32_t r = 0; r < p->nrun; r++)
                if (w->stamp[r] != w->gen)
                    w->stamp[r] = w->gen, w->list[w->n++] = r;
    }
    if (w->n > p->nalways)
        qsort(w->list, w->n, sizeof *w->list, cmp_u32);
    *list = w->list;
    return w->n;
}
