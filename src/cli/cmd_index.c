/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa index build --db FILE PATH...`: indexes an exposed dump into the
 * exposure index (an engine run with only the "index" file detector).
 * `kensa index stats --db FILE [--domain D] [--json]`: the operator's view
 * of one domain's counts, or the whole index's totals. docs/PORTAL.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char *const cmd_index_usage =
    "usage: kensa index build --db FILE [options] PATH...\n"
    "       kensa index stats --db FILE [--key FILE] [--domain DOMAIN] [--json]\n\n"
    "build: reads mail stores, documents and archives under PATH and records per\n"
    "organisation (e-mail domain) the addresses, phones, people, documents and\n"
    "secrets they expose, as keyed hashes (docs/PORTAL.md). Re-running adds only\n"
    "files that are new or changed; an interrupted build resumes.\n"
    "  --db FILE            the index (SQLite, created if missing)\n"
    "  --key FILE           server secret (default FILE.key, created 0600 if missing)\n"
    "  --status STATUS      verified|unverified: has the dump's authenticity been checked\n"
    "  -t, --threads N      worker threads (0: one per core)\n"
    "  --batch N            rows per committed batch (100000)\n"
    "  --cache MB           database page cache while building (32)\n"
    "  --exclude GLOB       skip paths matching GLOB (repeatable)\n"
    "  -q, --quiet          no summary line\n"
    "stats: counts for one domain (JSON, integers under addresses/emails, phones,\n"
    "people, documents, secrets), or the index totals without --domain.\n";

static void on_diag(void *ud, const ks_diag *d)
{
    bool quiet = *(bool *)ud;
    if (d->level == KS_DIAG_INFO && quiet)
        return;
    fprintf(stderr, "kensa index: %s%s%s\n", d->loc.path ? d->loc.path : "", d->loc.path ? ": " : "",
            d->msg);
}

static int set(ks_engine *e, const char *k, const char *v)
{
    if (ks_engine_set(e, k, v) != KS_OK) {
        cli_error("index build", "%s", ks_engine_errmsg(e));
        return -1;
    }
    return 0;
}

static int build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"key", required_argument, NULL, 'k'},
        {"status", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},  {"exclude", required_argument, NULL, 'x'},
        {"cache", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    ks_engine *e = NULL;
    ks_plugin_info pi;
    const char *db = NULL;
    bool quiet = false;
    int c, rc = KS_EXIT_ERRORS;
    if (ks_engine_new(&e) != KS_OK) {
        cli_error("index build", "out of memory");
        return KS_EXIT_ERRORS;
    }
    /* only the index runs: the other detectors have nothing to add here */
    if (set(e, "mode", "files"))
        goto out;
    for (size_t i = 0; ks_plugin_at(KS_PLUGIN_DETECTOR, i, &pi) == KS_OK; i++) {
        char key[128];
        snprintf(key, sizeof key, "detector.%s", pi.name);
        if (strcmp(pi.name, "index") && set(e, key, "false"))
            goto out;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:qh", opts, NULL)) != -1) {
        const char *key = c == 'd' ? "index.db" : c == 'k' ? "index.key" : c == 's' ? "index.status"
                        : c == 't' ? "threads" : c == 'b' ? "index.batch" : c == 'x' ? "walk.exclude"
                        : c == 'c' ? "index.cache" : NULL;
        if (c == 'd')
            db = optarg;
        if (c == 'q')
            quiet = true;
        else if (c == 'h') {
            fputs(cmd_index_usage, stdout);
            rc = KS_EXIT_CLEAN;
            goto out;
        } else if (!key) {
            fputs(cmd_index_usage, stderr);
            goto out;
        } else if (set(e, key, optarg)) {
            goto out;
        }
    }
    if (!db || optind >= argc) {
        cli_error("index build", "needs --db FILE and at least one PATH (kensa help index)");
        goto out;
    }
    for (int i = optind; i < argc; i++)
        if (ks_engine_add_path(e, argv[i]) != KS_OK) {
            cli_error("index build", "%s", ks_engine_errmsg(e));
            goto out;
        }
    ks_engine_on_diag(e, on_diag, &quiet);
    if (ks_engine_run(e) != KS_OK) {
        cli_error("index build", "%s", ks_engine_errmsg(e));
        goto out;
    }
    const ks_stats *st = ks_engine_stats(e);
    if (!quiet)
        fprintf(stderr, "kensa index: %s: done in %.2f s\n", db, st->seconds);
    rc = st->errors ? KS_EXIT_ERRORS : KS_EXIT_CLEAN;
out:
    ks_engine_free(e);
    return rc;
}

static int stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"key", required_argument, NULL, 'k'},
        {"domain", required_argument, NULL, 'D'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *db = NULL, *key = NULL, *domain = NULL;
    char *json = NULL, err[512];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'k': key = optarg; break;
        case 'D': domain = optarg; break;
        case 'j': break; /* JSON is the only format */
        case 'h': fputs(cmd_index_usage, stdout); return KS_EXIT_CLEAN;
        default: fputs(cmd_index_usage, stderr); return KS_EXIT_ERRORS;
        }
    }
    if (!db || optind < argc) {
        cli_error("index stats", "needs --db FILE and no paths (kensa help index)");
        return KS_EXIT_ERRORS;
    }
    if (ks_index_stats(db, key, domain, &json, err, sizeof err) != KS_OK) {
        cli_error("index stats", "%s", err);
        return KS_EXIT_ERRORS;
    }
    puts(json);
    free(json);
    return KS_EXIT_CLEAN;
}

int cmd_index(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "build"))
        return build(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "stats"))
        return stats(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(cmd_index_usage, stdout);
        return KS_EXIT_CLEAN;
    }
    fputs(cmd_index_usage, stderr);
    return KS_EXIT_ERRORS;
}
