/* SPDX-License-Identifier: Apache-2.0
 *
 * The JSON flattener (see json.h): a recursive-descent parser that emits
 * leaves straight into a ks_event instead of building a tree, so a record
 * costs one pass and no allocation unless a string needs unescaping.
 * Chosen over jansson/json-c by benchmark (docs/JSON.md): both build a DOM
 * per record and copy every string.
 */
#include <stdlib.h>
#include <string.h>
#include "json.h"

typedef struct parser {
    const char *p;       /* cursor */
    const char *start;   /* for error offsets */
    const char *end;
    ks_event *ev;
    char path[KS_JSON_MAX_PATH + 64]; /* current dotted path */
    size_t plen;
    int depth;
    int rc;
    const char *why;     /* static error sentence */
} parser;

static int fail(parser *ps, int rc, const char *why)
{
    if (ps->rc == KS_OK) {
        ps->rc = rc;
        ps->why = why;
    }
    return rc;
}

static inline void skip_ws(parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Parses a string at ps->p (after the opening quote). Returns its decoded
 * text as a slice: into the input when possible, else into the arena. */
static int parse_string(parser *ps, ks_slice *out)
{
    const char *s = ps->p, *q = s;
    bool simple = true;
    while (q < ps->end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c == '\\') {
            simple = false;
            q += 2;
            continue;
        }
        if (c < 0x20)
            return fail(ps, KS_EFORMAT, "control character in string");
        if (c >= 0x80)
            simple = false;
        q++;
    }
    if (q >= ps->end) {
        ps->p = ps->end;
        return fail(ps, KS_EFORMAT, "unterminated string");
    }
    size_t n = (size_t)(q - s);
    ps->p = q + 1;
    if (simple || (memchr(s, '\\', n) == NULL && ks__utf8_valid(s, n))) {
        out->p = s;
        out->n = n;
        return KS_OK;
    }
    /* Decode escapes and repair invalid UTF-8 into the arena. Output is
     * never longer than 3 bytes per input byte (U+FFFD for one bad byte). */
    size_t cap;
    if (!ks__mul_ok(n, 3, &cap))
        return fail(ps, KS_ELIMIT, "string too long");
    char *d = ks__arena_alloc(ps->ev->arena, cap + 1), *o = d;
    if (!d)
        return fail(ps, KS_ELIMIT, "string does not fit the event arena");
    for (const char *r = s; r < q;) {
        unsigned char c = (unsigned char)*r;
        if (c == '\\') {
            char e = r[1];
            r += 2;
            switch (e) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (q - r < 4 || hex4(r, &cp) != 0)
                    return fail(ps, KS_EFORMAT, "bad \\u escape");
                r += 4;
                if (cp >= 0xd800 && cp <= 0xdbff && q - r >= 6 && r[0] == '\\' && r[1] == 'u' &&
                    hex4(r + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    r += 6;
                }
                o += ks__utf8_put(o, cp); /* lone surrogates become U+FFFD */
                break;
            }
            default:
                return fail(ps, KS_EFORMAT, "bad escape in string");
            }
            continue;
        }
        if (c < 0x80) {
            *o++ = (char)c;
            r++;
            continue;
        }
        size_t ok = ks__utf8_valid_prefix(r, KS_MIN((size_t)(q - r), 4));
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (ok >= len) {
            memcpy(o, r, len);
            o += len;
            r += len;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            r++;
        }
    }
    out->p = d;
    out->n = (size_t)(o - d);
    return KS_OK;
}

static int parse_number(parser *ps, ks_value *v)
{
    const char *s = ps->p, *q = s;
    bool neg = false, isint = true;
    uint64_t acc = 0;
    bool overflow = false;
    if (q < ps->end && *q == '-') {
        neg = true;
        q++;
    }
    if (q >= ps->end || *q < '0' || *q > '9')
        return fail(ps, KS_EFORMAT, "bad number");
    while (q < ps->end && *q >= '0' && *q <= '9') {
        unsigned d = (unsigned)(*q - '0');
        if (acc > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            acc = acc * 10 + d;
        q++;
    }
    if (q < ps->end && *q == '.') {
        isint = false;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return fail(ps, KS_EFORMAT, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        isint = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return fail(ps, KS_EFORMAT, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    ps->p = q;
    if (isint && !overflow) {
        if (!neg && acc > (uint64_t)INT64_MAX) {
            v->type = KS_VUINT;
            v->u.u = acc;
            return KS_OK;
        }
        if (!neg || acc <= (uint64_t)INT64_MAX + 1) {
            v->type = KS_VINT;
            v->u.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
            return KS_OK;
        }
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof tmp) {
        /* Absurdly long number: keep its text rather than lose it. */
        v->type = KS_VSTR;
        v->u.s.p = s;
        v->u.s.n = n;
        return KS_OK;
    }
    memcpy(tmp, s, n);
    tmp[n] = 0;
    v->type = KS_VFLOAT;
    v->u.f = strtod(tmp, NULL);
    return KS_OK;
}

static int add_leaf(parser *ps, const ks_value *v)
{
    int rc = ks__event_add_named(ps->ev, ps->path, ps->plen, v);
    if (rc == KS_ENOMEM)
        return fail(ps, rc, "out of memory");
    return KS_OK; /* a field over the cap is dropped, the record still counts */
}

static int push_key(parser *ps, const char *k, size_t n, size_t *saved)
{
    *saved = ps->plen;
    size_t need = ps->plen + (ps->plen ? 1 : 0) + n;
    if (need > KS_JSON_MAX_PATH)
        return fail(ps, KS_ELIMIT, "field path longer than 1024 bytes");
    if (ps->plen)
        ps->path[ps->plen++] = '.';
    memcpy(ps->path + ps->plen, k, n);
    ps->plen += n;
    return KS_OK;
}

static int parse_value(parser *ps);

/* After a member or an element: ',' means another follows (1), the
 * closing bracket ends the container (KS_OK), anything else is an error
 * (its code, after fail()). */
static int after_item(parser *ps, char close, const char *what)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        return 1;
    }
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return KS_OK;
    }
    return fail(ps, KS_EFORMAT, what);
}

static int parse_object(parser *ps)
{
    ps->p++; /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return KS_OK;
    }
    for (;;) {
        ks_slice key;
        size_t saved;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"')
            return fail(ps, KS_EFORMAT, "expected a string key");
        ps->p++;
        if (parse_string(ps, &key) != KS_OK)
            return ps->rc;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return fail(ps, KS_EFORMAT, "expected ':' after key");
        ps->p++;
        if (push_key(ps, key.p, key.n, &saved) != KS_OK)
            return ps->rc;
        if (parse_value(ps) != KS_OK)
            return ps->rc;
        ps->plen = saved;
        int more = after_item(ps, '}', "expected ',' or '}' in object");
        if (more != 1)
            return more;
    }
}

static int parse_array(parser *ps)
{
    size_t idx = 0;
    ps->p++; /* [ */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return KS_OK;
    }
    for (;;) {
        char num[24];
        size_t saved;
        int k = snprintf(num, sizeof num, "%zu", idx++);
        skip_ws(ps);
        bool scalar = ps->p < ps->end && *ps->p != '{' && *ps->p != '[';
        size_t base = ps->plen;
        if (push_key(ps, num, (size_t)k, &saved) != KS_OK)
            return ps->rc;
        if (scalar && base) {
            /* Scalar element: add under "a.N" and under "a" itself. */
            size_t before = ps->ev->n;
            if (parse_value(ps) != KS_OK)
                return ps->rc;
            if (ps->ev->n == before + 1) {
                ks_value v = ps->ev->fields[before].v;
                ps->plen = base;
                if (add_leaf(ps, &v) != KS_OK)
                    return ps->rc;
            }
        } else if (parse_value(ps) != KS_OK) {
            return ps->rc;
        }
        ps->plen = saved;
        int more = after_item(ps, ']', "expected ',' or ']' in array");
        if (more != 1)
            return more;
    }
}

static int literal(parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, KS_EFORMAT, "unexpected character");
    ps->p += n;
    return KS_OK;
}

static int parse_value(parser *ps)
{
    ks_value v = {.type = KS_VNULL};
    int rc;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, KS_EFORMAT, "unexpected end of input");
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > KS_JSON_MAX_DEPTH)
            return fail(ps, KS_ELIMIT, "nesting deeper than 128 levels");
        rc = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return rc;
    case '"':
        ps->p++;
        v.type = KS_VSTR;
        if (parse_string(ps, &v.u.s) != KS_OK)
            return ps->rc;
        break;
    case 't':
        if (literal(ps, "true", 4) != KS_OK)
            return ps->rc;
        v.type = KS_VBOOL;
        v.u.b = true;
        break;
    case 'f':
        if (literal(ps, "false", 5) != KS_OK)
            return ps->rc;
        v.type = KS_VBOOL;
        v.u.b = false;
        break;
    case 'n':
        if (literal(ps, "null", 4) != KS_OK)
            return ps->rc;
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
            if (parse_number(ps, &v) != KS_OK)
                return ps->rc;
            break;
        }
        return fail(ps, KS_EFORMAT, "unexpected character");
    }
    if (ps->plen == 0) /* a bare scalar at top level has no name */
        return KS_OK;
    return add_leaf(ps, &v);
}

int ks__json_flatten(ks_event *ev, const char *prefix, size_t prefix_n, const char *p, size_t n,
                     uint64_t *err_off, const char **why)
{
    parser ps;
    ps.p = ps.start = p;
    ps.end = p + n;
    ps.ev = ev;
    ps.depth = 0;
    ps.rc = KS_OK;
    ps.why = NULL;
    ps.plen = 0;
    if (prefix_n > KS_JSON_MAX_PATH) {
        fail(&ps, KS_ELIMIT, "prefix too long");
        goto out;
    }
    memcpy(ps.path, prefix, prefix_n);
    ps.plen = prefix_n;
    if (parse_value(&ps) == KS_OK) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            fail(&ps, KS_EFORMAT, "trailing characters after JSON value");
    }
out:
    if (ps.rc != KS_OK) {
        if (err_off)
            *err_off = (uint64_t)(ps.p - ps.start);
        if (why)
            *why = ps.why;
    }
    return ps.rc;
}

size_t ks__json_extent(const char *p, size_t n, bool stop_at_newline)
{
    size_t depth = 0;
    const char *q = p, *end = p + n;
    while (q < end) {
        char c = *q;
        if (c == '"') {
            q++;
            for (;;) {
                /* Jump to the next quote, backslash or control byte. */
                while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
                    q++;
                if (q >= end)
                    return 0;
                if (*q == '"')
                    break;
                if (*q == '\\') {
                    q += 2;
                    if (q > end)
                        return 0;
                    continue;
                }
                return (size_t)-1; /* raw control character: broken record */
            }
            q++;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return (size_t)-1;
            if (--depth == 0)
                return (size_t)(q + 1 - p);
        } else if (c == '\n' && stop_at_newline) {
            return (size_t)-1;
        }
        q++;
    }
    return 0;
}
