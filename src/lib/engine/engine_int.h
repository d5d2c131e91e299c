/* SPDX-License-Identifier: Apache-2.0
 *
 * Engine internals shared by engine.c (options, life cycle, run), walk.c
 * (directory traversal), dispatch.c (per-file work on the pool) and
 * findings.c (the finding store). Not part of any API.
 */
#ifndef KS_ENGINE_INT_H
#define KS_ENGINE_INT_H

#include "kensa_int.h"

typedef struct ks_opt {
    char *key;   /* owned */
    char *val;   /* owned */
} ks_opt;

typedef struct ks_det_inst {
    const struct ks_detector *d;
    void *det;   /* compiled state from create() */
} ks_det_inst;

/* A registered output and the file it writes (outputs.c). */
struct ks_outfile {
    const struct ks_output *out;
    const char *name;           /* plugin name as registered */
    const char *path;           /* as given; "-" = stdout */
    char *tmp;                  /* report: temporary name renamed at close */
    int fd;                     /* -1 until open */
    bool created;               /* we created path (removed if the run never starts) */
    bool regular;               /* a regular file: fsync'd, checked against evidence */
    bool failed;                /* a write failed: reported once, then skipped */
    dev_t dev;                  /* of what fd writes (the walk skips it) */
    ino_t ino;
    void *state;                /* the plugin's */
};

#define KS_UNCLAIMED_MAX 32     /* types counted; the last slot is "other" */
#define KS_UNCLAIMED_TYPE 32

enum ks_mode { KS_MODE_ALL = 0, KS_MODE_FILES, KS_MODE_EVENTS };

struct ks_engine {
    ks_symtab *syms;            /* field-path interner */
    ks_arena *arena;            /* engine-lifetime allocations (driving thread) */
    ks_opt *opts;               /* options in the order set */
    size_t nopts, capopts;
    char **paths;               /* evidence paths (owned copies) */
    size_t npaths;
    ks_diag_fn diag_fn;
    void *diag_ud;
    ks_progress_fn prog_fn;
    void *prog_ud;
    pthread_mutex_t lock;       /* diag callback, findings, stats folding */
    ks_stats stats;             /* counters updated with atomics during a run */
    char errmsg[512];
    bool ran;                   /* ks_engine_run may be called once */
    bool unregistered_read;     /* a plugin read a key with no registry row (reported once) */

    /* run configuration, resolved from the options */
    int nthreads;
    int64_t since, until;       /* KS_TIME_NONE = open */
    enum ks_mode mode;
    uint64_t max_size;          /* file detectors skip larger files */
    bool follow_symlinks, cross_fs;
    const char **excludes;
    size_t nexcludes;
    ks_source_budget budget;    /* decompression budgets given to every source */
    uint64_t run_decompressed;  /* the run's total, budget.run_out points here */

    ks_det_inst *dets;          /* active detectors */
    size_t ndets;
    bool any_file_det, any_event_det;
    ks_pool *pool;
    ks_worker *workers;
    pthread_mutex_t qlock;      /* back-pressure on the walker */
    pthread_cond_t qcond;
    size_t pending;             /* file tasks queued or running */

    /* findings (findings.c): emit takes flock, then may take lock (diag) */
    pthread_mutex_t flock;      /* emission, outputs' on_finding, the spool */
    ks_finding **findings;      /* kept copies (one malloc each), sorted after the run */
    size_t nfindings, capfindings;
    size_t keep;                /* findings.keep: copies kept, 0 = all */
    ks_map *per_rule;           /* rule id -> findings emitted */
    uint64_t max_per_rule;
    ks_severity min_level;      /* findings.min_level: less severe ones are filtered */
    const char **status_in;     /* findings.status: only these rule statuses (none: all) */
    size_t nstatus_in;
    const char **status_out;    /* findings.exclude_status */
    size_t nstatus_out;
    uint64_t seq;
    ks_buf emit_buf;            /* the record being emitted (under flock) */
    ks_finding_fn find_fn;      /* ks_engine_on_finding */
    void *find_ud;
    int spool_fd;               /* every record, for KS_OUT_ALL outputs; -1 = none */
    uint64_t spool_size, spool_max;
    bool spool_full;            /* over output.spool_max: the rest not spooled */
    struct spool_ix *spool_ix;  /* (first time, offset) per spooled record */
    size_t spool_n, spool_cap;

    /* outputs (outputs.c) */
    ks_outfile *outs;
    size_t nouts, capouts;
    bool outs_open;
    const char *rules_dir;      /* bundled rules found (ks__rules_dir), cached */
    unsigned rules_missing;     /* "bundled rules not found" reported */

    /* what no reader claimed (claims.c) */
    uint64_t recognised;        /* files an input, extractor or git read (atomic) */
    struct ks_unclaimed {
        char type[KS_UNCLAIMED_TYPE]; /* ".json binary", "(no extension) text" */
        uint64_t n;
    } unclaimed[KS_UNCLAIMED_MAX];    /* under lock; sorted by ks__claims_verdict */
    size_t nunclaimed;
};

/* walk.c: walks every evidence path, calling ks__dispatch_file for files. */
int ks__walk(ks_engine *e);
/* dispatch.c: queue one file (path is copied). Blocks while too many are
 * pending (bounded memory on huge trees). */
int ks__dispatch_file(ks_engine *e, const char *path);
/* Queues a stream the walker opened (a FIFO named on the command line,
 * /dev/fd/N of a process substitution); the task owns fd. */
int ks__dispatch_stream(ks_engine *e, const char *path, int fd);
int ks__workers_init(ks_engine *e);
/* dispatch.c: gives f to every file detector on worker w. */
void ks__file_detectors(ks_engine *e, ks_worker *w, const ks_file *f);
/* git.c: is the directory open at dirfd a repository (a .git inside, or
 * *bare)? ks__git_run reads its history on worker w (a pool task queued
 * by ks__dispatch_git). */
bool ks__git_is_repo(int dirfd, bool *bare);
void ks__git_run(ks_engine *e, ks_worker *w, const char *path);
int ks__dispatch_git(ks_engine *e, const char *path);
void ks__workers_finish(ks_engine *e);
/* claims.c: a walked file's name checked against its content (a located
 * warning when a name such as .json or .evtx claims a format the content
 * is not), and the file counted as recognised or unclaimed by type;
 * scanned: file detectors read it. ks__claims_recognised counts a file
 * read some other way (git history). ks__claims_verdict, after the walk:
 * an error when no file was found or none recognised. */
void ks__claims_file(ks_engine *e, const char *path, const char *name, ks_source *src,
                     const uint8_t *head, size_t nhead, const struct ks_input *best, bool scanned);
void ks__claims_recognised(ks_engine *e);
void ks__claims_verdict(ks_engine *e);
/* options.c: frees every value set. */
void ks__options_free(ks_engine *e);
/* findings.c */
void ks__findings_sort(ks_engine *e);
void ks__findings_free(ks_engine *e);
/* Reads findings.keep and output.spool_max (defaults before any is set). */
void ks__findings_config(ks_engine *e);
int ks__spool_open(ks_engine *e);
void ks__spool_close(ks_engine *e);
/* A finding from one of findings.c's records (one malloc; free()). */
ks_finding *ks__finding_from_rec(const void *p, size_t n);
/* outputs.c: each finding to every open output (under flock); completing
 * or abandoning the outputs; whether a walked file is one of them. */
void ks__outputs_finding(ks_engine *e, const ks_finding *f);
void ks__outputs_close(ks_engine *e);
void ks__outputs_free(ks_engine *e);
bool ks__outputs_is_ours(const ks_engine *e, const struct stat *st);
int ks__outputs_check_evidence(ks_engine *e, const char *path);

#define KS_STAT_ADD(e, field, n) __atomic_fetch_add(&(e)->stats.field, (n), __ATOMIC_RELAXED)

#endif
