/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa cloud audit PATH...`: the storage exposure checks over exported
 * configurations (the hunt engine with only the cloud detector).
 * `kensa cloud probe URL... | --targets FILE`: anonymous listing/read probe
 * of Azure Blob containers and S3 buckets (cloud_probe.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "detect/cloud_probe.h"

const char *const cmd_cloud_usage =
    "usage: kensa cloud audit [hunt options] PATH...\n"
    "       kensa cloud probe [options] URL... | --targets FILE\n\n"
    "audit: storage exposure checks over Azure/AWS/GCP CLI exports (docs/CLOUD.md)\n"
    "probe: anonymous list/read test of container or bucket URLs; options:\n"
    "  --targets FILE       one URL per line (# comments)\n"
    "  --concurrency N      targets in parallel (8)\n"
    "  --timeout SECONDS    per request (20)\n"
    "  --retries N          on throttling and transport errors, with backoff (3)\n"
    "  --rate R             requests per second overall (unlimited)\n"
    "  --max-pages N        listing pages per target (50)\n"
    "  --page-size N        objects per page (1000)\n"
    "  --fetch-sample N     download N objects per listable target (0: never)\n"
    "  --sample-dir DIR     where samples go (kensa-samples)\n"
    "  --provider azure|s3  do not guess from the host name\n"
    "  --insecure           skip TLS verification (emulators only)\n"
    "  --json FILE, --csv FILE, --ocsf FILE, --html FILE, --force, -q\n";

static int audit(int argc, char **argv)
{
    static const char *const fixed[] = {"mode", "events", "detector.sigma", "false", "detector.identity", "false",
                                        "detector.exchange", "false", NULL};
    return cli_hunt_main(argc, argv, "cloud audit", fixed);
}

static int read_targets(const char *file, char ***urls, size_t *n, size_t *cap)
{
    FILE *fp = fopen(file, "r");
    char line[4096];
    if (!fp) {
        cli_error("cloud probe", "cannot read %s", file);
        return -1;
    }
    while (fgets(line, sizeof line, fp)) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, "\r\n")] = 0;
        if (!*s || *s == '#')
            continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            char **nu = realloc(*urls, nc * sizeof *nu);
            if (!nu)
                break;
            *urls = nu;
            *cap = nc;
        }
        (*urls)[(*n)++] = strdup(s);
    }
    fclose(fp);
    return 0;
}

static int probe(int argc, char **argv)
{
    cloud_probe_opts o;
    cli_run run;
    ks_engine *e = NULL;
    char **urls = NULL;
    size_t n = 0, cap = 0;
    int status = KS_EXIT_ERRORS;
    bool force = false;
    ks__cloud_probe_defaults(&o);
    memset(&run, 0, sizeof run);
    run.cmd = "cloud probe";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (ARG("--targets")) {
            if (read_targets(v, &urls, &n, &cap) != 0)
                goto out;
        } else if (ARG("--concurrency")) {
            o.concurrency = atoi(v);
        } else if (ARG("--timeout")) {
            o.timeout_ms = (long)(strtod(v, NULL) * 1000);
        } else if (ARG("--retries")) {
            o.retries = atoi(v);
        } else if (ARG("--rate")) {
            o.rate = strtod(v, NULL);
        } else if (ARG("--max-pages")) {
            o.max_pages = atoi(v);
        } else if (ARG("--page-size")) {
            o.page_size = atoi(v);
        } else if (ARG("--fetch-sample")) {
            o.fetch_sample = atoi(v);
        } else if (ARG("--sample-dir")) {
            o.sample_dir = v;
        } else if (ARG("--provider")) {
            o.provider = v;
        } else if (ARG("--json")) {
            cli_add_output(&run, "jsonl", v);
        } else if (ARG("--csv")) {
            cli_add_output(&run, "csv", v);
        } else if (ARG("--ocsf")) {
            cli_add_output(&run, "ocsf", v);
        } else if (ARG("--html")) {
            cli_add_output(&run, "html", v);
        } else if (!strcmp(a, "--force")) {
            force = true;
        } else if (!strcmp(a, "--insecure")) {
            o.insecure = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            run.quiet = true;
        } else if (a[0] == '-') {
            cli_error("cloud probe", "unknown or incomplete option '%s' (see 'kensa help cloud')", a);
            goto out;
        } else {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                char **nu = realloc(urls, nc * sizeof *nu);
                if (!nu)
                    goto out;
                urls = nu;
                cap = nc;
            }
            urls[n++] = strdup(a);
        }
#undef ARG
    }
    if (!n) {
        cli_error("cloud probe", "no URLs to probe");
        goto out;
    }
    if (o.concurrency <= 0 || o.timeout_ms <= 0 || o.max_pages <= 0 || o.page_size <= 0 || o.retries < 0) {
        cli_error("cloud probe", "concurrency, timeout, max-pages and page-size must be positive");
        goto out;
    }
    if (ks_engine_new(&e) != KS_OK)
        goto out;
    /* nothing to walk: the run only folds the probe's findings into a
     * sorted report, so no detector needs to start */
    static const char *const off[] = {"sigma", "identity", "exchange", "yara", "ioc", "cloud"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "detector.%s", off[i]);
        ks_engine_set(e, key, "false");
    }
    if (force)
        ks_engine_set(e, "output.force", "true");
    if (cli_open_outputs(e, &run) != 0)
        goto out;
    ks__cloud_probe(e, (const char *const *)urls, n, &o, run.quiet ? NULL : stdout);
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
