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
    uint64_t findings_unkept; /* written to the outputs but not kept in
                               * memory for ks_engine_finding (findings.keep) */
    uint64_t errors;          /* KS_DIAG_ERROR diagnostics */
    uint64_t warnings;        /* KS_DIAG_WARN diagnostics */
    double seconds;           /* wall time of ks_engine_run */
    uint64_t findings_filtered; /* left out by --min-level, the rule status
                               * filters and --since/--until (file findings
                               * by the file's times) */
} ks_stats;

/* Callbacks are called from worker threads, serialized by the engine (never
 * two at once), with pointers valid only for the call. */
typedef void (*ks_diag_fn)(void *ud, const ks_diag *d);
typedef void (*ks_progress_fn)(void *ud, const ks_stats *s, const char *path);
/* Each finding as soon as it is final (file findings at once, correlations
 * when they are decided); f is valid only for the call. */
typedef void (*ks_finding_fn)(void *ud, const ks_finding *f);

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
KS_API void ks_engine_on_finding(ks_engine *e, ks_finding_fn fn, void *ud);

/* Outputs. ks_engine_add_output registers an output plugin ("jsonl", "csv",
 * "html", "ocsf", see `kensa formats`) writing to path ("-" = stdout);
 * both strings are borrowed until the engine is freed. KS_ENOTFOUND for an
 * unknown name, at once.
 *
 * ks_engine_open_outputs opens every registered output before any evidence
 * is read (ks_engine_run calls it when the caller did not): KS_EUSAGE when
 * a path is also an evidence path (never written, even with output.force),
 * names an existing file and output.force is not set, is a directory, or is
 * given twice; KS_EIO / KS_EPERM when it cannot be created. The reason is in
 * ks_engine_errmsg(). Evidence paths added later are checked against the
 * open outputs. Findings are then written as they are final, and the
 * outputs are completed (reports renamed into place) at the end of
 * ks_engine_run; a write error there is an error diagnostic. Files the walk
 * meets that are this run's outputs are not read. docs/OUTPUT.md says what
 * a killed run leaves behind. */
KS_API int ks_engine_add_output(ks_engine *e, const char *name, const char *path);
KS_API int ks_engine_open_outputs(ks_engine *e);

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

/* Reads the events of one evidence file and hands each to fn, in order, on
 * the calling thread, with the field schema resolved (canonical names such
 * as "host.name" work in ks_event_get_path). format names the input
 * ("evtx", "json", ... as `kensa formats` lists them) or is NULL to let the
 * inputs probe the file. fn returns 0 to go on, non-zero to stop (not an
 * error). The event and everything it points to is valid only during the
 * call. Damaged records are reported through the diag callback and
 * skipped. Returns KS_OK; KS_ENOTFOUND for an unknown format, KS_EFORMAT
 * when no input recognises the file, KS_EIO when it cannot be opened (the
 * message in ks_engine_errmsg), or the input's error when the rest of the
 * file was unreadable. Options (evtx.recover, evtx.xml) apply. Does not
 * run detectors; may be called before or instead of ks_engine_run. */
typedef int (*ks_event_fn)(void *ud, const ks_event *ev);
KS_API int ks_engine_read_file(ks_engine *e, const char *path, const char *format, ks_event_fn fn,
                               void *ud);

/* Sigma rule sets checked without a hunt: loads every rule file and
 * directory (recursively) with the same loader and logsource mappings a
 * hunt uses (bundled ones and the sigma.mappings option) and reports each
 * rule that does not load (and, with KS_RULES_LIST_UNMAPPED, each loaded
 * rule no mapping makes run: level KS_DIAG_INFO, reason "unmapped")
 * through fn, then the totals in *out. Strings are valid during fn only.
 * KS_OK even when rules failed (see out->failed); an error only for OOM. */
typedef struct ks_rule_problem {
    ks_diag_level level;  /* KS_DIAG_WARN, KS_DIAG_ERROR (not loaded), KS_DIAG_INFO */
    const char *path;
    uint32_t line;
    const char *reason;   /* class: "YAML syntax", "unknown modifier", ..., "unmapped" */
    const char *msg;
} ks_rule_problem;
typedef struct ks_rules_report {
    uint64_t files, loaded, failed, unmapped;
    uint64_t detection, correlation, filter;   /* loaded rules by kind */
    struct {
        const char *name;                      /* static */
        uint64_t count;
    } reasons[32];                             /* failures by reason */
    size_t nreasons;
} ks_rules_report;
enum { KS_RULES_LIST_UNMAPPED = 1 << 0 };
typedef void (*ks_rule_problem_fn)(void *ud, const ks_rule_problem *p);
KS_API int ks_rules_check(ks_engine *e, const char *const *paths, size_t n, unsigned flags,
                          ks_rule_problem_fn fn, void *ud, ks_rules_report *out);

/* Anonymous probe of cloud storage URLs (Azure Blob containers, S3
 * buckets): can anyone list or read them? Options probe.* set the
 * concurrency, timeouts, retries, rate, paging and samples (kensa help
 * options). One status line per target goes to report (may be NULL);
 * findings go to e like a hunt's: call ks_engine_run (with no evidence
 * paths) afterwards to sort them for the outputs. Only the URLs given are
 * contacted. KS_OK; target errors are diagnostics. */
KS_API int ks_engine_probe(ks_engine *e, const char *const *urls, size_t n, FILE *report);

KS_API const ks_stats *ks_engine_stats(const ks_engine *e);
/* After a run: the files no reader claimed (no input format, no extractor
 * a file detector used), counted by type "<.ext> text|binary|empty" (".json
 * binary", "(no extension) text"), most frequent first; entry i, or
 * KS_ENOTFOUND past the end. At most 32 types (the last is "other"). type
 * is valid until ks_engine_free. */
KS_API int ks_engine_unclaimed(const ks_engine *e, size_t i, const char **type, uint64_t *count);
/* Findings sorted by first time, then severity (highest first). Valid
 * until ks_engine_free(). Memory is bounded: only the first findings.keep
 * findings (default 10000, 0 = all) are kept for these calls;
 * stats.findings_unkept counts the others, which the outputs and the
 * ks_engine_on_finding callback still receive. */
KS_API size_t ks_engine_nfindings(const ks_engine *e);
KS_API const ks_finding *ks_engine_finding(const ks_engine *e, size_t i);

/* After a run: writes the kept findings (ks_engine_finding) with an output
 * plugin ("terminal", "jsonl", "csv") to fp. KS_ENOTFOUND for an unknown
 * name. Prefer ks_engine_add_output, which streams every finding. */
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
