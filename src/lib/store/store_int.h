/* SPDX-License-Identifier: Apache-2.0
 *
 * Private parts of the exposure index store, shared by store.c (open,
 * keys, writes), store_query.c (reads) and store_range.c (the
 * k-anonymity range buckets).
 */
#ifndef KS_STORE_INT_H
#define KS_STORE_INT_H

#include <sqlite3.h>
#include <sodium.h>
#include "store/store.h"

/* Prepared statements, made on first use and kept for the handle's life. */
enum {
    ST_FILE_GET,
    ST_FILE_PUT,
    ST_PROG_GET,
    ST_PROG_PUT,
    ST_PROG_DEL,
    ST_ORG_GET,
    ST_ORG_PUT,
    ST_ITEM_PUT,
    ST_ITEM_ADD,
    ST_COUNT_PUT,
    ST_RANGE_PUT,
    ST_BATCH_NEW,
    ST_BATCH_END,
    ST_COUNTS_GET,
    ST_FRESH_PUT,
    ST_FRESH_GET,
    ST_FRESH_ITEMS,
    ST_LIST_GET,
    ST_RANGE_GET,
    ST_RANGE_ALL,
    ST_RANGE_SINCE,
    ST_COUNT
};

/* Count changes of one (org, kind, type) in the open batch. */
typedef struct ks_cdelta {
    int64_t org;
    unsigned kind;
    uint64_t distinct, seen;
    int64_t first, last;
} ks_cdelta;

/* One distinct item of the open batch: its observations are summed in
 * memory and written once at commit (an address in 400 messages of a batch
 * is one upsert, one seal, one range bucket update, not 400). */
typedef struct ks_pitem {
    int64_t org;
    unsigned kind;
    uint8_t h[32];            /* item MAC */
    uint8_t sha[32];          /* addresses: SHA-256 of the value (range bucket) */
    bool range;               /* sha is set */
    const void *id;           /* batch arena: the identity (what makes it distinct) */
    uint32_t nid;
    const char *type;         /* batch arena, NULL = none */
    const void *enc;          /* batch arena: the sealed value, NULL = none */
    size_t nenc;
    uint64_t seen;            /* observations in this batch */
    int64_t first, last;
} ks_pitem;

struct ks_store {
    sqlite3 *db;              /* the connection (one thread at a time) */
    char *path;               /* database path, for messages */
    uint8_t k_mac[32];        /* HMAC key of item identities */
    uint8_t k_seal[32];       /* secretbox key of sealed values */
    uint8_t k_token[32];      /* generic-hash key of API tokens / sessions */
    uint8_t k_nonce[32];      /* synthetic nonces of sealed values */
    crypto_auth_hmacsha256_state mac0; /* HMAC keyed with k_mac, copied per MAC */
    crypto_generichash_state nonce0; /* BLAKE2b keyed with k_nonce, copied per seal */
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *cached[KS_STORE_MAX_CACHED]; /* ks__store_prepare's, by SQL text */
    size_t ncached;
    bool in_batch;            /* a transaction is open */
    bool fresh_items;         /* an older index: new items counted by items_fresh, not the fresh table */
    int64_t batch;            /* its batches.id */
    uint64_t rows, files;     /* written in the open batch */
    ks_map *orgs;             /* domain -> orgs.id (cache; in memory only) */
    ks_buf scratch;           /* sealing buffer */
    ks_buf rold, rmix;        /* a range bucket's hashes: as stored, merged */
    uint8_t (*rfresh)[32];    /* addresses new in the flushed batch (SHA-256) */
    size_t nrfresh, caprfresh;
    ks_map *cdelta;           /* org|kind|type -> index + 1 in deltas */
    ks_cdelta *deltas;
    size_t ndeltas, capdeltas;
    uint64_t *ptab;           /* the batch's items by identity (ks__store_put) */
    size_t ptcap;             /* entries, a power of two */
    ks_pitem *pitems;
    size_t npitems, cappitems;
    ks_arena *parena;         /* types and sealed values of pitems */
};

/* The statement `which`, reset and unbound; NULL on a prepare error. */
sqlite3_stmt *ks__store_stmt(ks_store *s, int which);
/* Moves an index's old per-address `ranges` rows into rbuckets (once,
 * at a writable open); KS_OK when there are none. */
int ks__store_migrate_ranges(ks_store *s, char *err, size_t errcap);
/* orgs.id of a domain; KS_ENOTFOUND when absent and !create. */
int ks__store_org(ks_store *s, const char *domain, bool create, int64_t *id);

#endif
