/* SPDX-License-Identifier: Apache-2.0
 *
 * The run's findings as people read them (ks__findings_view): the spool
 * replayed in timeline order through two collapses, so 93 copies of one
 * rule on one host are one line with a count, not 93.
 *
 *  1. One event hit by several rules: findings of the same time whose
 *     single event is the same record (path, record, line, offset) become
 *     the most severe one, with the other rules listed in its details
 *     (`also_rules`) and their techniques added (group.multi_rule).
 *  2. One rule from one source within a window: findings of one rule
 *     whose first evidence has the same host, client address, account and
 *     file, each starting within group.window of the group's last time,
 *     become one finding: first/last time, the events and findings summed,
 *     the evidence of all of them (up to group.max_evidence), details of
 *     the first plus `group_findings`. Identity values are part of the key
 *     — values[].sha256 and any *sha256 detail (secret_sha256,
 *     value_sha256, a file's sha256) — so two secrets, two people's data or
 *     two files are never merged into one finding.
 *
 * Memory stays bounded: the replay is in time order, so a group can only
 * grow while it is open (within the window); at most group.max_open groups
 * are held (the oldest is written out early beyond that), and groups leave
 * in the order they opened, so the output stays a timeline. Undated
 * findings (file hits without times) come last and merge by key alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

#define BUCKET_MAX 64      /* same-time findings compared for shared events */
#define KEY_SEP '\x1f'

typedef struct group {
    ks_finding *head;      /* the first finding (ks__finding_dup), owns its strings */
    ks_finding f;          /* what is handed out: head's fields, merged */
    ks_evidence *ev;       /* evidence of every member, up to max_evidence */
    size_t nev, capev;
    ks_kv *details;        /* head's details + group_findings */
    ks_arena *a;           /* strings of the members after the first */
    uint64_t members;      /* findings merged */
    bool open;             /* its key in `open` points to it (cleared when it closes) */
    char count[24];        /* group_findings as text */
} group;

typedef struct view {
    ks_engine *e;
    int (*fn)(void *ud, const ks_finding *f);
    void *ud;
    int rc;
    int64_t window;        /* ns; 0 = no grouping by rule and source */
    bool multi_rule;
    size_t max_evidence, max_open;
    ks_map *open;          /* group key -> group* (0 once closed) */
    size_t nopen;          /* keys in `open` that still point to a group */
    group **q;             /* groups in the order they opened */
    size_t qhead, qn, qcap;
    ks_buf key;
    ks_buf ckey;           /* the key of a group being closed */
    bool undated;          /* the replay reached the undated findings */
    ks_finding *bucket[BUCKET_MAX]; /* same-time findings awaiting step 1 */
    size_t nb;
} view;

/* ---- step 2: one rule, one source, one window ------------------------------- */

static bool is_identity_key(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    return n >= 6 && !strcmp(k + n - 6, "sha256");
}

static void add_part(ks_buf *b, const char *s)
{
    if (s)
        ks__buf_adds(b, s);
    ks__buf_addc(b, KEY_SEP);
}

static void group_key(ks_buf *b, const ks_finding *f)
{
    const ks_evidence *ev = f->nevidence ? &f->evidence[0] : NULL;
    ks__buf_reset(b);
    add_part(b, f->rule_id);
    add_part(b, ev ? ev->host : NULL);
    add_part(b, ev ? ev->source : NULL);
    add_part(b, ev ? ev->user : NULL);
    add_part(b, ev ? ev->path : NULL);
    for (size_t i = 0; i < f->nvalues; i++)
        add_part(b, f->values[i].sha256);
    for (size_t i = 0; i < f->ndetails; i++)
        if (is_identity_key(f->details[i].key)) {
            add_part(b, f->details[i].key);
            add_part(b, f->details[i].value);
        }
}

static void group_free(group *g)
{
    if (!g)
        return;
    free(g->head);
    free(g->ev);
    free(g->details);
    ks__arena_free(g->a);
    free(g);
}

static const char *keep_str(group *g, const char *s)
{
    if (!s)
        return NULL;
    if (!g->a && !(g->a = ks__arena_new(4096, (size_t)64 << 20)))
        return NULL;
    return ks__arena_strndup(g->a, s, strlen(s));
}

static void add_evidence(view *v, group *g, const ks_finding *f, bool own)
{
    for (size_t i = 0; i < f->nevidence && g->nev < v->max_evidence; i++) {
        if (ks__grow(&g->ev, &g->capev, g->nev, sizeof *g->ev, 8) != KS_OK)
            return;
        ks_evidence e = f->evidence[i];
        if (!own) {
            /* f is the replay's: its strings go when the callback returns. */
            e.path = keep_str(g, e.path);
            e.format = keep_str(g, e.format);
            e.host = keep_str(g, e.host);
            e.channel = keep_str(g, e.channel);
            e.event_id = keep_str(g, e.event_id);
            e.record_id = keep_str(g, e.record_id);
            e.user = keep_str(g, e.user);
            e.target_user = keep_str(g, e.target_user);
            e.source = keep_str(g, e.source);
        }
        g->ev[g->nev++] = e;
    }
}

static void close_group(view *v, group *g)
{
    if (!g->open)
        return;
    /* Looked up again, not kept: the map is open addressing, so a slot
     * pointer held across later inserts dangles once it grows (it did: a
     * stale slot zeroed the queue's memory, a crash 1,500 groups in). */
    group_key(&v->ckey, g->head);
    uint64_t *s = ks__map_get(v->open, v->ckey.p, v->ckey.n);
    if (s && *s == (uint64_t)(uintptr_t)g)
        *s = 0;
    g->open = false;
    v->nopen--;
}

/* Writes out the oldest groups that are closed (all of them with force). */
static void drain(view *v, bool force)
{
    while (v->qhead < v->qn) {
        group *g = v->q[v->qhead];
        if (g->open && !force)
            break;
        close_group(v, g);
        g->f.evidence = g->ev;
        g->f.nevidence = g->nev;
        if (g->members > 1) {
            snprintf(g->count, sizeof g->count, "%llu", (unsigned long long)g->members);
            g->details[g->f.ndetails] = (ks_kv){"group_findings", g->count};
            g->f.ndetails++;
        }
        if (v->rc == KS_OK)
            v->rc = v->fn(v->ud, &g->f);
        group_free(g);
        v->q[v->qhead++] = NULL;
    }
    if (v->qhead == v->qn)
        v->qhead = v->qn = 0;
}

/* The map keeps keys of closed groups; rebuilt when they outnumber the open. */
static int compact_map(view *v)
{
    if (ks__map_count(v->open) < 4 * v->nopen + 4096)
        return KS_OK;
    ks_map *m = ks__map_new(v->nopen * 2 + 64);
    if (!m)
        return KS_ENOMEM;
    for (size_t i = v->qhead; i < v->qn; i++) {
        group *g = v->q[i];
        if (!g->open)
            continue;
        group_key(&v->key, g->head);
        uint64_t *s = ks__map_slot(m, v->key.p, v->key.n, true);
        if (!s) {
            ks__map_free(m);
            return KS_ENOMEM;
        }
        *s = (uint64_t)(uintptr_t)g;
    }
    ks__map_free(v->open);
    v->open = m;
    return KS_OK;
}

static bool within(const view *v, const group *g, const ks_finding *f)
{
    if (f->first == KS_TIME_NONE || g->f.last == KS_TIME_NONE)
        return f->first == KS_TIME_NONE && g->f.first == KS_TIME_NONE;
    return f->first - g->f.last <= v->window;
}

static void merge(view *v, group *g, const ks_finding *f)
{
    g->members++;
    g->f.event_count += f->event_count;
    if (f->severity > g->f.severity)
        g->f.severity = f->severity;
    if (f->first != KS_TIME_NONE && (g->f.first == KS_TIME_NONE || f->first < g->f.first))
        g->f.first = f->first;
    if (f->last != KS_TIME_NONE && (g->f.last == KS_TIME_NONE || f->last > g->f.last))
        g->f.last = f->last;
    add_evidence(v, g, f, false);
}

static int open_group(view *v, ks_finding *own, uint64_t *slot)
{
    group *g = calloc(1, sizeof *g);
    if (!g || ks__grow(&v->q, &v->qcap, v->qn, sizeof *v->q, 64) != KS_OK ||
        !(g->details = malloc((own->ndetails + 1) * sizeof *g->details))) {
        free(g ? g->details : NULL);
        free(g);
        free(own);
        return KS_ENOMEM;
    }
    g->head = own;
    g->f = *own;
    g->members = 1;
    if (own->ndetails)
        memcpy(g->details, own->details, own->ndetails * sizeof *g->details);
    g->f.details = g->details;
    add_evidence(v, g, own, true);
    g->open = true;
    *slot = (uint64_t)(uintptr_t)g; /* used at once: no insert in between */
    v->nopen++;
    v->q[v->qn++] = g;
    return KS_OK;
}

/* Takes own (a ks__finding_dup) into its group or a new one. */
static int group_add(view *v, ks_finding *own)
{
    if (!v->window) {
        int rc = v->rc == KS_OK ? v->fn(v->ud, own) : v->rc;
        free(own);
        return rc;
    }
    if (own->first == KS_TIME_NONE && !v->undated) {
        /* Dated groups are over: the rest of the replay is undated. */
        v->undated = true;
        drain(v, true);
    }
    group_key(&v->key, own);
    uint64_t *slot = ks__map_slot(v->open, v->key.p, v->key.n, true);
    if (!slot) {
        free(own);
        return KS_ENOMEM;
    }
    group *g = (group *)(uintptr_t)*slot;
    if (g && within(v, g, own)) {
        merge(v, g, own);
        free(own);
        return KS_OK;
    }
    if (g)
        close_group(v, g);
    int rc = open_group(v, own, slot);
    if (rc != KS_OK)
        return rc;
    /* Groups whose window has passed can leave, in the order they opened. */
    for (;;) {
        group *h = v->qhead + 1 < v->qn ? v->q[v->qhead] : NULL;
        bool passed = h && h->f.last != KS_TIME_NONE && own->first != KS_TIME_NONE &&
                      own->first - h->f.last > v->window;
        if (!h || !(passed || v->qn - v->qhead > v->max_open))
            break;
        close_group(v, h);
        drain(v, false);
    }
    drain(v, false);
    return compact_map(v);
}

/* ---- step 1: one event, several rules ----------------------------------------- */

static bool same_event(const ks_finding *a, const ks_finding *b)
{
    if (a->event_count != 1 || b->event_count != 1 || !a->nevidence || !b->nevidence)
        return false;
    const ks_evidence *x = &a->evidence[0], *y = &b->evidence[0];
    if (!x->path || !y->path || strcmp(x->path, y->path))
        return false;
    return x->record == y->record && x->line == y->line && x->offset == y->offset &&
           (x->record || x->line || x->offset != UINT64_MAX);
}

/* The primary f of a cluster, rebuilt with the others' rules listed and
 * their techniques added: a new dup, f freed. */
static ks_finding *with_rules(ks_finding *f, ks_finding **others, size_t n)
{
    ks_buf rules = KS_BUF_INIT;
    const char *techs[64];
    size_t nt = 0;
    ks_kv *kv = NULL;
    ks_finding c, *out = NULL;
    for (size_t i = 0; i < f->ntechniques && nt < 64; i++)
        techs[nt++] = f->techniques[i];
    for (size_t i = 0; i < n; i++) {
        ks__buf_printf(&rules, "%s%s (%s)", i ? "; " : "", others[i]->rule_id,
                       others[i]->title ? others[i]->title : "");
        for (size_t t = 0; t < others[i]->ntechniques && nt < 64; t++) {
            bool dup = false;
            for (size_t k = 0; k < nt && !dup; k++)
                dup = !strcmp(techs[k], others[i]->techniques[t]);
            if (!dup)
                techs[nt++] = others[i]->techniques[t];
        }
    }
    if (!rules.p || !(kv = malloc((f->ndetails + 1) * sizeof *kv)))
        goto out;
    if (f->ndetails)
        memcpy(kv, f->details, f->ndetails * sizeof *kv);
    kv[f->ndetails] = (ks_kv){"also_rules", rules.p};
    c = *f;
    c.details = kv;
    c.ndetails = f->ndetails + 1;
    c.techniques = techs;
    c.ntechniques = nt;
    for (size_t i = 0; i < n; i++)
        if (others[i]->severity > c.severity)
            c.severity = others[i]->severity;
    out = ks__finding_dup(&c);
out:
    free(kv);
    ks__buf_release(&rules);
    if (out) {
        free(f);
        return out;
    }
    return f; /* no memory: shown without the list */
}

/* Hands the bucket (findings of one time, most severe first) to step 2. */
static int flush_bucket(view *v)
{
    int rc = KS_OK;
    ks_finding *others[BUCKET_MAX];
    for (size_t i = 0; i < v->nb; i++) {
        ks_finding *f = v->bucket[i];
        size_t n = 0;
        if (!f)
            continue;
        for (size_t k = i + 1; k < v->nb && v->multi_rule; k++)
            if (v->bucket[k] && strcmp(v->bucket[k]->rule_id, f->rule_id) &&
                same_event(f, v->bucket[k])) {
                others[n++] = v->bucket[k];
                v->bucket[k] = NULL;
            }
        if (n)
            f = with_rules(f, others, n);
        for (size_t k = 0; k < n; k++)
            free(others[k]);
        v->bucket[i] = NULL;
        if (rc == KS_OK)
            rc = group_add(v, f);
        else
            free(f);
    }
    v->nb = 0;
    return rc;
}

static int view_one(void *ud, const ks_finding *f)
{
    view *v = ud;
    int rc;
    if (v->nb && (v->bucket[0]->first != f->first || v->nb == BUCKET_MAX || f->first == KS_TIME_NONE) &&
        (rc = flush_bucket(v)) != KS_OK)
        return rc;
    if (!(v->bucket[v->nb] = ks__finding_dup(f)))
        return KS_ENOMEM;
    v->nb++;
    return v->rc;
}

int ks__findings_view(ks_engine *e, int (*fn)(void *ud, const ks_finding *f), void *ud)
{
    view v;
    memset(&v, 0, sizeof v);
    v.e = e;
    v.fn = fn;
    v.ud = ud;
    v.window = ks__opt_duration(e, "group.window");
    v.multi_rule = ks__opt_bool(e, "group.multi_rule");
    v.max_evidence = (size_t)KS_MAX(ks__opt_int(e, "group.max_evidence"), 1);
    v.max_open = (size_t)KS_MAX(ks__opt_int(e, "group.max_open"), 1);
    if (!(v.open = ks__map_new(1024)))
        return KS_ENOMEM;
    int rc = ks__findings_each(e, view_one, &v);
    if (rc == KS_OK)
        rc = flush_bucket(&v);
    for (size_t i = 0; i < v.nb; i++)
        free(v.bucket[i]);
    drain(&v, true);
    if (rc == KS_OK)
        rc = v.rc;
    free(v.q);
    ks__map_free(v.open);
    ks__buf_release(&v.key);
    ks__buf_release(&v.ckey);
    return rc;
}
