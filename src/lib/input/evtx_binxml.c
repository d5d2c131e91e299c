/* SPDX-License-Identifier: Apache-2.0
 *
 * EVTX binary XML: compiles token streams (template definitions, raw
 * fragments, nested BinXML values) into evx_node trees, and walks a tree
 * with a record's substitution values, calling a visitor with resolved
 * typed values. Every read is bounds-checked against the chunk; nesting is
 * capped at EVX_MAX_DEPTH; every loop consumes input, so a hostile chunk
 * ends in an error, never a hang or an out-of-bounds read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "evtx.h"

/* ---- tokens and value types ------------------------------------------------ */
enum {
    T_EOF = 0x00, T_OPEN = 0x01, T_CLOSE_START = 0x02, T_CLOSE_EMPTY = 0x03, T_END = 0x04,
    T_VALUE = 0x05, T_ATTR = 0x06, T_CDATA = 0x07, T_CHARREF = 0x08, T_ENTREF = 0x09,
    T_PITARGET = 0x0a, T_PIDATA = 0x0b, T_TEMPLATE = 0x0c, T_SUBST = 0x0d, T_OSUBST = 0x0e,
    T_FRAGMENT = 0x0f
};
enum {
    V_NULL = 0x00, V_WSTR = 0x01, V_ASTR = 0x02, V_I8 = 0x03, V_U8 = 0x04, V_I16 = 0x05,
    V_U16 = 0x06, V_I32 = 0x07, V_U32 = 0x08, V_I64 = 0x09, V_U64 = 0x0a, V_R32 = 0x0b,
    V_R64 = 0x0c, V_BOOL = 0x0d, V_BIN = 0x0e, V_GUID = 0x0f, V_SIZET = 0x10, V_FILETIME = 0x11,
    V_SYSTIME = 0x12, V_SID = 0x13, V_HEX32 = 0x14, V_HEX64 = 0x15, V_HANDLE = 0x20,
    V_BINXML = EVX_V_BINXML, V_EVTXML = 0x23, V_ARRAY = 0x80
};

/* A name reference of a kept template definition: where its offset field
 * is (from the definition's start), and whether the name followed inline;
 * else the UTF-16 text it named. */
typedef struct tref {
    uint32_t pos;
    bool inl;
    const uint8_t *name;  /* in the keep's arena */
    uint32_t nbytes;
} tref;

typedef struct cur {
    evx_chunk *ch;
    const uint8_t *p;
    const uint8_t *end;
    ks_arena *a;          /* where the tree goes */
    bool dep_id;          /* element starts carry a dependency id (templates) */
    int depth;
    const char *why;
    const uint8_t *def;   /* a definition being kept: its start, else NULL */
    tref *refs;           /* its name references, in order (in a) */
    size_t nrefs, caprefs;
} cur;

#define NEED(c, k)                                                                 \
    do {                                                                           \
        if ((size_t)((c)->end - (c)->p) < (size_t)(k))                             \
            return fail(c, "token runs past the end of its data");                 \
    } while (0)

static int fail(cur *c, const char *why)
{
    if (!c->why)
        c->why = why;
    return KS_EFORMAT;
}

void evx_chunk_reset(evx_chunk *ch, const uint8_t *base, size_t size, uint64_t file_off)
{
    ch->base = base;
    ch->size = size;
    ch->file_off = file_off;
    ks__arena_reset(ch->arena);
    for (size_t k = 0; k < ch->ntpl; k++)
        ch->tpl[ch->used[k]].off = 0;
    ch->ntpl = 0;
}

/* UTF-16LE (count code units) to UTF-8 in the arena. */
static const char *utf16(ks_arena *a, const uint8_t *p, size_t count, size_t *n)
{
    size_t cap = count * 3 + 1;
    char *out = ks__arena_alloc(a, cap);
    if (!out)
        return NULL;
    *n = ks__utf16le_to_utf8(p, count * 2, out, cap, false);
    while (*n && out[*n - 1] == 0) /* trailing NULs are padding */
        (*n)--;
    out[*n] = 0;
    return out;
}

static void *grow(ks_arena *a, void *old, size_t n, size_t *cap, size_t elem);

/* Records a name reference of a definition being kept (read_name). */
static int note_ref(cur *c, uint32_t pos, bool inl, const uint8_t *name, size_t nbytes)
{
    if (!(c->refs = grow(c->a, c->refs, c->nrefs, &c->caprefs, sizeof *c->refs)))
        return KS_ENOMEM;
    tref *r = &c->refs[c->nrefs++];
    r->pos = pos;
    r->inl = inl;
    r->name = NULL;
    r->nbytes = (uint32_t)nbytes;
    if (!inl) {
        uint8_t *copy = ks__arena_alloc(c->a, nbytes ? nbytes : 1);
        if (!copy)
            return KS_ENOMEM;
        memcpy(copy, name, nbytes);
        r->name = copy;
    }
    return KS_OK;
}

/* A name reference: a chunk offset; the name struct (next offset, hash,
 * length, UTF-16, NUL) follows inline when the offset points right here. */
static int read_name(cur *c, const char **name, size_t *n)
{
    NEED(c, 4);
    uint32_t off = evx_u32(c->p);
    c->p += 4;
    uint32_t here = (uint32_t)(c->p - c->ch->base);
    if ((size_t)off + 8 > c->ch->size)
        return fail(c, "name offset outside the chunk");
    const uint8_t *s = c->ch->base + off;
    size_t count = evx_u16(s + 6);
    if ((size_t)off + 8 + count * 2 + 2 > c->ch->size)
        return fail(c, "name runs past the end of the chunk");
    *name = utf16(c->a, s + 8, count, n);
    if (!*name)
        return fail(c, "out of memory for a name");
    if (c->def && note_ref(c, here - 4 - (uint32_t)(c->def - c->ch->base), off == here, s + 8, count * 2) != KS_OK)
        return fail(c, "out of memory for a name");
    if (off == here) {
        size_t skip = 8 + count * 2 + 2;
        NEED(c, skip);
        c->p += skip;
    }
    return KS_OK;
}

/* Growable array in the arena (old copies are left behind: arenas are
 * reset per chunk, and elements have few parts). */
static void *grow(ks_arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return old;
    size_t nc = *cap ? *cap * 2 : 4;
    void *p = ks__arena_alloc(a, nc * elem);
    if (!p)
        return NULL;
    if (old)
        memcpy(p, old, n * elem);
    *cap = nc;
    return p;
}

static int parse_element(cur *c, evx_node **out);

/* One content or attribute-value part at c->p (token already known). */
static int parse_part(cur *c, evx_part *pt)
{
    uint8_t tok = *c->p & 0xbf;
    memset(pt, 0, sizeof *pt);
    switch (tok) {
    case T_VALUE: {
        NEED(c, 4);
        uint8_t vt = c->p[1];
        size_t count = evx_u16(c->p + 2);
        c->p += 4;
        if (vt != V_WSTR && vt != V_ASTR)
            return fail(c, "literal value of a type other than string");
        size_t bytes = vt == V_WSTR ? count * 2 : count;
        NEED(c, bytes);
        pt->kind = EVX_TEXT;
        if (vt == V_WSTR) {
            pt->text = utf16(c->a, c->p, count, &pt->n);
        } else {
            pt->text = ks__arena_strndup(c->a, (const char *)c->p, bytes);
            pt->n = bytes;
        }
        c->p += bytes;
        return pt->text ? KS_OK : fail(c, "out of memory");
    }
    case T_CDATA: {
        NEED(c, 3);
        size_t count = evx_u16(c->p + 1);
        c->p += 3;
        NEED(c, count * 2);
        pt->kind = EVX_CDATA;
        pt->text = utf16(c->a, c->p, count, &pt->n);
        c->p += count * 2;
        return pt->text ? KS_OK : fail(c, "out of memory");
    }
    case T_CHARREF:
        NEED(c, 3);
        pt->kind = EVX_CHARREF;
        pt->id = evx_u16(c->p + 1);
        c->p += 3;
        return KS_OK;
    case T_ENTREF:
        c->p++;
        pt->kind = EVX_ENTREF;
        return read_name(c, &pt->text, &pt->n);
    case T_SUBST:
    case T_OSUBST:
        NEED(c, 4);
        pt->kind = EVX_SUBST;
        pt->optional = tok == T_OSUBST;
        pt->id = evx_u16(c->p + 1);
        pt->vtype = c->p[3];
        c->p += 4;
        return KS_OK;
    case T_PITARGET: {
        c->p++;
        pt->kind = EVX_PI;
        if (read_name(c, &pt->text, &pt->n) != KS_OK)
            return KS_EFORMAT;
        NEED(c, 3);
        if ((*c->p & 0xbf) != T_PIDATA)
            return fail(c, "processing instruction without data");
        size_t count = evx_u16(c->p + 1);
        c->p += 3;
        NEED(c, count * 2);
        pt->pi_data = utf16(c->a, c->p, count, &pt->pi_n);
        c->p += count * 2;
        return KS_OK;
    }
    case T_OPEN:
        pt->kind = EVX_ELEM;
        return parse_element(c, &pt->elem);
    }
    return fail(c, "unexpected token in content");
}

static bool is_value_token(uint8_t t)
{
    t &= 0xbf;
    return t == T_VALUE || t == T_SUBST || t == T_OSUBST || t == T_CHARREF || t == T_ENTREF;
}

/* Finds <Data>'s Name attribute once per tree, not per record (the event
 * builder names the field after its value). */
static void data_name_attr(evx_node *nd)
{
    nd->name_attr = EVX_NAME_NONE;
    if (nd->n != 4 || memcmp(nd->name, "Data", 4))
        return;
    for (size_t i = 0; i < nd->nattrs; i++) {
        const evx_attr *a = &nd->attrs[i];
        if (a->n != 4 || memcmp(a->name, "Name", 4))
            continue;
        if (nd->name_attr != EVX_NAME_NONE || i >= 64) { /* the builder reads 64 at most */
            nd->name_attr = EVX_NAME_SEVERAL;
            return;
        }
        nd->name_attr = (int16_t)i;
        nd->name_literal = true;
        for (size_t k = 0; k < a->nparts; k++)
            if (a->parts[k].kind == EVX_SUBST)
                nd->name_literal = false;
    }
}

static int parse_element(cur *c, evx_node **out)
{
    evx_node *nd;
    size_t acap = 0, ccap = 0;
    if (++c->depth > EVX_MAX_DEPTH)
        return fail(c, "elements nested deeper than 64");
    NEED(c, 1);
    bool has_attrs = (*c->p & 0x40) != 0;
    c->p++;
    if (c->dep_id) {
        NEED(c, 2);
        c->p += 2;
    }
    NEED(c, 4);
    c->p += 4; /* data size: the walk finds the end by tokens */
    nd = ks__arena_alloc(c->a, sizeof *nd);
    if (!nd)
        return fail(c, "out of memory");
    memset(nd, 0, sizeof *nd);
    if (read_name(c, &nd->name, &nd->n) != KS_OK)
        return KS_EFORMAT;
    if (has_attrs) {
        NEED(c, 4);
        c->p += 4;
    }
    while (c->p < c->end && (*c->p & 0xbf) == T_ATTR) {
        evx_attr *at;
        nd->attrs = grow(c->a, nd->attrs, nd->nattrs, &acap, sizeof *nd->attrs);
        if (!nd->attrs)
            return fail(c, "out of memory");
        at = &nd->attrs[nd->nattrs++];
        memset(at, 0, sizeof *at);
        c->p++;
        if (read_name(c, &at->name, &at->n) != KS_OK)
            return KS_EFORMAT;
        size_t pcap = 0;
        while (c->p < c->end && is_value_token(*c->p)) {
            at->parts = grow(c->a, at->parts, at->nparts, &pcap, sizeof *at->parts);
            if (!at->parts || parse_part(c, &at->parts[at->nparts]) != KS_OK)
                return fail(c, "bad attribute value");
            at->nparts++;
        }
    }
    data_name_attr(nd);
    NEED(c, 1);
    uint8_t t = *c->p++ & 0xbf;
    if (t == T_CLOSE_EMPTY)
        goto done;
    if (t != T_CLOSE_START)
        return fail(c, "element start not closed");
    for (;;) {
        NEED(c, 1);
        t = *c->p & 0xbf;
        if (t == T_END) {
            c->p++;
            break;
        }
        if (t == T_EOF)
            return fail(c, "fragment ends inside an element");
        nd->content = grow(c->a, nd->content, nd->ncontent, &ccap, sizeof *nd->content);
        if (!nd->content)
            return fail(c, "out of memory");
        if (parse_part(c, &nd->content[nd->ncontent]) != KS_OK)
            return KS_EFORMAT;
        nd->ncontent++;
    }
done:
    c->depth--;
    *out = nd;
    return KS_OK;
}

/* A fragment: [fragment header] element [EOF]. */
static int parse_fragment(cur *c, evx_node **root)
{
    NEED(c, 1);
    if (*c->p == T_FRAGMENT) {
        NEED(c, 4);
        c->p += 4;
    }
    NEED(c, 1);
    if ((*c->p & 0xbf) != T_OPEN)
        return fail(c, "fragment does not start with an element");
    return parse_element(c, root);
}

/* ---- values ------------------------------------------------------------------ */

static size_t fixed_size(uint8_t t)
{
    switch (t) {
    case V_I8: case V_U8: return 1;
    case V_I16: case V_U16: return 2;
    case V_I32: case V_U32: case V_R32: case V_BOOL: case V_HEX32: return 4;
    case V_I64: case V_U64: case V_R64: case V_FILETIME: case V_HEX64: return 8;
    case V_GUID: case V_SYSTIME: return 16;
    }
    return 0;
}

/* Element i of a NUL-separated string array (unit = 2 for UTF-16). */
static bool string_elem(const uint8_t *p, size_t n, size_t unit, size_t i, const uint8_t **s, size_t *sn)
{
    size_t k = 0, start = 0;
    for (size_t j = 0; j + unit <= n; j += unit) {
        bool nul = unit == 2 ? (p[j] == 0 && p[j + 1] == 0) : p[j] == 0;
        if (nul) {
            if (k == i) {
                *s = p + start;
                *sn = j - start;
                return true;
            }
            k++;
            start = j + unit;
        }
    }
    if (k == i && start < n) {
        *s = p + start;
        *sn = n - start;
        return true;
    }
    return false;
}

size_t evx_value_count(const evx_value *in)
{
    uint8_t t = in->type & 0x7f;
    if (!(in->type & V_ARRAY))
        return 1;
    if (t == V_WSTR || t == V_ASTR) {
        size_t k = 0, unit = t == V_WSTR ? 2 : 1;
        const uint8_t *s;
        size_t sn;
        while (k < 65536 && string_elem(in->p, in->n, unit, k, &s, &sn))
            k++;
        return k;
    }
    if (t == V_SIZET)
        return in->n / 8;
    size_t fs = fixed_size(t);
    return fs ? in->n / fs : 1;
}

static char *latin1(ks_arena *a, const uint8_t *p, size_t n, size_t *out_n)
{
    char *o = ks__arena_alloc(a, n * 2 + 1), *q = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n && p[i]; i++) {
        if (p[i] < 0x80) {
            *q++ = (char)p[i];
        } else {
            *q++ = (char)(0xc0 | (p[i] >> 6));
            *q++ = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    *q = 0;
    *out_n = (size_t)(q - o);
    return o;
}

static int set_str(ks_value *out, const char *s, size_t n)
{
    if (!s)
        return KS_ENOMEM;
    out->type = KS_VSTR;
    out->u.s.p = s;
    out->u.s.n = n;
    return KS_OK;
}

static int fmt(ks_arena *a, ks_value *out, const char *f, ...) KS_PRINTF(3, 4);
static int fmt(ks_arena *a, ks_value *out, const char *f, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    if (k < 0)
        return KS_EINTERNAL;
    size_t n = KS_MIN((size_t)k, sizeof buf - 1);
    return set_str(out, ks__arena_strndup(a, buf, n), n);
}

/* "0x" + lowercase hex without leading zeros, into the arena (printf costs
 * more than the rest of a record's values together). */
static int hex_value(ks_arena *a, ks_value *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    char *o = ks__arena_alloc(a, n + 3);
    if (!o)
        return KS_ENOMEM;
    o[0] = '0';
    o[1] = 'x';
    for (size_t i = 0; i < n; i++)
        o[2 + i] = tmp[n - 1 - i];
    o[n + 2] = 0;
    return set_str(out, o, n + 2);
}

static size_t put_dec(char *o, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

static int convert_sid(const uint8_t *p, size_t n, ks_arena *a, ks_value *out)
{
    if (n < 8)
        return KS_EFORMAT;
    size_t subs = p[1];
    if (8 + subs * 4 > n || subs > 15)
        return KS_EFORMAT;
    uint64_t auth = 0;
    for (int i = 2; i < 8; i++)
        auth = (auth << 8) | p[i];
    char *buf = ks__arena_alloc(a, 4 + 3 + 21 + subs * 11 + 1);
    if (!buf)
        return KS_ENOMEM;
    size_t len = 0;
    buf[len++] = 'S';
    buf[len++] = '-';
    len += put_dec(buf + len, p[0]);
    buf[len++] = '-';
    len += put_dec(buf + len, auth);
    for (size_t i = 0; i < subs; i++) {
        buf[len++] = '-';
        len += put_dec(buf + len, evx_u32(p + 8 + i * 4));
    }
    buf[len] = 0;
    return set_str(out, buf, len);
}

int evx_value_convert(const evx_value *in, size_t index, ks_arena *a, ks_value *out)
{
    uint8_t t = in->type & 0x7f;
    const uint8_t *p = in->p;
    size_t n = in->n;
    memset(out, 0, sizeof *out);
    out->type = KS_VNULL;
    if (in->type & V_ARRAY) {
        if (t == V_WSTR || t == V_ASTR) {
            if (!string_elem(in->p, in->n, t == V_WSTR ? 2 : 1, index, &p, &n))
                return KS_OK;
        } else {
            size_t fs = t == V_SIZET ? 8 : fixed_size(t);
            if (!fs || (index + 1) * fs > in->n)
                return KS_OK;
            p = in->p + index * fs;
            n = fs;
        }
    }
    switch (t) {
    case V_NULL:
        return KS_OK;
    case V_WSTR: {
        size_t len;
        const char *s = utf16(a, p, n / 2, &len);
        return set_str(out, s, len);
    }
    case V_ASTR: {
        size_t len;
        char *s = latin1(a, p, n, &len);
        return set_str(out, s, len);
    }
    case V_I8:
        if (n < 1) return KS_EFORMAT;
        out->type = KS_VINT; out->u.i = (int8_t)p[0]; return KS_OK;
    case V_U8:
        if (n < 1) return KS_EFORMAT;
        out->type = KS_VUINT; out->u.u = p[0]; return KS_OK;
    case V_I16:
        if (n < 2) return KS_EFORMAT;
        out->type = KS_VINT; out->u.i = (int16_t)evx_u16(p); return KS_OK;
    case V_U16:
        if (n < 2) return KS_EFORMAT;
        out->type = KS_VUINT; out->u.u = evx_u16(p); return KS_OK;
    case V_I32:
        if (n < 4) return KS_EFORMAT;
        out->type = KS_VINT; out->u.i = (int32_t)evx_u32(p); return KS_OK;
    case V_U32:
        if (n < 4) return KS_EFORMAT;
        out->type = KS_VUINT; out->u.u = evx_u32(p); return KS_OK;
    case V_I64:
        if (n < 8) return KS_EFORMAT;
        out->type = KS_VINT; out->u.i = (int64_t)evx_u64(p); return KS_OK;
    case V_U64:
        if (n < 8) return KS_EFORMAT;
        out->type = KS_VUINT; out->u.u = evx_u64(p); return KS_OK;
    case V_R32: {
        if (n < 4) return KS_EFORMAT;
        uint32_t u = evx_u32(p);
        float f;
        memcpy(&f, &u, 4);
        out->type = KS_VFLOAT; out->u.f = f; return KS_OK;
    }
    case V_R64: {
        if (n < 8) return KS_EFORMAT;
        uint64_t u = evx_u64(p);
        memcpy(&out->u.f, &u, 8);
        out->type = KS_VFLOAT; return KS_OK;
    }
    case V_BOOL:
        if (n < 4) return KS_EFORMAT;
        out->type = KS_VBOOL; out->u.b = evx_u32(p) != 0; return KS_OK;
    case V_BIN:
    case V_HANDLE:
    case V_EVTXML:
        out->type = KS_VBIN; out->u.s.p = (const char *)p; out->u.s.n = n; return KS_OK;
    case V_GUID:
        if (n < 16) return KS_EFORMAT;
        return fmt(a, out, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", evx_u32(p),
                   evx_u16(p + 4), evx_u16(p + 6), p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
    case V_SIZET: /* win:Pointer: Windows renders it as unpadded hex */
        if (n == 4)
            return hex_value(a, out, evx_u32(p));
        if (n < 8) return KS_EFORMAT;
        return hex_value(a, out, evx_u64(p));
    case V_FILETIME: {
        if (n < 8) return KS_EFORMAT;
        uint64_t ft = evx_u64(p);
        int64_t t = ks__filetime_to_ns(ft);
        if (t != KS_TIME_NONE) {
            out->type = KS_VTIME;
            out->u.t = t;
            return KS_OK;
        }
        /* 1601-01-01 (FILETIME 0) and other dates ns cannot hold: text */
        char tb[64];
        size_t k = ks__time_format_sec((int64_t)(ft / 10000000) - 11644473600ll,
                                       (uint32_t)(ft % 10000000) * 100, tb, sizeof tb);
        return set_str(out, ks__arena_strndup(a, tb, k), k);
    }
    case V_SYSTIME: {
        if (n < 16) return KS_EFORMAT;
        int y = evx_u16(p), mo = evx_u16(p + 2), d = evx_u16(p + 6), h = evx_u16(p + 8);
        int mi = evx_u16(p + 10), s = evx_u16(p + 12), ms = evx_u16(p + 14);
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || ms > 999)
            return KS_EFORMAT;
        out->type = KS_VTIME;
        out->u.t = ks__timegm(y, mo, d, h, mi, s) * 1000000000ll + (int64_t)ms * 1000000ll;
        return KS_OK;
    }
    case V_SID:
        return convert_sid(p, n, a, out);
    case V_HEX32:
        if (n < 4) return KS_EFORMAT;
        return hex_value(a, out, evx_u32(p));
    case V_HEX64:
        if (n < 8) return KS_EFORMAT;
        return hex_value(a, out, evx_u64(p));
    }
    /* Unknown types keep their bytes rather than vanish. */
    out->type = KS_VBIN;
    out->u.s.p = (const char *)p;
    out->u.s.n = n;
    return KS_OK;
}

/* ---- walking ------------------------------------------------------------------- */

typedef struct walker {
    evx_chunk *ch;
    const evx_visitor *v;
    ks_arena *scratch;
    const evx_value *vals;
    size_t nvals;
    int depth;
    const char *why;
    uint32_t err_off;
} walker;

static int walk_node(walker *w, evx_node *nd, size_t depth);
static int walk_fragment(walker *w, const uint8_t *p, const uint8_t *end, size_t depth);

static int wfail(walker *w, const char *why)
{
    if (!w->why)
        w->why = why;
    return KS_EFORMAT;
}

static const char *entity(const char *name, size_t n)
{
    static const struct { const char *n, *v; } ents[] = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    for (size_t i = 0; i < KS_ARRAY_LEN(ents); i++)
        if (strlen(ents[i].n) == n && !memcmp(ents[i].n, name, n))
            return ents[i].v;
    return NULL;
}

/* Appends the text of a literal/charref/entity part. */
static void part_text(ks_buf *b, const evx_part *pt)
{
    char tmp[4];
    const char *e;
    switch (pt->kind) {
    case EVX_TEXT:
    case EVX_CDATA:
        ks__buf_add(b, pt->text, pt->n);
        break;
    case EVX_CHARREF:
        ks__buf_add(b, tmp, ks__utf8_put(tmp, pt->id));
        break;
    case EVX_ENTREF:
        e = entity(pt->text, pt->n);
        if (e) {
            ks__buf_adds(b, e);
        } else {
            ks__buf_addc(b, '&');
            ks__buf_add(b, pt->text, pt->n);
            ks__buf_addc(b, ';');
        }
        break;
    }
}

static bool subst_empty(const walker *w, const evx_part *pt)
{
    if (pt->id >= w->nvals)
        return true;
    const evx_value *v = &w->vals[pt->id];
    return v->type == V_NULL || v->n == 0;
}

/* Resolves parts [i, j) (no elements) into one value: typed when the run is
 * a single substitution, else the concatenated text. */
static int resolve(walker *w, const evx_part *parts, size_t i, size_t j, ks_value *out)
{
    out->type = KS_VNULL;
    if (j == i + 1 && parts[i].kind == EVX_SUBST) {
        if (subst_empty(w, &parts[i]))
            return KS_OK;
        return evx_value_convert(&w->vals[parts[i].id], 0, w->scratch, out);
    }
    if (j == i + 1 && (parts[i].kind == EVX_TEXT || parts[i].kind == EVX_CDATA)) {
        /* literal text (Data Name="...", xmlns): already UTF-8 in the tree */
        if (parts[i].n) {
            out->type = KS_VSTR;
            out->u.s.p = parts[i].text;
            out->u.s.n = parts[i].n;
        }
        return KS_OK;
    }
    ks_buf b = KS_BUF_INIT;
    for (size_t k = i; k < j; k++) {
        if (parts[k].kind == EVX_SUBST) {
            if (subst_empty(w, &parts[k]))
                continue;
            ks_value v;
            char tmp[512];
            if (evx_value_convert(&w->vals[parts[k].id], 0, w->scratch, &v) != KS_OK)
                continue;
            if (v.type == KS_VSTR)
                ks__buf_add(&b, v.u.s.p, v.u.s.n);
            else {
                size_t len = ks_value_format(&v, tmp, sizeof tmp);
                ks__buf_add(&b, tmp, KS_MIN(len, sizeof tmp - 1));
            }
        } else {
            part_text(&b, &parts[k]);
        }
    }
    if (b.n) {
        out->type = KS_VSTR;
        out->u.s.p = ks__arena_strndup(w->scratch, b.p, b.n);
        out->u.s.n = b.n;
        if (!out->u.s.p)
            out->type = KS_VNULL;
    }
    ks__buf_release(&b);
    return KS_OK;
}

/* A substitution in content: text values (one per array element), or a
 * nested BinXML fragment walked in place. */
static int content_subst(walker *w, evx_node *nd, const evx_part *pt, size_t depth)
{
    if (subst_empty(w, pt))
        return KS_OK;
    const evx_value *v = &w->vals[pt->id];
    if ((v->type & 0x7f) == V_BINXML) {
        /* nested BinXML: its own template instance and values, or elements */
        const evx_value *saved = w->vals;
        size_t nsaved = w->nvals;
        int rc = walk_fragment(w, v->p, v->p + v->n, depth + 1);
        w->vals = saved;
        w->nvals = nsaved;
        return rc;
    }
    size_t count = evx_value_count(v);
    for (size_t k = 0; k < count && k < 4096; k++) {
        ks_value out;
        if (evx_value_convert(v, k, w->scratch, &out) != KS_OK)
            return wfail(w, "substitution value does not match its type");
        int rc = w->v->text(w->v->ud, nd, &out, false);
        if (rc != KS_OK)
            return rc;
    }
    return KS_OK;
}

static int walk_node(walker *w, evx_node *nd, size_t depth)
{
    ks_value avals[64];
    size_t na = KS_MIN(nd->nattrs, KS_ARRAY_LEN(avals));
    int rc;
    if (depth > EVX_MAX_DEPTH * 2)
        return wfail(w, "nested BinXML deeper than allowed");
    for (size_t i = 0; i < na; i++)
        if ((rc = resolve(w, nd->attrs[i].parts, 0, nd->attrs[i].nparts, &avals[i])) != KS_OK)
            return rc;
    if ((rc = w->v->begin(w->v->ud, nd, avals, depth)) != KS_OK)
        return rc;
    for (size_t i = 0; i < nd->ncontent;) {
        const evx_part *pt = &nd->content[i];
        if (pt->kind == EVX_ELEM) {
            if ((rc = walk_node(w, pt->elem, depth + 1)) != KS_OK)
                return rc;
            i++;
            continue;
        }
        size_t j = evx_text_run(nd, i);
        if (j == i) { /* a processing instruction */
            i++;
            continue;
        }
        if (j == i + 1 && pt->kind == EVX_SUBST) {
            /* a lone substitution keeps its type, arrays and nested BinXML */
            if ((rc = content_subst(w, nd, pt, depth)) != KS_OK)
                return rc;
            i = j;
            continue;
        }
        ks_value v;
        if ((rc = resolve(w, nd->content, i, j, &v)) != KS_OK)
            return rc;
        if (v.type != KS_VNULL && (rc = w->v->text(w->v->ud, nd, &v, pt->kind == EVX_CDATA)) != KS_OK)
            return rc;
        i = j;
    }
    return w->v->end(w->v->ud, nd, depth);
}

size_t evx_text_run(const evx_node *nd, size_t i)
{
    while (i < nd->ncontent && nd->content[i].kind != EVX_ELEM && nd->content[i].kind != EVX_PI)
        i++;
    return i;
}

static evx_node *template_lookup(evx_chunk *ch, uint32_t off)
{
    size_t cap = KS_ARRAY_LEN(ch->tpl), i = (off * 2654435761u) & (cap - 1);
    for (size_t k = 0; k < cap; k++, i = (i + 1) & (cap - 1)) {
        if (ch->tpl[i].off == off)
            return ch->tpl[i].root;
        if (ch->tpl[i].off == 0)
            return NULL;
    }
    return NULL;
}

static void template_store(evx_chunk *ch, uint32_t off, evx_node *root)
{
    size_t cap = KS_ARRAY_LEN(ch->tpl), i = (off * 2654435761u) & (cap - 1);
    if (ch->ntpl >= EVX_MAX_TEMPLATES)
        return; /* still correct, only slower: compiled again next time */
    while (ch->tpl[i].off != 0)
        i = (i + 1) & (cap - 1);
    ch->tpl[i].off = off;
    ch->tpl[i].root = root;
    ch->used[ch->ntpl++] = (uint16_t)i;
}

static void mark_cacheable(evx_node *nd, int depth)
{
    nd->cacheable = true;
    for (size_t i = 0; i < nd->ncontent && depth < EVX_MAX_DEPTH; i++)
        if (nd->content[i].kind == EVX_ELEM)
            mark_cacheable(nd->content[i].elem, depth + 1);
}

/* ---- templates kept across chunks ------------------------------------------------ */

#define KEEP_BUCKETS 1024
#define KEEP_MAX 4096                  /* templates kept; more are compiled per chunk */
#define KEEP_BYTES ((size_t)16 << 20)  /* the keep's arena */

/* A kept definition: its bytes from the GUID on (the first 4 bytes, the
 * next-template offset, are the chunk's own), its name references, its tree. */
typedef struct kept {
    const uint8_t *bytes;
    uint32_t n;
    const tref *refs;
    size_t nrefs;
    evx_node *root;
    struct kept *next;         /* same bucket */
} kept;

struct evx_keep {
    ks_arena *a;
    kept *bucket[KEEP_BUCKETS];
    size_t n;
};

struct evx_keep *evx_keep_new(void)
{
    struct evx_keep *k = calloc(1, sizeof *k);
    if (k && !(k->a = ks__arena_new(65536, KEEP_BYTES))) {
        free(k);
        return NULL;
    }
    return k;
}

void evx_keep_free(struct evx_keep *k)
{
    if (!k)
        return;
    ks__arena_free(k->a);
    free(k);
}

static size_t keep_slot(const uint8_t *def)
{
    return (size_t)(ks__hash(def + 4, 20) & (KEEP_BUCKETS - 1)); /* GUID and size */
}

/* Is the definition at chunk offset off (n bytes from its GUID on, inside
 * the chunk) the kept one? The parse reads nothing else: equal bytes and
 * names give the same tree. */
static bool keep_same(const evx_chunk *ch, uint32_t off, uint32_t n, const kept *k)
{
    const uint8_t *d = ch->base + off;
    uint32_t at = 4; /* compared up to here, from the definition's start */
    if (k->n != n)
        return false;
    for (size_t i = 0; i < k->nrefs; i++) {
        const tref *r = &k->refs[i];
        if (r->pos < at || memcmp(d + at, k->bytes + at - 4, r->pos - at))
            return false;
        uint32_t v = evx_u32(d + r->pos), here = off + r->pos + 4;
        if (r->inl != (v == here))
            return false;
        if (!r->inl) {
            if ((size_t)v + 8 + r->nbytes + 2 > ch->size || (uint32_t)evx_u16(ch->base + v + 6) * 2 != r->nbytes ||
                memcmp(ch->base + v + 8, r->name, r->nbytes))
                return false;
        }
        at = r->pos + 4;
    }
    return !memcmp(d + at, k->bytes + at - 4, n + 4 - at);
}

/* Compiles the definition at off into the keep and keeps it; NULL when the
 * keep is full or the parse fails there (the caller compiles it per chunk,
 * which also reports a failure as before). */
static evx_node *keep_compile(evx_chunk *ch, uint32_t off, uint32_t size)
{
    struct evx_keep *k = ch->keep;
    if (k->n >= KEEP_MAX)
        return NULL;
    const uint8_t *d = ch->base + off;
    cur c = {ch, d + 24, d + 24 + size, k->a, true, 0, NULL, d, NULL, 0, 0};
    evx_node *root;
    if (parse_fragment(&c, &root) != KS_OK)
        return NULL;
    kept *e = ks__arena_alloc(k->a, sizeof *e);
    uint8_t *bytes = ks__arena_alloc(k->a, size + 20);
    if (!e || !bytes)
        return NULL;
    memcpy(bytes, d + 4, size + 20);
    mark_cacheable(root, 0);
    root->prog_arena = k->a;
    size_t b = keep_slot(d);
    *e = (kept){bytes, size + 20, c.refs, c.nrefs, root, k->bucket[b]};
    k->bucket[b] = e;
    k->n++;
    return root;
}

/* Compiles (or finds) the template defined at chunk offset `off`. */
static int get_template(walker *w, uint32_t off, evx_node **root)
{
    evx_chunk *ch = w->ch;
    if ((*root = template_lookup(ch, off)) != NULL)
        return KS_OK;
    if ((size_t)off + 24 > ch->size || off < EVX_CHUNK_HEADER)
        return wfail(w, "template definition outside the chunk");
    uint32_t size = evx_u32(ch->base + off + 20);
    if ((size_t)off + 24 + size > ch->size)
        return wfail(w, "template definition runs past the chunk");
    if (ch->keep) {
        for (const kept *k = ch->keep->bucket[keep_slot(ch->base + off)]; k; k = k->next)
            if (keep_same(ch, off, size + 20, k)) {
                *root = k->root;
                template_store(ch, off, *root);
                return KS_OK;
            }
        if ((*root = keep_compile(ch, off, size)) != NULL) {
            template_store(ch, off, *root);
            return KS_OK;
        }
    }
    cur c = {ch, ch->base + off + 24, ch->base + off + 24 + size, ch->arena, true, 0, NULL, NULL, NULL, 0, 0};
    if (parse_fragment(&c, root) != KS_OK) {
        w->err_off = (uint32_t)(c.p - ch->base);
        return wfail(w, c.why ? c.why : "bad template");
    }
    mark_cacheable(*root, 0);
    (*root)->prog_arena = ch->arena;
    template_store(ch, off, *root);
    return KS_OK;
}

/* A fragment: [header] then a template instance (definition inline or by
 * offset, then the substitution array) or a raw element tree. */
static int walk_fragment(walker *w, const uint8_t *p, const uint8_t *end, size_t depth)
{
    evx_chunk *ch = w->ch;
    evx_node *root = NULL;
    int rc;
    if (depth > EVX_MAX_DEPTH)
        return wfail(w, "nested BinXML deeper than allowed");
    if (end - p >= 4 && p[0] == T_FRAGMENT)
        p += 4;
    w->err_off = (uint32_t)(p - ch->base);
    if (p >= end)
        return wfail(w, "empty fragment");
    if ((*p & 0xbf) != T_TEMPLATE) {
        cur c = {ch, p, end, w->scratch, false, (int)depth, NULL, NULL, NULL, 0, 0};
        if (parse_fragment(&c, &root) != KS_OK) {
            w->err_off = (uint32_t)(c.p - ch->base);
            return wfail(w, c.why);
        }
        return walk_node(w, root, depth);
    }
    if (end - p < 10)
        return wfail(w, "template instance truncated");
    uint32_t def = evx_u32(p + 6);
    p += 10;
    if ((uint32_t)(p - ch->base) == def) {
        /* the definition follows inline: skip it */
        if (end - p < 24 || (size_t)(end - p) < 24 + (size_t)evx_u32(p + 20))
            return wfail(w, "inline template definition truncated");
        p += 24 + evx_u32(p + 20);
    }
    if ((rc = get_template(w, def, &root)) != KS_OK)
        return rc;
    if (end - p < 4)
        return wfail(w, "substitution array missing");
    uint32_t count = evx_u32(p);
    p += 4;
    if (count > 65535 || (size_t)(end - p) < (size_t)count * 4)
        return wfail(w, "substitution array larger than the record");
    evx_value *vals = ks__arena_alloc(w->scratch, (count ? count : 1) * sizeof *vals);
    if (!vals)
        return wfail(w, "out of memory");
    const uint8_t *data = p + (size_t)count * 4;
    bool nested = false;
    for (uint32_t i = 0; i < count; i++) {
        size_t sz = evx_u16(p + i * 4);
        if ((size_t)(end - data) < sz)
            return wfail(w, "substitution value runs past the record");
        vals[i].type = p[i * 4 + 2];
        nested |= (vals[i].type & 0x7f) == V_BINXML;
        vals[i].p = data;
        vals[i].n = sz;
        data += sz; /* positions follow the declared sizes, whatever the type */
    }
    if (depth == 0 && w->v->instance && (rc = w->v->instance(w->v->ud, root, vals, count, nested)) != EVX_WALK)
        return rc;
    w->vals = vals;
    w->nvals = count;
    return walk_node(w, root, depth);
}

int evx_walk_record(evx_chunk *ch, const uint8_t *p, size_t n, const evx_visitor *v,
                    ks_arena *scratch, const char **why, uint32_t *err_off)
{
    walker w = {ch, v, scratch, NULL, 0, 0, NULL, 0};
    int rc = walk_fragment(&w, p, p + n, 0);
    if (rc != KS_OK) {
        *why = w.why ? w.why : "malformed binary XML";
        *err_off = w.err_off;
    }
    return rc;
}
