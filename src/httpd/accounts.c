/* SPDX-License-Identifier: Apache-2.0
 *
 * Organisation accounts and what hangs off them, in the portal's tables
 * (p_*) of the index file: passwords (Argon2id, libsodium crypto_pwhash),
 * API tokens and session ids (stored as keyed BLAKE2b hashes: a copy of the
 * database does not let anyone log in), CSRF tokens, and the domains an
 * account claims with the proof token it must publish and whether it did.
 *
 * Account names and domains are stored as keyed hashes too (domains also
 * sealed, for the owner's dashboard): the index file names no one.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <sodium.h>
#include "httpd/portal.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS p_accounts(id INTEGER PRIMARY KEY, name_h BLOB UNIQUE NOT NULL,"
    " pw TEXT NOT NULL, created INTEGER);"
    "CREATE TABLE IF NOT EXISTS p_tokens(tok_h BLOB PRIMARY KEY, account INTEGER NOT NULL,"
    " created INTEGER) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS p_sessions(sid_h BLOB PRIMARY KEY, account INTEGER NOT NULL,"
    " csrf TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS p_domains(account INTEGER NOT NULL, dom_h BLOB NOT NULL, dom_enc BLOB,"
    " token TEXT NOT NULL, verified INTEGER, method TEXT, seen_batch INTEGER DEFAULT 0,"
    " PRIMARY KEY(account, dom_h)) WITHOUT ROWID;";

/* A password hash of nothing anyone knows: verified against when the
 * account does not exist, so a login takes the same time either way. */
static char dummy_hash[crypto_pwhash_STRBYTES];

int portal_accounts_init(ks_store *s)
{
    if (sqlite3_exec(ks__store_db(s), schema, NULL, NULL, NULL) != SQLITE_OK)
        return KS_EIO;
    if (!dummy_hash[0]) {
        char pw[33];
        uint8_t r[16];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(pw, sizeof pw, r, sizeof r);
        if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return KS_ENOMEM;
    }
    return KS_OK;
}

/* The statement for sql, prepared once per connection and kept
 * (ks__store_prepare): every function here resets it when done, which also
 * ends the statement's read transaction. */
static sqlite3_stmt *prep(ks_store *s, const char *sql)
{
    return ks__store_prepare(s, sql);
}

static void name_hash(ks_store *s, const char *name, uint8_t h[32])
{
    char low[65];
    size_t n = strlen(name);
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++)
        low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
    ks__store_mac(s, "account", low, n, h);
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-' || c == '@'))
            return false;
    }
    return true;
}

int portal_account_new(ks_store *s, const char *name, const char *pw, int64_t *id, char *msg, size_t cap)
{
    char hash[crypto_pwhash_STRBYTES];
    uint8_t h[32];
    int rc = KS_OK;
    sqlite3_stmt *st = NULL;
    if (!name_ok(name)) {
        snprintf(msg, cap, "account names are 3 to 64 letters, digits, . _ - @");
        return KS_EUSAGE;
    }
    if (strlen(pw) < 10 || strlen(pw) > 256) {
        snprintf(msg, cap, "passwords are 10 to 256 characters");
        return KS_EUSAGE;
    }
    if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(msg, cap, "out of memory");
        return KS_ENOMEM;
    }
    name_hash(s, name, h);
    if (!(st = prep(s, "INSERT INTO p_accounts(name_h, pw, created) VALUES(?1, ?2, ?3)")))
        return KS_EIO;
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ks__wall_ns());
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) {
        snprintf(msg, cap, "that account name is taken");
        rc = KS_EUSAGE;
    } else if (r != SQLITE_DONE) {
        snprintf(msg, cap, "cannot store the account");
        rc = KS_EIO;
    } else {
        *id = sqlite3_last_insert_rowid(ks__store_db(s));
    }
    sqlite3_reset(st);
    return rc;
}

int portal_account_login(ks_store *s, const char *name, const char *pw, int64_t *id)
{
    uint8_t h[32];
    char hash[crypto_pwhash_STRBYTES] = "";
    int64_t found = 0;
    sqlite3_stmt *st = prep(s, "SELECT id, pw FROM p_accounts WHERE name_h = ?1");
    if (!st)
        return KS_EIO;
    name_hash(s, name, h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = sqlite3_column_int64(st, 0);
        snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    bool ok = crypto_pwhash_str_verify(found ? hash : dummy_hash, pw, strlen(pw)) == 0;
    if (!ok || !found)
        return KS_EPERM;
    *id = found;
    return KS_OK;
}

static void random_hex(char out[65])
{
    uint8_t r[32];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, 65, r, sizeof r);
}

int portal_token_new(ks_store *s, int64_t account, char out[65])
{
    uint8_t h[32];
    sqlite3_stmt *st = prep(s, "INSERT INTO p_tokens(tok_h, account, created) VALUES(?1, ?2, ?3)");
    int rc = KS_OK;
    if (!st)
        return KS_EIO;
    random_hex(out);
    ks__store_token_hash(s, out, h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, account);
    sqlite3_bind_int64(st, 3, ks__wall_ns());
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = KS_EIO;
    sqlite3_reset(st);
    return rc;
}

int64_t portal_token_account(ks_store *s, const char *tok)
{
    uint8_t h[32];
    int64_t id = 0;
    uint64_t gen = portal_cache_gen();
    size_t n;
    ks__store_token_hash(s, tok, h);
    const void *c = portal_cache_get(PORTAL_CACHE_TOKEN, h, sizeof h, &n);
    if (c && n == sizeof id) {
        memcpy(&id, c, sizeof id);
        return id;
    }
    sqlite3_stmt *st = prep(s, "SELECT account FROM p_tokens WHERE tok_h = ?1");
    if (!st)
        return 0;
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (id)
        portal_cache_put(PORTAL_CACHE_TOKEN, gen, h, sizeof h, &id, sizeof id);
    return id;
}

int portal_session_new(ks_store *s, int64_t account, unsigned ttl, char sid[65], char csrf[65])
{
    uint8_t h[32];
    int rc = KS_OK;
    sqlite3_stmt *st = prep(s, "INSERT INTO p_sessions(sid_h, account, csrf, expires) VALUES(?1, ?2, ?3, ?4)");
    if (!st)
        return KS_EIO;
    random_hex(sid);
    random_hex(csrf);
    ks__store_token_hash(s, sid, h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, account);
    sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ks__wall_ns() + (int64_t)ttl * 1000000000);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = KS_EIO;
    sqlite3_reset(st);
    return rc;
}

int64_t portal_session_account(ks_store *s, const char *sid, char csrf[65])
{
    uint8_t h[32];
    int64_t id = 0;
    sqlite3_stmt *st = prep(s, "SELECT account, csrf FROM p_sessions WHERE sid_h = ?1 AND expires > ?2");
    if (!st)
        return 0;
    ks__store_token_hash(s, sid, h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ks__wall_ns());
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        snprintf(csrf, 65, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    return id;
}

void portal_session_end(ks_store *s, const char *sid)
{
    uint8_t h[32];
    sqlite3_stmt *st = prep(s, "DELETE FROM p_sessions WHERE sid_h = ?1 OR expires < ?2");
    if (!st)
        return;
    ks__store_token_hash(s, sid, h);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ks__wall_ns());
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* ---- domains ------------------------------------------------------------------ */

static void row_domain(ks_store *s, sqlite3_stmt *st, portal_domain *d)
{
    ks_buf b = KS_BUF_INIT;
    memset(d, 0, sizeof *d);
    if (ks__store_unseal(s, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &b) == KS_OK)
        snprintf(d->name, sizeof d->name, "%s", b.p);
    ks__buf_release(&b);
    snprintf(d->token, sizeof d->token, "%s", (const char *)sqlite3_column_text(st, 1));
    d->verified = sqlite3_column_type(st, 2) != SQLITE_NULL;
    d->verified_at = sqlite3_column_int64(st, 2);
    if (sqlite3_column_text(st, 3))
        snprintf(d->method, sizeof d->method, "%s", (const char *)sqlite3_column_text(st, 3));
    d->seen_batch = sqlite3_column_int64(st, 4);
}

#define DOMAIN_COLS "dom_enc, token, verified, method, seen_batch"

int portal_domain_get(ks_store *s, int64_t account, const char *dom, portal_domain *out)
{
    uint8_t h[32];
    char key[8 + 254];
    size_t dn = strnlen(dom, 253), n;
    int rc = KS_ENOTFOUND;
    uint64_t gen = portal_cache_gen();
    memcpy(key, &account, 8);
    memcpy(key + 8, dom, dn);
    const void *c = portal_cache_get(PORTAL_CACHE_CLAIM, key, 8 + dn, &n);
    if (c && n == sizeof *out) {
        memcpy(out, c, sizeof *out);
        return KS_OK;
    }
    sqlite3_stmt *st = prep(s, "SELECT " DOMAIN_COLS " FROM p_domains WHERE account = ?1 AND dom_h = ?2");
    if (!st)
        return KS_EIO;
    ks__store_mac(s, "domain", dom, strlen(dom), h);
    sqlite3_bind_int64(st, 1, account);
    sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        row_domain(s, st, out);
        snprintf(out->name, sizeof out->name, "%s", dom);
        rc = KS_OK;
    }
    sqlite3_reset(st);
    if (rc == KS_OK)
        portal_cache_put(PORTAL_CACHE_CLAIM, gen, key, 8 + dn, out, sizeof *out);
    return rc;
}

int portal_domain_claim(ks_store *s, int64_t account, const char *dom, portal_domain *out)
{
    uint8_t h[32];
    char tok[65];
    ks_buf enc = KS_BUF_INIT;
    int rc = portal_domain_get(s, account, dom, out);
    if (rc != KS_ENOTFOUND)
        return rc;
    sqlite3_stmt *st = prep(s, "INSERT INTO p_domains(account, dom_h, dom_enc, token) VALUES(?1, ?2, ?3, ?4)");
    if (!st)
        return KS_EIO;
    random_hex(tok);
    ks__store_mac(s, "domain", dom, strlen(dom), h);
    if (ks__store_seal(s, dom, strlen(dom), &enc) != KS_OK) {
        sqlite3_reset(st);
        return KS_ENOMEM;
    }
    sqlite3_bind_int64(st, 1, account);
    sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, enc.p, (int)enc.n, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, tok, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? KS_OK : KS_EIO;
    sqlite3_reset(st);
    portal_cache_bump();
    ks__buf_release(&enc);
    return rc == KS_OK ? portal_domain_get(s, account, dom, out) : rc;
}

static int domain_update(ks_store *s, const char *sql, int64_t account, const char *dom, const char *text,
                         int64_t num)
{
    uint8_t h[32];
    sqlite3_stmt *st = prep(s, sql);
    int rc;
    if (!st)
        return KS_EIO;
    ks__store_mac(s, "domain", dom, strlen(dom), h);
    sqlite3_bind_int64(st, 1, account);
    sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, num);
    rc = sqlite3_step(st) == SQLITE_DONE ? KS_OK : KS_EIO;
    sqlite3_reset(st);
    portal_cache_bump(); /* a verification or an acknowledgement: cached claims are stale */
    return rc;
}

int portal_domain_set_verified(ks_store *s, int64_t account, const char *dom, const char *method)
{
    return domain_update(s, "UPDATE p_domains SET verified = ?4, method = ?3 WHERE account = ?1 AND dom_h = ?2",
                         account, dom, method, ks__wall_ns());
}

int portal_domain_ack(ks_store *s, int64_t account, const char *dom, int64_t batch)
{
    return domain_update(s, "UPDATE p_domains SET seen_batch = max(seen_batch, ?4) WHERE account = ?1"
                            " AND dom_h = ?2 AND ?3 IS NULL",
                         account, dom, NULL, batch);
}

int portal_domain_list(ks_store *s, int64_t account, portal_domain *out, size_t max, size_t *n)
{
    sqlite3_stmt *st = prep(s, "SELECT " DOMAIN_COLS " FROM p_domains WHERE account = ?1 LIMIT ?2");
    *n = 0;
    if (!st)
        return KS_EIO;
    sqlite3_bind_int64(st, 1, account);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    while (*n < max && sqlite3_step(st) == SQLITE_ROW)
        row_domain(s, st, &out[(*n)++]);
    sqlite3_reset(st);
    return KS_OK;
}
