/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma correlation rules (specification v2.1.0): event_count, value_count,
 * temporal, temporal_ordered, value_sum, value_avg and value_percentile,
 * with group-by, aliases, sliding timespans, conditions and generate.
 *
 * Events arrive unordered across files and worker threads, so matching
 * only records compact sg_rec entries (time, group key, value, provenance);
 * finish() merges every worker's records, sorts them by correlation, group
 * and event time, and slides a window of `timespan` over each group: the
 * window starts at every record in turn (not at fixed bucket edges), so a
 * burst straddling an hour boundary is still one window. One finding per
 * group, for its strongest window.
 *
 * value_percentile: for each window, the share (in percent) of the rarest
 * value of the field among the group's events; the condition applies to
 * that share (e.g. lte: 1 = some value makes up at most 1%).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sigma_corr.h"

#define MAX_EVIDENCE 10
#define MAX_LISTED 20
#define ORDERED_SCAN_CAP 100000


/* ---- parsing -------------------------------------------------------------------- */

static const struct {
    const char *name;
    int type;
} types[] = {
    {"event_count", SG_CT_EVENT_COUNT},       {"value_count", SG_CT_VALUE_COUNT},
    {"temporal", SG_CT_TEMPORAL},             {"temporal_ordered", SG_CT_TEMPORAL_ORDERED},
    {"value_sum", SG_CT_VALUE_SUM},           {"value_avg", SG_CT_VALUE_AVG},
    {"value_percentile", SG_CT_VALUE_PERCENTILE},
};

static const char *const cond_ops[] = {NULL, "gt", "gte", "lt", "lte", "eq", "neq"};

static int bad(sg_ctx *c, const char *msg, const char *arg)
{
    snprintf(c->err, sizeof c->err, "%s%s%.80s", msg, arg ? " " : "", arg ? arg : "");
    c->fail = SG_FAIL_CORRELATION;
    return KS_ERULE;
}

static int parse_span(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    int64_t mul;
    if (end == s || v <= 0)
        return KS_EFORMAT;
    switch (*end) {
    case 's': mul = 1000000000LL; break;
    case 'm': mul = 60LL * 1000000000LL; break;
    case 'h': mul = 3600LL * 1000000000LL; break;
    case 'd': mul = 86400LL * 1000000000LL; break;
    case 'w': mul = 7 * 86400LL * 1000000000LL; break;
    case 'M': mul = 30 * 86400LL * 1000000000LL; break;
    case 'y': mul = 365 * 86400LL * 1000000000LL; break;
    default: return KS_EFORMAT;
    }
    if (end[1] || v > 1e4 * 365)
        return KS_EFORMAT;
    *out = (int64_t)(v * (double)mul);
    return KS_OK;
}

int sg__corr_parse(sg_ctx *c, sg_rule *r, const sg_yaml *y)
{
    sg_ruleset *rs = c->rs;
    sg_corr *k = ks__arena_alloc(rs->arena, sizeof *k);
    if (!k)
        return KS_ENOMEM;
    memset(k, 0, sizeof *k);
    k->rule = r;
    r->corr = k;
    if (y->type != SG_Y_MAP)
        return bad(c, "correlation must be a map", NULL);
    const char *type = sg__yaml_str(y, "type");
    for (size_t i = 0; type && i < KS_ARRAY_LEN(types); i++)
        if (strcmp(type, types[i].name) == 0)
            k->type = types[i].type;
    if (!k->type)
        return bad(c, "unknown correlation type", type ? type : "(none)");
    const sg_yaml *rules = sg__yaml_get(y, "rules");
    size_t n = rules ? (rules->type == SG_Y_SEQ ? rules->nkids : 1) : 0;
    k->refs = ks__arena_alloc(rs->arena, (n + 1) * sizeof *k->refs);
    if (!k->refs)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const sg_yaml *e = rules->type == SG_Y_SEQ ? rules->kids[i] : rules;
        if (e->type == SG_Y_SCALAR)
            k->refs[k->nrefs++] = e->s;
    }
    if (!k->nrefs)
        return bad(c, "correlation names no rules", NULL);
    const sg_yaml *gb = sg__yaml_get(y, "group-by");
    n = gb ? (gb->type == SG_Y_SEQ ? gb->nkids : 1) : 0;
    k->group_by = ks__arena_alloc(rs->arena, (n + 1) * sizeof *k->group_by);
    if (!k->group_by)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const sg_yaml *e = gb->type == SG_Y_SEQ ? gb->kids[i] : gb;
        if (e->type == SG_Y_SCALAR)
            k->group_by[k->ngroup++] = e->s;
    }
    const char *span = sg__yaml_str(y, "timespan");
    if (!span)
        span = sg__yaml_str(y, "timeframe");
    if (!span || parse_span(span, &k->span) != KS_OK)
        return bad(c, "missing or bad timespan", span);
    k->aliases = sg__yaml_get(y, "aliases");
    const char *gen = sg__yaml_str(y, "generate");
    k->generate = gen && (strcmp(gen, "true") == 0 || strcmp(gen, "yes") == 0);
    const sg_yaml *cond = sg__yaml_get(y, "condition");
    if (cond && cond->type == SG_Y_MAP) {
        for (size_t i = 0; i + 1 < cond->nkids; i += 2) {
            const char *key = cond->kids[i]->s;
            const sg_yaml *v = cond->kids[i + 1];
            if (strcmp(key, "field") == 0) {
                if (v->type == SG_Y_SCALAR)
                    k->field = v->s;
                else if (v->type == SG_Y_SEQ && v->nkids && v->kids[0]->type == SG_Y_SCALAR)
                    k->field = v->kids[0]->s;
                continue;
            }
            int op = 0;
            for (int o = 1; o < (int)KS_ARRAY_LEN(cond_ops); o++)
                if (strcmp(key, cond_ops[o]) == 0)
                    op = o;
            char *end;
            double d = v->type == SG_Y_SCALAR ? strtod(v->s, &end) : NAN;
            if (!op || v->type != SG_Y_SCALAR || end == v->s || *end || k->nconds == 6)
                return bad(c, "bad condition operator or value", key);
            k->conds[k->nconds].op = op;
            k->conds[k->nconds++].v = d;
        }
    } else if (cond) {
        return bad(c, "condition must be a map", NULL);
    }
    bool needs_cond = k->type != SG_CT_TEMPORAL && k->type != SG_CT_TEMPORAL_ORDERED;
    if (needs_cond && !k->nconds)
        return bad(c, "correlation needs a condition", NULL);
    if ((k->type == SG_CT_VALUE_COUNT || k->type >= SG_CT_VALUE_SUM) && !k->field)
        return bad(c, "condition needs a field for", type);
    return KS_OK;
}

static const char *alias_field(const sg_corr *k, const sg_rule *base, const char *g)
{
    const sg_yaml *a = sg__yaml_get(k->aliases, g);
    if (a) {
        const char *f = base->name ? sg__yaml_str(a, base->name) : NULL;
        if (!f && base->id)
            f = sg__yaml_str(a, base->id);
        if (f)
            return f;
    }
    return g;
}

static int resolve_one(sg_ruleset *rs, sg_corr *k)
{
    char msg[200];
    k->rules = ks__arena_alloc(rs->arena, k->nrefs * sizeof *k->rules);
    k->gsyms = ks__arena_alloc(rs->arena, k->nrefs * sizeof *k->gsyms);
    k->ngsyms = ks__arena_alloc(rs->arena, k->nrefs * sizeof *k->ngsyms);
    k->fsyms = ks__arena_alloc(rs->arena, k->nrefs * sizeof *k->fsyms);
    k->nfsyms = ks__arena_alloc(rs->arena, k->nrefs * sizeof *k->nfsyms);
    if (!k->rules || !k->gsyms || !k->ngsyms || !k->fsyms || !k->nfsyms)
        return KS_ENOMEM;
    for (size_t i = 0; i < k->nrefs; i++) {
        sg_rule *b = sg__rule_find(rs, k->refs[i]);
        if (!b || (b->kind != SG_R_DETECTION && b->kind != SG_R_CORRELATION) || b->corr == k) {
            snprintf(msg, sizeof msg, "correlation names unknown rule '%.80s'", k->refs[i]);
            if (rs->diag)
                rs->diag(rs->diag_ud, KS_DIAG_ERROR, k->rule->path, k->rule->line,
                         SG_FAIL_REFERENCE, msg);
            return KS_ERULE;
        }
        k->rules[i] = b;
        k->gsyms[i] = NULL;
        k->ngsyms[i] = NULL;
        k->nfsyms[i] = 0;
        if (b->kind == SG_R_CORRELATION)
            continue; /* chained: group values come from the child's groups */
        const sg_fieldmap *fm = b->ls ? b->ls->fm : NULL;
        k->gsyms[i] = ks__arena_alloc(rs->arena, (k->ngroup + 1) * sizeof **k->gsyms);
        k->ngsyms[i] = ks__arena_alloc(rs->arena, (k->ngroup + 1) * sizeof **k->ngsyms);
        if (!k->gsyms[i] || !k->ngsyms[i])
            return KS_ENOMEM;
        for (size_t g = 0; g < k->ngroup; g++) {
            const char *f = alias_field(k, b, k->group_by[g]);
            int rc = sg__map_field(rs, fm, f, strlen(f), &k->gsyms[i][g], &k->ngsyms[i][g]);
            if (rc != KS_OK)
                return rc;
        }
        if (k->field) {
            const char *f = alias_field(k, b, k->field);
            int rc = sg__map_field(rs, fm, f, strlen(f), &k->fsyms[i], &k->nfsyms[i]);
            if (rc != KS_OK)
                return rc;
        }
    }
    return KS_OK;
}

/* Base rules feed their correlations; child correlations know their parents. */
static int link_one(sg_ruleset *rs, sg_corr *k)
{
    for (size_t i = 0; i < k->nrefs; i++) {
        sg_rule *b = k->rules[i];
        if (b->kind == SG_R_CORRELATION) {
            sg_corr *c = b->corr;
            if (sg__link_add(rs->arena, &c->parents, &c->nparents, k) != KS_OK)
                return KS_ENOMEM;
            if (!k->generate)
                c->quiet = true;
            continue;
        }
        bool seen = false;
        for (uint32_t u = 0; u < b->ncorr_uses; u++)
            seen |= b->corr_uses[u] == k;
        if (seen)
            continue;
        if (sg__link_add(rs->arena, &b->corr_uses, &b->ncorr_uses, k) != KS_OK)
            return KS_ENOMEM;
        if (!k->generate)
            b->emit = false;
    }
    return KS_OK;
}

static void disable(sg_ruleset *rs, sg_rule *r)
{
    r->kind = 0; /* disabled: counted as a failed load */
    rs->loaded--;
    rs->failed++;
    rs->fails[SG_FAIL_REFERENCE]++;
}

int sg__corr_resolve(sg_ruleset *rs)
{
    uint32_t idx = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *r = rs->rules[i];
        if (r->kind != SG_R_CORRELATION)
            continue;
        int rc = resolve_one(rs, r->corr);
        if (rc == KS_ENOMEM)
            return rc;
        if (rc != KS_OK)
            disable(rs, r);
    }
    /* levels: a chain's depth; cycles, references to disabled correlations
     * and chains deeper than 8 are refused */
    bool changed = true;
    for (int round = 0; changed && round < 10; round++) {
        changed = false;
        for (size_t i = 0; i < rs->nrules; i++) {
            sg_rule *r = rs->rules[i];
            if (r->kind != SG_R_CORRELATION)
                continue;
            int lvl = 0;
            bool bad = false;
            for (size_t k = 0; k < r->corr->nrefs; k++) {
                sg_rule *b = r->corr->rules[k];
                if (b->kind == SG_R_CORRELATION)
                    lvl = KS_MAX(lvl, b->corr->level + 1);
                else if (b->kind != SG_R_DETECTION)
                    bad = true;
            }
            if (bad || lvl > 8) {
                char msg[160];
                snprintf(msg, sizeof msg, "correlation chain is cyclic, too deep or names a "
                                          "rule that failed to load");
                if (rs->diag)
                    rs->diag(rs->diag_ud, KS_DIAG_ERROR, r->path, r->line, SG_FAIL_REFERENCE, msg);
                disable(rs, r);
                changed = true;
            } else if (lvl != r->corr->level) {
                r->corr->level = lvl;
                changed = true;
            }
        }
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *r = rs->rules[i];
        if (r->kind != SG_R_CORRELATION)
            continue;
        int rc = link_one(rs, r->corr);
        if (rc != KS_OK)
            return rc;
        r->corr->idx = idx++;
    }
    /* a base rule used by a generating correlation still reports */
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *r = rs->rules[i];
        if (r->kind == SG_R_CORRELATION && r->corr->generate)
            for (size_t k = 0; k < r->corr->nrefs; k++)
                if (r->corr->rules[k]->kind == SG_R_DETECTION)
                    r->corr->rules[k]->emit = true;
    }
    return KS_OK;
}

void sg__corr_free(sg_ruleset *rs)
{
    KS_UNUSED(rs); /* everything lives in the ruleset arena */
}

/* ---- records ---------------------------------------------------------------------- */

static uint32_t strs_intern(sg_strs *s, const char *p, size_t n)
{
    uint64_t *slot = ks__map_slot(s->map, p, n, true);
    if (!slot)
        return 0;
    if (*slot)
        return (uint32_t)*slot;
    if (s->bytes + n > s->max_bytes)
        return 0;
    if (s->n + 1 >= s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 256;
        const char **t = realloc(s->text, cap * sizeof *t);
        if (!t)
            return 0;
        s->text = t;
        s->cap = cap;
    }
    if (s->n == 0)
        s->text[s->n++] = NULL; /* id 0 = none */
    s->text[s->n] = ks__map_key(slot); /* the one copy: the map's */
    s->bytes += n + 1;
    *slot = s->n;
    return s->n++;
}

int sg__recs_init(sg_recs *r, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max ? max : 2000000;
    r->strs.max_bytes = (size_t)64 << 20;
    r->strs.map = ks__map_new(1024);
    return r->strs.map ? KS_OK : KS_ENOMEM;
}

void sg__recs_release(sg_recs *r)
{
    free(r->v);
    free(r->strs.text);
    ks__map_free(r->strs.map);
    memset(r, 0, sizeof *r);
}

static sg_rec *recs_push(sg_recs *r)
{
    if (r->n == r->max) {
        r->dropped++;
        return NULL;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        if (cap > r->max)
            cap = r->max;
        sg_rec *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->dropped++;
            return NULL;
        }
        r->v = v;
        r->cap = cap;
    }
    return &r->v[r->n++];
}

int sg__corr_collect(const sg_ruleset *rs, const sg_rule *base, const ks_event *ev,
                     sg_scratch *sc, sg_recs *out)
{
    char key[1024];
    KS_UNUSED(rs);
    for (uint32_t u = 0; u < base->ncorr_uses; u++) {
        const sg_corr *k = base->corr_uses[u];
        uint32_t which = 0;
        if (k->never)
            continue;
        while (which < k->nrefs && k->rules[which] != base)
            which++;
        if (which == k->nrefs)
            continue;
        size_t kn = 0;
        for (size_t g = 0; g < k->ngroup; g++) {
            const ks_value *v = sg__lookup(sc, k->gsyms[which][g], k->ngsyms[which][g]);
            const char *t = "";
            size_t tn = 0;
            if (v && !sg__value_text(v, sc, &t, &tn))
                t = "", tn = 0;
            int w = snprintf(key + kn, sizeof key - kn, "%s%s=%.*s", g ? "\x1f" : "",
                             k->group_by[g], (int)KS_MIN(tn, 300), t);
            if (w < 0 || (size_t)w >= sizeof key - kn)
                break;
            kn += (size_t)w;
        }
        sg_rec *r = recs_push(out);
        if (!r)
            continue;
        memset(r, 0, sizeof *r);
        r->time = ev->time == KS_TIME_NONE ? 0 : ev->time;
        r->corr = k->idx;
        r->which = which;
        r->key = strs_intern(&out->strs, key, kn);
        r->record = ev->prov.record;
        r->line = ev->prov.line;
        r->offset = ev->prov.offset;
        if (ev->prov.path)
            r->path = strs_intern(&out->strs, ev->prov.path, strlen(ev->prov.path));
        if (ev->prov.format)
            r->format = strs_intern(&out->strs, ev->prov.format, strlen(ev->prov.format));
        r->num = NAN;
        if (k->field) {
            const ks_value *v = sg__lookup(sc, k->fsyms[which], k->nfsyms[which]);
            const char *t;
            size_t tn;
            if (v && sg__value_text(v, sc, &t, &tn)) {
                r->val = strs_intern(&out->strs, t, tn);
                char tmp[64];
                if (tn < sizeof tmp) {
                    char *end;
                    memcpy(tmp, t, tn);
                    tmp[tn] = 0;
                    double d = strtod(tmp, &end);
                    if (end != tmp && !*end)
                        r->num = d;
                }
            }
        }
    }
    return KS_OK;
}

int sg__recs_merge(sg_recs *dst, sg_recs *src)
{
    if (dst->n == 0 && dst->strs.n <= 1 && src->n <= dst->max) {
        /* the first worker's records become the run's as they are (the
         * same ids a remap would give): no copy, no doubled peak */
        size_t max = dst->max;
        uint64_t dropped = dst->dropped;
        sg__recs_release(dst);
        *dst = *src;
        dst->max = max;
        dst->dropped += dropped;
        memset(src, 0, sizeof *src);
        return KS_OK;
    }
    uint32_t *remap = calloc(src->strs.n + 1, sizeof *remap);
    if (!remap && src->strs.n)
        return KS_ENOMEM;
    for (uint32_t i = 1; i < src->strs.n; i++)
        remap[i] = strs_intern(&dst->strs, src->strs.text[i], strlen(src->strs.text[i]));
    for (size_t i = 0; i < src->n; i++) {
        sg_rec *r = recs_push(dst);
        if (!r)
            continue;
        *r = src->v[i];
        r->key = remap[r->key];
        r->val = remap[r->val];
        r->path = remap[r->path];
        r->format = remap[r->format];
    }
    dst->dropped += src->dropped;
    free(remap);
    return KS_OK;
}

/* ---- evaluation ------------------------------------------------------------------- */

static int rec_cmp(const void *a, const void *b)
{
    const sg_rec *x = a, *y = b;
    if (x->corr != y->corr)
        return x->corr < y->corr ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return 0;
}

static bool cond_ok(const sg_corr *k, double v)
{
    for (int i = 0; i < k->nconds; i++) {
        double t = k->conds[i].v;
        bool ok;
        switch (k->conds[i].op) {
        case 1: ok = v > t; break;
        case 2: ok = v >= t; break;
        case 3: ok = v < t; break;
        case 4: ok = v <= t; break;
        case 5: ok = v == t; break;
        default: ok = v != t; break;
        }
        if (!ok)
            return false;
    }
    return true;
}

typedef struct window {
    bool hit;
    size_t i, j;     /* [i, j) records */
    double metric;   /* count, distinct values, sum, ... */
} window;

/* Counts per small id (value ids or rule positions) in the window. */
typedef struct counter {
    ks_map *m;
    size_t distinct;
} counter;

static void cnt_add(counter *c, uint32_t id, int d)
{
    uint64_t *s = ks__map_slot(c->m, &id, sizeof id, true);
    if (!s)
        return;
    if (d > 0 && (*s)++ == 0)
        c->distinct++;
    else if (d < 0 && *s && --(*s) == 0)
        c->distinct--;
}

static double rarest_share(counter *c, size_t total)
{
    size_t it = 0, n;
    const char *kp;
    uint64_t *v, min = UINT64_MAX;
    while (ks__map_iter(c->m, &it, &kp, &n, &v))
        if (*v && *v < min)
            min = *v;
    return min == UINT64_MAX || !total ? 100.0 : 100.0 * (double)min / (double)total;
}

/* Ends of satisfying windows, for chained (parent) correlations. */
typedef struct ends {
    size_t *v;        /* record index of each window's last record */
    size_t n, cap;
} ends;

static void add_end(ends *e, size_t last)
{
    if (!e || (e->n && e->v[e->n - 1] == last))
        return;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        size_t *v = cap <= 1000000 ? realloc(e->v, cap * sizeof *v) : NULL;
        if (!v)
            return;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = last;
}

static void better(window *best, size_t i, size_t j, double metric)
{
    if (!best->hit || metric > best->metric) {
        best->hit = true;
        best->i = i;
        best->j = j;
        best->metric = metric;
    }
}

static window eval_group(const sg_corr *k, const sg_rec *r, size_t n, ends *e)
{
    window best = {0};
    counter c = {ks__map_new(64), 0};
    if (!c.m)
        return best;
    if (k->type == SG_CT_TEMPORAL_ORDERED) {
        for (size_t i = 0; i < n; i++) {
            if (r[i].which != 0)
                continue;
            size_t want = 1, scanned = 0;
            for (size_t j = i + 1; j < n && want < k->nrefs && scanned < ORDERED_SCAN_CAP;
                 j++, scanned++) {
                if (r[j].time - r[i].time > k->span)
                    break;
                if (r[j].which == want)
                    want++;
                if (want == k->nrefs) {
                    better(&best, i, j + 1, (double)(j + 1 - i));
                    add_end(e, j);
                }
            }
            if (k->nrefs == 1) {
                better(&best, i, i + 1, 1);
                add_end(e, i);
            }
        }
        ks__map_free(c.m);
        return best;
    }
    size_t j = 0;
    double sum = 0;
    size_t valued = 0;
    for (size_t i = 0; i < n; i++) {
        while (j < n && r[j].time - r[i].time <= k->span) {
            if (k->type == SG_CT_VALUE_COUNT || k->type == SG_CT_VALUE_PERCENTILE) {
                if (r[j].val)
                    cnt_add(&c, r[j].val, 1), valued++;
            } else if (k->type == SG_CT_TEMPORAL) {
                cnt_add(&c, r[j].which, 1);
            } else if (!isnan(r[j].num)) {
                sum += r[j].num, valued++;
            }
            j++;
        }
        double metric;
        bool ok;
        switch (k->type) {
        case SG_CT_EVENT_COUNT:
            metric = (double)(j - i);
            ok = cond_ok(k, metric);
            break;
        case SG_CT_VALUE_COUNT:
            metric = (double)c.distinct;
            ok = cond_ok(k, metric);
            break;
        case SG_CT_TEMPORAL:
            metric = (double)c.distinct;
            ok = k->nconds ? cond_ok(k, metric) : c.distinct == k->nrefs;
            break;
        case SG_CT_VALUE_SUM:
            metric = sum;
            ok = valued && cond_ok(k, metric);
            break;
        case SG_CT_VALUE_AVG:
            metric = valued ? sum / (double)valued : 0;
            ok = valued && cond_ok(k, metric);
            break;
        default: /* percentile */
            metric = rarest_share(&c, valued);
            ok = valued && cond_ok(k, metric);
            break;
        }
        if (ok) {
            better(&best, i, j, metric);
            add_end(e, j - 1);
        }
        /* slide: drop record i */
        if (k->type == SG_CT_VALUE_COUNT || k->type == SG_CT_VALUE_PERCENTILE) {
            if (r[i].val)
                cnt_add(&c, r[i].val, -1), valued--;
        } else if (k->type == SG_CT_TEMPORAL) {
            cnt_add(&c, r[i].which, -1);
        } else if (!isnan(r[i].num)) {
            sum -= r[i].num, valued--;
        }
    }
    ks__map_free(c.m);
    return best;
}

static const char *const metric_names[] = {
    NULL, "events", "distinct values", "rules matched", "rules in order", "sum", "average",
    "rarest value share (%)"};

static int emit_group(const sg_corr *k, const sg_recs *all, const sg_rec *r, window w,
                      sg_emit_fn emit, void *ud)
{
    const sg_rule *cr = k->rule;
    ks_evidence ev[MAX_EVIDENCE];
    ks_kv det[8];
    size_t ndet = 0, nev = 0;
    char group[1024], metric[64], span[32], values[2048];
    const char *key = all->strs.text[r[w.i].key] ? all->strs.text[r[w.i].key] : "";

    size_t gl = 0;
    for (const char *p = key; *p && gl + 3 < sizeof group; p++) {
        if (*p == '\x1f') {
            group[gl++] = ',';
            group[gl++] = ' ';
        } else {
            group[gl++] = *p;
        }
    }
    group[gl] = 0;
    snprintf(metric, sizeof metric, "%.10g", w.metric);
    snprintf(span, sizeof span, "%llds", (long long)(k->span / 1000000000LL));
    if (k->ngroup)
        det[ndet++] = (ks_kv){"group", group};
    det[ndet++] = (ks_kv){metric_names[k->type], metric};
    det[ndet++] = (ks_kv){"timespan", span};
    det[ndet++] = (ks_kv){"correlation", types[k->type - 1].name};
    /* distinct values (value_count: e.g. the targeted accounts) or rules */
    size_t vl = 0, listed = 0;
    values[0] = 0;
    for (size_t i = w.i; i < w.j && listed < MAX_LISTED; i++) {
        const char *t = NULL;
        if (k->field && r[i].val)
            t = all->strs.text[r[i].val];
        else if (!k->field && k->nrefs > 1)
            t = k->rules[r[i].which]->name ? k->rules[r[i].which]->name : k->rules[r[i].which]->title;
        if (!t)
            continue;
        bool dupe = false;
        for (size_t q = w.i; q < i && !dupe; q++)
            dupe = k->field ? r[q].val == r[i].val : r[q].which == r[i].which;
        if (dupe)
            continue;
        int wr = snprintf(values + vl, sizeof values - vl, "%s%s", listed ? ", " : "", t);
        if (wr < 0 || (size_t)wr >= sizeof values - vl)
            break;
        vl += (size_t)wr;
        listed++;
    }
    if (vl)
        det[ndet++] = (ks_kv){k->field ? k->field : "rules", values};
    for (size_t i = w.i; i < w.j && nev < MAX_EVIDENCE; i++) {
        ks_evidence *e = &ev[nev++];
        memset(e, 0, sizeof *e);
        e->path = all->strs.text[r[i].path];
        e->format = all->strs.text[r[i].format];
        e->record = r[i].record;
        e->line = r[i].line;
        e->offset = r[i].offset;
        e->time = r[i].time;
    }
    ks_finding f = {
        .rule_id = cr->id,
        .title = cr->title,
        .detector = "sigma",
        .description = cr->description,
        .severity = cr->sev,
        .techniques = cr->techniques,
        .ntechniques = cr->ntech,
        .first = r[w.i].time,
        .last = r[w.j - 1].time,
        .evidence = ev,
        .nevidence = nev,
        .event_count = w.j - w.i,
        .details = det,
        .ndetails = ndet,
    };
    /* no ATT&CK tags on the correlation: inherit the first base rule's */
    if (!f.ntechniques && k->nrefs) {
        f.techniques = k->rules[0]->techniques;
        f.ntechniques = k->rules[0]->ntech;
    }
    return emit(ud, &f);
}

/* Records for the parents of child correlation k from one of its windows
 * (last record r[last] of group key `key`): the parent's group values are
 * read from the child's group key by (aliased) field name. */
static void feed_parents(const sg_corr *k, sg_recs *all, const sg_rec *last, const char *key,
                         sg_recs *out)
{
    char pk[1024];
    for (uint32_t p = 0; p < k->nparents; p++) {
        const sg_corr *par = k->parents[p];
        uint32_t which = 0;
        while (which < par->nrefs && par->rules[which] != k->rule)
            which++;
        if (which == par->nrefs)
            continue;
        size_t kn = 0;
        for (size_t g = 0; g < par->ngroup; g++) {
            const char *f = alias_field(par, k->rule, par->group_by[g]);
            size_t fl = strlen(f), vl = 0;
            const char *v = "";
            for (const char *s = key; *s;) {
                const char *e = strchr(s, '\x1f');
                size_t sl = e ? (size_t)(e - s) : strlen(s);
                if (sl > fl && memcmp(s, f, fl) == 0 && s[fl] == '=') {
                    v = s + fl + 1;
                    vl = sl - fl - 1;
                    break;
                }
                s += sl + (e ? 1 : 0);
            }
            int w = snprintf(pk + kn, sizeof pk - kn, "%s%s=%.*s", g ? "\x1f" : "",
                             par->group_by[g], (int)KS_MIN(vl, 300), v);
            if (w < 0 || (size_t)w >= sizeof pk - kn)
                break;
            kn += (size_t)w;
        }
        sg_rec *r = recs_push(out);
        if (!r)
            continue;
        *r = *last;
        r->corr = par->idx;
        r->which = which;
        r->key = strs_intern(&all->strs, pk, kn);
        r->val = 0;
        r->num = NAN;
    }
}

int sg__corr_run(sg_ruleset *rs, sg_recs *all, sg_emit_fn emit, void *ud)
{
    const sg_corr **byidx = NULL;
    size_t ncorr = 0;
    int rc = KS_OK, maxlevel = 0;
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i]->kind == SG_R_CORRELATION)
            ncorr++;
    if (!ncorr || !all->n)
        return KS_OK;
    byidx = calloc(ncorr, sizeof *byidx);
    if (!byidx)
        return KS_ENOMEM;
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i]->kind == SG_R_CORRELATION && rs->rules[i]->corr->idx < ncorr) {
            byidx[rs->rules[i]->corr->idx] = rs->rules[i]->corr;
            maxlevel = KS_MAX(maxlevel, rs->rules[i]->corr->level);
        }
    /* level by level: a chained correlation sees its children's windows */
    for (int level = 0; level <= maxlevel && rc == KS_OK; level++) {
        sg_recs next;
        if (sg__recs_init(&next, all->max) != KS_OK)
            break;
        qsort(all->v, all->n, sizeof *all->v, rec_cmp);
        for (size_t i = 0; i < all->n && rc == KS_OK;) {
            size_t j = i;
            while (j < all->n && all->v[j].corr == all->v[i].corr && all->v[j].key == all->v[i].key)
                j++;
            const sg_corr *k = all->v[i].corr < ncorr ? byidx[all->v[i].corr] : NULL;
            if (k && k->level == level) {
                ends e = {0};
                window w = eval_group(k, all->v + i, j - i, k->nparents ? &e : NULL);
                if (w.hit && !k->quiet)
                    rc = emit_group(k, all, all->v + i, w, emit, ud);
                const char *key = all->strs.text[all->v[i].key] ? all->strs.text[all->v[i].key] : "";
                for (size_t q = 0; q < e.n; q++)
                    feed_parents(k, all, &all->v[i + e.v[q]], key, &next);
                free(e.v);
            }
            i = j;
        }
        for (size_t q = 0; q < next.n; q++) {
            sg_rec *r = recs_push(all);
            if (r)
                *r = next.v[q];
        }
        free(next.v);
        ks__map_free(next.strs.map);
        free(next.strs.text);
    }
    free(byidx);
    return rc;
}
