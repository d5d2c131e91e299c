/* SPDX-License-Identifier: Apache-2.0
 *
 * Content extraction: turns a blob (a walked file, a mail attachment, an
 * archive member, a git blob) into UTF-8 text units that carry where they
 * came from. Mail (RFC 5322/mbox/.msg/.pst/TNEF), documents (OOXML, ODF,
 * PDF, RTF, HTML, CSV, text in any common encoding) and archives (zip, tar,
 * gz/bz2/xz/zst, 7z) are extractors registered in extractors.def; the best
 * one is chosen by content (probe score), never by file name alone.
 *
 * Extraction is recursive: an extractor hands each child it finds (an
 * attachment, a member, a nested message/rfc822) back to ks__extract_child,
 * which sniffs it again, so a docx in a zip attached to a message in an
 * mbox is read as text with the whole chain as provenance. Depth, per-blob
 * size, total output and ratio budgets (ks_xbudget) bound the work; a
 * budget that stops a child is a KS_DIAG_WARN naming the file and chain,
 * never an out-of-memory.
 *
 * Users: the secrets/personal-data detector (file detector, on_file), the
 * exposure index builder (kensa index build), the mailbox join.
 *
 * Ownership: every pointer handed to a callback (ks_xtext, its node chain
 * and their strings) is borrowed and valid only during the call; copy what
 * you keep. One ks_xctx per thread.
 */
#ifndef KS_EXTRACT_H
#define KS_EXTRACT_H

#include "kensa_int.h"

/* Metadata of the message a blob belongs to (inherited by its parts). All
 * members optional (NULL / KS_TIME_NONE = unknown); UTF-8, RFC 2047 decoded. */
typedef struct ks_xmail {
    const char *message_id; /* without <>; the join key with MailItemsAccessed */
    const char *date;       /* as written in the Date header */
    int64_t time;           /* Date parsed, UTC ns */
    const char *from;
    const char *to;         /* comma-separated */
    const char *cc;
    const char *subject;
    const char *folder;     /* PST/mbox folder path when known */
} ks_xmail;

/* A git blob's first appearance (the git walker finds each blob once). */
typedef struct ks_xgit {
    const char *repo;      /* repository path as walked */
    const char *commit;    /* hex id of the first commit that has the blob */
    const char *author;    /* "Name <email>" */
    int64_t time;          /* author time, UTC ns */
    const char *path;      /* path of the blob in that commit's tree */
} ks_xgit;

/* One level of the container chain, innermost last. The top node is the
 * walked file itself (parent NULL, name = the evidence path). */
typedef struct ks_xnode {
    const struct ks_xnode *parent;
    const char *name;       /* member path, attachment file name, "body" */
    const char *format;     /* extractor that opened this level ("zip", "mime") */
    const ks_xmail *mail;   /* nearest enclosing message, NULL if none */
    const ks_xgit *git;     /* git provenance, NULL if none */
    uint64_t offset;        /* byte offset of this blob in its parent, UINT64_MAX unknown */
    unsigned depth;         /* 0 for the top node */
} ks_xnode;

/* One unit of text. */
typedef struct ks_xtext {
    const ks_xnode *node;   /* where it came from */
    const char *part;       /* "body", "subject", "header:From", "sheet1", "page 3", ... */
    const char *p;          /* UTF-8, not NUL-terminated; borrowed for the call */
    size_t n;
    uint64_t offset;        /* offset of p[0] in the decoded text of node, for locations */
} ks_xtext;

/* Returns 0 to go on, non-zero to stop extracting this top-level blob. */
typedef int (*ks_xtext_fn)(void *ud, const ks_xtext *t);

/* Budgets (options extract.*, docs/LIMITS.md). 0 = the default. */
typedef struct ks_xbudget {
    unsigned max_depth;      /* nesting levels below the top node */
    uint64_t max_blob;       /* decoded bytes of one child */
    uint64_t max_total;      /* decoded bytes from one top-level blob */
    uint64_t max_ratio;      /* decoded / stored size for compressed children */
    uint64_t max_children;   /* children of one top-level blob */
} ks_xbudget;

typedef struct ks_xctx {
    ks_engine *e;            /* diagnostics + options; NULL in unit tests/fuzzers */
    const char *path;        /* evidence file, for diagnostics */
    ks_xtext_fn on_text;
    void *ud;
    ks_xbudget budget;
    /* running totals for the current top-level blob (set by ks__extract) */
    uint64_t total;
    uint64_t children;
    bool stopped;            /* a callback or a budget asked to stop */
} ks_xctx;

/* The extractor vtable; one per format, listed in extractors.def. */
#define KS_EXTRACTOR_ABI_1 1
struct ks_extractor {
    int abi;
    const char *name;         /* "mime", "mbox", "msg", "pst", "tnef", "ooxml", "pdf", ... */
    const char *description;  /* one line for `kensa formats` */
    /* 0..100 confidence from the first bytes (and the name as a hint only). */
    int (*probe)(const uint8_t *head, size_t n, const char *name);
    /* Reads p[0..n) (the whole blob, borrowed), calls ks__extract_text for
     * its text and ks__extract_child for its children. KS_OK, or a negative
     * code after a diagnostic (damaged blob: what was read stays reported). */
    int (*extract)(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n);
};

/* Sets budget defaults from the engine's options (e may be NULL). */
void ks__xctx_init(ks_xctx *x, ks_engine *e, const char *path, ks_xtext_fn fn, void *ud);

/* Extracts a top-level blob: node is the top node (depth 0). Resets the
 * running totals. A blob no extractor claims and that looks like text is
 * decoded (BOM / UTF-16 / Latin-1 sniffing) and given as one text unit. */
int ks__extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n);

/* For extractors: a child blob of parent. Checks the budgets, builds the
 * child node (mail/git inherited unless given), sniffs and recurses. */
int ks__extract_child(ks_xctx *x, const ks_xnode *parent, const char *name,
                      const char *format, const ks_xmail *mail, uint64_t offset,
                      const uint8_t *p, size_t n);

/* For extractors: text of node in `charset` (NULL = sniff; "utf-8",
 * "utf-16le", any iconv name) converted to UTF-8 and given to on_text in
 * pieces that keep offsets. Counts toward max_total. */
int ks__extract_text(ks_xctx *x, const ks_xnode *node, const char *part,
                     const char *p, size_t n, const char *charset);

/* The "a.zip!docs/x.docx!word/document.xml" form of a chain, for findings. */
int ks__xnode_path(const ks_xnode *node, ks_buf *out);

/* The table, from extractors.def. */
#define KS_EXTRACTOR(sym) extern const struct ks_extractor sym;
#include "extract/extractors.def"
#undef KS_EXTRACTOR
extern const struct ks_extractor *const ks__extractors[];

#endif
