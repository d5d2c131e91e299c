/* SPDX-License-Identifier: Apache-2.0
 *
 * Core building blocks shared by every subsystem: arenas, growable buffers,
 * byte-keyed hash maps, the symbol interner, the thread pool, clocks, UTF
 * helpers. Nothing here knows about evidence formats or detectors.
 *
 * Thread-safety: arenas, buffers, maps and symbol caches belong to one
 * thread. The symtab and the pool are safe to share.
 */
#ifndef KS_CORE_H
#define KS_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include "kensa/kensa.h"

#define KS_UNUSED(x) ((void)(x))
#define KS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define KS_LIKELY(x) __builtin_expect(!!(x), 1)
#define KS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define KS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Checked size arithmetic: false on overflow. */
static inline bool ks__add_ok(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool ks__mul_ok(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* ---- arena: bump allocation, freed all at once ---------------------------
 * Blocks grow geometrically; ks__arena_reset keeps the first block so a
 * per-event arena costs no malloc in steady state. `cap` bounds the total
 * (0 = 1 GiB); allocation past it returns NULL. */
typedef struct ks_arena ks_arena;
ks_arena *ks__arena_new(size_t first_block, size_t cap);
void ks__arena_free(ks_arena *a);
void ks__arena_reset(ks_arena *a);
void *ks__arena_alloc(ks_arena *a, size_t n);           /* 16-byte aligned */
char *ks__arena_strndup(ks_arena *a, const char *s, size_t n); /* NUL-terminated */
char *ks__arena_printf(ks_arena *a, const char *fmt, ...) KS_PRINTF(2, 3);
size_t ks__arena_used(const ks_arena *a);
/* For an arena that holds tens of megabytes for the engine's life (compiled
 * rules), set before its first allocation: its blocks are 2 MiB, aligned
 * and advised as transparent huge pages, so filling it costs one page
 * fault per 2 MiB instead of one per 4 KiB. */
void ks__arena_huge_pages(ks_arena *a);

/* ---- strids: compact string ids (strids.c) --------------------------------
 * text -> dense id (1, 2, ...; 0 = none, also returned when full or out of
 * memory) and id -> NUL-terminated text, valid until free. For per-record
 * analytics state: ~30 bytes a distinct value plus its text. Not
 * thread-safe. */
typedef struct ks_strids ks_strids;
ks_strids *ks__strids_new(void);
void ks__strids_free(ks_strids *t);
uint32_t ks__strids_id(ks_strids *t, const char *s, size_t n);
const char *ks__strids_str(const ks_strids *t, uint32_t id); /* "" for 0 / unknown */
uint32_t ks__strids_count(const ks_strids *t);              /* ids in use + 1 */
/* A canonical dotted IPv4 address ("10.1.2.3", no leading zeros) as 32
 * bits: such a value's id is ks__strids_addr of them (same id as its
 * text's). A caller with many addresses to look up at once (a table of a
 * spray's addresses misses the cache on each) asks ahead: want_addr step
 * 0 for the address some 16 lookups ahead (its slot), step 1 some 8 ahead
 * (its first candidate's key); hints only. */
bool ks__strids_ipv4(const char *s, size_t n, uint32_t *addr);
uint32_t ks__strids_addr(ks_strids *t, uint32_t addr);
void ks__strids_want_addr(const ks_strids *t, uint32_t addr, int step);

/* ---- vmem: large growable arrays in their own mapping (vmem.c) -----------
 * For analytics vectors that grow with the input: resized with mremap (no
 * copy, never old and new at once, only written pages resident), whatever
 * glibc's heap has decided. ks__vm_resize(NULL, 0, n) maps n bytes
 * (zero-filled); NULL on failure, p still valid. Sizes are the caller's:
 * pass the same `size` to the next resize and to ks__vm_free. */
void *ks__vm_resize(void *p, size_t old, size_t size);
void ks__vm_free(void *p, size_t size);

/* ---- locs: evidence locations of analytics records (locs.c) ---------------
 * Appended in record order, delta-coded (~5 bytes each instead of 28),
 * read back by index (at most 63 decoded to reach one) or in order with a
 * cursor. The values: KS_LOC_OFFSET, _RECORD, _LINE, _PATH (an id). */
enum { KS_LOC_OFFSET, KS_LOC_RECORD, KS_LOC_LINE, KS_LOC_PATH, KS_LOC_FIELDS };
typedef struct ks_locs {
    uint8_t *b;
    size_t n, cap;
    struct ks_locs_ck *ck;     /* a checkpoint every 64 locations */
    size_t nck, capck;
    uint64_t last[KS_LOC_FIELDS];
    uint64_t count;
} ks_locs;                     /* zero-initialised = empty */
typedef struct ks_locs_cur {
    size_t pos;
    uint64_t v[KS_LOC_FIELDS];
} ks_locs_cur;                 /* zero-initialised = before the first */
int ks__locs_add(ks_locs *l, const uint64_t v[KS_LOC_FIELDS]);
void ks__locs_get(const ks_locs *l, uint64_t i, uint64_t v[KS_LOC_FIELDS]);
void ks__locs_next(const ks_locs *l, ks_locs_cur *c, uint64_t v[KS_LOC_FIELDS]);
void ks__locs_release(ks_locs *l);

/* CRC-32 as zlib's crc32(crc, buf, len) computes it (chain calls the same
 * way), with carry-less multiplication where the CPU has it (crc32.c). */
uint32_t ks__crc32(uint32_t crc, const void *buf, size_t len);

/* ---- buf: growable byte buffer (git strbuf) --------------------------------
 * Always NUL-terminated when p != NULL. `cap_limit` 0 = 1 GiB. */
typedef struct ks_buf {
    char *p;          /* owned */
    size_t n;         /* bytes used, not counting the NUL */
    size_t cap;       /* bytes allocated */
    size_t limit;     /* growth cap, 0 = default */
} ks_buf;
#define KS_BUF_INIT {NULL, 0, 0, 0}
int ks__buf_grow(ks_buf *b, size_t extra);
int ks__buf_add(ks_buf *b, const void *p, size_t n);
int ks__buf_addc(ks_buf *b, char c);
int ks__buf_adds(ks_buf *b, const char *s);
int ks__buf_printf(ks_buf *b, const char *fmt, ...) KS_PRINTF(2, 3);
int ks__buf_vprintf(ks_buf *b, const char *fmt, va_list ap);
/* v in decimal: what "%lld" writes, without printf (per-event paths). */
int ks__buf_add_i64(ks_buf *b, int64_t v);
/* v in decimal into b (24 bytes are enough), NUL-terminated; its length. */
size_t ks__fmt_i64(char *b, int64_t v);
/* JSON string body (no quotes) with escaping; invalid UTF-8 -> U+FFFD. */
int ks__buf_add_json_str(ks_buf *b, const char *s, size_t n);
/* Text for a terminal: controls that could steer it (ESC, C1 such as
 * U+009B, DEL, bidi overrides) as \xNN / \uNNNN, invalid UTF-8 bytes as
 * \xNN; everything printed from evidence or the network goes through it. */
int ks__buf_add_term(ks_buf *b, const char *s, size_t n);
/* CSV field with RFC 4180 quoting. */
int ks__buf_add_csv(ks_buf *b, const char *s, size_t n);
void ks__buf_reset(ks_buf *b);
void ks__buf_release(ks_buf *b);
/* Gives the bytes to the caller (free()); b is left empty. */
char *ks__buf_detach(ks_buf *b, size_t *n);

/* Growable arrays: makes room for element n of *(T **)pv, whose capacity
 * is *cap, doubling it (first elements when empty). KS_ENOMEM leaves the
 * array as it was. Call as ks__grow(&v, &cap, n, sizeof *v, 64). */
int ks__grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first);

/* ---- map: open addressing, byte-string keys, uint64 or pointer values ----
 * Keys are copied into the map's own arena. Not thread-safe. */
typedef struct ks_map ks_map;
ks_map *ks__map_new(size_t hint);
void ks__map_free(ks_map *m);
/* Returns a pointer to the value slot (created as 0 if absent and `create`),
 * NULL if absent, or on OOM / at the size cap with create. */
uint64_t *ks__map_slot(ks_map *m, const void *key, size_t n, bool create);
uint64_t *ks__map_get(const ks_map *m, const void *key, size_t n);
/* The map's own copy of the key of a slot ks__map_slot/get returned:
 * NUL-terminated, stable for the map's life (so interners keep one copy). */
const char *ks__map_key(const uint64_t *slot);
size_t ks__map_count(const ks_map *m);
/* Iteration: i from 0 while ks__map_iter returns true. */
bool ks__map_iter(const ks_map *m, size_t *i, const char **key, size_t *n, uint64_t **val);
uint64_t ks__hash(const void *p, size_t n); /* wyhash-style 64-bit */

/* ---- symtab: the shared interner -------------------------------------------
 * Lookups are lock-free after a string is published; interning a new string
 * takes a mutex. Capped at KS_SYM_MAX symbols / KS_SYM_BYTES bytes so a
 * hostile input with millions of distinct keys cannot eat memory. */
#define KS_SYM_MAX (1u << 20)
#define KS_SYM_BYTES ((size_t)64 << 20)
ks_symtab *ks__symtab_new(void);
void ks__symtab_free(ks_symtab *t);

/* Aliases: a short name ("TargetUserName") may stand for a canonical path
 * ("Event.EventData.TargetUserName"); ks_event_get falls back to the target
 * when the event has no field under the short name itself. The first
 * registration of an alias wins. Lock-free. */
void ks__symtab_set_alias(ks_symtab *t, ks_sym alias, ks_sym target);
ks_sym ks__symtab_alias(const ks_symtab *t, ks_sym id);
/* Grows with every alias registered: lookup memos know they are stale. */
uint64_t ks__symtab_alias_gen(const ks_symtab *t);
/* A classifier sees every new name once, under the table's lock, before the
 * name is published; what it returns is kept with the name and read back
 * lock-free (the field schema's classes: engine/fields.c). Set it before
 * the first intern. */
typedef uint32_t (*ks_sym_classify_fn)(void *ctx, const char *s, size_t n);
void ks__symtab_set_classifier(ks_symtab *t, ks_sym_classify_fn fn, void *ctx);
uint32_t ks__symtab_class(const ks_symtab *t, ks_sym id);

/* Per-thread cache in front of the symtab: no lock on repeat keys. */
typedef struct ks_symcache ks_symcache;
ks_symcache *ks__symcache_new(ks_symtab *t);
void ks__symcache_free(ks_symcache *c);
ks_sym ks__symcache_intern(ks_symcache *c, const char *s, size_t n);

/* ---- pool: fixed threads, FIFO queue of tasks ------------------------------
 * Tasks receive the worker index (0..nthreads-1) so callers can keep
 * per-worker scratch without locks. Tasks may submit more tasks. */
typedef struct ks_pool ks_pool;
typedef void (*ks_task_fn)(void *arg, int worker);
int ks__pool_new(int nthreads, ks_pool **out);
int ks__pool_submit(ks_pool *p, ks_task_fn fn, void *arg);
void ks__pool_wait(ks_pool *p);   /* until the queue is empty and idle */
void ks__pool_free(ks_pool *p);   /* waits, then joins */
int ks__pool_size(const ks_pool *p);
int ks__ncpu(void);

/* ---- time ------------------------------------------------------------------ */
uint64_t ks__now_ns(void);            /* monotonic */
int64_t ks__wall_ns(void);            /* UTC */
/* Windows FILETIME (100 ns since 1601) to UTC ns. */
int64_t ks__filetime_to_ns(uint64_t ft);
int64_t ks__timegm(int y, int mo, int d, int h, int mi, int s);
/* RFC 3339 for any second count (FILETIMEs before 1677 do not fit ns). */
size_t ks__time_format_sec(int64_t sec, uint32_t ns, char *buf, size_t cap);

/* ---- UTF helpers ----------------------------------------------------------- */
/* Length of the prefix of bytes below 0x80 (16 at a time with SSE2). */
size_t ks__ascii_prefix(const void *p, size_t n);
/* Length of the valid UTF-8 prefix. */
size_t ks__utf8_valid_prefix(const char *s, size_t n);
bool ks__utf8_valid(const char *s, size_t n);
/* Appends code point cp as UTF-8 (invalid -> U+FFFD). Returns bytes (1-4). */
size_t ks__utf8_put(char out[4], uint32_t cp);
/* UTF-16LE (n bytes) to UTF-8 into out (capacity cap, which 3*n/2+4 always
 * satisfies). Unpaired surrogates become U+FFFD. Stops at a NUL code unit if
 * stop_at_nul. Returns bytes written. */
size_t ks__utf16le_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap, bool stop_at_nul);
/* ASCII case-insensitive compare/search helpers used by matchers. */
bool ks__ieq(const char *a, size_t an, const char *b, size_t bn);
const char *ks__memmem_ci(const char *h, size_t hn, const char *n, size_t nn);
/* The first q in p[0..n-1) with q[0] == a and q[1] == b1 or b2, or NULL: a
 * line start of a kind ("\nFrom ", "\n>") found 16 bytes per step (SSE2)
 * instead of a memchr call per line. */
const uint8_t *ks__find_pair(const uint8_t *p, size_t n, uint8_t a, uint8_t b1, uint8_t b2);

/* ---- misc ------------------------------------------------------------------- */
/* Parses "100M", "4k", "2G" (powers of 1024). */
int ks__parse_size(const char *s, uint64_t *out);
/* Parses "30s", "5m", "2h", "7d" to ns. */
int ks__parse_duration(const char *s, int64_t *out);
/* Value of a hex digit, or -1. */
int ks__hexval(int c);
/* fnmatch-style glob with * ? [..]; `/` is matched by * too (path globs). */
bool ks__glob(const char *pat, const char *s);

/* ---- strpool: interned strings with small stable ids ------------------------
 * For detectors that keep values (addresses, paths) past an event: id 0 is
 * "" and means "none"; each distinct string is stored once, NUL-terminated,
 * and stays valid until release. Not thread-safe. */
typedef struct ks_strpool {
    ks_map *ids;      /* string -> id */
    char **s;         /* id -> owned copy; s[0] unused */
    size_t n, cap;    /* ids in use (including 0), allocated */
} ks_strpool;
int ks__strpool_init(ks_strpool *p);
void ks__strpool_release(ks_strpool *p);
/* Id of s[0..n), added if new; 0 on OOM or at the map's size cap. */
uint32_t ks__strpool_add(ks_strpool *p, const char *s, size_t n);
const char *ks__strpool_get(const ks_strpool *p, uint32_t id); /* "" for 0 / unknown */

#endif
