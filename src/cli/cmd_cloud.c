/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa cloud audit PATH...`: the storage exposure checks over exported
 * configurations (the hunt engine with only the cloud detector).
 * `kensa cloud probe URL... | --targets FILE`: anonymous listing/read probe
 * of Azure Blob containers and S3 buckets (cloud_probe.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char *const cmd_cloud_usage =
    "usage: kensa cloud audit [hunt options] PATH...\n"
    "       kensa cloud probe [options] URL... | --targets FILE\n\n"
    "audit: storage exposure checks over Azure/AWS/GCP CLI exports (docs/CLOUD.md)\n"
    "probe: anonymous list/read test of container or bucket URLs; options:\n"
    "  --targets FILE       one URL per line (# comments)\n"
    "  --concurrency N      targets in parallel (8)\n"
    "  --timeout TIME       per request (20s; a bare number is seconds)\n"
    "  --retries N          on throttling and transport errors, with backoff (3)\n"
    "  --rate R             requests per second overall (0: unlimited)\n"
    "  --max-pages N        listing pages per target (50)\n"
    "  --page-size N        objects per page (1000)\n"
    "  --fetch-sample N     download N objects per listable target (0: never)\n"
    "  --sample-dir DIR     where samples go (kensa-samples)\n"
    "  --provider azure|s3  do not guess from the host name\n"
    "  --insecure           skip TLS verification (emulators only)\n"
    "  --json FILE, --csv FILE, --ocsf FILE, --html FILE, --force, -q\n"
    "Each probe option is also the option probe.NAME (kensa help options).\n";

static int audit(int argc, char **argv)
{
    static const char *const fixed[] = {"mode", "events", "detector.sigma", "false", "detector.identity", "false",
                                        "detector.exchange", "false", NULL};
    return cli_hunt_main(argc, argv, "cloud audit", fixed);
}

static int add_url(char ***urls, size_t *n, size_t *cap, const char *u);

static int read_targets(const char *file, char ***urls, size_t *n, size_t *cap)
{
    FILE *fp = fopen(file, "r");
    char line[4096];
    int rc = 0;
    if (!fp) {
        cli_error("cloud probe", "cannot read %s", file);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, "\r\n")] = 0;
        if (*s && *s != '#')
            rc = add_url(urls, n, cap, s);
    }
    fclose(fp);
    return rc;
}

/* probe's flags: each sets a probe.* option (kensa help options) or is
 * handled here (key NULL). */
static const struct probe_flag {
    const char *name;
    const char *key;
    int has_arg;
} probe_flags[] = {
    {"targets", NULL, 1},          {"concurrency", "probe.concurrency", 1},
    {"timeout", "probe.timeout", 1}, {"retries", "probe.retries", 1},
    {"rate", "probe.rate", 1},     {"max-pages", "probe.max_pages", 1},
    {"page-size", "probe.page_size", 1}, {"fetch-sample", "probe.fetch_sample", 1},
    {"sample-dir", "probe.sample_dir", 1}, {"provider", "probe.provider", 1},
    {"insecure", "probe.insecure", 0}, {"force", "output.force", 0},
    {"json", NULL, 1},
    {"csv", NULL, 1},              {"ocsf", NULL, 1},
    {"html", NULL, 1},             {"quiet", NULL, 0},
};
#define NPROBE_FLAGS (sizeof probe_flags / sizeof probe_flags[0])

static int add_url(char ***urls, size_t *n, size_t *cap, const char *u)
{
    if (cli_grow(urls, cap, *n, sizeof **urls, 64))
        return -1;
    if (!((*urls)[*n] = strdup(u)))
        return -1;
    (*n)++;
    return 0;
}

static int probe(int argc, char **argv)
{
    struct option lo[NPROBE_FLAGS + 1];
    cli_run run;
    ks_engine *e = NULL;
    char **urls = NULL;
    size_t n = 0, cap = 0;
    int status = KS_EXIT_ERRORS, c;
    memset(&run, 0, sizeof run);
    memset(lo, 0, sizeof lo);
    run.cmd = "cloud probe";
    for (size_t i = 0; i < NPROBE_FLAGS; i++)
        lo[i] = (struct option){probe_flags[i].name, probe_flags[i].has_arg ? required_argument : no_argument,
                                NULL, 256 + (int)i};
    if (ks_engine_new(&e) != KS_OK)
        goto out;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":q", lo, NULL)) != -1) {
        if (c == 'q') {
            run.quiet = true;
            continue;
        }
        if (c < 256) {
            cli_error(run.cmd, "%s option '%s' (see 'kensa help cloud')",
                      c == ':' ? "missing value for" : "unknown", argv[optind - 1]);
            goto out;
        }
        const struct probe_flag *f = &probe_flags[c - 256];
        const char *v = f->has_arg ? optarg : "true";
        if (f->has_arg && v[0] == '-' && v[1]) {
            cli_error(run.cmd, "--%s needs a value, got the option '%s'", f->name, v);
            goto out;
        }
        if (f->key) {
            if (ks_engine_set(e, f->key, v) != KS_OK) {
                cli_error(run.cmd, "%s", ks_engine_errmsg(e));
                goto out;
            }
        } else if (!strcmp(f->name, "targets")) {
            if (read_targets(v, &urls, &n, &cap) != 0)
                goto out;
        } else if (!strcmp(f->name, "quiet")) {
            run.quiet = true;
        } else if (cli_add_output(&run, !strcmp(f->name, "json") ? "jsonl" : f->name, v) != 0) {
            goto out;
        }
    }
    for (; optind < argc; optind++)
        if (add_url(&urls, &n, &cap, argv[optind]) != 0)
            goto out;
    if (!n) {
        cli_error("cloud probe", "no URLs to probe");
        goto out;
    }
    /* nothing to walk: the run only sorts the probe's findings for the
     * outputs, so no detector needs to start */
    ks_plugin_info pi;
    for (size_t i = 0; ks_plugin_at(KS_PLUGIN_DETECTOR, i, &pi) == KS_OK; i++) {
        char key[64];
        snprintf(key, sizeof key, "detector.%s", pi.name);
        ks_engine_set(e, key, "false");
    }
    if (cli_open_outputs(e, &run) != 0)
        goto out;
    ks_engine_probe(e, (const char *const *)urls, n, run.quiet ? NULL : stdout);
    ks_engine_run(e);
    status = cli_finish(e, &run);
out:
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    ks_engine_free(e);
    return status;
}

int cmd_cloud(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "audit"))
        return audit(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "probe"))
        return probe(argc - 1, argv + 1);
    fputs(cmd_cloud_usage, stderr);
    return KS_EXIT_ERRORS;
}
