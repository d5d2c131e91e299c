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
#include <sodium.h>
#include "httpd/portal.h"

#define AUDIT_SYNC_NS 10000000ll /* 10 ms */

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
    free(a);
}

int portal_audit_log(portal_audit *a, const char *ip, int64_t account, const char *method,
                      const char *path, const char *what, int status)
{
    ks_buf b = KS_BUF_INIT;
    char tb[64], prev[65];
    int64_t now = ks__wall_ns();
    int rc = KS_EIO;
    if (!a)
        return KS_OK;
    ks__time_format_sec(now / 1000000000, (uint32_t)(now % 1000000000), tb, sizeof tb);
    pthread_mutex_lock(&a->mu);
    sodium_bin2hex(prev, sizeof prev, a->prev, sizeof a->prev);
    ks__buf_printf(&b, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"ip\":\"", ++a->seq, tb);
    ks__buf_add_json_str(&b, ip ? ip : "", ip ? strlen(ip) : 0);
    if (account)
        ks__buf_printf(&b, "\",\"account\":%" PRId64 ",\"method\":\"", account);
    else
        ks__buf_adds(&b, "\",\"account\":null,\"method\":\"");
    ks__buf_add_json_str(&b, method ? method : "", method ? strlen(method) : 0);
    ks__buf_adds(&b, "\",\"path\":\"");
    ks__buf_add_json_str(&b, path ? path : "", path ? strlen(path) : 0);
    ks__buf_adds(&b, "\",\"what\":\"");
    ks__buf_add_json_str(&b, what ? what : "", what ? strlen(what) : 0);
    ks__buf_printf(&b, "\",\"status\":%d,\"prev\":\"%s\"}", status, prev);
    if (b.p) {
        uint8_t h[32];
        crypto_hash_sha256(h, (const unsigned char *)b.p, b.n);
        ks__buf_addc(&b, '\n');
        if (write(a->fd, b.p, b.n) == (ssize_t)b.n) {
            memcpy(a->prev, h, sizeof h); /* the chain moves on only with a written line */
            rc = KS_OK;
            if (!a->have_syncer)
                fdatasync(a->fd); /* no syncer thread: sync each line */
            else if (a->synced + 1 == a->seq)
                pthread_cond_signal(&a->cv); /* the first line since the last sync */
        } else {
            a->seq--;
        }
    }
    pthread_mutex_unlock(&a->mu);
    ks__buf_release(&b);
    return rc;
}
