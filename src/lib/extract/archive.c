/* SPDX-License-Identifier: Apache-2.0
 *
 * Archives through libarchive: zip, tar (and tar inside any compressor),
 * 7z, rar, cab, cpio, ar (.deb), and bare gzip/bzip2/xz/zstd/lz4 streams.
 * Every regular member is read into memory and handed to
 * ks__extract_child, which sniffs it again, so archives nest.
 *
 * Bombs: a member is read in steps, and after each the decoded size is
 * checked against ks__xchild_room for the compressed bytes consumed so far
 * (libarchive's position in the raw input), so a member that inflates more
 * than extract.max_ratio times is cut before it takes memory; depth,
 * member count and the total are checked by ks__extract_child. A walked
 * .gz/.zst file arrives here already decompressed by ks_source, so it is
 * not inflated twice; only nested or bzip2/xz/lz4 streams are.
 *
 * Documents that are zips (OOXML, ODF, JAR) have their own extractors with
 * higher probe scores; they reuse ks__xarchive_walk.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "extract/extract_int.h"

#define READ_STEP ((size_t)256 << 10)   /* bytes asked of libarchive at once */

bool ks__xis_zip(const uint8_t *p, size_t n)
{
    return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
           ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) || (p[2] == 7 && p[3] == 8));
}

/* Compressed-stream magics (a stream may hold a tar or one bare file). */
static bool is_stream(const uint8_t *p, size_t n)
{
    return (n >= 3 && p[0] == 0x1F && p[1] == 0x8B && p[2] == 8) ||           /* gzip */
           (n >= 4 && !memcmp(p, "BZh", 3) && p[3] >= '1' && p[3] <= '9') ||  /* bzip2 */
           (n >= 6 && !memcmp(p, "\xFD" "7zXZ\0", 6)) ||                     /* xz */
           (n >= 4 && !memcmp(p, "\x28\xB5\x2F\xFD", 4)) ||                  /* zstd */
           (n >= 4 && !memcmp(p, "\x04\x22\x4D\x18", 4));                    /* lz4 */
}

static int archive_kind(const uint8_t *p, size_t n)
{
    if (ks__xis_zip(p, n))
        return 1;
    if ((n >= 6 && !memcmp(p, "7z\xBC\xAF\x27\x1C", 6)) ||     /* 7z */
        (n >= 6 && !memcmp(p, "Rar!\x1A\x07", 6)) ||           /* rar 4/5 */
        (n >= 4 && !memcmp(p, "MSCF", 4)) ||                   /* cab */
        (n >= 6 && (!memcmp(p, "070701", 6) || !memcmp(p, "070707", 6))) || /* cpio */
        (n >= 8 && !memcmp(p, "!<arch>\n", 8)) ||              /* ar, .deb */
        (n >= 262 && !memcmp(p + 257, "ustar", 5)))            /* tar */
        return 1;
    return is_stream(p, n) ? 2 : 0;
}

static int archive_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    return archive_kind(head, n) ? 50 : 0;
}

/* Name of the single member of a bare compressed stream: the container's
 * name without its compression suffix ("x.log.bz2" -> "x.log"). */
static void stream_member_name(const ks_xnode *node, char *out, size_t cap)
{
    static const char *const sfx[] = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".z"};
    const char *name = node->name ? node->name : "";
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t bl = strlen(base);
    snprintf(out, cap, "%s", base);
    for (size_t i = 0; i < KS_ARRAY_LEN(sfx); i++) {
        size_t sl = strlen(sfx[i]);
        if (bl > sl && !strcasecmp(base + bl - sl, sfx[i]) && bl - sl < cap) {
            out[bl - sl] = 0;
            return;
        }
    }
    if (bl > 4 && !strcasecmp(base + bl - 4, ".tgz") && bl < cap) {
        memcpy(out + bl - 4, ".tar", 5);
        return;
    }
    snprintf(out, cap, "data");
}

/* Reads the current member into *buf (malloc'd, grown as needed) under the
 * budget; *cut says a budget stopped it. Returns KS_OK or KS_EFORMAT after
 * a diagnostic (what was read before the error is kept). */
static int read_member(ks_xctx *x, const ks_xnode *child, struct archive *a, int64_t size,
                       uint8_t **buf, size_t *n, size_t *cap, bool *cut)
{
    int64_t raw0 = archive_filter_bytes(a, -1);
    *n = 0;
    *cut = false;
    for (;;) {
        int64_t raw = archive_filter_bytes(a, -1) - raw0;
        /* The compressed bytes a member has consumed so far bound how far
         * it may inflate (libarchive consumes what the decoder used, so
         * the count is close; ks__xchild_room never goes below its floor). */
        uint64_t room = ks__xchild_room(x, raw > 0 ? (uint64_t)raw : 1);
        if (*n >= room) {
            char probe;
            if (archive_read_data(a, &probe, 1) > 0)
                *cut = true;
            return KS_OK;
        }
        size_t want = (size_t)KS_MIN((uint64_t)READ_STEP, room - *n);
        /* The size the header gives (zip, tar) sizes the buffer once, one
         * byte more to see the end: no doubling and copying of a member
         * read in steps. A member bigger than it says reads on by steps. */
        if (size >= 0 && (uint64_t)size >= *n && (uint64_t)size - *n < want)
            want = (size_t)((uint64_t)size - *n) + 1;
        if (*cap - *n < want) {
            size_t ncap = *cap ? *cap : KS_MAX(want, (size_t)4096);
            while (ncap - *n < want)
                ncap *= 2;
            uint8_t *nb;
            if (*n == 0) { /* nothing to keep: no copy of the last member */
                free(*buf);
                *buf = NULL;
                *cap = 0;
                nb = malloc(ncap);
            } else {
                nb = realloc(*buf, ncap);
            }
            if (!nb) {
                ks__xdiag(x, child, KS_DIAG_WARN, KS_ENOMEM, "out of memory reading the member");
                return KS_ENOMEM;
            }
            *buf = nb;
            *cap = ncap;
        }
        la_ssize_t r = archive_read_data(a, *buf + *n, want);
        if (r == 0)
            return KS_OK;
        if (r < 0) {
            ks__xdiag(x, child, KS_DIAG_WARN, KS_EFORMAT, "damaged member after %zu bytes: %s", *n,
                      archive_error_string(a) ? archive_error_string(a) : "read error");
            return KS_EFORMAT;
        }
        *n += (size_t)r;
    }
}

int ks__xarchive_walk(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n, bool compressed_stream,
                      ks_xskip_fn skip, ks_xtake_fn take, void *ud)
{
    struct archive *a = archive_read_new();
    struct archive_entry *ent;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = KS_OK;
    unsigned members = 0, encrypted = 0;
    char sname[256];
    if (!a)
        return KS_ENOMEM;
    if (!compressed_stream && n >= 4 && !memcmp(p, "PK\3\4", 4)) {
        /* a zip (a docx attachment, most archives in mail): the zip
         * readers are the bidders that win it among all of them; setting
         * up every format and filter per blob was ~1 % of a mailbox's
         * index build */
        archive_read_support_format_zip(a);
    } else {
        archive_read_support_filter_all(a);
        archive_read_support_format_all(a);
    }
    if (compressed_stream)
        archive_read_support_format_raw(a); /* lowest bid: a tar inside still wins */
    if (archive_read_open_memory(a, p, n) != ARCHIVE_OK) {
        ks__xdiag(x, node, KS_DIAG_WARN, KS_EFORMAT, "not readable as an archive: %s",
                  archive_error_string(a) ? archive_error_string(a) : "unknown format");
        rc = KS_EFORMAT;
        goto out;
    }
    while (!x->stopped) {
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r == ARCHIVE_FATAL) {
            ks__xdiag(x, node, KS_DIAG_WARN, KS_ETRUNCATED, "damaged or truncated archive after %u members: %s",
                      members, archive_error_string(a) ? archive_error_string(a) : "read error");
            rc = KS_EFORMAT;
            break;
        }
        /* ARCHIVE_WARN (odd header fields) still gives a usable entry. */
        if (archive_entry_filetype(ent) != AE_IFREG)
            continue;
        members++;
        const char *name = archive_entry_pathname_utf8(ent);
        if (!name)
            name = archive_entry_pathname(ent);
        bool raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
        if (raw || !name) {
            stream_member_name(node, sname, sizeof sname);
            name = sname;
        }
        uint64_t off = (uint64_t)archive_filter_bytes(a, 0);
        ks_xnode child = {.parent = node, .name = name, .mail = node->mail, .git = node->git,
                          .offset = off, .depth = node->depth + 1};
        if (skip && skip(name))
            continue;
        if (archive_entry_is_encrypted(ent)) {
            /* evidence left unread, not a deliberate skip: a warning, so an
             * exposure assessment says what it could not look into; one
             * at the first member, the count at the end */
            if (!encrypted++)
                ks__xdiag(x, &child, KS_DIAG_WARN, KS_EUNSUPPORTED, "encrypted member, not read (no password)");
            continue;
        }
        size_t got = 0;
        bool cut = false;
        int64_t size = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : -1;
        int mr = read_member(x, &child, a, size, &buf, &got, &cap, &cut);
        if (cut)
            ks__xdiag(x, &child, KS_DIAG_WARN, KS_ELIMIT,
                      "decompresses past the budget (extract.max_ratio %llux / max_blob / max_total): "
                      "a decompression bomb? only the first %zu bytes are read",
                      (unsigned long long)x->budget.max_ratio, got);
        if (take && mr == KS_OK && !cut && take(ud, name, buf, got)) {
            buf = NULL; /* the hook owns it now */
            cap = 0;
            continue;
        }
        ks__extract_child(x, node, name, NULL, NULL, off, buf, got);
        if (mr == KS_ENOMEM) {
            rc = mr;
            break;
        }
        if (cut && archive_filter_count(a) > 1) {
            /* Getting to the next member of a compressed stream means
             * inflating the rest of this one: the bomb's CPU cost. */
            ks__xdiag(x, node, KS_DIAG_WARN, KS_ELIMIT, "members after %s not read", name);
            break;
        }
        if (mr != KS_OK && raw)
            break;
    }
    if (encrypted > 1)
        ks__xdiag(x, node, KS_DIAG_WARN, KS_EUNSUPPORTED, "%u of %u members encrypted, not read (no password)",
                  encrypted, members);
out:
    free(buf);
    archive_read_free(a);
    return rc;
}

static int archive_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    return ks__xarchive_walk(x, node, p, n, archive_kind(p, n) == 2, NULL, NULL, NULL);
}

const struct ks_extractor ks_extractor_archive = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "archive",
    .description = "zip, tar, 7z, rar, cab, cpio, ar; gzip/bzip2/xz/zstd/lz4 streams (libarchive), recursive",
    .probe = archive_probe,
    .extract = archive_extract,
    .streamed = true,
};
