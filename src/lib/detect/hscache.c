/* SPDX-License-Identifier: Apache-2.0
 *
 * Compiled Vectorscan databases kept between runs: the one mechanism the
 * secret rules, the IOC file-name rules and Sigma's literal prefilter use
 * (issue 21: start-up beside its floor). Compiling the bundled secret
 * rules takes about two CPU seconds, the literals of every SigmaHQ rule
 * about half a second, at the start of every hunt; a serialized database
 * loads in milliseconds.
 *
 * An entry is keyed by the SHA-256 of everything its compiler was given
 * (the caller feeds it through ks__hskey_add), the entry format, kensa's
 * and Vectorscan's versions: changed rules, another build or another
 * library never meet an old entry. It lives in the compiled-rule cache
 * directory (ks__cache_dir, shared with YARA) as "<kind>-<key>.hs":
 *
 *   magic, u32 nids, nids x u32, u32 ndbs, ndbs x (u64 length, bytes)
 *
 * The ids mean what the caller says (the rules the database answers for,
 * or the expressions the compiler refused); a zero length is a NULL
 * database. Written through ks__cache_tmp/ks__cache_commit, so a reader
 * never sees half an entry; hs_deserialize_database refuses a damaged
 * database or one built for another CPU feature set, and any failure to
 * read an entry only means compiling. Each kind keeps its newest
 * `keep` option entries (a load refreshes the entry's time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <hs/hs.h>
#include <openssl/evp.h>
#include "detect/fileinfo.h"

#define HSC_MAGIC "KSHSDB2\n"
#define HSC_MAX_DB ((uint64_t)256 << 20)
#define HSC_MAX_DBS 4096u

const ks_hscache_kind ks_hscache_secrets = {"secrets-", "secrets.cache", "secrets.cache_keep"};
/* the secret rules' pattern analysis (no database: its numbers as the ids) */
const ks_hscache_kind ks_hscache_secinfo = {"secinfo-", "secrets.cache", "secrets.cache_keep"};
const ks_hscache_kind ks_hscache_ioc = {"ioc-", "yara.cache", "yara.cache_keep"};
const ks_hscache_kind ks_hscache_sigma = {"sigma-pre-", "sigma.cache", "sigma.cache_keep"};

/* ---- keys ------------------------------------------------------------------- */

bool ks__hskey_init(ks_hskey *k, const ks_engine *e, const ks_hscache_kind *kind)
{
    char ver[200];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    if (!e || !ks__opt_bool(e, kind->on_opt) ||
        !(k->dir = ks__cache_dir(e, k->dirbuf, sizeof k->dirbuf)))
        return false;
    k->e = e;
    k->ctx = EVP_MD_CTX_new();
    k->ok = k->ctx && EVP_DigestInit_ex(k->ctx, EVP_sha256(), NULL) == 1;
    snprintf(ver, sizeof ver, "%s%s kensa %s vectorscan %s", HSC_MAGIC, kind->prefix,
             KENSA_VERSION, hs_version());
    ks__hskey_add(k, ver, strlen(ver) + 1);
    return k->ok;
}

void ks__hskey_add(ks_hskey *k, const void *p, size_t n)
{
    if (k->ok && n)
        k->ok = EVP_DigestUpdate(k->ctx, p, n) == 1;
}

void ks__hskey_str(ks_hskey *k, const char *s)
{
    ks__hskey_add(k, s, strlen(s) + 1);
}

bool ks__hskey_final(ks_hskey *k)
{
    uint8_t dig[32];
    char key[65];
    bool ok = k->ok && EVP_DigestFinal_ex(k->ctx, dig, NULL) == 1;
    EVP_MD_CTX_free(k->ctx);
    k->ctx = NULL;
    k->ok = false;
    if (!ok)
        return false;
    ks__hex(dig, 32, key);
    int w = snprintf(k->path, sizeof k->path, "%s/%s%s.hs", k->dir, k->kind->prefix, key);
    k->ok = w > 0 && (size_t)w < sizeof k->path;
    return k->ok;
}

void ks__hskey_release(ks_hskey *k)
{
    EVP_MD_CTX_free(k->ctx);
    k->ctx = NULL;
    k->ok = false;
}

/* ---- entries ------------------------------------------------------------------ */

/* The entry is mapped, not read into a malloc'd buffer: freeing a buffer
 * of megabytes raises glibc's mmap threshold for the rest of the run, and
 * a hunt's peak RSS grew by 40 MB with it. */
bool ks__hscache_load(const ks_hskey *k, uint32_t maxids, uint32_t **ids, uint32_t *nids,
                      size_t ndb, struct hs_database **dbs)
{
    const char *m = NULL;
    size_t len = 0, at = sizeof HSC_MAGIC - 1, got = 0;
    uint32_t n = 0, nd = 0, *v = NULL;
    bool ok = false;
    if (!k->ok || !(m = ks__cache_map(k->path, &len)))
        return false;
    if (len < at + 4 || memcmp(m, HSC_MAGIC, at))
        goto out;
    memcpy(&n, m + at, 4);
    at += 4;
    if (n > maxids || (len - at) / 4 < n || !(v = malloc((n ? n : 1) * sizeof *v)))
        goto out;
    memcpy(v, m + at, (size_t)n * 4);
    at += (size_t)n * 4;
    if (len - at < 4)
        goto out;
    memcpy(&nd, m + at, 4);
    at += 4;
    if (nd != ndb || nd > HSC_MAX_DBS)
        goto out;
    for (; got < ndb; got++) {
        uint64_t dl = 0;
        dbs[got] = NULL;
        if (len - at < 8)
            goto out;
        memcpy(&dl, m + at, 8);
        at += 8;
        if (dl > HSC_MAX_DB || dl > len - at)
            goto out;
        if (dl && hs_deserialize_database(m + at, (size_t)dl, &dbs[got]) != HS_SUCCESS) {
            dbs[got] = NULL;
            goto out;
        }
        at += (size_t)dl;
    }
    ok = at == len;
out:
    ks__cache_unmap(m, len);
    if (!ok) {
        for (size_t i = 0; i < got && i < ndb; i++) {
            hs_free_database(dbs[i]);
            dbs[i] = NULL;
        }
        free(v);
        return false;
    }
    utimes(k->path, NULL); /* recently used: kept by the pruning */
    if (ids)
        *ids = v;
    else
        free(v);
    if (nids)
        *nids = n;
    return true;
}

void ks__hscache_save(const ks_hskey *k, const uint32_t *ids, uint32_t nids, size_t ndb,
                      struct hs_database *const *dbs)
{
    char tmp[4200];
    uint32_t nd = (uint32_t)ndb;
    if (!k->ok || ndb > HSC_MAX_DBS)
        return;
    ks__cache_mkdirs(k->dir);
    ks__cache_tmp(tmp, sizeof tmp, k->path);
    FILE *fp = fopen(tmp, "wb");
    bool ok = fp && fwrite(HSC_MAGIC, 1, sizeof HSC_MAGIC - 1, fp) == sizeof HSC_MAGIC - 1 &&
              fwrite(&nids, sizeof nids, 1, fp) == 1 && fwrite(ids, sizeof *ids, nids, fp) == nids &&
              fwrite(&nd, sizeof nd, 1, fp) == 1;
    for (size_t i = 0; ok && i < ndb; i++) {
        char *bytes = NULL;
        size_t len = 0;
        if (dbs[i] && hs_serialize_database(dbs[i], &bytes, &len) != HS_SUCCESS)
            ok = false;
        uint64_t l64 = len;
        ok = ok && fwrite(&l64, sizeof l64, 1, fp) == 1 && fwrite(bytes, 1, len, fp) == len;
        free(bytes); /* hs_serialize_database allocates with libc's allocator */
    }
    if (fp || ok)
        ks__cache_commit(fp, ok, tmp, k->path);
    int64_t keep = ks__opt_int(k->e, k->kind->keep_opt);
    ks__cache_prune(k->dir, k->kind->prefix, ".hs", keep > 0 ? (size_t)keep : 1);
}

/* ---- compile through the cache ------------------------------------------------------- */

typedef struct dropper {
    void (*drop)(void *ud, unsigned id);
    void *ud;
    uint32_t *ids;  /* refused ids, in order */
    uint32_t n, cap;
    bool failed;    /* out of memory: not cached */
} dropper;

static void record_drop(void *ud, unsigned id)
{
    dropper *dr = ud;
    if (dr->n == dr->cap) {
        uint32_t nc = dr->cap ? 2 * dr->cap : 64;
        uint32_t *v = realloc(dr->ids, nc * sizeof *v);
        if (!v)
            dr->failed = true;
        else {
            dr->ids = v;
            dr->cap = nc;
        }
    }
    if (dr->n < dr->cap)
        dr->ids[dr->n++] = id;
    dr->drop(dr->ud, id);
}

/* Removes id from the arrays, as a compiling run does when it drops it. */
static void remove_id(const char **exprs, unsigned *flags, unsigned *ids, unsigned *n, unsigned id)
{
    for (unsigned i = 0; i < *n; i++)
        if (ids[i] == id) {
            size_t rest = *n - i - 1;
            memmove(&exprs[i], &exprs[i + 1], rest * sizeof *exprs);
            memmove(&flags[i], &flags[i + 1], rest * sizeof *flags);
            memmove(&ids[i], &ids[i + 1], rest * sizeof *ids);
            (*n)--;
            return;
        }
}

/* True when every refused id is among ids[0..n). */
static bool ids_present(const unsigned *ids, unsigned n, const uint32_t *refused, uint32_t nref)
{
    for (uint32_t r = 0; r < nref; r++) {
        unsigned i = 0;
        while (i < n && ids[i] != refused[r])
            i++;
        if (i == n)
            return false;
    }
    return true;
}

int ks__hs_compile_cached(const ks_engine *e, const ks_hscache_kind *kind, const char **exprs,
                          unsigned *flags, unsigned *ids, unsigned *n, unsigned mode,
                          void (*drop)(void *ud, unsigned id), void *ud, struct hs_database **db,
                          bool *cached)
{
    ks_hskey k;
    uint32_t *refused = NULL, nref = 0;
    dropper dr = {.drop = drop, .ud = ud};
    int rc;
    if (cached)
        *cached = false;
    if (ks__hskey_init(&k, e, kind) && *n) {
        uint32_t m[2] = {mode, *n};
        ks__hskey_add(&k, m, sizeof m);
        for (unsigned i = 0; i < *n; i++) {
            uint32_t fi[2] = {flags[i], ids[i]};
            ks__hskey_add(&k, fi, sizeof fi);
            ks__hskey_str(&k, exprs[i]);
        }
        ks__hskey_final(&k);
    } else
        ks__hskey_release(&k);
    if (k.ok && ks__hscache_load(&k, *n, &refused, &nref, 1, db)) {
        if (ids_present(ids, *n, refused, nref)) {
            /* replay what the compiling run refused: the caller ends in the same state */
            for (uint32_t i = 0; i < nref; i++) {
                remove_id(exprs, flags, ids, n, refused[i]);
                drop(ud, refused[i]);
            }
            free(refused);
            if (cached)
                *cached = true;
            return KS_OK;
        }
        hs_free_database(*db); /* not this entry's expressions: compiled again */
        free(refused);
    }
    rc = ks__hs_compile_dropping(exprs, flags, ids, n, mode, k.ok ? record_drop : drop,
                                 k.ok ? (void *)&dr : ud, db);
    if (rc == KS_OK && k.ok && !dr.failed)
        ks__hscache_save(&k, dr.ids, dr.n, 1, db);
    free(dr.ids);
    return rc;
}
