/* SPDX-License-Identifier: Apache-2.0
 *
 * The audit log: one JSON line per request (when, from where, who, what,
 * the answer), appended with O_APPEND to a 0600 file that the portal
 * never truncates or rewrites. Each line carries the SHA-256 of the line
 * before it ("prev"), so a deleted or edited line breaks the chain where
 * it was (docs/PORTAL.md shows how to check it). Request bodies
 * (passwords, tokens) are never logged.
 *
 * Durability: a line is written (write(2), under the chain's lock) before
 * its answer leaves, so a killed portal never answered anything it did not
 * log. Getting it onto the disk is a group commit: a syncer thread calls
 * fdatasync at most every AUDIT_SYNC_NS when lines were added, one sync
 * covering every line since the last, so a power loss can lose at most the
 * lines of the last AUDIT_SYNC_NS plus one sync — and requests never wait
 * for the disk (an fsync per request capped the portal at the disk's
 * sync rate).
 */
#include <errno.h>
#include <time.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <sodium.h>
#include "httpd/portal.h"

#define AUDIT_SYNC_NS 10000000ll /* 10 ms */
#define HEAD_ROOM 32             /* {"seq":N with N up to 20 digits */

struct portal_audit {
    int fd;
    pthread_mutex_t mu;
    uint8_t prev[32];      /* hash of the last line written */
    uint64_t seq;          /* lines in the file */
    uint64_t synced;       /* seq covered by the last fdatasync */
    bool stop;             /* the syncer must end (under mu) */
    pthread_cond_t cv;     /* wakes the syncer: new lines or stop */
    pthread_t syncer;
    bool have_syncer;
    /* the chain's SHA-256 through OpenSSL (SHA extensions where the CPU
     * has them; libsodium's was a quarter of a line's cost), the digest
     * fetched once and the context reused under mu (the one-shot SHA256()
     * fetches and allocates per call: slower still) */
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

/* The group commit: sleeps until lines are added, syncs, then waits out
 * the rest of AUDIT_SYNC_NS so a burst shares one sync. */
static void *syncer(void *p)
{
    portal_audit *a = p;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (a->synced == a->seq) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        uint64_t upto = a->seq;
        pthread_mutex_unlock(&a->mu);
        fdatasync(a->fd);
        struct timespec ts = {0, AUDIT_SYNC_NS};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&a->mu);
        a->synced = upto;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Continues the chain of an existing log: hash of its last line. */
static void chain_tail(portal_audit *a)
{
    struct stat st;
    char buf[8192];
    if (fstat(a->fd, &st) != 0 || st.st_size == 0)
        return;
    off_t from = st.st_size > (off_t)sizeof buf ? st.st_size - (off_t)sizeof buf : 0;
    ssize_t n = pread(a->fd, buf, sizeof buf, from);
    if (n <= 1)
        return;
    size_t end = (size_t)n;
    if (buf[end - 1] == '\n')
        end--;
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    crypto_hash_sha256(a->prev, (const unsigned char *)buf + start, end - start);
    const char *s = strstr(buf + start, "\"seq\":");
    if (s)
        a->seq = strtoull(s + 6, NULL, 10);
}

int portal_audit_open(const char *path, portal_audit **out, char *err, size_t cap)
{
    portal_audit *a = calloc(1, sizeof *a);
    if (!a)
        return KS_ENOMEM;
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (a->fd < 0) {
        snprintf(err, cap, "cannot open the audit log %s: %s", path, strerror(errno));
        free(a);
        return KS_EIO;
    }
    if (!(a->md = EVP_MD_fetch(NULL, "SHA256", NULL)) || !(a->ctx = EVP_MD_CTX_new())) {
        snprintf(err, cap, "cannot set up SHA-256 for the audit log");
        EVP_MD_free(a->md);
        close(a->fd);
        free(a);
        return KS_EINTERNAL;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    chain_tail(a);
    a->synced = a->seq;
    a->have_syncer = pthread_create(&a->syncer, NULL, syncer, a) == 0;
    *out = a;
    return KS_OK;
}

void portal_audit_close(portal_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->have_syncer)
        pthread_join(a->syncer, NULL);
    fsync(a->fd);
    close(a->fd);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    EVP_MD_CTX_free(a->ctx);
    EVP_MD_free(a->md);
    free(a);
}

/* Decimal digits of v into out (20 bytes at least); returns the length. */
static size_t put_u64(char *out, uint64_t v)
{
    char t[20];
    size_t n = 0, k = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        out[k++] = t[--n];
    return k;
}

/* The line's time: the formatted second is kept per thread (it changes
 * once a second; formatting it was a tenth of a line's cost), the
 * fraction written as ks__time_format_sec does (trailing zeros trimmed in
 * groups of three). */
static void line_time(ks_buf *b, int64_t now)
{
    static __thread int64_t sec_cached = -1;
    static __thread char sec_text[32];
    static __thread size_t sec_n;
    int64_t sec = now / 1000000000;
    uint32_t ns = (uint32_t)(now % 1000000000);
    if (sec != sec_cached) {
        sec_n = ks__time_format_sec(sec, 0, sec_text, sizeof sec_text) - 1; /* without the Z */
        sec_cached = sec;
    }
    ks__buf_add(b, sec_text, sec_n);
    if (ns) {
        char f[11];
        int digits = 9;
        while (digits > 3 && ns % 1000 == 0) {
            ns /= 1000;
            digits -= 3;
        }
        f[0] = '.';
        for (int i = digits; i > 0; i--, ns /= 10)
            f[i] = (char)('0' + ns % 10);
        ks__buf_add(b, f, (size_t)digits + 1);
    }
    ks__buf_addc(b, 'Z');
}

static void add_field(ks_buf *b, const char *key, const char *v)
{
    ks__buf_adds(b, key);
    ks__buf_add_json_str(b, v ? v : "", v ? strlen(v) : 0);
}

int portal_audit_log(portal_audit *a, const char *ip, int64_t account, const char *method,
                      const char *path, const char *what, int status)
{
    ks_buf b = KS_BUF_INIT;
    char num[24], head[HEAD_ROOM];
    int rc = KS_EIO;
    if (!a)
        return KS_OK;
    /* everything but the sequence number and the chain link is written
     * before taking the lock: the lock covers the line's place in the
     * chain only, and the other server threads wait less. The line's
     * head ({"seq":N) goes into the room kept at the front. */
    memset(head, ' ', sizeof head);
    ks__buf_add(&b, head, sizeof head);
    ks__buf_adds(&b, ",\"time\":\"");
    line_time(&b, ks__wall_ns());
    add_field(&b, "\",\"ip\":\"", ip);
    if (account) {
        ks__buf_adds(&b, "\",\"account\":");
        ks__buf_add(&b, num, put_u64(num, (uint64_t)account));
        add_field(&b, ",\"method\":\"", method);
    } else {
        add_field(&b, "\",\"account\":null,\"method\":\"", method);
    }
    add_field(&b, "\",\"path\":\"", path);
    add_field(&b, "\",\"what\":\"", what);
    ks__buf_adds(&b, "\",\"status\":");
    ks__buf_add(&b, num, put_u64(num, (uint64_t)(status < 0 ? 0 : status)));
    ks__buf_adds(&b, ",\"prev\":\"");
    /* room for the link, the close and the newline, so nothing under the
     * lock allocates */
    if (!b.p || ks__buf_grow(&b, 64 + 3) != KS_OK) {
        ks__buf_release(&b);
        return KS_EIO;
    }
    uint8_t h[32];
    pthread_mutex_lock(&a->mu);
    memcpy(head, "{\"seq\":", 7);
    size_t nh = 7 + put_u64(head + 7, ++a->seq);
    char *line = b.p + HEAD_ROOM - nh;
    memcpy(line, head, nh);
    sodium_bin2hex(b.p + b.n, 65, a->prev, sizeof a->prev);
    b.n += 64;
    memcpy(b.p + b.n, "\"}\n", 4);
    b.n += 2;
    size_t len = (size_t)(b.p + b.n - line);
    if (EVP_DigestInit_ex2(a->ctx, a->md, NULL) == 1 && EVP_DigestUpdate(a->ctx, line, len) == 1 &&
        EVP_DigestFinal_ex(a->ctx, h, NULL) == 1 && write(a->fd, line, len + 1) == (ssize_t)(len + 1)) {
        memcpy(a->prev, h, sizeof h); /* the chain moves on only with a written line */
        rc = KS_OK;
        if (!a->have_syncer)
            fdatasync(a->fd); /* no syncer thread: sync each line */
        else if (a->synced + 1 == a->seq)
            pthread_cond_signal(&a->cv); /* the first line since the last sync */
    } else {
        a->seq--;
    }
    pthread_mutex_unlock(&a->mu);
    ks__buf_release(&b);
    return rc;
}
