/* SPDX-License-Identifier: Apache-2.0
 *
 * Windows EVTX: file and chunk layout, binary XML, and the pieces shared by
 * the "evtx" input (evtx.c), the BinXML compiler/walker (evtx_binxml.c) and
 * `kensa evtx dump`.
 *
 * Layout (all little-endian): a 4096-byte file header ("ElfFile\0"), then
 * 64 KiB chunks ("ElfChnk\0"), each with a 512-byte header (CRC32 over bytes
 * 0..120 and 128..512), records from offset 512 to the free-space offset
 * (CRC32 over them), each record "**\0\0", size, id, FILETIME, BinXML,
 * size again. BinXML names and template definitions are referenced by
 * chunk-relative offsets, so a chunk is self-contained: chunks are the unit
 * of parallelism and of template caching.
 *
 * Templates are compiled into a node tree (evx_node) whose element nodes
 * cache their interned field paths; an instance then costs a walk over the
 * tree with the record's substitution values, no string building and no
 * hashing for the common case. A reader keeps the trees across chunks
 * (evx_keep): a template defined again in a later chunk with the same
 * bytes and names is not compiled again.
 */
#ifndef KS_EVTX_H
#define KS_EVTX_H

#include "kensa_int.h"

#define EVX_FILE_HEADER 4096
#define EVX_CHUNK_SIZE 65536
#define EVX_CHUNK_HEADER 512
#define EVX_RECORD_HEADER 24
#define EVX_MAX_DEPTH 64        /* element nesting accepted */
#define EVX_MAX_TEMPLATES 1024  /* templates cached per chunk */

static inline uint16_t evx_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t evx_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t evx_u64(const uint8_t *p) { return evx_u32(p) | ((uint64_t)evx_u32(p + 4) << 32); }

enum evx_kind { EVX_ELEM, EVX_TEXT, EVX_SUBST, EVX_CHARREF, EVX_ENTREF, EVX_CDATA, EVX_PI };

typedef struct evx_node evx_node;

/* A text part of an attribute value or of element content. */
typedef struct evx_part {
    uint8_t kind;          /* EVX_TEXT, EVX_SUBST, EVX_CHARREF, EVX_ENTREF, EVX_CDATA */
    uint8_t optional;      /* optional substitution: dropped when empty */
    uint8_t vtype;         /* substitution value type (declared) */
    uint16_t id;           /* substitution index, or char ref value */
    const char *text;      /* UTF-8 literal / entity name */
    size_t n;
    evx_node *elem;        /* for content: a child element (kind EVX_ELEM) */
    const char *pi_data;   /* EVX_PI */
    size_t pi_n;
} evx_part;

typedef struct evx_attr {
    const char *name;      /* UTF-8 */
    size_t n;
    evx_part *parts;
    size_t nparts;
    ks_sym sym;            /* cached "Path_attributes.Name" (template trees) */
} evx_attr;

struct evx_node {
    const char *name;      /* element name, UTF-8 */
    size_t n;
    evx_attr *attrs;
    size_t nattrs;
    evx_part *content;     /* text parts and child elements, in order */
    size_t ncontent;
    ks_sym sym;            /* cached field path of this element (0 = not yet) */
    bool cacheable;        /* path is fixed (template tree) */
    int16_t name_attr;     /* <Data>: its one Name attribute, else EVX_NAME_* */
    bool name_literal;     /* that attribute has no substitution */
    void *prog;            /* a template root: the event builder's flat
                              program (evtx.c), in prog_arena */
    ks_arena *prog_arena;  /* the arena the tree lives in */
    uint8_t prog_state;    /* 0 not yet, 1 prog set, 2 cannot be flat */
};
#define EVX_NAME_NONE (-1)    /* not <Data>, or no Name attribute */
#define EVX_NAME_SEVERAL (-2) /* <Data> with more than one Name attribute */

/* A decoded substitution value: a slice of the chunk plus its type. */
typedef struct evx_value {
    uint8_t type;          /* value type incl. the 0x80 array bit */
    const uint8_t *p;
    size_t n;
} evx_value;

/* Per-chunk parsing context. */
typedef struct evx_chunk {
    const uint8_t *base;   /* chunk start */
    size_t size;           /* bytes available (< 65536 when truncated) */
    uint64_t file_off;     /* offset of the chunk in the file */
    ks_arena *arena;       /* template trees and names; reset per chunk */
    struct {
        uint32_t off;      /* template definition offset (0 = empty slot) */
        evx_node *root;
    } tpl[EVX_MAX_TEMPLATES * 2];
    size_t ntpl;
    uint16_t used[EVX_MAX_TEMPLATES]; /* the tpl slots filled: a reset empties
                                         only those (clearing all 32 KiB per
                                         chunk was 1.5 % of a parse) */
    struct evx_keep *keep; /* trees kept across chunks (NULL: none) */
} evx_chunk;

/* Template trees kept across a reader's chunks. Each chunk defines its
 * templates again, at its own offsets: compiling them (and interning their
 * paths) again in every chunk was ~6.5 % of a parse. A definition is the
 * same template when its bytes are equal, name references aside, and each
 * name reference is inline at the same place or names the same text. */
struct evx_keep *evx_keep_new(void);
void evx_keep_free(struct evx_keep *k);

/* Visitor of a record's XML: elements with resolved attribute and text
 * values. Values are valid only during the call. */
typedef struct evx_visitor {
    void *ud;
    /* attrs/vals: nattrs resolved attribute values (KS_VNULL if empty) */
    int (*begin)(void *ud, evx_node *node, const ks_value *attr_vals, size_t depth);
    /* one content value (typed when it is a single substitution) */
    int (*text)(void *ud, evx_node *node, const ks_value *v, bool is_cdata);
    int (*end)(void *ud, evx_node *node, size_t depth);
    /* optional: a record's template instance (depth 0) before its walk;
     * nested: one of its values is a BinXML fragment. KS_OK: done, the
     * walk is skipped; EVX_WALK: walk it as usual; an error ends the
     * record with it. */
    int (*instance)(void *ud, evx_node *root, const evx_value *vals, size_t nvals, bool nested);
} evx_visitor;
#define EVX_WALK 1
#define EVX_REDO 2  /* instance: drop what it added, walk the record again
                       without the instance callback */
#define EVX_V_BINXML 0x21 /* value type of a nested BinXML fragment */

/* Walks the BinXML of one record (p..p+n, inside the chunk) calling v.
 * Compiles and caches templates in ch. Errors: KS_EFORMAT with *why set
 * and *err_off the chunk-relative offset. Scratch values go to `scratch`. */
int evx_walk_record(evx_chunk *ch, const uint8_t *p, size_t n, const evx_visitor *v,
                    ks_arena *scratch, const char **why, uint32_t *err_off);

/* Renders a record as XML into out (reset first; out keeps its buffer
 * across calls). Same errors as evx_walk_record. evtx_xml.c. */
int evx_render_xml(evx_chunk *ch, const uint8_t *p, size_t n, ks_buf *out, ks_arena *scratch,
                   const char **why, uint32_t *err_off);

/* Converts a substitution value to a ks_value (strings into scratch).
 * `index` selects the element of an array value (ignored otherwise). */
int evx_value_convert(const evx_value *in, size_t index, ks_arena *scratch, ks_value *out);
/* Number of elements of an (array) value; 1 for scalars. */
size_t evx_value_count(const evx_value *in);

/* The end of the run of text parts (literals, substitutions, references)
 * of nd's content from part i: i itself when part i is an element or a
 * processing instruction. The walk resolves a run into one value. */
size_t evx_text_run(const evx_node *nd, size_t i);

void evx_chunk_reset(evx_chunk *ch, const uint8_t *base, size_t size, uint64_t file_off);

#endif

/* ---- record iteration (evtx.c): chunks, checksums, recovery ------------------ */

typedef struct evx_record {
    const uint8_t *data;   /* BinXML of the record */
    size_t n;
    uint64_t id;           /* EventRecordID from the record header */
    int64_t written;       /* header FILETIME as UTC ns */
    uint64_t offset;       /* file offset of the record */
    int64_t chunk;         /* chunk index */
    bool recovered;        /* found by signature scan in damaged space or slack */
    bool slack;            /* an older copy past the chunk's free-space offset */
} evx_record;

typedef struct evx_reader evx_reader;

/* Iterates records of the mapped file p..p+size within the chunk range
 * [begin, end) (chunk-aligned; 0, UINT64_MAX = all). Damage is reported
 * through ks__diag on e (may be NULL: silent). recover: also scan chunk
 * slack for older copies of records. */
int evx_reader_new(const uint8_t *p, uint64_t size, const char *path, ks_engine *e,
                   uint64_t begin, uint64_t end, bool recover, evx_reader **out);
/* Reads the chunks from src's descriptor into a buffer of the reader
 * (ks__source_pread) instead of from the mapping, where src allows it (a
 * plain file; other sources keep the mapping). The first touch of each
 * mapped page cost more than the copy from the page cache: the chunk CRC,
 * its first reader, was ~20 % of an EVTX parse. Record data and the values
 * that point into it are then valid until the next evx_reader_next. */
int evx_reader_read_from(evx_reader *r, ks_source *src);
/* KS_OK with *rec (valid until the next call), or KS_EOF. */
int evx_reader_next(evx_reader *r, evx_record *rec);
evx_chunk *evx_reader_chunk(evx_reader *r);
void evx_reader_free(evx_reader *r);
/* Reports a record that could not be decoded (file, chunk, offset, why). */
void evx_reader_bad_record(evx_reader *r, const evx_record *rec, const char *why, uint32_t off);
