/* SPDX-License-Identifier: Apache-2.0
 *
 * Key gates: the prefilter's candidates that cannot match because of one
 * field's value, dropped before they are evaluated. Most Windows rules
 * require an EventID from a short list ("EventID: 4624"), and the literal
 * prefilter does not look at which field a needle sits in: on a Security
 * log with all SigmaHQ rules, 4.6 rules per event were evaluated and most
 * failed on their EventID (a rule for 517/1102 whose "Security" provider
 * needle is in every event was evaluated on all of them).
 *
 * At build time the key is the field (candidate paths) that the most rules
 * compare for plain equality; each rule gets the set of texts its condition
 * requires that field to hold, if it requires one:
 *
 *   item    = field == v1 | v2 ...  (every value a plain case-insensitive
 *             string equality: no wildcard, modifier, |cased, null, |all)
 *   map     = the intersection of its key items' sets (others: no limit)
 *   search  = the union over its maps (a map without limit: none)
 *   a and b = the intersection; a or b, 1 of = the union; not = none
 *
 * Per event the key is looked up once, as every item looks it up
 * (sg__lookup_sym), and its lowercased text decides: absent, every gated
 * rule fails (a plain equality needs the field); present, a rule passes
 * when the text is one of its set; repeated in the event (unnamed EVTX
 * <Data>) or without a text, nothing is decided here. Matching itself is
 * unchanged: a gate only skips evaluations whose answer is false.
 */
#include <stdlib.h>
#include <string.h>
#include "sigma_pre.h"

#define GATE_MAX_VALUES 64 /* a larger set is no gate */

typedef struct vset { /* NULL = no limit; else a set (arena, may be empty) */
    const char **s;
    uint32_t *n;
    uint32_t cnt;
} vset;

typedef struct gkey {          /* a key field: its candidate paths */
    const ks_sym *syms;
    uint32_t nsyms;
} gkey;

typedef struct gate {           /* one key's texts: txt[off .. off + cnt) */
    uint32_t key, off, cnt;
} gate;

struct sg_gates {
    gkey keys[SG_GATE_KEYS];   /* by votes, most first */
    uint32_t nkeys;
    uint32_t *first;           /* rule i's gates: gates[first[i] .. first[i + 1]) */
    gate *gates;
    size_t ngates, capgates;
    const char **txt;
    uint32_t *len;
    uint64_t *head;            /* txt's first 8 bytes, zero-padded (head_of) */
    size_t ntxt, captxt;
    ks_map *votes;             /* owns the keys' paths */
};

static bool same_syms(const ks_sym *a, uint32_t na, const ks_sym *b, uint32_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* A field compared for plain, case-insensitive string equality only. */
static bool plain_item(const sg_item *it)
{
    if (!it->field || !it->nsyms || !it->nvals || it->missing_ok || (it->all && it->nvals > 1))
        return false;
    for (uint32_t i = 0; i < it->nvals; i++) {
        const sg_val *v = &it->vals[i];
        if (!sg__val_is_string(v) || v->cased || v->negate || v->wants_missing || !v->npats)
            return false;
        for (uint32_t k = 0; k < v->npats; k++)
            if (v->pats[k].kind != SG_P_EQ)
                return false;
    }
    return true;
}

static const vset NONE = {0};

static bool has(const vset *x, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < x->cnt; i++)
        if (x->n[i] == n && memcmp(x->s[i], s, n) == 0)
            return true;
    return false;
}

/* x with y's texts added (union) or x's texts that y has (intersection). */
static vset combine(ks_arena *a, vset x, vset y, bool unite)
{
    if (!x.s || !y.s)
        return unite ? NONE : (x.s ? x : y);
    uint32_t cap = unite ? x.cnt + y.cnt : x.cnt;
    if (cap > GATE_MAX_VALUES)
        return NONE;
    vset r = {ks__arena_alloc(a, (cap + 1) * sizeof *r.s), ks__arena_alloc(a, (cap + 1) * sizeof *r.n), 0};
    if (!r.s || !r.n)
        return NONE;
    for (uint32_t i = 0; i < x.cnt; i++)
        if (unite || has(&y, x.s[i], x.n[i]))
            r.s[r.cnt] = x.s[i], r.n[r.cnt++] = x.n[i];
    for (uint32_t i = 0; unite && i < y.cnt; i++)
        if (!has(&x, y.s[i], y.n[i]))
            r.s[r.cnt] = y.s[i], r.n[r.cnt++] = y.n[i];
    return r;
}

static vset item_set(ks_arena *a, const sg_item *it, const gkey *g)
{
    if (!plain_item(it) || !same_syms(it->syms, it->nsyms, g->syms, g->nsyms))
        return NONE;
    uint32_t cap = 0;
    for (uint32_t i = 0; i < it->nvals; i++)
        cap += it->vals[i].npats;
    if (cap > GATE_MAX_VALUES)
        return NONE;
    vset r = {ks__arena_alloc(a, (cap + 1) * sizeof *r.s), ks__arena_alloc(a, (cap + 1) * sizeof *r.n), 0};
    if (!r.s || !r.n)
        return NONE;
    for (uint32_t i = 0; i < it->nvals; i++)
        for (uint32_t k = 0; k < it->vals[i].npats; k++) {
            const sg_pat *p = &it->vals[i].pats[k];
            if (!has(&r, p->s, (uint32_t)p->n))
                r.s[r.cnt] = p->s, r.n[r.cnt++] = (uint32_t)p->n;
        }
    return r;
}

static vset search_set(ks_arena *a, const sg_search *s, const gkey *g)
{
    vset r = NONE;
    if (!s->n)
        return NONE;
    for (uint32_t m = 0; m < s->n; m++) {
        vset x = NONE;
        for (uint32_t i = 0; i < s->groups[m].n; i++)
            x = combine(a, x, item_set(a, &s->groups[m].items[i], g), false);
        if (!x.s)
            return NONE; /* this map limits nothing: the search does not either */
        r = m ? combine(a, r, x, true) : x;
        if (!r.s)
            return NONE;
    }
    return r;
}

static vset cond_set(ks_arena *a, const sg_rule *r, const sg_cond *c, const gkey *g, int depth)
{
    if (!c || depth > SG_COND_MAX_DEPTH)
        return NONE;
    switch (c->op) {
    case SG_C_REF:
        return c->ref < r->nsearches ? search_set(a, &r->searches[c->ref], g) : NONE;
    case SG_C_AND:
        return combine(a, cond_set(a, r, c->a, g, depth + 1), cond_set(a, r, c->b, g, depth + 1), false);
    case SG_C_OR: {
        vset x = cond_set(a, r, c->a, g, depth + 1);
        return x.s ? combine(a, x, cond_set(a, r, c->b, g, depth + 1), true) : NONE;
    }
    case SG_C_ANY:
    case SG_C_ALL: {
        if (!c->nrefs || (c->op == SG_C_ANY && c->ref < 1))
            return NONE;
        vset x = NONE;
        for (uint32_t i = 0; i < c->nrefs; i++) {
            vset y = c->refs[i] < r->nsearches ? search_set(a, &r->searches[c->refs[i]], g) : NONE;
            if (c->op == SG_C_ALL)
                x = combine(a, x, y, false);
            else if (!(x = i ? combine(a, x, y, true) : y).s)
                return NONE;
        }
        return x;
    }
    default: /* not, true */
        return NONE;
    }
}

/* The keys: the candidate paths that the plain-equality items of the most
 * rules compare (counted once per rule), each more than one rule's: on
 * Windows OriginalFileName (process creation), EventID, Provider_Name... */
static int pick_keys(sg_rule *const *run, size_t nrun, sg_gates *g)
{
    ks_map *votes = g->votes = ks__map_new(256); /* paths -> votes << 32 | last rule + 1 */
    uint64_t best[SG_GATE_KEYS] = {0};
    if (!votes)
        return KS_ENOMEM;
    for (size_t r = 0; r < nrun; r++)
        for (uint32_t s = 0; s < run[r]->nsearches; s++)
            for (uint32_t m = 0; m < run[r]->searches[s].n; m++)
                for (uint32_t i = 0; i < run[r]->searches[s].groups[m].n; i++) {
                    const sg_item *it = &run[r]->searches[s].groups[m].items[i];
                    uint64_t *v;
                    if (plain_item(it) &&
                        (v = ks__map_slot(votes, it->syms, it->nsyms * sizeof *it->syms, true)) &&
                        (*v & 0xFFFFFFFFu) != r + 1)
                        *v = ((*v >> 32) + 1) << 32 | (r + 1);
                }
    /* the SG_GATE_KEYS best (ties in the map's order: any key choice gives
     * the same answers, a better one skips more) */
    size_t i = 0, kn;
    const char *k;
    uint64_t *v;
    while (ks__map_iter(votes, &i, &k, &kn, &v)) {
        uint64_t n = *v >> 32;
        uint32_t at = g->nkeys;
        while (at > 0 && best[at - 1] < n)
            at--;
        if (n < 2 || at >= SG_GATE_KEYS)
            continue;
        uint32_t last = KS_MIN(g->nkeys, SG_GATE_KEYS - 1);
        memmove(&g->keys[at + 1], &g->keys[at], (last - at) * sizeof *g->keys);
        memmove(&best[at + 1], &best[at], (last - at) * sizeof *best);
        g->keys[at] = (gkey){(const ks_sym *)(const void *)k, (uint32_t)(kn / sizeof(ks_sym))};
        best[at] = n;
        g->nkeys = last + 1;
    }
    return KS_OK;
}

/* The keys some plain item of r compares, as bits. */
static uint64_t rule_keys(const sg_rule *r, const sg_gates *g)
{
    uint64_t bits = 0;
    for (uint32_t s = 0; s < r->nsearches; s++)
        for (uint32_t m = 0; m < r->searches[s].n; m++)
            for (uint32_t i = 0; i < r->searches[s].groups[m].n; i++) {
                const sg_item *it = &r->searches[s].groups[m].items[i];
                for (uint32_t k = 0; k < g->nkeys && plain_item(it); k++)
                    if (same_syms(it->syms, it->nsyms, g->keys[k].syms, g->keys[k].nsyms)) {
                        bits |= (uint64_t)1 << k;
                        break;
                    }
            }
    return bits;
}

/* The first 8 bytes of a text, zero-padded: texts of equal length and
 * head differ only after byte 8. Most keys are EventIDs of 4 digits: the
 * compare of each candidate's texts was a memcmp call per text (~1% of
 * an EVTX hunt with all SigmaHQ rules); now one integer compare. */
static uint64_t head_of(const char *s, size_t n)
{
    uint64_t h = 0;
    memcpy(&h, s, n < 8 ? n : 8);
    return h;
}

/* Appends rule r's gate on key k: the set x. */
static int add_gate(sg_gates *g, uint32_t k, vset x)
{
    if (g->ngates == g->capgates &&
        ks__grow(&g->gates, &g->capgates, g->ngates, sizeof *g->gates, 256) != KS_OK)
        return KS_ENOMEM;
    if (g->ntxt + x.cnt > g->captxt) {
        size_t nc = KS_MAX(g->captxt * 2, g->ntxt + x.cnt + 256);
        const char **t = realloc(g->txt, nc * sizeof *t);
        if (t)
            g->txt = t;
        uint32_t *l = t ? realloc(g->len, nc * sizeof *l) : NULL;
        if (l)
            g->len = l;
        uint64_t *h = l ? realloc(g->head, nc * sizeof *h) : NULL;
        if (!t || !l || !h)
            return KS_ENOMEM;
        g->head = h;
        g->captxt = nc;
    }
    g->gates[g->ngates++] = (gate){k, (uint32_t)g->ntxt, x.cnt};
    for (uint32_t i = 0; i < x.cnt; i++) {
        g->txt[g->ntxt] = x.s[i], g->len[g->ntxt] = x.n[i];
        g->head[g->ntxt++] = head_of(x.s[i], x.n[i]);
    }
    return KS_OK;
}

int sg__gates_build(sg_rule *const *run, size_t nrun, sg_gates **out)
{
    sg_gates *g = calloc(1, sizeof *g);
    /* the sets while they are derived; the texts are the rules' patterns */
    ks_arena *a = ks__arena_new(64 << 10, 0);
    *out = NULL;
    if (!g || !a || pick_keys(run, nrun, g) != KS_OK || !(g->first = calloc(nrun + 1, sizeof *g->first)))
        goto fail;
    for (size_t r = 0; r < nrun; r++) {
        uint64_t keys = rule_keys(run[r], g);
        g->first[r] = (uint32_t)g->ngates;
        for (uint32_t k = 0; k < g->nkeys; k++) {
            if (!(keys >> k & 1))
                continue; /* no item of it compares key k */
            ks__arena_reset(a); /* the last set is copied */
            vset x = cond_set(a, run[r], run[r]->cond, &g->keys[k], 0);
            if (x.s && add_gate(g, k, x) != KS_OK)
                goto fail;
        }
    }
    g->first[nrun] = (uint32_t)g->ngates;
    ks__arena_free(a);
    if (!g->ngates) {
        sg__gates_free(g);
        return KS_OK; /* nothing to gate on */
    }
    *out = g;
    return KS_OK;
fail:
    ks__arena_free(a);
    sg__gates_free(g);
    return KS_ENOMEM;
}

void sg__gates_free(sg_gates *g)
{
    if (!g)
        return;
    ks__map_free(g->votes);
    free(g->first);
    free(g->gates);
    free(g->txt);
    free(g->len);
    free(g->head);
    free(g);
}

void sg__gates_event(sg_gate_key *k)
{
    for (uint32_t i = 0; i < SG_GATE_KEYS; i++)
        k->state[i] = SG_GATE_UNSEEN;
}

/* Key i of the event, looked up as its items look it up. */
static void key_of(const sg_gates *g, uint32_t i, sg_scratch *sc, sg_gate_key *k)
{
    ks_sym found = 0;
    const char *s;
    size_t n;
    const ks_value *x = sg__lookup_sym(sc, g->keys[i].syms, g->keys[i].nsyms, &found);
    k->state[i] = SG_GATE_OPEN;
    if (!x)
        k->state[i] = SG_GATE_ABSENT;
    else if (!sg__repeated(sc, found) && sg__value_text(x, sc, &s, &n) && n <= sizeof k->text[i]) {
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)s[j];
            k->text[i][j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        k->n[i] = (uint8_t)n;
        k->head[i] = head_of(k->text[i], n);
        k->state[i] = SG_GATE_TEXT;
    }
}

bool sg__gate_pass(const sg_gates *g, uint32_t rule, sg_scratch *sc, sg_gate_key *k)
{
    if (!g)
        return true;
    for (uint32_t q = g->first[rule]; q < g->first[rule + 1]; q++) {
        const gate *t = &g->gates[q];
        if (k->state[t->key] == SG_GATE_UNSEEN)
            key_of(g, t->key, sc, k);
        if (k->state[t->key] == SG_GATE_ABSENT)
            return false; /* a plain equality needs its field */
        if (k->state[t->key] != SG_GATE_TEXT)
            continue;
        uint32_t i = t->off, end = t->off + t->cnt, n = k->n[t->key];
        uint64_t head = k->head[t->key];
        while (i < end && !(g->head[i] == head && g->len[i] == n &&
                            (n <= 8 || memcmp(g->txt[i] + 8, k->text[t->key] + 8, n - 8) == 0)))
            i++;
        if (i == end)
            return false;
    }
    return true;
}
