/* SPDX-License-Identifier: Apache-2.0
 *
 * The library's inner contract: the plugin vtables every input format,
 * detector and output implements, the worker context they run in, and the
 * engine services they call (diagnostics, findings, options).
 *
 * plugins.def is the one list of plugins; it is included with KS_INPUT /
 * KS_DETECTOR / KS_OUTPUT defined to declare them and to build the tables
 * (yara's module_list). Adding a format = one file + one line there.
 *
 * Threading: an input instance and a detector's worker state are used by
 * one worker thread at a time. A detector's compiled state (`det`) is shared
 * read-only by all workers; finish() runs on the driving thread after all
 * workers are done.
 */
#ifndef KS_KENSA_INT_H
#define KS_KENSA_INT_H

#include <pthread.h>
#include <sys/stat.h>
#include "core/core.h"
#include "core/source.h"

typedef struct ks_worker ks_worker;

/* ---- the field schema (engine/fields.def, fields.c) ---------------------------- */
enum {
#define KS_FIELD(id, name, doc) KS_F_##id,
#define KS_ALT(id, source, name)
#include "engine/fields.def"
#undef KS_ALT
#undef KS_FIELD
    KS_F_COUNT
};

/* ---- events (reader side) --------------------------------------------------- */
struct ks_event {
    ks_field *fields;     /* owned by the worker, grown as needed */
    size_t n;             /* fields in use */
    size_t cap;           /* fields allocated */
    int64_t time;         /* UTC ns, KS_TIME_NONE */
    ks_prov prov;         /* path/format set by the engine, the rest by the reader */
    ks_symtab *syms;      /* the engine's interner */
    ks_symcache *cache;   /* the worker's cache */
    ks_arena *arena;      /* scratch reset before each event: unescaped text */
    uint32_t dropped;     /* fields refused (field cap, full symbol table):
                             the engine reports the record, rules may miss */
    bool finished;        /* canon[] filled by ks__event_finish */
    uint64_t seq;         /* bumped by every ks__event_finish: per-event memos
                             (the network view) know a new event by it */
    uint32_t canon[KS_F_COUNT]; /* per canonical field: index + 1 of its value, 0 = none */
    struct ks_evindex *index; /* the worker's lookup memo (event.c), or NULL */
    /* The record as read, set by an input that vouches that every value
     * of the event is a string and a substring of raw, or (raw_plus) of
     * raw with each '+' read as a space: a literal search of raw then
     * finds whatever it would find in some value, without the values
     * (Sigma's prefilter, sigma_pre.c). {NULL, 0} otherwise (reset). */
    ks_slice raw;
    bool raw_plus;
    /* Set by an input that knows its records' field names in order ahead
     * (a W3C #Fields line): events with the same nonzero shape have the
     * same names in the same order, so the lookup memo finds their layout
     * by it instead of hashing the names (event.c). 0 = unknown (reset);
     * values come from ks__event_shape_new. */
    uint64_t shape;
};

void ks__event_reset(ks_event *ev);
/* A shape no other input has used (ks_event.shape); thread-safe. */
uint64_t ks__event_shape_new(void);
/* The lookup memo ks_event_get uses on finished events: per field layout
 * (the names of an event's fields in order, shared by the events of one
 * EVTX template or W3C header), each name asked for maps to the field
 * that answers it. One per worker; NULL on OOM (lookups then scan). */
struct ks_evindex *ks__evindex_new(void);
void ks__evindex_free(struct ks_evindex *x);
/* The canonical fields last resolved for a field layout (ks__event_finish).
 * They depend on the names in order, fixed by the layout, and on which of
 * the fields with a schema class are null (a null alternate does not hide
 * the next one), so the memo keeps those fields' positions and nulls. */
typedef struct ks_canon_memo {
    bool ok;                    /* canon holds for the fields below */
    uint32_t n;                 /* fields with a schema class (at most 64) */
    uint32_t at[64];            /* their positions in the event */
    uint64_t nulls;             /* bit k: field at[k] was null */
    uint32_t canon[KS_F_COUNT]; /* as ks_event.canon */
} ks_canon_memo;
/* The memo of a finished event's layout, NULL without one (resolve then). */
ks_canon_memo *ks__event_canon_memo(const ks_event *ev);
/* The id of a finished event's field layout (unique in the process, new
 * when the names in order change or an alias registration empties the
 * memo), 0 without a memo: what depends only on the names in order can be
 * remembered per id. */
uint64_t ks__event_layout_id(const ks_event *ev);
/* Which of a detector's names an event has, answered once per field layout
 * (an EVTX template, a W3C header) instead of a lookup per name per event:
 * a detector that reads only records of some shape (cloud resources, audit
 * records) asks this first and leaves other events at once. One per worker
 * state, zeroed, names set; not shared between threads. */
typedef struct ks_evhave_memo {
    uint64_t layout;         /* the layout bits is for (0: none) */
    uint64_t bits;           /* names the layout has, or their aliases */
    uint64_t canon;          /* canonical schema names ("host.name"): they stand
                                for a value-dependent alternate, asked per event */
} ks_evhave_memo;
typedef struct ks_evhave {
    const ks_sym *names;     /* at most 64; 0 entries are never had */
    uint32_t n;
    ks_evhave_memo memo[8];  /* layouts seen lately, direct-mapped by id */
} ks_evhave;
/* Bit i set: ks_event_get(ev, names[i]) is not NULL. */
uint64_t ks__event_have(const ks_event *ev, ks_evhave *h);
/* Adds a field; name is interned through the worker cache. Returns KS_OK,
 * KS_ENOMEM, or KS_ELIMIT (field cap or symbol table full: the field is
 * dropped, the event is still usable). */
int ks__event_add_grow(ks_event *ev, ks_sym name, const ks_value *v);
/* Inline while the fields array has room: an EVTX record adds ~15 fields,
 * and the call was ~3 % of a parse's instructions. */
static inline int ks__event_add(ks_event *ev, ks_sym name, const ks_value *v)
{
    if (!name || ev->n >= ev->cap)
        return ks__event_add_grow(ev, name, v);
    ev->fields[ev->n].name = name;
    ev->fields[ev->n].v = *v;
    ev->n++;
    return KS_OK;
}
int ks__event_add_named(ks_event *ev, const char *name, size_t n, const ks_value *v);
int ks__event_add_str(ks_event *ev, const char *name, size_t n, const char *s, size_t sn);
/* Resolves the canonical fields of a filled event (one pass; the engine
 * calls it after every input next(), a tool that fills events by hand may). */
void ks__event_finish(ks_event *ev);
/* The same resolution into out (index + 1 per canonical field, 0 = none)
 * without touching ev: copied when ev is finished, computed otherwise. */
void ks__event_canon(const ks_event *ev, uint32_t out[KS_F_COUNT]);
/* The value of canonical field KS_F_x: the best-ranked alternate the event
 * has (fields.def order), NULL if none. Borrowed from the event. Inline for
 * a finished event (one array read): detectors ask ~40 times an IIS line,
 * and the calls were 8 % of its instructions. */
const ks_value *ks__field_resolve(const ks_event *ev, int f); /* not finished */
static inline const ks_value *ks__field(const ks_event *ev, int f)
{
    if (f < 0 || f >= KS_F_COUNT)
        return NULL;
    if (KS_UNLIKELY(!ev->finished))
        return ks__field_resolve(ev, f);
    return ev->canon[f] ? &ev->fields[ev->canon[f] - 1].v : NULL;
}
/* The same as a string slice; {NULL, 0} when absent or not a string, p ""
 * when present but empty. */
static inline ks_slice ks__field_str(const ks_event *ev, int f)
{
    const ks_value *v = ks__field(ev, f);
    ks_slice s = {NULL, 0};
    if (v && v->type == KS_VSTR) {
        s = v->u.s;
        if (!s.p)
            s.p = ""; /* present but empty */
    }
    return s;
}
/* The source tag ("windows", "w3c", "exchange", "canonical", ...) of the
 * alternate that gave field f its value, NULL if absent. */
const char *ks__field_source(const ks_event *ev, int f);
const char *ks__field_name(int f);        /* "host.name"; NULL out of range */
int ks__field_find(const char *name);     /* KS_F_x of a canonical name, -1 */
/* KS_F_x when the symbol is a canonical name, else -1. */
int ks__field_of_sym(const ks_symtab *t, ks_sym name);
/* Is the symbol a name (canonical or alternate) of field f? */
bool ks__field_sym_is(const ks_symtab *t, ks_sym name, int f);
/* Header names of exports (csv input): the canonical field one of whose
 * non-'@' alternates of `sources` (NULL-terminated), or else whose canonical
 * name, equals s once both are normalised (lower case, letters and digits
 * only: "Client IP" = "client_ip" = "ClientIp"). The first row in
 * fields.def order wins; *src gets the row's source or "canonical"
 * (static). -1 when none. */
int ks__field_of_header(const char *s, size_t n, const char *const *sources, const char **src);
/* The first alternate name of field f in source (fields.def order), NULL
 * if that source has none. Static. */
const char *ks__field_alt(int f, const char *source);
/* A header name as ks__field_of_header compares it, into out (NUL-ended,
 * cut at cap - 1): lower case, letters and digits only. Its length. */
size_t ks__header_norm(const char *s, size_t n, char *out, size_t cap);
/* The symbol table classifier of the schema (ctx unused), and a symbol
 * table that has it: every table whose events are read through the schema
 * (the engine's; tools and tests that intern by hand). */
uint32_t ks__fields_classify(void *ctx, const char *s, size_t n);
ks_symtab *ks__symtab_new_schema(void);
#define KS_EVENT_MAX_FIELDS 65536
/* Appends v as text (binary as lowercase hex, times RFC 3339). */
int ks__buf_add_value(ks_buf *b, const ks_value *v);

/* ---- input formats ------------------------------------------------------------ */
#define KS_INPUT_ABI_1 1

typedef struct ks_input_ctx {
    ks_source *src;       /* the evidence stream; borrowed */
    const char *path;     /* for diagnostics */
    ks_worker *w;         /* diagnostics, options */
    uint64_t begin, end;  /* byte range of this part (split inputs); end = UINT64_MAX: all */
} ks_input_ctx;

struct ks_input {
    int abi;                  /* KS_INPUT_ABI_1 */
    const char *name;         /* "json", "evtx", "w3c", ... */
    const char *description;  /* one line for `kensa formats` */
    /* Confidence 0..100 that head (decompressed first bytes) + file name are
     * this format. 0 = no; the highest score claims the file. name may be ""
     * (claims.c asks whether the content alone is this format: a probe must
     * score real content above 0 without a name). Must not read past n. */
    int (*probe)(const uint8_t *head, size_t n, const char *name);
    /* Optional: cut the source into up to max independent parts (byte ranges)
     * so one big file can use every core. Writes nparts boundaries such that
     * part i is [bounds[i], bounds[i+1]). NULL = one part. Returns KS_OK, or
     * an error: the file is then read as one part (nothing is lost). A part
     * that cannot be queued is read by the task that split the file. */
    int (*split)(ks_source *src, uint64_t *bounds, size_t max, size_t *nparts);
    /* KS_OK with *state set, or a negative code: the engine reports "cannot
     * read as NAME" as an error naming the file (counts toward exit 2). */
    int (*open)(const ks_input_ctx *ctx, void **state);
    /* Fills ev (already reset, prov.path/format set): KS_OK, KS_EOF, or a
     * negative code when the rest of this source is unreadable; the input
     * must have reported why and where through ks__diag before returning
     * it (the engine stops reading this source). Damaged records are
     * reported and skipped inside next(), not returned as errors. */
    int (*next)(void *state, ks_event *ev);
    void (*close)(void *state);   /* NULL-safe */
};

/* ---- files (file detectors) ----------------------------------------------------- */
enum {
    KS_FH_MD5 = 1 << 0,
    KS_FH_SHA1 = 1 << 1,
    KS_FH_SHA256 = 1 << 2,
};

typedef struct ks_fhash {
    unsigned have;        /* KS_FH_* computed */
    uint8_t md5[16];
    uint8_t sha1[20];
    uint8_t sha256[32];
    uint64_t nread;       /* bytes actually read (a file may shrink) */
} ks_fhash;

typedef struct ks_file {
    const char *path;        /* as walked */
    const char *name;        /* basename */
    const struct stat *st;   /* lstat of the file */
    ks_source *src;          /* content; ks__source_map for all of it */
    const uint8_t *head;     /* first bytes (decompressed if compressed) */
    size_t nhead;
    const char *format;      /* input format that claimed it, or NULL */
    /* Digests the file detectors computed so far (the dispatcher's, one
     * per file, starting empty): a detector takes those it needs from here
     * and adds those it computes, so one read serves them all. */
    ks_fhash *fh;
    /* Provenance of an in-memory blob (a git blob: extract/extract.h), the
     * blob's own node; NULL for walked files. path is then the chain
     * ("repo!commit:path") for display and src a memory source. */
    const struct ks_xnode *xnode;
} ks_file;

/* ---- detectors ------------------------------------------------------------------ */
#define KS_DETECTOR_ABI_1 1

enum {
    KS_DET_EVENTS = 1 << 0,  /* wants on_event */
    KS_DET_FILES = 1 << 1,   /* wants on_file */
    /* Its on_file reads a mail store or an archive piece by piece (a
     * message, a member at a time) with bounded memory, so such a file is
     * given to it even when larger than walk.max_size (dispatch.c). */
    KS_DET_STREAMS = 1 << 2,
};

struct ks_detector {
    int abi;                 /* KS_DETECTOR_ABI_1 */
    const char *name;        /* "sigma", "yara", "identity", ... */
    const char *description;
    unsigned flags;
    /* Compile once from the engine's options. *det = NULL and KS_OK means
     * "nothing to do in this run" (e.g. no rules configured). Load errors of
     * single rules are diagnostics, not failures. */
    /* A negative return is an error naming the detector ("could not
     * start"): the run goes on without it. */
    int (*create)(ks_engine *e, void **det);
    /* Optional. A negative return stops the run before any evidence is
     * read (the engine reports it). */
    int (*worker_new)(void *det, ks_worker *w, void **ws);
    /* Per event / per file: KS_OK, or a negative code when this event or
     * file could not be fully examined (out of memory, unreadable content):
     * findings on it may be missing. The engine reports it as a warning
     * naming the detector, the file and the record (once per source and
     * detector) and goes on with the next one. Matching nothing is KS_OK;
     * per-rule trouble (a regex giving up, a rule cap) is the detector's
     * own diagnostic and still KS_OK. */
    int (*on_event)(void *ws, const ks_event *ev);
    int (*on_file)(void *ws, const ks_file *f);
    /* Fold the worker's state into det (aggregations) and free ws. */
    void (*worker_done)(void *det, void *ws);
    /* After all evidence: emit aggregate findings (correlations, sprays).
     * A negative return is reported as an error naming the detector (its
     * aggregate findings may be missing; exit status 2 or 3). */
    int (*finish)(void *det);
    /* Optional: sees every finding of the other detectors as it is emitted
     * (serialized, f valid only for the call); must not emit. For joins
     * such as the Exchange chain taking the web shells YARA found. */
    void (*on_finding)(void *det, const ks_finding *f);
    void (*destroy)(void *det);   /* NULL-safe */
};

/* ---- outputs ---------------------------------------------------------------------
 * An output is opened before any evidence is read (so an unknown name, an
 * unwritable path or a path that is also evidence fails at once), sees each
 * finding as soon as it is final, and is closed after the run.
 *
 * Two kinds, by how a killed run leaves the file (docs/OUTPUT.md):
 *  - KS_OUT_STREAM (jsonl, csv, ocsf): records are appended to the final
 *    path as findings come, each record with one write(2), so a killed run
 *    leaves a valid prefix (every complete line parses).
 *  - KS_OUT_REPORT (html, and the coming stix/sarif/summary): a document
 *    written to a temporary name in the same directory and renamed over
 *    the path when complete, so a killed run leaves no half document.
 * A report that lists every finding sets KS_OUT_ALL: it may ignore
 * on_finding and, in close(), call ks__findings_each(), which replays the
 * whole run in timeline order from a spool on disk (findings.c), so memory
 * stays bounded however many findings there are. A report that only needs
 * counts or a top-N keeps that bounded summary from on_finding instead.
 *
 * Calls: open (driving thread, before the run), on_finding (any thread,
 * serialized by the engine: never two at once for one engine; the finding
 * and its strings are valid only for the call), close (driving thread,
 * after the run; the run's stats are final), free (always, NULL-safe state).
 * A non-zero return from open refuses the run; from on_finding/close it is
 * reported as an error diagnostic naming the output and file, and that
 * output gets no more findings. */
#define KS_OUTPUT_ABI_2 2

enum {
    KS_OUT_STREAM = 1 << 0,  /* appends records in place (valid prefix) */
    KS_OUT_REPORT = 1 << 1,  /* one document: temporary name, renamed at close */
    KS_OUT_ALL = 1 << 2,     /* close() replays every finding (the spool) */
};

/* Where an output writes: a file descriptor owned by the engine. */
typedef struct ks_outfile ks_outfile;
/* Writes all n bytes (retrying short writes): KS_OK or KS_EIO. A stream
 * output calls it once per complete record. */
int ks__out_write(ks_outfile *o, const void *p, size_t n);
/* The descriptor (isatty for colour), and the path shown in messages. */
int ks__out_fd(const ks_outfile *o);
const char *ks__out_path(const ks_outfile *o);

struct ks_output {
    int abi;                  /* KS_OUTPUT_ABI_2 */
    const char *name;         /* "terminal", "jsonl", "csv", ... */
    const char *description;
    unsigned flags;           /* KS_OUT_* */
    /* Writes any header; *state is the output's own (may stay NULL). */
    int (*open)(ks_engine *e, ks_outfile *o, void **state);
    /* One final finding (may be NULL for KS_OUT_ALL reports). */
    int (*on_finding)(void *state, const ks_finding *f);
    /* Trailer, summary, or the whole report. */
    int (*close)(void *state);
    void (*free)(void *state);   /* optional */
};

/* The usual state of an output: the engine, where it writes, and a buffer
 * holding the record being built. ks__outbuf_open/free fit the vtable's
 * open/free; ks__outbuf_flush writes the buffer with one write and empties
 * it. */
typedef struct ks_outbuf {
    ks_engine *e;
    ks_outfile *o;
    ks_buf b;
} ks_outbuf;
int ks__outbuf_open(ks_engine *e, ks_outfile *o, void **state);
/* The same for a larger state that starts with a ks_outbuf (zeroed). */
int ks__outbuf_new(ks_engine *e, ks_outfile *o, size_t size, void **state);
void ks__outbuf_free(void *state);
int ks__outbuf_flush(ks_outbuf *s);

/* close() of a report written with stdio: runs fn with a FILE* on the
 * output's descriptor and flushes it; fn iterates with ks__findings_each. */
int ks__outbuf_stdio(void *state, int (*fn)(ks_engine *e, FILE *fp));

/* Every finding of the run, in timeline order, from memory or the spool;
 * valid only during close() of a KS_OUT_ALL output (or after the run).
 * f is valid only for the call; stops at fn's first non-zero return. */
int ks__findings_each(ks_engine *e, int (*fn)(void *ud, const ks_finding *f), void *ud);
/* The same as people read them (engine/group.c): in timeline order, one
 * event hit by several rules once (the others in details.also_rules), one
 * rule from one source within group.window as one finding with the
 * members' evidence and details.group_findings. Same validity as above. */
int ks__findings_view(ks_engine *e, int (*fn)(void *ud, const ks_finding *f), void *ud);
/* A deep copy of f in one malloc (free()); evidence capped at 64, as
 * stored. NULL without memory. */
ks_finding *ks__finding_dup(const ks_finding *f);
/* Findings rule_id emitted in the run, those over findings.max_per_rule
 * included (the noisy-rule summary). */
uint64_t ks__rule_emitted(ks_engine *e, const char *rule_id);
/* Timeline order: first time (undated last), severity, rule id, seq. */
int ks__finding_cmp(const ks_finding *a, const ks_finding *b);

/* The tables, built from plugins.def. */
#define KS_INPUT(sym) extern const struct ks_input sym;
#define KS_DETECTOR(sym) extern const struct ks_detector sym;
#define KS_OUTPUT(sym) extern const struct ks_output sym;
#include "plugins.def"
#undef KS_INPUT
#undef KS_DETECTOR
#undef KS_OUTPUT
extern const struct ks_input *const ks__inputs[];
extern const struct ks_detector *const ks__detectors[];
extern const struct ks_output *const ks__outputs[];
const struct ks_input *ks__input_find(const char *name);

/* ---- engine services --------------------------------------------------------------- */
struct ks_worker {
    int id;                  /* 0..threads-1 */
    ks_engine *engine;
    ks_symcache *cache;      /* this thread's interner cache */
    ks_arena *arena;         /* per-event scratch */
    ks_event ev;             /* the event being filled */
    void **det_state;        /* per active detector */
    ks_stats stats;          /* folded into the engine's at the end */
};

/* The one way to set up a worker outside the pool (tools, tests, the public
 * ks_engine_read_file) and inside it: its interner cache, per-event arena
 * and the event it fills. KS_ENOMEM leaves w released. */
int ks__worker_init(ks_worker *w, ks_engine *e, int id);
void ks__worker_release(ks_worker *w); /* NULL members are fine */

/* Reports a located diagnostic (thread-safe). Errors count toward exit 2. */
void ks__diag(ks_engine *e, ks_diag_level lvl, int code, const char *component,
              const ks_loc *loc, const char *fmt, ...) KS_PRINTF(6, 7);
/* Emits a finding: deep-copied, so everything in f may be borrowed.
 * Thread-safe. Beyond the per-rule cap only counts are kept. */
int ks__emit(ks_engine *e, const ks_finding *f);
/* Options: the value in force for a key registered in
 * src/lib/engine/options.def, else the row's default (a key without a row is
 * an internal error, reported once per engine). Values were checked against
 * the row when set, so these only convert: ks__opt (text; NULL when unset
 * with no default), ks__opt_int (INT, SIZE in bytes), ks__opt_double,
 * ks__opt_bool, ks__opt_duration (ns). List options ("rules") come as n
 * values, owned by the engine. Strings live until the engine is freed.
 * e may be NULL (scalars only): the registry's defaults.
 * NEEDSWORK: calls written before the registry passed a default as a third
 * argument; it is accepted and ignored (the row's default wins). */
const char *ks__opt_(const ks_engine *e, const char *key);
int64_t ks__opt_int_(const ks_engine *e, const char *key);
double ks__opt_double_(const ks_engine *e, const char *key);
bool ks__opt_bool_(const ks_engine *e, const char *key);
#define KS__OPT_KEY_(key, ...) (key)
#define ks__opt(e, ...) ks__opt_((e), KS__OPT_KEY_(__VA_ARGS__, 0))
#define ks__opt_int(e, ...) ks__opt_int_((e), KS__OPT_KEY_(__VA_ARGS__, 0))
#define ks__opt_double(e, ...) ks__opt_double_((e), KS__OPT_KEY_(__VA_ARGS__, 0))
#define ks__opt_bool(e, ...) ks__opt_bool_((e), KS__OPT_KEY_(__VA_ARGS__, 0))
int64_t ks__opt_duration(const ks_engine *e, const char *key);
size_t ks__opt_list(const ks_engine *e, const char *key, const char ***vals);
ks_symtab *ks__engine_symtab(ks_engine *e);
/* The engine's long-lived arena for compiled rules (thread-unsafe: use in
 * create/finish only). */
ks_arena *ks__engine_arena(ks_engine *e);
/* Directory of kensa's bundled rules: option rules_dir, $KENSA_RULES_DIR,
 * beside the binary, or the installed data dir; NULL when none exists. */
const char *ks__rules_dir(const ks_engine *e);
/* The bundled rule set `sub` ("sigma", "yara", "ioc") as a path in buf, or
 * NULL after an error diagnostic (no bundled rules, or that set missing):
 * a missing bundled set is never silent. Call when builtin is on. */
const char *ks__bundled(ks_engine *e, const char *sub, char *buf, size_t cap);
/* Sets the message returned by ks_engine_errmsg. */
void ks__seterr(ks_engine *e, const char *fmt, ...) KS_PRINTF(2, 3);
/* Fills a ks_evidence from an event: where (path, record, line, offset,
 * time) and the context of the schema (host, channel, event id, record id,
 * user, target user, source address; interned, valid for the engine's
 * life). */
void ks__evidence_from_event(ks_evidence *ev, const ks_event *e);
/* The same with the context copied into buf (KS_EVIDENCE_BUF bytes), valid
 * while buf is: for a finding emitted at once (ks__emit copies it). The
 * interned form grew the symbol table with every match, even the ones
 * past findings.max_per_rule. */
#define KS_EVIDENCE_BUF (7 * 513)
void ks__evidence_from_event_buf(ks_evidence *ev, const ks_event *e, char *buf);

/* Sorted findings (outputs). */
size_t ks__nfindings(const ks_engine *e);
const ks_finding *ks__finding(const ks_engine *e, size_t i);

#endif
