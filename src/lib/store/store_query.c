/* SPDX-License-Identifier: Apache-2.0
 *
 * The read path of the exposure index store (store.h): a domain's counts
 * (from the per-kind totals the write path keeps, so a query reads a few
 * rows whatever the domain's size), its sealed values for the verified
 * owner, whole-index totals. The range lookup is store_range.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "store/store_int.h"

static int64_t col_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? KS_TIME_NONE : sqlite3_column_int64(st, i);
}

void ks__sexposure_release(ks_sexposure *x)
{
    free(x->counts);
    memset(x, 0, sizeof *x);
}

uint64_t ks__sexposure_distinct(const ks_sexposure *x, unsigned kind)
{
    uint64_t n = 0;
    for (size_t i = 0; i < x->ncounts; i++)
        if (x->counts[i].kind == kind)
            n += x->counts[i].distinct;
    return n;
}

static ks_scount *count_slot(ks_sexposure *x, size_t *cap, unsigned kind, const char *type)
{
    for (size_t i = 0; i < x->ncounts; i++)
        if (x->counts[i].kind == kind && !strcmp(x->counts[i].type, type))
            return &x->counts[i];
    if (ks__grow(&x->counts, cap, x->ncounts, sizeof *x->counts, 16) != KS_OK)
        return NULL;
    ks_scount *c = &x->counts[x->ncounts++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    snprintf(c->type, sizeof c->type, "%s", type);
    return c;
}

int ks__store_exposure(ks_store *s, const char *domain, int64_t since, ks_sexposure *out)
{
    ks_sexposure x = {.first = KS_TIME_NONE, .last = KS_TIME_NONE};
    size_t cap = 0;
    int64_t org;
    sqlite3_stmt *st;
    int rc = ks__store_org(s, domain, false, &org), r;
    if (rc == KS_ENOTFOUND) {
        *out = x;
        return KS_OK;
    }
    if (rc != KS_OK)
        return rc;
    x.found = true;
    if (!(st = ks__store_stmt(s, ST_COUNTS_GET)))
        return KS_EIO;
    sqlite3_bind_int64(st, 1, org);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 1);
        ks_scount *c = count_slot(&x, &cap, (unsigned)sqlite3_column_int(st, 0), type ? type : "");
        if (!c) {
            rc = KS_ENOMEM;
            goto out;
        }
        c->distinct = (uint64_t)sqlite3_column_int64(st, 2);
        c->seen = (uint64_t)sqlite3_column_int64(st, 3);
        int64_t f = col_time(st, 4), l = col_time(st, 5), b = sqlite3_column_int64(st, 6);
        if (f != KS_TIME_NONE && (x.first == KS_TIME_NONE || f < x.first))
            x.first = f;
        if (l != KS_TIME_NONE && (x.last == KS_TIME_NONE || l > x.last))
            x.last = l;
        if (b > x.last_batch)
            x.last_batch = b;
    }
    if (r != SQLITE_DONE) {
        rc = KS_EIO;
        goto out;
    }
    sqlite3_reset(st);
    if (since > 0) {
        if (!(st = ks__store_stmt(s, s->fresh_items ? ST_FRESH_ITEMS : ST_FRESH_GET))) {
            rc = KS_EIO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, org);
        sqlite3_bind_int64(st, 2, since);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            ks_scount *c = count_slot(&x, &cap, (unsigned)sqlite3_column_int(st, 0),
                                      (const char *)sqlite3_column_text(st, 1));
            if (!c) {
                rc = KS_ENOMEM;
                goto out;
            }
            c->fresh = (uint64_t)sqlite3_column_int64(st, 2);
        }
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
            rc = KS_EIO;
    }
out:
    if (rc != KS_OK) {
        ks__sexposure_release(&x);
        return rc;
    }
    *out = x;
    return KS_OK;
}

int ks__store_list(ks_store *s, const char *domain, unsigned kind, size_t max, ks_slist_fn fn, void *ud)
{
    int64_t org;
    sqlite3_stmt *st;
    ks_buf v = KS_BUF_INIT;
    int rc = ks__store_org(s, domain, false, &org), r;
    if (rc == KS_ENOTFOUND)
        return KS_OK;
    if (rc != KS_OK)
        return rc;
    if (!(st = ks__store_stmt(s, ST_LIST_GET)))
        return KS_EIO;
    sqlite3_bind_int64(st, 1, org);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_int64(st, 3, (int64_t)(max > INT64_MAX ? INT64_MAX : max));
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const void *c = sqlite3_column_blob(st, 0);
        int cn = sqlite3_column_bytes(st, 0);
        if (ks__store_unseal(s, c, (size_t)cn, &v) != KS_OK)
            continue; /* damaged row: skip, never show garbage */
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (fn(ud, v.p, v.n, type, (uint64_t)sqlite3_column_int64(st, 2), col_time(st, 3),
               col_time(st, 4), sqlite3_column_int64(st, 5)))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = KS_EIO;
    sqlite3_reset(st);
    sodium_memzero(v.p, v.cap);
    ks__buf_release(&v);
    return rc;
}

static int64_t scalar(ks_store *s, const char *sql)
{
    sqlite3_stmt *st = ks__store_prepare(s, sql);
    int64_t v = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return v;
}

int ks__store_totals(ks_store *s, ks_stotals *out)
{
    int64_t d = scalar(s, "SELECT count(*) FROM orgs"), f = scalar(s, "SELECT count(*) FROM files"),
            b = scalar(s, "SELECT count(*) FROM batches WHERE committed IS NOT NULL"),
            i = scalar(s, "SELECT count(*) FROM items");
    if (d < 0 || f < 0 || b < 0 || i < 0)
        return KS_EIO;
    out->domains = (uint64_t)d;
    out->files = (uint64_t)f;
    out->batches = (uint64_t)b;
    out->items = (uint64_t)i;
    return KS_OK;
}

int64_t ks__store_last_batch(ks_store *s)
{
    int64_t b = scalar(s, "SELECT coalesce(max(id), 0) FROM batches WHERE committed IS NOT NULL");
    return b < 0 ? 0 : b;
}

const char *ks__store_status(ks_store *s)
{
    sqlite3_stmt *st = ks__store_prepare(s, "SELECT v FROM meta WHERE k = 'status'");
    const char *r = "unverified";
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v && !strcmp(v, "verified"))
            r = "verified";
    }
    if (st)
        sqlite3_reset(st);
    return r;
}

int ks__store_set_status(ks_store *s, const char *status)
{
    sqlite3_stmt *st = NULL;
    int rc = KS_OK;
    if (strcmp(status, "verified") && strcmp(status, "unverified"))
        return KS_EUSAGE;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(k, v) VALUES('status', ?1)", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        rc = KS_EIO;
    sqlite3_finalize(st);
    return rc;
}
