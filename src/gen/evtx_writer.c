/* SPDX-License-Identifier: Apache-2.0
 *
 * EVTX writer (see evtx_writer.h). A chunk is assembled in memory: records
 * from offset 512, each template definition inline at first use, then the
 * 512-byte header with its checksums is filled in when the chunk is full.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "evtx_writer.h"

#define CHUNK 65536
#define MAX_TPL 256

typedef struct tpl {
    uint64_t sig;          /* shape hash */
    uint32_t off;          /* definition offset in the current chunk, 0 = not yet */
    uint32_t id;
} tpl;

struct evtx_writer {
    FILE *fp;
    uint8_t chunk[CHUNK];
    uint32_t used;         /* next free byte in the chunk */
    uint64_t first_id, last_id;
    uint32_t last_off;
    uint64_t next_id;
    uint64_t nchunks;
    int nrec_in_chunk;
    tpl tpls[MAX_TPL];
    size_t ntpl;
};

/* ---- byte buffer ------------------------------------------------------------- */
typedef struct bb {
    uint8_t *p;
    size_t n, cap;
    int err;
} bb;

static void put(bb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + n)
            nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u8(bb *b, uint8_t v) { put(b, &v, 1); }
static void u16(bb *b, uint16_t v) { uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(b, t, 2); }
static void u32(bb *b, uint32_t v) { u16(b, (uint16_t)v); u16(b, (uint16_t)(v >> 16)); }
static void u64(bb *b, uint64_t v) { u32(b, (uint32_t)v); u32(b, (uint32_t)(v >> 32)); }
static void patch32(bb *b, size_t at, uint32_t v)
{
    b->p[at] = (uint8_t)v;
    b->p[at + 1] = (uint8_t)(v >> 8);
    b->p[at + 2] = (uint8_t)(v >> 16);
    b->p[at + 3] = (uint8_t)(v >> 24);
}

/* ASCII/UTF-8 (BMP only is enough for test data) to UTF-16LE units. */
static size_t utf16(bb *b, const char *s)
{
    size_t units = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = *p++;
        if (cp >= 0xc0 && cp < 0xe0 && *p) {
            cp = ((cp & 0x1f) << 6) | (*p++ & 0x3f);
        } else if (cp >= 0xe0 && cp < 0xf0 && p[0] && p[1]) {
            cp = ((cp & 0x0f) << 12) | ((uint32_t)(p[0] & 0x3f) << 6) | (p[1] & 0x3f);
            p += 2;
        }
        u16(b, (uint16_t)cp);
        units++;
    }
    return units;
}

static uint16_t name_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = h * 65599u + (unsigned char)*s;
    return (uint16_t)h;
}

/* Name reference with the name inline: `base` is the chunk offset of b[0]. */
static void name(bb *b, uint32_t base, const char *s)
{
    u32(b, base + (uint32_t)b->n + 4);
    u32(b, 0);
    u16(b, name_hash(s));
    size_t at = b->n;
    u16(b, 0);
    size_t units = utf16(b, s);
    b->p[at] = (uint8_t)units;
    b->p[at + 1] = (uint8_t)(units >> 8);
    u16(b, 0);
}

/* Element start; returns the offset of its data-size field to patch. */
static size_t open_elem(bb *b, uint32_t base, const char *s, bool attrs, size_t *attr_size_at)
{
    u8(b, attrs ? 0x41 : 0x01);
    u16(b, 0xffff); /* dependency id: none */
    size_t at = b->n;
    u32(b, 0);
    name(b, base, s);
    if (attrs) {
        *attr_size_at = b->n;
        u32(b, 0);
    }
    return at;
}

static void close_elem(bb *b, size_t size_at, bool empty)
{
    u8(b, empty ? 0x03 : 0x04);
    patch32(b, size_at, (uint32_t)(b->n - size_at - 4));
}

static void subst(bb *b, uint16_t id, uint8_t type)
{
    u8(b, 0x0d);
    u16(b, id);
    u8(b, type);
}

/* <Name>{subst}</Name> */
static void text_elem(bb *b, uint32_t base, const char *s, uint16_t id, uint8_t type)
{
    size_t at = open_elem(b, base, s, false, NULL);
    u8(b, 0x02);
    subst(b, id, type);
    close_elem(b, at, false);
}

/* <Name Attr="{subst}"/> */
static void attr_elem(bb *b, uint32_t base, const char *s, const char *attr, uint16_t id, uint8_t type)
{
    size_t asz;
    size_t at = open_elem(b, base, s, true, &asz);
    size_t astart = b->n;
    u8(b, 0x06);
    name(b, base, attr);
    subst(b, id, type);
    patch32(b, asz, (uint32_t)(b->n - astart));
    u8(b, 0x03);
    patch32(b, at, (uint32_t)(b->n - at - 4));
}

static uint8_t vtype(evtxw_type t)
{
    switch (t) {
    case EVTXW_U32: return 0x08;
    case EVTXW_HEX32: return 0x14;
    case EVTXW_U64: return 0x0a;
    case EVTXW_SID: return 0x13;
    default: return 0x01;
    }
}

/* An attribute whose value is literal text (xmlns="...", Name="..."):
 * the attribute token and name, then a value-text token with its UTF-16
 * length in front. */
static void literal_attr(bb *b, uint32_t base, const char *attr, const char *value)
{
    u8(b, 0x06);
    name(b, base, attr);
    u8(b, 0x05);
    u8(b, 0x01);
    size_t cnt = b->n;
    u16(b, 0);
    size_t units = utf16(b, value);
    b->p[cnt] = (uint8_t)units;
    b->p[cnt + 1] = (uint8_t)(units >> 8);
}

/* The template definition (header + fragment) for r, at chunk offset base. */
static void template_def(bb *b, uint32_t base, const evtxw_record *r, uint32_t id)
{
    u32(b, 0);                    /* next template */
    u32(b, id);                   /* GUID: id, then zeros */
    u32(b, 0); u32(b, 0); u32(b, 0);
    size_t size_at = b->n;
    u32(b, 0);
    size_t frag = b->n;
    u8(b, 0x0f); u8(b, 1); u8(b, 1); u8(b, 0);
    size_t asz;
    size_t ev = open_elem(b, base, "Event", true, &asz);
    size_t astart = b->n;
    literal_attr(b, base, "xmlns", "http://schemas.microsoft.com/win/2004/08/events/event");
    patch32(b, asz, (uint32_t)(b->n - astart));
    u8(b, 0x02);
    size_t sys = open_elem(b, base, "System", false, NULL);
    u8(b, 0x02);
    attr_elem(b, base, "Provider", "Name", 0, 0x01);
    text_elem(b, base, "EventID", 1, 0x06);
    text_elem(b, base, "Level", 2, 0x04);
    attr_elem(b, base, "TimeCreated", "SystemTime", 3, 0x11);
    text_elem(b, base, "EventRecordID", 4, 0x0a);
    text_elem(b, base, "Channel", 5, 0x01);
    text_elem(b, base, "Computer", 6, 0x01);
    close_elem(b, sys, false);
    size_t ed = open_elem(b, base, "EventData", false, NULL);
    if (r->ndata) {
        u8(b, 0x02);
        for (size_t i = 0; i < r->ndata; i++) {
            if (!r->data[i].name) { /* <Data>{subst}</Data>: classic sources */
                size_t d = open_elem(b, base, "Data", false, NULL);
                u8(b, 0x02);
                u8(b, 0x0e);
                u16(b, (uint16_t)(7 + i));
                u8(b, vtype(r->data[i].type));
                close_elem(b, d, false);
                continue;
            }
            size_t dasz;
            size_t d = open_elem(b, base, "Data", true, &dasz);
            size_t dstart = b->n;
            literal_attr(b, base, "Name", r->data[i].name);
            patch32(b, dasz, (uint32_t)(b->n - dstart));
            u8(b, 0x02);
            u8(b, 0x0e); /* optional substitution, as Windows writes Data */
            u16(b, (uint16_t)(7 + i));
            u8(b, vtype(r->data[i].type));
            close_elem(b, d, false);
        }
        close_elem(b, ed, false);
    } else {
        close_elem(b, ed, true);
    }
    close_elem(b, ev, false);
    u8(b, 0x00); /* EOF */
    patch32(b, size_at, (uint32_t)(b->n - frag));
}

static uint64_t shape(const evtxw_record *r)
{
    uint64_t h = 1469598103934665603ull ^ r->event_id;
    for (size_t i = 0; i < r->ndata; i++) {
        for (const char *s = r->data[i].name ? r->data[i].name : ""; *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211ull;
        h = (h ^ (r->data[i].name ? 0x200u : 0x300u)) * 1099511628211ull;
        h = (h ^ (r->data[i].type + 0x100)) * 1099511628211ull;
    }
    return h;
}

static void value(bb *b, const evtxw_field *f)
{
    switch (f->type) {
    case EVTXW_U32:
    case EVTXW_HEX32:
        u32(b, (uint32_t)strtoul(f->value, NULL, 0));
        break;
    case EVTXW_U64:
        u64(b, strtoull(f->value, NULL, 0));
        break;
    case EVTXW_SID: {
        /* S-R-A-s1-s2-... */
        const char *p = f->value + 2;
        char *end;
        unsigned long rev = strtoul(p, &end, 10);
        unsigned long long auth = *end == '-' ? strtoull(end + 1, &end, 10) : 0;
        uint32_t subs[15];
        int n = 0;
        while (*end == '-' && n < 15)
            subs[n++] = (uint32_t)strtoul(end + 1, &end, 10);
        u8(b, (uint8_t)rev);
        u8(b, (uint8_t)n);
        for (int i = 5; i >= 0; i--)
            u8(b, (uint8_t)(auth >> (8 * i)));
        for (int i = 0; i < n; i++)
            u32(b, subs[i]);
        break;
    }
    default:
        utf16(b, f->value);
    }
}

int evtxw_open(const char *path, evtx_writer **out)
{
    evtx_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        perror(path);
        free(w);
        return -1;
    }
    uint8_t zero[4096] = {0};
    fwrite(zero, 1, sizeof zero, w->fp); /* header, written at close */
    w->used = 512;
    w->next_id = 1;
    *out = w;
    return 0;
}

static int flush_chunk(evtx_writer *w)
{
    uint8_t *c = w->chunk;
    if (w->nrec_in_chunk == 0)
        return 0;
    memset(c, 0, 512);
    memcpy(c, "ElfChnk", 8);
    bb h = {0};
    u64(&h, w->first_id); u64(&h, w->last_id); u64(&h, w->first_id); u64(&h, w->last_id);
    u32(&h, 128); u32(&h, w->last_off); u32(&h, w->used);
    if (h.err)
        return -1;
    memcpy(c + 8, h.p, h.n);
    free(h.p);
    uint32_t dcrc = (uint32_t)crc32(0, c + 512, w->used - 512);
    memcpy(c + 52, &dcrc, 4); /* little-endian host */
    uint32_t crc = (uint32_t)crc32(0, c, 120);
    crc = (uint32_t)crc32(crc, c + 128, 512 - 128);
    memcpy(c + 124, &crc, 4);
    memset(c + w->used, 0, CHUNK - w->used);
    if (fwrite(c, 1, CHUNK, w->fp) != CHUNK)
        return -1;
    w->nchunks++;
    w->used = 512;
    w->nrec_in_chunk = 0;
    for (size_t i = 0; i < w->ntpl; i++)
        w->tpls[i].off = 0;
    return 0;
}

static int build(evtx_writer *w, const evtxw_record *r, bb *b, uint32_t rec_off)
{
    uint64_t sig = shape(r);
    tpl *t = NULL;
    for (size_t i = 0; i < w->ntpl; i++)
        if (w->tpls[i].sig == sig)
            t = &w->tpls[i];
    if (!t) {
        if (w->ntpl == MAX_TPL)
            w->ntpl = 0; /* forget old shapes: they are redefined when met again */
        t = &w->tpls[w->ntpl++];
        t->sig = sig;
        t->off = 0;
        t->id = (uint32_t)(sig ^ (sig >> 32));
    }
    uint64_t id = w->next_id;
    uint64_t ft = (uint64_t)(r->time / 100) + 116444736000000000ull;
    u8(b, '*'); u8(b, '*'); u8(b, 0); u8(b, 0);
    u32(b, 0); /* size, patched */
    u64(b, id);
    u64(b, ft);
    u8(b, 0x0f); u8(b, 1); u8(b, 1); u8(b, 0);
    u8(b, 0x0c); u8(b, 0x01);
    u32(b, t->id);
    bool inline_def = t->off == 0;
    uint32_t def_off = inline_def ? rec_off + (uint32_t)b->n + 4 : t->off;
    u32(b, def_off);
    if (inline_def)
        template_def(b, rec_off, r, t->id);
    /* substitution values */
    uint32_t n = 7 + (uint32_t)r->ndata;
    u32(b, n);
    size_t desc = b->n;
    for (uint32_t i = 0; i < n; i++)
        u32(b, 0);
    size_t sizes[7 + 64];
    uint8_t types[7 + 64];
    size_t st;
#define VAL(i, type, stmt) st = b->n; stmt; sizes[i] = b->n - st; types[i] = type
    VAL(0, 0x01, utf16(b, r->provider ? r->provider : "Microsoft-Windows-Security-Auditing"));
    VAL(1, 0x06, u16(b, r->event_id));
    VAL(2, 0x04, u8(b, r->level));
    VAL(3, 0x11, u64(b, ft));
    VAL(4, 0x0a, u64(b, id));
    VAL(5, 0x01, utf16(b, r->channel ? r->channel : "Security"));
    VAL(6, 0x01, utf16(b, r->computer ? r->computer : "WKS01"));
    for (size_t i = 0; i < r->ndata && i < 64; i++) {
        VAL(7 + i, vtype(r->data[i].type), value(b, &r->data[i]));
    }
#undef VAL
    for (uint32_t i = 0; i < n; i++) {
        b->p[desc + i * 4] = (uint8_t)sizes[i];
        b->p[desc + i * 4 + 1] = (uint8_t)(sizes[i] >> 8);
        b->p[desc + i * 4 + 2] = sizes[i] ? types[i] : 0x00;
        b->p[desc + i * 4 + 3] = 0;
    }
    u8(b, 0x00);
    while ((b->n + 4) % 8)
        u8(b, 0);
    u32(b, 0);
    patch32(b, 4, (uint32_t)b->n);
    patch32(b, b->n - 4, (uint32_t)b->n);
    if (inline_def && b->n + rec_off <= CHUNK)
        t->off = def_off; /* referenced by later records of this chunk */
    return b->err ? -1 : 0;
}

int evtxw_add(evtx_writer *w, const evtxw_record *r)
{
    bb b = {0};
    if (r->ndata > 64)
        return -1;
    if (build(w, r, &b, w->used) != 0)
        goto fail;
    if (w->used + b.n > CHUNK) {
        /* does not fit: new chunk, where its template must be inline again */
        if (flush_chunk(w) != 0)
            goto fail;
        b.n = 0;
        if (build(w, r, &b, w->used) != 0 || w->used + b.n > CHUNK)
            goto fail;
    }
    memcpy(w->chunk + w->used, b.p, b.n);
    if (w->nrec_in_chunk == 0)
        w->first_id = w->next_id;
    w->last_id = w->next_id;
    w->last_off = w->used;
    w->used += (uint32_t)b.n;
    w->nrec_in_chunk++;
    w->next_id++;
    free(b.p);
    return 0;
fail:
    free(b.p);
    return -1;
}

int evtxw_close(evtx_writer *w)
{
    int rc = flush_chunk(w);
    uint8_t h[4096] = {0};
    bb b = {0};
    memcpy(h, "ElfFile", 8);
    u64(&b, 0);
    u64(&b, w->nchunks ? w->nchunks - 1 : 0);
    u64(&b, w->next_id);
    u32(&b, 128);
    u16(&b, 1);
    u16(&b, 3);
    u16(&b, 4096);
    u16(&b, (uint16_t)w->nchunks);
    if (!b.err)
        memcpy(h + 8, b.p, b.n);
    free(b.p);
    uint32_t crc = (uint32_t)crc32(0, h, 120);
    memcpy(h + 124, &crc, 4);
    if (fseek(w->fp, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->fp) != sizeof h)
        rc = -1;
    if (fclose(w->fp) != 0)
        rc = -1;
    free(w);
    return rc;
}
