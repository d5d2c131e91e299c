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
    /* p is UTF-8 except where a blob sniffed as UTF-8 had stray invalid
     * bytes (they are passed through, not replaced, so offsets stay exact). */
    const char *part;       /* "body", "subject", "header:From", "sheet1", "page 3", ... */
    const char *p;          /* UTF-8, not NUL-terminated; borrowed for the call */
    size_t n;
    uint64_t offset;        /* offset of p[0] in the decoded text of node, for locations */
    /* Byte offset of the first source byte of this piece in node's blob
     * (equal to offset for UTF-8 text; UINT64_MAX when the text is not a
     * span of the blob, e.g. XML text nodes). */
    uint64_t src_offset;
    const char *charset;    /* the blob's charset as decoded ("utf-8", "utf-16le") */
    /* True when the callback's previous unit was a piece of the same blob
     * handed over by the same extractor call (the strings of a binary, the
     * pieces of a converted text): node and its chain are the ones it saw
     * then, so what it derived from them still holds (an EVTX log gives
     * ~900k strings of one node). False for the first piece of each. */
    bool same_node;
} ks_xtext;

/* Returns 0 to go on, non-zero to stop extracting this top-level blob. */
typedef int (*ks_xtext_fn)(void *ud, const ks_xtext *t);

/* Budgets (options extract.*, docs/LIMITS.md). 0 = the default. */
typedef struct ks_xbudget {
    unsigned max_depth;      /* nesting levels below the top node (extract.max_depth, 8) */
    uint64_t max_blob;       /* decoded bytes of one child (extract.max_blob, 64 MiB) */
    uint64_t max_total;      /* bytes of children + text from one top-level blob
                              * (extract.max_total, 1 GiB) */
    uint64_t max_ratio;      /* decoded / stored size for compressed children,
                              * checked past 1 MiB (extract.max_ratio, 200) */
    uint64_t max_children;   /* children of one top-level blob (extract.max_children, 1000000) */
} ks_xbudget;

#define KS_XDEPTH_DEFAULT 8
#define KS_XBLOB_DEFAULT ((uint64_t)64 << 20)
#define KS_XTOTAL_DEFAULT ((uint64_t)1 << 30)
#define KS_XRATIO_DEFAULT 200
#define KS_XRATIO_FLOOR ((uint64_t)1 << 20)   /* no ratio check below this many decoded bytes */
#define KS_XCHILDREN_DEFAULT 1000000
#define KS_XSTREAM_TOTAL 16   /* a streamed top-level blob may decode 16x its size */

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
    bool strings;            /* binary nobody claims: printable runs as text
                              * (extract.binary_strings) */
    bool warned_total;       /* one diagnostic per top-level blob for each */
    bool warned_children;
    ks_source *src;          /* the walked file's source while ks__extract_file reads it, else NULL */
    const uint8_t *src_p;    /* where that source's content lies in memory */
    /* Called with the walked file's bytes [from, to), at p (p[0] is the
     * byte at offset from), as a reader passes them in file order: the
     * mailbox reader hands over each read of its window, or, reading the
     * mapping, every 8 MiB just before it lets their pages go
     * (ks__extract_read_past). A caller that needs every byte of the file
     * (the index's content hash) takes them while they are in memory
     * instead of reading the file a second time. Calls may repeat bytes
     * (a reader going back to the mapping): take each offset once. NULL:
     * none. */
    void (*on_past)(void *ud, const uint8_t *p, size_t from, size_t to);
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
    /* Reads a blob of any size in bounded pieces (a mailbox message by
     * message, an archive member by member, each under the budgets): a
     * walked file of this format is not held to walk.max_size. */
    bool streamed;
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
/* For an extractor that holds a child already parsed (a message/rfc822
 * part gmime has read), so it is not serialised and parsed again: the
 * budget checks of ks__extract_child but the size ones (its text still
 * counts toward the total) and the child node in *node. KS_OK: read the
 * child as *node; else a budget refused it (said in a diagnostic). */
int ks__extract_enter(ks_xctx *x, const ks_xnode *parent, const char *name, const char *format,
                      const ks_xmail *mail, uint64_t offset, ks_xnode *node);

/* For extractors that read a large blob front to back (a mailbox): the
 * bytes blob[from, to) will not be read again, so their pages may leave the
 * process's memory (its resident size then stays near one window, not the
 * whole file). A hint; the contents never change. */
void ks__extract_read_past(ks_xctx *x, const uint8_t *blob, size_t from, size_t to);

/* For extractors: text of node in `charset` (NULL = sniff; "utf-8",
 * "utf-16le", any iconv name) converted to UTF-8 and given to on_text in
 * pieces that keep offsets. Counts toward max_total. UTF-8 is handed over
 * as is (zero-copy, one piece); other charsets are converted in pieces of
 * at most 4 MiB cut after a newline where there is one, so a token is not
 * split unless a line is longer than that. An unknown charset label is
 * sniffed instead (a KS_DIAG_INFO says so). */
int ks__extract_text(ks_xctx *x, const ks_xnode *node, const char *part,
                     const char *p, size_t n, const char *charset);

/* Extracts what a file detector is given: a walked file (its top node is
 * built here, name = f->path) or an in-memory blob whose provenance is
 * f->xnode (a git blob: f->xnode is the blob's own node). Maps the source
 * (ks__source_map), so gzip/zstd files are seen decompressed. */
int ks__extract_file(ks_xctx *x, const ks_file *f);

/* The "a.zip!docs/x.docx!word/document.xml" form of a chain, for findings. */
int ks__xnode_path(const ks_xnode *node, ks_buf *out);

/* For extractors that decompress: how many bytes a child stored in
 * `stored` bytes (0 = unknown) may decode to now: the smallest of max_blob,
 * what is left of max_total, and max_ratio * stored (never below
 * KS_XRATIO_FLOOR). Read one byte more than this to learn that a budget
 * cut the child, then say so with ks__xdiag. */
uint64_t ks__xchild_room(const ks_xctx *x, uint64_t stored);

/* A diagnostic about a blob inside the evidence: located at x->path, the
 * message prefixed with the chain ("a.zip!b/c.docx: "). KS_DIAG_WARN for
 * damaged or budget-cut content. */
void ks__xdiag(ks_xctx *x, const ks_xnode *node, ks_diag_level lvl, int code,
               const char *fmt, ...) KS_PRINTF(5, 6);

/* Charset of an unlabelled blob from its first bytes: "utf-8", "utf-16le",
 * "utf-16be", "utf-32le", "utf-32be", "windows-1252", or NULL when it does
 * not look like text. *bom = bytes of byte-order mark to skip. */
const char *ks__xsniff_charset(const uint8_t *p, size_t n, size_t *bom);

/* The extractor whose probe scores highest on p (NULL: none claims it). */
const struct ks_extractor *ks__extractor_sniff(const uint8_t *p, size_t n, const char *name);
/* The format name of a blob whose extractor reads it in bounded pieces
 * (mbox, pst, archive), from its first bytes; NULL otherwise. */
const char *ks__extract_streamed(const uint8_t *head, size_t n, const char *name);

/* The table, from extractors.def. */
#define KS_EXTRACTOR(sym) extern const struct ks_extractor sym;
#include "extract/extractors.def"
#undef KS_EXTRACTOR
extern const struct ks_extractor *const ks__extractors[];

#endif
