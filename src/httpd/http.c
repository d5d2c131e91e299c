/* SPDX-License-Identifier: Apache-2.0
 *
 * One request, from libmicrohttpd's callback to the queued response: the
 * body is collected (64 KiB at most), the client and the account are
 * established, rate limits and CSRF are checked, the route's handler runs
 * (api.c / ui.c), the request goes to the audit log, and the answer leaves
 * with the security headers every response carries.
 *
 * Order matters: the per-IP limit comes before any work (a flood costs a
 * hash lookup), authentication before the per-account limit, CSRF before
 * any handler that changes state.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>
#include "httpd/portal.h"

#define BODY_MAX (64 << 10)

void portal_json_error(portal_resp *r, int status, const char *code, const char *msg)
{
    r->status = status;
    r->type = "application/json";
    ks__buf_reset(&r->body);
    ks__buf_adds(&r->body, "{\"error\":\"");
    ks__buf_add_json_str(&r->body, code, strlen(code));
    ks__buf_adds(&r->body, "\",\"message\":\"");
    ks__buf_add_json_str(&r->body, msg, strlen(msg));
    ks__buf_adds(&r->body, "\"}");
}

void portal_redirect(portal_resp *r, const char *to)
{
    r->status = 303;
    r->type = "text/plain";
    snprintf(r->location, sizeof r->location, "%s", to);
    ks__buf_reset(&r->body);
    ks__buf_adds(&r->body, "see other\n");
}

static bool is_api(portal_route_id id)
{
    return id >= R_API_ACCOUNTS && id <= R_API_RANGE;
}

/* Who is asking: a bearer token, else a session cookie. A presented but
 * unknown credential is an error, not "anonymous". */
static bool authenticate(portal_req *q)
{
    char tok[80], sid[80];
    if (q->auth) {
        if (!portal_bearer(q->auth, tok, sizeof tok) || !(q->account = portal_token_account(q->store, tok)))
            return false;
        return true;
    }
    if (q->cookie && portal_cookie_get(q->cookie, "kensa_sid", sid, sizeof sid)) {
        q->account = portal_session_account(q->store, sid, q->csrf);
        q->via_session = q->account != 0;
    }
    return true;
}

/* A state-changing request riding on a session cookie must carry the
 * session's CSRF token, and a browser's Origin must be this host. */
static bool csrf_ok(const portal_req *q)
{
    char got[80];
    if (q->origin && q->host) {
        const char *o = strstr(q->origin, "://");
        if (!o || strcmp(o + 3, q->host))
            return false;
    }
    if (!q->via_session)
        return true;
    if (!portal_form_get(q->body, q->nbody, "csrf", got, sizeof got) || strlen(got) != 64)
        return false;
    return sodium_memcmp(got, q->csrf, 64) == 0;
}

void portal_handle(portal_req *q, portal_resp *r)
{
    portal_route rt;
    bool bad_method;
    char key[96];
    unsigned wait;
    r->status = 500;
    r->type = "text/plain";
    if ((wait = portal_limits_take(q->P->lim_ip, q->ip))) {
        portal_json_error(r, 429, "rate_limited", "too many requests from this address");
        r->retry_after = wait;
        q->audit_what = "rate limited (address)";
        return;
    }
    portal_route_match(q->method, q->path, &rt, &bad_method);
    if (rt.id == R_NONE) {
        portal_json_error(r, 404, "not_found", "no such page");
        return;
    }
    if (bad_method) {
        portal_json_error(r, 405, "method_not_allowed", rt.post ? "use POST" : "use GET");
        return;
    }
    if (!authenticate(q)) {
        portal_json_error(r, 401, "unauthorized", "unknown or malformed API token");
        q->audit_what = "bad credential";
        return;
    }
    if (q->account && q->P->lim_acct) {
        snprintf(key, sizeof key, "acct:%" PRId64, q->account);
        if ((wait = portal_limits_take(q->P->lim_acct, key))) {
            portal_json_error(r, 429, "rate_limited", "too many requests for this account");
            r->retry_after = wait;
            q->audit_what = "rate limited (account)";
            return;
        }
    }
    if (rt.post && !csrf_ok(q)) {
        portal_json_error(r, 403, "csrf", "missing or wrong CSRF token, or a foreign Origin");
        q->audit_what = "csrf refused";
        return;
    }
    if (is_api(rt.id) || rt.id == R_HEALTH)
        portal_api(q, &rt, r);
    else
        portal_ui(q, &rt, r);
}

/* ---- libmicrohttpd glue -------------------------------------------------------- */

/* Per request; libmicrohttpd's *con_cls lives from the request's first
 * call to its completion. */
typedef struct conn_ctx {
    ks_buf body;
    bool too_big;
} conn_ctx;

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void client_ip(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET && cap >= 16) {
        /* dotted quad by hand: glibc's inet_ntop (sprintf) was 2% of a request */
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        char *o = out;
        for (int i = 0; i < 4; i++) {
            if (a[i] >= 100)
                *o++ = (char)('0' + a[i] / 100);
            if (a[i] >= 10)
                *o++ = (char)('0' + a[i] / 10 % 10);
            *o++ = (char)('0' + a[i] % 10);
            *o++ = i < 3 ? '.' : 0;
        }
    } else if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static enum MHD_Result send_resp(portal *P, struct MHD_Connection *c, portal_req *q, portal_resp *r)
{
    size_t n = 0;
    char *body = ks__buf_detach(&r->body, &n);
    char hv[512];
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->type ? r->type : "text/plain");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin"); /* no-referrer would make browsers send Origin: null */
    MHD_add_response_header(resp, "Content-Security-Policy", P->csp);
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->status == 429) {
        snprintf(hv, sizeof hv, "%u", r->retry_after ? r->retry_after : 1);
        MHD_add_response_header(resp, "Retry-After", hv);
    }
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"kensa\"");
    if (q->sid[0]) {
        snprintf(hv, sizeof hv, "kensa_sid=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%u%s", q->sid,
                 P->cfg.session_ttl, P->cfg.tls ? "; Secure" : "");
        MHD_add_response_header(resp, "Set-Cookie", hv);
    } else if (q->clear_session) {
        MHD_add_response_header(resp, "Set-Cookie", "kensa_sid=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result portal_mhd_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    portal *P = cls;
    conn_ctx *cc = *con_cls;
    char ip[64];
    (void)version;
    if (!cc) {
        if (!(cc = calloc(1, sizeof *cc)))
            return MHD_NO;
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (cc->body.n + *upload_size > BODY_MAX)
            cc->too_big = true;
        else
            ks__buf_add(&cc->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    client_ip(c, ip, sizeof ip);
    portal_req q = {.P = P, .method = method, .path = url, .ip = ip,
                    .body = cc->body.p ? cc->body.p : "", .nbody = cc->body.n,
                    .cookie = header(c, "Cookie"), .auth = header(c, "Authorization"),
                    .origin = header(c, "Origin"), .host = header(c, "Host")};
    portal_resp r = {.status = 500};
    if (!(q.store = portal_store(P))) {
        portal_json_error(&r, 503, "unavailable", "the index cannot be opened");
    } else if (cc->too_big) {
        portal_json_error(&r, 413, "too_large", "request body over 64 KiB");
    } else {
        portal_handle(&q, &r);
    }
    if (portal_audit_log(P->audit, ip, q.account, method, url, q.audit_what, r.status) != KS_OK) {
        /* no answer that was not recorded */
        ks__buf_release(&r.body);
        memset(&r, 0, sizeof r);
        portal_json_error(&r, 503, "unavailable", "the audit log cannot be written");
        q.sid[0] = 0;
    }
    enum MHD_Result ret = send_resp(P, c, &q, &r);
    ks__buf_release(&r.body);
    return ret;
}

void portal_mhd_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    conn_ctx *cc = *con_cls;
    (void)cls;
    (void)c;
    (void)t;
    if (cc) {
        ks__buf_release(&cc->body);
        free(cc);
        *con_cls = NULL;
    }
}
