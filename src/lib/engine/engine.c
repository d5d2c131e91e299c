/* SPDX-License-Identifier: Apache-2.0
 *
 * The engine's life cycle: options and config files, compiling detectors,
 * running the walk on the thread pool, and the services plugins call
 * (diagnostics, options). See include/kensa/engine.h for the contract and
 * docs/ARCHITECTURE.md for how the layers fit.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "engine_int.h"

const char *ks_version(void)
{
    return KENSA_VERSION;
}

int ks_engine_new(ks_engine **out)
{
    ks_engine *e = calloc(1, sizeof *e);
    if (!e)
        return KS_ENOMEM;
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->flock, NULL);
    pthread_mutex_init(&e->qlock, NULL);
    e->spool_fd = -1;
    ks__findings_config(e);
    pthread_cond_init(&e->qcond, NULL);
    e->syms = ks__symtab_new_schema();
    e->arena = ks__arena_new(65536, 0);
    e->per_rule = ks__map_new(64);
    if (!e->syms || !e->arena || !e->per_rule) {
        ks_engine_free(e);
        return KS_ENOMEM;
    }
    *out = e;
    return KS_OK;
}

void ks_engine_free(ks_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->ndets; i++)
        if (e->dets[i].d->destroy)
            e->dets[i].d->destroy(e->dets[i].det);
    free(e->dets);
    ks__pool_free(e->pool);
    ks__options_free(e);
    for (size_t i = 0; i < e->npaths; i++)
        free(e->paths[i]);
    free(e->paths);
    ks__outputs_free(e);
    ks__findings_free(e);
    ks__map_free(e->per_rule);
    ks__arena_free(e->arena);
    ks__symtab_free(e->syms);
    pthread_cond_destroy(&e->qcond);
    pthread_mutex_destroy(&e->qlock);
    pthread_mutex_destroy(&e->flock);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void ks__seterr(ks_engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
    va_end(ap);
}

const char *ks_engine_errmsg(const ks_engine *e)
{
    return e ? e->errmsg : "no engine";
}

ks_symtab *ks__engine_symtab(ks_engine *e) { return e->syms; }
const ks_symtab *ks_engine_symtab(const ks_engine *e) { return e->syms; }
ks_arena *ks__engine_arena(ks_engine *e) { return e->arena; }

/* Where kensa's bundled rules are, in order: the rules_dir option or
 * $KENSA_RULES_DIR (as given: a wrong one is reported, not replaced);
 * beside the binary (rules/ next to it, ../rules for build/kensa in a
 * checkout, ../../rules for the test binaries, ../share/kensa/rules for an
 * installed bin/); then the installed data directories. Never a path
 * compiled in at build time or the current directory: a moved binary must
 * not silently run with fewer rules (39 findings became 16). NULL when
 * none is found; ks__bundled reports that. */
const char *ks__rules_dir(const ks_engine *e)
{
    static const char *const beside[] = {"rules", "../rules", "../../rules", "../share/kensa/rules"};
    static const char *const installed[] = {"/usr/local/share/kensa/rules", "/usr/share/kensa/rules"};
    ks_engine *me = (ks_engine *)e;
    char exe[4096], cand[4200];
    const char *v = ks__opt(e, "rules_dir");
    if (!v || !*v)
        v = getenv("KENSA_RULES_DIR");
    if (v && *v)
        return v;
    if (e->rules_dir)
        return e->rules_dir;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        for (size_t i = 0; i < KS_ARRAY_LEN(beside) && !me->rules_dir; i++) {
            snprintf(cand, sizeof cand, "%s/%s/sigma", exe, beside[i]);
            char real[4096];
            if (access(cand, R_OK | X_OK) == 0) {
                cand[strlen(cand) - strlen("/sigma")] = 0;
                /* normalised: rule_file in findings reads .../rules/..., not bin/../rules */
                const char *d = realpath(cand, real) ? real : cand;
                me->rules_dir = ks__arena_strndup(me->arena, d, strlen(d));
            }
        }
    }
    for (size_t i = 0; i < KS_ARRAY_LEN(installed) && !me->rules_dir; i++)
        if (access(installed[i], R_OK | X_OK) == 0)
            me->rules_dir = installed[i];
    return me->rules_dir;
}

const char *ks__bundled(ks_engine *e, const char *sub, char *buf, size_t cap)
{
    const char *dir = ks__rules_dir(e);
    struct stat st;
    ks_loc loc = KS_LOC_NONE;
    if (!dir) {
        if (!e->rules_missing++)
            ks__diag(e, KS_DIAG_ERROR, KS_ENOTFOUND, "rules", &loc,
                     "kensa's bundled rules were not found (looked beside the binary and in "
                     "/usr/share/kensa/rules): set rules_dir or KENSA_RULES_DIR, or use --no-builtin");
        return NULL;
    }
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, sub) >= cap || stat(buf, &st) != 0) {
        loc.path = buf;
        ks__diag(e, KS_DIAG_ERROR, KS_ENOTFOUND, "rules", &loc,
                 "bundled %s rules are missing from %s (use --no-builtin to run without them)", sub, dir);
        return NULL;
    }
    return buf;
}

int ks_engine_add_path(ks_engine *e, const char *path)
{
    char **np;
    if (!path || !*path) {
        ks__seterr(e, "empty evidence path");
        return KS_EUSAGE;
    }
    if (ks__outputs_check_evidence(e, path) != KS_OK)
        return KS_EUSAGE;
    np = realloc(e->paths, (e->npaths + 1) * sizeof *np);
    if (!np)
        return KS_ENOMEM;
    e->paths = np;
    if (!(e->paths[e->npaths] = strdup(path)))
        return KS_ENOMEM;
    e->npaths++;
    return KS_OK;
}

void ks_engine_on_diag(ks_engine *e, ks_diag_fn fn, void *ud)
{
    e->diag_fn = fn;
    e->diag_ud = ud;
}

void ks_engine_on_progress(ks_engine *e, ks_progress_fn fn, void *ud)
{
    e->prog_fn = fn;
    e->prog_ud = ud;
}

void ks__diag(ks_engine *e, ks_diag_level lvl, int code, const char *component, const ks_loc *loc,
              const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    ks_diag d;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d.code = code;
    d.level = lvl;
    d.component = component;
    if (loc) {
        d.loc = *loc;
    } else {
        ks_loc none = KS_LOC_NONE;
        d.loc = none;
    }
    d.msg = msg;
    pthread_mutex_lock(&e->lock);
    if (lvl == KS_DIAG_ERROR)
        e->stats.errors++;
    else if (lvl == KS_DIAG_WARN)
        e->stats.warnings++;
    if (e->diag_fn)
        e->diag_fn(e->diag_ud, &d);
    pthread_mutex_unlock(&e->lock);
}

/* Reads the run options into the engine's fields. */
static int resolve_options(ks_engine *e)
{
    const char *v;
    e->nthreads = (int)ks__opt_int(e, "threads");
    if (e->nthreads <= 0)
        e->nthreads = ks__ncpu();
    v = ks__opt(e, "mode");
    e->mode = !strcmp(v, "files") ? KS_MODE_FILES : !strcmp(v, "events") ? KS_MODE_EVENTS : KS_MODE_ALL;
    e->max_size = (uint64_t)ks__opt_int(e, "walk.max_size");
    e->follow_symlinks = ks__opt_bool(e, "walk.follow_symlinks");
    e->cross_fs = ks__opt_bool(e, "walk.cross_fs");
    e->nexcludes = ks__opt_list(e, "walk.exclude", &e->excludes);
    e->max_per_rule = (uint64_t)ks__opt_int(e, "findings.max_per_rule");
    ks__findings_config(e);
    e->budget.max_out = (uint64_t)ks__opt_int(e, "source.max_decompressed");
    e->budget.max_ratio = ks__opt_double(e, "source.max_ratio");
    e->budget.ratio_floor = (uint64_t)16 << 20; /* small files may compress well */
    e->budget.run_out = &e->run_decompressed;
    e->budget.run_max = (uint64_t)ks__opt_int(e, "source.max_run_decompressed");
    e->budget.spill_dir = ks__opt(e, "source.spill_dir");
    e->budget.spill_max = (uint64_t)ks__opt_int(e, "source.spill_max");
    return KS_OK;
}

static int create_detectors(ks_engine *e)
{
    size_t n = 0;
    while (ks__detectors[n])
        n++;
    e->dets = calloc(n ? n : 1, sizeof *e->dets);
    if (!e->dets)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct ks_detector *d = ks__detectors[i];
        void *det = NULL;
        char key[128];
        snprintf(key, sizeof key, "detector.%s", d->name);
        if (!ks__opt_bool(e, key))
            continue;
        if ((d->flags & KS_DET_FILES) && !(d->flags & KS_DET_EVENTS) && e->mode == KS_MODE_EVENTS)
            continue;
        if ((d->flags & KS_DET_EVENTS) && !(d->flags & KS_DET_FILES) && e->mode == KS_MODE_FILES)
            continue;
        int rc = d->create(e, &det);
        if (rc != KS_OK) {
            ks_loc loc = KS_LOC_NONE;
            ks__diag(e, KS_DIAG_ERROR, rc, d->name, &loc, "detector %s could not start: %s%s%s",
                     d->name, ks_strerror(rc), e->errmsg[0] ? ": " : "", e->errmsg);
            continue;
        }
        if (!det)
            continue;
        e->dets[e->ndets].d = d;
        e->dets[e->ndets].det = det;
        e->ndets++;
        if (d->flags & KS_DET_FILES)
            e->any_file_det = true;
        if (d->flags & KS_DET_EVENTS)
            e->any_event_det = true;
    }
    return KS_OK;
}

typedef struct progress_ctx {
    ks_engine *e;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
} progress_ctx;

/* The counters while workers add to them (KS_STAT_ADD atomics; findings
 * under flock, errors and warnings under lock): each read the way it is
 * written, so the progress thread never races a worker (TSan). */
static ks_stats stats_snapshot(ks_engine *e)
{
    ks_stats s;
    const ks_stats *c = &e->stats;
#define LOAD(f) s.f = __atomic_load_n(&c->f, __ATOMIC_RELAXED)
    LOAD(files_seen), LOAD(files_parsed), LOAD(files_scanned), LOAD(files_skipped);
    LOAD(bytes), LOAD(events), LOAD(events_filtered);
#undef LOAD
    pthread_mutex_lock(&e->flock); /* findings.c counts under it */
    s.findings = c->findings;
    s.findings_dropped = c->findings_dropped;
    s.findings_unkept = c->findings_unkept;
    pthread_mutex_unlock(&e->flock);
    pthread_mutex_lock(&e->lock);
    s.errors = c->errors;
    s.warnings = c->warnings;
    pthread_mutex_unlock(&e->lock);
    s.seconds = 0;
    return s;
}

static void *progress_main(void *p)
{
    progress_ctx *pc = p;
    pthread_mutex_lock(&pc->lock);
    while (!pc->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&pc->cond, &pc->lock, &ts);
        if (pc->stop)
            break;
        ks_stats snap = stats_snapshot(pc->e);
        pc->e->prog_fn(pc->e->prog_ud, &snap, NULL);
    }
    pthread_mutex_unlock(&pc->lock);
    return NULL;
}

int ks_engine_run(ks_engine *e)
{
    uint64_t t0 = ks__now_ns();
    int rc;
    pthread_t prog;
    progress_ctx pc = {.e = e, .stop = false};
    bool prog_started = false;
    if (e->ran) {
        ks__seterr(e, "an engine runs once; create a new one");
        return KS_EUSAGE;
    }
    e->ran = true;
    if ((rc = resolve_options(e)) != KS_OK)
        return rc;
    /* Outputs first: a bad one must cost nothing (the caller may have
     * opened them already, to fail before doing anything else). */
    if ((rc = ks_engine_open_outputs(e)) != KS_OK)
        return rc;
    if ((rc = create_detectors(e)) != KS_OK)
        return rc;
    if ((rc = ks__pool_new(e->nthreads, &e->pool)) != KS_OK)
        return rc;
    if ((rc = ks__workers_init(e)) != KS_OK)
        return rc;
    if (e->prog_fn) {
        pthread_mutex_init(&pc.lock, NULL);
        pthread_cond_init(&pc.cond, NULL);
        prog_started = pthread_create(&prog, NULL, progress_main, &pc) == 0;
    }
    rc = ks__walk(e);
    ks__pool_wait(e->pool);
    if (prog_started) {
        pthread_mutex_lock(&pc.lock);
        pc.stop = true;
        pthread_cond_signal(&pc.cond);
        pthread_mutex_unlock(&pc.lock);
        pthread_join(prog, NULL);
        pthread_cond_destroy(&pc.cond);
        pthread_mutex_destroy(&pc.lock);
    }
    ks__workers_finish(e);
    ks__claims_verdict(e);
    for (size_t i = 0; i < e->ndets; i++) {
        const struct ks_detector *d = e->dets[i].d;
        int frc = d->finish ? d->finish(e->dets[i].det) : KS_OK;
        if (frc != KS_OK) /* the contract in kensa_int.h */
            ks__diag(e, KS_DIAG_ERROR, frc, d->name, NULL, "detector %s could not finish: %s; "
                     "its aggregate findings (correlations, counts) may be missing", d->name,
                     ks_strerror(frc));
    }
    ks__findings_sort(e);
    e->stats.seconds = (double)(ks__now_ns() - t0) / 1e9;
    ks__outputs_close(e);
    return rc;
}

const ks_stats *ks_engine_stats(const ks_engine *e)
{
    return &e->stats;
}
