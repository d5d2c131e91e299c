/* SPDX-License-Identifier: Apache-2.0
 *
 * ks_rules_check: loads Sigma rules exactly as a hunt would (the same
 * loader, the bundled logsource mappings plus sigma.mappings) and reports
 * every problem and the totals, without running anything. `kensa rules
 * check` is a thin printer over it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "detect/sigma/sigma.h"

typedef struct check_ctx {
    ks_rule_problem_fn fn;
    void *ud;
} check_ctx;

static void on_load(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail, const char *msg)
{
    check_ctx *c = ud;
    ks_rule_problem p = {lvl, path, line, sg__fail_name(fail), msg};
    if (c->fn)
        c->fn(c->ud, &p);
}

int ks_rules_check(ks_engine *e, const char *const *paths, size_t n, unsigned flags, ks_rule_problem_fn fn,
                   void *ud, ks_rules_report *out)
{
    sg_ruleset *rs = NULL;
    check_ctx c = {fn, ud};
    char dir[4096];
    struct stat sb;
    const char **maps = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = sg__ruleset_new(ks__engine_symtab(e), on_load, &c, &rs)) != KS_OK)
        return rc;
    if ((size_t)snprintf(dir, sizeof dir, "%s/sigma/mappings", ks__rules_dir(e)) < sizeof dir &&
        stat(dir, &sb) == 0 && (rc = sg__ruleset_load_mappings(rs, dir)) != KS_OK)
        goto out;
    size_t nmaps = ks__opt_list(e, "sigma.mappings", &maps);
    for (size_t i = 0; i < nmaps; i++)
        if ((rc = sg__ruleset_load_mappings(rs, maps[i])) != KS_OK)
            goto out;
    for (size_t i = 0; i < n; i++)
        if ((rc = sg__ruleset_load_path(rs, paths[i])) != KS_OK) {
            ks__seterr(e, "out of memory while loading %s", paths[i]);
            goto out;
        }
    if ((rc = sg__ruleset_finish(rs)) != KS_OK)
        goto out;
    for (size_t i = 0; i < rs->nrules; i++) {
        const sg_rule *r = rs->rules[i];
        out->detection += r->kind == SG_R_DETECTION;
        out->correlation += r->kind == SG_R_CORRELATION;
        out->filter += r->kind == SG_R_FILTER;
        if ((flags & KS_RULES_LIST_UNMAPPED) && fn && r->kind == SG_R_DETECTION && !r->ls) {
            char msg[512];
            snprintf(msg, sizeof msg, "logsource %s/%s/%s", r->product ? r->product : "*",
                     r->category ? r->category : "*", r->service ? r->service : "*");
            ks_rule_problem p = {KS_DIAG_INFO, r->path, r->line, "unmapped", msg};
            fn(ud, &p);
        }
    }
    out->files = rs->files;
    out->loaded = rs->loaded;
    out->failed = rs->failed;
    out->unmapped = rs->unmapped;
    for (int f = 1; f < SG_FAIL_COUNT && out->nreasons < KS_ARRAY_LEN(out->reasons); f++) {
        if (!rs->fails[f])
            continue;
        out->reasons[out->nreasons].name = sg__fail_name(f);
        out->reasons[out->nreasons].count = rs->fails[f];
        out->nreasons++;
    }
out:
    sg__ruleset_free(rs);
    return rc;
}
