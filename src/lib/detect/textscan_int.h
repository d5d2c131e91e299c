/* SPDX-License-Identifier: Apache-2.0
 *
 * The text scanner's private parts, shared by its files:
 *
 *   textscan.c        compile (one Vectorscan database + PCRE2 per rule), scan
 *   textscan_rules.c  rule files: kensa YAML, Nosey Parker YAML, gitleaks TOML,
 *                     and the regex dialect conversion they need
 *   textscan_words.c  validators of key-word rules (passwords, tokens)
 *   textscan_toml.c   the TOML subset gitleaks configurations use
 *   textscan_valid.c  hand-written validators (checksums, decoders) by name
 *   textscan_phone.cc libphonenumber behind a C function
 *   textscan_pass.c   hand-written first passes (digit clusters, '@') for
 *                     rules Vectorscan runs slowly
 *   textscan_memo.c   deliveries of repeated values, kept per thread
 *   textscan_ctx.c    context words near a value
 *
 * Ownership: rules and their strings live in the scanner's arena and are
 * immutable once ks__textscan_new returned; threads share them. A
 * ks_textscratch (match data, candidate regions) belongs to one thread.
 */
#ifndef KS_TEXTSCAN_INT_H
#define KS_TEXTSCAN_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/textscan.h"

/* ---- candidates and validators -------------------------------------------- */

#define TS_MAX_DETAILS 16
#define TS_NORM_MAX 512

/* One candidate being confirmed: the scanned text, the regex match, the
 * value inside it. A validator may move the value span (a PEM block grows
 * to its END line), fill the normalised form and decoded details, change
 * the confidence and the verdict. */
typedef struct ts_cand {
    const char *text;         /* the whole scanned text (borrowed) */
    size_t n;
    size_t ms, me;            /* regex match span */
    size_t vs, ve;            /* value span (inside or around the match) */
    char norm[TS_NORM_MAX];   /* normalised value; empty = the raw value */
    size_t nnorm;
    ks_kv details[TS_MAX_DETAILS];
    size_t ndetails;
    char dbuf[1024];          /* storage for detail values */
    size_t ndbuf;
    int confidence;           /* starts at the rule's, 0..100 */
    ks_tvalid valid;
    int severity;             /* -1: the rule's; a validator may set one */
    const char *type;         /* validator may refine ("aws.secret_key" -> paired) */
    const char *region;       /* default phone region */
    const char *hint;         /* the unit's region (a message's sender's
                               * country TLD), tried after the text's; NULL none */
    size_t ps, pe;            /* the value it pairs with (an AWS secret's key id),
                               * ps == pe: none */
    int ctx;                  /* a context word near the value: 1 yes, 0 no,
                               * -1 not looked for yet (ks__ts_context) */
    const struct ts_wordset *ctxw; /* the rule's context words; NULL: none */
    int min_confidence;       /* the scanner's threshold: a validator may give up
                               * early on a candidate that cannot reach it */
    bool code;                /* the text is program source (KS_TC_CODE) */
    bool delivering;          /* details are kept only when the match is delivered
                               * (confirmation runs the validator without them) */
    struct ts_memo *memo;     /* the thread's memo of verdicts (textscan_memo.c);
                               * NULL: none */
} ts_cand;

/* Returns true to keep the candidate. */
typedef bool (*ts_validate_fn)(ts_cand *c);

/* A decoded view of a value (textscan_b64.c): text the scanner reads again
 * with every rule, and where each piece of it was decoded from. */
typedef struct ts_seg {
    size_t at, len;           /* in the view */
    size_t vs, ve;            /* the encoded value in the scanned text */
} ts_seg;
typedef struct ts_view {
    ks_buf text;
    ts_seg *segs;             /* in view order */
    size_t nsegs, capsegs;
    /* set by the view function (defaults: base64, every class) */
    bool b64;                 /* segments are base64 (3 bytes per 4 characters),
                               * else the view copies the text's bytes */
    unsigned classes;         /* classes scanned in it; 0: the scan's */
    const char *dkey, *dval;  /* the detail its matches carry ("decoded", "base64") */
} ts_view;
/* Appends the view of the value t[vs..ve) (confirmed by the same
 * validator) to v; false when there is nothing to read. */
typedef bool (*ts_view_fn)(const char *t, size_t n, size_t vs, size_t ve, ts_view *v);

typedef struct ts_validator {
    const char *name;         /* "aws_key_id", "luhn", ... as written in rules */
    ts_validate_fn fn;
    bool pure;                /* what it delivers (normalised form, details, type,
                               * severity) depends on the value's bytes and verdict
                               * alone, never on the text around: deliveries of
                               * one value share it (textscan_memo.c) */
    ts_view_fn view;          /* a decoder: the value is not delivered, its
                               * decoded view is scanned again (textscan_b64.c) */
} ts_validator;

const ts_validator *ks__ts_validator_find(const char *name);
/* The decoders of base64-wrapped values (textscan_b64.c), by name. */
const ts_validator *ks__ts_decoder_find(const char *name);
/* A table's column named for passwords (textscan_table.c): the header
 * field, and the view of its cells as "password: cell" lines. */
bool ks__tsv_password_column(ts_cand *c);
bool ks__ts_password_column_view(const char *t, size_t n, size_t vs, size_t ve, ts_view *v);
/* Adds a decoded fact; the value is copied into c->dbuf (silently dropped
 * when full). */
void ks__ts_detail(ts_cand *c, const char *key, const char *fmt, ...) KS_PRINTF(3, 4);
/* True when one of the rule's context words is near the value (computed
 * once per candidate; validators that skip costly work call it first). */
bool ks__ts_context(ts_cand *c);
/* True when a negative word of ws is on the value's line or in its
 * column's header (a table's first line). */
bool ks__ts_negative(const ts_cand *c, const struct ts_wordset *ws);
/* Context words made for the search (textscan_ctx.c), in arena a; NULL
 * for no words or on OOM (nw > 0). words are lower-case and must outlive
 * the set. */
typedef struct ts_wordset ts_wordset;
const ts_wordset *ks__ts_wordset_new(ks_arena *a, const char *const *words, size_t nw);
/* True when a word of ws is near [vs, ve) in t[0..n); with line, only on
 * the value's own line (negative words). */
bool ks__ts_near_word(const char *t, size_t n, size_t vs, size_t ve, const ts_wordset *ws,
                      bool line);
/* Shannon entropy in bits per byte of p[0..n). */
double ks__ts_entropy(const char *p, size_t n);
/* Classes of characters in p[0..n): bit 0 lower, 1 upper, 2 digit, 3 other. */
unsigned ks__ts_char_classes(const char *p, size_t n);
/* Base64 (standard or URL alphabet, padding optional, white space skipped)
 * into out; the length, or -1 for a bad character or too small a buffer. */
long ks__ts_b64_decode(const char *p, size_t n, uint8_t *out, size_t cap);
/* The key-word validators (textscan_words.c). */
bool ks__tsv_password(ts_cand *c);
bool ks__tsv_password_strong(ts_cand *c);
bool ks__tsv_url_password(ts_cand *c);
bool ks__tsv_generic(ts_cand *c);
bool ks__tsv_sql_password(ts_cand *c);
bool ks__tsv_bearer(ts_cand *c);
bool ks__tsv_basic_auth(ts_cand *c);
bool ks__tsv_b64_password(ts_cand *c);
bool ks__tsv_pgpass(ts_cand *c);
/* True when the value is a well-known documented example or a placeholder
 * made for documentation (contains EXAMPLE, a run like 1234567890...). */
bool ks__ts_is_example(const char *p, size_t n);
/* True when the value is one of the documented values themselves (the
 * storage emulator's key, AWS's sample pair), not only shaped like one. */
bool ks__ts_known_example(const char *p, size_t n);

/* libphonenumber: parses s as a phone number (region for numbers without
 * +). Returns 2 for a valid number, 1 for a possible one (right length,
 * unassigned range), 0 otherwise; writes E.164 to out when not 0. */
int ks__phone_e164(const char *s, size_t n, const char *region, char *out, size_t cap);
/* True when s, read as a national number of region, is grouped the way
 * that region writes its numbers (libphonenumber's STRICT_GROUPING: every
 * separator at a group boundary of one of its formats). */
bool ks__phone_grouped(const char *s, size_t n, const char *region);
/* The main region of the country code of an international number (+...),
 * written to out (3 bytes); false if s is none. */
bool ks__phone_region(const char *s, size_t n, char out[3]);
/* The region an address's country-code TLD names ("k.sato@yamato.co.jp",
 * "Name <x@y.co.uk>" -> GB) into out; false for none (.com, no address). */
bool ks__ts_address_region(const char *s, size_t n, char out[3]);
/* The first of regions[0..nr) where s is a valid number (2 above) and,
 * with grouped (1), grouped as that region writes it: its index, E.164 in
 * out; -1 when none. With grouped 2, a region whose national format is
 * exactly the written one (same groups) is taken before the first grouped
 * one. The same as asking them one by one, answered once per number and
 * list. */
int ks__phone_first(const char *s, size_t n, const char *const *regions, size_t nr, int grouped,
                    char *out, size_t cap);
/* False when s, read in region, cannot be a valid number: no '+', not
 * dialled from there abroad, and no national significant number the
 * metadata's lengths allow is left by stripping the country code and
 * national prefixes (libphonenumber's own metadata, read once). True when
 * it may be (ks__phone_first parses only those). */
bool ks__phone_may_be_valid(const char *s, size_t n, const char *region);

/* String escapes (textscan_esc.c). True when p[0..n) is a string's content
 * written with JSON escapes: it holds a backslash, every backslash starts
 * an escape (\" \\ \/ \b \f \n \r \t \uXXXX), no real line break, and
 * it opens a double-quoted string (quoted) or has "\n" escapes (a PEM
 * block kept on one line). */
bool ks__ts_escaped(const char *p, size_t n, bool quoted);
/* Decodes the escapes of p[0..n) into out (room for n bytes: decoding
 * never grows), \uXXXX to UTF-8; returns the length. */
size_t ks__ts_unescape(const char *p, size_t n, char *out);
/* p[0..n), which opens inside a double-quoted string, as the strings it
 * is a list or concatenation of ("-----BEGIN ...\n",\n "MIIE...\n", ...:
 * nothing but white space, ',' and '+' between them, two strings or
 * more, escapes valid) joined into out (room for n bytes), escapes not
 * yet decoded; the length, 0 when p is not that. */
size_t ks__ts_join_strings(const char *p, size_t n, char *out);

/* ---- rules ----------------------------------------------------------------- */

enum ts_dialect { TS_D_PCRE = 0, TS_D_RUST, TS_D_GO };

/* Value group conventions: the last group that matched (Nosey Parker: the
 * secret comes last), or automatic (a group named "secret", else group 1
 * when there is one, else the whole match). */
#define TS_GROUP_LAST (-1)
#define TS_GROUP_AUTO (-2)

typedef struct ts_rule {
    const char *id;           /* "kensa.secret.aws-access-key-id", "np.aws.1", "gitleaks.x" */
    const char *name;         /* human title */
    const char *type;         /* "aws.access_key_id", "pii.email" */
    ks_tclass cls;
    ks_severity sev;
    const char *pattern;      /* PCRE2 syntax (converted) */
    const char *prefilter;    /* Vectorscan pattern when not the pattern itself */
    pcre2_code *re;
    int group;                /* value group: 0 whole match, n, TS_GROUP_LAST, TS_GROUP_AUTO */
    const ts_validator *validator; /* NULL: none */
    double min_entropy;       /* 0 = no entropy test */
    int confidence;           /* base confidence 0..100 */
    int priority;             /* overlapping matches: the higher wins */
    const char **context;     /* words near the value that raise confidence */
    size_t ncontext;
    const char **negctx;      /* words that lower it */
    size_t nnegctx;
    const struct ts_wordset *ctxset, *negset; /* the two, made for one pass over
                               * a window (textscan.c); NULL: no words */
    pcre2_code **allow;       /* value regexes that drop a match (gitleaks allowlists) */
    size_t nallow;
    const char **stopwords;   /* a value containing one is dropped */
    size_t nstop;
    const char **examples;    /* should match (tests) */
    size_t nexamples;
    const char **negatives;   /* must not match (tests) */
    size_t nnegatives;
    int lookback;             /* with a prefilter: bytes the match may start
                               * before the prefilter's hit; -1 = unknown */
    unsigned maxw;            /* confirmation window before a hit: where a match may start */
    unsigned fwd;             /* and after it: where a match may end */
    bool slow;                /* not in the Vectorscan database: PCRE2 over the text */
    bool email;               /* the bundled e-mail pattern: confirmed by
                               * ks__ts_email_match, not PCRE2 */
    bool iban;                /* the bundled IBAN pattern: PCRE2 searches only
                               * from a start ks__ts_iban_start allows */
    uint8_t pass;             /* TS_PASS_*: candidates from a hand-written pass,
                               * not from the Vectorscan database */
    uint8_t letters_before;   /* TS_PASS_DIGITS: letters right before the digits */
    uint16_t min_digits;      /* TS_PASS_DIGITS: fewest digits a match can have */
    const char *file;         /* where defined */
    uint32_t line;
} ts_rule;

/* Loader side: a growing rule list in the scanner's arena. */
typedef struct ts_rules {
    ks_engine *e;             /* diagnostics; may be NULL */
    ks_arena *a;
    ts_rule *v;
    size_t n, cap;
    size_t nfailed;           /* rules refused with a diagnostic */
} ts_rules;

/* Loads a file or a directory (recursively) of rule files, recognising the
 * format by content: kensa YAML ("rules:" with "type:"), Nosey Parker YAML
 * ("rules:" with "pattern:" and no type), gitleaks TOML ("[[rules]]").
 * Per-rule problems are diagnostics; KS_ENOMEM is the only failure. */
int ks__ts_load_path(ts_rules *rs, const char *path);
int ks__ts_load_mem(ts_rules *rs, const char *buf, size_t n, const char *path);
/* Rewrites a Rust / Go / PCRE regex into the PCRE2 + Vectorscan dialect
 * (verbose mode removed, Rust's `u` flag dropped). Arena string. */
const char *ks__ts_regex_convert(ks_arena *a, const char *re, size_t n, enum ts_dialect d);
/* Reports a problem with a rule file. */
void ks__ts_diag(ts_rules *rs, ks_diag_level lvl, const char *file, uint32_t line,
                 const char *fmt, ...) KS_PRINTF(5, 6);

/* Tests and tools: the compiled rules. */
const ts_rule *ks__textscan_rule(const ks_textscan *ts, size_t i);
/* Runs one rule alone over text (tests: rule examples); counts matches. */
size_t ks__textscan_rule_count(const ks_textscan *ts, ks_textscratch *s, size_t rule,
                               const char *text, size_t n);

/* ---- hand-written first passes (textscan_pass.c) ----------------------------- */

enum ts_pass { TS_PASS_NONE = 0, TS_PASS_DIGITS, TS_PASS_EMAIL };

/* The rules each pass serves (indexes into the scanner's rules). */
typedef struct ts_pass_set {
    struct {
        uint32_t id;
        const ts_rule *rule;
    } *digits;
    size_t ndigits;
    uint32_t *email;
    size_t nemail;
    unsigned cls;       /* KS_TC_* of the rules served: a scan asking for
                           none of them (secrets in a log) runs the loop for
                           "\/" alone */
} ts_pass_set;

/* A candidate region of rule id: a match may start anywhere in [lo, hi]
 * (or up to the rule's width before lo). Called in increasing order per rule. */
typedef void (*ts_span_fn)(void *ud, uint32_t id, uint64_t lo, uint64_t hi);

/* TS_PASS_* for a `first_pass:` name; -1 when unknown. */
int ks__ts_pass_parse(const char *name);
/* Runs the passes over t[0..n) and reports each candidate region. With
 * stop_slash, stops at the first "\/" that is not itself escaped and
 * returns false (the regions reported so far are then to be dropped:
 * the caller scans the text with '/' for "\/"); true otherwise. */
bool ks__ts_pass_run(const ts_pass_set *ps, const char *t, size_t n, bool stop_slash, ts_span_fn fn,
                     void *ud);
/* The passes' loop reads 32 bytes at a time where the CPU has AVX2, else
 * 16 (SSE2): -1 (default) as the CPU allows, 0 the SSE2 loop (tests
 * compare the two), 1 AVX2 where there is. */
extern int ks__ts_pass_avx2;
/* True when pattern is the bundled e-mail rule's, which ks__ts_email_match
 * matches by hand. */
bool ks__ts_email_pattern(const char *pattern);
/* What pcre2_match of that pattern finds in t[0..n) from start with an
 * offset limit of lim: the leftmost match starting in [start, lim], its
 * span in *ms, *me (the value group is the whole match); false when none. */
bool ks__ts_email_match(const char *t, size_t n, size_t start, size_t lim, size_t *ms, size_t *me);
/* True when pattern is the bundled IBAN rule's. */
bool ks__ts_iban_pattern(const char *pattern);
/* The first offset in [start, lim] where a match of that pattern in
 * t[0..n) starts, exactly as PCRE2 would find one; SIZE_MAX when none
 * does. Searching from there gives PCRE2's match without its backtracking
 * through every split of a long letter-and-digit run. */
size_t ks__ts_iban_start(const char *t, size_t n, size_t start, size_t lim);

/* ---- the delivery memo (textscan_memo.c) ------------------------------------------ */

/* Per scratch (one thread), bounded: deliveries of a rule whose validator
 * is pure (or that has none), keyed by rule, verdict and value bytes. */
typedef struct ts_memo ts_memo;
typedef struct ts_memo_ent ts_memo_ent;

ts_memo *ks__ts_memo_new(void);
void ks__ts_memo_free(ts_memo *m);
/* The delivery kept for this value of rule with this verdict, or NULL.
 * Valid until the next ks__ts_memo_add. */
const ts_memo_ent *ks__ts_memo_find(ts_memo *m, uint32_t rule, ks_tvalid valid, const char *v,
                                    size_t n);
/* Keeps what t delivers (its value, norm, details, type, severity,
 * SHA-256, redaction; copied); may empty the memo first to make room. */
void ks__ts_memo_add(ts_memo *m, uint32_t rule, const ks_tmatch *t);
/* Verdicts of a validator's costly check on a value, by kind (TS_MEMO_*):
 * 1 or 0 as set, -1 when not kept. m may be NULL (nothing kept). */
enum { TS_MEMO_JWT_DOC_KEY = 1 };
int ks__ts_memo_verdict(ts_memo *m, unsigned kind, const char *v, size_t n);
void ks__ts_memo_set_verdict(ts_memo *m, unsigned kind, const char *v, size_t n, bool yes);
/* Fills t's type, severity, norm, details (into details[TS_MAX_DETAILS]),
 * SHA-256 and redaction from an entry; t->value/nvalue must be set. The
 * strings are the memo's, valid until its next add. */
void ks__ts_memo_fill(const ts_memo_ent *e, ks_tmatch *t, ks_kv *details);

/* ---- TOML (gitleaks' subset) -------------------------------------------------- */

enum ts_tomltype { TT_STR = 1, TT_NUM, TT_BOOL, TT_ARR, TT_TABLE };

typedef struct ts_toml ts_toml;
struct ts_toml {
    int type;                 /* TT_* */
    uint32_t line;
    const char *s;            /* TT_STR: NUL-terminated (escapes decoded) */
    size_t n;
    double num;
    bool b;
    const char **keys;        /* TT_TABLE: keys[i] -> kids[i]; TT_ARR: keys NULL */
    ts_toml **kids;
    size_t nkids, cap;
};

/* Parses buf into a root table in arena a. KS_EFORMAT with err and *errline
 * on a syntax error. */
int ks__toml_parse(ks_arena *a, const char *buf, size_t n, ts_toml **root, char *err,
                   size_t errcap, uint32_t *errline);
const ts_toml *ks__toml_get(const ts_toml *t, const char *key);

#endif
