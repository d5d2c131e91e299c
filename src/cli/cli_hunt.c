/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa hunt` and the engine set-up shared by every hunting command:
 * flags (flags.def) to engine options, evidence paths, outputs, located
 * diagnostics on stderr (rate-limited so a shredded file cannot flood the
 * terminal), a progress line on a terminal for runs over a second, and the
 * exit status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

#define MAX_DIAG_PRINTED 200

typedef struct flag {
    const char *name;
    const char *key;     /* engine option, or NULL: handled here */
    int arg;             /* takes a value */
    const char *help;
} flag;

static const flag flags[] = {
#define KS_FLAG(name, key, arg, help) {name, key, arg, help},
#include "flags.def"
#undef KS_FLAG
};

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kensa %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_print_flags(void)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", flags[i].name, flags[i].arg ? " VALUE" : "");
        printf("  %-26s %s\n", left, flags[i].help);
    }
}

static unsigned long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static void on_diag(void *ud, const ks_diag *d)
{
    cli_run *run = ud;
    static const char *const lvl[] = {"info", "warning", "error"};
    if (d->level == KS_DIAG_INFO && !run->verbose)
        return;
    if (d->level != KS_DIAG_ERROR && run->printed >= MAX_DIAG_PRINTED && !run->verbose) {
        run->suppressed++;
        return;
    }
    run->printed++;
    if (run->progress_shown)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "kensa: %s: %s", lvl[d->level], d->loc.path ? d->loc.path : "");
    if (d->loc.chunk >= 0)
        fprintf(stderr, " chunk %lld", (long long)d->loc.chunk);
    if (d->loc.record)
        fprintf(stderr, " record %llu", (unsigned long long)d->loc.record);
    if (d->loc.line)
        fprintf(stderr, " line %llu", (unsigned long long)d->loc.line);
    if (d->loc.offset != UINT64_MAX)
        fprintf(stderr, " offset %llu", (unsigned long long)d->loc.offset);
    fprintf(stderr, "%s[%s] %s\n", d->loc.path ? ": " : "", d->component ? d->component : "", d->msg);
}

static void on_progress(void *ud, const ks_stats *s, const char *path)
{
    cli_run *run = ud;
    (void)path;
    unsigned long long el = now_ms() - run->t0;
    if (el < 1000)
        return;
    run->progress_shown = true;
    fprintf(stderr, "\r\033[K[kensa] %llu files, %llu events, %.1f MB, %llu findings, %llus",
            (unsigned long long)s->files_seen, (unsigned long long)s->events, (double)s->bytes / 1e6,
            (unsigned long long)s->findings, el / 1000);
}

static int add_output(cli_run *run, const char *name, const char *path)
{
    if (run->nout >= CLI_MAX_OUTPUTS) {
        cli_error(run->cmd, "too many outputs (at most %d)", CLI_MAX_OUTPUTS);
        return -1;
    }
    run->out_name[run->nout] = name;
    run->out_path[run->nout] = path;
    run->nout++;
    return 0;
}

int cli_add_output(cli_run *run, const char *name, const char *path)
{
    return add_output(run, name, path);
}

static int set_kv(ks_engine *e, cli_run *run, const char *kv)
{
    char key[256];
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
        cli_error(run->cmd, "--set needs key=value, got '%s'", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    if (ks_engine_set(e, key, eq + 1) != KS_OK) {
        cli_error(run->cmd, "%s", ks_engine_errmsg(e));
        return -1;
    }
    return 0;
}

/* Flags that name an output: --json FILE is output "jsonl" to FILE. */
static const char *output_flag(const char *name)
{
    static const char *const map[][2] = {
        {"json", "jsonl"}, {"csv", "csv"},     {"html", "html"},   {"ocsf", "ocsf"},
        {"stix", "stix"},  {"sarif", "sarif"}, {"timesketch", "timesketch"}, {"misp", "misp"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(name, map[i][0]))
            return map[i][1];
    return NULL;
}

/* Handles one flag that is not a plain engine option. */
static int local_flag(ks_engine *e, cli_run *run, const char *name, const char *val)
{
    if (!strcmp(name, "quiet")) {
        run->quiet = true;
    } else if (!strcmp(name, "verbose")) {
        run->verbose = true;
    } else if (!strcmp(name, "no-color")) {
        run->color = false;
        ks_engine_set(e, "color", "never");
    } else if (output_flag(name)) {
        return add_output(run, output_flag(name), val);
    } else if (!strcmp(name, "output")) {
        const char *colon = strchr(val, ':');
        if (!colon) {
            cli_error(run->cmd, "--output needs NAME:FILE, got '%s'", val);
            return -1;
        }
        char *nm = strndup(val, (size_t)(colon - val));
        if (!nm)
            return -1;
        return add_output(run, nm, colon + 1); /* nm lives for the process */
    } else if (!strcmp(name, "set")) {
        return set_kv(e, run, val);
    } else if (!strcmp(name, "config")) {
        if (ks_engine_load_config(e, val) != KS_OK) {
            cli_error(run->cmd, "%s", ks_engine_errmsg(e));
            return -1;
        }
    } else {
        /* A flag from flags.def with no key that no code here handles is a
         * programming error: say so rather than ignore it. */
        cli_error(run->cmd, "flag --%s is not implemented", name);
        return -1;
    }
    return 0;
}

int cli_setup(int argc, char **argv, const char *const *fixed, ks_engine **out, cli_run *run)
{
    ks_engine *e = NULL;
    bool only_paths = false;
    if (ks_engine_new(&e) != KS_OK) {
        cli_error(run->cmd, "out of memory");
        return KS_EXIT_ERRORS;
    }
    run->color = true;
    for (int i = 0; fixed && fixed[i]; i += 2)
        ks_engine_set(e, fixed[i], fixed[i + 1]);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_paths || a[0] != '-' || !strcmp(a, "-")) {
            if (ks_engine_add_path(e, a) != KS_OK)
                goto fail;
            run->npaths++;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_paths = true;
            continue;
        }
        if (!strcmp(a, "-q"))
            a = "--quiet";
        else if (!strcmp(a, "-v"))
            a = "--verbose";
        if (strncmp(a, "--", 2) != 0) {
            cli_error(run->cmd, "unknown option '%s' (see 'kensa help %s')", a, run->cmd);
            goto fail;
        }
        char name[64];
        const char *val = NULL, *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) {
            cli_error(run->cmd, "unknown option '%s'", a);
            goto fail;
        }
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        const flag *f = NULL;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            if (!strcmp(flags[k].name, name))
                f = &flags[k];
        if (!f) {
            cli_error(run->cmd, "unknown option '--%s' (see 'kensa help %s')", name, run->cmd);
            goto fail;
        }
        if (f->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                cli_error(run->cmd, "--%s needs a value", name);
                goto fail;
            }
        } else if (eq) {
            cli_error(run->cmd, "--%s takes no value", name);
            goto fail;
        }
        if (f->key) {
            if (ks_engine_set(e, f->key, f->arg ? val : (!strcmp(f->name, "no-builtin") ? "false" : "true")) != KS_OK) {
                cli_error(run->cmd, "%s", ks_engine_errmsg(e));
                goto fail;
            }
        } else if (local_flag(e, run, name, val) != 0) {
            goto fail;
        }
    }
    if (run->npaths == 0) {
        cli_error(run->cmd, "no evidence paths given (a file, a directory or - for stdin)");
        goto fail;
    }
    ks_engine_on_diag(e, on_diag, run);
    if (!run->quiet && isatty(STDERR_FILENO))
        ks_engine_on_progress(e, on_progress, run);
    *out = e;
    return 0;
fail:
    ks_engine_free(e);
    return KS_EXIT_ERRORS;
}

int cli_run_engine(ks_engine *e, cli_run *run)
{
    int rc;
    run->t0 = now_ms();
    rc = ks_engine_run(e);
    if (run->progress_shown)
        fputs("\r\033[K", stderr);
    if (rc != KS_OK) {
        cli_error(run->cmd, "%s%s%s", ks_strerror(rc), ks_engine_errmsg(e)[0] ? ": " : "", ks_engine_errmsg(e));
        return KS_EXIT_ERRORS;
    }
    return cli_finish(e, run);
}

int cli_finish(ks_engine *e, cli_run *run)
{
    int status = KS_EXIT_CLEAN;
    if (run->suppressed)
        fprintf(stderr, "kensa: %lu more warnings not shown (use --verbose)\n", run->suppressed);
    for (int i = 0; i < run->nout; i++) {
        FILE *fp = strcmp(run->out_path[i], "-") ? fopen(run->out_path[i], "w") : stdout;
        if (!fp) {
            cli_error(run->cmd, "cannot write %s", run->out_path[i]);
            status |= KS_EXIT_ERRORS;
            continue;
        }
        if (ks_engine_write(e, run->out_name[i], fp) != KS_OK) {
            cli_error(run->cmd, "%s", ks_engine_errmsg(e));
            status |= KS_EXIT_ERRORS;
        }
        if (fp != stdout)
            fclose(fp);
    }
    bool json_on_stdout = false;
    for (int i = 0; i < run->nout; i++)
        if (!strcmp(run->out_path[i], "-"))
            json_on_stdout = true;
    if (!run->quiet)
        ks_engine_write(e, "terminal", json_on_stdout ? stderr : stdout);
    const ks_stats *st = ks_engine_stats(e);
    if (ks_engine_nfindings(e) > 0 || st->findings > 0)
        status |= KS_EXIT_FINDINGS;
    if (st->errors > 0)
        status |= KS_EXIT_ERRORS;
    return status;
}

int cli_hunt_main(int argc, char **argv, const char *cmd, const char *const *fixed)
{
    ks_engine *e = NULL;
    cli_run run;
    memset(&run, 0, sizeof run);
    run.cmd = cmd;
    int rc = cli_setup(argc, argv, fixed, &e, &run);
    if (rc != 0)
        return rc;
    rc = cli_run_engine(e, &run);
    ks_engine_free(e);
    return rc;
}

const char *const cmd_hunt_usage =
    "usage: kensa hunt [options] PATH...\n\n"
    "Walks every PATH (file, directory, or - for stdin; .gz and .zst are read\n"
    "transparently), parses every recognised evidence format and runs every\n"
    "detector. Options (also settable in a config file, docs/CONFIG.md):\n";

int cmd_hunt(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(cmd_hunt_usage, stdout);
        cli_print_flags();
        return KS_EXIT_CLEAN;
    }
    return cli_hunt_main(argc, argv, "hunt", NULL);
}
