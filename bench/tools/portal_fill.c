/* SPDX-License-Identifier: Apache-2.0
 *
 * A large exposure index for the portal benchmark (bench/portal.sh), made
 * fast: `portal_fill DB N ORGS` writes N addresses (user<i>@orgNNN.example,
 * spread over ORGS organisations) straight into the store's tables with
 * the store's own keyed hashes and sealing (store/store.h), rows inserted
 * in key order in one transaction, range buckets through the store's own
 * writer (ks__store_range_add). The result is a regular index (the
 * key file DB.key, the key check, batches, counts, range buckets) that
 * `kensa serve` and `kensa index stats` open like any other; it skips
 * the extractors and the text scanner, whose speed bench/portal.sh
 * measures separately with `kensa index build`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sodium.h>
#include "store/store.h"

typedef struct row {
    uint32_t i;        /* address number */
    uint8_t mac[32];   /* item key */
    uint8_t sha[32];   /* SHA-256 of the address: range bucket */
} row;

static unsigned orgs;

static int addr_of(uint32_t i, char *out, size_t cap)
{
    return snprintf(out, cap, "user%" PRIu32 "@org%03u.example", i, i % orgs + 1);
}

static int by_item(const void *a, const void *b)
{
    const row *x = a, *y = b;
    unsigned ox = x->i % orgs, oy = y->i % orgs;
    if (ox != oy)
        return ox < oy ? -1 : 1;
    return memcmp(x->mac, y->mac, 32);
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "portal_fill: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[512], a[96];
    ks_store *s = NULL;
    ks_buf seal = KS_BUF_INIT;
    sqlite3_stmt *ins_org = NULL, *ins_item = NULL, *ins_count = NULL;
    row *rows = NULL;
    uint8_t (*shas)[32] = NULL;
    int rc = 1;
    if (argc != 4 || atol(argv[2]) <= 0 || atoi(argv[3]) <= 0) {
        fprintf(stderr, "usage: portal_fill DB N ORGS\n");
        return 2;
    }
    uint32_t n = (uint32_t)atol(argv[2]);
    orgs = (unsigned)atoi(argv[3]);
    if (ks__store_open(argv[1], NULL, KS_STORE_WRITE | KS_STORE_CREATE, &s, err, sizeof err) != KS_OK) {
        fprintf(stderr, "portal_fill: %s\n", err);
        return 1;
    }
    sqlite3 *db = ks__store_db(s);
    if (!(rows = malloc((size_t)n * sizeof *rows)))
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        int len = addr_of(i, a, sizeof a);
        rows[i].i = i;
        ks__store_mac(s, "addresses", a, (size_t)len, rows[i].mac);
        crypto_hash_sha256(rows[i].sha, (const unsigned char *)a, (size_t)len);
    }
    /* a bulk load: no journal while filling, WAL again at the end */
    if (exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN") ||
        exec(db, "INSERT INTO batches(id, started, committed, files, rows) VALUES(1, 0, 1, 0, 0)"))
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO orgs(id, dom_h, first_batch) VALUES(?1, ?2, 1)", -1, &ins_org,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO items(org, kind, h, type, enc, seen, first_ns, last_ns,"
                               " first_batch, last_batch) VALUES(?1, 1, ?2, NULL, ?3, 1, NULL, NULL, 1, 1)",
                           -1, &ins_item, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO counts(org, kind, type, distinct_n, seen, first_ns, last_ns,"
                               " last_batch) VALUES(?1, 1, '', ?2, ?2, NULL, NULL, 1)",
                           -1, &ins_count, NULL) != SQLITE_OK) {
        fprintf(stderr, "portal_fill: %s\n", sqlite3_errmsg(db));
        goto out;
    }
    for (unsigned o = 0; o < orgs; o++) {
        uint8_t h[32];
        int len = snprintf(a, sizeof a, "org%03u.example", o + 1);
        ks__store_mac(s, "domain", a, (size_t)len, h);
        sqlite3_bind_int64(ins_org, 1, o + 1);
        sqlite3_bind_blob(ins_org, 2, h, 32, SQLITE_STATIC);
        sqlite3_bind_int64(ins_count, 1, o + 1);
        sqlite3_bind_int64(ins_count, 2, n / orgs + (o < n % orgs));
        if (sqlite3_step(ins_org) != SQLITE_DONE || sqlite3_step(ins_count) != SQLITE_DONE)
            goto sqlfail;
        sqlite3_reset(ins_org);
        sqlite3_reset(ins_count);
    }
    qsort(rows, n, sizeof *rows, by_item);
    for (uint32_t k = 0; k < n; k++) {
        int len = addr_of(rows[k].i, a, sizeof a);
        if (ks__store_seal(s, a, (size_t)len, &seal) != KS_OK)
            goto out;
        sqlite3_bind_int64(ins_item, 1, rows[k].i % orgs + 1);
        sqlite3_bind_blob(ins_item, 2, rows[k].mac, 32, SQLITE_STATIC);
        sqlite3_bind_blob(ins_item, 3, seal.p, (int)seal.n, SQLITE_STATIC);
        if (sqlite3_step(ins_item) != SQLITE_DONE)
            goto sqlfail;
        sqlite3_reset(ins_item);
    }
    if (!(shas = malloc((size_t)n * sizeof *shas)))
        goto out;
    for (uint32_t k = 0; k < n; k++)
        memcpy(shas[k], rows[k].sha, 32);
    if (ks__store_range_add(s, 1, shas, n) != KS_OK)
        goto sqlfail;
    if (exec(db, "COMMIT; PRAGMA journal_mode=WAL"))
        goto out;
    printf("portal_fill: %" PRIu32 " addresses in %u organisations into %s\n", n, orgs, argv[1]);
    rc = 0;
    goto out;
sqlfail:
    fprintf(stderr, "portal_fill: %s\n", sqlite3_errmsg(db));
out:
    sqlite3_finalize(ins_org);
    sqlite3_finalize(ins_item);
    sqlite3_finalize(ins_count);
    ks__buf_release(&seal);
    free(rows);
    free(shas);
    ks__store_close(s);
    return rc;
}
