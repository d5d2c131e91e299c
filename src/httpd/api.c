/* SPDX-License-Identifier: Apache-2.0
 *
 * The portal's JSON API (/api/v1). Request bodies are form-encoded
 * (application/x-www-form-urlencoded), answers JSON, except the range
 * lookup (text/plain, one hash suffix a line, as HIBP's Pwned Passwords).
 *
 *   POST /api/v1/accounts            name, password         -> 201 {account}
 *   POST /api/v1/tokens              name, password         -> 201 {token}
 *   POST /api/v1/domains             domain (auth)          -> 201 {proof to publish}
 *   POST /api/v1/domains/D/verify    method=dns|https       -> 200 | 403
 *   GET  /api/v1/domains/D/exposure  (auth, D verified)     -> the counts
 *   GET  /api/v1/domains/D/addresses (auth, D verified)     -> own addresses
 *   POST /api/v1/domains/D/ack       (auth, D verified)     -> new exposure seen
 *   GET  /api/v1/range/PREFIX        5 hex of SHA-256(addr) -> suffixes, padded
 *
 * Owner-only answers go through need_owner(): 401 without credentials,
 * 403 with the same body whether the domain is unclaimed, unverified,
 * someone else's, or absent from the index.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "httpd/portal.h"

#define RANGE_MIN_LINES 64   /* answers padded to at least this many lines */
#define RANGE_ROUND 32       /* ... and to a multiple of this */
#define LIST_MAX 10000

static void json_begin(portal_resp *r, int status)
{
    r->status = status;
    r->type = "application/json";
    ks__buf_reset(&r->body);
}

static void add_str(ks_buf *b, const char *key, const char *v, bool comma)
{
    ks__buf_printf(b, "%s\"%s\":\"", comma ? "," : "", key);
    ks__buf_add_json_str(b, v, strlen(v));
    ks__buf_addc(b, '"');
}

/* The account's verified claim on the route's domain, or an answer. */
static bool need_owner(portal_req *q, const portal_route *rt, portal_resp *r, portal_domain *d)
{
    if (!q->account) {
        portal_json_error(r, 401, "unauthorized", "an API token or a session is needed");
        return false;
    }
    if (portal_domain_get(q->store, q->account, rt->domain, d) != KS_OK || !d->verified) {
        portal_json_error(r, 403, "forbidden", "this account has not proved control of this domain");
        q->audit_what = "owner check refused";
        return false;
    }
    return true;
}

static void api_account(portal_req *q, portal_resp *r, bool token)
{
    char name[80], pw[260], msg[160], tok[65];
    int64_t id = 0;
    if (!portal_form_get(q->body, q->nbody, "name", name, sizeof name) ||
        !portal_form_get(q->body, q->nbody, "password", pw, sizeof pw)) {
        portal_json_error(r, 400, "bad_request", "name and password are needed");
        return;
    }
    if (!token) {
        if (portal_account_new(q->store, name, pw, &id, msg, sizeof msg) != KS_OK) {
            portal_json_error(r, 400, "bad_request", msg);
        } else {
            q->account = id;
            q->audit_what = "account created";
            json_begin(r, 201);
            ks__buf_printf(&r->body, "{\"account\":%" PRId64 "}", id);
        }
    } else if (portal_account_login(q->store, name, pw, &id) != KS_OK) {
        portal_json_error(r, 401, "unauthorized", "wrong name or password");
        q->audit_what = "login failed";
    } else if (portal_token_new(q->store, id, tok) != KS_OK) {
        portal_json_error(r, 500, "internal", "cannot store the token");
    } else {
        q->account = id;
        q->audit_what = "token issued";
        json_begin(r, 201);
        ks__buf_adds(&r->body, "{");
        add_str(&r->body, "token", tok, false);
        ks__buf_adds(&r->body, "}");
    }
    sodium_memzero(pw, sizeof pw);
}

/* The proof a claim asks for, as JSON members. */
void portal_proof_json(ks_buf *b, const portal_domain *d)
{
    char v[128];
    add_str(b, "domain", d->name, false);
    ks__buf_printf(b, ",\"verified\":%s", d->verified ? "true" : "false");
    if (d->verified)
        add_str(b, "method", d->method, true);
    snprintf(v, sizeof v, "kensa-verify=%s", d->token);
    ks__buf_adds(b, ",\"dns\":{\"type\":\"TXT\"");
    add_str(b, "name", d->name, true);
    add_str(b, "value", v, true);
    ks__buf_adds(b, "},\"https\":{");
    snprintf(v, sizeof v, "https://%s/.well-known/kensa-verify.txt", d->name);
    add_str(b, "url", v, false);
    add_str(b, "content", d->token, true);
    ks__buf_adds(b, "}");
}

static void api_claim(portal_req *q, portal_resp *r)
{
    char raw[300], dom[254];
    portal_domain d;
    if (!q->account) {
        portal_json_error(r, 401, "unauthorized", "an API token or a session is needed");
        return;
    }
    if (!portal_form_get(q->body, q->nbody, "domain", raw, sizeof raw) ||
        !portal_domain_ok(raw, strlen(raw), dom)) {
        portal_json_error(r, 400, "bad_request", "domain must be a DNS name such as example.com");
        return;
    }
    if (portal_domain_claim(q->store, q->account, dom, &d) != KS_OK) {
        portal_json_error(r, 500, "internal", "cannot store the claim");
        return;
    }
    q->audit_what = "domain claimed";
    json_begin(r, 201);
    ks__buf_addc(&r->body, '{');
    portal_proof_json(&r->body, &d);
    ks__buf_addc(&r->body, '}');
}

int portal_verify(portal_req *q, const char *dom, const char *method, char *msg, size_t cap)
{
    portal_domain d;
    int rc;
    if (portal_domain_get(q->store, q->account, dom, &d) != KS_OK) {
        snprintf(msg, cap, "claim the domain first");
        return KS_ENOTFOUND;
    }
    if (!strcmp(method, "dns"))
        rc = portal_verify_dns(q->P->cfg.resolver, dom, d.token, msg, cap);
    else if (!strcmp(method, "https"))
        rc = portal_verify_https(&q->P->cfg, dom, d.token, msg, cap);
    else {
        snprintf(msg, cap, "method must be dns or https");
        return KS_EUSAGE;
    }
    q->audit_what = rc == KS_OK ? "domain verified" : "domain verification failed";
    if (rc == KS_OK)
        rc = portal_domain_set_verified(q->store, q->account, dom, method);
    return rc;
}

static void api_verify(portal_req *q, const portal_route *rt, portal_resp *r)
{
    char method[16] = "dns", msg[300];
    if (!q->account) {
        portal_json_error(r, 401, "unauthorized", "an API token or a session is needed");
        return;
    }
    portal_form_get(q->body, q->nbody, "method", method, sizeof method);
    if (portal_verify(q, rt->domain, method, msg, sizeof msg) != KS_OK) {
        portal_json_error(r, 403, "verification_failed", msg);
        return;
    }
    json_begin(r, 200);
    ks__buf_adds(&r->body, "{");
    add_str(&r->body, "domain", rt->domain, false);
    ks__buf_adds(&r->body, ",\"verified\":true");
    add_str(&r->body, "method", method, true);
    ks__buf_adds(&r->body, "}");
}

static void api_exposure(portal_req *q, const portal_route *rt, portal_resp *r)
{
    portal_domain d;
    ks_sexposure x;
    char key[8 + 254];
    size_t dn = strlen(rt->domain), n;
    if (!need_owner(q, rt, r, &d))
        return;
    /* the answer depends on the domain and the batch the owner acknowledged
     * only: the same for every request until the index or the claim
     * changes (cache.c says how stale it may be) */
    uint64_t gen = portal_cache_gen();
    memcpy(key, &d.seen_batch, 8);
    memcpy(key + 8, rt->domain, dn);
    const char *hit = portal_cache_get(PORTAL_CACHE_EXPOSURE, key, 8 + dn, &n);
    q->audit_what = "exposure read";
    if (hit) {
        json_begin(r, 200);
        ks__buf_add(&r->body, hit, n);
        return;
    }
    if (ks__store_exposure(q->store, rt->domain, d.seen_batch, &x) != KS_OK) {
        portal_json_error(r, 500, "internal", "cannot read the index");
        return;
    }
    json_begin(r, 200);
    ks__store_exposure_json(&x, rt->domain, ks__store_status(q->store), true, &r->body);
    /* the owner's notification: what appeared after the last batch it saw */
    r->body.n--; /* reopen the object */
    uint64_t fresh = 0;
    for (size_t i = 0; i < x.ncounts; i++)
        if (x.counts[i].kind != KS_SK_SOURCE)
            fresh += x.counts[i].fresh;
    ks__buf_printf(&r->body, ",\"notification\":{\"new_items\":%" PRIu64 ",\"seen_batch\":%" PRId64
                             ",\"last_batch\":%" PRId64 "}}",
                   d.seen_batch ? fresh : 0, d.seen_batch, x.last_batch);
    ks__sexposure_release(&x);
    if (r->body.p)
        portal_cache_put(PORTAL_CACHE_EXPOSURE, gen, key, 8 + dn, r->body.p, r->body.n);
}

typedef struct list_ctx {
    ks_buf *b;
    size_t n;
    int64_t seen_batch;
} list_ctx;

static int on_addr(void *ud, const char *v, size_t n, const char *type, uint64_t seen, int64_t first,
                   int64_t last, int64_t first_batch)
{
    list_ctx *l = ud;
    char tb[64];
    (void)type;
    ks__buf_adds(l->b, l->n++ ? ",{\"address\":\"" : "{\"address\":\"");
    ks__buf_add_json_str(l->b, v, n);
    ks__buf_printf(l->b, "\",\"seen\":%" PRIu64 ",\"new\":%s", seen,
                   l->seen_batch && first_batch > l->seen_batch ? "true" : "false");
    if (first != KS_TIME_NONE) {
        ks__time_format_sec(first / 1000000000, 0, tb, sizeof tb);
        ks__buf_printf(l->b, ",\"first\":\"%s\"", tb);
    }
    if (last != KS_TIME_NONE) {
        ks__time_format_sec(last / 1000000000, 0, tb, sizeof tb);
        ks__buf_printf(l->b, ",\"last\":\"%s\"", tb);
    }
    ks__buf_addc(l->b, '}');
    return 0;
}

static void api_addresses(portal_req *q, const portal_route *rt, portal_resp *r)
{
    portal_domain d;
    if (!need_owner(q, rt, r, &d))
        return;
    q->audit_what = "addresses listed";
    json_begin(r, 200);
    ks__buf_adds(&r->body, "{");
    add_str(&r->body, "domain", rt->domain, false);
    ks__buf_adds(&r->body, ",\"addresses\":[");
    list_ctx l = {&r->body, 0, d.seen_batch};
    ks__store_list(q->store, rt->domain, KS_SK_ADDRESS, LIST_MAX, on_addr, &l);
    ks__buf_printf(&r->body, "],\"truncated\":%s}", l.n >= LIST_MAX ? "true" : "false");
}

static void api_ack(portal_req *q, const portal_route *rt, portal_resp *r)
{
    portal_domain d;
    if (!need_owner(q, rt, r, &d))
        return;
    int64_t b = ks__store_last_batch(q->store);
    portal_domain_ack(q->store, q->account, rt->domain, b);
    q->audit_what = "new exposure acknowledged";
    json_begin(r, 200);
    ks__buf_printf(&r->body, "{\"seen_batch\":%" PRId64 "}", b);
}

/* ---- k-anonymity range ------------------------------------------------------------ */

typedef struct range_ctx {
    ks_buf *b;
    size_t n;
    bool oom;                  /* a line did not fit: the answer would be short */
} range_ctx;

/* Upper-case hex of every byte value, two characters each: a line is 29
 * two-byte copies and a digit (per-digit lookups were a tenth of a range
 * request). */
static const char hex2[513] =
    "000102030405060708090A0B0C0D0E0F"
    "101112131415161718191A1B1C1D1E1F"
    "202122232425262728292A2B2C2D2E2F"
    "303132333435363738393A3B3C3D3E3F"
    "404142434445464748494A4B4C4D4E4F"
    "505152535455565758595A5B5C5D5E5F"
    "606162636465666768696A6B6C6D6E6F"
    "707172737475767778797A7B7C7D7E7F"
    "808182838485868788898A8B8C8D8E8F"
    "909192939495969798999A9B9C9D9E9F"
    "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
    "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
    "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"
    "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF"
    "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";

/* One answer line: hex characters 5..63 of the hash, upper case; room for
 * it must have been made (ks__buf_grow). */
static void add_suffix(ks_buf *b, const uint8_t sha[32])
{
    char *o = b->p + b->n;
    o[0] = hex2[2 * (sha[2] & 15) + 1];
    for (int i = 3; i < 32; i++)
        memcpy(o + 2 * i - 5, hex2 + 2 * sha[i], 2);
    o[59] = '\n';
    b->n += 60;
    b->p[b->n] = 0;
}

/* Padding bytes: a ChaCha20 stream under a per-thread random key, a fresh
 * nonce per call. Unpredictable like randombytes_buf, without a getrandom
 * system call per line (which cost a quarter of a range lookup). */
static void pad_bytes(uint8_t *out, size_t n)
{
    static __thread uint8_t key[crypto_stream_chacha20_KEYBYTES];
    static __thread uint64_t nonce;
    static __thread bool keyed;
    uint8_t nb[crypto_stream_chacha20_NONCEBYTES] = {0};
    if (!keyed) {
        randombytes_buf(key, sizeof key);
        keyed = true;
    }
    memcpy(nb, &nonce, sizeof nonce < sizeof nb ? sizeof nonce : sizeof nb);
    nonce++;
    crypto_stream_chacha20(out, n, nb, key);
}

static int on_range(void *ud, const uint8_t sha[32])
{
    range_ctx *c = ud;
    if (ks__buf_grow(c->b, 61) != KS_OK) {
        c->oom = true;
        return 1;
    }
    add_suffix(c->b, sha);
    c->n++;
    return 0;
}

static void api_range(portal_req *q, const portal_route *rt, portal_resp *r)
{
    uint32_t prefix = 0;
    range_ctx c = {&r->body, 0, false};
    for (int i = 0; i < 5; i++)
        prefix = prefix << 4 | (uint32_t)ks__hexval((unsigned char)rt->prefix[i]);
    r->status = 200;
    r->type = "text/plain";
    ks__buf_reset(&r->body);
    /* from the in-memory copy when the server holds one (no SQLite work
     * per lookup), else from the database */
    int rc = q->P->ranges ? ks__srange_lookup(q->P->ranges, q->store, prefix, on_range, &c) : KS_ENOTFOUND;
    if (rc == KS_ENOTFOUND)
        rc = ks__store_range(q->store, prefix, on_range, &c);
    if (rc != KS_OK) {
        portal_json_error(r, 500, "internal", "cannot read the index");
        return;
    }
    /* padding: random suffixes so the answer's size says nothing about how
     * many exposed addresses share the prefix */
    size_t want = c.n < RANGE_MIN_LINES ? RANGE_MIN_LINES : (c.n + RANGE_ROUND - 1) / RANGE_ROUND * RANGE_ROUND;
    if (c.oom || (c.n < want && ks__buf_grow(&r->body, (want - c.n) * 60 + 1) != KS_OK)) {
        portal_json_error(r, 500, "internal", "out of memory");
        return;
    }
    if (c.n < want) {
        uint8_t fake[RANGE_ROUND * 2 * 32];
        size_t k = sizeof fake / 32;
        for (; c.n < want; c.n++, k++) {
            if (k == sizeof fake / 32) {
                pad_bytes(fake, sizeof fake);
                k = 0;
            }
            add_suffix(&r->body, fake + 32 * k);
        }
    }
    q->audit_what = "range lookup";
}

void portal_api(portal_req *q, const portal_route *rt, portal_resp *r)
{
    switch (rt->id) {
    case R_HEALTH:
        json_begin(r, 200);
        ks__buf_adds(&r->body, "{\"ok\":true}");
        break;
    case R_API_ACCOUNTS: api_account(q, r, false); break;
    case R_API_TOKENS: api_account(q, r, true); break;
    case R_API_DOMAINS: api_claim(q, r); break;
    case R_API_VERIFY: api_verify(q, rt, r); break;
    case R_API_EXPOSURE: api_exposure(q, rt, r); break;
    case R_API_ADDRESSES: api_addresses(q, rt, r); break;
    case R_API_ACK: api_ack(q, rt, r); break;
    case R_API_RANGE: api_range(q, rt, r); break;
    default: portal_json_error(r, 404, "not_found", "no such page"); break;
    }
}
