/* SPDX-License-Identifier: Apache-2.0
 *
 * Request parsing that needs no server: the route table, domain names,
 * form bodies, cookies, bearer tokens. Everything here reads untrusted
 * bytes, writes only into caller buffers of stated size, and is fuzzed
 * (tests/fuzz/fuzz_portal.c).
 */
#include <string.h>
#include "httpd/portal.h"

/* One row per route: method, path pattern ({D} = a domain, {P} = a range
 * prefix), route id. */
typedef struct route_row {
    bool post;
    const char *pattern;
    portal_route_id id;
} route_row;

static const route_row routes[] = {
    {false, "/", R_UI_HOME},
    {false, "/help", R_UI_HELP},
    {false, "/healthz", R_HEALTH},
    {true, "/signup", R_UI_SIGNUP},
    {true, "/login", R_UI_LOGIN},
    {true, "/logout", R_UI_LOGOUT},
    {false, "/dashboard", R_UI_DASH},
    {true, "/domains", R_UI_ADD_DOMAIN},
    {false, "/domains/{D}", R_UI_DOMAIN},
    {true, "/domains/{D}/verify", R_UI_VERIFY},
    {true, "/domains/{D}/ack", R_UI_ACK},
    {true, "/tokens", R_UI_TOKEN},
    {true, "/api/v1/accounts", R_API_ACCOUNTS},
    {true, "/api/v1/tokens", R_API_TOKENS},
    {true, "/api/v1/domains", R_API_DOMAINS},
    {true, "/api/v1/domains/{D}/verify", R_API_VERIFY},
    {false, "/api/v1/domains/{D}/exposure", R_API_EXPOSURE},
    {false, "/api/v1/domains/{D}/addresses", R_API_ADDRESSES},
    {true, "/api/v1/domains/{D}/ack", R_API_ACK},
    {false, "/api/v1/range/{P}", R_API_RANGE},
};

bool portal_domain_ok(const char *s, size_t n, char *out)
{
    size_t label = 0, dots = 0;
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            dots++;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            if (++label > 63 || (c == '-' && label == 1))
                return false;
        } else {
            return false;
        }
        out[i] = c;
    }
    out[n] = 0;
    return dots > 0;
}

static bool hex5(const char *s, size_t n, char *out)
{
    if (n != 5)
        return false;
    for (size_t i = 0; i < 5; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'f')
            c = (char)(c - 32);
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return false;
        out[i] = c;
    }
    out[5] = 0;
    return true;
}

/* Matches one pattern; fills the route's variables. */
static bool match(const char *pat, const char *path, portal_route *r)
{
    while (*pat) {
        if (*pat == '{') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            if (pat[1] == 'D' && !portal_domain_ok(path, n, r->domain))
                return false;
            if (pat[1] == 'P' && !hex5(path, n, r->prefix))
                return false;
            pat += 3;
            path += n;
            continue;
        }
        if (*pat++ != *path++)
            return false;
    }
    return *path == 0;
}

void portal_route_match(const char *method, const char *path, portal_route *r, bool *bad_method)
{
    bool post = method && !strcmp(method, "POST");
    bool get = method && (!strcmp(method, "GET") || !strcmp(method, "HEAD"));
    memset(r, 0, sizeof *r);
    *bad_method = false;
    if (!path)
        return;
    for (size_t i = 0; i < KS_ARRAY_LEN(routes); i++) {
        portal_route t;
        /* only the variables a match fills are cleared: zeroing the whole
         * struct (260 bytes) for each of the 20 rows was most of routing */
        t.domain[0] = t.prefix[0] = 0;
        if (!match(routes[i].pattern, path, &t))
            continue;
        t.id = routes[i].id;
        t.post = routes[i].post;
        *r = t;
        if ((routes[i].post && !post) || (!routes[i].post && !get)) {
            *bad_method = true;
            continue; /* the same path may exist for the other method */
        }
        *bad_method = false;
        return;
    }
}

/* ---- forms and headers ------------------------------------------------------- */

/* Percent-decodes s[0..n) ('+' = space) into out; false when it does not fit. */
static bool decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && ks__hexval((unsigned char)s[i + 1]) >= 0 &&
                   ks__hexval((unsigned char)s[i + 2]) >= 0) {
            c = (char)(ks__hexval((unsigned char)s[i + 1]) * 16 + ks__hexval((unsigned char)s[i + 2]));
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return false; /* NUL bytes are never part of a field */
        out[o++] = c;
    }
    out[o] = 0;
    return true;
}

bool portal_form_get(const char *body, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), i = 0;
    if (!body || cap == 0)
        return false;
    while (i < n) {
        size_t e = i;
        while (e < n && body[e] != '&')
            e++;
        if (e - i > nl && body[i + nl] == '=' && !memcmp(body + i, name, nl))
            return decode(body + i + nl + 1, e - i - nl - 1, out, cap);
        i = e + 1;
    }
    return false;
}

bool portal_cookie_get(const char *hdr, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = hdr;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > nl && p[nl] == '=' && !memcmp(p, name, nl)) {
            if (n - nl - 1 >= cap)
                return false;
            memcpy(out, p + nl + 1, n - nl - 1);
            out[n - nl - 1] = 0;
            return true;
        }
        p = e;
    }
    return false;
}

bool portal_bearer(const char *hdr, char *out, size_t cap)
{
    if (!hdr || strncmp(hdr, "Bearer ", 7))
        return false;
    hdr += 7;
    size_t n = strspn(hdr, "0123456789abcdef");
    if (n == 0 || n >= cap || hdr[n])
        return false;
    memcpy(out, hdr, n);
    out[n] = 0;
    return true;
}
