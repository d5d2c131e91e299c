/* SPDX-License-Identifier: Apache-2.0
 *
 * The exposure index store (store.h): opening the SQLite file and the key
 * file, keyed hashing and sealing, the write path in batches. The read
 * path is store_query.c.
 *
 * Keys: the key file holds 32 random bytes (the server secret). Three keys
 * are derived from it by HMAC with fixed labels, so a leak of one use
 * (say, sealed values exported for debugging) does not hand out the
 * others: the item MAC key, the sealing key, the token-hash key. The
 * database keeps a check value of the MAC key, so a build or a portal
 * started with the wrong key file stops instead of writing a second,
 * unjoinable set of hashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <sodium.h>
#include "core/sha256.h"
#include "store/store_int.h"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
    /* one row per batch; `committed` is set in the batch's own transaction */
    "CREATE TABLE IF NOT EXISTS batches(id INTEGER PRIMARY KEY, started INTEGER,"
    " committed INTEGER, files INTEGER, rows INTEGER);"
    "CREATE TABLE IF NOT EXISTS files(path_h BLOB PRIMARY KEY, size INTEGER, mtime INTEGER,"
    " content_h BLOB, batch INTEGER) WITHOUT ROWID;"
    /* a file being read: how many of its units (messages, documents) the
     * committed batches hold, so a build killed inside one large mbox
     * resumes after them; the row goes when the file is done */
    "CREATE TABLE IF NOT EXISTS progress(path_h BLOB PRIMARY KEY, size INTEGER, mtime INTEGER,"
    " units INTEGER, batch INTEGER) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS orgs(id INTEGER PRIMARY KEY, dom_h BLOB UNIQUE NOT NULL,"
    " first_batch INTEGER);"
    "CREATE TABLE IF NOT EXISTS items(org INTEGER, kind INTEGER, h BLOB, type TEXT, enc BLOB,"
    " seen INTEGER, first_ns INTEGER, last_ns INTEGER, first_batch INTEGER, last_batch INTEGER,"
    " PRIMARY KEY(org, kind, h)) WITHOUT ROWID;"
    /* items new in each batch, per (org, kind, type): what the portal's
     * "new since your last visit" counts sum. An index on items(org,
     * first_batch) answered it before, at the price of a second B-tree
     * insert per item (a third of the builder's SQLite work); an index
     * that has items_fresh keeps it and is counted from it (ks_store.fresh_items) */
    "CREATE TABLE IF NOT EXISTS fresh(org INTEGER, batch INTEGER, kind INTEGER, type TEXT, n INTEGER,"
    " PRIMARY KEY(org, batch, kind, type)) WITHOUT ROWID;"
    /* per (org, kind, type) totals kept up to date by every put, so the
     * portal answers an exposure query from a handful of rows */
    "CREATE TABLE IF NOT EXISTS counts(org INTEGER, kind INTEGER, type TEXT, distinct_n INTEGER,"
    " seen INTEGER, first_ns INTEGER, last_ns INTEGER, last_batch INTEGER,"
    " PRIMARY KEY(org, kind, type)) WITHOUT ROWID;"
    /* the k-anonymity range buckets: one row per 20-bit bucket holding the
     * sorted SHA-256 of its addresses, sealed together, so a lookup is one
     * integer-key row and one unseal (a row per address cost a B-tree walk
     * over ~10 rows and ~10 unseals per request on a 10M-address index);
     * `batch` (the last batch that changed it) lets a server's in-memory
     * copy pick up what later batches changed (store_range.c) */
    "CREATE TABLE IF NOT EXISTS rbuckets(bucket INTEGER PRIMARY KEY, batch INTEGER NOT NULL,"
    " enc BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rbuckets_batch ON rbuckets(batch);";

/* The SQL of the prepared statements, indexed by ST_*. */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_FILE_GET] = "SELECT size, mtime FROM files WHERE path_h = ?1",
    [ST_FILE_PUT] = "INSERT OR REPLACE INTO files(path_h, size, mtime, content_h, batch)"
                    " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_PROG_GET] = "SELECT size, mtime, units FROM progress WHERE path_h = ?1",
    [ST_PROG_PUT] = "INSERT OR REPLACE INTO progress(path_h, size, mtime, units, batch)"
                    " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_PROG_DEL] = "DELETE FROM progress WHERE path_h = ?1",
    [ST_ORG_GET] = "SELECT id FROM orgs WHERE dom_h = ?1",
    [ST_ORG_PUT] = "INSERT INTO orgs(dom_h, first_batch) VALUES(?1, ?2)",
    /* an item new to the index is one insert; one already there (seen in
     * an earlier batch) an insert that does nothing, then an update. An
     * upsert with RETURNING (to tell the two apart) cost more per row:
     * SQLite buffers RETURNING rows in a table of their own */
    [ST_ITEM_PUT] =
        "INSERT OR IGNORE INTO items(org, kind, h, type, enc, seen, first_ns, last_ns, first_batch, last_batch)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?8, ?6, ?9, ?7, ?7)",
    [ST_ITEM_ADD] =
        "UPDATE items SET seen = seen + ?8,"
        " first_ns = min(coalesce(first_ns, ?6), coalesce(?6, first_ns)),"
        " last_ns = max(coalesce(last_ns, ?9), coalesce(?9, last_ns)),"
        " last_batch = ?7"
        " WHERE org = ?1 AND kind = ?2 AND h = ?3",
    [ST_COUNT_PUT] =
        "INSERT INTO counts(org, kind, type, distinct_n, seen, first_ns, last_ns, last_batch)"
        " VALUES(?1, ?2, ?3, ?4, ?7, ?5, ?8, ?6)"
        " ON CONFLICT(org, kind, type) DO UPDATE SET distinct_n = distinct_n + excluded.distinct_n,"
        " seen = seen + excluded.seen,"
        " first_ns = min(coalesce(first_ns, excluded.first_ns), coalesce(excluded.first_ns, first_ns)),"
        " last_ns = max(coalesce(last_ns, excluded.last_ns), coalesce(excluded.last_ns, last_ns)),"
        " last_batch = excluded.last_batch",
    [ST_RANGE_PUT] = "INSERT OR REPLACE INTO rbuckets(bucket, batch, enc) VALUES(?1, ?2, ?3)",
    [ST_BATCH_NEW] = "INSERT INTO batches(started, files, rows) VALUES(?1, 0, 0)",
    [ST_BATCH_END] = "UPDATE batches SET committed = ?2, files = ?3, rows = ?4 WHERE id = ?1",
    [ST_COUNTS_GET] = "SELECT kind, type, distinct_n, seen, first_ns, last_ns, last_batch"
                      " FROM counts WHERE org = ?1",
    [ST_FRESH_PUT] = "INSERT INTO fresh(org, batch, kind, type, n) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_FRESH_GET] = "SELECT kind, type, sum(n) FROM fresh WHERE org = ?1 AND batch > ?2 GROUP BY 1, 2",
    [ST_FRESH_ITEMS] = "SELECT kind, coalesce(type, ''), count(*) FROM items"
                       " WHERE org = ?1 AND first_batch > ?2 GROUP BY 1, 2",
    [ST_LIST_GET] = "SELECT enc, type, seen, first_ns, last_ns, first_batch FROM items"
                    " WHERE org = ?1 AND kind = ?2 AND enc IS NOT NULL"
                    " ORDER BY first_batch DESC, seen DESC LIMIT ?3",
    [ST_RANGE_GET] = "SELECT enc FROM rbuckets WHERE bucket = ?1",
    [ST_RANGE_ALL] = "SELECT bucket, batch, enc FROM rbuckets",
    [ST_RANGE_SINCE] = "SELECT bucket, batch, enc FROM rbuckets WHERE batch > ?1",
};

/* ---- kinds -------------------------------------------------------------------- */

const char *ks__skind_key(unsigned kind)
{
    switch (kind) {
#define KS_SKIND_KEY_(name, val, key, label) case val: return key;
        KS_STORE_KINDS(KS_SKIND_KEY_)
#undef KS_SKIND_KEY_
    }
    return NULL;
}

const char *ks__skind_label(unsigned kind)
{
    switch (kind) {
#define KS_SKIND_LABEL_(name, val, key, label) case val: return label;
        KS_STORE_KINDS(KS_SKIND_LABEL_)
#undef KS_SKIND_LABEL_
    }
    return NULL;
}

/* ---- keys ------------------------------------------------------------------------ */

static void derive(const uint8_t master[32], const char *label, uint8_t out[32])
{
    crypto_auth_hmacsha256(out, (const unsigned char *)label, strlen(label), master);
}

/* Reads (or with create, makes) the key file. */
static int load_key(const char *path, bool create, uint8_t key[32], char *err, size_t errcap)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errcap, "cannot create key file %s: %s", path, strerror(errno));
            return KS_EIO;
        }
        randombytes_buf(key, 32);
        ssize_t w = write(fd, key, 32);
        if (w != 32 || fsync(fd) != 0) {
            snprintf(err, errcap, "cannot write key file %s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return KS_EIO;
        }
        close(fd);
        return KS_OK;
    }
    if (fd < 0) {
        snprintf(err, errcap, "cannot open key file %s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (kensa index build creates it)" : "");
        return errno == ENOENT ? KS_ENOTFOUND : KS_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "key file %s is not a regular file", path);
        close(fd);
        return KS_EUSAGE;
    }
    if (st.st_mode & 077) {
        snprintf(err, errcap, "key file %s is readable by group or others (mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return KS_EPERM;
    }
    ssize_t r = read(fd, key, 32);
    close(fd);
    if (r != 32 || st.st_size != 32) {
        snprintf(err, errcap, "key file %s must hold exactly 32 bytes", path);
        return KS_EFORMAT;
    }
    return KS_OK;
}

/* ---- open / close --------------------------------------------------------------- */

static int check_key(ks_store *s, bool writable, char *err, size_t errcap)
{
    uint8_t mac[32];
    char hex[33];
    sqlite3_stmt *st = NULL;
    int rc = KS_OK;
    ks__store_mac(s, "keycheck", "kensa-index", 11, mac);
    sodium_bin2hex(hex, sizeof hex, mac, 16);
    if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = 'keycheck'", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "%s is not a kensa index: %s", s->path, sqlite3_errmsg(s->db));
        rc = KS_EFORMAT;
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, hex) != 0) {
            snprintf(err, errcap, "the key file does not match %s (it was built with another key)",
                     s->path);
            rc = KS_EUSAGE;
        }
        goto out;
    }
    if (!writable)
        goto out; /* an empty index: nothing to check against */
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO meta(k, v) VALUES('keycheck', ?1), ('schema', '2')",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE) {
        snprintf(err, errcap, "%s: %s", s->path, sqlite3_errmsg(s->db));
        rc = KS_EIO;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int ks__store_open(const char *db, const char *keyfile, unsigned flags, ks_store **out,
                   char *err, size_t errcap)
{
    ks_store *s = NULL;
    char *kpath = NULL;
    uint8_t master[32];
    int rc = KS_OK;
    bool writable = flags & (KS_STORE_WRITE | KS_STORE_CREATE);
    if (sodium_init() < 0) {
        snprintf(err, errcap, "libsodium failed to initialise");
        return KS_EINTERNAL;
    }
    if (!keyfile) {
        size_t n = strlen(db) + 5;
        if (!(kpath = malloc(n)))
            return KS_ENOMEM;
        snprintf(kpath, n, "%s.key", db);
        keyfile = kpath;
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->path = strdup(db)) || !(s->orgs = ks__map_new(64))) {
        rc = KS_ENOMEM;
        goto out;
    }
    if ((rc = load_key(keyfile, flags & KS_STORE_CREATE, master, err, errcap)) != KS_OK)
        goto out;
    derive(master, "kensa-index-mac-v1", s->k_mac);
    derive(master, "kensa-index-seal-v1", s->k_seal);
    derive(master, "kensa-index-token-v1", s->k_token);
    derive(master, "kensa-index-nonce-v1", s->k_nonce);
    sodium_memzero(master, sizeof master);
    crypto_auth_hmacsha256_init(&s->mac0, s->k_mac, sizeof s->k_mac);
    crypto_generichash_init(&s->nonce0, s->k_nonce, sizeof s->k_nonce, crypto_secretbox_NONCEBYTES);

    int oflags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (flags & KS_STORE_CREATE)
        oflags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(db, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "cannot open %s: %s", db, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        rc = KS_EIO;
        goto out;
    }
    sqlite3_busy_timeout(s->db, 10000);
    /* item keys are keyed hashes, so inserts land all over the B-tree: a
     * cache that holds the hot pages keeps the builder off the disk (the
     * builder sets its own size, ks__store_cache) */
    sqlite3_exec(s->db, writable ? "PRAGMA cache_size=-131072" : "PRAGMA cache_size=-16384", NULL, NULL, NULL);
    if (writable && sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "%s: %s", db, sqlite3_errmsg(s->db));
        rc = KS_EIO;
        goto out;
    }
    /* an index built before the fresh table kept items_fresh: SQLite
     * keeps that index up to date on every insert, so its batches (and
     * any written by an older kensa since) are counted from the items */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'items_fresh'",
                           -1, &q, NULL) == SQLITE_OK)
        s->fresh_items = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if ((rc = check_key(s, writable, err, errcap)) != KS_OK ||
        (writable && (rc = ks__store_migrate_ranges(s, err, errcap)) != KS_OK))
        goto out;
    *out = s;
    s = NULL;
out:
    free(kpath);
    ks__store_close(s);
    return rc;
}

void ks__store_close(ks_store *s)
{
    if (!s)
        return;
    if (s->in_batch)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (size_t i = 0; i < s->ncached; i++)
        sqlite3_finalize(s->cached[i]);
    sqlite3_close(s->db);
    ks__map_free(s->orgs);
    ks__map_free(s->cdelta);
    free(s->deltas);
    free(s->ptab);
    free(s->pitems);
    ks__arena_free(s->parena);
    sodium_memzero(&s->mac0, sizeof s->mac0);
    sodium_memzero(&s->nonce0, sizeof s->nonce0);
    ks__buf_release(&s->scratch);
    ks__buf_release(&s->rold);
    ks__buf_release(&s->rmix);
    free(s->rfresh);
    sodium_memzero(s->k_mac, sizeof s->k_mac);
    sodium_memzero(s->k_seal, sizeof s->k_seal);
    sodium_memzero(s->k_token, sizeof s->k_token);
    sodium_memzero(s->k_nonce, sizeof s->k_nonce);
    free(s->path);
    free(s);
}

const char *ks__store_errmsg(const ks_store *s)
{
    return s && s->db ? sqlite3_errmsg(s->db) : "no database";
}

struct sqlite3 *ks__store_db(ks_store *s)
{
    return s->db;
}

sqlite3_stmt *ks__store_stmt(ks_store *s, int which)
{
    if (!s->st[which] && sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                            &s->st[which], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(s->st[which]);
    sqlite3_clear_bindings(s->st[which]);
    return s->st[which];
}

sqlite3_stmt *ks__store_prepare(ks_store *s, const char *sql)
{
    for (size_t i = 0; i < s->ncached; i++) {
        if (!strcmp(sqlite3_sql(s->cached[i]), sql)) {
            sqlite3_reset(s->cached[i]);
            sqlite3_clear_bindings(s->cached[i]);
            return s->cached[i];
        }
    }
    if (s->ncached == KS_STORE_MAX_CACHED ||
        sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->cached[s->ncached], NULL) != SQLITE_OK)
        return NULL;
    return s->cached[s->ncached++];
}

/* ---- hashing and sealing -------------------------------------------------------- */

void ks__store_mac(const ks_store *s, const char *tag, const void *p, size_t n, uint8_t out[32])
{
    /* the keyed inner/outer states are computed once per handle */
    crypto_auth_hmacsha256_state st = s->mac0;
    ks__hmacsha256_update(&st, tag, strlen(tag) + 1);
    ks__hmacsha256_update(&st, p, n);
    ks__hmacsha256_final(&st, out);
}

void ks__store_token_hash(const ks_store *s, const char *tok, uint8_t out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)tok, strlen(tok), s->k_token, sizeof s->k_token);
}

int ks__store_seal(const ks_store *s, const void *p, size_t n, ks_buf *out)
{
    size_t need;
    if (!ks__add_ok(n, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES, &need))
        return KS_ELIMIT;
    ks__buf_reset(out);
    if (ks__buf_grow(out, need) != KS_OK)
        return KS_ENOMEM;
    unsigned char *c = (unsigned char *)out->p;
    /* synthetic nonce: a keyed hash of the plaintext (SIV-style). Equal
     * values seal equal, which the item MAC reveals anyway; no random
     * draw per value (a getrandom call each) and no nonce reuse across
     * different plaintexts. The keyed state is made once per handle: a
     * keyed BLAKE2b compresses the key as a block of its own, which was
     * half the nonce's cost for the short values sealed here (the same
     * bytes come out as crypto_generichash with the key). */
    crypto_generichash_state st = s->nonce0;
    crypto_generichash_update(&st, p, n);
    crypto_generichash_final(&st, c, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(c + crypto_secretbox_NONCEBYTES, p, n, c, s->k_seal);
    out->n = need;
    out->p[need] = 0;
    return KS_OK;
}

int ks__store_unseal(const ks_store *s, const void *c, size_t n, ks_buf *out)
{
    const unsigned char *cb = c;
    ks__buf_reset(out);
    if (n < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return KS_ECHECKSUM;
    size_t m = n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    if (ks__buf_grow(out, m + 1) != KS_OK)
        return KS_ENOMEM;
    if (crypto_secretbox_open_easy((unsigned char *)out->p, cb + crypto_secretbox_NONCEBYTES,
                                   n - crypto_secretbox_NONCEBYTES, cb, s->k_seal) != 0)
        return KS_ECHECKSUM;
    out->n = m;
    out->p[m] = 0;
    return KS_OK;
}


/* ---- batches -------------------------------------------------------------------- */

/* Every SQLite failure is KS_EIO here; the message stays on the
 * connection (ks__store_errmsg). */
#define sql_fail(s) KS_EIO

static void bind_time(sqlite3_stmt *st, int i, int64_t t)
{
    if (t == KS_TIME_NONE)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, t);
}

/* Widens [*first, *last] to hold [first, last] (KS_TIME_NONE: unknown). */
static void span_add(int64_t *lo, int64_t *hi, int64_t first, int64_t last)
{
    if (first != KS_TIME_NONE && (*lo == KS_TIME_NONE || first < *lo))
        *lo = first;
    if (last != KS_TIME_NONE && (*hi == KS_TIME_NONE || last > *hi))
        *hi = last;
}

/* Writes the batch's per-(org, kind, type) count deltas: one row each
 * instead of one update per observation. */
static int flush_counts(ks_store *s)
{
    size_t it = 0, kn;
    const char *key;
    uint64_t *val;
    /* a batch of processed-file rows only (empty files) has no deltas */
    while (s->cdelta && ks__map_iter(s->cdelta, &it, &key, &kn, &val)) {
        const ks_cdelta *c = &s->deltas[*val - 1];
        sqlite3_stmt *st = ks__store_stmt(s, ST_COUNT_PUT);
        if (!st)
            return KS_EIO;
        sqlite3_bind_int64(st, 1, c->org);
        sqlite3_bind_int(st, 2, (int)c->kind);
        sqlite3_bind_text(st, 3, key + sizeof c->org + 1, (int)(kn - sizeof c->org - 1), SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)c->distinct);
        bind_time(st, 5, c->first);
        sqlite3_bind_int64(st, 6, s->batch);
        sqlite3_bind_int64(st, 7, (int64_t)c->seen);
        bind_time(st, 8, c->last);
        if (sqlite3_step(st) != SQLITE_DONE)
            return KS_EIO;
        if (!c->distinct || s->fresh_items)
            continue;
        if (!(st = ks__store_stmt(s, ST_FRESH_PUT)))
            return KS_EIO;
        sqlite3_bind_int64(st, 1, c->org);
        sqlite3_bind_int64(st, 2, s->batch);
        sqlite3_bind_int(st, 3, (int)c->kind);
        sqlite3_bind_text(st, 4, key + sizeof c->org + 1, (int)(kn - sizeof c->org - 1), SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (int64_t)c->distinct);
        if (sqlite3_step(st) != SQLITE_DONE)
            return KS_EIO;
    }
    ks__map_free(s->cdelta);
    s->cdelta = NULL;
    s->ndeltas = 0;
    return KS_OK;
}

/* Adds an item's observations in the batch to the count deltas. */
static int count_delta(ks_store *s, int64_t org, unsigned kind, const char *type, bool fresh, uint64_t seen,
                       int64_t first, int64_t last)
{
    char key[80];
    size_t tn = strlen(type);
    if (tn > sizeof key - sizeof org - 1)
        tn = sizeof key - sizeof org - 1;
    memcpy(key, &org, sizeof org);
    key[sizeof org] = (char)kind;
    memcpy(key + sizeof org + 1, type, tn);
    if (!s->cdelta && !(s->cdelta = ks__map_new(256)))
        return KS_ENOMEM;
    uint64_t *slot = ks__map_slot(s->cdelta, key, sizeof org + 1 + tn, true);
    if (!slot)
        return KS_ENOMEM;
    if (*slot == 0) {
        if (ks__grow(&s->deltas, &s->capdeltas, s->ndeltas, sizeof *s->deltas, 64) != KS_OK)
            return KS_ENOMEM;
        ks_cdelta *c = &s->deltas[s->ndeltas];
        memset(c, 0, sizeof *c);
        c->org = org;
        c->kind = kind;
        c->first = c->last = KS_TIME_NONE;
        *slot = s->ndeltas++ + 1; /* 0 means new */
    }
    ks_cdelta *c = &s->deltas[*slot - 1];
    c->distinct += fresh;
    c->seen += seen;
    span_add(&c->first, &c->last, first, last);
    return KS_OK;
}

int ks__store_begin(ks_store *s)
{
    sqlite3_stmt *st;
    if (s->in_batch)
        return KS_OK;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(s);
    s->in_batch = true;
    s->rows = s->files = 0;
    if (!(st = ks__store_stmt(s, ST_BATCH_NEW)))
        return sql_fail(s);
    sqlite3_bind_int64(st, 1, ks__wall_ns());
    if (sqlite3_step(st) != SQLITE_DONE)
        return sql_fail(s);
    s->batch = sqlite3_last_insert_rowid(s->db);
    return KS_OK;
}

static int flush_items(ks_store *s);

int ks__store_commit(ks_store *s)
{
    sqlite3_stmt *st;
    int rc;
    if (!s->in_batch)
        return KS_OK;
    if ((rc = flush_items(s)) != KS_OK || (rc = flush_counts(s)) != KS_OK)
        return rc;
    if (!(st = ks__store_stmt(s, ST_BATCH_END)))
        return sql_fail(s);
    sqlite3_bind_int64(st, 1, s->batch);
    sqlite3_bind_int64(st, 2, ks__wall_ns());
    sqlite3_bind_int64(st, 3, (int64_t)s->files);
    sqlite3_bind_int64(st, 4, (int64_t)s->rows);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sql_fail(s);
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(s);
    s->in_batch = false;
    s->batch = 0;
    return KS_OK;
}

uint64_t ks__store_pending(const ks_store *s)
{
    return s->in_batch ? s->rows + s->files : 0;
}

int64_t ks__store_batch(const ks_store *s)
{
    return s->in_batch ? s->batch : 0;
}

/* ---- files ------------------------------------------------------------------------ */

int ks__store_file_known(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns, bool *known)
{
    uint8_t h[32];
    sqlite3_stmt *st = ks__store_stmt(s, ST_FILE_GET);
    if (!st)
        return sql_fail(s);
    ks__store_mac(s, "path", path, strlen(path), h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *known = (uint64_t)sqlite3_column_int64(st, 0) == size && sqlite3_column_int64(st, 1) == mtime_ns;
    else if (r == SQLITE_DONE)
        *known = false;
    else
        return sql_fail(s);
    sqlite3_reset(st);
    return KS_OK;
}

int ks__store_file_done(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns,
                        const uint8_t content_hash[32])
{
    uint8_t h[32], ch[32];
    sqlite3_stmt *st;
    int rc = ks__store_begin(s);
    if (rc != KS_OK)
        return rc;
    if (!(st = ks__store_stmt(s, ST_FILE_PUT)))
        return sql_fail(s);
    ks__store_mac(s, "path", path, strlen(path), h);
    ks__store_mac(s, "content", content_hash, 32, ch);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    sqlite3_bind_blob(st, 4, ch, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, s->batch);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sql_fail(s);
    if (!(st = ks__store_stmt(s, ST_PROG_DEL)))
        return sql_fail(s);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sql_fail(s);
    s->files++;
    return KS_OK;
}

int ks__store_file_part(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns, uint64_t units)
{
    uint8_t h[32];
    sqlite3_stmt *st;
    int rc = ks__store_begin(s);
    if (rc != KS_OK)
        return rc;
    if (!(st = ks__store_stmt(s, ST_PROG_PUT)))
        return sql_fail(s);
    ks__store_mac(s, "path", path, strlen(path), h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    sqlite3_bind_int64(st, 4, (int64_t)units);
    sqlite3_bind_int64(st, 5, s->batch);
    return sqlite3_step(st) == SQLITE_DONE ? KS_OK : sql_fail(s);
}

int ks__store_file_progress(ks_store *s, const char *path, uint64_t size, int64_t mtime_ns, uint64_t *units)
{
    uint8_t h[32];
    sqlite3_stmt *st = ks__store_stmt(s, ST_PROG_GET);
    if (!st)
        return sql_fail(s);
    ks__store_mac(s, "path", path, strlen(path), h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *units = 0;
    if (r == SQLITE_ROW && (uint64_t)sqlite3_column_int64(st, 0) == size && sqlite3_column_int64(st, 1) == mtime_ns)
        *units = (uint64_t)sqlite3_column_int64(st, 2);
    else if (r != SQLITE_ROW && r != SQLITE_DONE)
        return sql_fail(s);
    sqlite3_reset(st);
    return KS_OK;
}

/* The builder's checkpoints: every WAL_CHECKPOINT_PAGES (32 MiB) of WAL
 * instead of SQLite's 1,000 pages. Item keys are keyed hashes, so every
 * batch dirties pages all over the items B-tree; with the default nearly
 * every commit was followed by a checkpoint copying those pages into the
 * database again, and a page that several batches rewrote was copied each
 * time. A larger WAL is copied once per page per checkpoint (readers look
 * pages up in the WAL index; a kill -9 leaves the WAL to recover as
 * before). */
#define WAL_CHECKPOINT_PAGES 8192

int ks__store_cache(ks_store *s, unsigned mb)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%u", mb ? mb * 1024u : 1024u);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(s);
    return sqlite3_wal_autocheckpoint(s->db, WAL_CHECKPOINT_PAGES) == SQLITE_OK ? KS_OK : sql_fail(s);
}

/* ---- items ------------------------------------------------------------------------ */

/* The org row of a domain, created in the open batch when new. */
int ks__store_org(ks_store *s, const char *domain, bool create, int64_t *id)
{
    uint8_t h[32];
    sqlite3_stmt *st;
    size_t dn = strlen(domain);
    /* cached by the domain itself (process memory only, never stored):
     * no HMAC per observation */
    uint64_t *slot = ks__map_get(s->orgs, domain, dn);
    if (slot) {
        *id = (int64_t)*slot;
        return KS_OK;
    }
    ks__store_mac(s, "domain", domain, dn, h);
    if (!(st = ks__store_stmt(s, ST_ORG_GET)))
        return sql_fail(s);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
    } else if (r != SQLITE_DONE) {
        return sql_fail(s);
    } else if (!create) {
        return KS_ENOTFOUND;
    } else {
        if (!(st = ks__store_stmt(s, ST_ORG_PUT)))
            return sql_fail(s);
        sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->batch);
        if (sqlite3_step(st) != SQLITE_DONE)
            return sql_fail(s);
        *id = sqlite3_last_insert_rowid(s->db);
        /* cached only once committed ids are certain: a rolled-back batch
         * would leave a dangling id; the builder never rolls back and
         * reopens after an error, so caching here is safe */
    }
    sqlite3_reset(st);
    if ((slot = ks__map_slot(s->orgs, domain, dn, true)))
        *slot = (uint64_t)*id;
    return KS_OK;
}

/* Domain-separation tag of a kind's MAC (an address and a person with the
 * same text must not collide). */
static const char *kind_tag(unsigned kind)
{
    const char *k = ks__skind_key(kind);
    return k ? k : "other";
}

/* Key order of the batch's items: the upserts walk the B-tree in order. */
static int pitem_cmp(const void *a, const void *b)
{
    const ks_pitem *x = a, *y = b;
    if (x->org != y->org)
        return x->org < y->org ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return memcmp(x->h, y->h, 32);
}

/* Writes the batch's items, each with the batch's seen count: inserted
 * when new to the index (then it counts as a distinct value), else added
 * to the row. */
static int flush_items(ks_store *s)
{
    int rc = KS_OK;
    if (s->npitems > 1)
        qsort(s->pitems, s->npitems, sizeof *s->pitems, pitem_cmp);
    for (size_t i = 0; i < s->npitems && rc == KS_OK; i++) {
        const ks_pitem *it = &s->pitems[i];
        bool fresh = true;
        for (int which = ST_ITEM_PUT; which <= ST_ITEM_ADD; which++) {
            sqlite3_stmt *st = ks__store_stmt(s, which);
            if (!st)
                return sql_fail(s);
            sqlite3_bind_int64(st, 1, it->org);
            sqlite3_bind_int(st, 2, (int)it->kind);
            sqlite3_bind_blob(st, 3, it->h, 32, SQLITE_STATIC);
            if (which == ST_ITEM_PUT && it->type)
                sqlite3_bind_text(st, 4, it->type, -1, SQLITE_STATIC);
            if (which == ST_ITEM_PUT && it->enc)
                sqlite3_bind_blob(st, 5, it->enc, (int)it->nenc, SQLITE_STATIC);
            bind_time(st, 6, it->first);
            sqlite3_bind_int64(st, 7, s->batch);
            sqlite3_bind_int64(st, 8, (int64_t)it->seen);
            bind_time(st, 9, it->last);
            if (sqlite3_step(st) != SQLITE_DONE)
                return sql_fail(s);
            sqlite3_reset(st);
            if (which == ST_ITEM_PUT && (fresh = sqlite3_changes(s->db) == 1))
                break;
        }
        rc = count_delta(s, it->org, it->kind, it->type ? it->type : "", fresh, it->seen, it->first, it->last);
        if (rc == KS_OK && fresh && it->range) {
            if (ks__grow(&s->rfresh, &s->caprfresh, s->nrfresh, sizeof *s->rfresh, 256) != KS_OK)
                rc = KS_ENOMEM;
            else
                memcpy(s->rfresh[s->nrfresh++], it->sha, 32);
        }
    }
    if (rc == KS_OK)
        rc = ks__store_range_add(s, s->batch, s->rfresh, s->nrfresh);
    s->nrfresh = 0;
    if (s->ptab)
        memset(s->ptab, 0, s->ptcap * sizeof *s->ptab);
    s->npitems = 0;
    if (s->parena)
        ks__arena_reset(s->parena);
    return rc;
}

/* The batch's items by identity (org, kind, identity bytes): open
 * addressing over 8-byte entries, the top half of a 64-bit hash (which
 * also places the entry) and the item's index + 1 (0: empty). The table
 * and the items array keep their size from batch to batch and are only
 * cleared at a commit. A general map (32-byte slots, keys in an arena of
 * its own, made again per batch) took a cache miss per put in 8 MB of
 * slots, and its doubling in the first batch touched fresh pages for each
 * size: a read fault then a copy-on-write fault with a TLB shootdown per
 * page (2 % of a mailbox's build). */
static uint32_t pitem_tag(int64_t org, unsigned kind, const void *id, size_t nid)
{
    uint64_t h = ks__hash(id, nid) ^ (((uint64_t)org << 8 | kind) * 0x9e3779b97f4a7c15ull);
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)((h ^ (h >> 31)) >> 32);
}

static int ptab_grow(ks_store *s)
{
    size_t cap = s->ptcap ? s->ptcap * 2 : 4096;
    /* malloc + memset: written before read, no zero page to copy */
    uint64_t *t = cap <= SIZE_MAX / sizeof *t ? malloc(cap * sizeof *t) : NULL;
    if (!t)
        return KS_ENOMEM;
    memset(t, 0, cap * sizeof *t);
    for (size_t i = 0; i < s->ptcap; i++) {
        if (!s->ptab[i])
            continue;
        size_t j = (size_t)(s->ptab[i] >> 32) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = s->ptab[i];
    }
    free(s->ptab);
    s->ptab = t;
    s->ptcap = cap;
    return KS_OK;
}

int ks__store_put(ks_store *s, const ks_sput *p)
{
    int64_t org;
    int rc = ks__store_begin(s);
    if (rc != KS_OK)
        return rc;
    if (!ks__skind_key(p->kind) || (!p->value && !p->key))
        return KS_EUSAGE;
    if ((rc = ks__store_org(s, p->domain ? p->domain : "", true, &org)) != KS_OK)
        return rc;
    const void *id = p->key ? p->key : p->value;
    size_t nid = p->key ? p->nkey : p->nvalue;

    /* the batch's items are found by the identity itself (process memory
     * only, dropped at commit), so the HMAC is computed once per distinct
     * item and batch, not per observation (the same source path for
     * every message of an mbox, an address in every message of a thread) */
    if (s->npitems >= UINT32_MAX - 1 || nid > UINT32_MAX)
        return KS_ELIMIT;
    if ((2 * (s->npitems + 1) > s->ptcap && ptab_grow(s) != KS_OK) ||
        (!s->parena && !(s->parena = ks__arena_new(64 << 10, 0))))
        return KS_ENOMEM;
    uint32_t tag = pitem_tag(org, p->kind, id, nid);
    size_t mask = s->ptcap - 1, i = tag & mask;
    for (; s->ptab[i]; i = (i + 1) & mask) {
        if ((uint32_t)(s->ptab[i] >> 32) != tag)
            continue;
        ks_pitem *it = &s->pitems[(uint32_t)s->ptab[i] - 1];
        if (it->org == org && it->kind == p->kind && it->nid == nid && !memcmp(it->id, id, nid))
            break;
    }
    if (!s->ptab[i]) {
        if (ks__grow(&s->pitems, &s->cappitems, s->npitems, sizeof *s->pitems, 256) != KS_OK)
            return KS_ENOMEM;
        ks_pitem *it = &s->pitems[s->npitems];
        memset(it, 0, sizeof *it);
        it->org = org;
        it->kind = p->kind;
        if (!(it->id = ks__arena_alloc(s->parena, nid ? nid : 1)))
            return KS_ENOMEM;
        memcpy((void *)it->id, id, nid);
        it->nid = (uint32_t)nid;
        ks__store_mac(s, kind_tag(p->kind), id, nid, it->h);
        it->first = it->last = KS_TIME_NONE;
        if (p->type && !(it->type = ks__arena_strndup(s->parena, p->type, strlen(p->type))))
            return KS_ENOMEM;
        if (p->seal && p->value) {
            if (ks__store_seal(s, p->value, p->nvalue, &s->scratch) != KS_OK ||
                !(it->enc = ks__arena_alloc(s->parena, s->scratch.n)))
                return KS_ENOMEM;
            memcpy((void *)it->enc, s->scratch.p, s->scratch.n);
            it->nenc = s->scratch.n;
        }
        if (p->kind == KS_SK_ADDRESS && p->value) {
            ks__sha256(it->sha, p->value, p->nvalue);
            it->range = true;
        }
        s->ptab[i] = (uint64_t)tag << 32 | (uint64_t)++s->npitems;
    }
    ks_pitem *it = &s->pitems[(uint32_t)s->ptab[i] - 1];
    it->seen++;
    span_add(&it->first, &it->last, p->time, p->time);
    s->rows++;
    return KS_OK;
}
