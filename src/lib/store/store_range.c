/* SPDX-License-Identifier: Apache-2.0
 *
 * The k-anonymity range buckets of the exposure index store (store.h):
 * the SHA-256 of every indexed address, grouped by their first 20 bits.
 *
 * Layout: one rbuckets row per bucket holding the bucket's hashes sorted
 * and sealed together, plus the batch that last changed it. A lookup is
 * one integer-key row and one unseal; with a row per address (the layout
 * before, `ranges`) it was a B-tree walk over ~10 rows and ~10 unseals,
 * about half of a range request's CPU on a 10M-address index. Without
 * the key the table shows how many addresses each bucket holds (the blob
 * length), as the per-address rows did, nothing else.
 *
 * Writes: the builder hands each batch's new addresses over at commit
 * (ks__store_range_add), which merges them into their buckets (read,
 * unseal, sorted union, seal, write: once per touched bucket and batch).
 *
 * In memory (ks_srange_mem): a server answering many lookups keeps every
 * bucket's sealed blob in process memory and unseals per lookup — no
 * SQLite statement, no page read, no read transaction per request.
 * Sealed, so a memory dump shows what the database file shows. Kept up to
 * date by ks__srange_sync, which reads only the buckets changed by batches
 * committed since its last call (rbuckets.batch is indexed).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/store_int.h"

#define NBUCKETS (1u << 20)

uint32_t ks__store_bucket(const uint8_t sha[32])
{
    return ((uint32_t)sha[0] << 12) | ((uint32_t)sha[1] << 4) | (sha[2] >> 4);
}

static int sha_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Unseals a stored bucket into out; KS_ECHECKSUM when it does not open
 * or is not whole hashes. */
static int bucket_open(const ks_store *s, const void *enc, size_t n, ks_buf *out)
{
    int rc = ks__store_unseal(s, enc, n, out);
    if (rc == KS_OK && out->n % 32)
        rc = KS_ECHECKSUM;
    return rc;
}

/* A bucket's stored hashes into s->rold (empty when the bucket has none). */
static int bucket_read(ks_store *s, uint32_t bucket)
{
    sqlite3_stmt *st = ks__store_stmt(s, ST_RANGE_GET);
    int rc = KS_OK, r;
    ks__buf_reset(&s->rold);
    if (!st)
        return KS_EIO;
    sqlite3_bind_int64(st, 1, bucket);
    if ((r = sqlite3_step(st)) == SQLITE_ROW)
        rc = bucket_open(s, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &s->rold);
    else if (r != SQLITE_DONE)
        rc = KS_EIO;
    sqlite3_reset(st);
    return rc;
}

/* Merges add[0..n) (sorted, one bucket) into the bucket's row: the sorted
 * union, written only when it grew. A bucket that does not unseal stops
 * the write (KS_ECHECKSUM) rather than being replaced by a partial one. */
static int bucket_merge(ks_store *s, int64_t batch, uint32_t bucket, const uint8_t (*add)[32], size_t n)
{
    int rc = bucket_read(s, bucket);
    if (rc != KS_OK)
        return rc;
    const uint8_t (*old)[32] = (const void *)s->rold.p;
    size_t nold = s->rold.n / 32, i = 0, j = 0, k = 0;
    ks__buf_reset(&s->rmix);
    if (ks__buf_grow(&s->rmix, 32 * (nold + n)) != KS_OK)
        return KS_ENOMEM;
    uint8_t (*out)[32] = (void *)s->rmix.p;
    while (i < nold || j < n) {
        int c = i == nold ? 1 : j == n ? -1 : memcmp(old[i], add[j], 32);
        const uint8_t *take = c <= 0 ? old[i++] : add[j++];
        if (c == 0)
            j++;
        if (!k || memcmp(out[k - 1], take, 32))
            memcpy(out[k++], take, 32);
    }
    if (k == nold)
        return KS_OK;
    sqlite3_stmt *st = ks__store_stmt(s, ST_RANGE_PUT);
    if (!st)
        return KS_EIO;
    if (ks__store_seal(s, out, 32 * k, &s->scratch) != KS_OK)
        return KS_ENOMEM;
    sqlite3_bind_int64(st, 1, bucket);
    sqlite3_bind_int64(st, 2, batch);
    sqlite3_bind_blob(st, 3, s->scratch.p, (int)s->scratch.n, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return KS_EIO;
    return KS_OK;
}

int ks__store_range_add(ks_store *s, int64_t batch, uint8_t (*sha)[32], size_t n)
{
    int rc = KS_OK;
    if (n > 1)
        qsort(sha, n, 32, sha_cmp); /* the bucket is the hash's first 20 bits: groups are runs */
    for (size_t i = 0, j; i < n && rc == KS_OK; i = j) {
        uint32_t b = ks__store_bucket(sha[i]);
        for (j = i + 1; j < n && ks__store_bucket(sha[j]) == b; j++)
            ;
        rc = bucket_merge(s, batch, b, (const uint8_t (*)[32])sha + i, j - i);
    }
    return rc;
}

int ks__store_range(ks_store *s, uint32_t prefix, ks_srange_fn fn, void *ud)
{
    int rc = bucket_read(s, prefix);
    if (rc == KS_ECHECKSUM)
        return KS_OK; /* a damaged bucket answers as an empty one: never garbage */
    for (size_t i = 0; rc == KS_OK && i + 32 <= s->rold.n; i += 32)
        if (fn(ud, (const uint8_t *)s->rold.p + i))
            break;
    return rc;
}

int ks__store_migrate_ranges(ks_store *s, char *err, size_t errcap)
{
    sqlite3_stmt *st = NULL;
    uint8_t (*v)[32] = NULL;
    size_t n = 0, cap = 0;
    ks_buf u = KS_BUF_INIT;
    int64_t batch = 0;
    int rc = KS_OK, r = SQLITE_DONE;
    if (sqlite3_prepare_v2(s->db, "SELECT enc FROM ranges", -1, &st, NULL) != SQLITE_OK)
        goto out; /* no such table: nothing to move */
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = KS_EIO;
        goto fail;
    }
    /* the moved buckets count as changed by the newest batch */
    sqlite3_stmt *last = ks__store_prepare(s, "SELECT coalesce(max(id), 0) FROM batches");
    if (last && sqlite3_step(last) == SQLITE_ROW)
        batch = sqlite3_column_int64(last, 0);
    if (last)
        sqlite3_reset(last);
    while (rc == KS_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (ks__store_unseal(s, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &u) != KS_OK ||
            u.n != 32)
            continue; /* a damaged row was never answered either */
        if (ks__grow(&v, &cap, n, sizeof *v, 1 << 16) != KS_OK) {
            rc = KS_ENOMEM;
            break;
        }
        memcpy(v[n++], u.p, 32);
        if (n == 1 << 16) {
            rc = ks__store_range_add(s, batch, v, n);
            n = 0;
        }
    }
    if (rc == KS_OK && r != SQLITE_DONE)
        rc = KS_EIO;
    if (rc == KS_OK)
        rc = ks__store_range_add(s, batch, v, n);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == KS_OK && sqlite3_exec(s->db,
                                    "DROP TABLE ranges; INSERT OR REPLACE INTO meta(k, v) VALUES('schema', '2');"
                                    " COMMIT",
                                    NULL, NULL, NULL) != SQLITE_OK)
        rc = KS_EIO;
fail:
    if (rc != KS_OK) {
        snprintf(err, errcap, "%s: cannot move the range rows into buckets: %s", s->path,
                 rc == KS_EIO ? sqlite3_errmsg(s->db) : ks_strerror(rc));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
out:
    sqlite3_finalize(st);
    free(v);
    ks__buf_release(&u);
    return rc;
}

/* ---- in memory -------------------------------------------------------------------- */

struct ks_srange_mem {
    pthread_rwlock_t lk;      /* lookups read; a sync writes only to swap blobs */
    uint8_t **blob;           /* NBUCKETS sealed buckets (malloc'd), NULL = empty */
    uint32_t *len;
    int64_t batch;            /* newest batch loaded, -1 = nothing loaded yet */
    size_t bytes, max;        /* sealed bytes held, the cap */
};

ks_srange_mem *ks__srange_new(size_t max_bytes)
{
    ks_srange_mem *m = calloc(1, sizeof *m);
    if (!m || !(m->blob = calloc(NBUCKETS, sizeof *m->blob)) || !(m->len = calloc(NBUCKETS, sizeof *m->len))) {
        if (m)
            free(m->blob);
        free(m);
        return NULL;
    }
    pthread_rwlock_init(&m->lk, NULL);
    m->batch = -1;
    m->max = max_bytes;
    return m;
}

void ks__srange_free(ks_srange_mem *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        free(m->blob[i]);
    free(m->blob);
    free(m->len);
    pthread_rwlock_destroy(&m->lk);
    free(m);
}

void ks__srange_drop(ks_srange_mem *m)
{
    pthread_rwlock_wrlock(&m->lk);
    for (size_t i = 0; i < NBUCKETS; i++) {
        free(m->blob[i]);
        m->blob[i] = NULL;
        m->len[i] = 0;
    }
    m->bytes = 0;
    m->batch = -1;
    pthread_rwlock_unlock(&m->lk);
}

typedef struct fresh_bucket {
    uint32_t bucket, len;
    uint8_t *blob;
} fresh_bucket;

int ks__srange_sync(ks_srange_mem *m, ks_store *s, size_t *changed)
{
    fresh_bucket *f = NULL;
    size_t n = 0, cap = 0, grow = 0;
    int64_t top = m->batch < 0 ? 0 : m->batch;
    int rc = KS_OK, r;
    /* the first load reads the whole table in key order; later ones only
     * what newer batches changed (one statement: one consistent snapshot) */
    sqlite3_stmt *st = ks__store_stmt(s, m->batch < 0 ? ST_RANGE_ALL : ST_RANGE_SINCE);
    if (!st)
        return KS_EIO;
    if (m->batch >= 0)
        sqlite3_bind_int64(st, 1, m->batch);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0), batch = sqlite3_column_int64(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (b < 0 || b >= (int64_t)NBUCKETS || len > UINT32_MAX)
            continue;
        if (ks__grow(&f, &cap, n, sizeof *f, 1024) != KS_OK || !(f[n].blob = malloc(len ? len : 1))) {
            rc = KS_ENOMEM;
            break;
        }
        memcpy(f[n].blob, sqlite3_column_blob(st, 2), len);
        f[n].bucket = (uint32_t)b;
        f[n].len = (uint32_t)len;
        grow += len;
        n++;
        if (batch > top)
            top = batch;
        if (m->bytes + grow > m->max) {
            rc = KS_ELIMIT; /* over the cap: the caller answers from SQLite */
            break;
        }
    }
    if (rc == KS_OK && r != SQLITE_DONE)
        rc = KS_EIO;
    sqlite3_reset(st);
    if (rc == KS_OK) {
        /* swap under the write lock; the old blobs are freed after it */
        pthread_rwlock_wrlock(&m->lk);
        for (size_t i = 0; i < n; i++) {
            uint8_t *old = m->blob[f[i].bucket];
            m->bytes += f[i].len;
            m->bytes -= m->len[f[i].bucket];
            m->blob[f[i].bucket] = f[i].blob;
            m->len[f[i].bucket] = f[i].len;
            f[i].blob = old;
        }
        m->batch = top;
        pthread_rwlock_unlock(&m->lk);
        if (changed)
            *changed = n;
    }
    for (size_t i = 0; i < n; i++)
        free(f[i].blob);
    free(f);
    return rc;
}

size_t ks__srange_bytes(const ks_srange_mem *m)
{
    return m ? m->bytes : 0;
}

int ks__srange_lookup(ks_srange_mem *m, ks_store *s, uint32_t prefix, ks_srange_fn fn, void *ud)
{
    int rc = KS_OK;
    if (prefix >= NBUCKETS)
        return KS_EUSAGE;
    ks__buf_reset(&s->rold);
    pthread_rwlock_rdlock(&m->lk);
    if (m->batch < 0)
        rc = KS_ENOTFOUND; /* never loaded, or dropped */
    else if (m->blob[prefix])
        rc = bucket_open(s, m->blob[prefix], m->len[prefix], &s->rold);
    pthread_rwlock_unlock(&m->lk);
    if (rc == KS_ECHECKSUM)
        return KS_OK; /* as ks__store_range: a damaged bucket answers empty */
    for (size_t i = 0; rc == KS_OK && i + 32 <= s->rold.n; i += 32)
        if (fn(ud, (const uint8_t *)s->rold.p + i))
            break;
    return rc;
}
