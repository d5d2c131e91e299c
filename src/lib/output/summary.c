/* SPDX-License-Identifier: Apache-2.0
 *
 * The run summary of summary.h: bounded tables of counts, filled from the
 * findings one at a time.
 */
#include <stdlib.h>
#include <string.h>
#include "output/summary.h"

int ks__summary_init(ks_summary *s)
{
    memset(s, 0, sizeof *s);
    s->first = s->last = KS_TIME_NONE;
    if (!(s->a = ks__arena_new(65536, (size_t)1 << 30)))
        return KS_ENOMEM;
    for (int d = 0; d < KS_DIMS; d++)
        if (!(s->dim[d].ix = ks__map_new(256))) {
            ks__summary_release(s);
            return KS_ENOMEM;
        }
    return KS_OK;
}

void ks__summary_release(ks_summary *s)
{
    for (int d = 0; d < KS_DIMS; d++) {
        ks__map_free(s->dim[d].ix);
        free(s->dim[d].rows);
    }
    ks__arena_free(s->a);
    memset(s, 0, sizeof *s);
}

int ks__finding_score(const ks_finding *f)
{
    static const int by_sev[] = {20, 40, 60, 75, 100};
    return by_sev[f->severity <= KS_SEV_CRITICAL ? f->severity : 0];
}

const char *ks__score_level(int64_t score)
{
    return score >= 100 ? "ALERT" : score >= 60 ? "WARNING" : score >= 40 ? "NOTICE" : NULL;
}

static int tally(ks_summary *s, ks_tally *t, const char *key, const char *label, const ks_finding *f)
{
    if (!key || !*key)
        return KS_OK;
    size_t n = strlen(key);
    uint64_t *slot = t->n < KS_TALLY_MAX ? ks__map_slot(t->ix, key, n, true) : ks__map_get(t->ix, key, n);
    if (!slot) {
        t->other++;
        return KS_OK;
    }
    if (!*slot) {
        if (ks__grow(&t->rows, &t->cap, t->n, sizeof *t->rows, 64) != KS_OK)
            return KS_ENOMEM;
        ks_tally_row *r = &t->rows[t->n];
        memset(r, 0, sizeof *r);
        r->key = ks__arena_strndup(s->a, key, n);
        r->label = label ? ks__arena_strndup(s->a, label, strlen(label)) : NULL;
        r->first = r->last = KS_TIME_NONE;
        if (!r->key)
            return KS_ENOMEM;
        *slot = ++t->n;
    }
    ks_tally_row *r = &t->rows[*slot - 1];
    r->findings++;
    r->events += f->event_count;
    r->score += ks__finding_score(f);
    if (f->severity > r->worst)
        r->worst = f->severity;
    if (f->first != KS_TIME_NONE && (r->first == KS_TIME_NONE || f->first < r->first))
        r->first = f->first;
    if (f->last != KS_TIME_NONE && (r->last == KS_TIME_NONE || f->last > r->last))
        r->last = f->last;
    return KS_OK;
}

int ks__summary_add(ks_summary *s, const ks_finding *f)
{
    const ks_evidence *ev = f->nevidence ? &f->evidence[0] : NULL;
    unsigned tactics = 0;
    int rc = KS_OK;
    s->findings++;
    s->events += f->event_count;
    s->by_sev[f->severity <= KS_SEV_CRITICAL ? f->severity : 0]++;
    if (f->first == KS_TIME_NONE) {
        s->undated++;
    } else {
        if (s->first == KS_TIME_NONE || f->first < s->first)
            s->first = f->first;
        int64_t last = f->last != KS_TIME_NONE ? KS_MAX(f->last, f->first) : f->first;
        if (s->last == KS_TIME_NONE || last > s->last)
            s->last = last;
    }
    rc |= tally(s, &s->dim[KS_DIM_RULE], f->rule_id, f->title, f);
    if (ev) {
        rc |= tally(s, &s->dim[KS_DIM_HOST], ev->host, NULL, f);
        rc |= tally(s, &s->dim[KS_DIM_ACCOUNT], ev->user, NULL, f);
        rc |= tally(s, &s->dim[KS_DIM_CLIENT], ev->source, NULL, f);
        rc |= tally(s, &s->dim[KS_DIM_FILE], ev->path, NULL, f);
        if (ev->format && !strcmp(ev->format, "file"))
            rc |= tally(s, &s->dim[KS_DIM_SCORE], ev->path, NULL, f);
    }
    for (size_t i = 0; i < f->ntechniques; i++) {
        rc |= tally(s, &s->dim[KS_DIM_TECHNIQUE], f->techniques[i], ks__technique_name(f->techniques[i]), f);
        tactics |= ks__technique_tactics(f->techniques[i]);
    }
    for (int t = 0; t < KS_TACTICS; t++)
        if (tactics & (1u << t))
            s->by_tactic[t]++;
    if (f->ntechniques && !tactics)
        s->by_tactic[KS_TACTICS]++;
    return rc ? KS_ENOMEM : KS_OK;
}

int ks__summary_each(void *ud, const ks_finding *f)
{
    return ks__summary_add(ud, f);
}

static int cmp_findings(const void *pa, const void *pb)
{
    const ks_tally_row *a = pa, *b = pb;
    if (a->findings != b->findings)
        return a->findings > b->findings ? -1 : 1;
    if (a->worst != b->worst)
        return a->worst > b->worst ? -1 : 1;
    return strcmp(a->key, b->key);
}

static int cmp_score(const void *pa, const void *pb)
{
    const ks_tally_row *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return cmp_findings(pa, pb);
}

void ks__tally_sort(ks_tally *t, bool by_score)
{
    /* The index is stale afterwards: sorting is the last step. */
    if (t->n > 1)
        qsort(t->rows, t->n, sizeof *t->rows, by_score ? cmp_score : cmp_findings);
}
