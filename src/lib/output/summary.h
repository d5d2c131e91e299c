/* SPDX-License-Identifier: Apache-2.0
 *
 * A run summarised for people (the terminal summary, the HTML report):
 * counts by severity, rule, host, account, client address, evidence file,
 * ATT&CK tactic and technique, first/last time, and a Loki-style score per
 * file for file hunts. Built from one pass over the findings; memory is
 * bounded by the number of distinct keys (each table holds at most
 * KS_TALLY_MAX; the rest is counted in `other`), never by the number of
 * findings.
 *
 * Ownership: rows and their strings belong to the summary. Not
 * thread-safe (outputs run it in close()).
 */
#ifndef KS_OUTPUT_SUMMARY_H
#define KS_OUTPUT_SUMMARY_H

#include "kensa_int.h"
#include "output/attack.h"

#define KS_TALLY_MAX 50000

typedef struct ks_tally_row {
    const char *key;          /* rule id, host name, path, technique ... */
    const char *label;        /* rule title; NULL elsewhere */
    uint64_t findings;        /* findings with this key */
    uint64_t events;          /* events behind them */
    int64_t score;            /* files: sum of the findings' scores (Loki) */
    ks_severity worst;
    int64_t first, last;      /* KS_TIME_NONE when undated */
} ks_tally_row;

typedef struct ks_tally {
    ks_map *ix;               /* key -> row index + 1 */
    ks_tally_row *rows;
    size_t n, cap;
    uint64_t other;           /* findings of keys beyond KS_TALLY_MAX */
} ks_tally;

typedef enum ks_dim {
    KS_DIM_RULE, KS_DIM_HOST, KS_DIM_ACCOUNT, KS_DIM_CLIENT, KS_DIM_FILE,
    KS_DIM_TECHNIQUE, KS_DIM_SCORE, KS_DIMS
} ks_dim;

typedef struct ks_summary {
    uint64_t findings, events;
    uint64_t by_sev[KS_SEV_CRITICAL + 1];
    uint64_t by_tactic[KS_TACTICS + 1]; /* the last: techniques of no known tactic */
    uint64_t undated;         /* findings without a time */
    int64_t first, last;      /* of the dated findings */
    ks_tally dim[KS_DIMS];    /* KS_DIM_SCORE: file findings by path, with scores */
    ks_arena *a;              /* the rows' strings */
} ks_summary;

int ks__summary_init(ks_summary *s);
void ks__summary_release(ks_summary *s);
/* Counts f (a raw finding of the run). KS_ENOMEM. */
int ks__summary_add(ks_summary *s, const ks_finding *f);
/* ks__findings_each callback: ud is the ks_summary. */
int ks__summary_each(void *ud, const ks_finding *f);
/* Sorts a table: most findings first (KS_DIM_SCORE: highest score). */
void ks__tally_sort(ks_tally *t, bool by_score);
/* A finding's score on Loki's scale (critical 100, high 75, medium 60,
 * low 40, info 20) and the level a file's total reaches: "ALERT" (>= 100),
 * "WARNING" (>= 60), "NOTICE" (>= 40), else NULL. */
int ks__finding_score(const ks_finding *f);
const char *ks__score_level(int64_t score);

#endif
