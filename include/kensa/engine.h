/* SPDX-License-Identifier: Apache-2.0
 *
 * The engine: configure, add evidence paths, run, read findings.
 *
 * An engine owns everything it creates (symbols, compiled rules, findings);
 * two engines in one process share nothing mutable. One thread drives an
 * engine; ks_engine_run() fans the work out to its own thread pool.
 *
 *   ks_engine *e = NULL;
 *   ks_engine_new(&e);
 *   ks_engine_set(e, "threads", "4");
 *   ks_engine_add_path(e, "evidence/");
 *   int rc = ks_engine_run(e);            // KS_OK or an error
 *   for (size_t i = 0; i < ks_engine_nfindings(e); i++) ...
 *   ks_engine_free(e);
 */
#ifndef KENSA_ENGINE_H
#define KENSA_ENGINE_H

#include <stdio.h>
#include "kensa/finding.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ks_engine ks_engine;

typedef struct ks_stats {
    uint64_t files_seen;      /* regular files the walk reached */
    uint64_t files_parsed;    /* files an input format claimed */
    uint64_t files_scanned;   /* files given to file detectors */
    uint64_t files_skipped;   /* not claimed by any input or detector */
    uint64_t bytes;           /* bytes read (decompressed) */
    uint64_t events;          /* events produced by inputs */
    uint64_t events_filtered; /* dropped by --since/--until */
    uint64_t findings;        /* findings emitted (incl. suppressed) */
    uint64_t findings_dropped;/* over the per-rule cap: counted, not kept */
    uint64_t errors;          /* KS_DIAG_ERROR diagnostics */
    uint64_t warnings;        /* KS_DIAG_WARN diagnostics */
    double seconds;           /* wall time of ks_engine_run */
} ks_stats;

/* Callbacks are called from worker threads, serialized by the engine (never
 * two at once), with pointers valid only for the call. */
typedef void (*ks_diag_fn)(void *ud, const ks_diag *d);
typedef void (*ks_progress_fn)(void *ud, const ks_stats *s, const char *path);

KS_API int ks_engine_new(ks_engine **out);
KS_API void ks_engine_free(ks_engine *e); /* NULL-safe */

/* Options are "key", "value" strings checked against the option registry
 * (include/kensa/option.h, docs/CONFIG.md): an unknown key, a value of the
 * wrong type or out of range, or a value that looks like a command-line
 * option ("--rules") is refused with KS_EUSAGE and a sentence naming the key
 * in ks_engine_errmsg(). A repeated key of a list option ("rules") appends;
 * of any other, replaces. */
KS_API int ks_engine_set(ks_engine *e, const char *key, const char *value);
/* Reads "key = value" lines (# comments, [section] prefixes keys with
 * "section."). Each key is checked as by ks_engine_set; the first bad line
 * stops the load with KS_EUSAGE, the message naming file:line and key. */
KS_API int ks_engine_load_config(ks_engine *e, const char *path);
/* The value in force for key: the last one set (for a list, the last
 * value), else the registry's default, else NULL ("" defaults and unknown
 * keys). The pointer stays valid until ks_engine_free(e): setting the key
 * again does not free it. */
KS_API const char *ks_engine_get(const ks_engine *e, const char *key);

/* Evidence: a file, a directory (walked), or "-" for stdin. Borrowed. */
KS_API int ks_engine_add_path(ks_engine *e, const char *path);

KS_API void ks_engine_on_diag(ks_engine *e, ks_diag_fn fn, void *ud);
KS_API void ks_engine_on_progress(ks_engine *e, ks_progress_fn fn, void *ud);

/* Compiles rules, walks and reads the evidence, runs every detector.
 * Bad evidence is reported through the diag callback and does not stop the
 * run; the return is an error only when nothing sensible could be done
 * (no detector could be built, out of memory). */
KS_API int ks_engine_run(ks_engine *e);

/* Instead of ks_engine_run: every evidence path is a saved run (JSON lines
 * of schema kensa.finding/1, as the "jsonl" output writes; .gz/.zst and "-"
 * work) and its findings are loaded as if a hunt had found them, so any
 * output re-renders saved runs, several merged into one (a finding present
 * in two runs is kept once). Lines that are not findings are warnings; a
 * file with no finding is an error diagnostic. Runs once per engine. */
KS_API int ks_engine_report(ks_engine *e);

KS_API const ks_stats *ks_engine_stats(const ks_engine *e);
/* Findings sorted by first time, then severity (highest first). Valid
 * until ks_engine_free(). */
KS_API size_t ks_engine_nfindings(const ks_engine *e);
KS_API const ks_finding *ks_engine_finding(const ks_engine *e, size_t i);

/* Writes all findings with a registered output ("terminal", "jsonl", "csv").
 * KS_ENOTFOUND for an unknown name. */
KS_API int ks_engine_write(ks_engine *e, const char *output, FILE *fp);

/* The plugins of this build (src/lib/plugins.def), for listings and for
 * checking a name: fills *out with entry i of kind, KS_ENOTFOUND past the
 * end. Strings are static. */
typedef enum ks_plugin_kind {
    KS_PLUGIN_INPUT = 0,
    KS_PLUGIN_DETECTOR,
    KS_PLUGIN_OUTPUT,
    KS_PLUGIN_EXTRACTOR /* content inside files (mail, documents, archives) */
} ks_plugin_kind;
typedef struct ks_plugin_info {
    const char *name;        /* "evtx", "sigma", "jsonl" */
    const char *description; /* one line */
} ks_plugin_info;
KS_API int ks_plugin_at(ks_plugin_kind kind, size_t i, ks_plugin_info *out);

/* The last error message of a failed call on e ("" if none). */
KS_API const char *ks_engine_errmsg(const ks_engine *e);
KS_API const ks_symtab *ks_engine_symtab(const ks_engine *e);

#ifdef __cplusplus
}
#endif
#endif
