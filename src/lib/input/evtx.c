/* SPDX-License-Identifier: Apache-2.0
 *
 * The "evtx" input: Windows event logs into kensa events with the field
 * paths responders know from Hayabusa/Chainsaw (Event.System.EventID,
 * Event.System.Provider_attributes.Name, Event.EventData.TargetUserName,
 * ...), plus short aliases (EventID, Channel, TargetUserName) resolved at
 * lookup time so they cost nothing per event.
 *
 * Robustness: checksums are verified and reported, never a reason to drop
 * data; chunks past the header's count are read; a damaged chunk or record
 * is reported (file, chunk, offset, why) and the records that still parse
 * are recovered by scanning for the record signature; with evtx.recover the
 * slack space after each chunk's last record yields older copies, marked
 * kensa.evtx.recovered = slack. Duplicates (same record id) inside a chunk
 * are dropped. Big files are split at chunk boundaries across the cores.
 */
#include <stdlib.h>
#include <string.h>
#include "evtx.h"

/* ==== reader ==================================================================== */

struct evx_reader {
    const uint8_t *map;
    uint64_t size;
    const char *path;
    ks_engine *e;
    bool recover;
    uint64_t base;         /* offset of chunk 0 (4096, or 0 for a carved chunk) */
    uint64_t pos;          /* offset of the current chunk */
    uint64_t end;
    uint32_t header_chunks;
    evx_chunk ch;
    bool in_chunk;
    bool scanning;         /* damaged chunk: find records by signature */
    bool slack;            /* past the free-space offset */
    uint32_t off;          /* next record offset inside the chunk */
    uint32_t limit;        /* end of the record area in normal mode */
    uint64_t seen[4096];   /* record ids of this chunk (duplicates are dropped) */
    size_t nseen;
    uint64_t seen_max;     /* the largest id in seen[] (nseen > 0) */
    ks_source *src;        /* chunks read from its descriptor (evx_reader_read_from) */
    uint8_t *buf;          /* the current chunk, EVX_CHUNK_SIZE bytes, when src */
};

static void rdiag(evx_reader *r, ks_diag_level lvl, int code, uint64_t off, const char *fmt, ...)
    KS_PRINTF(5, 6);
static void rdiag(evx_reader *r, ks_diag_level lvl, int code, uint64_t off, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!r->e)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ks_loc loc = KS_LOC_NONE;
    loc.path = r->path;
    loc.offset = off;
    loc.chunk = r->pos >= r->base ? (int64_t)((r->pos - r->base) / EVX_CHUNK_SIZE) : -1;
    ks__diag(r->e, lvl, code, "evtx", &loc, "%s", msg);
}

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int evx_reader_new(const uint8_t *p, uint64_t size, const char *path, ks_engine *e, uint64_t begin,
                   uint64_t end, bool recover, evx_reader **out)
{
    evx_reader *r = calloc(1, sizeof *r);
    if (!r)
        return KS_ENOMEM;
    r->ch.arena = ks__arena_new(65536, (size_t)64 << 20);
    r->ch.keep = evx_keep_new();
    if (!r->ch.arena || !r->ch.keep) {
        ks__arena_free(r->ch.arena);
        evx_keep_free(r->ch.keep);
        free(r);
        return KS_ENOMEM;
    }
    r->map = p;
    r->size = size;
    r->path = path;
    r->e = e;
    r->recover = recover;
    r->base = EVX_FILE_HEADER;
    if (size >= 8 && memcmp(p, "ElfChnk", 8) == 0)
        r->base = 0; /* a chunk carved out on its own */
    if (begin == 0 && size >= 128 && memcmp(p, "ElfFile", 8) == 0) {
        uint32_t crc = ks__crc32(0, p, 120);
        if (crc != evx_u32(p + 124))
            rdiag(r, KS_DIAG_WARN, KS_ECHECKSUM, 0, "file header checksum mismatch (stored %08x, computed %08x)",
                  evx_u32(p + 124), crc);
        r->header_chunks = evx_u16(p + 42);
        uint64_t have = size > r->base ? (size - r->base + EVX_CHUNK_SIZE - 1) / EVX_CHUNK_SIZE : 0;
        if (have < r->header_chunks)
            rdiag(r, KS_DIAG_WARN, KS_ETRUNCATED, size,
                  "file holds %llu of the %u chunks its header announces (truncated copy?)",
                  (unsigned long long)have, r->header_chunks);
    } else if (begin == 0 && r->base != 0) {
        rdiag(r, KS_DIAG_WARN, KS_EFORMAT, 0, "no EVTX file header; looking for chunks anyway");
    }
    r->pos = KS_MAX(begin, r->base);
    r->end = KS_MIN(end, size);
    *out = r;
    return KS_OK;
}

void evx_reader_free(evx_reader *r)
{
    if (!r)
        return;
    ks__arena_free(r->ch.arena);
    evx_keep_free(r->ch.keep);
    free(r->buf);
    free(r);
}

int evx_reader_read_from(evx_reader *r, ks_source *src)
{
    if (!r->buf && !(r->buf = malloc(EVX_CHUNK_SIZE)))
        return KS_ENOMEM;
    r->src = src;
    return KS_OK;
}

/* The chunk at r->pos: copied from the file into r->buf when reading from
 * a descriptor, else (or when that read fails) the mapping. *avail may come
 * out short of the mapping's count when the file shrank since it was
 * mapped: the chunk is then truncated, not a SIGBUS. */
static const uint8_t *chunk_bytes(evx_reader *r, size_t *avail)
{
    if (r->src) {
        ssize_t got = ks__source_pread(r->src, r->buf, *avail, r->pos);
        if (got >= 0) {
            *avail = (size_t)got;
            return r->buf;
        }
    }
    return r->map + r->pos;
}

evx_chunk *evx_reader_chunk(evx_reader *r) { return &r->ch; }

void evx_reader_bad_record(evx_reader *r, const evx_record *rec, const char *why, uint32_t off)
{
    rdiag(r, KS_DIAG_WARN, KS_EFORMAT, r->pos + off, "record %llu: %s; skipped",
          (unsigned long long)rec->id, why);
}

/* Opens the chunk at r->pos; false when there is none left. */
static bool open_chunk(evx_reader *r)
{
    while (r->pos < r->end && r->pos < r->size) {
        size_t avail = (size_t)KS_MIN((uint64_t)EVX_CHUNK_SIZE, r->size - r->pos);
        const uint8_t *c = chunk_bytes(r, &avail);
        uint64_t idx = (r->pos - r->base) / EVX_CHUNK_SIZE;
        evx_chunk_reset(&r->ch, c, avail, r->pos);
        r->nseen = 0;
        r->slack = false;
        r->scanning = false;
        r->off = EVX_CHUNK_HEADER;
        r->limit = (uint32_t)avail;
        if (avail < EVX_CHUNK_HEADER || memcmp(c, "ElfChnk", 8) != 0) {
            if (avail >= EVX_CHUNK_HEADER && is_zero(c, avail)) {
                if (idx < r->header_chunks)
                    rdiag(r, KS_DIAG_WARN, KS_EFORMAT, r->pos,
                          "chunk %llu is all zeros (wiped or never written)", (unsigned long long)idx);
                r->pos += EVX_CHUNK_SIZE; /* past the header's count: unused space */
                continue;
            }
            if (idx < r->header_chunks || r->recover) {
                rdiag(r, KS_DIAG_WARN, KS_EFORMAT, r->pos,
                      "chunk %llu has no chunk signature; recovering records by signature scan",
                      (unsigned long long)idx);
                r->scanning = true;
                r->off = 0;
            } else {
                r->pos += EVX_CHUNK_SIZE;
                continue;
            }
        } else {
            if (avail < EVX_CHUNK_SIZE)
                rdiag(r, KS_DIAG_WARN, KS_ETRUNCATED, r->pos + avail,
                      "chunk %llu truncated at %zu of 65536 bytes", (unsigned long long)idx, avail);
            uint32_t crc = ks__crc32(0, c, 120);
            crc = ks__crc32(crc, c + 128, EVX_CHUNK_HEADER - 128);
            if (crc != evx_u32(c + 124))
                rdiag(r, KS_DIAG_WARN, KS_ECHECKSUM, r->pos,
                      "chunk %llu header checksum mismatch (stale or damaged); records are still read",
                      (unsigned long long)idx);
            uint32_t free_off = evx_u32(c + 48);
            if (free_off < EVX_CHUNK_HEADER || free_off > avail) {
                rdiag(r, KS_DIAG_WARN, KS_EFORMAT, r->pos + 48,
                      "chunk %llu free-space offset %u is impossible; scanning for records",
                      (unsigned long long)idx, free_off);
                r->scanning = true;
            } else {
                r->limit = free_off;
                uint32_t dcrc = ks__crc32(0, c + EVX_CHUNK_HEADER, free_off - EVX_CHUNK_HEADER);
                if (dcrc != evx_u32(c + 52))
                    rdiag(r, KS_DIAG_WARN, KS_ECHECKSUM, r->pos + 52,
                          "chunk %llu event records checksum mismatch; records are still read",
                          (unsigned long long)idx);
            }
        }
        r->in_chunk = true;
        return true;
    }
    return false;
}

/* Ids grow through a healthy chunk: one above every id kept so far is new
 * without a look back (the look back made a chunk cost its records squared,
 * ~1 % of an EVTX hunt); only an id out of order is compared with the rest. */
static bool seen_before(evx_reader *r, uint64_t id)
{
    if (r->nseen && id <= r->seen_max)
        for (size_t i = 0; i < r->nseen; i++)
            if (r->seen[i] == id)
                return true;
    if (r->nseen < KS_ARRAY_LEN(r->seen)) {
        r->seen[r->nseen++] = id;
        if (r->nseen == 1 || id > r->seen_max)
            r->seen_max = id;
    }
    return false;
}

/* Next offset >= from holding a record signature, or 0. */
static uint32_t scan_signature(const evx_reader *r, uint32_t from)
{
    const uint8_t *c = r->ch.base;
    for (size_t i = from; i + 4 <= r->ch.size; i++) {
        const uint8_t *q = memchr(c + i, '*', r->ch.size - i);
        if (!q)
            return 0;
        i = (size_t)(q - c);
        if (i + 4 <= r->ch.size && q[1] == '*' && q[2] == 0 && q[3] == 0)
            return (uint32_t)i;
    }
    return 0;
}

int evx_reader_next(evx_reader *r, evx_record *rec)
{
    for (;;) {
        if (!r->in_chunk && !open_chunk(r))
            return KS_EOF;
        const uint8_t *c = r->ch.base;
        size_t avail = r->ch.size;
        uint32_t stop = r->scanning || r->slack ? (uint32_t)avail : r->limit;
        if ((size_t)r->off + EVX_RECORD_HEADER + 4 > stop) {
            if (!r->scanning && !r->slack && r->recover && r->limit < avail) {
                r->slack = true; /* older records may linger past the free space */
                continue;
            }
            r->in_chunk = false;
            r->pos += EVX_CHUNK_SIZE;
            continue;
        }
        const uint8_t *p = c + r->off;
        bool sig = p[0] == '*' && p[1] == '*' && p[2] == 0 && p[3] == 0;
        uint32_t size = sig ? evx_u32(p + 4) : 0;
        bool ok = sig && size >= EVX_RECORD_HEADER + 4 && (size_t)r->off + size <= avail &&
                  evx_u32(p + size - 4) == size;
        if (!ok) {
            if (!r->scanning && !r->slack)
                rdiag(r, KS_DIAG_WARN, KS_EFORMAT, r->pos + r->off,
                      "%s at chunk offset %u; scanning for the next record",
                      sig ? "record size is inconsistent" : "no record signature", r->off);
            if (!r->slack)
                r->scanning = true;
            uint32_t next = scan_signature(r, r->off + 1);
            if (!next || next + EVX_RECORD_HEADER + 4 > avail) {
                r->in_chunk = false;
                r->pos += EVX_CHUNK_SIZE;
                continue;
            }
            r->off = next;
            continue;
        }
        rec->id = evx_u64(p + 8);
        rec->written = ks__filetime_to_ns(evx_u64(p + 16));
        rec->data = p + EVX_RECORD_HEADER;
        rec->n = size - EVX_RECORD_HEADER - 4;
        rec->offset = r->pos + r->off;
        rec->chunk = r->base <= r->pos ? (int64_t)((r->pos - r->base) / EVX_CHUNK_SIZE) : -1;
        rec->recovered = r->scanning || r->slack;
        rec->slack = r->slack;
        r->off += size;
        if (seen_before(r, rec->id) && !rec->slack)
            continue; /* a recovered duplicate of a record already read */
        return KS_OK;
    }
}

/* ==== event builder ================================================================ */

#define PATH_MAX_LEN 1024

typedef struct frame {
    size_t plen;           /* length of this element's path */
    const char *seg;       /* its last segment (the element's name, or X) */
    size_t segn;
    ks_sym sym;            /* this element's field path */
    bool named_data;       /* <Data Name="X">: path uses X */
    bool had_text;
} frame;

typedef struct evtx_in {
    ks_input_ctx ctx;
    evx_reader *r;
    ks_event *ev;
    ks_symcache *cache;
    ks_symtab *syms;
    char path[PATH_MAX_LEN + 256];
    frame stack[EVX_MAX_DEPTH * 2 + 2];
    size_t depth;
    ks_sym s_time, s_recovered, s_xml;
    bool xml;                       /* evtx.xml: add Event.XML */
    ks_buf xbuf;                    /* the record's XML */
    uint64_t records;
    uint64_t slack_ok, slack_bad;   /* older copies from slack: decoded, not */
    uint64_t scan_ok, scan_bad;     /* records found by signature scan in damage */
    evx_node *pend;                 /* a template walked before it had a flat
                                       program: compiled after the walk */
} evtx_in;

static const char *const system_aliases[] = {"EventID", "Channel", "Computer", "EventRecordID",
                                             "Level", "Task", "Opcode", "Keywords", "Version"};

static ks_sym intern(evtx_in *x, const char *s, size_t n)
{
    return ks__symcache_intern(x->cache, s, n);
}

/* Registers the short names rules use for a freshly interned path. */
static void register_aliases(evtx_in *x, const char *p, size_t n, ks_sym sym)
{
    static const char ed[] = "Event.EventData.", sys[] = "Event.System.", ud[] = "Event.UserData.";
    const char *leaf = NULL;
    if (n > sizeof ed - 1 && !memcmp(p, ed, sizeof ed - 1)) {
        leaf = p + sizeof ed - 1;
    } else if (n > sizeof sys - 1 && !memcmp(p, sys, sizeof sys - 1)) {
        const char *rest = p + sizeof sys - 1;
        size_t rn = n - (sizeof sys - 1);
        for (size_t i = 0; i < KS_ARRAY_LEN(system_aliases); i++)
            if (strlen(system_aliases[i]) == rn && !memcmp(rest, system_aliases[i], rn))
                leaf = rest;
        if (rn == 24 && !memcmp(rest, "Provider_attributes.Name", 24)) {
            ks__symtab_set_alias(x->syms, intern(x, "Provider_Name", 13), sym);
            leaf = NULL;
            ks__symtab_set_alias(x->syms, intern(x, "Provider", 8), sym);
        }
    } else if (n > sizeof ud - 1 && !memcmp(p, ud, sizeof ud - 1)) {
        const char *dot = memrchr(p, '.', n);
        leaf = dot ? dot + 1 : NULL;
    }
    if (leaf && (size_t)(p + n - leaf) > 0)
        ks__symtab_set_alias(x->syms, intern(x, leaf, (size_t)(p + n - leaf)), sym);
}

static ks_sym path_sym(evtx_in *x, size_t n)
{
    ks_sym s = intern(x, x->path, n);
    if (s)
        register_aliases(x, x->path, n, s);
    return s;
}

static bool literal_parts(const evx_attr *a)
{
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i].kind == EVX_SUBST)
            return false;
    return true;
}

static int add(evtx_in *x, ks_sym s, const ks_value *v)
{
    if (s == x->s_time && v->type == KS_VTIME)
        x->ev->time = v->u.t;
    int rc = ks__event_add(x->ev, s, v);
    return rc == KS_ENOMEM ? rc : KS_OK;
}

/* Writes the path of the element at `depth` into x->path from the frames'
 * segments and returns its length. Only a path about to be interned needs
 * its text: a template's elements and attributes keep their symbols, so
 * writing each element's path as the walk passed it was wasted on nearly
 * every record. */
static size_t build_path(evtx_in *x, size_t depth)
{
    size_t n = 0;
    for (size_t k = 0; k <= depth; k++) {
        const frame *f = &x->stack[k];
        if (n)
            x->path[n++] = '.';
        memcpy(x->path + n, f->seg, f->segn);
        n += f->segn;
    }
    return n;
}

/* The index of <Data>'s Name attribute whose value names the field, or -1:
 * the last Name attribute with a non-empty text value. */
static ssize_t data_name(const evx_node *nd, const ks_value *av)
{
    ssize_t at = -1;
    if (nd->name_attr == EVX_NAME_NONE)
        return -1;
    if (nd->name_attr >= 0) /* the one Name attribute */
        at = nd->name_attr;
    else /* several: as written, the last non-empty one */
        for (size_t i = 0; i < nd->nattrs && i < 64; i++)
            if (nd->attrs[i].n == 4 && !memcmp(nd->attrs[i].name, "Name", 4) && av[i].type == KS_VSTR &&
                av[i].u.s.n)
                at = (ssize_t)i;
    return at >= 0 && av[at].type == KS_VSTR && av[at].u.s.n ? at : -1;
}

static int b_begin(void *ud, evx_node *nd, const ks_value *av, size_t depth)
{
    evtx_in *x = ud;
    if (depth >= KS_ARRAY_LEN(x->stack) - 1)
        return KS_ELIMIT;
    size_t plen = depth ? x->stack[depth - 1].plen : 0;
    frame *f = &x->stack[depth];
    x->depth = depth;
    memset(f, 0, sizeof *f);
    f->seg = nd->name;
    f->segn = nd->n;
    ssize_t name_attr = data_name(nd, av);
    if (name_attr >= 0) {
        f->seg = av[name_attr].u.s.p;
        f->segn = av[name_attr].u.s.n;
        f->named_data = true;
    }
    if (plen + 1 + f->segn > PATH_MAX_LEN)
        return KS_ELIMIT;
    f->plen = plen ? plen + 1 + f->segn : f->segn;
    size_t built = 0; /* x->path holds this element's path (its length) */
    bool cache = nd->cacheable &&
                 (name_attr < 0 || (nd->name_attr >= 0 ? nd->name_literal : literal_parts(&nd->attrs[name_attr])));
    if (cache && nd->sym)
        f->sym = nd->sym;
    else {
        built = build_path(x, depth);
        f->sym = path_sym(x, built);
        if (cache)
            nd->sym = f->sym;
    }
    for (size_t i = 0; i < nd->nattrs && i < 64; i++) {
        if ((ssize_t)i == name_attr || av[i].type == KS_VNULL)
            continue;
        evx_attr *a = &nd->attrs[i];
        ks_sym s = nd->cacheable ? a->sym : 0;
        if (!s) {
            static const char suf[] = "_attributes.";
            if (f->plen + sizeof suf + a->n > PATH_MAX_LEN)
                continue;
            if (!built)
                built = build_path(x, depth);
            memcpy(x->path + f->plen, suf, sizeof suf - 1);
            memcpy(x->path + f->plen + sizeof suf - 1, a->name, a->n);
            s = path_sym(x, f->plen + sizeof suf - 1 + a->n);
            if (nd->cacheable)
                a->sym = s;
        }
        if (s && add(x, s, &av[i]) != KS_OK)
            return KS_ENOMEM;
    }
    return KS_OK;
}

static int b_text(void *ud, evx_node *nd, const ks_value *v, bool cdata)
{
    evtx_in *x = ud;
    (void)nd;
    (void)cdata;
    frame *f = &x->stack[x->depth];
    f->had_text = true;
    return f->sym ? add(x, f->sym, v) : KS_OK;
}

static int b_end(void *ud, evx_node *nd, size_t depth)
{
    evtx_in *x = ud;
    (void)nd;
    frame *f = &x->stack[depth];
    if (f->named_data && !f->had_text && f->sym) {
        ks_value null = {.type = KS_VNULL};
        add(x, f->sym, &null); /* <Data Name="X"/>: present, empty */
    }
    x->depth = depth ? depth - 1 : 0;
    return KS_OK;
}

/* ==== flat programs ===================================================================
 * A template's fields, once its tree has been walked and its paths
 * interned, are a fixed list: each element's attributes, then its text,
 * then its children, with symbols that no longer change. The walk over the
 * tree (resolving every attribute into an array, three visitor calls per
 * element, a frame per element) was more than half of a parse's
 * instructions. A template's flat program is that list of fields, each
 * filled from the record's substitution values in the walk's order, with
 * the walk's rules: empty substitutions add nothing, array values add one
 * field per element, <Data Name="X"/> without text adds a null. Templates
 * the list cannot express (a Name from a substitution, mixed text, more
 * than 64 attributes) and records with a nested BinXML value are walked.
 */
enum { OP_ATTR, OP_ACONST, OP_TEXT, OP_NTEXT, OP_TCONST, OP_NAMED, OP_NAMED_END };

/* The last text an op converted, kept with its raw bytes: a template's
 * values repeat from record to record (computer, channel, subject,
 * process, logon type), and their conversion (UTF-16 to UTF-8 into the
 * event's arena, a SID or GUID formatted) was most of what a record
 * costs once the walk was gone. A hit hands out the kept text: it stays
 * as it is until this op meets another value, in a later record, when
 * the event that had it is done (events are read one at a time). An op
 * whose values keep changing stops trying (credit). */
typedef struct fmemo {
    int credit;            /* hits add, misses take; at 0 the memo is dropped */
    bool has;
    uint8_t type;
    uint16_t n;            /* raw bytes */
    uint8_t raw[64];
    ks_value v;            /* the text, in s */
    char s[200];
} fmemo;
#define MEMO_CREDIT 16

typedef struct fop {
    uint8_t op;
    uint16_t id;           /* substitution index (OP_ATTR, OP_TEXT) */
    ks_sym sym;            /* the field; 0: an attribute not interned yet */
    evx_attr *attr;        /* OP_ATTR: its attribute (caches the symbol) */
    const char *path;      /* OP_ATTR with sym 0: the path to intern */
    size_t pathn;
    ks_value v;            /* OP_ACONST, OP_TCONST: the literal */
    fmemo *memo;           /* OP_ATTR, OP_TEXT, OP_NTEXT; NULL: none */
} fop;

typedef struct fprog {
    fop *ops;
    size_t n;
} fprog;

typedef struct fcomp {
    fop *ops;
    size_t n, cap;
    ks_arena *a;
    char path[PATH_MAX_LEN + 256];
} fcomp;

static fop *fc_push(fcomp *c, uint8_t op)
{
    if (ks__grow(&c->ops, &c->cap, c->n, sizeof *c->ops, 64) != KS_OK)
        return NULL;
    fop *o = &c->ops[c->n++];
    memset(o, 0, sizeof *o);
    o->op = op;
    return o;
}

/* A literal run (attribute value or text) as one value: the walk's
 * resolve of a single literal part. False when it is not that simple. */
static bool one_literal(const evx_part *pt, size_t n, ks_value *v)
{
    v->type = KS_VNULL;
    if (n == 0)
        return true;
    if (n != 1 || (pt->kind != EVX_TEXT && pt->kind != EVX_CDATA))
        return false;
    if (pt->n) {
        v->type = KS_VSTR;
        v->u.s.p = pt->text;
        v->u.s.n = pt->n;
    }
    return true;
}

/* Compiles element nd whose path (plen bytes) is in c->path: false when
 * the template cannot be flat. As b_begin, b_text and b_end would add. */
static bool fc_elem(fcomp *c, evx_node *nd, size_t plen, int depth)
{
    ks_value name = {.type = KS_VNULL};
    fop *o;
    if (depth > EVX_MAX_DEPTH || !nd->cacheable || !nd->sym || nd->nattrs > 64 || nd->name_attr == EVX_NAME_SEVERAL)
        return false;
    if (nd->name_attr >= 0) {
        const evx_attr *na = &nd->attrs[nd->name_attr];
        if (!nd->name_literal || !one_literal(na->parts, na->nparts, &name))
            return false;
    }
    bool named = name.type == KS_VSTR;
    const char *seg = named ? name.u.s.p : nd->name;
    size_t segn = named ? name.u.s.n : nd->n;
    if (plen + 1 + segn > PATH_MAX_LEN)
        return false;
    if (plen)
        c->path[plen++] = '.';
    memcpy(c->path + plen, seg, segn);
    plen += segn;
    size_t first = c->n; /* OP_NAMED's index */
    if (named && !fc_push(c, OP_NAMED))
        return false;
    for (size_t i = 0; i < nd->nattrs; i++) {
        evx_attr *a = &nd->attrs[i];
        static const char suf[] = "_attributes.";
        if (named && (int)i == nd->name_attr)
            continue;
        if (a->nparts == 1 && a->parts[0].kind == EVX_SUBST) {
            if (!a->sym && plen + sizeof suf + a->n > PATH_MAX_LEN)
                continue; /* b_begin leaves it out */
            if (!(o = fc_push(c, OP_ATTR)))
                return false;
            o->id = a->parts[0].id;
            o->sym = a->sym;
            o->attr = a;
            if (!o->sym) {
                char *t = ks__arena_alloc(c->a, plen + sizeof suf + a->n);
                if (!t)
                    return false;
                memcpy(t, c->path, plen);
                memcpy(t + plen, suf, sizeof suf - 1);
                memcpy(t + plen + sizeof suf - 1, a->name, a->n);
                o->path = t;
                o->pathn = plen + sizeof suf - 1 + a->n;
            }
            continue;
        }
        ks_value v;
        if (!one_literal(a->parts, a->nparts, &v))
            return false;
        if (v.type == KS_VNULL)
            continue;
        if (!a->sym || !(o = fc_push(c, OP_ACONST)))
            return false; /* a literal attribute was interned by the walk */
        o->sym = a->sym;
        o->v = v;
    }
    for (size_t i = 0; i < nd->ncontent;) {
        const evx_part *pt = &nd->content[i];
        if (pt->kind == EVX_ELEM) {
            if (named || !fc_elem(c, pt->elem, plen, depth + 1))
                return false; /* a named <Data>'s text flag is its own */
            i++;
            continue;
        }
        size_t j = evx_text_run(nd, i);
        ks_value v;
        if (j == i) { /* a processing instruction: no field */
            i++;
            continue;
        }
        if (j == i + 1 && pt->kind == EVX_SUBST) {
            if (!(o = fc_push(c, OP_TEXT)))
                return false;
            o->id = pt->id;
            o->sym = nd->sym;
        } else if (!one_literal(pt, j - i, &v)) {
            return false;
        } else if (v.type != KS_VNULL) {
            if (!(o = fc_push(c, OP_TCONST)))
                return false;
            o->sym = nd->sym;
            o->v = v;
        }
        i = j;
    }
    if (named && c->n == first + 2 && c->ops[first + 1].op == OP_TEXT) {
        /* <Data Name="X">%n</Data>, the common case: one op */
        c->ops[first] = c->ops[first + 1];
        c->ops[first].op = OP_NTEXT;
        c->n--;
    } else if (named) {
        if (!(o = fc_push(c, OP_NAMED_END)))
            return false;
        o->sym = nd->sym;
    }
    return true;
}

/* The flat program of a template root its first walk has just interned. */
static void flat_compile(evx_node *root)
{
    fcomp *c = calloc(1, sizeof *c);
    fprog *pg = NULL;
    root->prog_state = 2;
    if (!c || !root->prog_arena)
        goto out;
    c->a = root->prog_arena;
    if (!fc_elem(c, root, 0, 0) || !(pg = ks__arena_alloc(c->a, sizeof *pg)) ||
        !(pg->ops = ks__arena_alloc(c->a, (c->n ? c->n : 1) * sizeof *pg->ops)))
        goto out;
    memcpy(pg->ops, c->ops, c->n * sizeof *pg->ops);
    pg->n = c->n;
    for (size_t i = 0; i < pg->n; i++) {
        fop *o = &pg->ops[i];
        if ((o->op == OP_ATTR || o->op == OP_TEXT || o->op == OP_NTEXT) &&
            (o->memo = ks__arena_alloc(c->a, sizeof *o->memo)) != NULL) {
            o->memo->credit = MEMO_CREDIT;
            o->memo->has = false;
        }
    }
    root->prog = pg;
    root->prog_state = 1;
out:
    if (c)
        free(c->ops);
    free(c);
}

/* Value types whose conversion writes text (the memo's): strings, GUID,
 * pointer, SID, hex. The others give numbers and times (cheap) or bytes
 * that point into the chunk (not to be kept). */
static bool text_type(uint8_t t)
{
    const uint32_t text = 1u << 0x01 | 1u << 0x02 | 1u << 0x0f | 1u << 0x10 | 1u << 0x13 | 1u << 0x14 | 1u << 0x15;
    return t < 32 && (text >> t & 1);
}

/* evx_value_convert of a scalar value, through the op's memo. */
static int op_value(fop *o, const evx_value *in, ks_arena *a, ks_value *v)
{
    fmemo *m = o->memo;
    if (!m || !text_type(in->type))
        return evx_value_convert(in, 0, a, v);
    if (m->has && in->type == m->type && in->n == m->n && !memcmp(in->p, m->raw, in->n)) {
        m->credit += m->credit < 4 * MEMO_CREDIT;
        *v = m->v;
        return KS_OK;
    }
    int rc = evx_value_convert(in, 0, a, v);
    if (--m->credit <= 0) {
        o->memo = NULL; /* its values keep changing */
        return rc;
    }
    m->has = rc == KS_OK && v->type == KS_VSTR && in->n <= sizeof m->raw && v->u.s.n < sizeof m->s;
    if (m->has) {
        m->type = in->type;
        m->n = (uint16_t)in->n;
        memcpy(m->raw, in->p, in->n);
        memcpy(m->s, v->u.s.p, v->u.s.n);
        m->s[v->u.s.n] = 0;
        m->v = *v;
        m->v.u.s.p = m->s;
    }
    return rc;
}

static bool subst_none(const evx_value *vals, size_t nvals, uint16_t id)
{
    return id >= nvals || vals[id].type == 0 || vals[id].n == 0;
}

/* evx_visitor.instance: runs the template's flat program, or asks for
 * the walk (no program yet: compiled after it; a nested BinXML value). */
static int b_instance(void *ud, evx_node *root, const evx_value *vals, size_t nvals, bool nested)
{
    evtx_in *x = ud;
    if (root->prog_state != 1 || nested) {
        if (root->prog_state == 0)
            x->pend = root;
        return EVX_WALK;
    }
    const fprog *pg = root->prog;
    fop *end = pg->ops + pg->n;
    ks_arena *a = x->ev->arena;
    bool had = false;
    ks_value v;
    for (fop *o = pg->ops; o < end; o++) {
        switch (o->op) {
        case OP_ATTR:
            if (subst_none(vals, nvals, o->id))
                break;
            if (op_value(o, &vals[o->id], a, &v) != KS_OK)
                return EVX_REDO;
            if (v.type == KS_VNULL)
                break;
            if (!o->sym) { /* first value of this attribute: as b_begin */
                memcpy(x->path, o->path, o->pathn);
                if (!(o->sym = o->attr->sym = path_sym(x, o->pathn)))
                    break;
            }
            if (add(x, o->sym, &v) != KS_OK)
                return EVX_REDO;
            break;
        case OP_ACONST:
        case OP_TCONST:
            had |= o->op == OP_TCONST;
            if (add(x, o->sym, &o->v) != KS_OK)
                return EVX_REDO;
            break;
        case OP_NTEXT:
            had = false;
            /* fall through */
        case OP_TEXT: {
            if (subst_none(vals, nvals, o->id)) {
                if (o->op == OP_NTEXT)
                    goto named_end;
                break;
            }
            if (!(vals[o->id].type & 0x80)) { /* a scalar: one value */
                if (op_value(o, &vals[o->id], a, &v) != KS_OK || add(x, o->sym, &v) != KS_OK)
                    return EVX_REDO;
                had = true;
            }
            size_t count = vals[o->id].type & 0x80 ? evx_value_count(&vals[o->id]) : 0;
            for (size_t k = 0; k < count && k < 4096; k++) {
                if (evx_value_convert(&vals[o->id], k, a, &v) != KS_OK || add(x, o->sym, &v) != KS_OK)
                    return EVX_REDO;
                had = true;
            }
            if (o->op == OP_NTEXT)
                goto named_end;
            break;
        }
        case OP_NAMED:
            had = false;
            break;
        case OP_NAMED_END:
        named_end:
            if (!had) {
                ks_value null = {.type = KS_VNULL};
                add(x, o->sym, &null);
            }
            break;
        }
    }
    return KS_OK;
}

static const evx_visitor builder = {NULL, b_begin, b_text, b_end, b_instance};

/* ==== the input plugin ================================================================ */

static int evtx_probe(const uint8_t *h, size_t n, const char *name)
{
    (void)name;
    if (n >= 8 && memcmp(h, "ElfFile", 8) == 0)
        return 100;
    if (n >= 8 && memcmp(h, "ElfChnk", 8) == 0)
        return 90;
    return 0;
}

static int evtx_split(ks_source *src, uint64_t *bounds, size_t max, size_t *nparts)
{
    uint64_t size = ks__source_size(src);
    uint64_t chunks = size > EVX_FILE_HEADER ? (size - EVX_FILE_HEADER + EVX_CHUNK_SIZE - 1) / EVX_CHUNK_SIZE : 0;
    uint64_t per = KS_MAX((uint64_t)64, (chunks + max - 1) / (max ? max : 1)); /* >= 4 MiB a part */
    size_t n = 0;
    for (uint64_t c = 0; c < chunks && n < max; c += per)
        bounds[n++] = c == 0 ? 0 : EVX_FILE_HEADER + c * EVX_CHUNK_SIZE;
    if (n == 0)
        bounds[n++] = 0;
    bounds[n] = UINT64_MAX;
    *nparts = n;
    return KS_OK;
}

static int evtx_open(const ks_input_ctx *ctx, void **state)
{
    const uint8_t *p;
    uint64_t size;
    int rc = ks__source_map(ctx->src, &p, &size);
    if (rc != KS_OK)
        return rc;
    evtx_in *x = calloc(1, sizeof *x);
    if (!x)
        return KS_ENOMEM;
    x->ctx = *ctx;
    ks_engine *e = ctx->w->engine;
    x->cache = ctx->w->cache;
    x->syms = ks__engine_symtab(e);
    rc = evx_reader_new(p, size, ctx->path, e, ctx->begin, ctx->end, ks__opt_bool(e, "evtx.recover"), &x->r);
    if (rc == KS_OK)
        rc = evx_reader_read_from(x->r, ctx->src);
    if (rc != KS_OK) {
        evx_reader_free(x->r);
        free(x);
        return rc;
    }
    x->s_time = intern(x, "Event.System.TimeCreated_attributes.SystemTime", 46);
    x->s_recovered = intern(x, "kensa.evtx.recovered", 20);
    x->xml = ks__opt_bool(e, "evtx.xml");
    x->s_xml = x->xml ? intern(x, "Event.XML", 9) : 0;
    *state = x;
    return KS_OK;
}

static int evtx_next(void *state, ks_event *ev)
{
    evtx_in *x = state;
    evx_record rec;
    evx_visitor v = builder;
    v.ud = x;
    x->ev = ev;
    for (;;) {
        int rc = evx_reader_next(x->r, &rec);
        if (rc != KS_OK)
            return rc;
        const char *why = NULL;
        uint32_t off = 0;
        x->depth = 0;
        x->pend = NULL;
        rc = evx_walk_record(evx_reader_chunk(x->r), rec.data, rec.n, &v, ev->arena, &why, &off);
        if (rc == EVX_REDO) { /* as the walk alone: its adds, or its error */
            evx_visitor walk = v;
            walk.instance = NULL;
            ks__event_reset(ev);
            x->depth = 0;
            rc = evx_walk_record(evx_reader_chunk(x->r), rec.data, rec.n, &walk, ev->arena, &why, &off);
        } else if (rc == KS_OK && x->pend) {
            flat_compile(x->pend);
        }
        if (rc != KS_OK) {
            /* Stale slack often references templates that were overwritten:
             * counted and summarised at the end, not reported one by one. */
            if (rec.slack)
                x->slack_bad++;
            else if (rec.recovered)
                x->scan_bad++; /* a signature inside damage: often not a whole record */
            else
                evx_reader_bad_record(x->r, &rec, why ? why : ks_strerror(rc), off);
            ks__event_reset(ev);
            continue;
        }
        x->slack_ok += rec.slack;
        x->scan_ok += rec.recovered && !rec.slack;
        if (rec.slack) {
            ks_value s = {.type = KS_VSTR};
            s.u.s.p = "slack";
            s.u.s.n = 5;
            ks__event_add(ev, x->s_recovered, &s);
        }
        if (x->xml && evx_render_xml(evx_reader_chunk(x->r), rec.data, rec.n, &x->xbuf, ev->arena,
                                     &why, &off) == KS_OK) {
            ks_value xv = {.type = KS_VSTR};
            xv.u.s.p = ks__arena_strndup(ev->arena, x->xbuf.p ? x->xbuf.p : "", x->xbuf.n);
            xv.u.s.n = xv.u.s.p ? x->xbuf.n : 0;
            ks__event_add(ev, x->s_xml, &xv);
        }
        if (ev->time == KS_TIME_NONE)
            ev->time = rec.written;
        ev->prov.record = rec.id;
        ev->prov.offset = rec.offset;
        x->records++;
        /* chunks behind us are done: let the kernel drop their pages so the
         * resident set stays bounded on files larger than memory */
        if (rec.offset > x->ctx.begin + EVX_CHUNK_SIZE)
            ks__source_release(x->ctx.src, rec.offset - EVX_CHUNK_SIZE);
        return KS_OK;
    }
}

static void evtx_close(void *state)
{
    evtx_in *x = state;
    if (!x)
        return;
    if (x->scan_ok || x->scan_bad) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = x->ctx.path;
        ks__diag(x->ctx.w->engine, x->scan_bad ? KS_DIAG_WARN : KS_DIAG_INFO, KS_EFORMAT, "evtx", &loc,
                 "damaged chunks: %llu records recovered by signature scan, %llu candidates could not be decoded",
                 (unsigned long long)x->scan_ok, (unsigned long long)x->scan_bad);
    }
    if (x->slack_ok || x->slack_bad) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = x->ctx.path;
        ks__diag(x->ctx.w->engine, KS_DIAG_INFO, KS_OK, "evtx", &loc,
                 "slack: %llu older record copies recovered, %llu not decodable (their templates were overwritten)",
                 (unsigned long long)x->slack_ok, (unsigned long long)x->slack_bad);
    }
    evx_reader_free(x->r);
    ks__buf_release(&x->xbuf);
    free(x);
}

const struct ks_input ks_input_evtx = {
    .abi = KS_INPUT_ABI_1,
    .name = "evtx",
    .description = "Windows event logs (.evtx), with checksum checks and record recovery",
    .probe = evtx_probe,
    .split = evtx_split,
    .open = evtx_open,
    .next = evtx_next,
    .close = evtx_close,
};
