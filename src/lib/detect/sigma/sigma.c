/* SPDX-License-Identifier: Apache-2.0
 *
 * ks_detector_sigma: runs Sigma detection and correlation rules over every
 * event kensa reads.
 *
 * create():      load mappings (bundled + "sigma.mappings"), rules (option
 *                list "rules" + the bundled rules/sigma when "builtin"),
 *                resolve filters and correlations, build the prefilter.
 * on_event():    index the event, ask the prefilter for candidate rules,
 *                evaluate them, emit a finding per match (rules feeding only
 *                a correlation stay quiet) and record correlation inputs.
 * worker_done(): fold the worker's correlation records into the shared set.
 * finish():      evaluate correlations over all records in event-time order.
 *
 * Options: see docs/SIGMA.md (sigma.prefilter, sigma.unmapped,
 * sigma.placeholder, sigma.correlation.max_records, sigma.mappings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sigma.h"
#include "sigma_pre.h"

#define MAX_MATCHED 8

struct sg_det {
    sg_ruleset *rs;           /* owned */
    sg_rule **run;            /* rules evaluated per event */
    size_t nrun;
    sg_pre *pre;              /* prefilter over run */
    sg_gates *gates;          /* key gates over run, or NULL (with the prefilter only) */
    sg_det_opts o;
    bool has_corr;            /* some correlation uses some rule */
    pthread_mutex_t mu;       /* guards recs and counters in worker_done */
    sg_recs recs;             /* all workers' correlation records */
    uint64_t events, evals, matches;
    uint64_t re_errors;       /* rule evaluations a regex gave up on (atomic) */
    size_t worker_max;        /* each worker's share of the record cap */
};

typedef struct sg_ws {
    sg_det *d;
    sg_scratch sc;
    sg_pre_ws *pw;
    sg_recs recs;             /* this worker's correlation records */
    uint64_t events, evals, matches;
} sg_ws;

/* One event in SLOW_SAMPLE has each of its rule evaluations timed (two
 * clock reads each): a rule slow on every record (a backtracking regex)
 * shows within a few dozen records, at a cost of a few ns per event. */
#define SLOW_SAMPLE 16

void sg__diag_to_engine(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                        const char *msg)
{
    ks_engine *e = ud;
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    loc.line = line;
    if (e)
        ks__diag(e, lvl, KS_ERULE, "sigma", &loc, "%s [%s]", msg, sg__fail_name(fail));
}

static int engine_emit(void *ud, const ks_finding *f)
{
    return ks__emit(ud, f);
}

static bool status_runs(const sg_rule *r)
{
    return !r->status || (strcmp(r->status, "deprecated") != 0 && strcmp(r->status, "unsupported") != 0);
}

/* A temporal correlation without a condition completes only when every
 * rule it names matched (temporal_ordered: in order): when one of them is
 * never evaluated here (unmapped logsource, deprecated), no group can
 * complete, so the other rules' matches are not stored for it (the same
 * findings: none; records that could only wait for it). Correlations
 * over correlations are left alone. */
static void mark_never(sg_ruleset *rs)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_corr *k = rs->rules[i]->kind == SG_R_CORRELATION ? rs->rules[i]->corr : NULL;
        if (!k || !(k->type == SG_CT_TEMPORAL_ORDERED || (k->type == SG_CT_TEMPORAL && !k->nconds)))
            continue;
        for (size_t j = 0; j < k->nrefs; j++)
            if (k->rules[j] && k->rules[j]->kind == SG_R_DETECTION && !k->rules[j]->runs)
                k->never = true;
    }
}

int sg__det_new(sg_ruleset *rs, const sg_det_opts *o, sg_det **out)
{
    sg_det *d = calloc(1, sizeof *d);
    int rc = KS_ENOMEM;
    if (!d)
        goto fail;
    d->rs = rs;
    d->o = *o;
    if (!d->o.emit) {
        d->o.emit = engine_emit;
        d->o.emit_ud = o->engine;
    }
    pthread_mutex_init(&d->mu, NULL);
    if ((rc = sg__recs_init(&d->recs, o->max_records)) != KS_OK)
        goto fail;
    /* the cap holds for the run: each worker gets its share */
    int nw = o->engine ? (int)ks__opt_int(o->engine, "threads") : 1;
    if (nw <= 0)
        nw = ks__ncpu();
    d->worker_max = KS_MAX(d->recs.max / (size_t)(nw > 0 ? nw : 1), (size_t)1024);
    d->run = calloc(rs->nrules + 1, sizeof *d->run);
    if (!d->run)
        goto fail;
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *r = rs->rules[i];
        if (r->kind != SG_R_DETECTION || !status_runs(r))
            continue;
        if (!r->ls && !o->run_unmapped)
            continue;
        if (!r->emit && !r->ncorr_uses)
            continue;
        d->run[d->nrun++] = r;
        r->runs = true;
        if (r->ncorr_uses)
            d->has_corr = true;
    }
    mark_never(rs);
    unsigned pf = (o->prefilter ? SG_PRE_ON : 0) | (o->pattern_needles ? SG_PRE_PATTERNS : 0);
    if ((rc = sg__pre_build(d->run, d->nrun, pf, o->engine, &d->pre)) != KS_OK ||
        (o->prefilter && (rc = sg__gates_build(d->run, d->nrun, &d->gates)) != KS_OK))
        goto fail;
    *out = d;
    return KS_OK;
fail:
    if (d) {
        sg__pre_free(d->pre);
        sg__recs_release(&d->recs);
        free(d->run);
        pthread_mutex_destroy(&d->mu);
        free(d);
    }
    sg__ruleset_free(rs);
    return rc;
}

size_t sg__det_nrun(const sg_det *d)
{
    return d->nrun;
}

size_t sg__det_nrecs(const sg_det *d)
{
    return d->recs.n;
}

void sg__det_counters(const sg_det *d, uint64_t *events, uint64_t *evals, uint64_t *matches)
{
    *events = d->events;
    *evals = d->evals;
    *matches = d->matches;
}

/* ---- engine hooks --------------------------------------------------------------------- */

static void diag_load(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                      const char *msg)
{
    /* a rule that does not load is skipped: a warning, not a failed run */
    sg__diag_to_engine(ud, lvl == KS_DIAG_ERROR ? KS_DIAG_WARN : lvl, path, line, fail, msg);
}

/* The rule configuration a compiled-rule cache entry is keyed by: rule
 * paths, mapping paths, placeholders (each list after its marker). */
static size_t cache_keys(const char **keys, size_t cap, const char *const *roots, size_t nroots,
                         const char *mapdir, const char **maps, size_t nmaps, sg_ruleset *rs)
{
    size_t n = 0;
    keys[n++] = "\001rules";
    for (size_t i = 0; i < nroots && n < cap; i++)
        keys[n++] = roots[i];
    if (n < cap)
        keys[n++] = "\001mappings";
    if (n < cap)
        keys[n++] = mapdir;
    for (size_t i = 0; i < nmaps && n < cap; i++)
        keys[n++] = maps[i];
    if (n < cap)
        keys[n++] = "\001placeholders";
    for (size_t i = 0; i < rs->nplaceholders && n < cap; i++)
        keys[n++] = rs->placeholders[i];
    return n < cap ? n : 0; /* too many to key: not cached */
}

/* Rules from their files (trees from sigma_ycache.c when unchanged):
 * mappings, bundled rules, the rule paths given, then references. */
static int load_rules(ks_engine *e, sg_ruleset *rs, const char *mapdir, const char **maps, size_t nmaps,
                      bool bundled, const char *dir, const char *const *roots, size_t nroots,
                      const char **paths, size_t nrules)
{
    struct stat st;
    int rc;
    if (mapdir[0] && stat(mapdir, &st) != 0)
        sg__rcache_dep(rs->rc, mapdir, true); /* appearing later changes the rules */
    else if (mapdir[0] && (rc = sg__ruleset_load_mappings(rs, mapdir)) != KS_OK)
        return rc;
    for (size_t i = 0; i < nmaps; i++)
        if ((rc = sg__ruleset_load_mappings(rs, maps[i])) != KS_OK)
            return rc;
    rs->yc = sg__ycache_open(e, roots, nroots); /* YAML of unchanged files is not parsed again */
    if (bundled && (rc = sg__ruleset_load_path(rs, dir)) != KS_OK)
        return rc;
    for (size_t i = 0; i < nrules; i++)
        if ((rc = sg__ruleset_load_path(rs, paths[i])) != KS_OK)
            return rc;
    sg__ycache_close(rs->yc);
    rs->yc = NULL;
    return sg__ruleset_finish(rs);
}

static int sigma_create(ks_engine *e, void **det)
{
    sg_ruleset *rs = NULL;
    sg_rcache *cache = NULL;
    const char **paths = NULL;
    char dir[4096], mapdir[4096] = "";
    int rc;

    *det = NULL;
    size_t nrules = ks__opt_list(e, "rules", &paths);
    bool builtin = ks__opt_bool(e, "builtin");
    const char *rdir = ks__rules_dir(e);
    if (!nrules && !builtin)
        return KS_OK;
    if ((rc = sg__ruleset_new(ks__engine_symtab(e), diag_load, e, &rs)) != KS_OK)
        return rc;
    rs->nplaceholders = ks__opt_list(e, "sigma.placeholder", (const char ***)&rs->placeholders);
    if (rdir && (size_t)snprintf(mapdir, sizeof mapdir, "%s/sigma/mappings", rdir) >= sizeof mapdir)
        mapdir[0] = 0;
    const char **maps = NULL;
    size_t nmaps = ks__opt_list(e, "sigma.mappings", &maps);
    bool bundled = builtin && ks__bundled(e, "sigma", dir, sizeof dir);
    const char *roots[65], *keys[256];
    size_t nroots = 0;
    roots[nroots++] = bundled ? dir : "";
    for (size_t i = 0; i < nrules && nroots < KS_ARRAY_LEN(roots); i++)
        roots[nroots++] = paths[i];
    size_t nkeys = cache_keys(keys, KS_ARRAY_LEN(keys), roots, nroots, mapdir, maps, nmaps, rs);
    cache = nkeys ? sg__rcache_open(e, keys, nkeys) : NULL;
    if (!sg__rcache_load(cache, rs)) { /* not kept, changed or damaged: compiled */
        if (cache) { /* a damaged entry may have left some of itself */
            sg__ruleset_free(rs);
            rs = NULL;
            if ((rc = sg__ruleset_new(ks__engine_symtab(e), diag_load, e, &rs)) != KS_OK)
                goto fail;
            rs->nplaceholders = ks__opt_list(e, "sigma.placeholder", (const char ***)&rs->placeholders);
        }
        sg__rcache_record(cache, rs);
        if ((rc = load_rules(e, rs, mapdir, maps, nmaps, bundled, dir, roots, nroots, paths, nrules)) != KS_OK)
            goto fail;
        sg__rcache_save(cache, rs);
    }
    sg__rcache_close(cache);
    cache = NULL;
    const char *unm = ks__opt(e, "sigma.unmapped");
    sg_det_opts o = {
        .prefilter = ks__opt_bool(e, "sigma.prefilter"),
        .pattern_needles = ks__opt_bool(e, "sigma.pattern_needles"),
        .run_unmapped = strcmp(unm, "run") == 0 || strcmp(unm, "all") == 0,
        .max_records = (size_t)ks__opt_int(e, "sigma.correlation.max_records"),
        .slow_rule_ns = ks__opt_duration(e, "sigma.slow_rule"),
        .engine = e,
    };
    sg_det *d = NULL;
    rc = sg__det_new(rs, &o, &d); /* takes rs */
    rs = NULL;
    if (rc != KS_OK)
        goto fail;
    uint32_t nn = 0, na = 0;
    sg__pre_stats(d->pre, &nn, &na);
    ks_loc loc = KS_LOC_NONE;
    ks__diag(e, KS_DIAG_INFO, KS_OK, "sigma", &loc,
             "%llu rules loaded, %llu failed, %llu unmapped; %zu run (%u prefilter needles, "
             "%u rules always evaluated)",
             (unsigned long long)d->rs->loaded, (unsigned long long)d->rs->failed,
             (unsigned long long)d->rs->unmapped, d->nrun, nn, na);
    *det = d;
    return KS_OK;
fail:
    sg__ruleset_free(rs);
    sg__rcache_close(cache);
    return rc;
}

static int sigma_worker_new(void *det, ks_worker *w, void **out)
{
    sg_det *d = det;
    sg_ws *ws = calloc(1, sizeof *ws);
    int rc = KS_ENOMEM;
    KS_UNUSED(w);
    if (!ws)
        return rc;
    ws->d = d;
    if ((rc = sg__scratch_init(&ws->sc, d->rs)) != KS_OK ||
        (rc = sg__pre_ws_new(d->pre, &ws->pw)) != KS_OK ||
        (rc = sg__recs_init(&ws->recs, d->worker_max)) != KS_OK) {
        sg__scratch_release(&ws->sc);
        sg__pre_ws_free(ws->pw);
        sg__recs_release(&ws->recs);
        free(ws);
        return rc;
    }
    *out = ws;
    return KS_OK;
}

/* Matched fields of a rule, as key=value text (first MAX_MATCHED present). */
static size_t matched_fields(const sg_rule *r, sg_scratch *sc, ks_kv *kv, char *buf, size_t cap)
{
    size_t n = 0, used = 0;
    for (uint32_t s = 0; s < r->nsearches && n < MAX_MATCHED; s++) {
        const sg_search *se = &r->searches[s];
        for (uint32_t g = 0; g < se->n && n < MAX_MATCHED; g++) {
            for (uint32_t i = 0; i < se->groups[g].n && n < MAX_MATCHED; i++) {
                const sg_item *it = &se->groups[g].items[i];
                if (!it->field)
                    continue;
                bool dupe = false;
                for (size_t k = 0; k < n && !dupe; k++)
                    dupe = strcmp(kv[k].key, it->field) == 0;
                const ks_value *v = dupe ? NULL : sg__lookup(sc, it->syms, it->nsyms);
                const char *t;
                size_t tn;
                if (!v || !sg__value_text(v, sc, &t, &tn))
                    continue;
                tn = KS_MIN(tn, 512);
                /* A NUL inside the value would end the reported text there
                 * ("a\0b mimikatz" shown as "a") although the rule matched
                 * all of it: each NUL is shown as U+2400 (3 bytes). */
                if (used + tn * 3 + 1 > cap)
                    return n;
                kv[n].key = it->field;
                kv[n++].value = buf + used;
                for (size_t k = 0; k < tn; k++) {
                    if (t[k])
                        buf[used++] = t[k];
                    else
                        used += (size_t)snprintf(buf + used, 4, "\xe2\x90\x80");
                }
                buf[used++] = 0;
            }
        }
    }
    return n;
}

static int emit_match(sg_det *d, const sg_rule *r, const ks_event *ev, sg_scratch *sc)
{
    ks_evidence evi;
    ks_kv matched[MAX_MATCHED];
    ks_kv details[3];
    char buf[MAX_MATCHED * (512 * 3 + 1)]; /* values up to 512 bytes, NULs shown in 3 */
    char ctx[KS_EVIDENCE_BUF];
    size_t nd = 0;

    memset(&evi, 0, sizeof evi);
    evi.path = ev->prov.path;
    evi.format = ev->prov.format;
    evi.record = ev->prov.record;
    evi.line = ev->prov.line;
    evi.offset = ev->prov.offset;
    evi.time = ev->time;
    if (d->o.engine) /* copied by the emit: no interning per match */
        ks__evidence_from_event_buf(&evi, ev, ctx);
    details[nd++] = (ks_kv){"rule_file", r->path};
    if (r->status)
        details[nd++] = (ks_kv){"status", r->status};
    if (r->ls)
        details[nd++] = (ks_kv){"logsource", r->ls->key};
    ks_finding f = {
        .rule_id = r->id,
        .title = r->title,
        .detector = "sigma",
        .description = r->description,
        .severity = r->sev,
        .techniques = r->techniques,
        .ntechniques = r->ntech,
        .first = ev->time,
        .last = ev->time,
        .evidence = &evi,
        .nevidence = 1,
        .event_count = 1,
        .matched = matched,
        .nmatched = matched_fields(r, sc, matched, buf, sizeof buf),
        .details = details,
        .ndetails = nd,
    };
    return d->o.emit(d->o.emit_ud, &f);
}

/* A rule whose evaluation on one record took longer than sigma.slow_rule
 * (a backtracking regex under PCRE2's limits: 8 ms a record turns a
 * million-record hunt into hours). Said once per rule, with the record
 * it was timed on, so the user can fix or drop the rule. */
static void slow_check(sg_det *d, const sg_rule *r, const ks_event *ev, sg_scratch *sc, uint64_t ns)
{
    int z = 0;
    struct timespec a, b;
    if (ns <= (uint64_t)d->o.slow_rule_ns || !d->o.engine ||
        __atomic_load_n(&r->slow_reported, __ATOMIC_RELAXED))
        return;
    /* The wall clock also counts time the thread was not running (a
     * loaded machine): confirm with this thread's CPU time, once more.
     * The evaluation is pure, so the scratch ends as it was. */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    sc->re_err = 0;
    sg__rule_eval(r, ev, sc);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    ns = (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    if (ns <= (uint64_t)d->o.slow_rule_ns ||
        !__atomic_compare_exchange_n((int *)&r->slow_reported, &z, 1, false, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return;
    ks_loc loc = KS_LOC_NONE;
    loc.path = ev->prov.path;
    loc.record = ev->prov.record;
    loc.line = ev->prov.line;
    loc.offset = ev->prov.offset;
    ks__diag(d->o.engine, KS_DIAG_WARN, KS_ELIMIT, "sigma", &loc,
             "rule %s (%s, %s) took %.1f ms on this record (sigma.slow_rule %.1f ms): a rule this "
             "slow on every record makes the hunt crawl (a backtracking regular expression?); "
             "said once per rule", r->id && *r->id ? r->id : "?", r->title ? r->title : "", r->path,
             (double)ns / 1e6, (double)d->o.slow_rule_ns / 1e6);
}

/* A regex that hit PCRE2's match or depth limit decided nothing: a record
 * that really matches would be missed without a word. Reported with the
 * file, record and rule the first time per rule (a catastrophic pattern
 * would otherwise flood), counted always, totalled at the end. */
static void regex_gave_up(sg_det *d, const sg_rule *r, const ks_event *ev, int err)
{
    int z = 0;
    __atomic_add_fetch(&d->re_errors, 1, __ATOMIC_RELAXED);
    if (!d->o.engine || !__atomic_compare_exchange_n((int *)&r->re_reported, &z, 1, false,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    ks_loc loc = KS_LOC_NONE;
    PCRE2_UCHAR why[128];
    loc.path = ev->prov.path;
    loc.record = ev->prov.record;
    loc.line = ev->prov.line;
    loc.offset = ev->prov.offset;
    if (pcre2_get_error_message(err, why, sizeof why) < 0)
        snprintf((char *)why, sizeof why, "error %d", err);
    ks__diag(d->o.engine, KS_DIAG_WARN, KS_ELIMIT, "sigma", &loc,
             "rule %s (%s, %s): a regular expression gave up (%s); the record counts as not "
             "matching this rule, which may be a missed detection; later records are counted "
             "in the summary", r->id && *r->id ? r->id : "?", r->title ? r->title : "", r->path,
             (const char *)why);
}

static int sigma_on_event(void *wsp, const ks_event *ev)
{
    sg_ws *ws = wsp;
    sg_det *d = ws->d;
    const uint32_t *cand;
    int rc = KS_OK;

    ws->events++;
    bool timed = d->o.slow_rule_ns > 0 && ws->events % SLOW_SAMPLE == 1;
    sg__scratch_event(&ws->sc, ev);
    size_t n = sg__pre_candidates(d->pre, ws->pw, ev, &ws->sc, &cand);
    sg_gate_key key;
    sg__gates_event(&key);
    for (size_t i = 0; i < n; i++) {
        if (!sg__gate_pass(d->gates, cand[i], &ws->sc, &key))
            continue;
        const sg_rule *r = d->run[cand[i]];
        ws->evals++;
        uint64_t t0 = timed ? ks__now_ns() : 0;
        ws->sc.re_err = 0;
        bool hit = sg__rule_eval(r, ev, &ws->sc);
        if (timed)
            slow_check(d, r, ev, &ws->sc, ks__now_ns() - t0);
        if (ws->sc.re_err)
            regex_gave_up(d, r, ev, ws->sc.re_err);
        if (!hit)
            continue;
        ws->matches++;
        if (r->emit && (rc = emit_match(d, r, ev, &ws->sc)) != KS_OK && rc != KS_ELIMIT)
            return rc;
        if (r->ncorr_uses)
            sg__corr_collect(d->rs, r, ev, &ws->sc, &ws->recs);
    }
    return KS_OK;
}

static void sigma_worker_done(void *det, void *wsp)
{
    sg_det *d = det;
    sg_ws *ws = wsp;
    if (!ws)
        return;
    pthread_mutex_lock(&d->mu);
    d->events += ws->events;
    d->evals += ws->evals;
    d->matches += ws->matches;
    if (ws->recs.n || ws->recs.dropped)
        (void)sg__recs_merge(&d->recs, &ws->recs);
    pthread_mutex_unlock(&d->mu);
    sg__scratch_release(&ws->sc);
    sg__pre_ws_free(ws->pw);
    sg__recs_release(&ws->recs);
    free(ws);
}

static int sigma_finish(void *det)
{
    sg_det *d = det;
    if (d->o.engine && ks__opt_bool(d->o.engine, "sigma.stats")) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->o.engine, KS_DIAG_INFO, KS_OK, "sigma", &loc,
                 "%llu events, %llu rule evaluations (%.2f per event), %llu matches",
                 (unsigned long long)d->events, (unsigned long long)d->evals,
                 d->events ? (double)d->evals / (double)d->events : 0.0,
                 (unsigned long long)d->matches);
    }
    if (d->recs.dropped && d->o.engine) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->o.engine, KS_DIAG_WARN, KS_ELIMIT, "sigma", &loc,
                 "correlation record cap (%zu) reached: %llu base-rule matches dropped; "
                 "raise sigma.correlation.max_records",
                 d->recs.max, (unsigned long long)d->recs.dropped);
    }
    if (d->re_errors && d->o.engine) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->o.engine, KS_DIAG_WARN, KS_ELIMIT, "sigma", &loc,
                 "%llu rule evaluations could not decide because a regular expression gave up "
                 "(the rules are named above); those records count as not matching",
                 (unsigned long long)d->re_errors);
    }
    int rc = sg__corr_run(d->rs, &d->recs, d->o.emit, d->o.emit_ud);
    return rc == KS_ELIMIT ? KS_OK : rc;
}

static void sigma_destroy(void *det)
{
    sg_det *d = det;
    if (!d)
        return;
    sg__pre_free(d->pre);
    sg__gates_free(d->gates);
    sg__recs_release(&d->recs);
    free(d->run);
    sg__ruleset_free(d->rs);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

const struct ks_detector ks_detector_sigma = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "sigma",
    .description = "Sigma detection and correlation rules (SigmaHQ and kensa's own)",
    .flags = KS_DET_EVENTS,
    .create = sigma_create,
    .worker_new = sigma_worker_new,
    .on_event = sigma_on_event,
    .worker_done = sigma_worker_done,
    .finish = sigma_finish,
    .destroy = sigma_destroy,
};
