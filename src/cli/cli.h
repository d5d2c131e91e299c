/* SPDX-License-Identifier: Apache-2.0
 *
 * Shared pieces of the kensa command: the engine set-up every hunting
 * command uses (flags from flags.def, evidence paths, outputs, diagnostics
 * on stderr, progress), and the exit status rules (docs/EXIT-STATUS.md).
 */
#ifndef KS_CLI_H
#define KS_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "kensa/kensa.h"

/* Exit statuses. Findings and input errors combine: 3 = both. */
enum {
    KS_EXIT_CLEAN = 0,     /* ran, nothing found */
    KS_EXIT_FINDINGS = 1,  /* ran, findings reported */
    KS_EXIT_ERRORS = 2,    /* usage error, or some evidence/rules unreadable */
    KS_EXIT_BOTH = 3       /* findings, and some evidence was unreadable */
};

/* Every subcommand's entry point and usage text (commands.def). */
#define KS_CMD(name, fn, summary) int fn(int argc, char **argv); extern const char *const fn##_usage;
#define KS_HUNT_FLAGS(name)
#include "commands.def"
#undef KS_HUNT_FLAGS
#undef KS_CMD

#define CLI_MAX_OUTPUTS 8

typedef struct cli_run {
    const char *cmd;            /* "hunt", "scan", ... for messages */
    bool quiet;
    bool verbose;
    bool color;
    const char *out_name[CLI_MAX_OUTPUTS]; /* output plugin names */
    const char *out_path[CLI_MAX_OUTPUTS]; /* "-" = stdout */
    int nout;
    int npaths;
    /* diagnostic printing state */
    unsigned long printed, suppressed;
    bool progress_shown;
    unsigned long long t0;
} cli_run;

/* Parses the hunt flags (flags.def) and paths from argv[1..]; creates the
 * engine. Extra fixed options (e.g. "mode"="files") may be given as a NULL-
 * terminated key, value list. Returns 0 or KS_EXIT_ERRORS (message printed). */
int cli_setup(int argc, char **argv, const char *const *fixed, ks_engine **e, cli_run *run);
/* Runs the engine, writes the outputs, prints the summary; returns the exit
 * status. Frees nothing: the caller frees the engine. */
int cli_run_engine(ks_engine *e, cli_run *run);
/* After a run: writes the outputs and the summary; returns the exit status. */
int cli_finish(ks_engine *e, cli_run *run);
/* Registers run's outputs with the engine and opens them before any work:
 * 0, or -1 with the reason printed (unknown name, unwritable path, a path
 * that is also evidence, an existing file without --force). */
int cli_open_outputs(ks_engine *e, cli_run *run);
/* Adds an output by plugin name ("jsonl") and file ("-" = stdout). */
int cli_add_output(cli_run *run, const char *name, const char *path);
/* The whole of a hunting command: setup + run + free. */
int cli_hunt_main(int argc, char **argv, const char *cmd, const char *const *fixed);
/* Parses the hunting flags (flags.def + the option registry's FLAG column,
 * with getopt_long) and paths without requiring a path; creates the engine.
 * Returns 0 or KS_EXIT_ERRORS (message printed). */
int cli_parse_flags(int argc, char **argv, const char *const *fixed, ks_engine **e, cli_run *run);
/* Prints the hunting flags (for help texts). */
void cli_print_flags(FILE *fp);
/* Prints the full help of a command: what `kensa help NAME` and
 * `kensa NAME --help` both show. KS_EXIT_ERRORS for an unknown name. */
int cli_help(const char *name, FILE *fp);
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for one more element in the array *pv of n used out of *cap
 * (elem bytes each; first = the capacity of a first allocation), doubling:
 * the library's ks__grow for the CLI, which sees only the public API.
 * 0, or -1 with the array as it was. */
int cli_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first);

#endif
