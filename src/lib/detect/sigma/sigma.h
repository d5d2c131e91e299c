/* SPDX-License-Identifier: Apache-2.0
 *
 * The Sigma detector's interface for the rest of kensa (the `kensa rules
 * check` command, tests, benchmarks). The detector itself is the vtable
 * ks_detector_sigma (plugins.def); these helpers build the same compiled
 * state without an engine run.
 *
 * Ownership: sg__det_new takes the ruleset (freed by destroy). Thread
 * safety as for any detector: one worker state per thread, the compiled
 * rules shared read-only.
 */
#ifndef KS_SIGMA_H
#define KS_SIGMA_H

#include "sigma_corr.h"

typedef struct sg_det sg_det;

typedef struct sg_det_opts {
    bool prefilter;            /* Vectorscan literal prefilter (default on) */
    bool pattern_needles;      /* per-pattern needles (sigma.pattern_needles) */
    bool run_unmapped;         /* run rules whose logsource has no mapping */
    size_t max_records;        /* correlation records cap, 0 = default */
    int64_t slow_rule_ns;      /* a sampled rule evaluation slower is reported, 0 = off */
    sg_emit_fn emit;           /* findings; NULL = ks__emit on engine */
    void *emit_ud;
    ks_engine *engine;         /* for ks__emit / ks__diag, may be NULL */
} sg_det_opts;

int sg__det_new(sg_ruleset *rs, const sg_det_opts *o, sg_det **out);
/* Rules that run after mapping (detections + filters excluded). */
size_t sg__det_nrun(const sg_det *d);
/* Correlation records held (after worker_done). */
size_t sg__det_nrecs(const sg_det *d);
/* Summary counters: events seen, rule evaluations, matches. */
void sg__det_counters(const sg_det *d, uint64_t *events, uint64_t *evals, uint64_t *matches);

/* Diagnostic adapter forwarding loader problems to ks__diag (ud = engine). */
void sg__diag_to_engine(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                        const char *msg);

#endif
