/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa rules check PATH...`: loads Sigma rules exactly as a hunt would
 * (same loader, same logsource mappings) and reports every rule that does
 * not load with its file, line and classified reason, then the counts:
 * loaded, failed (per reason), and unmapped (loaded, but no logsource
 * mapping makes them run). Exit status 0 when every rule loaded, 2 when
 * some failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "detect/sigma/sigma.h"

const char *const cmd_rules_usage =
    "usage: kensa rules check [--mappings PATH]... [--unmapped] [--quiet] PATH...\n"
    "\n"
    "Loads Sigma rule files and directories (recursively) and lists the rules\n"
    "that fail to load (file:line, reason class, message) and the totals.\n"
    "  --mappings PATH  extra logsource/field mapping file or directory\n"
    "  --unmapped       also list loaded rules whose logsource has no mapping\n"
    "  --quiet          totals only\n";

typedef struct check_state {
    bool quiet;
    unsigned long printed;
} check_state;

static void on_diag(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                    const char *msg)
{
    check_state *st = ud;
    if (st->quiet)
        return;
    printf("%s %s:%u [%s] %s\n", lvl == KS_DIAG_WARN ? "WARN" : "FAIL", path, line,
           sg__fail_name(fail), msg);
    st->printed++;
}

int cmd_rules(int argc, char **argv)
{
    ks_engine *e = NULL;
    sg_ruleset *rs = NULL;
    check_state st = {0};
    bool unmapped = false;
    int rc = KS_EXIT_ERRORS, npaths = 0;
    const char *maps[16];
    int nmaps = 0;

    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fputs(cmd_rules_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--mappings") == 0 && i + 1 < argc && nmaps < 16)
            maps[nmaps++] = argv[++i];
        else if (strcmp(argv[i], "--unmapped") == 0)
            unmapped = true;
        else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
            st.quiet = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("rules", "unknown flag %s", argv[i]);
            return KS_EXIT_ERRORS;
        } else
            npaths++;
    }
    if (!npaths) {
        fputs(cmd_rules_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    if (ks_engine_new(&e) != KS_OK || sg__ruleset_new(ks__engine_symtab(e), on_diag, &st, &rs) != KS_OK) {
        cli_error("rules", "out of memory");
        goto out;
    }
    char dir[4096];
    struct stat sb;
    if ((size_t)snprintf(dir, sizeof dir, "%s/sigma/mappings", ks__rules_dir(e)) < sizeof dir &&
        stat(dir, &sb) == 0)
        sg__ruleset_load_mappings(rs, dir);
    for (int i = 0; i < nmaps; i++)
        sg__ruleset_load_mappings(rs, maps[i]);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--mappings") == 0) {
            i++;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1])
            continue;
        if (sg__ruleset_load_path(rs, argv[i]) != KS_OK) {
            cli_error("rules", "out of memory while loading %s", argv[i]);
            goto out;
        }
    }
    sg__ruleset_finish(rs);
    unsigned long det = 0, corr = 0, filt = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *r = rs->rules[i];
        det += r->kind == SG_R_DETECTION;
        corr += r->kind == SG_R_CORRELATION;
        filt += r->kind == SG_R_FILTER;
        if (unmapped && !st.quiet && r->kind == SG_R_DETECTION && !r->ls)
            printf("UNMAPPED %s:%u logsource %s/%s/%s\n", r->path, r->line,
                   r->product ? r->product : "*", r->category ? r->category : "*",
                   r->service ? r->service : "*");
    }
    uint64_t total = rs->loaded + rs->failed;
    printf("%llu files, %llu rules: %llu loaded (%lu detection, %lu correlation, %lu filter), "
           "%llu failed, %llu unmapped; load rate %.1f%%\n",
           (unsigned long long)rs->files, (unsigned long long)total,
           (unsigned long long)rs->loaded, det, corr, filt, (unsigned long long)rs->failed,
           (unsigned long long)rs->unmapped, total ? 100.0 * (double)rs->loaded / (double)total : 100.0);
    for (int f = 1; f < SG_FAIL_COUNT; f++)
        if (rs->fails[f])
            printf("  failed: %-36s %llu\n", sg__fail_name(f), (unsigned long long)rs->fails[f]);
    rc = rs->failed ? KS_EXIT_ERRORS : KS_EXIT_CLEAN;
out:
    sg__ruleset_free(rs);
    ks_engine_free(e);
    return rc;
}
