/* SPDX-License-Identifier: Apache-2.0
 *
 * Evidence streams (see source.h). Plain files are mmap()ed read-only and
 * handed out zero-copy; pages behind the reader are dropped with
 * MADV_DONTNEED so the resident set stays bounded on files larger than RAM.
 * gzip (zlib, concatenated members) and zstd streams and stdin go through a
 * sliding window buffer that grows only up to KS_WINDOW_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include "source.h"

#define RAW_CHUNK ((size_t)1 << 17)        /* compressed bytes per read */
#define DONTNEED_STEP ((uint64_t)8 << 20) /* drop mapped pages every 8 MiB */
#define SPILL_MAX ((uint64_t)64 << 30)     /* largest spill when no budget says */
#define READ_WINDOW ((size_t)128 << 10)    /* buffer of a file read by pread (reads mode) */

struct ks_source {
    char *path;            /* owned copy, for diagnostics */
    int fd;                /* -1 for memory sources */
    bool own_fd;           /* close fd on close (not stdin) */
    struct stat st;
    bool have_st;
    ks_codec codec;

    /* whole content in memory (mmap, borrowed memory, or spilled stream) */
    const uint8_t *map;
    uint64_t size;
    bool is_mapped;        /* map came from mmap and must be unmapped */
    bool file_map;         /* map is fd's own content (a plain file, not a spill) */
    int guard;             /* SIGBUS guard slot of the mapping, -1 = none */
    bool whole;            /* map/size describe the entire stream */
    uint64_t dropped;      /* mapped bytes before this were MADV_DONTNEED'd */
    bool reads;            /* windows of the mapped file come from pread into buf
                              (ks__source_use_reads), not from the mapping */
    uint64_t short_at;     /* a pread ended before size here (the file shrank or
                              failed), UINT64_MAX = never */

    /* stream window: buf holds bytes [base, base + len) */
    uint8_t *buf;
    size_t cap;
    uint64_t base;
    size_t len;
    uint64_t released;
    bool eof;              /* decompressor reached the end (or failed) */
    int err;               /* sticky read/decode error */

    /* raw (compressed) input */
    uint8_t *raw;
    size_t raw_len, raw_pos;
    bool raw_eof;
    z_stream z;
    bool z_init;
    ZSTD_DStream *zs;

    uint8_t head[KS_HEAD_MAX];
    size_t nhead;
    bool have_head;

    /* budgets (compressed streams) */
    ks_source_budget budget;
    uint64_t nin, nout;    /* compressed bytes read, decompressed produced */
    char why[192];         /* set when a budget stopped the stream */
};

static ks_codec sniff_codec(const uint8_t *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return KS_CODEC_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return KS_CODEC_ZSTD;
    return KS_CODEC_NONE;
}

static int fill_raw(ks_source *s)
{
    if (s->raw_pos < s->raw_len || s->raw_eof)
        return KS_OK;
    ssize_t r;
    do {
        r = read(s->fd, s->raw, RAW_CHUNK);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return KS_EIO;
    s->raw_len = (size_t)r;
    s->raw_pos = 0;
    s->nin += (uint64_t)r;
    if (r == 0)
        s->raw_eof = true;
    return KS_OK;
}

/* Appends up to `room` decoded bytes at dst; returns bytes produced (0 at
 * end of stream or on error, which is recorded in s->err). */
static size_t decode(ks_source *s, uint8_t *dst, size_t room)
{
    size_t out = 0;
    while (out < room && !s->eof) {
        if (fill_raw(s) != KS_OK) {
            s->err = KS_EIO;
            s->eof = true;
            break;
        }
        size_t avail = s->raw_len - s->raw_pos;
        if (s->codec == KS_CODEC_NONE) {
            if (avail == 0) {
                s->eof = true;
                break;
            }
            size_t k = KS_MIN(avail, room - out);
            memcpy(dst + out, s->raw + s->raw_pos, k);
            s->raw_pos += k;
            out += k;
        } else if (s->codec == KS_CODEC_GZIP) {
            if (avail == 0 && s->raw_eof) {
                /* A clean end is only after Z_STREAM_END (z_init reset). */
                if (s->z_init && s->z.total_in)
                    s->err = KS_ETRUNCATED;
                s->eof = true;
                break;
            }
            s->z.next_in = s->raw + s->raw_pos;
            s->z.avail_in = (uInt)avail;
            s->z.next_out = dst + out;
            s->z.avail_out = (uInt)KS_MIN(room - out, (size_t)UINT32_MAX);
            int zr = inflate(&s->z, Z_NO_FLUSH);
            size_t used = avail - s->z.avail_in;
            size_t made = (size_t)(s->z.next_out - (dst + out));
            s->raw_pos += used;
            out += made;
            if (zr == Z_STREAM_END) {
                /* Concatenated members (gzip -c a b > c) keep going. */
                inflateReset(&s->z);
                s->z.total_in = 0;
                if (fill_raw(s) != KS_OK || (s->raw_pos >= s->raw_len && s->raw_eof)) {
                    s->eof = true;
                    break;
                }
            } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
                s->err = KS_EFORMAT;
                s->eof = true;
                break;
            } else if (made == 0 && used == 0 && s->raw_eof) {
                s->err = KS_ETRUNCATED;
                s->eof = true;
                break;
            }
        } else {
            if (avail == 0 && s->raw_eof) {
                s->eof = true;
                break;
            }
            ZSTD_inBuffer in = {s->raw + s->raw_pos, avail, 0};
            ZSTD_outBuffer ob = {dst + out, room - out, 0};
            size_t zr = ZSTD_decompressStream(s->zs, &ob, &in);
            if (ZSTD_isError(zr)) {
                s->err = KS_EFORMAT;
                s->eof = true;
                break;
            }
            s->raw_pos += in.pos;
            out += ob.pos;
            if (in.pos == 0 && ob.pos == 0 && s->raw_eof) {
                if (zr != 0)
                    s->err = KS_ETRUNCATED;
                s->eof = true;
                break;
            }
        }
    }
    return out;
}

static int source_alloc(const char *path, ks_source **out)
{
    ks_source *s = calloc(1, sizeof *s);
    if (!s)
        return KS_ENOMEM;
    s->fd = -1;
    s->guard = -1;
    s->short_at = UINT64_MAX;
    s->path = strdup(path ? path : "");
    if (!s->path) {
        free(s);
        return KS_ENOMEM;
    }
    *out = s;
    return KS_OK;
}

static int start_stream(ks_source *s, const uint8_t *pre, size_t npre)
{
    s->raw = malloc(RAW_CHUNK);
    if (!s->raw)
        return KS_ENOMEM;
    memcpy(s->raw, pre, npre);
    s->raw_len = npre;
    s->codec = sniff_codec(pre, npre);
    if (s->codec == KS_CODEC_GZIP) {
        memset(&s->z, 0, sizeof s->z);
        if (inflateInit2(&s->z, 15 + 32) != Z_OK)
            return KS_ENOMEM;
        s->z_init = true;
    } else if (s->codec == KS_CODEC_ZSTD) {
        s->zs = ZSTD_createDStream();
        if (!s->zs)
            return KS_ENOMEM;
        ZSTD_initDStream(s->zs);
    }
    return KS_OK;
}

/* stdin or a pipe: the first bytes decide the codec. */
static int start_pipe(ks_source *s)
{
    uint8_t magic[4];
    size_t got = 0;
    while (got < sizeof magic) {
        ssize_t r = read(s->fd, magic + got, sizeof magic - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return start_stream(s, magic, got);
}

int ks__source_open(int dirfd, const char *name, const char *path, ks_source **out,
                    char *errbuf, size_t errcap)
{
    ks_source *s = NULL;
    uint8_t magic[4];
    ssize_t nm;
    int rc = source_alloc(path, &s);
    if (rc)
        return rc;
    if (strcmp(path, "-") == 0 && (!name || strcmp(name, "-") == 0)) {
        s->fd = STDIN_FILENO;
    } else {
        s->fd = openat(dirfd, name ? name : path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (s->fd < 0) {
            rc = errno == EACCES || errno == EPERM ? KS_EPERM
                 : errno == ENOENT                 ? KS_ENOTFOUND
                                                   : KS_EIO;
            snprintf(errbuf, errcap, "cannot open: %s", strerror(errno));
            goto fail;
        }
        s->own_fd = true;
        if (fstat(s->fd, &s->st) != 0) {
            snprintf(errbuf, errcap, "cannot stat: %s", strerror(errno));
            rc = KS_EIO;
            goto fail;
        }
        s->have_st = true;
        if (!S_ISREG(s->st.st_mode) && !S_ISFIFO(s->st.st_mode)) {
            snprintf(errbuf, errcap, "not a regular file");
            rc = KS_EUNSUPPORTED;
            goto fail;
        }
        /* O_NONBLOCK only protected the open from FIFOs; read normally. */
        fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
    }
    if (s->have_st && S_ISREG(s->st.st_mode)) {
        nm = pread(s->fd, magic, sizeof magic, 0);
        if (nm < 0) {
            snprintf(errbuf, errcap, "cannot read: %s", strerror(errno));
            rc = KS_EIO;
            goto fail;
        }
        if (sniff_codec(magic, (size_t)nm) == KS_CODEC_NONE) {
            s->size = (uint64_t)s->st.st_size;
            s->whole = true;
            if (s->size) {
                void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, s->fd, 0);
                if (m == MAP_FAILED) {
                    snprintf(errbuf, errcap, "cannot map: %s", strerror(errno));
                    rc = KS_EIO;
                    goto fail;
                }
                madvise(m, s->size, MADV_SEQUENTIAL);
                s->map = m;
                s->is_mapped = true;
                s->file_map = true;
                s->guard = ks__guard_add(m, s->size);
            }
            *out = s;
            return KS_OK;
        }
        if ((rc = start_stream(s, magic, (size_t)nm)) != KS_OK)
            goto fail;
        if (lseek(s->fd, nm, SEEK_SET) < 0) {
            rc = KS_EIO;
            goto fail;
        }
    } else if ((rc = start_pipe(s)) != KS_OK) {
        goto fail;
    }
    *out = s;
    return KS_OK;
fail:
    ks__source_close(s);
    return rc;
}

int ks__source_fdopen(int fd, const char *path, ks_source **out)
{
    ks_source *s = NULL;
    int rc = source_alloc(path, &s);
    if (rc) {
        close(fd);
        return rc;
    }
    s->fd = fd;
    s->own_fd = true;
    if ((rc = start_pipe(s)) != KS_OK) {
        ks__source_close(s);
        return rc;
    }
    *out = s;
    return KS_OK;
}

int ks__source_mem(const void *p, size_t n, const char *path, ks_source **out)
{
    ks_source *s = NULL;
    int rc = source_alloc(path, &s);
    if (rc)
        return rc;
    s->map = p;
    s->size = n;
    s->whole = true;
    *out = s;
    return KS_OK;
}

void ks__source_close(ks_source *s)
{
    if (!s)
        return;
    ks__guard_remove(s->guard);
    if (s->is_mapped && s->map)
        munmap((void *)s->map, s->size);
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    if (s->z_init)
        inflateEnd(&s->z);
    if (s->zs)
        ZSTD_freeDStream(s->zs);
    free(s->raw);
    free(s->buf);
    free(s->path);
    free(s);
}

void ks__source_set_budget(ks_source *s, const ks_source_budget *b)
{
    s->budget = *b;
}

const char *ks__source_stopped(const ks_source *s) { return s->why[0] ? s->why : NULL; }
uint64_t ks__source_produced(const ks_source *s) { return s->nout; }

static const char *human(uint64_t n, char *buf, size_t cap)
{
    static const char units[] = "BKMGTP";
    int u = 0;
    while (n >= 1024 && u < 5 && n % 1024 == 0) {
        n /= 1024;
        u++;
    }
    snprintf(buf, cap, "%llu%c", (unsigned long long)n, units[u]);
    return buf;
}

/* Counts `got` new decompressed bytes; stops the stream (KS_ELIMIT, with
 * the reason in s->why) when a budget is spent. */
static void spend(ks_source *s, size_t got)
{
    const ks_source_budget *b = &s->budget;
    char h1[32], h2[32];
    uint64_t run = 0;
    if (s->codec == KS_CODEC_NONE || !got)
        return;
    s->nout += got;
    if (b->run_out)
        run = __atomic_add_fetch(b->run_out, got, __ATOMIC_RELAXED);
    if (b->max_out && s->nout > b->max_out)
        snprintf(s->why, sizeof s->why, "decompressed size over source.max_decompressed (%s)",
                 human(b->max_out, h1, sizeof h1));
    else if (b->max_ratio > 0 && s->nout > b->ratio_floor &&
             (double)s->nout > b->max_ratio * (double)KS_MAX(s->nin, (uint64_t)1))
        snprintf(s->why, sizeof s->why,
                 "decompression ratio over source.max_ratio (%.0f: %s from %s compressed; a "
                 "decompression bomb?)", b->max_ratio, human(s->nout, h1, sizeof h1),
                 human(s->nin, h2, sizeof h2));
    else if (b->run_max && run > b->run_max)
        snprintf(s->why, sizeof s->why, "the run's decompressed bytes over "
                 "source.max_run_decompressed (%s)", human(b->run_max, h1, sizeof h1));
    if (s->why[0]) {
        s->err = KS_ELIMIT;
        s->eof = true;
    }
}

const char *ks__source_path(const ks_source *s) { return s->path; }
ks_codec ks__source_codec(const ks_source *s) { return s->codec; }
uint64_t ks__source_size(const ks_source *s) { return s->whole ? s->size : UINT64_MAX; }
const struct stat *ks__source_stat(const ks_source *s) { return s->have_st ? &s->st : NULL; }
uint64_t ks__source_shrunk(const ks_source *s)
{
    return KS_MIN(ks__guard_fault(s->guard), s->short_at);
}

void ks__source_use_reads(ks_source *s)
{
    if (s->file_map)
        s->reads = true;
}

/* The window of a file in reads mode: the bytes are copied into buf by
 * pread. The first touch of each page of a mapping is a page fault, and
 * on this kind of host the faults cost more than the copy from the page
 * cache (the EVTX reader measured the same: commit "evtx: chunks read by
 * pread"). buf holds [base, base + len); a window inside it is handed out
 * as it stands, any other keeps the bytes from off on, moves them to the
 * front and reads behind them up to the buffer's size, so a reader moving
 * forward a line at a time copies each byte once more at most. A pread
 * that ends before the size the file had when opened means it shrank (or
 * failed): the stream ends there and ks__source_shrunk says where, as it
 * does for a mapping that faulted. */
static int read_window(ks_source *s, uint64_t off, size_t want, const uint8_t **p, size_t *avail)
{
    uint64_t end = KS_MIN(s->size, s->short_at);
    if (off >= end) {
        *p = (const uint8_t *)"";
        *avail = 0;
        return s->err && want ? s->err : KS_OK;
    }
    size_t need = (size_t)KS_MIN((uint64_t)want, end - off);
    if (off < s->base || off + need > s->base + s->len) {
        size_t keep = 0;
        if (off >= s->base && off < s->base + s->len) {
            keep = (size_t)(s->base + s->len - off);
            memmove(s->buf, s->buf + (off - s->base), keep);
        }
        s->base = off;
        s->len = keep;
        if (need > s->cap || !s->buf) {
            size_t ncap = s->cap ? s->cap : READ_WINDOW;
            while (ncap < need)
                ncap *= 2;
            uint8_t *nb = realloc(s->buf, ncap);
            if (!nb)
                return KS_ENOMEM;
            s->buf = nb;
            s->cap = ncap;
        }
        while (s->len < need) {
            uint64_t at = s->base + s->len;
            size_t room = (size_t)KS_MIN((uint64_t)(s->cap - s->len), end - at);
            ssize_t r = pread(s->fd, s->buf + s->len, room, (off_t)at);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                s->short_at = at;
                if (r < 0)
                    s->err = KS_EIO;
                break;
            }
            s->len += (size_t)r;
        }
    }
    *p = s->buf + (off - s->base);
    *avail = (size_t)(s->base + s->len - off);
    return s->err && *avail < want ? s->err : KS_OK;
}

const uint8_t *ks__source_head(ks_source *s, size_t *n)
{
    if (!s->have_head) {
        const uint8_t *p;
        size_t avail = 0;
        if (s->whole) {
            s->nhead = (size_t)KS_MIN(s->size, (uint64_t)KS_HEAD_MAX);
            if (s->nhead)
                memcpy(s->head, s->map, s->nhead);
        } else if (s->released == 0 && ks__source_window(s, 0, KS_HEAD_MAX, &p, &avail) == KS_OK) {
            s->nhead = KS_MIN(avail, (size_t)KS_HEAD_MAX);
            memcpy(s->head, p, s->nhead);
        }
        s->have_head = true;
    }
    *n = s->nhead;
    return s->head;
}

int ks__source_window(ks_source *s, uint64_t off, size_t want, const uint8_t **p, size_t *avail)
{
    if (want > KS_WINDOW_MAX)
        return KS_ELIMIT;
    if (s->reads)
        return read_window(s, off, want, p, avail);
    if (s->whole) {
        uint64_t size = KS_MIN(s->size, ks__guard_fault(s->guard)); /* shrunk: stop there */
        if (off >= size) {
            *p = s->map ? s->map + s->size : (const uint8_t *)"";
            *avail = 0;
            return KS_OK;
        }
        *p = s->map + off;
        *avail = (size_t)KS_MIN(size - off, (uint64_t)SIZE_MAX);
        return KS_OK;
    }
    if (off < s->base)
        return KS_EUSAGE;
    /* Slide: drop released bytes from the front of the buffer. */
    if (s->released > s->base) {
        size_t drop = (size_t)KS_MIN(s->released - s->base, (uint64_t)s->len);
        memmove(s->buf, s->buf + drop, s->len - drop);
        s->len -= drop;
        s->base += drop;
    }
    if (off < s->base)
        return KS_EUSAGE;
    uint64_t need_end = off + want;
    while (s->base + s->len < need_end && !s->eof) {
        size_t need = (size_t)(need_end - s->base);
        if (need > s->cap) {
            size_t ncap = s->cap ? s->cap : ((size_t)1 << 20);
            while (ncap < need)
                ncap *= 2;
            if (ncap > KS_WINDOW_MAX + ((size_t)1 << 20))
                return KS_ELIMIT;
            uint8_t *nb = realloc(s->buf, ncap);
            if (!nb)
                return KS_ENOMEM;
            s->buf = nb;
            s->cap = ncap;
        }
        size_t got = decode(s, s->buf + s->len, s->cap - s->len);
        s->len += got;
        spend(s, got);
    }
    if (off >= s->base + s->len) {
        *p = s->buf ? s->buf + s->len : (const uint8_t *)"";
        *avail = 0;
    } else {
        *p = s->buf + (off - s->base);
        *avail = (size_t)(s->base + s->len - off);
    }
    if (s->err && *avail < want)
        return s->err;
    return KS_OK;
}

void ks__source_release(ks_source *s, uint64_t off)
{
    if (off > s->released)
        s->released = off;
    if (s->is_mapped && s->released >= s->dropped + DONTNEED_STEP) {
        /* Never past the mapping: a part reopened after its file shrank
         * releases at its first offset, which may lie far beyond the new,
         * smaller mapping. MADV_DONTNEED there dropped whatever the kernel
         * had placed after it — a library's relocated pages, so the
         * dynamic linker then failed ("undefined symbol: hs_free_scratch"). */
        uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t end = KS_MIN(s->released, s->size) & ~(pg - 1);
        if (end > s->dropped) {
            madvise((void *)(s->map + s->dropped), end - s->dropped, MADV_DONTNEED);
            s->dropped = end;
        }
    }
}

bool ks__source_drop_pages(ks_source *s, uint64_t from, uint64_t to)
{
    /* only a read-only file mapping: its pages come back from the page
     * cache when touched again (borrowed or heap memory would be zeroed) */
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    if (!s->is_mapped)
        return false;
    from = (from + pg - 1) & ~(pg - 1);
    to = KS_MIN(to, s->size) & ~(pg - 1);
    if (to > from)
        madvise((void *)(s->map + from), to - from, MADV_DONTNEED);
    return true;
}

ssize_t ks__source_pread(ks_source *s, void *buf, size_t n, uint64_t off)
{
    if (!s->file_map)
        return -1;
    if (off >= s->size)
        return 0;
    n = (size_t)KS_MIN((uint64_t)n, s->size - off);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : (ssize_t)got;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int ks__source_map(ks_source *s, const uint8_t **p, uint64_t *n)
{
    char tmpl[4096];
    const char *dir = s->budget.spill_dir && *s->budget.spill_dir ? s->budget.spill_dir : getenv("TMPDIR");
    uint64_t spill_max = s->budget.spill_max ? s->budget.spill_max : SPILL_MAX;
    int fd = -1, rc = KS_OK;
    uint64_t total = 0;
    if (s->whole)
        goto done;
    if (s->released > 0 || s->base > 0)
        return KS_EUSAGE;
    /* Spill the decoded stream to an unlinked temporary file, then map it. */
    snprintf(tmpl, sizeof tmpl, "%s/kensa-spill-XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(tmpl);
    if (fd < 0) {
        snprintf(s->why, sizeof s->why, "cannot create a spill file in %s: %s", dir && *dir ? dir : "/tmp",
                 strerror(errno));
        return KS_EIO;
    }
    unlink(tmpl);
    for (;;) {
        const uint8_t *w;
        size_t avail;
        rc = ks__source_window(s, total, (size_t)1 << 20, &w, &avail);
        if (rc != KS_OK && avail == 0)
            break;
        if (avail == 0)
            break;
        if (total + avail > spill_max) {
            char h[32];
            snprintf(s->why, sizeof s->why, "spill for random access over source.spill_max (%s)",
                     human(spill_max, h, sizeof h));
            rc = KS_ELIMIT;
            break;
        }
        if (write(fd, w, avail) != (ssize_t)avail) {
            rc = KS_EIO;
            break;
        }
        total += avail;
        s->released = total;
        rc = KS_OK;
    }
    if (rc != KS_OK && total == 0)
        goto out;
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
    s->size = total;
    s->whole = true;
    if (total) {
        void *m = mmap(NULL, total, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = KS_EIO;
            goto out;
        }
        s->map = m;
        s->is_mapped = true;
        s->guard = ks__guard_add(m, total);
    }
    s->released = 0;
    s->dropped = 0;
done:
    *p = s->map ? s->map : (const uint8_t *)"";
    *n = s->size;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- lines ------------------------------------------------------------------ */

void ks__lines_init(ks_lines *l, ks_source *src, size_t max)
{
    l->src = src;
    l->off = 0;
    l->lineno = 0;
    l->max = max ? KS_MIN(max, KS_WINDOW_MAX - 1) : ((size_t)16 << 20);
}

int ks__lines_peek(ks_lines *l, const uint8_t **p, size_t *avail)
{
    ks__source_release(l->src, l->off);
    return ks__source_window(l->src, l->off, 4096, p, avail);
}

void ks__lines_take(ks_lines *l, size_t n, uint64_t *lineno, uint64_t *off)
{
    *off = l->off;
    *lineno = ++l->lineno;
    l->off += n;
}

int ks__lines_next(ks_lines *l, const char **line, size_t *n, uint64_t *lineno, uint64_t *off)
{
    const uint8_t *p;
    /* A few KiB first: a window in reads mode that has that much left is
     * handed out without a refill (a mapping hands out the rest of the
     * file whatever is asked); a longer line doubles it. */
    size_t avail, want = 4096;
    int rc;
    for (;;) {
        rc = ks__source_window(l->src, l->off, KS_MIN(want, l->max + 1), &p, &avail);
        if (avail == 0)
            return rc != KS_OK ? rc : KS_EOF;
        size_t scan = KS_MIN(avail, l->max + 1);
        const uint8_t *nl = memchr(p, '\n', scan);
        if (nl || (avail < want && avail <= l->max)) {
            /* Found a newline, or the stream ends without one. */
            size_t len = nl ? (size_t)(nl - p) : avail;
            *off = l->off;
            *lineno = ++l->lineno;
            l->off += len + (nl ? 1 : 0);
            if (len && p[len - 1] == '\r')
                len--;
            *line = (const char *)p;
            *n = len;
            ks__source_release(l->src, *off);
            return KS_OK;
        }
        if (scan > l->max) {
            /* Over-long line: skip to the next newline without keeping it. */
            *off = l->off;
            *lineno = ++l->lineno;
            for (;;) {
                l->off += scan;
                ks__source_release(l->src, l->off);
                rc = ks__source_window(l->src, l->off, 1 << 20, &p, &avail);
                if (avail == 0)
                    return KS_ELIMIT;
                nl = memchr(p, '\n', avail);
                if (nl) {
                    l->off += (size_t)(nl - p) + 1;
                    ks__source_release(l->src, l->off);
                    return KS_ELIMIT;
                }
                scan = avail;
            }
        }
        want *= 2;
        if (rc != KS_OK)
            return rc;
    }
}
