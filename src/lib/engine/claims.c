/* SPDX-License-Identifier: Apache-2.0
 *
 * No silent reassurance (issue 14): what the run could not read is said,
 * never passed over.
 *
 *  - A file whose name claims a format (claims.def: .json, .evtx, .eml,
 *    .pst, .zip, .gz ...) but whose content that format's plugin does not
 *    recognise gets a warning naming the file: a .json of random bytes
 *    is not "0 findings".
 *  - Files no reader claimed (no input format, and no extractor that a
 *    file detector used) are counted by type, "<.ext> text|binary|empty",
 *    for the run summary (ks_engine_unclaimed).
 *  - After the walk, a run that found no file, or recognised none, says so
 *    as an error: exit status 2 (docs/EXIT-STATUS.md).
 *
 * The dispatcher calls ks__claims_file once per walked file with what it
 * already has (the first bytes and the input that claimed them), so this
 * costs the extractors' probes on 4 KiB only for files no input claimed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "engine_int.h"
#include "extract/extract.h"

enum named_kind { NAMED_INPUT, NAMED_EXTRACTOR, NAMED_CODEC };

typedef struct named_row {
    const char *ext;         /* without the dot */
    enum named_kind kind;
    const char *plugin;      /* input/extractor name, or "gzip"/"zstd" */
    const char *what;        /* for the message */
} named_row;

static const named_row named[] = {
#define KS_NAMED(ext, kind, plugin, what) {ext, NAMED_##kind, plugin, what},
#include "claims.def"
#undef KS_NAMED
};

/* "empty", "text" or "binary", from the first bytes: NUL or more than one
 * control byte in 32 (other than tab, CR, LF, FF, ESC) is binary. */
static const char *content_class(const uint8_t *h, size_t n)
{
    size_t ctl = 0;
    if (n == 0)
        return "empty";
    for (size_t i = 0; i < n; i++) {
        if (h[i] == 0)
            return "binary";
        if (h[i] < 0x20 && h[i] != '\t' && h[i] != '\r' && h[i] != '\n' && h[i] != '\f' && h[i] != 0x1b)
            ctl++;
    }
    return ctl * 32 > n ? "binary" : "text";
}

/* The extension of name (after its last dot, not a leading one), or NULL. */
static const char *extension(const char *name, size_t n)
{
    for (size_t i = n; i > 1; i--)
        if (name[i - 1] == '.')
            return i < n ? name + i : NULL;
    return NULL;
}

static const named_row *named_find(const char *ext, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(named); i++)
        if (strlen(named[i].ext) == n && !strncasecmp(named[i].ext, ext, n))
            return &named[i];
    return NULL;
}

static bool recognises(const named_row *r, const uint8_t *h, size_t n)
{
    if (r->kind == NAMED_INPUT) {
        const struct ks_input *in = ks__input_find(r->plugin);
        return in && in->probe(h, n, "") > 0;
    }
    for (size_t i = 0; ks__extractors[i]; i++)
        if (!strcmp(ks__extractors[i]->name, r->plugin))
            return ks__extractors[i]->probe(h, n, "") > 0;
    return false;
}

static void named_warn(ks_engine *e, const char *path, const named_row *r, const uint8_t *h,
                       size_t n, const char *after)
{
    char lead[40] = "";
    size_t k = 0;
    for (size_t i = 0; i < n && i < 8 && k + 4 < sizeof lead; i++)
        k += (size_t)snprintf(lead + k, sizeof lead - k, "%s%02x", i ? " " : ", starting ", h[i]);
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    loc.offset = 0;
    ks__diag(e, KS_DIAG_WARN, KS_EFORMAT, "claims", &loc,
             "the name says .%s but %s%s (%s%s); %s", r->ext, n ? "the content is not " : "the file is empty",
             n ? r->what : "", content_class(h, n), lead, after);
}

/* Checks the name's claim against the content; at most one warning. A
 * compression suffix that matches the codec is peeled off and the inner
 * name checked against the decompressed head ("x.json.gz"). */
static void check_name(ks_engine *e, const char *path, const char *name, ks_source *src,
                       const uint8_t *h, size_t n, const struct ks_input *best)
{
    size_t len = strlen(name);
    char after[96];
    if (best)
        snprintf(after, sizeof after, "read as %s", best->name);
    else
        snprintf(after, sizeof after, "no format reader claimed it");
    for (int round = 0; round < 2; round++) {
        const char *ext = extension(name, len);
        const named_row *r = ext ? named_find(ext, len - (size_t)(ext - name)) : NULL;
        if (!r)
            return;
        if (r->kind == NAMED_CODEC) {
            ks_codec want = !strcmp(r->plugin, "gzip") ? KS_CODEC_GZIP : KS_CODEC_ZSTD;
            if (ks__source_codec(src) != want) {
                named_warn(e, path, r, h, n, "read as it is");
                return;
            }
            len = (size_t)(ext - 1 - name); /* the inner name: "x.json" */
            continue;
        }
        if (!recognises(r, h, n))
            named_warn(e, path, r, h, n, after);
        return;
    }
}

/* Counts one unclaimed file under its type (under the engine lock). */
static void count_unclaimed(ks_engine *e, const char *name, const uint8_t *h, size_t n)
{
    char type[KS_UNCLAIMED_TYPE];
    size_t len = strlen(name);
    const char *ext = extension(name, len);
    size_t el = ext ? len - (size_t)(ext - name) : 0;
    if (ext && el <= 10) {
        size_t k = 0;
        type[k++] = '.';
        for (size_t i = 0; i < el; i++)
            type[k++] = (char)tolower((unsigned char)ext[i]);
        snprintf(type + k, sizeof type - k, " %s", content_class(h, n));
    } else {
        snprintf(type, sizeof type, "(no extension) %s", content_class(h, n));
    }
    pthread_mutex_lock(&e->lock);
    size_t i = 0;
    while (i < e->nunclaimed && strcmp(e->unclaimed[i].type, type))
        i++;
    if (i == e->nunclaimed) {
        if (i == KS_UNCLAIMED_MAX) /* the last slot gathers the rest */
            i = KS_UNCLAIMED_MAX - 1, snprintf(type, sizeof type, "other");
        else
            e->nunclaimed++;
        memcpy(e->unclaimed[i].type, type, sizeof type);
    }
    e->unclaimed[i].n++;
    pthread_mutex_unlock(&e->lock);
}

void ks__claims_file(ks_engine *e, const char *path, const char *name, ks_source *src,
                     const uint8_t *head, size_t nhead, const struct ks_input *best, bool scanned)
{
    check_name(e, path, name, src, head, nhead, best);
    if (!best) {
        /* A mailbox or document a file detector read through the
         * extractors was recognised; the text fallback does not count. */
        const struct ks_extractor *x = scanned ? ks__extractor_sniff(head, nhead, name) : NULL;
        if (!x || x == &ks_extractor_text) {
            count_unclaimed(e, name, head, nhead);
            return;
        }
    }
    ks__claims_recognised(e);
}

void ks__claims_recognised(ks_engine *e)
{
    __atomic_fetch_add(&e->recognised, 1, __ATOMIC_RELAXED);
}

static int cmp_unclaimed(const void *a, const void *b)
{
    const struct ks_unclaimed *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->type, y->type);
}

int ks_engine_unclaimed(const ks_engine *e, size_t i, const char **type, uint64_t *count)
{
    if (!e || i >= e->nunclaimed)
        return KS_ENOTFOUND;
    *type = e->unclaimed[i].type;
    *count = e->unclaimed[i].n;
    return KS_OK;
}

/* "3 .json binary, 1 (no extension) text, ..." of the first few types. */
static void types_line(const ks_engine *e, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < e->nunclaimed && k + 1 < cap; i++) {
        if (i == 6) {
            snprintf(out + k, cap - k, ", and %zu more types", e->nunclaimed - i);
            return;
        }
        k += (size_t)snprintf(out + k, cap - k, "%s%llu %s", i ? ", " : "",
                              (unsigned long long)e->unclaimed[i].n, e->unclaimed[i].type);
    }
}

void ks__claims_verdict(ks_engine *e)
{
    char types[512];
    const ks_stats *st = &e->stats;
    qsort(e->unclaimed, e->nunclaimed, sizeof *e->unclaimed, cmp_unclaimed);
    if (e->npaths == 0)
        return;
    if (st->files_seen == 0) {
        if (st->errors == 0) /* the paths' own errors already said why */
            ks__diag(e, KS_DIAG_ERROR, KS_ENOTFOUND, "run", NULL,
                     "nothing was read: the paths given hold no files");
        return;
    }
    if (e->mode == KS_MODE_FILES) {
        if (st->files_scanned == 0)
            ks__diag(e, KS_DIAG_ERROR, KS_ENOTFOUND, "run", NULL,
                     "nothing was scanned: none of the %llu file%s was given to a file detector "
                     "(see the messages above)", (unsigned long long)st->files_seen,
                     st->files_seen == 1 ? "" : "s");
        return;
    }
    if (__atomic_load_n(&e->recognised, __ATOMIC_RELAXED) == 0 && e->nunclaimed == 0) {
        ks__diag(e, KS_DIAG_ERROR, KS_ENOTFOUND, "run", NULL,
                 "nothing was read: the %llu file%s found %s skipped (excluded, special, or an "
                 "output of this run; --verbose says which)", (unsigned long long)st->files_seen,
                 st->files_seen == 1 ? "" : "s", st->files_seen == 1 ? "was" : "were");
    } else if (__atomic_load_n(&e->recognised, __ATOMIC_RELAXED) == 0) {
        types_line(e, types, sizeof types);
        ks__diag(e, KS_DIAG_ERROR, KS_EFORMAT, "run", NULL,
                 "nothing was recognised: none of the %llu file%s is in a format kensa reads (%s); "
                 "file detectors scanned %llu of them as plain content (kensa scan hunts files only)",
                 (unsigned long long)st->files_seen, st->files_seen == 1 ? "" : "s",
                 types,
                 (unsigned long long)st->files_scanned);
    }
}
