/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa hunt` and the engine set-up shared by every hunting command:
 * flags (flags.def) to engine options, evidence paths, outputs, located
 * diagnostics on stderr (rate-limited so a shredded file cannot flood the
 * terminal), a progress line on a terminal for runs over a second, and the
 * exit status.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

#define MAX_DIAG_PRINTED 200

/* A flag of the hunting commands: a registry option with a FLAG, or one of
 * the CLI's own (flags.def, key NULL). */
typedef struct flag {
    const char *name;
    int short_flag;
    const char *metavar; /* NULL: takes no value */
    const char *help;
    const char *key;     /* engine option, or NULL: handled here */
    const char *value;   /* what a valueless option flag sets ("true"/"false") */
} flag;

static const flag local_flags[] = {
#define KS_FLAG(name, short_flag, metavar, help) {name, short_flag, metavar, help, NULL, NULL},
#include "flags.def"
#undef KS_FLAG
};

#define MAX_FLAGS 128

/* Every flag: the CLI's own, then the registry's in table order. */
static size_t all_flags(flag *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof local_flags / sizeof local_flags[0] && n < cap; i++)
        out[n++] = local_flags[i];
    for (size_t i = 0; ks_option_at(i) && n < cap; i++) {
        const ks_option *o = ks_option_at(i);
        if (!o->flag)
            continue;
        flag f = {o->flag, o->short_flag, o->type == KS_OPT_BOOL ? NULL : (o->metavar ? o->metavar : "VALUE"),
                  o->doc, o->key, NULL};
        if (o->type == KS_OPT_BOOL)
            f.value = strncmp(o->flag, "no-", 3) ? "true" : "false";
        out[n++] = f;
    }
    return n;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kensa %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first)
{
    void *v;
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : first;
    if (nc <= n || nc > SIZE_MAX / elem)
        return -1;
    /* pv points at a T *: copied, not read as a void * (aliasing rules) */
    memcpy(&v, pv, sizeof v);
    void *nv = realloc(v, nc * elem);
    if (!nv)
        return -1;
    memcpy(pv, &nv, sizeof nv);
    *cap = nc;
    return 0;
}

void cli_print_flags(FILE *fp)
{
    flag fl[MAX_FLAGS];
    size_t n = all_flags(fl, MAX_FLAGS);
    for (size_t i = 0; i < n; i++) {
        char left[64], sh[8] = "    ";
        if (fl[i].short_flag)
            snprintf(sh, sizeof sh, "-%c, ", fl[i].short_flag);
        snprintf(left, sizeof left, "%s--%s%s%s", sh, fl[i].name, fl[i].metavar ? " " : "",
                 fl[i].metavar ? fl[i].metavar : "");
        /* a "no-" flag turns its option off: say so before the option's doc */
        fprintf(fp, "  %-30s %s%s\n", left, fl[i].value && !strcmp(fl[i].value, "false") ? "do not: " : "",
                fl[i].help);
    }
    fputs("\nEvery option (kensa help options) can also be given as --set KEY=VALUE or\n"
          "in a config file. -- ends the options; - reads evidence from stdin.\n",
          fp);
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
    /* The line is put together first and written at once: with 2>&1 (or
     * a log collector) the findings on stdout share the pipe, and a line
     * written in pieces came out with a JSON finding in its middle. */
    char *line = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&line, &len);
    if (!fp)
        fp = stderr; /* no memory for the line: in pieces, as it comes */
    if (run->progress_shown)
        fputs("\r\033[K", fp);
    fprintf(fp, "kensa: %s: %s", lvl[d->level], d->loc.path ? d->loc.path : "");
    if (d->loc.chunk >= 0)
        fprintf(fp, " chunk %lld", (long long)d->loc.chunk);
    if (d->loc.record)
        fprintf(fp, " record %llu", (unsigned long long)d->loc.record);
    if (d->loc.line)
        fprintf(fp, " line %llu", (unsigned long long)d->loc.line);
    if (d->loc.offset != UINT64_MAX)
        fprintf(fp, " offset %llu", (unsigned long long)d->loc.offset);
    fprintf(fp, "%s[%s] %s\n", d->loc.path ? ": " : "", d->component ? d->component : "", d->msg);
    if (fp != stderr && fclose(fp) == 0)
        fwrite(line, 1, len, stderr);
    free(line);
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
        cli_error(run->cmd, "--set needs KEY=VALUE, got '%s'", kv);
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

/* The output a file name asks for by its extension, NULL if none does. */
static const char *output_by_ext(const char *path)
{
    static const char *const map[][2] = {{".jsonl", "jsonl"}, {".json", "jsonl"}, {".ndjson", "jsonl"},
                                         {".csv", "csv"},     {".html", "html"},   {".htm", "html"},
                                         {".ocsf", "ocsf"},   {".sarif", "sarif"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(dot, map[i][0]))
            return map[i][1];
    return NULL;
}

static bool output_exists(const char *name)
{
    ks_plugin_info pi;
    for (size_t i = 0; ks_plugin_at(KS_PLUGIN_OUTPUT, i, &pi) == KS_OK; i++)
        if (!strcmp(pi.name, name))
            return true;
    return false;
}

/* --output [NAME:]FILE */
static int output_arg(cli_run *run, const char *val)
{
    const char *colon = strchr(val, ':');
    if (colon) {
        char nm[64];
        snprintf(nm, sizeof nm, "%.*s", (int)(colon - val), val);
        if (output_exists(nm)) {
            char *name = strdup(nm);
            if (!name)
                return -1;
            return add_output(run, name, colon + 1); /* name lives for the process */
        }
    }
    const char *name = output_by_ext(val);
    if (!name) {
        cli_error(run->cmd, "--output %s: cannot tell the format from the name; use NAME:FILE "
                            "(outputs: kensa formats)", val);
        return -1;
    }
    return add_output(run, name, val);
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

/* Handles one flag of flags.def (no engine option key). */
static int local_flag(ks_engine *e, cli_run *run, const char *name, const char *val)
{
    if (!strcmp(name, "quiet")) {
        run->quiet = true;
    } else if (!strcmp(name, "verbose")) {
        run->verbose = true;
    } else if (!strcmp(name, "no-color")) {
        run->color = false;
        return ks_engine_set(e, "color", "never") == KS_OK ? 0 : -1;
    } else if (output_flag(name)) {
        return add_output(run, output_flag(name), val);
    } else if (!strcmp(name, "output")) {
        return output_arg(run, val);
    } else if (!strcmp(name, "set")) {
        return set_kv(e, run, val);
    } else if (!strcmp(name, "config")) {
        if (ks_engine_load_config(e, val) != KS_OK) {
            cli_error(run->cmd, "%s", ks_engine_errmsg(e));
            return -1;
        }
    } else {
        /* A flags.def row no code here handles is a programming error: say
         * so rather than ignore it. */
        cli_error(run->cmd, "flag --%s is not implemented", name);
        return -1;
    }
    return 0;
}

/* "--json --rules d": a value that is itself a flag is a slip (the user
 * forgot the value), never a file name worth creating. "-" is stdin/out. */
static bool looks_like_flag(const char *v)
{
    return v[0] == '-' && (v[1] == '-' || isalpha((unsigned char)v[1]));
}

int cli_parse_flags(int argc, char **argv, const char *const *fixed, ks_engine **out, cli_run *run)
{
    ks_engine *e = NULL;
    flag fl[MAX_FLAGS];
    struct option lo[MAX_FLAGS + 1];
    char shorts[2 * MAX_FLAGS + 3] = "+:";
    size_t nfl = all_flags(fl, MAX_FLAGS), ns = 2;
    int c;
    /* "+": stop at each path (the loop adds it and goes on), so flags and
     * paths may mix and "--" ends the flags; ":": a missing value is told
     * apart from an unknown flag. */
    memset(lo, 0, sizeof lo);
    for (size_t i = 0; i < nfl; i++) {
        lo[i].name = fl[i].name;
        lo[i].has_arg = fl[i].metavar ? required_argument : no_argument;
        lo[i].val = 256 + (int)i;
        if (fl[i].short_flag) {
            shorts[ns++] = (char)fl[i].short_flag;
            if (fl[i].metavar)
                shorts[ns++] = ':';
        }
    }
    shorts[ns] = 0;
    if (ks_engine_new(&e) != KS_OK) {
        cli_error(run->cmd, "out of memory");
        return KS_EXIT_ERRORS;
    }
    run->color = true;
    for (int i = 0; fixed && fixed[i]; i += 2)
        if (ks_engine_set(e, fixed[i], fixed[i + 1]) != KS_OK) {
            cli_error(run->cmd, "%s", ks_engine_errmsg(e));
            goto fail;
        }
    optind = 1;
    opterr = 0;
    for (;;) {
        int li = -1;
        c = getopt_long(argc, argv, shorts, lo, &li);
        if (c == -1) {
            if (optind >= argc)
                break;
            if (!strcmp(argv[optind - 1], "--") && optind > 1) {
                /* everything after "--" is a path */
                for (; optind < argc; optind++) {
                    if (ks_engine_add_path(e, argv[optind]) != KS_OK)
                        goto fail;
                    run->npaths++;
                }
                break;
            }
            if (ks_engine_add_path(e, argv[optind]) != KS_OK)
                goto fail;
            run->npaths++;
            optind++;
            continue;
        }
        if (c == ':') {
            cli_error(run->cmd, "%s needs a value (see 'kensa help %s')", argv[optind - 1], run->cmd);
            goto fail;
        }
        if (c == '?') {
            if (optopt && optopt < 256)
                cli_error(run->cmd, "unknown option '-%c' (see 'kensa help %s')", optopt, run->cmd);
            else
                cli_error(run->cmd, "unknown option '%s' (see 'kensa help %s')", argv[optind - 1], run->cmd);
            goto fail;
        }
        const flag *f = NULL;
        if (c >= 256)
            f = &fl[c - 256];
        else
            for (size_t k = 0; k < nfl && !f; k++)
                if (fl[k].short_flag == c)
                    f = &fl[k];
        if (!f)
            goto fail;
        if (f->metavar && looks_like_flag(optarg)) {
            cli_error(run->cmd, "--%s needs %s, got the option '%s'", f->name, f->metavar, optarg);
            goto fail;
        }
        if (f->key) {
            if (ks_engine_set(e, f->key, f->metavar ? optarg : f->value) != KS_OK) {
                cli_error(run->cmd, "%s", ks_engine_errmsg(e));
                goto fail;
            }
        } else if (local_flag(e, run, f->name, optarg) != 0) {
            goto fail;
        }
    }
    *out = e;
    return 0;
fail:
    ks_engine_free(e);
    return KS_EXIT_ERRORS;
}

int cli_setup(int argc, char **argv, const char *const *fixed, ks_engine **out, cli_run *run)
{
    ks_engine *e = NULL;
    int rc = cli_parse_flags(argc, argv, fixed, &e, run);
    if (rc != 0)
        return rc;
    if (run->npaths == 0) {
        cli_error(run->cmd, "no evidence paths given (a file, a directory or - for stdin)");
        ks_engine_free(e);
        return KS_EXIT_ERRORS;
    }
    if (cli_open_outputs(e, run) != 0) {
        ks_engine_free(e);
        return KS_EXIT_ERRORS;
    }
    ks_engine_on_diag(e, on_diag, run);
    if (!run->quiet && isatty(STDERR_FILENO))
        ks_engine_on_progress(e, on_progress, run);
    *out = e;
    return 0;
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

int cli_open_outputs(ks_engine *e, cli_run *run)
{
    for (int i = 0; i < run->nout; i++) {
        if (ks_engine_add_output(e, run->out_name[i], run->out_path[i]) != KS_OK) {
            cli_error(run->cmd, "%s", ks_engine_errmsg(e));
            return -1;
        }
    }
    if (ks_engine_open_outputs(e) != KS_OK) {
        cli_error(run->cmd, "%s", ks_engine_errmsg(e));
        return -1;
    }
    return 0;
}

/* The outputs were written during the run (ks_engine_add_output); what is
 * left is the terminal summary and the exit status. */
int cli_finish(ks_engine *e, cli_run *run)
{
    int status = KS_EXIT_CLEAN;
    if (run->suppressed)
        fprintf(stderr, "kensa: %lu more warnings not shown (use --verbose)\n", run->suppressed);
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
    return cli_hunt_main(argc, argv, "hunt", NULL);
}
