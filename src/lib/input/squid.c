/* SPDX-License-Identifier: Apache-2.0
 *
 * The "squid" input: Squid's native access log (access.log):
 *
 *   1592000000.123    456 10.20.1.15 TCP_MISS/200 5120 GET http://example.com/ - HIER_DIRECT/93.184.216.34 text/html
 *
 * time (epoch seconds.ms), elapsed ms, client address, result code/HTTP
 * status, bytes sent to the client, method, URL (host:port for CONNECT),
 * user (ident or authenticated, "-"), hierarchy code/peer address, content
 * type. Each line becomes an event with kensa's network names: client.ip,
 * url.full, url.domain (the URL's host), server.ip (the peer), http.method,
 * http.status, squid.result, http.response.bytes, user.name, http.mime,
 * event.duration_ms. A line that does not have this shape is reported and
 * skipped.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "input/linein.h"

#define SQ_MAX_LINE ((size_t)256 << 10)

typedef struct sq_in {
    ks_linein in;
} sq_in;

static size_t toks(const char *s, size_t n, ks_slice *t, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max) {
        while (i < n && s[i] == ' ')
            i++;
        size_t b = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i > b)
            t[k++] = (ks_slice){s + b, i - b};
    }
    return k;
}

static bool digits(ks_slice t, bool dot)
{
    size_t d = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] == '.' && dot)
            continue;
        if (t.p[i] < '0' || t.p[i] > '9')
            return false;
        d++;
    }
    return d > 0;
}

/* Time, elapsed, client, CODE/status, bytes, method: the native layout. */
static bool shaped(const ks_slice *t, size_t k)
{
    const char *sl = k >= 7 ? memchr(t[3].p, '/', t[3].n) : NULL;
    return k >= 7 && digits(t[0], true) && memchr(t[0].p, '.', t[0].n) && digits(t[1], false) && sl &&
           sl > t[3].p && digits(t[4], false);
}

static int sq_probe(const uint8_t *h, size_t n, const char *name)
{
    ks_slice t[10];
    const uint8_t *eol = memchr(h, '\n', n);
    KS_UNUSED(name);
    size_t k = toks((const char *)h, eol ? (size_t)(eol - h) : n, t, 10);
    return shaped(t, k) ? 85 : 0;
}

_Static_assert(offsetof(sq_in, in) == 0, "ks__linein_open's layout");

static int sq_open(const ks_input_ctx *ctx, void **state)
{
    return ks__linein_open(ctx, sizeof(sq_in), "squid", SQ_MAX_LINE, state);
}

static void add(ks_event *ev, const char *name, ks_slice v)
{
    if (v.n && !(v.n == 1 && v.p[0] == '-'))
        ks__event_add_str(ev, name, strlen(name), v.p, v.n);
}

/* The host of "http://host:port/path" or of CONNECT's "host:port". */
static ks_slice url_host(ks_slice u)
{
    const char *p = u.p, *e = u.p + u.n;
    const char *sch = memmem(p, u.n, "://", 3);
    if (sch)
        p = sch + 3;
    const char *h = p;
    while (p < e && *p != '/' && *p != ':' && *p != '?')
        p++;
    return (ks_slice){h, (size_t)(p - h)};
}

static int sq_next(void *state, ks_event *ev)
{
    sq_in *s = state;
    for (;;) {
        const char *l;
        size_t n;
        uint64_t lineno, off;
        ks_slice t[12];
        int rc = ks__linein_next(&s->in, &l, &n, &lineno, &off);
        if (rc != KS_OK)
            return rc;
        size_t k = toks(l, n, t, 12);
        if (!shaped(t, k)) {
            s->in.nbad++;
            ks__linein_report(&s->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                              "not a Squid native access log line; skipped");
            continue;
        }
        ks__linein_prov(ev, lineno, off);
        int64_t sec = 0, ms = 0, scale = 100;
        size_t i = 0;
        for (; i < t[0].n && t[0].p[i] != '.' && i < 10; i++)
            sec = sec * 10 + (t[0].p[i] - '0');
        for (i++; i < t[0].n && scale; i++, scale /= 10)
            ms += (t[0].p[i] - '0') * scale;
        if (sec > 0 && sec <= 9000000000ll)
            ev->time = sec * 1000000000ll + ms * 1000000ll;
        const char *sl = memchr(t[3].p, '/', t[3].n);
        add(ev, "client.ip", t[2]);
        add(ev, "squid.result", (ks_slice){t[3].p, (size_t)(sl - t[3].p)});
        add(ev, "http.status", (ks_slice){sl + 1, (size_t)(t[3].p + t[3].n - sl - 1)});
        add(ev, "http.response.bytes", t[4]);
        add(ev, "http.method", t[5]);
        add(ev, "url.full", t[6]);
        add(ev, "url.domain", url_host(t[6]));
        add(ev, "event.duration_ms", t[1]);
        if (k > 7)
            add(ev, "user.name", t[7]);
        if (k > 8) {
            const char *ps = memchr(t[8].p, '/', t[8].n);
            if (ps)
                add(ev, "server.ip", (ks_slice){ps + 1, (size_t)(t[8].p + t[8].n - ps - 1)});
        }
        if (k > 9)
            add(ev, "http.mime", t[9]);
        return KS_OK;
    }
}

const struct ks_input ks_input_squid = {
    .abi = KS_INPUT_ABI_1,
    .name = "squid",
    .description = "Squid native access log (access.log)",
    .probe = sq_probe,
    .open = sq_open,
    .next = sq_next,
    .close = ks__linein_free,
};
