/* SPDX-License-Identifier: Apache-2.0
 *
 * The finding store. Detectors emit findings from any thread with borrowed
 * pointers; ks__emit serializes each one once (a compact private record,
 * see "records" below) under the findings lock and then:
 *
 *  - hands it to every open output (outputs.c), so a finding is on disk as
 *    soon as it is final and a killed run keeps what it had found;
 *  - hands it to the library user's ks_engine_on_finding callback and to
 *    the detectors that declared on_finding (the Exchange chain joins the
 *    web shells the file detectors found);
 *  - appends it to the run's spool when an output wants every finding at
 *    close (the HTML report), so such outputs re-read the spool instead of
 *    the engine holding every finding in memory;
 *  - keeps an in-memory copy only while fewer than findings.keep are kept
 *    (ks_engine_nfindings / ks_engine_finding serve those).
 *
 * So memory is bounded by findings.keep, not by the number of findings (630k
 * findings held in memory took 406 MB). A noisy rule cannot flood the
 * outputs either: past findings.max_per_rule (default 1000) a rule's
 * findings are counted, not written, and the count is in the summary.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "engine_int.h"

#define MAX_EVIDENCE 64
#define MAX_VALUES 4096
#define NO_STR UINT32_MAX

/* ---- records ------------------------------------------------------------------
 * A finding as bytes: fixed numbers, then length-prefixed strings (NO_STR =
 * NULL). Host byte order: a record never leaves the run that wrote it. The
 * same record feeds the spool and the in-memory copy, so the two cannot
 * drift apart. */

typedef struct rec_head {
    uint32_t len;          /* whole record, this header included */
    uint32_t severity;
    uint32_t nt, ne, nm, nd;
    uint32_t nv;           /* values by hash (ks_fvalue) */
    int64_t first, last;
    uint64_t event_count;
    uint64_t seq;
} rec_head;

typedef struct rec_ev {
    uint64_t record, line, offset;
    int64_t time;
} rec_ev;

static void put_str(ks_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    uint32_t len = s ? (uint32_t)KS_MIN(n, (size_t)(NO_STR - 1)) : NO_STR;
    ks__buf_add(b, &len, sizeof len);
    if (s)
        ks__buf_add(b, s, len);
}

static void put_kvs(ks_buf *b, const ks_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        put_str(b, kv[i].key);
        put_str(b, kv[i].value ? kv[i].value : "");
    }
}

/* Serializes f (with the engine's defaults applied) into b. */
static int rec_build(ks_buf *b, const ks_finding *f, uint64_t seq)
{
    rec_head h = {0};
    size_t ne = KS_MIN(f->nevidence, (size_t)MAX_EVIDENCE);
    const char *rid = f->rule_id ? f->rule_id : "unknown";
    ks__buf_reset(b);
    h.severity = (uint32_t)f->severity;
    h.nt = (uint32_t)f->ntechniques;
    h.ne = (uint32_t)ne;
    h.nm = (uint32_t)f->nmatched;
    h.nd = (uint32_t)f->ndetails;
    h.nv = (uint32_t)KS_MIN(f->nvalues, (size_t)MAX_VALUES);
    h.first = f->first;
    h.last = f->last;
    h.event_count = KS_MAX(f->event_count, (uint64_t)ne);
    h.seq = seq;
    ks__buf_add(b, &h, sizeof h);
    put_str(b, rid);
    put_str(b, f->title ? f->title : rid);
    put_str(b, f->detector);
    put_str(b, f->description);
    for (size_t i = 0; i < f->ntechniques; i++)
        put_str(b, f->techniques[i]);
    for (size_t i = 0; i < ne; i++) {
        const ks_evidence *ev = &f->evidence[i];
        rec_ev r = {ev->record, ev->line, ev->offset, ev->time};
        put_str(b, ev->path);
        put_str(b, ev->format);
        put_str(b, ev->host);
        put_str(b, ev->channel);
        put_str(b, ev->event_id);
        put_str(b, ev->record_id);
        put_str(b, ev->user);
        put_str(b, ev->target_user);
        put_str(b, ev->source);
        ks__buf_add(b, &r, sizeof r);
    }
    put_kvs(b, f->matched, f->nmatched);
    put_kvs(b, f->details, f->ndetails);
    for (size_t i = 0; i < h.nv; i++) {
        const ks_fvalue *v = &f->values[i];
        put_str(b, v->type);
        put_str(b, v->sha256);
        put_str(b, v->redacted);
        put_str(b, v->clear);
        ks__buf_add(b, &v->count, sizeof v->count);
    }
    if (!b->p || b->n > UINT32_MAX)
        return KS_ENOMEM;
    ((rec_head *)(void *)b->p)->len = (uint32_t)b->n;
    return KS_OK;
}

typedef struct reader {
    const uint8_t *p, *end;
    char *out;             /* where strings are copied (NUL-terminated) */
    bool bad;
} reader;

static const char *get_str(reader *r)
{
    uint32_t len;
    if ((size_t)(r->end - r->p) < sizeof len) {
        r->bad = true;
        return NULL;
    }
    memcpy(&len, r->p, sizeof len);
    r->p += sizeof len;
    if (len == NO_STR)
        return NULL;
    if ((size_t)(r->end - r->p) < len) {
        r->bad = true;
        return NULL;
    }
    char *s = r->out;
    memcpy(s, r->p, len);
    s[len] = 0;
    r->p += len;
    r->out += len + 1;
    return s;
}

/* One allocation holding the finding, its arrays and its strings: every
 * string of the record has a 4-byte length prefix, so record length bytes
 * always hold the strings and their NULs. Returns NULL on a damaged record
 * or no memory; free() the result. */
ks_finding *ks__finding_from_rec(const void *p, size_t n)
{
    rec_head h;
    ks_finding *f = NULL;
    size_t arrays, total;
    if (n < sizeof h)
        return NULL;
    memcpy(&h, p, sizeof h);
    if (h.len != n || h.nt > n || h.ne > MAX_EVIDENCE || h.nm > n || h.nd > n ||
        h.nv > MAX_VALUES)
        return NULL;
    arrays = sizeof *f + h.nt * sizeof(char *) + h.ne * sizeof(ks_evidence) +
             ((size_t)h.nm + h.nd) * sizeof(ks_kv) + h.nv * sizeof(ks_fvalue);
    if (!ks__add_ok(arrays, n, &total) || !(f = calloc(1, total)))
        return NULL;
    const char **tech = (const char **)(void *)(f + 1);
    ks_evidence *ev = (ks_evidence *)(void *)(tech + h.nt);
    ks_kv *kv = (ks_kv *)(void *)(ev + h.ne);
    ks_fvalue *vals = (ks_fvalue *)(void *)(kv + h.nm + h.nd);
    reader r = {(const uint8_t *)p + sizeof h, (const uint8_t *)p + n, (char *)(vals + h.nv), false};
    f->severity = (ks_severity)h.severity;
    f->first = h.first;
    f->last = h.last;
    f->event_count = h.event_count;
    f->seq = h.seq;
    f->rule_id = get_str(&r);
    f->title = get_str(&r);
    f->detector = get_str(&r);
    f->description = get_str(&r);
    for (uint32_t i = 0; i < h.nt; i++)
        tech[i] = get_str(&r);
    for (uint32_t i = 0; i < h.ne && !r.bad; i++) {
        rec_ev re;
        ev[i].path = get_str(&r);
        ev[i].format = get_str(&r);
        ev[i].host = get_str(&r);
        ev[i].channel = get_str(&r);
        ev[i].event_id = get_str(&r);
        ev[i].record_id = get_str(&r);
        ev[i].user = get_str(&r);
        ev[i].target_user = get_str(&r);
        ev[i].source = get_str(&r);
        if ((size_t)(r.end - r.p) < sizeof re) {
            r.bad = true;
            break;
        }
        memcpy(&re, r.p, sizeof re);
        r.p += sizeof re;
        ev[i].record = re.record;
        ev[i].line = re.line;
        ev[i].offset = re.offset;
        ev[i].time = re.time;
    }
    for (uint32_t i = 0; i < h.nm + h.nd && !r.bad; i++) {
        kv[i].key = get_str(&r);
        kv[i].value = get_str(&r);
    }
    for (uint32_t i = 0; i < h.nv && !r.bad; i++) {
        vals[i].type = get_str(&r);
        vals[i].sha256 = get_str(&r);
        vals[i].redacted = get_str(&r);
        vals[i].clear = get_str(&r);
        if ((size_t)(r.end - r.p) < sizeof vals[i].count) {
            r.bad = true;
            break;
        }
        memcpy(&vals[i].count, r.p, sizeof vals[i].count);
        r.p += sizeof vals[i].count;
    }
    if (r.bad || !f->rule_id) {
        free(f);
        return NULL;
    }
    f->techniques = h.nt ? tech : NULL;
    f->ntechniques = h.nt;
    f->evidence = h.ne ? ev : NULL;
    f->nevidence = h.ne;
    f->matched = h.nm ? kv : NULL;
    f->nmatched = h.nm;
    f->details = h.nd ? kv + h.nm : NULL;
    f->ndetails = h.nd;
    f->values = h.nv ? vals : NULL;
    f->nvalues = h.nv;
    return f;
}

ks_finding *ks__finding_dup(const ks_finding *f)
{
    ks_buf b = KS_BUF_INIT;
    ks_finding *c = NULL;
    if (rec_build(&b, f, f->seq) == KS_OK)
        c = ks__finding_from_rec(b.p, b.n);
    ks__buf_release(&b);
    return c;
}

/* ---- the spool ------------------------------------------------------------------
 * Every record of the run, appended to an unlinked file in TMPDIR, with an
 * index (16 bytes a finding) that sorts them into the timeline at close. */

typedef struct spool_ix {
    int64_t first;
    uint64_t off;          /* of the record in the spool */
} spool_ix;

void ks__findings_config(ks_engine *e)
{
    const char *v;
    e->keep = (size_t)KS_MAX(ks__opt_int(e, "findings.keep"), 0);
    e->spool_max = (uint64_t)KS_MAX(ks__opt_int(e, "output.spool_max"), 0);
    e->since = e->until = KS_TIME_NONE;
    if ((v = ks__opt(e, "since")))
        ks_time_parse(v, strlen(v), &e->since);
    if ((v = ks__opt(e, "until")))
        ks_time_parse(v, strlen(v), &e->until);
    int lvl = ks_severity_parse(ks__opt(e, "findings.min_level"));
    e->min_level = lvl < 0 ? KS_SEV_INFO : (ks_severity)lvl;
    e->nstatus_in = ks__opt_list(e, "findings.status", &e->status_in);
    e->nstatus_out = ks__opt_list(e, "findings.exclude_status", &e->status_out);
}

static bool listed(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s, list[i]))
            return true;
    return false;
}

/* The triage filters, applied to every finding whatever found it: a file
 * finding's times are the file's (mtime..ctime), an aggregate's span
 * counts when it overlaps [since, until]; undated findings are kept. The
 * status filters apply to findings that carry a rule status (Sigma). */
static bool wanted(const ks_engine *e, const ks_finding *f)
{
    if (f->severity < e->min_level)
        return false;
    if (f->first != KS_TIME_NONE) {
        int64_t last = f->last != KS_TIME_NONE ? KS_MAX(f->last, f->first) : f->first;
        if ((e->since != KS_TIME_NONE && last < e->since) || (e->until != KS_TIME_NONE && f->first > e->until))
            return false;
    }
    if (e->nstatus_in || e->nstatus_out) {
        const char *st = NULL;
        for (size_t i = 0; i < f->ndetails && !st; i++)
            if (f->details[i].key && !strcmp(f->details[i].key, "status"))
                st = f->details[i].value;
        if (st && e->nstatus_in && !listed(st, e->status_in, e->nstatus_in))
            return false;
        if (st && listed(st, e->status_out, e->nstatus_out))
            return false;
    }
    return true;
}

int ks__spool_open(ks_engine *e)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (e->spool_fd >= 0)
        return KS_OK;
    ks__findings_config(e);
    snprintf(path, sizeof path, "%s/kensa-spool-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        ks__seterr(e, "cannot create the findings spool in %s: %s", dir && *dir ? dir : "/tmp",
                   strerror(errno));
        return KS_EIO;
    }
    unlink(path);
    e->spool_fd = fd;
    e->spool_size = 0;
    return KS_OK;
}

static void spool_add(ks_engine *e, const ks_buf *b, int64_t first)
{
    if (e->spool_fd < 0 || e->spool_full)
        return;
    if (e->spool_size + b->n > e->spool_max ||
        ks__grow(&e->spool_ix, &e->spool_cap, e->spool_n, sizeof *e->spool_ix, 1024) != KS_OK) {
        e->spool_full = true;
        return;
    }
    if (pwrite(e->spool_fd, b->p, b->n, (off_t)e->spool_size) != (ssize_t)b->n) {
        e->spool_full = true;
        return;
    }
    e->spool_ix[e->spool_n].first = first;
    e->spool_ix[e->spool_n].off = e->spool_size;
    e->spool_n++;
    e->spool_size += b->n;
}

void ks__spool_close(ks_engine *e)
{
    if (e->spool_fd >= 0)
        close(e->spool_fd);
    e->spool_fd = -1;
    free(e->spool_ix);
    e->spool_ix = NULL;
    e->spool_n = e->spool_cap = 0;
}

/* ---- emit ----------------------------------------------------------------------- */

int ks__emit(ks_engine *e, const ks_finding *f)
{
    int rc = KS_OK;
    const char *rid = f->rule_id ? f->rule_id : "unknown";
    ks_finding *c = NULL;
    pthread_mutex_lock(&e->flock);
    if (!wanted(e, f)) {
        e->stats.findings_filtered++;
        goto out;
    }
    e->stats.findings++;
    uint64_t *cnt = ks__map_slot(e->per_rule, rid, strlen(rid), true);
    if (cnt && *cnt >= e->max_per_rule && e->max_per_rule) {
        (*cnt)++;
        e->stats.findings_dropped++;
        goto out;
    }
    if (cnt)
        (*cnt)++;
    if ((rc = rec_build(&e->emit_buf, f, e->seq)) != KS_OK ||
        !(c = ks__finding_from_rec(e->emit_buf.p, e->emit_buf.n))) {
        rc = KS_ENOMEM;
        goto out;
    }
    e->seq++;
    ks__outputs_finding(e, c);
    for (size_t i = 0; i < e->ndets; i++)
        if (e->dets[i].d->on_finding)
            e->dets[i].d->on_finding(e->dets[i].det, c);
    if (e->find_fn)
        e->find_fn(e->find_ud, c);
    spool_add(e, &e->emit_buf, c->first);
    if (e->keep && e->nfindings >= e->keep) {
        e->stats.findings_unkept++;
        goto out;
    }
    if (ks__grow(&e->findings, &e->capfindings, e->nfindings, sizeof *e->findings, 256) != KS_OK) {
        rc = KS_ENOMEM;
        goto out;
    }
    e->findings[e->nfindings++] = c;
    c = NULL;
out:
    pthread_mutex_unlock(&e->flock);
    free(c);
    return rc;
}

/* Timeline order; undated findings (files without times, configs) last. */
int ks__finding_cmp(const ks_finding *a, const ks_finding *b)
{
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

static int cmp_findings(const void *pa, const void *pb)
{
    return ks__finding_cmp(*(ks_finding *const *)pa, *(ks_finding *const *)pb);
}

void ks__findings_sort(ks_engine *e)
{
    if (e->nfindings > 1)
        qsort(e->findings, e->nfindings, sizeof *e->findings, cmp_findings);
}

void ks__findings_free(ks_engine *e)
{
    for (size_t i = 0; i < e->nfindings; i++)
        free(e->findings[i]);
    free(e->findings);
    e->findings = NULL;
    e->nfindings = e->capfindings = 0;
    ks__spool_close(e);
    ks__buf_release(&e->emit_buf);
}

/* The spool index is only roughly sorted (by first time, undated last);
 * each run of equal times is finished with the full comparison once read. */
static int cmp_ix(const void *pa, const void *pb)
{
    const spool_ix *a = pa, *b = pb;
    bool an = a->first == KS_TIME_NONE, bn = b->first == KS_TIME_NONE;
    if (an != bn)
        return an ? 1 : -1;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

static ks_finding *spool_read(ks_engine *e, uint64_t off)
{
    uint32_t len;
    ks_finding *f = NULL;
    if (pread(e->spool_fd, &len, sizeof len, (off_t)off) != (ssize_t)sizeof len || len < sizeof(rec_head))
        return NULL;
    uint8_t *p = malloc(len);
    if (p && pread(e->spool_fd, p, len, (off_t)off) == (ssize_t)len)
        f = ks__finding_from_rec(p, len);
    free(p);
    return f;
}

/* Findings of one time in full timeline order, then handed out. */
static int flush_group(ks_finding **g, size_t n, int (*fn)(void *, const ks_finding *), void *ud)
{
    int rc = KS_OK;
    if (n > 1)
        qsort(g, n, sizeof *g, cmp_findings);
    for (size_t i = 0; i < n; i++) {
        if (rc == KS_OK)
            rc = fn(ud, g[i]);
        free(g[i]);
    }
    return rc;
}

int ks__findings_each(ks_engine *e, int (*fn)(void *ud, const ks_finding *f), void *ud)
{
    int rc = KS_OK;
    ks_finding **group = NULL;
    size_t ng = 0, capg = 0;
    if (e->spool_fd < 0 || e->spool_n <= e->nfindings) {
        /* Everything the spool has is in memory (sorted once the run is
         * over). */
        for (size_t i = 0; i < e->nfindings && rc == KS_OK; i++)
            rc = fn(ud, e->findings[i]);
        return rc;
    }
    if (e->spool_n > 1)
        qsort(e->spool_ix, e->spool_n, sizeof *e->spool_ix, cmp_ix);
    for (size_t i = 0; i < e->spool_n && rc == KS_OK; i++) {
        ks_finding *f = spool_read(e, e->spool_ix[i].off);
        if (!f) {
            rc = KS_EIO;
            break;
        }
        if (ng && group[0]->first != f->first) {
            rc = flush_group(group, ng, fn, ud);
            ng = 0;
        }
        if (rc != KS_OK || ks__grow(&group, &capg, ng, sizeof *group, 16) != KS_OK) {
            free(f);
            rc = rc != KS_OK ? rc : KS_ENOMEM;
            break;
        }
        group[ng++] = f;
    }
    if (rc == KS_OK)
        rc = flush_group(group, ng, fn, ud);
    else
        for (size_t i = 0; i < ng; i++)
            free(group[i]);
    free(group);
    return rc;
}

uint64_t ks__rule_emitted(ks_engine *e, const char *rule_id)
{
    uint64_t n = 0;
    pthread_mutex_lock(&e->flock);
    uint64_t *c = e->per_rule ? ks__map_get(e->per_rule, rule_id, strlen(rule_id)) : NULL;
    if (c)
        n = *c;
    pthread_mutex_unlock(&e->flock);
    return n;
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

void ks_engine_on_finding(ks_engine *e, ks_finding_fn fn, void *ud)
{
    e->find_fn = fn;
    e->find_ud = ud;
}

