/* SPDX-License-Identifier: Apache-2.0
 *
 * The "json" input format: log records as JSON lines, concatenated objects,
 * a top-level array (the Entra portal download), or wrapped in an object
 * as {"value": [...]} (Microsoft Graph), {"records": [...]} (Azure
 * Monitor exports to storage) or {"Records": [...]} (CloudTrail). One event per record, in bounded memory:
 * only the current record has to be in the window, so a multi-GB array
 * streams like JSON lines.
 *
 * Damage is local: a broken record is reported with its byte offset and
 * line, and reading resumes at the next line. Event time comes from the
 * first of the usual timestamp fields that parses.
 */
#include <stdlib.h>
#include <string.h>
#include "json.h"

#define JSON_MAX_RECORD ((size_t)64 << 20)
#define JSON_MAX_REPORTS 20   /* warnings per file; the rest are counted */
#define JSON_GIVE_UP 10       /* broken records before the first good one */

enum mode {
    M_TOP,          /* between top-level values */
    M_ARRAY,        /* inside the top-level (or wrapper) array */
    M_WRAPPER_REST  /* after the wrapper's array: skip to its closing brace */
};

/* Where the event time may be, most specific first. */
static const char *const time_keys[] = {
    "TimeGenerated", "createdDateTime", "CreationTime", "activityDateTime",
    "properties.createdDateTime", "time", "@timestamp", "timestamp", "Timestamp",
    "EventTime", "eventTime", "TimeCreated", "Event.System.TimeCreated_attributes.SystemTime",
    "UtcTime", "date", "datetime", "ts",
};

typedef struct json_in {
    ks_input_ctx ctx;
    ks_source *src;
    uint64_t off;        /* next byte to read */
    uint64_t line;       /* 1-based line of `off` */
    uint64_t line_off;   /* offset up to which newlines were counted */
    enum mode mode;
    bool wrapped;        /* the array is inside a wrapper object */
    bool multiline;      /* a record spanned lines: not JSON lines */
    uint64_t records;
    uint64_t bad;        /* broken records seen in this file */
    ks_sym tsyms[KS_ARRAY_LEN(time_keys)];
    size_t max_record;
} json_in;

bool ks__json_is_log(const uint8_t *h, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(time_keys); i++) {
        /* the last part of a dotted path is the key as written */
        const char *k = strrchr(time_keys[i], '.');
        k = k ? k + 1 : time_keys[i];
        size_t kl = strlen(k);
        for (const uint8_t *p = h; (p = memmem(p, n - (size_t)(p - h), k, kl)) != NULL; p += kl) {
            const uint8_t *e = p + kl, *end = h + n;
            if (p == h || p[-1] != '"' || e >= end || *e != '"')
                continue;
            for (e++; e < end && (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n'); e++)
                ;
            if (e < end && *e == ':')
                return true;
        }
    }
    return false;
}

static int json_probe(const uint8_t *h, size_t n, const char *name)
{
    size_t i = 0;
    int score = 0;
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    if (i >= n)
        return 0;
    size_t top = i; /* where the first value starts */
    if (h[i] == '{')
        score = 60;
    else if (h[i] == '[')
        score = 50;
    else
        return 0;
    /* The next non-blank byte of an object must start a key; inside arrays
     * each '[' must be followed by a JSON value (TOML's "[[rules]]" is not) */
    for (size_t j = i + 1; j < n; j++) {
        if (h[j] == ' ' || h[j] == '\t' || h[j] == '\r' || h[j] == '\n')
            continue;
        if (h[i] == '{' && h[j] != '"' && h[j] != '}')
            return 0;
        if (h[i] == '[' && h[j] == '[') {
            i = j; /* nested array: judge what follows it */
            continue;
        }
        if (h[i] == '[' && h[j] != '{' && h[j] != ']' && h[j] != '"' && h[j] != '-' && !(h[j] >= '0' && h[j] <= '9'))
            return 0;
        break;
    }
    size_t nl = strlen(name);
    static const char *const not_json[] = {".toml", ".ini", ".cfg", ".conf", ".yml", ".yaml", ".md", ".tmpl"};
    for (size_t k = 0; k < KS_ARRAY_LEN(not_json); k++) {
        size_t el = strlen(not_json[k]);
        if (nl > el && strcmp(name + nl - el, not_json[k]) == 0)
            return 0; /* looks like JSON at the top, but is not meant to be read as records */
    }
    if ((nl > 5 && strcmp(name + nl - 5, ".json") == 0) ||
        (nl > 6 && strcmp(name + nl - 6, ".jsonl") == 0) ||
        (nl > 7 && strcmp(name + nl - 7, ".ndjson") == 0))
        return score + 20; /* meant as JSON: damage is reported record by record */
    /* Without a JSON name, a first value that ends inside the head must be
     * followed by another record (JSON lines, concatenated or comma-joined
     * values) or by nothing: Pascal's "{ comment }" blocks, "{}" followed
     * by code, or C initialisers are not a log of records. A value longer
     * than the head is judged by the reader. */
    size_t ext = ks__json_extent((const char *)h + top, n - top, false);
    if (ext && ext != (size_t)-1) { /* (a raw control byte in a string: the reader's call) */
        size_t j = top + ext;
        while (j < n && (h[j] == ' ' || h[j] == '\t' || h[j] == '\r' || h[j] == '\n'))
            j++;
        if (j < n && h[j] != '{' && h[j] != '[' && h[j] != ',')
            return 0;
    }
    return score;
}

/* JSON lines split at line boundaries into parts of at least SPLIT_PART
 * bytes so one big file uses every core. Only when the file really is one
 * record per line (the first record ends before the first newline);
 * arrays and pretty-printed files are read by one task. */
#define SPLIT_PART ((uint64_t)16 << 20)

static int json_split(ks_source *src, uint64_t *bounds, size_t max, size_t *nparts)
{
    const uint8_t *p;
    size_t avail, nhead;
    uint64_t size = ks__source_size(src), off = 0;
    const uint8_t *head = ks__source_head(src, &nhead);
    size_t i = 0;
    *nparts = 1;
    while (i < nhead && (head[i] == ' ' || head[i] == '\t'))
        i++;
    if (i >= nhead || head[i] != '{')
        return KS_OK;
    size_t e = ks__json_extent((const char *)head + i, nhead - i, true);
    if (e == 0 || e == (size_t)-1)
        return KS_OK;
    size_t n = 0;
    bounds[n++] = 0;
    while (n < max) {
        uint64_t want = off + KS_MAX(SPLIT_PART, size / max);
        if (want >= size)
            break;
        if (ks__source_window(src, want, 1, &p, &avail) != KS_OK || avail == 0)
            break;
        const uint8_t *nl = memchr(p, '\n', avail);
        if (!nl)
            break;
        off = want + (uint64_t)(nl - p) + 1;
        if (off >= size)
            break;
        bounds[n++] = off;
    }
    bounds[n] = size;
    *nparts = n;
    return KS_OK;
}

static int json_open(const ks_input_ctx *ctx, void **state)
{
    json_in *j = calloc(1, sizeof *j);
    if (!j)
        return KS_ENOMEM;
    j->ctx = *ctx;
    j->src = ctx->src;
    /* A part after the first starts mid-file: its line numbers are not
     * known without reading the whole prefix, so only offsets are given. */
    j->off = j->line_off = ctx->begin;
    j->line = ctx->begin ? 0 : 1;
    j->mode = M_TOP;
    j->max_record = (size_t)ks__opt_int(ctx->w->engine, "json.max_record");
    if (j->max_record > KS_WINDOW_MAX)
        j->max_record = KS_WINDOW_MAX;
    for (size_t i = 0; i < KS_ARRAY_LEN(time_keys); i++)
        j->tsyms[i] = ks__symcache_intern(ctx->w->cache, time_keys[i], strlen(time_keys[i]));
    *state = j;
    return KS_OK;
}

static void json_close(void *state)
{
    json_in *j = state;
    if (j && j->bad > JSON_MAX_REPORTS) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = j->ctx.path;
        ks__diag(j->ctx.w->engine, KS_DIAG_WARN, KS_EFORMAT, "json", &loc,
                 "%llu more broken records in this file were skipped without a message each",
                 (unsigned long long)(j->bad - JSON_MAX_REPORTS));
    }
    free(j);
}

static void report(json_in *j, ks_diag_level lvl, int code, uint64_t off, const char *fmt,
                   const char *why)
{
    ks_loc loc = KS_LOC_NONE;
    if (lvl == KS_DIAG_WARN && ++j->bad > JSON_MAX_REPORTS)
        return;
    loc.path = j->ctx.path;
    loc.offset = off;
    loc.line = j->line;
    ks__diag(j->ctx.w->engine, lvl, code, "json", &loc, fmt, why ? why : "");
}

/* Counts newlines in [line_off, upto) so diagnostics and provenance carry
 * line numbers. Every byte is counted once. */
static void count_lines(json_in *j, uint64_t upto)
{
    while (j->line_off < upto) {
        const uint8_t *p;
        size_t avail;
        if (ks__source_window(j->src, j->line_off, 1, &p, &avail) != KS_OK || avail == 0)
            return;
        size_t k = (size_t)KS_MIN((uint64_t)avail, upto - j->line_off);
        for (const uint8_t *q = p; (q = memchr(q, '\n', k - (size_t)(q - p))) != NULL; q++)
            j->line++;
        j->line_off += k;
    }
}

/* Next byte that is not white space, a BOM or (in arrays) handled by the
 * caller; -1 at end of stream. */
static int peek(json_in *j)
{
    for (;;) {
        const uint8_t *p;
        size_t avail;
        int rc = ks__source_window(j->src, j->off, 4096, &p, &avail);
        if (avail == 0)
            return rc != KS_OK ? rc : -1;
        size_t i = 0;
        while (i < avail && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i + 3 <= avail && p[i] == 0xef && p[i + 1] == 0xbb && p[i + 2] == 0xbf)
            i += 3;
        j->off += i;
        if (i < avail)
            return p[i];
    }
}

/* Skips to just past the next newline (resynchronisation after damage). */
static void skip_line(json_in *j)
{
    if (j->line)
        count_lines(j, j->off);
    for (;;) {
        const uint8_t *p;
        size_t avail;
        ks__source_window(j->src, j->off, 65536, &p, &avail);
        if (avail == 0)
            return;
        const uint8_t *nl = memchr(p, '\n', avail);
        if (nl) {
            j->off += (size_t)(nl - p) + 1;
            if (j->line)
                j->line++;
            j->line_off = j->off;
            return;
        }
        j->off += avail;
        ks__source_release(j->src, j->off);
    }
}

/* Finds the extent of the value at j->off, growing the window as needed.
 * Returns KS_OK with *len, KS_EOF if the stream ends inside it, KS_EFORMAT
 * if it is broken, KS_ELIMIT if larger than max_record. */
static int extent(json_in *j, const uint8_t **p, size_t *len)
{
    size_t want = 65536;
    for (;;) {
        size_t avail;
        int rc = ks__source_window(j->src, j->off, want, p, &avail);
        /* A mapped file offers everything at once: scan no further than
         * the record cap either way. */
        size_t lim = KS_MIN(avail, j->max_record);
        size_t e = ks__json_extent((const char *)*p, lim, !j->multiline && j->records > 0 && j->mode == M_TOP);
        if (e == (size_t)-1)
            return KS_EFORMAT;
        if (e > 0) {
            *len = e;
            return KS_OK;
        }
        if (avail >= j->max_record)
            return KS_ELIMIT;
        if (avail < want)
            return rc != KS_OK ? rc : KS_EOF;
        want = KS_MIN(want * 4, j->max_record);
    }
}

/* Skips one value at j->off (a wrapper's other members). */
static int skip_value(json_in *j)
{
    const uint8_t *p;
    size_t avail, len;
    int c = peek(j);
    if (c < 0)
        return KS_EOF;
    if (c == '{' || c == '[') {
        int rc = extent(j, &p, &len);
        if (rc != KS_OK)
            return rc;
        j->off += len;
        return KS_OK;
    }
    ks__source_window(j->src, j->off, 65536, &p, &avail);
    size_t i = 0;
    if (c == '"') {
        for (i = 1; i < avail && p[i] != '"'; i++)
            if (p[i] == '\\')
                i++;
        i++;
    } else {
        while (i < avail && p[i] != ',' && p[i] != '}' && p[i] != ']')
            i++;
    }
    j->off += KS_MIN(i, avail);
    return KS_OK;
}

/* Reads a short key string at j->off into buf; advances past it and ':'. */
static bool read_key(json_in *j, char *buf, size_t cap)
{
    const uint8_t *p;
    size_t avail, i, k = 0;
    if (peek(j) != '"')
        return false;
    ks__source_window(j->src, j->off, 1024, &p, &avail);
    for (i = 1; i < avail && p[i] != '"'; i++) {
        if (p[i] == '\\')
            return false;
        if (k + 1 < cap)
            buf[k++] = (char)p[i];
    }
    buf[k] = 0;
    if (i >= avail)
        return false;
    j->off += i + 1;
    if (peek(j) != ':')
        return false;
    j->off++;
    return true;
}

static bool is_wrapper_key(const char *k)
{
    /* Graph "value", Azure Monitor "records", CloudTrail "Records" */
    return strcmp(k, "value") == 0 || strcmp(k, "records") == 0 || strcmp(k, "Records") == 0;
}

/* At a top-level '{': is it {"@odata...": ..., "value": [ ... ]} or
 * {"records": [ ... ]}? If so, consume up to the array's '[' and return
 * true. Otherwise leave j->off unchanged. */
static bool enter_wrapper(json_in *j)
{
    uint64_t save = j->off;
    char key[128];
    j->off++; /* { */
    for (int members = 0; members < 16; members++) {
        if (!read_key(j, key, sizeof key))
            break;
        if (is_wrapper_key(key)) {
            if (peek(j) == '[') {
                j->off++;
                return true;
            }
            break;
        }
        if (strncmp(key, "@odata", 6) != 0)
            break;
        if (skip_value(j) != KS_OK || peek(j) != ',')
            break;
        j->off++;
    }
    j->off = save;
    return false;
}

static void set_time(json_in *j, ks_event *ev)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(time_keys); i++) {
        const ks_value *v = ks_event_get(ev, j->tsyms[i]);
        if (!v)
            continue;
        if (v->type == KS_VSTR && ks_time_parse(v->u.s.p, v->u.s.n, &ev->time) == KS_OK)
            return;
        if (v->type == KS_VINT && v->u.i > 0) {
            /* Epoch numbers: seconds, ms, us or ns by magnitude; a value
             * that does not fit nanoseconds leaves the event undated. */
            int64_t t = v->u.i, mul = t < 100000000000ll      ? 1000000000ll
                                    : t < 100000000000000ll   ? 1000000ll
                                    : t < 100000000000000000ll ? 1000ll
                                                               : 1;
            int64_t ns;
            if (!__builtin_mul_overflow(t, mul, &ns))
                ev->time = ns;
            return;
        }
        if (v->type == KS_VFLOAT && v->u.f > 0 && v->u.f < 1e10) {
            /* Zeek's JSON "ts": epoch seconds with a fraction */
            int64_t sec = (int64_t)v->u.f;
            ev->time = sec * 1000000000ll + (int64_t)((v->u.f - (double)sec) * 1e6 + 0.5) * 1000;
            return;
        }
    }
}

static int json_next(void *state, ks_event *ev)
{
    json_in *j = state;
    for (;;) {
        const uint8_t *p;
        size_t len;
        int c = peek(j);
        if (j->mode == M_TOP && j->off >= j->ctx.end)
            return KS_EOF; /* the next part starts here */
        if (j->line)
            count_lines(j, j->off);
        ks__source_release(j->src, j->off);
        if (c < 0) {
            if (c != -1) {
                report(j, KS_DIAG_ERROR, c, j->off, "unreadable stream%s", NULL);
                return c;
            }
            if (j->mode != M_TOP)
                report(j, KS_DIAG_WARN, KS_ETRUNCATED, j->off,
                       "input ends inside a JSON array (truncated file?)%s", NULL);
            return KS_EOF;
        }
        if (j->mode == M_WRAPPER_REST) {
            if (c == '}') {
                j->off++;
                j->mode = M_TOP;
            } else if (c == ',') {
                j->off++;
                char key[128];
                if (!read_key(j, key, sizeof key) || skip_value(j) != KS_OK) {
                    j->mode = M_TOP;
                    skip_line(j);
                }
            } else {
                j->mode = M_TOP;
            }
            continue;
        }
        if (j->mode == M_ARRAY) {
            if (c == ',') {
                j->off++;
                continue;
            }
            if (c == ']') {
                j->off++;
                j->mode = j->wrapped ? M_WRAPPER_REST : M_TOP;
                continue;
            }
        } else if (c == '[') {
            j->off++;
            j->mode = M_ARRAY;
            j->wrapped = false;
            continue;
        } else if (c == '{' && j->records == 0 && j->ctx.begin == 0 && enter_wrapper(j)) {
            j->mode = M_ARRAY;
            j->wrapped = true;
            continue;
        }
        if (j->records == 0 && j->bad >= JSON_GIVE_UP) {
            report(j, KS_DIAG_WARN, KS_EFORMAT, j->off,
                   "not JSON records after all (%s broken, none valid); rest of the file not read", "10");
            return KS_EOF;
        }
        if (c != '{') {
            report(j, KS_DIAG_WARN, KS_EFORMAT, j->off,
                   "expected a JSON object (record); skipping the line%s", NULL);
            skip_line(j);
            continue;
        }
        int rc = extent(j, &p, &len);
        if (rc == KS_EOF) {
            report(j, KS_DIAG_WARN, KS_ETRUNCATED, j->off,
                   "record truncated at end of input%s", NULL);
            return KS_EOF;
        }
        if (rc == KS_ELIMIT) {
            report(j, KS_DIAG_WARN, KS_ELIMIT, j->off,
                   "record larger than json.max_record; skipped to the next line%s", NULL);
            skip_line(j);
            continue;
        }
        if (rc != KS_OK) {
            report(j, KS_DIAG_WARN, KS_EFORMAT, j->off,
                   "broken JSON record; skipped to the next line%s", NULL);
            skip_line(j);
            continue;
        }
        if (memchr(p, '\n', len))
            j->multiline = true;
        uint64_t err_off = 0;
        const char *why = NULL;
        rc = ks__json_flatten(ev, "", 0, (const char *)p, len, &err_off, &why);
        if (rc != KS_OK) {
            report(j, KS_DIAG_WARN, rc, j->off + err_off, "invalid JSON record: %s; skipped", why);
            ks__event_reset(ev);
            skip_line(j);
            continue;
        }
        ev->prov.offset = j->off;
        ev->prov.line = j->line;
        ++j->records;
        ev->prov.record = j->ctx.begin ? 0 : j->records; /* record index only from the start */
        set_time(j, ev);
        j->off += len;
        return KS_OK;
    }
}

const struct ks_input ks_input_json = {
    .abi = KS_INPUT_ABI_1,
    .name = "json",
    .description = "JSON lines, JSON arrays, {\"value\":[...]} / {\"records\":[...]} log exports",
    .probe = json_probe,
    .split = json_split,
    .open = json_open,
    .next = json_next,
    .close = json_close,
};
