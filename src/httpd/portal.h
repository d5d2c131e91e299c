/* SPDX-License-Identifier: Apache-2.0
 *
 * The exposure portal (`kensa serve`): an HTTP(S) service over the
 * exposure index (store/store.h) that shows each organisation its own
 * exposure and nothing else. Parts, one file each:
 *
 *   serve.c     the command: options, TLS, libmicrohttpd, shutdown
 *   http.c      one request: body, client, rate limits, routing, audit,
 *               responses with security headers
 *   route.c     request parsing that needs no server (paths, forms,
 *               cookies): pure functions, fuzzed (tests/fuzz/fuzz_portal.c)
 *   accounts.c  accounts, passwords, API tokens, sessions + CSRF, domains
 *               and their proof of control (portal tables p_* in the index)
 *   verify.c    proof of domain control: DNS TXT through a configurable
 *               resolver (a small UDP client), or an HTTPS /.well-known/ file
 *   api.c       the JSON API; ui.c the server-rendered pages
 *   limits.c    per-IP and per-account token buckets; audit.c the
 *               hash-chained append-only audit log
 *
 * Rule: a request learns nothing about a domain unless it is authenticated
 * as an account that proved control of that domain. Every other answer is
 * 401/403/404 with a body that carries no data (the same body whether the
 * domain is in the index or not).
 *
 * Why the internal headers (store/store.h, kensa_int.h) and not only
 * include/kensa: the portal is the store's second in-tree consumer (with
 * the builder, detect/index.c) and ships in the same binary as part of
 * the command, not of libkensa. It needs the store's keyed hashes (token
 * and session lookup), its sealing (the owner's addresses), its SQLite
 * connection for the portal's own p_* tables in the same file (one
 * transaction scope, one WAL), the exposure/list/range queries and the
 * in-memory range buckets, plus the core buffers and maps. Publishing
 * those would freeze an ABI around a raw SQLite handle and the key
 * derivation for one consumer that cannot drift from the library anyway.
 * What other programs get is public: ks_index_stats (kensa/index.h) for
 * the operator's counts, the engine options that build an index, and
 * this portal's HTTP API. src/cli/cmd_index.c uses the public API only.
 *
 * Threads: libmicrohttpd runs a pool of threads; each owns a store handle
 * (one SQLite connection, portal_store()). Rate limits and the audit log
 * take their own locks; the in-memory range buckets a read-write lock,
 * written by their sync thread only.
 */
#ifndef KS_PORTAL_H
#define KS_PORTAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "store/store.h"

/* ---- configuration (serve.c) ------------------------------------------------ */
typedef struct portal_cfg {
    const char *db;            /* the index */
    const char *key;           /* its key file (NULL: db.key) */
    const char *audit;         /* audit log path (NULL: db.audit.jsonl) */
    const char *resolver;      /* DNS server "IP[:PORT]" for TXT proofs */
    const char *connect_to;    /* "HOST:PORT:CHOST:CPORT" for well-known fetches (tests) */
    const char *cainfo;        /* CA bundle for well-known fetches (tests) */
    double rate_ip;            /* requests/s per client address (0: unlimited) */
    double rate_account;       /* requests/s per account (0: unlimited) */
    double burst;              /* bucket size, in seconds of rate */
    bool tls;                  /* cookies get Secure */
    unsigned session_ttl;      /* seconds */
    size_t range_memory;       /* cap of the in-memory range buckets, bytes (0: none) */
} portal_cfg;

typedef struct portal portal;

/* ---- per-request view (http.c) --------------------------------------------------- */
typedef struct portal_req {
    portal *P;
    const char *method;        /* "GET", "POST" */
    const char *path;          /* decoded by MHD, without query */
    const char *ip;            /* client address text */
    const char *body;          /* POST body (form), NUL-terminated, may be "" */
    size_t nbody;
    const char *cookie;        /* Cookie header or NULL */
    const char *auth;          /* Authorization header or NULL */
    const char *origin;        /* Origin header or NULL */
    const char *host;          /* Host header or NULL */
    ks_store *store;           /* this thread's */
    int64_t account;           /* authenticated account, 0 = none */
    bool via_session;          /* authenticated by cookie (CSRF applies) */
    char csrf[65];             /* the session's CSRF token */
    char sid[65];              /* a new session id to set, "" = none */
    bool clear_session;        /* logout: expire the cookie */
    const char *audit_what;    /* extra audit detail (static) */
} portal_req;

typedef struct portal_resp {
    int status;
    const char *type;          /* Content-Type */
    ks_buf body;               /* owned */
    char location[512];        /* redirect target, "" = none */
    unsigned retry_after;      /* 429: seconds */
} portal_resp;

/* Helpers for handlers. */
void portal_json_error(portal_resp *r, int status, const char *code, const char *msg);
void portal_redirect(portal_resp *r, const char *to);

/* ---- routing (route.c) ------------------------------------------------------------ */
typedef enum portal_route_id {
    R_NONE = 0,
    R_UI_HOME, R_UI_SIGNUP, R_UI_LOGIN, R_UI_LOGOUT, R_UI_DASH, R_UI_ADD_DOMAIN,
    R_UI_VERIFY, R_UI_DOMAIN, R_UI_ACK, R_UI_TOKEN, R_UI_HELP,
    R_API_ACCOUNTS, R_API_TOKENS, R_API_DOMAINS, R_API_VERIFY, R_API_EXPOSURE,
    R_API_ADDRESSES, R_API_ACK, R_API_RANGE, R_HEALTH
} portal_route_id;

typedef struct portal_route {
    portal_route_id id;
    bool post;                 /* the route takes POST (else GET) */
    char domain[254];          /* {D} lower-cased and checked, "" if none */
    char prefix[6];            /* {PREFIX} of the range route: 5 hex */
} portal_route;

/* Matches method + path. R_NONE for an unknown path; for a known path and
 * the wrong method, id is set and *bad_method true. */
void portal_route_match(const char *method, const char *path, portal_route *r, bool *bad_method);
/* A domain name as the portal accepts it: 1..253 chars of [a-z0-9.-],
 * labels 1..63, at least one dot; lower-cased into out (254 bytes). */
bool portal_domain_ok(const char *s, size_t n, char *out);
/* The value of field `name` in an application/x-www-form-urlencoded body,
 * percent-decoded into out (cap bytes, NUL-terminated). false if absent
 * or longer than cap - 1. */
bool portal_form_get(const char *body, size_t n, const char *name, char *out, size_t cap);
/* The value of cookie `name` in a Cookie header into out. */
bool portal_cookie_get(const char *hdr, const char *name, char *out, size_t cap);
/* "Bearer TOKEN" -> TOKEN into out. */
bool portal_bearer(const char *hdr, char *out, size_t cap);

/* ---- accounts (accounts.c) -------------------------------------------------------- */
int portal_accounts_init(ks_store *s);
/* Creates an account; KS_EUSAGE (name taken, weak password) with msg. */
int portal_account_new(ks_store *s, const char *name, const char *pw, int64_t *id, char *msg, size_t cap);
/* 0 and *id when name/password match; KS_EPERM otherwise (same time). */
int portal_account_login(ks_store *s, const char *name, const char *pw, int64_t *id);
/* A new API token for the account (shown once: hex into out[65]). */
int portal_token_new(ks_store *s, int64_t account, char out[65]);
/* The account of a bearer token, 0 = none. */
int64_t portal_token_account(ks_store *s, const char *tok);
/* A new session: id and CSRF token (hex, 64 chars each). */
int portal_session_new(ks_store *s, int64_t account, unsigned ttl, char sid[65], char csrf[65]);
/* The account of a live session and its CSRF token; 0 = none. */
int64_t portal_session_account(ks_store *s, const char *sid, char csrf[65]);
void portal_session_end(ks_store *s, const char *sid);

typedef struct portal_domain {
    char name[254];
    char token[65];            /* the proof the owner must publish */
    bool verified;
    char method[8];            /* "dns" / "https" */
    int64_t verified_at;       /* ns */
    int64_t seen_batch;        /* newest batch the owner acknowledged */
} portal_domain;
/* Claims a domain for an account (idempotent: same token again). */
int portal_domain_claim(ks_store *s, int64_t account, const char *dom, portal_domain *out);
/* The account's claim of dom: KS_ENOTFOUND when none. */
int portal_domain_get(ks_store *s, int64_t account, const char *dom, portal_domain *out);
int portal_domain_set_verified(ks_store *s, int64_t account, const char *dom, const char *method);
int portal_domain_ack(ks_store *s, int64_t account, const char *dom, int64_t batch);
/* The account's domains (at most max). */
int portal_domain_list(ks_store *s, int64_t account, portal_domain *out, size_t max, size_t *n);

/* ---- proof of control (verify.c) -------------------------------------------------- */
/* Looks for "kensa-verify=TOKEN" in the TXT records of dom through the
 * resolver ("IP[:PORT]", NULL = /etc/resolv.conf's first). 0 when found;
 * KS_ENOTFOUND (no such record), KS_ENET/KS_ETIMEOUT with a sentence. */
int portal_verify_dns(const char *resolver, const char *dom, const char *token, char *msg, size_t cap);
/* Fetches https://DOM/.well-known/kensa-verify.txt (TLS verified, no
 * redirects, 4 KiB at most) and looks for the token. */
int portal_verify_https(const portal_cfg *cfg, const char *dom, const char *token, char *msg, size_t cap);
/* For the fuzzer and tests: parses a DNS response to query id `id`,
 * calling fn for each TXT record's joined strings. KS_EFORMAT on damage. */
typedef void (*portal_txt_fn)(void *ud, const char *txt, size_t n);
int portal_dns_parse(const uint8_t *p, size_t n, uint16_t id, portal_txt_fn fn, void *ud);
/* Builds a TXT query for name into out (cap >= 512); returns its length
 * or 0 when the name does not fit. */
size_t portal_dns_query(const char *name, uint16_t id, uint8_t *out, size_t cap);

/* ---- rate limits (limits.c) ------------------------------------------------------- */
typedef struct portal_limits portal_limits;
portal_limits *portal_limits_new(double rate, double burst);
void portal_limits_free(portal_limits *l);
/* Takes one token for key; 0 when allowed, else the seconds to wait. */
unsigned portal_limits_take(portal_limits *l, const char *key);

/* ---- audit log (audit.c) ---------------------------------------------------------- */
typedef struct portal_audit portal_audit;
/* Opens path for appending (O_APPEND, 0600), continuing its hash chain. */
int portal_audit_open(const char *path, portal_audit **out, char *err, size_t cap);
void portal_audit_close(portal_audit *a);
/* One line: when, from where, who, what, the answer. KS_EIO when the
 * line could not be written (the caller then answers 503). */
int portal_audit_log(portal_audit *a, const char *ip, int64_t account, const char *method,
                      const char *path, const char *what, int status);

/* ---- per-thread caches of hot reads (cache.c) -------------------------------------- */
enum { PORTAL_CACHE_TOKEN, PORTAL_CACHE_CLAIM, PORTAL_CACHE_EXPOSURE, PORTAL_CACHE_COUNT };
#define PORTAL_CACHE_TTL_NS 1000000000ull /* changes made by another process show within this */
/* The state generation: read it BEFORE reading what will be cached and
 * pass it to portal_cache_put, so a write in between makes the entry dead. */
uint64_t portal_cache_gen(void);
/* Marks every cached entry of every thread stale (after a write). */
void portal_cache_bump(void);
/* This thread's value for key (borrowed until the next put), NULL when
 * absent, stale or older than the TTL; *n its size. */
const void *portal_cache_get(int which, const void *key, size_t kn, size_t *n);
void portal_cache_put(int which, uint64_t gen, const void *key, size_t kn, const void *v, size_t n);

/* ---- the portal (serve.c) --------------------------------------------------------- */
struct portal {
    portal_cfg cfg;
    portal_limits *lim_ip, *lim_acct;
    portal_audit *audit;
    char csp[384];             /* Content-Security-Policy with the script hash */
    pthread_mutex_t mu;        /* guards stores and stop */
    ks_store **stores;         /* one per server thread, closed at exit */
    size_t nstores, capstores;
    /* the range buckets in memory (NULL: lookups go to SQLite), synced
     * every PORTAL_CACHE_TTL_NS by a thread of their own (serve.c) */
    ks_srange_mem *ranges;
    pthread_t ranges_sync;
    pthread_cond_t cv;         /* wakes the sync thread to stop */
    bool stop, have_sync;
};
/* This thread's store handle (opened on first use). */
ks_store *portal_store(portal *P);

/* ---- handlers (api.c, ui.c) ------------------------------------------------------- */
void portal_api(portal_req *q, const portal_route *rt, portal_resp *r);
void portal_ui(portal_req *q, const portal_route *rt, portal_resp *r);
/* Runs the proof `method` ("dns"/"https") of the account's claim on dom
 * and records success; a sentence in msg on failure (api.c). */
int portal_verify(portal_req *q, const char *dom, const char *method, char *msg, size_t cap);
/* A claim's proof instructions as JSON members (api.c). */
void portal_proof_json(ks_buf *b, const portal_domain *d);
/* The inline script of the pages (its hash goes in the CSP). */
extern const char portal_ui_script[];
/* Dispatches one request (http.c; used by the fuzzer without a server). */
void portal_handle(portal_req *q, portal_resp *r);
/* libmicrohttpd's access and completion callbacks (http.c); cls = portal. */
enum MHD_Result portal_mhd_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls);
void portal_mhd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode t);

#endif
