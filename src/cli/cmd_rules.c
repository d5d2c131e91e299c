/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa rules check PATH...`: loads Sigma rules exactly as a hunt would
 * (ks_rules_check: same loader, same logsource mappings) and reports every
 * rule that does not load with its file, line and classified reason, then
 * the counts: loaded, failed (per reason), and unmapped (loaded, but no
 * logsource mapping makes them run). Exit status 0 when every rule loaded,
 * 2 when some failed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char *const cmd_rules_usage =
    "usage: kensa rules check [--mappings PATH]... [--unmapped] [--quiet] PATH...\n"
    "\n"
    "Loads Sigma rule files and directories (recursively) and lists the rules\n"
    "that fail to load (file:line, reason class, message) and the totals.\n"
    "  --mappings PATH  extra logsource/field mapping file or directory\n"
    "  --unmapped       also list loaded rules whose logsource has no mapping\n"
    "  -q, --quiet      totals only\n";

static void on_problem(void *ud, const ks_rule_problem *p)
{
    bool quiet = *(bool *)ud;
    if (quiet)
        return;
    if (p->level == KS_DIAG_INFO)
        printf("UNMAPPED %s:%u %s\n", p->path, p->line, p->msg);
    else
        printf("%s %s:%u [%s] %s\n", p->level == KS_DIAG_WARN ? "WARN" : "FAIL", p->path, p->line,
               p->reason, p->msg);
}

int cmd_rules(int argc, char **argv)
{
    static const struct option lo[] = {{"mappings", required_argument, NULL, 'm'},
                                       {"unmapped", no_argument, NULL, 'u'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
    ks_engine *e = NULL;
    ks_rules_report rep;
    bool quiet = false;
    unsigned flags = 0;
    int rc = KS_EXIT_ERRORS, c;

    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fputs(cmd_rules_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    if (ks_engine_new(&e) != KS_OK) {
        cli_error("rules", "out of memory");
        return KS_EXIT_ERRORS;
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":q", lo, NULL)) != -1) {
        if (c == 'm') {
            if (ks_engine_set(e, "sigma.mappings", optarg) != KS_OK) {
                cli_error("rules", "%s", ks_engine_errmsg(e));
                goto out;
            }
        } else if (c == 'u') {
            flags |= KS_RULES_LIST_UNMAPPED;
        } else if (c == 'q') {
            quiet = true;
        } else {
            cli_error("rules", "%s option '%s' (see 'kensa help rules')",
                      c == ':' ? "missing value for" : "unknown", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        fputs(cmd_rules_usage, stderr);
        goto out;
    }
    if (ks_rules_check(e, (const char *const *)argv + optind, (size_t)(argc - optind), flags, on_problem,
                       &quiet, &rep) != KS_OK) {
        cli_error("rules", "%s", ks_engine_errmsg(e)[0] ? ks_engine_errmsg(e) : "out of memory");
        goto out;
    }
    uint64_t total = rep.loaded + rep.failed;
    printf("%llu files, %llu rules: %llu loaded (%llu detection, %llu correlation, %llu filter), "
           "%llu failed, %llu unmapped; load rate %.1f%%\n",
           (unsigned long long)rep.files, (unsigned long long)total, (unsigned long long)rep.loaded,
           (unsigned long long)rep.detection, (unsigned long long)rep.correlation,
           (unsigned long long)rep.filter, (unsigned long long)rep.failed, (unsigned long long)rep.unmapped,
           total ? 100.0 * (double)rep.loaded / (double)total : 100.0);
    for (size_t i = 0; i < rep.nreasons; i++)
        printf("  failed: %-36s %llu\n", rep.reasons[i].name, (unsigned long long)rep.reasons[i].count);
    rc = rep.failed ? KS_EXIT_ERRORS : KS_EXIT_CLEAN;
out:
    ks_engine_free(e);
    return rc;
}
