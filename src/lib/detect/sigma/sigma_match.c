/* SPDX-License-Identifier: Apache-2.0
 *
 * Evaluating compiled Sigma rules against one event.
 *
 * Each event is first indexed (field symbol -> value, first occurrence
 * wins) in the worker's scratch so a field lookup is one hash probe, not a
 * scan. A rule then evaluates its logsource condition (cached per event:
 * hundreds of rules share a handful of logsources), its condition tree with
 * lazily computed, memoised search results, and the filters attached to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sigma_int.h"

#define LOW_MAX ((size_t)4 << 20) /* lowered text cached per event */

int sg__scratch_init(sg_scratch *sc, const sg_ruleset *rs)
{
    memset(sc, 0, sizeof *sc);
    sc->md = pcre2_match_data_create(1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    if (sc->mctx) {
        pcre2_set_match_limit(sc->mctx, 1000000);
        pcre2_set_depth_limit(sc->mctx, 10000);
    }
    sc->search_res = malloc((size_t)rs->max_searches + 1);
    sc->nls = rs->nlsrcs;
    sc->ls_res = malloc(sc->nls + 1);
    sc->low_cap = 512;
    sc->low_key = calloc(sc->low_cap, sizeof *sc->low_key);
    sc->low_off = calloc(sc->low_cap, sizeof *sc->low_off);
    sc->low_len = calloc(sc->low_cap, sizeof *sc->low_len);
    sc->low_gen = calloc(sc->low_cap, sizeof *sc->low_gen);
    sc->low.limit = LOW_MAX + 64;
    if (!sc->md || !sc->mctx || !sc->search_res || !sc->ls_res || !sc->low_key || !sc->low_off ||
        !sc->low_len || !sc->low_gen) {
        sg__scratch_release(sc);
        return KS_ENOMEM;
    }
    return KS_OK;
}

void sg__scratch_release(sg_scratch *sc)
{
    if (sc->md)
        pcre2_match_data_free(sc->md);
    if (sc->mctx)
        pcre2_match_context_free(sc->mctx);
    free(sc->search_res);
    free(sc->ls_res);
    free(sc->idx_gen);
    free(sc->idx_val);
    free(sc->idx_sym);
    free(sc->low_key);
    free(sc->low_off);
    free(sc->low_len);
    free(sc->low_gen);
    free(sc->lay_names);
    ks__buf_release(&sc->low);
    memset(sc, 0, sizeof *sc);
}

static inline uint32_t slot_of(ks_sym s, uint32_t mask)
{
    return (s * 2654435761u) & mask;
}

/* Windows UserData payloads nest the fields under an element named per
 * event type (Event.UserData.Operation_ClientFailure.Operation). Rules name
 * the bare field, so such fields are also indexed as Event.UserData.<last>
 * when a rule ever asked for that path (the symbol exists). */
static void userdata_aliases(sg_scratch *sc, const ks_event *ev, uint32_t mask, size_t used)
{
    static const char pre[] = "Event.UserData.";
    const size_t pl = sizeof pre - 1;
    if (!ev->syms)
        return;
    for (size_t i = 0; i < ev->n && used * 4 < (size_t)sc->idx_cap * 3; i++) {
        size_t len;
        const char *name = ks_symtab_str(ev->syms, ev->fields[i].name, &len);
        if (!name || len <= pl || memcmp(name, pre, pl) != 0)
            continue;
        const char *dot = memchr(name + pl, '.', len - pl);
        if (!dot)
            continue;
        const char *last = name + len;
        while (last > dot + 1 && last[-1] != '.')
            last--;
        char buf[256];
        size_t ln = (size_t)(name + len - last);
        if (pl + ln >= sizeof buf)
            continue;
        memcpy(buf, pre, pl);
        memcpy(buf + pl, last, ln);
        ks_sym s = ks_symtab_find(ev->syms, buf, pl + ln);
        if (!s)
            continue;
        uint32_t h = slot_of(s, mask);
        while (sc->idx_gen[h] == sc->gen && sc->idx_sym[h] != s)
            h = (h + 1) & mask;
        if (sc->idx_gen[h] == sc->gen)
            continue;
        sc->idx_gen[h] = sc->gen;
        sc->idx_sym[h] = s;
        sc->idx_val[h] = &ev->fields[i].v;
        used++;
    }
}

/* Canonical names of the field schema (a mapping's "event.code") are
 * indexed as the event's best alternate, when some rule or mapping uses
 * the name (its symbol exists: looked up once per worker). */
static void canonical_fields(sg_scratch *sc, const ks_event *ev, uint32_t mask, const uint32_t *canon)
{
    bool any = false;
    if (!ev->syms)
        return;
    if (!sc->canon_init) {
        for (int f = 0; f < KS_F_COUNT; f++)
            sc->canon_sym[f] = ks_symtab_find(ev->syms, ks__field_name(f), strlen(ks__field_name(f)));
        sc->canon_init = true;
    }
    for (int f = 0; f < KS_F_COUNT && !any; f++)
        any = sc->canon_sym[f] != 0;
    if (!any)
        return;
    for (int f = 0; f < KS_F_COUNT; f++) {
        ks_sym s = sc->canon_sym[f];
        if (!s || !canon[f])
            continue;
        uint32_t h = slot_of(s, mask);
        while (sc->idx_gen[h] == sc->gen && sc->idx_sym[h] != s)
            h = (h + 1) & mask;
        if (sc->idx_gen[h] == sc->gen)
            continue; /* the event has the canonical name itself */
        sc->idx_gen[h] = sc->gen;
        sc->idx_sym[h] = s;
        sc->idx_val[h] = &ev->fields[canon[f] - 1].v;
    }
}

/* Whether ev has the layout the index was built for: what decides its
 * contents is the fields array (the index points into it), the names in
 * order (first occurrences, repeats, UserData aliases: an alias whose
 * symbol appears later is one no rule asks for, rules' names exist from
 * load on), the canonical fields and the symbol table. */
static bool same_layout(const sg_scratch *sc, const ks_event *ev, const uint32_t *canon)
{
    if (!sc->lay_ok || sc->lay_fields != ev->fields || sc->lay_n != ev->n ||
        ev->n > sc->idx_cap / 2 || /* not indexed whole: lookups scan */
        sc->lay_syms != (const void *)ev->syms ||
        memcmp(sc->lay_canon, canon, sizeof sc->lay_canon) != 0)
        return false;
    for (size_t i = 0; i < ev->n; i++)
        if (sc->lay_names[i] != ev->fields[i].name)
            return false;
    return true;
}

static void remember_layout(sg_scratch *sc, const ks_event *ev, const uint32_t *canon)
{
    sc->lay_ok = false;
    if (ks__grow(&sc->lay_names, &sc->lay_cap, ev->n, sizeof *sc->lay_names, 64) != KS_OK)
        return; /* rebuilt per event */
    for (size_t i = 0; i < ev->n; i++)
        sc->lay_names[i] = ev->fields[i].name;
    sc->lay_fields = ev->fields;
    sc->lay_n = ev->n;
    sc->lay_syms = ev->syms;
    memcpy(sc->lay_canon, canon, sizeof sc->lay_canon);
    sc->lay_ok = true;
}

void sg__scratch_event(sg_scratch *sc, const ks_event *ev)
{
    size_t n = ev->n;
    uint32_t need = 64;
    while (need < n * 2 && need < (1u << 18))
        need <<= 1;
    sc->ev = ev;
    if (need > sc->idx_cap) {
        uint32_t *g = calloc(need, sizeof *g);
        const ks_value **v = malloc(need * sizeof *v);
        ks_sym *s = malloc(need * sizeof *s);
        if (!g || !v || !s) {
            free(g), free(v), free(s);
        } else {
            free(sc->idx_gen), free(sc->idx_val), free(sc->idx_sym);
            sc->idx_gen = g;
            sc->idx_val = v;
            sc->idx_sym = s;
            sc->idx_cap = need;
            sc->gen = 0;
            sc->lay_ok = false;
            memset(sc->low_gen, 0, sc->low_cap * sizeof *sc->low_gen);
        }
    }
    if (++sc->egen == 0) { /* wrapped: clear stamps */
        memset(sc->low_gen, 0, sc->low_cap * sizeof *sc->low_gen);
        sc->egen = 1;
    }
    if (sc->ls_res)
        memset(sc->ls_res, -1, sc->nls);
    ks__buf_reset(&sc->low);
    sc->low_used = 0;
    sc->hits_ok = false;
    sc->text = NULL;
    sc->text_plus = false;
    if (!sc->idx_cap) {
        sc->ndups = 0;
        sc->dups_overflow = true;
        sc->lay_ok = false;
        return; /* lookups fall back to scanning */
    }
    uint32_t canon[KS_F_COUNT];
    ks__event_canon(ev, canon);
    if (same_layout(sc, ev, canon))
        return; /* the index, dups and aliases of the last event hold */
    sc->idx_build++;
    if (++sc->gen == 0) { /* wrapped: clear stamps */
        memset(sc->idx_gen, 0, sc->idx_cap * sizeof *sc->idx_gen);
        sc->gen = 1;
    }
    sc->ndups = 0;
    sc->dups_overflow = false;
    uint32_t mask = sc->idx_cap - 1;
    size_t lim = KS_MIN(n, (size_t)sc->idx_cap / 2), used = 0;
    for (size_t i = 0; i < lim; i++) {
        ks_sym s = ev->fields[i].name;
        uint32_t h = slot_of(s, mask);
        while (sc->idx_gen[h] == sc->gen) {
            if (sc->idx_sym[h] == s)
                break;
            h = (h + 1) & mask;
        }
        if (sc->idx_gen[h] == sc->gen) {
            /* repeated name: the index keeps the first, matching looks at all */
            bool known = false;
            for (uint32_t d = 0; d < sc->ndups && !known; d++)
                known = sc->dups[d] == s;
            if (!known) {
                if (sc->ndups < KS_ARRAY_LEN(sc->dups))
                    sc->dups[sc->ndups++] = s;
                else
                    sc->dups_overflow = true;
            }
            continue;
        }
        sc->idx_gen[h] = sc->gen;
        sc->idx_sym[h] = s;
        sc->idx_val[h] = &ev->fields[i].v;
        used++;
    }
    userdata_aliases(sc, ev, mask, used);
    canonical_fields(sc, ev, mask, canon);
    remember_layout(sc, ev, canon);
}

const ks_value *sg__lookup_sym(sg_scratch *sc, const ks_sym *syms, uint32_t n, ks_sym *found)
{
    if (!sc->idx_cap || sc->ev->n > sc->idx_cap / 2) {
        sc->dups_overflow = true; /* not indexed: repeats unknown */
        for (uint32_t k = 0; k < n; k++) {
            for (size_t i = 0; i < sc->ev->n; i++)
                if (sc->ev->fields[i].name == syms[k]) {
                    *found = syms[k];
                    return &sc->ev->fields[i].v;
                }
            int f = ks__field_of_sym(sc->ev->syms, syms[k]); /* a schema name */
            const ks_value *v = f >= 0 ? ks__field(sc->ev, f) : NULL;
            if (v) {
                *found = syms[k];
                return v;
            }
        }
        return NULL;
    }
    uint32_t mask = sc->idx_cap - 1;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t h = slot_of(syms[k], mask);
        while (sc->idx_gen[h] == sc->gen) {
            if (sc->idx_sym[h] == syms[k]) {
                *found = syms[k];
                return sc->idx_val[h];
            }
            h = (h + 1) & mask;
        }
    }
    return NULL;
}

const ks_value *sg__lookup(sg_scratch *sc, const ks_sym *syms, uint32_t n)
{
    ks_sym found;
    return sg__lookup_sym(sc, syms, n, &found);
}

bool sg__repeated(const sg_scratch *sc, ks_sym s)
{
    if (sc->dups_overflow)
        return true;
    for (uint32_t d = 0; d < sc->ndups; d++)
        if (sc->dups[d] == s)
            return true;
    return false;
}

/* A field that occurs several times: a value matches if any occurrence does
 * (|all: every value matches some occurrence). */
static bool item_eval_repeated(const sg_item *it, ks_sym s, const ks_event *ev, sg_scratch *sc)
{
    for (uint32_t i = 0; i < it->nvals; i++) {
        const sg_val *v = &it->vals[i];
        bool m = false;
        for (size_t f = 0; f < ev->n && !m; f++)
            if (ev->fields[f].name == s)
                m = v->match(v, &ev->fields[f].v, ev, sc);
        if (it->all ? !m : m)
            return m;
    }
    return it->all && it->nvals > 0;
}

bool sg__value_text(const ks_value *v, sg_scratch *sc, const char **p, size_t *n)
{
    switch (v->type) {
    case KS_VSTR:
    case KS_VBIN:
        *p = v->u.s.p;
        *n = v->u.s.n;
        return true;
    case KS_VINT:
        *n = ks__fmt_i64(sc->num, v->u.i);
        break;
    case KS_VUINT:
        if (v->u.u <= (uint64_t)INT64_MAX)
            *n = ks__fmt_i64(sc->num, (int64_t)v->u.u);
        else
            *n = (size_t)snprintf(sc->num, sizeof sc->num, "%llu", (unsigned long long)v->u.u);
        break;
    case KS_VBOOL:
        *n = (size_t)snprintf(sc->num, sizeof sc->num, "%s", v->u.b ? "true" : "false");
        break;
    case KS_VFLOAT:
        *n = (size_t)snprintf(sc->num, sizeof sc->num, "%.17g", v->u.f);
        break;
    case KS_VTIME:
        *n = ks_time_format(v->u.t, sc->num, sizeof sc->num);
        break;
    default:
        return false;
    }
    if (*n >= sizeof sc->num)
        *n = sizeof sc->num - 1;
    *p = sc->num;
    return true;
}

bool sg__value_lower(const ks_value *v, sg_scratch *sc, const char **p, size_t *n)
{
    uint32_t mask = sc->low_cap - 1;
    uint32_t h = (uint32_t)(((uintptr_t)v >> 4) * 2654435761u) & mask;
    while (sc->low_gen[h] == sc->egen) {
        if (sc->low_key[h] == v) {
            *p = sc->low.p + sc->low_off[h];
            *n = sc->low_len[h];
            return true;
        }
        h = (h + 1) & mask;
    }
    const char *s;
    size_t len;
    if (sc->low_used * 2 >= sc->low_cap || !sg__value_text(v, sc, &s, &len) ||
        sc->low.n + len + 1 > LOW_MAX || ks__buf_grow(&sc->low, len + 1) != KS_OK)
        return false;
    size_t off = sc->low.n;
    char *d = sc->low.p + off;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        d[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    sc->low.n += len;
    sc->low.p[sc->low.n] = 0;
    sc->low_gen[h] = sc->egen;
    sc->low_key[h] = v;
    sc->low_off[h] = (uint32_t)off;
    sc->low_len[h] = (uint32_t)len;
    sc->low_used++;
    *p = sc->low.p + off;
    *n = len;
    return true;
}

/* Whether a keyword value may match some field: one of its patterns' longest
 * literal run occurs (in any case) in the event's text, which holds every
 * value. One search of the text instead of matching every field: a GET
 * request met the ten SSTI keywords of SigmaHQ's webserver rule in each of
 * its ~20 values (10% of an IIS hunt). When the text is a raw record with
 * '+' for the values' spaces (text_plus), a run with a space is looked for
 * with '+' there too (the reason is at sigma_pre.c's plus_variants). */
static bool keyword_maybe(const sg_val *v, const sg_scratch *sc)
{
    if (!sc->text || !sg__val_is_string(v))
        return true;
    const uint64_t *hits = sc->hits_ok ? sc->hits : NULL;
    for (uint32_t i = 0; i < v->npats; i++) {
        const char *r;
        size_t rn;
        uint32_t nd = v->pats[i].needle;
        /* the pattern's needle is this same run: the prefilter's scan of
         * this text did not see it (SSTI's ten keywords, on every GET) */
        if (hits && nd && !(hits[(nd - 1) >> 6] >> ((nd - 1) & 63) & 1))
            continue;
        sg__pat_run(&v->pats[i], &r, &rn);
        if (!rn || ks__memmem_ci(sc->text, sc->textn, r, rn))
            return true;
        if (sc->text_plus && memchr(r, ' ', rn)) {
            char plus[256];
            if (rn > sizeof plus)
                return true;
            for (size_t k = 0; k < rn; k++)
                plus[k] = r[k] == ' ' ? '+' : r[k];
            if (ks__memmem_ci(sc->text, sc->textn, plus, rn))
                return true;
        }
    }
    return false;
}

/* Keyword values are searched in every field of the event. */
static bool keyword_val(const sg_val *v, const ks_event *ev, sg_scratch *sc)
{
    if (!keyword_maybe(v, sc))
        return false;
    for (size_t i = 0; i < ev->n; i++) {
        const ks_value *x = &ev->fields[i].v;
        if (x->type != KS_VSTR)
            continue;
        if (v->match(v, x, ev, sc))
            return true;
    }
    return false;
}

static bool item_eval(const sg_item *it, const ks_event *ev, sg_scratch *sc)
{
    if (!it->field) {
        for (uint32_t i = 0; i < it->nvals; i++) {
            bool m = keyword_val(&it->vals[i], ev, sc);
            if (it->all ? !m : m)
                return m;
        }
        return it->all && it->nvals > 0;
    }
    ks_sym found = 0;
    const ks_value *x = sg__lookup_sym(sc, it->syms, it->nsyms, &found);
    if (!x && !it->missing_ok)
        return false;
    if (x && (sc->ndups || sc->dups_overflow) && sg__repeated(sc, found))
        return item_eval_repeated(it, found, ev, sc);
    for (uint32_t i = 0; i < it->nvals; i++) {
        const sg_val *v = &it->vals[i];
        bool m = (x || v->wants_missing) && v->match(v, x, ev, sc);
        if (it->all ? !m : m)
            return m;
    }
    return it->all && it->nvals > 0;
}

bool sg__search_eval(const sg_search *s, const ks_event *ev, sg_scratch *sc)
{
    for (uint32_t g = 0; g < s->n; g++) {
        const sg_group *gr = &s->groups[g];
        uint32_t i;
        for (i = 0; i < gr->n; i++)
            if (!item_eval(&gr->items[i], ev, sc))
                break;
        if (i == gr->n)
            return true;
    }
    return false;
}

static bool search_cached(const sg_rule *r, uint32_t i, const ks_event *ev, sg_scratch *sc)
{
    if (sc->search_res[i] < 0)
        sc->search_res[i] = sg__search_eval(&r->searches[i], ev, sc);
    return sc->search_res[i] > 0;
}

static bool cond_eval(const sg_rule *r, const sg_cond *c, const ks_event *ev, sg_scratch *sc)
{
    switch (c->op) {
    case SG_C_REF:
        return search_cached(r, c->ref, ev, sc);
    case SG_C_AND:
        return cond_eval(r, c->a, ev, sc) && cond_eval(r, c->b, ev, sc);
    case SG_C_OR:
        return cond_eval(r, c->a, ev, sc) || cond_eval(r, c->b, ev, sc);
    case SG_C_NOT:
        return !cond_eval(r, c->a, ev, sc);
    case SG_C_ANY: {
        uint32_t hits = 0;
        for (uint32_t i = 0; i < c->nrefs; i++)
            if (search_cached(r, c->refs[i], ev, sc) && ++hits >= c->ref)
                return true;
        return false;
    }
    case SG_C_ALL:
        for (uint32_t i = 0; i < c->nrefs; i++)
            if (!search_cached(r, c->refs[i], ev, sc))
                return false;
        return true;
    default:
        return true;
    }
}

static bool cond_of(const sg_rule *r, const ks_event *ev, sg_scratch *sc)
{
    memset(sc->search_res, -1, r->nsearches ? r->nsearches : 1);
    return r->cond && cond_eval(r, r->cond, ev, sc);
}

bool sg__rule_eval(const sg_rule *r, const ks_event *ev, sg_scratch *sc)
{
    const sg_lsrc *ls = r->ls;
    if (ls && ls->has_cond) {
        int8_t *c = ls->idx < sc->nls ? &sc->ls_res[ls->idx] : NULL;
        if (!c || *c < 0) {
            bool m = sg__search_eval(&ls->cond, ev, sc);
            if (!c)
                return m && cond_of(r, ev, sc);
            *c = m;
        }
        if (!*c)
            return false;
    }
    if (!cond_of(r, ev, sc))
        return false;
    for (uint32_t i = 0; i < r->nfilters; i++)
        if (!cond_of(r->filters[i], ev, sc))
            return false;
    return true;
}
