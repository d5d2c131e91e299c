/* SPDX-License-Identifier: Apache-2.0
 *
 * The finding store. Detectors emit findings from any thread with borrowed
 * pointers; ks__emit deep-copies them into the engine's arena under the
 * engine lock. A noisy rule cannot flood memory: past findings.max_per_rule
 * (default 1000) a rule's findings are counted, not kept, and the count is
 * reported in the summary.
 */
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

static char *dup_str(ks_arena *a, const char *s)
{
    return s ? ks__arena_strndup(a, s, strlen(s)) : NULL;
}

static ks_kv *dup_kvs(ks_arena *a, const ks_kv *kv, size_t n)
{
    ks_kv *out;
    if (!n)
        return NULL;
    out = ks__arena_alloc(a, n * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i].key = dup_str(a, kv[i].key);
        out[i].value = dup_str(a, kv[i].value ? kv[i].value : "");
    }
    return out;
}

#define MAX_EVIDENCE 64

int ks__emit(ks_engine *e, const ks_finding *f)
{
    int rc = KS_ENOMEM;
    const char *rid = f->rule_id ? f->rule_id : "unknown";
    pthread_mutex_lock(&e->lock);
    e->stats.findings++;
    uint64_t *cnt = ks__map_slot(e->per_rule, rid, strlen(rid), true);
    if (cnt && *cnt >= e->max_per_rule && e->max_per_rule) {
        (*cnt)++;
        e->stats.findings_dropped++;
        rc = KS_OK;
        goto out;
    }
    if (cnt)
        (*cnt)++;
    if (e->nfindings == e->capfindings) {
        size_t ncap = e->capfindings ? e->capfindings * 2 : 256;
        ks_finding **nf = realloc(e->findings, ncap * sizeof *nf);
        if (!nf)
            goto out;
        e->findings = nf;
        e->capfindings = ncap;
    }
    ks_arena *a = e->farena;
    ks_finding *c = ks__arena_alloc(a, sizeof *c);
    if (!c)
        goto out;
    *c = *f;
    c->rule_id = dup_str(a, rid);
    c->title = dup_str(a, f->title ? f->title : rid);
    c->detector = dup_str(a, f->detector);
    c->description = dup_str(a, f->description);
    c->techniques = NULL;
    if (f->ntechniques) {
        const char **t = ks__arena_alloc(a, f->ntechniques * sizeof *t);
        if (!t)
            goto out;
        for (size_t i = 0; i < f->ntechniques; i++)
            t[i] = dup_str(a, f->techniques[i]);
        c->techniques = t;
    }
    c->nevidence = KS_MIN(f->nevidence, (size_t)MAX_EVIDENCE);
    c->evidence = NULL;
    if (c->nevidence) {
        ks_evidence *ev = ks__arena_alloc(a, c->nevidence * sizeof *ev);
        if (!ev)
            goto out;
        for (size_t i = 0; i < c->nevidence; i++) {
            ev[i] = f->evidence[i];
            ev[i].path = dup_str(a, f->evidence[i].path);
            ev[i].format = dup_str(a, f->evidence[i].format);
        }
        c->evidence = ev;
    }
    if (c->event_count < c->nevidence)
        c->event_count = c->nevidence;
    c->matched = dup_kvs(a, f->matched, f->nmatched);
    c->details = dup_kvs(a, f->details, f->ndetails);
    c->seq = e->seq++;
    e->findings[e->nfindings++] = c;
    rc = KS_OK;
out:
    pthread_mutex_unlock(&e->lock);
    return rc;
}

static int cmp_findings(const void *pa, const void *pb)
{
    const ks_finding *a = *(ks_finding *const *)pa, *b = *(ks_finding *const *)pb;
    /* Timeline order; undated findings (files without times, configs) last. */
    bool an = a->first == KS_TIME_NONE, bn = b->first == KS_TIME_NONE;
    if (an != bn)
        return an ? 1 : -1;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    if (a->severity != b->severity)
        return a->severity > b->severity ? -1 : 1;
    int c = strcmp(a->rule_id, b->rule_id);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void ks__findings_sort(ks_engine *e)
{
    if (e->nfindings > 1)
        qsort(e->findings, e->nfindings, sizeof *e->findings, cmp_findings);
}

void ks__findings_free(ks_engine *e)
{
    free(e->findings);
    e->findings = NULL;
    e->nfindings = e->capfindings = 0;
}

size_t ks__nfindings(const ks_engine *e) { return e->nfindings; }
size_t ks_engine_nfindings(const ks_engine *e) { return e->nfindings; }

const ks_finding *ks__finding(const ks_engine *e, size_t i)
{
    return i < e->nfindings ? e->findings[i] : NULL;
}

const ks_finding *ks_engine_finding(const ks_engine *e, size_t i)
{
    return ks__finding(e, i);
}

void ks__evidence_from_event(ks_evidence *ev, const ks_event *e)
{
    ev->path = e->prov.path;
    ev->format = e->prov.format;
    ev->record = e->prov.record;
    ev->line = e->prov.line;
    ev->offset = e->prov.offset;
    ev->time = e->time;
}
