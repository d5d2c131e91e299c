/* SPDX-License-Identifier: Apache-2.0
 *
 * Per-file work on the thread pool. For each file: open it as a ks_source,
 * hand it to every file detector (YARA, IOCs, ...), let the input formats
 * probe its first bytes, and stream the events of the best one through
 * every event detector. Big files of a splittable format (EVTX) become one
 * task per part so a single file uses every core.
 *
 * The walker is throttled (at most QUEUE_MAX files pending) so memory stays
 * bounded on trees of millions of files.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine_int.h"
#include "extract/extract.h"

#define QUEUE_MAX 4096
#define SPLIT_MIN ((uint64_t)8 << 20)   /* smaller files are one task */
#define SPLIT_MAX_PARTS 256

typedef struct file_task {
    ks_engine *e;
    const struct ks_input *in;   /* for part tasks: the input to use */
    uint64_t begin, end;         /* part range (end = UINT64_MAX: whole) */
    bool is_part;
    int fd;                      /* a stream opened by the walker (FIFO), or -1 */
    bool is_git;                 /* a repository's history (git.c) */
    char path[];                 /* owned with the task */
} file_task;

int ks__worker_init(ks_worker *w, ks_engine *e, int id)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->engine = e;
    w->cache = ks__symcache_new(e->syms);
    w->arena = ks__arena_new(65536, (size_t)256 << 20);
    if (!w->cache || !w->arena) {
        ks__worker_release(w);
        return KS_ENOMEM;
    }
    w->ev.syms = e->syms;
    w->ev.cache = w->cache;
    w->ev.arena = w->arena;
    w->ev.index = ks__evindex_new(); /* NULL: lookups scan */
    return KS_OK;
}

void ks__worker_release(ks_worker *w)
{
    free(w->ev.fields);
    ks__evindex_free(w->ev.index);
    ks__arena_free(w->arena);
    ks__symcache_free(w->cache);
    memset(w, 0, sizeof *w);
}

int ks__workers_init(ks_engine *e)
{
    int n = ks__pool_size(e->pool);
    e->workers = calloc((size_t)n, sizeof *e->workers);
    if (!e->workers)
        return KS_ENOMEM;
    for (int i = 0; i < n; i++) {
        ks_worker *w = &e->workers[i];
        int rc = ks__worker_init(w, e, i);
        if (rc != KS_OK)
            return rc;
        w->det_state = calloc(e->ndets ? e->ndets : 1, sizeof(void *));
        if (!w->det_state)
            return KS_ENOMEM;
        for (size_t d = 0; d < e->ndets; d++) {
            const struct ks_detector *det = e->dets[d].d;
            if (det->worker_new) {
                rc = det->worker_new(e->dets[d].det, w, &w->det_state[d]);
                if (rc != KS_OK) {
                    ks__diag(e, KS_DIAG_ERROR, rc, det->name, NULL,
                             "detector %s: worker state: %s", det->name, ks_strerror(rc));
                    return rc;
                }
            }
        }
    }
    return KS_OK;
}

void ks__workers_finish(ks_engine *e)
{
    int n = e->pool ? ks__pool_size(e->pool) : 0;
    if (!e->workers)
        return;
    for (int i = 0; i < n; i++) {
        ks_worker *w = &e->workers[i];
        for (size_t d = 0; d < e->ndets && w->det_state; d++)
            if (e->dets[d].d->worker_done)
                e->dets[d].d->worker_done(e->dets[d].det, w->det_state[d]);
        free(w->det_state);
        ks__worker_release(w);
    }
    free(e->workers);
    e->workers = NULL;
}

static bool in_range(const ks_engine *e, int64_t t)
{
    if (t == KS_TIME_NONE)
        return true; /* undated events are never filtered away */
    if (e->since != KS_TIME_NONE && t < e->since)
        return false;
    if (e->until != KS_TIME_NONE && t > e->until)
        return false;
    return true;
}

/* A record whose fields did not all fit (KS_EVENT_MAX_FIELDS, or a full
 * symbol table): rules on the dropped fields cannot match it, so say so. */
static void fields_dropped(ks_engine *e, const ks_event *ev)
{
    ks_loc loc = KS_LOC_NONE;
    loc.path = ev->prov.path;
    loc.record = ev->prov.record;
    loc.line = ev->prov.line;
    loc.offset = ev->prov.offset;
    ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, ev->prov.format, &loc,
             "%u fields of this record were dropped (more than %d fields, or too many distinct "
             "field names): rules on them cannot match it", ev->dropped, KS_EVENT_MAX_FIELDS);
}

/* A detector's on_event/on_file returned an error: that record or file was
 * not fully examined, so its findings may be missing (kensa_int.h, the
 * detector contract). Reported once per source and detector; the run goes
 * on with the next record or file. */
static void incomplete(ks_engine *e, const struct ks_detector *det, int rc, const char *path,
                       const ks_event *ev)
{
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    if (ev) {
        loc.record = ev->prov.record;
        loc.line = ev->prov.line;
        loc.offset = ev->prov.offset;
    }
    ks__diag(e, KS_DIAG_WARN, rc, det->name, &loc,
             "detector %s could not finish examining this %s (%s): findings on it may be missing%s",
             det->name, ev ? "record" : "file", ks_strerror(rc),
             ev ? "; later records of this file that fail the same way are not reported" : "");
}

/* Streams one source (or part) through the event detectors. */
static void parse_events(ks_engine *e, ks_worker *w, const struct ks_input *in, ks_source *src,
                         const char *path, uint64_t begin, uint64_t end)
{
    ks_input_ctx ctx = {.src = src, .path = path, .w = w, .begin = begin, .end = end};
    void *st = NULL;
    int rc = in->open(&ctx, &st);
    uint64_t nev = 0, nshort = 0;
    uint64_t failed = 0; /* detectors (bit d % 64) reported incomplete on this source */
    if (rc != KS_OK) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(e, KS_DIAG_ERROR, rc, in->name, &loc, "cannot read as %s: %s", in->name, ks_strerror(rc));
        return;
    }
    ks_event *ev = &w->ev;
    ev->prov.path = path;
    ev->prov.format = in->name;
    for (;;) {
        ks__event_reset(ev);
        rc = in->next(st, ev);
        if (rc != KS_OK)
            break;
        ks__event_finish(ev);
        nev++;
        if (ev->dropped && !nshort++)
            fields_dropped(e, ev);
        if (!in_range(e, ev->time)) {
            KS_STAT_ADD(e, events_filtered, 1);
            continue;
        }
        for (size_t d = 0; d < e->ndets; d++) {
            const struct ks_detector *det = e->dets[d].d;
            if (det->on_event && (rc = det->on_event(w->det_state[d], ev)) != KS_OK &&
                !(failed & ((uint64_t)1 << (d & 63)))) {
                failed |= (uint64_t)1 << (d & 63);
                incomplete(e, det, rc, ev->prov.path, ev);
            }
        }
    }
    in->close(st);
    KS_STAT_ADD(e, events, nev);
    if (nshort > 1) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, in->name, &loc,
                 "%llu records in all had fields dropped (see the first above)", (unsigned long long)nshort);
    }
}

/* The file detectors that have every flag of `need`. */
static void file_detectors(ks_engine *e, ks_worker *w, const ks_file *f, unsigned need)
{
    for (size_t d = 0; d < e->ndets; d++) {
        const struct ks_detector *det = e->dets[d].d;
        int rc;
        if (det->on_file && (det->flags & need) == need &&
            (rc = det->on_file(w->det_state[d], f)) != KS_OK)
            incomplete(e, det, rc, f->path, NULL);
    }
}

void ks__file_detectors(ks_engine *e, ks_worker *w, const ks_file *f)
{
    file_detectors(e, w, f, 0);
}

/* Names of the file detectors with (want) or without (!want) KS_DET_STREAMS,
 * comma-separated, for diagnostics. */
static void det_names(const ks_engine *e, bool want, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t d = 0; d < e->ndets && o < cap; d++) {
        const struct ks_detector *det = e->dets[d].d;
        if (!det->on_file || !(det->flags & KS_DET_STREAMS) != !want)
            continue;
        int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", det->name);
        o = w > 0 ? o + (size_t)w : o;
    }
}

/* A file over walk.max_size. A mail store or an archive (read piece by
 * piece, whatever its size) still goes to the detectors that stream it
 * (secrets, index: a mailbox export is routinely GBs); the rest skip it.
 * Either way a warning names the file, its size and who did not read it:
 * a skipped mailbox must never look like a clean one. Returns the flags a
 * detector needs to get the file, or -1 when none gets it. */
static int over_max_size(ks_engine *e, const char *path, const char *name, uint64_t size,
                         const uint8_t *head, size_t nhead, bool compressed)
{
    char skip[256], take[256];
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    const char *kind = compressed ? NULL : ks__extract_streamed(head, nhead, name);
    det_names(e, false, skip, sizeof skip);
    det_names(e, true, take, sizeof take);
    if (kind && take[0]) {
        if (skip[0])
            ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, "walk", &loc,
                     "%llu bytes, larger than walk.max_size (%llu): a %s, read piece by piece by %s; "
                     "not given to %s (raise --max-size for them)", (unsigned long long)size,
                     (unsigned long long)e->max_size, kind, take, skip);
        return KS_DET_STREAMS;
    }
    ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, "walk", &loc,
             "%llu bytes, larger than walk.max_size (%llu): not given to the file detectors "
             "(%s%s%s); raise --max-size to read it", (unsigned long long)size,
             (unsigned long long)e->max_size, take, take[0] && skip[0] ? ", " : "", skip);
    return -1;
}

static void task_done(ks_engine *e)
{
    pthread_mutex_lock(&e->qlock);
    e->pending--;
    pthread_cond_broadcast(&e->qcond);
    pthread_mutex_unlock(&e->qlock);
}

static int submit(ks_engine *e, file_task *t);

/* Closes a source, first reporting a file that shrank while it was read:
 * its mapping read zeros past the new end (core/sigbus.c) and its stream
 * stopped there, so findings past that point may be missing. */
static void source_done(ks_engine *e, ks_source *src, const char *path)
{
    uint64_t at = ks__source_shrunk(src);
    const char *why = ks__source_stopped(src);
    if (why) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        loc.offset = ks__source_produced(src);
        ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, "read", &loc, "stopped reading: %s; the rest of the file "
                 "was not read", why);
    }
    if (at != UINT64_MAX) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        loc.offset = at;
        ks__diag(e, KS_DIAG_WARN, KS_ETRUNCATED, "read", &loc,
                 "the file shrank while it was read (from %llu bytes): the rest of it was not "
                 "read; findings after this offset may be missing",
                 (unsigned long long)ks__source_size(src));
    }
    ks__source_close(src);
}

static void run_part(file_task *t, ks_worker *w)
{
    ks_engine *e = t->e;
    ks_source *src = NULL;
    char err[256] = "";
    int rc = ks__source_open(AT_FDCWD, NULL, t->path, &src, err, sizeof err);
    if (rc != KS_OK) {
        /* The file went away or changed since its first part was read. */
        ks_loc loc = KS_LOC_NONE;
        loc.path = t->path;
        loc.offset = t->begin;
        ks__diag(e, KS_DIAG_ERROR, rc, "open", &loc, "cannot reopen to read the part from this "
                 "offset on: %s; that part was not read", err);
        return;
    }
    ks__source_set_budget(src, &e->budget);
    /* The last part may run to UINT64_MAX (to the end, whatever it is). */
    uint64_t need = t->end != UINT64_MAX ? t->end : t->begin + 1;
    if (ks__source_size(src) < need) {
        /* Shrank since it was split: the part reads only what is left. */
        ks_loc loc = KS_LOC_NONE;
        loc.path = t->path;
        loc.offset = KS_MIN(t->begin, ks__source_size(src));
        ks__diag(e, KS_DIAG_WARN, KS_ETRUNCATED, "read", &loc,
                 "the file shrank while it was read (to %llu bytes; this part ran to %llu): the "
                 "rest of it was not read; findings after this offset may be missing",
                 (unsigned long long)ks__source_size(src), (unsigned long long)need);
    }
    parse_events(e, w, t->in, src, t->path, t->begin, t->end);
    source_done(e, src, t->path);
}

static void run_file(file_task *t, ks_worker *w)
{
    ks_engine *e = t->e;
    ks_source *src = NULL;
    char err[256] = "";
    const struct ks_input *best = NULL;
    int best_score = 0, rc;
    const char *name = strrchr(t->path, '/');
    name = name ? name + 1 : t->path;

    if (t->fd >= 0) {
        rc = ks__source_fdopen(t->fd, t->path, &src);
        t->fd = -1; /* the source owns it, even on failure */
    } else {
        rc = ks__source_open(AT_FDCWD, NULL, t->path, &src, err, sizeof err);
    }
    if (rc != KS_OK) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = t->path;
        ks__diag(e, KS_DIAG_ERROR, rc, "open", &loc, "%s", err);
        return;
    }
    ks__source_set_budget(src, &e->budget);
    size_t nhead;
    const uint8_t *head = ks__source_head(src, &nhead);
    if (e->mode != KS_MODE_FILES) {
        for (size_t i = 0; ks__inputs[i]; i++) {
            int s = ks__inputs[i]->probe(head, nhead, name);
            if (s > best_score) {
                best_score = s;
                best = ks__inputs[i];
            }
        }
    }
    uint64_t size = ks__source_size(src);
    const struct stat *st = ks__source_stat(src);
    bool file_dets = e->any_file_det && e->mode != KS_MODE_EVENTS;
    int need = 0; /* flags a file detector needs to get this file */
    if (file_dets && st && (uint64_t)st->st_size > e->max_size) {
        need = over_max_size(e, t->path, name, (uint64_t)st->st_size, head, nhead,
                             ks__source_codec(src) != KS_CODEC_NONE);
        file_dets = need >= 0;
    }
    if (file_dets && ks__source_codec(src) != KS_CODEC_NONE) {
        /* walk.max_size bounds what the file detectors read, and for a .gz
         * or .zst that is the decompressed content (issue 15: 329 KB became
         * 10 GB). Map it here, once, under the decompression budgets: the
         * detectors, and the input after them, read this mapping. A map
         * stopped by a budget is reported by source_done. */
        const uint8_t *all;
        uint64_t n = 0;
        if (ks__source_map(src, &all, &n) != KS_OK) {
            file_dets = false;
        } else if (n > e->max_size) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = t->path;
            ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, "walk", &loc,
                     "decompressed to %llu bytes, more than walk.max_size (%llu bytes): not given "
                     "to file detectors; raise --max-size to read it", (unsigned long long)n,
                     (unsigned long long)e->max_size);
            file_dets = false;
        }
    }
    if (file_dets) {
        ks_fhash fh = {0};
        ks_file f = {.path = t->path, .name = name, .st = st, .src = src, .head = head,
                     .nhead = nhead, .format = best ? best->name : NULL, .fh = &fh};
        file_detectors(e, w, &f, (unsigned)need);
        KS_STAT_ADD(e, files_scanned, 1);
    }
    if (e->mode != KS_MODE_FILES)
        ks__claims_file(e, t->path, name, src, head, nhead, best, file_dets);
    if (best) {
        KS_STAT_ADD(e, files_parsed, 1);
        uint64_t bounds[SPLIT_MAX_PARTS + 1];
        size_t nparts = 0;
        if (best->split && size != UINT64_MAX && size >= SPLIT_MIN && e->nthreads > 1 &&
            ks__source_codec(src) == KS_CODEC_NONE &&
            best->split(src, bounds, SPLIT_MAX_PARTS, &nparts) == KS_OK && nparts > 1) {
            /* Parts become tasks of their own; this task takes the first,
             * and any part that could not be queued (no memory, a pool
             * shutting down): no part of the evidence is dropped. */
            bool mine[SPLIT_MAX_PARTS] = {true};
            for (size_t i = 1; i < nparts; i++) {
                size_t pl = strlen(t->path);
                file_task *pt = malloc(sizeof *pt + pl + 1);
                if (pt) {
                    pt->e = e;
                    pt->in = best;
                    pt->begin = bounds[i];
                    pt->end = bounds[i + 1];
                    pt->is_part = true;
                    pt->fd = -1;
                    pt->is_git = false;
                    memcpy(pt->path, t->path, pl + 1);
                }
                if (!pt || submit(e, pt) != KS_OK) {
                    free(pt);
                    mine[i] = true;
                }
            }
            for (size_t i = 0; i < nparts; i++)
                if (mine[i])
                    parse_events(e, w, best, src, t->path, bounds[i], bounds[i + 1]);
        } else {
            parse_events(e, w, best, src, t->path, 0, UINT64_MAX);
        }
    } else if (!file_dets) {
        KS_STAT_ADD(e, files_skipped, 1);
    }
    if (size != UINT64_MAX)
        KS_STAT_ADD(e, bytes, size);
    source_done(e, src, t->path);
}

static void task_main(void *arg, int worker)
{
    file_task *t = arg;
    ks_engine *e = t->e;
    ks_worker *w = &e->workers[worker];
    if (t->is_git)
        ks__git_run(e, w, t->path);
    else if (t->is_part)
        run_part(t, w);
    else
        run_file(t, w);
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    task_done(e);
}

static int submit(ks_engine *e, file_task *t)
{
    pthread_mutex_lock(&e->qlock);
    e->pending++;
    pthread_mutex_unlock(&e->qlock);
    int rc = ks__pool_submit(e->pool, task_main, t);
    if (rc != KS_OK)
        task_done(e);
    return rc;
}

static int dispatch(ks_engine *e, const char *path, bool is_git, int fd)
{
    size_t pl = strlen(path);
    file_task *t;
    pthread_mutex_lock(&e->qlock);
    while (e->pending >= QUEUE_MAX)
        pthread_cond_wait(&e->qcond, &e->qlock);
    pthread_mutex_unlock(&e->qlock);
    t = malloc(sizeof *t + pl + 1);
    if (!t) {
        if (fd >= 0)
            close(fd);
        return KS_ENOMEM;
    }
    t->e = e;
    t->fd = fd;
    t->in = NULL;
    t->begin = 0;
    t->end = UINT64_MAX;
    t->is_part = false;
    t->is_git = is_git;
    memcpy(t->path, path, pl + 1);
    int rc = submit(e, t);
    if (rc != KS_OK) {
        if (fd >= 0)
            close(fd);
        free(t);
    }
    return rc;
}

int ks__dispatch_file(ks_engine *e, const char *path)
{
    return dispatch(e, path, false, -1);
}

int ks__dispatch_stream(ks_engine *e, const char *path, int fd)
{
    return dispatch(e, path, false, fd);
}

int ks__dispatch_git(ks_engine *e, const char *path)
{
    return dispatch(e, path, true, -1);
}
