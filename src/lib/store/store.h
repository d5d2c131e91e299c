/* SPDX-License-Identifier: Apache-2.0
 *
 * The exposure index store: one SQLite file (WAL) holding, per organisation
 * (an e-mail domain), what an exposed dump revealed about it: distinct
 * addresses, phones, people, documents by type, secrets by type,
 * organisation names, source containers, with seen counts and first/last
 * dates. Written by the index builder (detect/index.c), read by
 * `kensa index stats` and the portal (src/httpd).
 *
 * Nothing identifying is stored in clear. Every value is keyed by an
 * HMAC-SHA-256 under a server secret kept in a key file outside the
 * database (0600, refused when group/other may read it), so duplicates
 * collapse without the value; a value the portal must show its verified
 * owner (an address, an organisation name, a source path) is also kept
 * sealed (XSalsa20-Poly1305 under a key derived from the same secret).
 * Without the key file the database reveals counts and 20-bit range
 * buckets, nothing else. Document contents are never stored.
 *
 * Durability: writes go in batches (one transaction per batch, the batch
 * row and the processed-file rows in the same transaction), so a build
 * killed with kill -9 loses at most the open batch, and a re-run skips the
 * files a committed batch recorded (path + size + mtime; content hash kept
 * to collapse copies). Incremental: items first seen in a later batch are
 * "new" for the portal's notifications.
 *
 * Threading: a ks_store handle is one SQLite connection: one thread at a
 * time. Open one handle per thread (the portal does) — WAL lets readers run
 * beside the writer.
 */
#ifndef KS_STORE_H
#define KS_STORE_H

#include "kensa_int.h"

typedef struct ks_store ks_store;

/* Kinds of stored items (stable numbers: they are in the file). */
#define KS_STORE_KINDS(X)                                  \
    X(ADDRESS, 1, "addresses", "e-mail addresses")         \
    X(PHONE, 2, "phones", "phone numbers")                 \
    X(PERSON, 3, "people", "people (display names)")       \
    X(DOCUMENT, 4, "documents", "documents")               \
    X(SECRET, 5, "secrets", "secrets")                     \
    X(ORGNAME, 6, "org_names", "organisation names")       \
    X(SOURCE, 7, "sources", "source containers and paths")

typedef enum ks_skind {
#define KS_SKIND_ENUM_(name, val, key, label) KS_SK_##name = (val),
    KS_STORE_KINDS(KS_SKIND_ENUM_)
#undef KS_SKIND_ENUM_
    KS_SK_MAX = 8
} ks_skind;

/* JSON key ("addresses") and label ("e-mail addresses") of a kind; NULL
 * for an unknown kind. */
const char *ks__skind_key(unsigned kind);
const char *ks__skind_label(unsigned kind);

enum {
    KS_STORE_READ = 0,        /* read only (stats, portal reads) */
    KS_STORE_WRITE = 1 << 0,  /* builder / portal state */
    KS_STORE_CREATE = 1 << 1, /* create the database and the key file */
};

/* Opens db with the secret in keyfile (NULL: db + ".key"). With
 * KS_STORE_CREATE a missing key file is created 0600 with 32 random bytes.
 * A key file that group/other may read, or that is not the key the
 * database was built with, is refused (KS_EPERM / KS_EUSAGE) with a
 * sentence in err. */
int ks__store_open(const char *db, const char *keyfile, unsigned flags, ks_store **out,
                   char *err, size_t errcap);
void ks__store_close(ks_store *s); /* NULL-safe; commits nothing */
const char *ks__store_errmsg(const ks_store *s);
/* The connection, for the portal's own tables (p_*) on the same file. */
struct sqlite3 *ks__store_db(ks_store *s);
/* A statement on that connection, prepared on first use and kept for the
 * handle's life (up to KS_STORE_MAX_CACHED distinct SQL texts; beyond, NULL),
 * returned reset and unbound. Borrowed: reset it after use, never finalize. */
#define KS_STORE_MAX_CACHED 32
struct sqlite3_stmt *ks__store_prepare(ks_store *s, const char *sql);

/* ---- keyed hashing and sealing --------------------------------------------- */
/* HMAC-SHA-256 of (domain-separation tag, p[0..n)). Tags keep an address
 * and a phone with the same text apart. */
void ks__store_mac(const ks_store *s, const char *tag, const void *p, size_t n,
                   uint8_t out[32]);
/* Seals p into out (nonce + MAC + ciphertext). */
int ks__store_seal(const ks_store *s, const void *p, size_t n, ks_buf *out);
/* Opens a sealed blob into out (replaced); KS_ECHECKSUM when it does not
 * authenticate. */
int ks__store_unseal(const ks_store *s, const void *c, size_t n, ks_buf *out);
/* A keyed hash of any secret (API tokens, session ids) for lookup. */
void ks__store_token_hash(const ks_store *s, const char *tok, uint8_t out[32]);

/* ---- write path (the builder) ------------------------------------------------ */
/* Bounds the connection's page cache to mb MiB (it grows to that as the
 * database does; the default of a writable handle is 128) and sets the
 * builder's checkpoint policy (a checkpoint per 32 MiB of WAL). */
int ks__store_cache(ks_store *s, unsigned mb);
/* Starts a batch if none is open. */
int ks__store_begin(ks_store *s);
/* Commits the open batch (no-op when none). */
int ks__store_commit(ks_store *s);
/* Rows written in the open batch (for the builder's batch policy). */
uint64_t ks__store_pending(const ks_store *s);
/* The id of the open batch (0 when none). */
int64_t ks__store_batch(const ks_store *s);

/* Whether a committed batch recorded this file with this size and mtime. */
int ks__store_file_known(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns,
                         bool *known);
/* Records the file as processed in the open batch (and forgets its
 * progress). */
int ks__store_file_done(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns,
                        const uint8_t content_hash[32]);
/* Progress inside a file not yet done: ks__store_file_part records in the
 * open batch that the file's first `units` units (in the builder's order)
 * are written; ks__store_file_progress reads what committed batches hold
 * for this size and mtime (0: none, or the file changed since). */
int ks__store_file_part(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns, uint64_t units);
int ks__store_file_progress(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns,
                            uint64_t *units);

/* One observation. domain: lower-case e-mail domain ("" = unattributed).
 * value: the identifying text (normalised by the caller); key: what makes
 * it distinct (NULL = value; documents use their content hash). type: a
 * sub-type ("invoice", "aws.access_key") or NULL. seal: keep the value
 * sealed for the owner's view. time: UTC ns or KS_TIME_NONE. Seen counts
 * add one per call: callers call once per document that holds the value. */
typedef struct ks_sput {
    const char *domain;
    unsigned kind;         /* ks_skind */
    const char *type;
    const char *value;
    size_t nvalue;
    const void *key;
    size_t nkey;
    bool seal;
    int64_t time;
} ks_sput;
int ks__store_put(ks_store *s, const ks_sput *p);

/* ---- read path --------------------------------------------------------------- */
typedef struct ks_scount {
    unsigned kind;
    char type[48];         /* "" for kinds without sub-types */
    uint64_t distinct;     /* distinct values (duplicates collapsed) */
    uint64_t seen;         /* observations (documents holding one) */
    uint64_t fresh;        /* distinct values first seen after `since` */
} ks_scount;

typedef struct ks_sexposure {
    bool found;            /* the domain is in the index */
    int64_t first, last;   /* dates seen in the documents, KS_TIME_NONE */
    int64_t last_batch;    /* newest batch that touched the domain */
    ks_scount *counts;     /* owned: ks__sexposure_release */
    size_t ncounts;
} ks_sexposure;
/* Counts for one domain; `since` = a batch id (items first seen in a
 * later batch are counted as fresh), 0 for none. */
int ks__store_exposure(ks_store *s, const char *domain, int64_t since, ks_sexposure *out);
void ks__sexposure_release(ks_sexposure *x);
/* Sum of distinct counts of one kind (all types). */
uint64_t ks__sexposure_distinct(const ks_sexposure *x, unsigned kind);

/* Lists one kind of a domain's sealed values (unsealed for the caller,
 * borrowed for the call), newest first, at most max. */
typedef int (*ks_slist_fn)(void *ud, const char *value, size_t n, const char *type,
                           uint64_t seen, int64_t first, int64_t last, int64_t first_batch);
int ks__store_list(ks_store *s, const char *domain, unsigned kind, size_t max,
                   ks_slist_fn fn, void *ud);

/* Range lookup (k-anonymity): the SHA-256 of every indexed address whose
 * first 20 bits equal `prefix` (0..0xFFFFF), in ascending order. fn gets
 * each 32-byte hash. One row (the bucket's hashes sealed together) and
 * one unseal per call. */
typedef int (*ks_srange_fn)(void *ud, const uint8_t sha[32]);
int ks__store_range(ks_store *s, uint32_t prefix, ks_srange_fn fn, void *ud);
/* Adds the SHA-256 of addresses (sha[0..n), any order: sorted in place) to
 * their range buckets, duplicates collapsed; batch: the batch they come
 * from (what an in-memory copy syncs on). Inside a transaction: the
 * builder's batch (at commit), or a bulk loader's own. */
int ks__store_range_add(ks_store *s, int64_t batch, uint8_t (*sha)[32], size_t n);
/* The 20-bit range bucket of a SHA-256 (its first 5 hex digits). */
uint32_t ks__store_bucket(const uint8_t sha[32]);

/* The range buckets in process memory, for a server answering many
 * lookups (store_range.c): still sealed, unsealed per lookup; no SQLite
 * work per lookup. Lookups from any thread (each with its own store
 * handle, for the key and scratch); syncs from one thread at a time. */
typedef struct ks_srange_mem ks_srange_mem;
/* An empty copy that will hold at most max_bytes of sealed buckets. */
ks_srange_mem *ks__srange_new(size_t max_bytes);
void ks__srange_free(ks_srange_mem *m); /* NULL-safe */
/* Loads every bucket the first time, then the buckets changed by batches
 * committed since the last sync; *changed (may be NULL) = buckets read.
 * KS_ELIMIT when the copy would exceed its cap (left as it was). Holds
 * the write lock only to swap the changed buckets in. */
int ks__srange_sync(ks_srange_mem *m, ks_store *s, size_t *changed);
/* Empties the copy: lookups answer KS_ENOTFOUND until a sync loads it. */
void ks__srange_drop(ks_srange_mem *m);
size_t ks__srange_bytes(const ks_srange_mem *m);
/* As ks__store_range, from the copy (s: the caller's handle);
 * KS_ENOTFOUND when the copy is not loaded (ask the database). */
int ks__srange_lookup(ks_srange_mem *m, ks_store *s, uint32_t prefix, ks_srange_fn fn, void *ud);

/* Whole-index totals for the operator (kensa index stats without --domain). */
typedef struct ks_stotals {
    uint64_t domains, files, batches, items;
} ks_stotals;
int ks__store_totals(ks_store *s, ks_stotals *out);
/* Newest committed batch id (0: none). */
int64_t ks__store_last_batch(ks_store *s);

/* The data set's status as the operator declared it at build time
 * ("verified": the dump's authenticity was checked; "unverified", the
 * default). Counts are always duplicate-collapsed. Static string. */
const char *ks__store_status(ks_store *s);
int ks__store_set_status(ks_store *s, const char *status);

/* The exposure as the JSON object of `index stats` and the portal API
 * (appended to b); fresh: include the "new" counts. */
int ks__store_exposure_json(const ks_sexposure *x, const char *domain, const char *status, bool fresh,
                            ks_buf *b);

#endif
