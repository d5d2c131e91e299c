/* SPDX-License-Identifier: Apache-2.0
 *
 * The "vpcflow" input: AWS VPC flow logs as delivered to S3 or exported
 * from CloudWatch: space-separated records, with a first line naming the
 * fields (any custom format: "version account-id interface-id srcaddr
 * dstaddr srcport dstport protocol packets bytes start end action
 * log-status ...") or, without one, the default version 2 layout.
 *
 * Each record becomes one event with the AWS field names (srcaddr,
 * dstaddr, dstport, protocol as the IANA number, bytes, action ACCEPT /
 * REJECT), which the network view maps (detect/netfields.c); time is
 * "start" (epoch seconds). "-" (NODATA / SKIPDATA records) leaves a field
 * out. A record with a field count other than the header's is reported and
 * skipped.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "input/linein.h"

#define VF_MAX_FIELDS 64
#define VF_MAX_LINE ((size_t)64 << 10)

static const char V2[] = "version account-id interface-id srcaddr dstaddr srcport dstport protocol "
                         "packets bytes start end action log-status";

typedef struct vf_in {
    ks_linein in;
    ks_sym cols[VF_MAX_FIELDS];
    size_t ncols;
    int istart;
} vf_in;

static int vf_probe(const uint8_t *h, size_t n, const char *name)
{
    KS_UNUSED(name);
    if (n >= 20 && (!memcmp(h, "version account-id ", 19) || !memcmp(h, "account-id ", 11)))
        return 95;
    /* headerless v2: "2 123456789012 eni-..." */
    if (n > 20 && h[0] == '2' && h[1] == ' ') {
        size_t i = 2;
        while (i < n && h[i] >= '0' && h[i] <= '9')
            i++;
        if (i == 14 && n > i + 5 && !memcmp(h + i, " eni-", 5))
            return 90;
    }
    return 0;
}

static size_t split(const char *s, size_t n, ks_slice *t, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        size_t b = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i > b) {
            if (k == max)
                return max + 1;
            t[k++] = (ks_slice){s + b, i - b};
        }
    }
    return k;
}

static void layout(vf_in *v, const char *s, size_t n)
{
    ks_slice t[VF_MAX_FIELDS];
    size_t k = split(s, n, t, VF_MAX_FIELDS);
    v->ncols = 0;
    v->istart = -1;
    for (size_t i = 0; i < k && i < VF_MAX_FIELDS; i++) {
        if (t[i].n == 5 && !memcmp(t[i].p, "start", 5))
            v->istart = (int)i;
        v->cols[v->ncols++] = ks__symcache_intern(v->in.ctx.w->cache, t[i].p, t[i].n);
    }
}

_Static_assert(offsetof(vf_in, in) == 0, "ks__linein_open's layout");

static int vf_open(const ks_input_ctx *ctx, void **state)
{
    int rc = ks__linein_open(ctx, sizeof(vf_in), "vpcflow", VF_MAX_LINE, state);
    if (rc == KS_OK)
        layout(*state, V2, strlen(V2));
    return rc;
}

static int vf_next(void *state, ks_event *ev)
{
    vf_in *v = state;
    for (;;) {
        const char *s;
        size_t n;
        uint64_t lineno, off;
        ks_slice t[VF_MAX_FIELDS + 1];
        int rc = ks__linein_next(&v->in, &s, &n, &lineno, &off);
        if (rc != KS_OK)
            return rc;
        if ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '$') {
            layout(v, s, n); /* a header line (also mid-file, concatenated exports) */
            continue;
        }
        size_t k = split(s, n, t, VF_MAX_FIELDS);
        if (k != v->ncols) {
            v->in.nbad++;
            ks__linein_report(&v->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                              "flow record has %zu fields, the header names %zu; skipped", k, v->ncols);
            continue;
        }
        ks__linein_prov(ev, lineno, off);
        for (size_t i = 0; i < k; i++) {
            if (t[i].n == 1 && t[i].p[0] == '-')
                continue;
            ks_value val = {.type = KS_VSTR};
            val.u.s = t[i];
            ks__event_add(ev, v->cols[i], &val);
            if ((int)i == v->istart) {
                int64_t sec = 0;
                size_t d = 0;
                for (; d < t[i].n && t[i].p[d] >= '0' && t[i].p[d] <= '9' && d < 10; d++)
                    sec = sec * 10 + (t[i].p[d] - '0');
                if (d == t[i].n && sec <= 9000000000ll)
                    ev->time = sec * 1000000000ll;
            }
        }
        return KS_OK;
    }
}

const struct ks_input ks_input_vpcflow = {
    .abi = KS_INPUT_ABI_1,
    .name = "vpcflow",
    .description = "AWS VPC flow logs (header line or default version 2 layout)",
    .probe = vf_probe,
    .open = vf_open,
    .next = vf_next,
    .close = ks__linein_free,
};
