/* SPDX-License-Identifier: Apache-2.0
 *
 * A domain's exposure as JSON: the one shape `kensa index stats --json`
 * prints and the portal's /api/v1/domains/D/exposure answers, so the
 * operator and the owner read the same numbers. Also the public
 * ks_index_stats (include/kensa/index.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/store.h"

static void add_time(ks_buf *b, const char *key, int64_t t)
{
    char tb[64];
    if (t == KS_TIME_NONE) {
        ks__buf_printf(b, ",\"%s\":null", key);
        return;
    }
    ks__time_format_sec(t / 1000000000, (uint32_t)(t % 1000000000), tb, sizeof tb);
    ks__buf_printf(b, ",\"%s\":\"%s\"", key, tb);
}

/* {"type": n, ...} of one kind's sub-types; `what` picks the member. */
static void add_by_type(ks_buf *b, const ks_sexposure *x, unsigned kind, int what)
{
    bool first = true;
    ks__buf_addc(b, '{');
    for (size_t i = 0; i < x->ncounts; i++) {
        const ks_scount *c = &x->counts[i];
        if (c->kind != kind)
            continue;
        ks__buf_printf(b, "%s\"", first ? "" : ",");
        ks__buf_add_json_str(b, c->type[0] ? c->type : "other", strlen(c->type[0] ? c->type : "other"));
        ks__buf_printf(b, "\":%" PRIu64, what == 0 ? c->distinct : what == 1 ? c->seen : c->fresh);
        first = false;
    }
    ks__buf_addc(b, '}');
}

static uint64_t sum(const ks_sexposure *x, unsigned kind, int what)
{
    uint64_t n = 0;
    for (size_t i = 0; i < x->ncounts; i++)
        if (x->counts[i].kind == kind)
            n += what == 0 ? x->counts[i].distinct : what == 1 ? x->counts[i].seen : x->counts[i].fresh;
    return n;
}

int ks__store_exposure_json(const ks_sexposure *x, const char *domain, const char *status, bool fresh,
                            ks_buf *b)
{
    ks__buf_adds(b, "{\"domain\":\"");
    ks__buf_add_json_str(b, domain, strlen(domain));
    ks__buf_printf(b, "\",\"found\":%s", x->found ? "true" : "false");
    ks__buf_printf(b, ",\"emails\":%" PRIu64, sum(x, KS_SK_ADDRESS, 0));
    for (unsigned k = 1; k < KS_SK_MAX; k++)
        ks__buf_printf(b, ",\"%s\":%" PRIu64, ks__skind_key(k), sum(x, k, 0));
    ks__buf_adds(b, ",\"documents_by_type\":");
    add_by_type(b, x, KS_SK_DOCUMENT, 0);
    ks__buf_adds(b, ",\"secrets_by_type\":");
    add_by_type(b, x, KS_SK_SECRET, 0);
    ks__buf_adds(b, ",\"seen\":{");
    for (unsigned k = 1; k < KS_SK_MAX; k++)
        ks__buf_printf(b, "%s\"%s\":%" PRIu64, k > 1 ? "," : "", ks__skind_key(k), sum(x, k, 1));
    ks__buf_addc(b, '}');
    if (fresh) {
        ks__buf_adds(b, ",\"new\":{");
        for (unsigned k = 1; k < KS_SK_MAX; k++)
            ks__buf_printf(b, "%s\"%s\":%" PRIu64, k > 1 ? "," : "", ks__skind_key(k), sum(x, k, 2));
        ks__buf_addc(b, '}');
    }
    add_time(b, "first_seen", x->first);
    add_time(b, "last_seen", x->last);
    ks__buf_printf(b, ",\"last_batch\":%" PRId64, x->last_batch);
    ks__buf_adds(b, ",\"dataset\":{\"status\":\"");
    ks__buf_add_json_str(b, status, strlen(status));
    return ks__buf_adds(b, "\",\"duplicates_collapsed\":true}}");
}

KS_API int ks_index_stats(const char *db, const char *keyfile, const char *domain, char **json,
                          char *err, size_t errcap)
{
    ks_store *s = NULL;
    ks_buf b = KS_BUF_INIT;
    ks_sexposure x = {0};
    int rc;
    err[0] = 0;
    if ((rc = ks__store_open(db, keyfile, KS_STORE_READ, &s, err, errcap)) != KS_OK)
        goto out;
    if (domain) {
        char low[256];
        size_t n = strlen(domain);
        if (n >= sizeof low) {
            snprintf(err, errcap, "domain too long");
            rc = KS_EUSAGE;
            goto out;
        }
        for (size_t i = 0; i <= n; i++)
            low[i] = (domain[i] >= 'A' && domain[i] <= 'Z') ? (char)(domain[i] + 32) : domain[i];
        if ((rc = ks__store_exposure(s, low, 0, &x)) != KS_OK) {
            snprintf(err, errcap, "%s: %s", db, ks__store_errmsg(s));
            goto out;
        }
        rc = ks__store_exposure_json(&x, low, ks__store_status(s), false, &b);
    } else {
        ks_stotals t;
        if ((rc = ks__store_totals(s, &t)) != KS_OK) {
            snprintf(err, errcap, "%s: %s", db, ks__store_errmsg(s));
            goto out;
        }
        rc = ks__buf_printf(&b, "{\"domains\":%" PRIu64 ",\"files\":%" PRIu64 ",\"batches\":%" PRIu64
                                ",\"items\":%" PRIu64 "}",
                            t.domains, t.files, t.batches, t.items);
    }
    if (rc == KS_OK && b.p) {
        *json = ks__buf_detach(&b, NULL);
    } else if (rc == KS_OK) {
        rc = KS_ENOMEM;
    }
out:
    ks__sexposure_release(&x);
    ks__buf_release(&b);
    ks__store_close(s);
    return rc;
}
