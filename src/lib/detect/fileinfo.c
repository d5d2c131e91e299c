/* SPDX-License-Identifier: Apache-2.0
 *
 * File detector helpers (see fileinfo.h): one chunked read that feeds the
 * hashes and an optional per-chunk callback, magic-byte file types named
 * the way THOR/Loki rules expect them, hex, and the score scale.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <hs/hs.h>
#include "detect/fileinfo.h"

#define READ_CHUNK ((size_t)1 << 20)
#define MAP_SLICE ((size_t)256 << 10) /* hashed and passed on while in cache */

int ks__fread_init(ks_fread *r)
{
    r->buf = malloc(READ_CHUNK);
    r->cap = r->buf ? READ_CHUNK : 0;
    return r->buf ? KS_OK : KS_ENOMEM;
}

void ks__fread_release(ks_fread *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

typedef struct hashers {
    EVP_MD_CTX *ctx[3];  /* md5, sha1, sha256; NULL when not wanted */
} hashers;

static int hashers_init(hashers *h, unsigned want)
{
    const EVP_MD *mds[3] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 3; i++) {
        if (!(want & (1u << i)))
            continue;
        h->ctx[i] = EVP_MD_CTX_new();
        if (!h->ctx[i] || EVP_DigestInit_ex(h->ctx[i], mds[i], NULL) != 1)
            return KS_ENOMEM;
    }
    return KS_OK;
}

static void hashers_update(hashers *h, const uint8_t *p, size_t n)
{
    for (int i = 0; i < 3; i++)
        if (h->ctx[i])
            EVP_DigestUpdate(h->ctx[i], p, n);
}

static void hashers_final(hashers *h, ks_fhash *out)
{
    uint8_t *dst[3] = {out->md5, out->sha1, out->sha256};
    for (int i = 0; i < 3; i++) {
        if (!h->ctx[i])
            continue;
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(h->ctx[i], dst[i], &len) == 1)
            out->have |= 1u << i;
    }
}

static void hashers_release(hashers *h)
{
    for (int i = 0; i < 3; i++)
        EVP_MD_CTX_free(h->ctx[i]);
}

/* Hashes [p, p + n) and passes it to fn in slices, so that each slice is
 * still in the CPU's cache for the next digest and for fn. True when fn
 * asked to stop. */
static bool feed(hashers *h, ks_chunk_fn fn, void *ud, const uint8_t *p, size_t n, uint64_t *off)
{
    while (n > 0) {
        size_t k = KS_MIN(n, MAP_SLICE);
        hashers_update(h, p, k);
        if (fn && fn(ud, p, k, *off) != 0) {
            *off += k;
            return true;
        }
        *off += k;
        p += k;
        n -= k;
    }
    return false;
}

/* Streams a plain file too large to be read through its mapping
 * (KS_FREAD_MAP_MAX) with pread() into r's buffer; the file may have
 * grown or shrunk since it was opened: what is there is read. */
static int read_stream(ks_fread *r, const ks_file *f, hashers *h, ks_chunk_fn fn, void *ud,
                       uint64_t *off, bool *stopped, char *errbuf, size_t errcap)
{
    int fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc = KS_OK;
    if (fd < 0) {
        snprintf(errbuf, errcap, "cannot open: %s", strerror(errno));
        return (errno == EACCES || errno == EPERM) ? KS_EPERM : KS_EIO;
    }
    for (;;) {
        ssize_t got = pread(fd, r->buf, r->cap, (off_t)*off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = KS_EIO;
            snprintf(errbuf, errcap, "read error at offset %llu: %s", (unsigned long long)*off,
                     strerror(errno));
            break;
        }
        if (got == 0 || (*stopped = feed(h, fn, ud, r->buf, (size_t)got, off)))
            break;
    }
    close(fd);
    return rc;
}

int ks__file_read(ks_fread *r, const ks_file *f, unsigned want, ks_chunk_fn fn, void *ud,
                  ks_fhash *out, char *errbuf, size_t errcap)
{
    hashers h;
    int rc = KS_OK;
    uint64_t off = 0;
    bool stopped = false;

    memset(out, 0, sizeof *out);
    if (f->fh) {
        /* digests an earlier detector computed for this file are not
         * computed again, and with no chunk wanted nothing is read */
        want &= ~f->fh->have;
        if (!want && !fn) {
            *out = *f->fh;
            return KS_OK;
        }
    }
    rc = hashers_init(&h, want);
    if (rc != KS_OK) {
        snprintf(errbuf, errcap, "out of memory for hashing");
        goto out;
    }
    if (ks__file_streamed(f)) {
        rc = read_stream(r, f, &h, fn, ud, &off, &stopped, errbuf, errcap);
        if (rc != KS_OK)
            goto out;
    } else {
        /* The source's mapping (a compressed file, stdin or a blob spilled
         * or held whole): the bytes every file detector and libyara read,
         * faulted in once whoever reads them first. */
        const uint8_t *p = NULL;
        uint64_t total = 0;
        int mrc = ks__source_map(f->src, &p, &total);
        if (mrc != KS_OK) {
            rc = mrc;
            snprintf(errbuf, errcap, "cannot read: %s", ks_strerror(mrc));
            goto out;
        }
        stopped = feed(&h, fn, ud, p, (size_t)total, &off);
        if (ks__source_shrunk(f->src) < off) {
            /* Shrank under the mapping, which read zeros past its new end
             * (core/sigbus.c; the dispatcher reports the file): digests of
             * those zeros would name no file that ever was. */
            off = ks__source_shrunk(f->src);
            stopped = true;
        }
    }
    out->nread = off;
    if (!stopped)
        hashers_final(&h, out);
    if (f->fh) {
        ks__fhash_merge(f->fh, out);
        ks__fhash_merge(out, f->fh);
    }
out:
    hashers_release(&h);
    return rc;
}

bool ks__file_streamed(const ks_file *f)
{
    return ks__source_codec(f->src) == KS_CODEC_NONE && ks__source_stat(f->src) &&
           strcmp(f->path, "-") != 0 && ks__source_size(f->src) > KS_FREAD_MAP_MAX;
}

void ks__fhash_merge(ks_fhash *dst, const ks_fhash *src)
{
    unsigned add = src->have & ~dst->have;
    if (add & KS_FH_MD5)
        memcpy(dst->md5, src->md5, sizeof dst->md5);
    if (add & KS_FH_SHA1)
        memcpy(dst->sha1, src->sha1, sizeof dst->sha1);
    if (add & KS_FH_SHA256)
        memcpy(dst->sha256, src->sha256, sizeof dst->sha256);
    if (add)
        dst->nread = src->nread;
    dst->have |= add;
}

void ks__hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

bool ks__unhex(const char *s, size_t n2, uint8_t *out)
{
    if (n2 % 2)
        return false;
    for (size_t i = 0; i < n2; i += 2) {
        int a = ks__hexval(s[i]), b = ks__hexval(s[i + 1]);
        if (a < 0 || b < 0)
            return false;
        out[i / 2] = (uint8_t)(a << 4 | b);
    }
    return true;
}

void ks__file_ext(const char *name, char *out, size_t cap)
{
    const char *dot = strrchr(name, '.');
    size_t i = 0;
    out[0] = 0;
    if (!dot || dot == name || cap == 0)
        return;
    for (; dot[i] && i + 1 < cap; i++)
        out[i] = (char)((dot[i] >= 'A' && dot[i] <= 'Z') ? dot[i] + 32 : dot[i]);
    out[i] = 0;
}

typedef struct magic {
    const char *bytes;
    size_t n;
    const char *type;
} magic;

/* Names follow what community rules test (filetype == "EXE", "ELF", ...). */
static const magic magics[] = {
    {"MZ", 2, "EXE"},
    {"\x7f" "ELF", 4, "ELF"},
    {"PK\x03\x04", 4, "ZIP"},
    {"%PDF", 4, "PDF"},
    {"\x1f\x8b", 2, "GZIP"},
    {"\xd0\xcf\x11\xe0", 4, "OLE"},
    {"{\\rtf", 5, "RTF"},
    {"\xff\xd8\xff", 3, "JPEG"},
    {"\x89PNG", 4, "PNG"},
    {"GIF8", 4, "GIF"},
    {"MDMP", 4, "MDMP"},
    {"\xfe\xed\xfa\xce", 4, "MACH-O"},
    {"\xfe\xed\xfa\xcf", 4, "MACH-O"},
    {"\xcf\xfa\xed\xfe", 4, "MACH-O"},
    {"\xce\xfa\xed\xfe", 4, "MACH-O"},
    {"\xca\xfe\xba\xbe", 4, "CLASS"},
    {"Rar!", 4, "RAR"},
    {"7z\xbc\xaf", 4, "7Z"},
    {"\x28\xb5\x2f\xfd", 4, "ZSTD"},
};

typedef struct ext_type {
    const char *ext;
    const char *type;
} ext_type;

static const ext_type ext_types[] = {
    {".php", "PHP"},  {".phtml", "PHP"}, {".php5", "PHP"},  {".jsp", "JSP"},
    {".jspx", "JSP"}, {".asp", "ASP"},   {".aspx", "ASP"},  {".ashx", "ASP"},
    {".asmx", "ASP"}, {".ps1", "PowerShell"}, {".vbs", "VBS"}, {".bat", "BATCH"},
    {".cmd", "BATCH"}, {".py", "Python"},
};

const char *ks__file_type(const uint8_t *head, size_t n, const char *ext)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(magics); i++)
        if (n >= magics[i].n && memcmp(head, magics[i].bytes, magics[i].n) == 0)
            return magics[i].type;
    /* Script kinds: content first (shells are often saved as .txt), then the
     * extension. */
    const char *h = (const char *)head;
    if (ks__memmem_ci(h, n, "<?php", 5))
        return "PHP";
    if (ks__memmem_ci(h, n, "<%@ page", 8) && ks__memmem_ci(h, n, "import=", 7))
        return "JSP";
    if (ks__memmem_ci(h, n, "<%@", 3) || ks__memmem_ci(h, n, "runat=\"server\"", 14))
        return "ASP";
    for (size_t i = 0; i < KS_ARRAY_LEN(ext_types); i++)
        if (strcmp(ext, ext_types[i].ext) == 0)
            return ext_types[i].type;
    return "";
}

ks_severity ks__score_severity(int64_t score)
{
    if (score >= 90)
        return KS_SEV_CRITICAL;
    if (score >= 70)
        return KS_SEV_HIGH;
    if (score >= 50)
        return KS_SEV_MEDIUM;
    if (score >= 30)
        return KS_SEV_LOW;
    return KS_SEV_INFO;
}

int ks__hspats_init(ks_hspats *p, size_t cap, bool with_lens)
{
    memset(p, 0, sizeof *p);
    p->exprs = calloc(cap, sizeof *p->exprs);
    p->flags = calloc(cap, sizeof *p->flags);
    p->ids = calloc(cap, sizeof *p->ids);
    if (with_lens)
        p->lens = calloc(cap, sizeof *p->lens);
    if (!p->exprs || !p->flags || !p->ids || (with_lens && !p->lens)) {
        ks__hspats_release(p);
        return KS_ENOMEM;
    }
    return KS_OK;
}

void ks__hspats_release(ks_hspats *p)
{
    free(p->exprs);
    free(p->flags);
    free(p->ids);
    free(p->lens);
    memset(p, 0, sizeof *p);
}

int ks__hs_compile_dropping(const char **exprs, unsigned *flags, unsigned *ids, unsigned *n,
                            unsigned mode, void (*drop)(void *ud, unsigned id), void *ud,
                            struct hs_database **db)
{
    *db = NULL;
    while (*n > 0) {
        hs_compile_error_t *cerr = NULL;
        if (hs_compile_multi(exprs, flags, ids, *n, mode, NULL, db, &cerr) == HS_SUCCESS)
            return KS_OK;
        int bad = cerr ? cerr->expression : -1;
        hs_free_compile_error(cerr);
        if (bad < 0 || (unsigned)bad >= *n)
            return KS_EINTERNAL;
        drop(ud, ids[bad]);
        size_t rest = *n - (unsigned)bad - 1;
        memmove(&exprs[bad], &exprs[bad + 1], rest * sizeof *exprs);
        memmove(&flags[bad], &flags[bad + 1], rest * sizeof *flags);
        memmove(&ids[bad], &ids[bad + 1], rest * sizeof *ids);
        (*n)--;
    }
    return KS_OK;
}

/* ---- compiled-rule caches ------------------------------------------------------ */

const char *ks__cache_dir(const ks_engine *e, char *buf, size_t cap)
{
    const char *v = ks__opt(e, "yara.cache_dir");
    if (v)
        return v[0] ? v : NULL;
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && x[0]) {
        snprintf(buf, cap, "%s/kensa", x);
        return buf;
    }
    const char *h = getenv("HOME");
    if (h && h[0]) {
        snprintf(buf, cap, "%s/.cache/kensa", h);
        return buf;
    }
    return "build/cache";
}

void ks__cache_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            mkdir(tmp, 0700);
            tmp[i] = c;
        }
    }
}

void ks__cache_tmp(char *tmp, size_t cap, const char *path)
{
    snprintf(tmp, cap, "%s.%d" KS_CACHE_TMP_SUFFIX, path, (int)getpid());
}

bool ks__cache_commit(FILE *fp, bool ok, const char *tmp, const char *path)
{
    if (fp && fclose(fp) != 0)
        ok = false;
    if (ok && rename(tmp, path) == 0)
        return true;
    unlink(tmp);
    return false;
}

void ks__cache_prune(const char *dir, const char *prefix, const char *suffix, size_t keep)
{
    DIR *d = opendir(dir);
    struct {
        char name[256];
        time_t t;
    } v[64];
    size_t nv = 0, pl = strlen(prefix), sl = strlen(suffix);
    struct dirent *de;
    struct stat st;
    if (!d)
        return;
    while ((de = readdir(d)) && nv < KS_ARRAY_LEN(v)) {
        size_t nl = strlen(de->d_name);
        if (strncmp(de->d_name, prefix, pl) || nl < pl + sl || nl >= sizeof v[0].name ||
            strcmp(de->d_name + nl - sl, suffix) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        memcpy(v[nv].name, de->d_name, nl + 1);
        v[nv++].t = st.st_mtime;
    }
    while (nv > keep) { /* drop the oldest */
        size_t o = 0;
        for (size_t i = 1; i < nv; i++)
            if (v[i].t < v[o].t)
                o = i;
        unlinkat(dirfd(d), v[o].name, 0);
        v[o] = v[--nv];
    }
    closedir(d);
}

const char *ks__cache_map(const char *path, size_t *len)
{
    struct stat st;
    void *m = MAP_FAILED;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= SIZE_MAX)
        m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    *len = (size_t)st.st_size;
    return m;
}

void ks__cache_unmap(const char *p, size_t len)
{
    if (p)
        munmap((void *)p, len);
}
