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
#include "engine_int.h"

/* Options that accumulate instead of replacing. */
static const char *const list_opts[] = {"rules", "yara", "ioc", "walk.exclude", "files.allowlist",
                                        "files.skip_types",
                                        "sigma.mappings", "paths"};

static bool is_list_opt(const char *key)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(list_opts); i++)
        if (strcmp(key, list_opts[i]) == 0)
            return true;
    return false;
}

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
    pthread_mutex_init(&e->qlock, NULL);
    pthread_cond_init(&e->qcond, NULL);
    e->syms = ks__symtab_new();
    e->arena = ks__arena_new(65536, 0);
    e->farena = ks__arena_new(65536, 0);
    e->per_rule = ks__map_new(64);
    if (!e->syms || !e->arena || !e->farena || !e->per_rule) {
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
    for (size_t i = 0; i < e->nopts; i++) {
        free(e->opts[i].key);
        free(e->opts[i].val);
    }
    free(e->opts);
    for (size_t i = 0; i < e->npaths; i++)
        free(e->paths[i]);
    free(e->paths);
    ks__findings_free(e);
    ks__map_free(e->per_rule);
    ks__arena_free(e->farena);
    ks__arena_free(e->arena);
    ks__symtab_free(e->syms);
    pthread_cond_destroy(&e->qcond);
    pthread_mutex_destroy(&e->qlock);
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

/* Validates the options whose values have a syntax, so a typo in --since
 * fails at set-up with a sentence rather than silently matching nothing. */
static int check_opt(ks_engine *e, const char *key, const char *val)
{
    int64_t t;
    uint64_t sz;
    if (!strcmp(key, "since") || !strcmp(key, "until")) {
        if (ks_time_parse(val, strlen(val), &t) != KS_OK) {
            ks__seterr(e, "%s: '%s' is not a time (use 2021-03-02T04:05:06Z or 2021-03-02)", key, val);
            return KS_EUSAGE;
        }
    } else if (!strcmp(key, "threads")) {
        char *end;
        long n = strtol(val, &end, 10);
        if (*end || n < 0 || n > 1024) {
            ks__seterr(e, "threads: '%s' is not a number from 0 (all cores) to 1024", val);
            return KS_EUSAGE;
        }
    } else if (!strcmp(key, "walk.max_size")) {
        if (ks__parse_size(val, &sz) != KS_OK) {
            ks__seterr(e, "walk.max_size: '%s' is not a size (e.g. 100M)", val);
            return KS_EUSAGE;
        }
    } else if (!strcmp(key, "mode")) {
        if (strcmp(val, "all") && strcmp(val, "files") && strcmp(val, "events")) {
            ks__seterr(e, "mode: '%s' is not one of all, files, events", val);
            return KS_EUSAGE;
        }
    }
    return KS_OK;
}

int ks_engine_set(ks_engine *e, const char *key, const char *value)
{
    int rc;
    if (!key || !*key || !value) {
        ks__seterr(e, "option needs a key and a value");
        return KS_EUSAGE;
    }
    if ((rc = check_opt(e, key, value)) != KS_OK)
        return rc;
    if (!is_list_opt(key)) {
        for (size_t i = 0; i < e->nopts; i++) {
            if (strcmp(e->opts[i].key, key) == 0) {
                char *v = strdup(value);
                if (!v)
                    return KS_ENOMEM;
                free(e->opts[i].val);
                e->opts[i].val = v;
                return KS_OK;
            }
        }
    }
    if (e->nopts == e->capopts) {
        size_t ncap = e->capopts ? e->capopts * 2 : 32;
        ks_opt *no = realloc(e->opts, ncap * sizeof *no);
        if (!no)
            return KS_ENOMEM;
        e->opts = no;
        e->capopts = ncap;
    }
    e->opts[e->nopts].key = strdup(key);
    e->opts[e->nopts].val = strdup(value);
    if (!e->opts[e->nopts].key || !e->opts[e->nopts].val) {
        free(e->opts[e->nopts].key);
        free(e->opts[e->nopts].val);
        return KS_ENOMEM;
    }
    e->nopts++;
    return KS_OK;
}

const char *ks_engine_get(const ks_engine *e, const char *key)
{
    return ks__opt(e, key, NULL);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

int ks_engine_load_config(ks_engine *e, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096], section[128] = "";
    unsigned lineno = 0;
    int rc = KS_OK;
    if (!fp) {
        ks__seterr(e, "%s: %s", path, strerror(errno));
        return KS_EIO;
    }
    while (fgets(line, sizeof line, fp)) {
        char *s = trim(line), *eq, key[256];
        lineno++;
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || (size_t)(end - s - 1) >= sizeof section) {
                ks__seterr(e, "%s:%u: bad section header", path, lineno);
                rc = KS_EUSAGE;
                break;
            }
            *end = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        eq = strchr(s, '=');
        if (!eq) {
            ks__seterr(e, "%s:%u: expected key = value", path, lineno);
            rc = KS_EUSAGE;
            break;
        }
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (section[0])
            snprintf(key, sizeof key, "%s.%s", section, k);
        else
            snprintf(key, sizeof key, "%s", k);
        if ((rc = ks_engine_set(e, key, v)) != KS_OK) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", e->errmsg);
            ks__seterr(e, "%s:%u: %s", path, lineno, tmp);
            break;
        }
    }
    fclose(fp);
    return rc;
}

const char *ks__opt(const ks_engine *e, const char *key, const char *dflt)
{
    for (size_t i = e->nopts; i-- > 0;)
        if (strcmp(e->opts[i].key, key) == 0)
            return e->opts[i].val;
    return dflt;
}

int64_t ks__opt_int(const ks_engine *e, const char *key, int64_t dflt)
{
    const char *v = ks__opt(e, key, NULL);
    char *end;
    uint64_t sz;
    if (!v)
        return dflt;
    long long n = strtoll(v, &end, 10);
    if (end != v && !*end)
        return n;
    if (ks__parse_size(v, &sz) == KS_OK && sz <= INT64_MAX)
        return (int64_t)sz;
    return dflt;
}

double ks__opt_double(const ks_engine *e, const char *key, double dflt)
{
    const char *v = ks__opt(e, key, NULL);
    char *end;
    if (!v)
        return dflt;
    double d = strtod(v, &end);
    return end != v && !*end ? d : dflt;
}

bool ks__opt_bool(const ks_engine *e, const char *key, bool dflt)
{
    const char *v = ks__opt(e, key, NULL);
    if (!v)
        return dflt;
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        return true;
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        return false;
    return dflt;
}

size_t ks__opt_list(const ks_engine *e, const char *key, const char ***vals)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nopts; i++)
        if (strcmp(e->opts[i].key, key) == 0)
            n++;
    *vals = NULL;
    if (!n)
        return 0;
    /* Owned by the engine arena: valid for the engine's life. */
    const char **v = ks__arena_alloc(((ks_engine *)e)->arena, n * sizeof *v);
    if (!v)
        return 0;
    n = 0;
    for (size_t i = 0; i < e->nopts; i++)
        if (strcmp(e->opts[i].key, key) == 0)
            v[n++] = e->opts[i].val;
    *vals = v;
    return n;
}

ks_symtab *ks__engine_symtab(ks_engine *e) { return e->syms; }
const ks_symtab *ks_engine_symtab(const ks_engine *e) { return e->syms; }
ks_arena *ks__engine_arena(ks_engine *e) { return e->arena; }

const char *ks__rules_dir(const ks_engine *e)
{
    static const char *const cands[] = {KS_RULES_DIR_DEFAULT, "rules", "../rules",
                                        "/usr/share/kensa/rules"};
    const char *v = ks__opt(e, "rules_dir", getenv("KENSA_RULES_DIR"));
    if (v)
        return v;
    if (e->rules_dir)
        return e->rules_dir;
    for (size_t i = 0; i < KS_ARRAY_LEN(cands); i++) {
        if (cands[i][0] && access(cands[i], R_OK | X_OK) == 0) {
            ((ks_engine *)e)->rules_dir = cands[i];
            return cands[i];
        }
    }
    return "rules";
}

int ks_engine_add_path(ks_engine *e, const char *path)
{
    char **np;
    if (!path || !*path) {
        ks__seterr(e, "empty evidence path");
        return KS_EUSAGE;
    }
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
    uint64_t sz = (uint64_t)100 << 20;
    e->nthreads = (int)ks__opt_int(e, "threads", 0);
    if (e->nthreads <= 0)
        e->nthreads = ks__ncpu();
    e->since = e->until = KS_TIME_NONE;
    if ((v = ks__opt(e, "since", NULL)))
        ks_time_parse(v, strlen(v), &e->since);
    if ((v = ks__opt(e, "until", NULL)))
        ks_time_parse(v, strlen(v), &e->until);
    v = ks__opt(e, "mode", "all");
    e->mode = !strcmp(v, "files") ? KS_MODE_FILES : !strcmp(v, "events") ? KS_MODE_EVENTS : KS_MODE_ALL;
    if ((v = ks__opt(e, "walk.max_size", NULL)))
        ks__parse_size(v, &sz);
    e->max_size = sz;
    e->follow_symlinks = ks__opt_bool(e, "walk.follow_symlinks", false);
    e->cross_fs = ks__opt_bool(e, "walk.cross_fs", false);
    e->nexcludes = ks__opt_list(e, "walk.exclude", &e->excludes);
    e->max_per_rule = (uint64_t)ks__opt_int(e, "findings.max_per_rule", 1000);
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
        if (!ks__opt_bool(e, key, true))
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
        ks_stats snap = pc->e->stats;
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
    for (size_t i = 0; i < e->ndets; i++)
        if (e->dets[i].d->finish)
            e->dets[i].d->finish(e->dets[i].det);
    ks__findings_sort(e);
    e->stats.seconds = (double)(ks__now_ns() - t0) / 1e9;
    return rc;
}

const ks_stats *ks_engine_stats(const ks_engine *e)
{
    return &e->stats;
}
