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
    for (size_t i = 0; i < SG_LAYOUTS; i++) {
        free(sc->lays[i].names);
        free(sc->lays[i].sym);
        free(sc->lays[i].at);
    }
    free(sc->low_key);
    free(sc->low_off);
    free(sc->low_len);
    free(sc->low_gen);
    ks__buf_release(&sc->low);
    memset(sc, 0, sizeof *sc);
}

static inline uint32_t slot_of(ks_sym s, uint32_t mask)
{
    return (s * 2654435761u) & mask;
}

/* Puts field position i into l's index under s unless s is there:
 * false if it was. */
static bool index_put(sg_layout *l, ks_sym s, uint32_t i)
{
    uint32_t mask = l->icap - 1, h = slot_of(s, mask);
    while (l->sym[h]) {
        if (l->sym[h] == s)
            return false;
        h = (h + 1) & mask;
    }
    l->sym[h] = s;
    l->at[h] = i;
    return true;
}

/* Windows UserData payloads nest the fields under an element named per
 * event type (Event.UserData.Operation_ClientFailure.Operation). Rules name
 * the bare field, so such fields are also indexed as Event.UserData.<last>
 * when a rule ever asked for that path (the symbol exists). */
static void userdata_aliases(sg_layout *l, const ks_event *ev, size_t used)
{
    static const char pre[] = "Event.UserData.";
    const size_t pl = sizeof pre - 1;
    if (!ev->syms)
        return;
    for (size_t i = 0; i < ev->n && used * 4 < (size_t)l->icap * 3; i++) {
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
        if (s && index_put(l, s, (uint32_t)i))
            used++;
    }
}

/* Canonical names of the field schema (a mapping's "event.code") are
 * indexed as the event's best alternate, when some rule or mapping uses
 * the name (its symbol exists: looked up once per worker); unless the
 * event has the canonical name itself. */
static void canonical_fields(sg_scratch *sc, sg_layout *l, const ks_event *ev)
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
    for (int f = 0; f < KS_F_COUNT; f++)
        if (sc->canon_sym[f] && l->canon[f])
            index_put(l, sc->canon_sym[f], l->canon[f] - 1);
}

static uint64_t names_hash(const ks_event *ev)
{
    uint64_t h = ev->n * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < ev->n; i++)
        h = (h ^ ev->fields[i].name) * 0x100000001B3ull;
    return (h ^ h >> 29) | 1; /* 0 marks an unused slot */
}

/* Whether l indexes ev: what decides an index's contents is the names in
 * order (first occurrences, repeats, UserData aliases: an alias whose
 * symbol appears later is one no rule asks for, rules' names exist from
 * load on), the canonical fields and the symbol table. Positions, not
 * pointers, are kept: the fields array may move between events. */
static bool layout_is(const sg_layout *l, const ks_event *ev, uint64_t h, const uint32_t *canon)
{
    if (l->hash != h || l->n != ev->n || l->syms != (const void *)ev->syms ||
        memcmp(l->canon, canon, sizeof l->canon) != 0)
        return false;
    for (size_t i = 0; i < ev->n; i++)
        if (l->names[i] != ev->fields[i].name)
            return false;
    return true;
}

/* Builds ev's index into l; false on OOM (l left unused). */
static bool layout_build(sg_scratch *sc, sg_layout *l, const ks_event *ev, uint64_t h,
                         const uint32_t *canon)
{
    size_t n = ev->n;
    uint32_t need = 64;
    while (need < n * 2)
        need <<= 1;
    l->hash = 0;
    if (need > l->icap) {
        ks_sym *s = calloc(need, sizeof *s);
        uint32_t *at = malloc(need * sizeof *at);
        if (!s || !at) {
            free(s), free(at);
            return false;
        }
        free(l->sym), free(l->at);
        l->sym = s;
        l->at = at;
        l->icap = need;
    } else {
        memset(l->sym, 0, l->icap * sizeof *l->sym);
    }
    if (ks__grow(&l->names, &l->cap, n, sizeof *l->names, 64) != KS_OK)
        return false;
    l->ndups = 0;
    l->dups_overflow = false;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        ks_sym s = ev->fields[i].name;
        l->names[i] = s;
        if (index_put(l, s, (uint32_t)i)) {
            used++;
            continue;
        }
        /* repeated name: the index keeps the first, matching looks at all */
        bool known = false;
        for (uint32_t d = 0; d < l->ndups && !known; d++)
            known = l->dups[d] == s;
        if (!known) {
            if (l->ndups < KS_ARRAY_LEN(l->dups))
                l->dups[l->ndups++] = s;
            else
                l->dups_overflow = true;
        }
    }
    memcpy(l->canon, canon, sizeof l->canon);
    userdata_aliases(l, ev, used);
    canonical_fields(sc, l, ev);
    l->n = n;
    l->syms = ev->syms;
    l->build = ++sc->idx_build;
    l->hash = h;
    return true;
}

/* The index of ev's layout: a kept one, else the least recently used
 * slot rebuilt. NULL when the event is too large to index (lookups scan). */
static const sg_layout *layout_of(sg_scratch *sc, const ks_event *ev)
{
    if (ev->n > (1u << 17))
        return NULL;
    uint32_t canon[KS_F_COUNT];
    ks__event_canon(ev, canon);
    uint64_t h = names_hash(ev);
    uint32_t old = 0;
    for (uint32_t i = 0; i < SG_LAYOUTS; i++) {
        sg_layout *l = &sc->lays[i];
        if (layout_is(l, ev, h, canon)) {
            l->last = sc->tick;
            sc->lay_slot = i;
            return l;
        }
        if (l->last < sc->lays[old].last)
            old = i;
    }
    sg_layout *l = &sc->lays[old];
    if (!layout_build(sc, l, ev, h, canon))
        return NULL;
    l->last = sc->tick;
    sc->lay_slot = old;
    return l;
}

void sg__scratch_event(sg_scratch *sc, const ks_event *ev)
{
    sc->ev = ev;
    sc->tick++;
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
    sc->lay = layout_of(sc, ev);
}

const ks_value *sg__lookup_sym(sg_scratch *sc, const ks_sym *syms, uint32_t n, ks_sym *found)
{
    const sg_layout *l = sc->lay;
    if (!l) {
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
    uint32_t mask = l->icap - 1;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t h = slot_of(syms[k], mask);
        while (l->sym[h]) {
            if (l->sym[h] == syms[k]) {
                *found = syms[k];
                return &sc->ev->fields[l->at[h]].v;
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
    const sg_layout *l = sc->lay;
    if (!l || l->dups_overflow) /* not indexed: repeats unknown */
        return true;
    for (uint32_t d = 0; d < l->ndups; d++)
        if (l->dups[d] == s)
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
    if (x && (!sc->lay || sc->lay->ndups || sc->lay->dups_overflow) && sg__repeated(sc, found))
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
