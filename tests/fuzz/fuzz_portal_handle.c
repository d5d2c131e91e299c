/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the portal's request handling end to end, without
 * a socket: portal_handle() (rate limits off, authentication by bearer
 * token or session cookie, CSRF and Origin checks, routing, the API and UI
 * handlers, their store queries and JSON/HTML building) over a small
 * index made once per process in a temporary directory, with a known
 * token, session and CSRF token (FUZZ_TOKEN, FUZZ_SID, FUZZ_CSRF: the seeds
 * in tests/fuzz/corpus/portal_handle use them) and a verified
 * claim on org01.example so owner-only paths are reachable.
 *
 * Input: method bit, then '\n'-separated path, Cookie, Authorization,
 * Origin, Host, and the rest is the body. Routes that would leave the
 * process (domain verification: DNS, HTTPS) or spend an Argon2id hash per
 * input (sign-up, login, token issue) are skipped: their form parsing is
 * fuzzed by fuzz_portal.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "httpd/portal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 64 hex characters each, as the portal issues them */
#define FUZZ_TOKEN "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FUZZ_SID "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define FUZZ_CSRF "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* http.c's libmicrohttpd glue wants the server's per-thread store; the
 * harness hands portal_handle its store directly. */
ks_store *portal_store(portal *P)
{
    (void)P;
    return NULL;
}

static ks_store *store;
static portal P;
static char dir[] = "/tmp/kensa-fuzz-portal-XXXXXX";

/* The temporary index goes with the process. */
static void cleanup(void)
{
    static const char *const files[] = {"index.db", "index.db-wal", "index.db-shm", "index.db.key"};
    char path[sizeof dir + 32];
    ks__store_close(store);
    store = NULL;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int exec_bound(const char *sql, const char *secret, const char *text)
{
    uint8_t h[32];
    sqlite3_stmt *st = ks__store_prepare(store, sql);
    if (!st)
        return -1;
    ks__store_token_hash(store, secret, h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE ? 0 : -1;
}

static int setup(void)
{
    char db[64], err[256];
    portal_domain d;
    if (!mkdtemp(dir))
        return -1;
    atexit(cleanup);
    snprintf(db, sizeof db, "%s/index.db", dir);
    if (ks__store_open(db, NULL, KS_STORE_WRITE | KS_STORE_CREATE, &store, err, sizeof err) != KS_OK ||
        portal_accounts_init(store) != KS_OK)
        return -1;
    static const char *const addrs[] = {"alice@org01.example", "bob@org01.example", "carol@org02.example"};
    for (size_t i = 0; i < 3; i++) {
        ks_sput p = {.domain = strchr(addrs[i], '@') + 1, .kind = KS_SK_ADDRESS, .value = addrs[i],
                     .nvalue = strlen(addrs[i]), .seal = true, .time = KS_TIME_NONE};
        if (ks__store_put(store, &p) != KS_OK)
            return -1;
    }
    if (ks__store_commit(store) != KS_OK ||
        sqlite3_exec(ks__store_db(store), "INSERT INTO p_accounts(id, name_h, pw, created) VALUES(1, x'00', 'x', 0)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        exec_bound("INSERT INTO p_tokens(tok_h, account, created) VALUES(?1, 1, 0)", FUZZ_TOKEN, NULL) ||
        exec_bound("INSERT INTO p_sessions(sid_h, account, csrf, expires) VALUES(?1, 1, ?2, 9000000000000000000)",
                   FUZZ_SID, FUZZ_CSRF) ||
        portal_domain_claim(store, 1, "org01.example", &d) != KS_OK ||
        portal_domain_set_verified(store, 1, "org01.example", "dns") != KS_OK)
        return -1;
    P.cfg.db = dir; /* not opened again: the handlers get the store */
    P.cfg.session_ttl = 3600;
    return 0;
}

/* The next '\n'-terminated field of the input, NUL-terminated in place;
 * NULL when empty. */
static char *field(char **p, char *end)
{
    char *s = *p, *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
    if (!nl)
        nl = end;
    *nl = 0;
    *p = nl < end ? nl + 1 : end;
    return *s ? s : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    portal_route rt;
    bool bad;
    if (!ready)
        ready = setup() == 0 ? 1 : -1;
    if (ready < 0 || size < 1 || size > 65536)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    char *p = buf, *end = buf + size - 1;
    const char *method = data[0] & 1 ? "POST" : "GET";
    char *path = field(&p, end), *cookie = field(&p, end), *auth = field(&p, end);
    char *origin = field(&p, end), *host = field(&p, end);
    if (!path)
        goto out;
    portal_route_match(method, path, &rt, &bad);
    if (rt.id == R_API_VERIFY || rt.id == R_UI_VERIFY || rt.id == R_API_ACCOUNTS || rt.id == R_API_TOKENS ||
        ((rt.id == R_UI_SIGNUP || rt.id == R_UI_LOGIN) && !strcmp(method, "POST")))
        goto out;
    portal_req q = {.P = &P, .method = method, .path = path, .ip = "127.0.0.1", .body = p,
                    .nbody = (size_t)(end - p), .cookie = cookie, .auth = auth, .origin = origin,
                    .host = host, .store = store};
    portal_resp r = {.status = 500};
    portal_handle(&q, &r);
    /* every answer is a status and a body that was built completely */
    if (r.status < 200 || r.status > 599 || (r.body.p && strlen(r.body.p) > r.body.n))
        abort();
    ks__buf_release(&r.body);
out:
    free(buf);
    return 0;
}
