/* SPDX-License-Identifier: Apache-2.0
 *
 * A MIME walker over a message's bytes that builds no object tree.
 *
 * gmime's parser makes some forty GObjects per message of a mailbox (the
 * message, a header object per header, header lists, six address lists,
 * content types and dispositions with their parameter lists, parts, data
 * wrappers, substreams) and frees them again: that was over a quarter of
 * the CPU of an index build. This walker finds the same header blocks,
 * boundaries and part contents as gmime's parser does (gmime-parser.c,
 * 3.2: step_headers, check_boundary, parser_scan_content, the multipart
 * and message/rfc822 constructors, followed line by line), into a flat
 * table of parts, and hands out the same text units through the functions
 * mail_mime.c uses for gmime's tree. gmime still does what it is for:
 * RFC 2047 words (g_mime_utils_header_decode_text), address lists, dates,
 * Message-IDs, transfer encodings and charset conversion.
 *
 * It only reads what it can be sure of. The whole structure is read
 * before anything is handed out, and the message goes back to gmime
 * (MIME_FAST_DECLINED, nothing handed out) on anything the parser treats
 * specially: a header line that is not "name: value" or a continuation,
 * a header block without its blank line, NUL bytes in headers, Content-*
 * headers that repeat, carry encoded words, 8-bit bytes, comments, RFC
 * 2231 parameters, escapes in quoted strings or anything the simple
 * grammar below does not cover, a part whose headers end at a boundary,
 * uuencoded parts, a boundary gmime's 4 KiB scan window could see in the
 * middle of a long line, deep nesting.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "extract/mail_mime.h"

/* Parts nested (multiparts and messages) before the walker declines. */
#define MF_MAX_DEPTH 48
/* Parameters of one Content-Type / Content-Disposition. */
#define MF_MAX_PARAMS 16
/* gmime's parser reads in a window and checks each piece of a line that
 * does not fit for a boundary: a line up to this long is always seen
 * whole (SCAN_HEAD), a longer one only when no boundary is in it. */
#define MF_LONG_LINE 128
/* From / To / Cc headers of one message the fast address path reads. */
#define MF_MAX_ADDR_HDRS 8

/* Exported by libgmime 3.2 but missing from its header: what
 * GMimeMessage calls for an address header (keeps the addresses read
 * before a syntax error, which internet_address_list_parse drops). */
void internet_address_list_append_parse(InternetAddressList *list, GMimeParserOptions *options, const char *str);

static bool fast_on = true;

static uint64_t n_fast, n_declined;

void ks__mime_fast_enable(bool on) { fast_on = on; }

void ks__mime_fast_stats(uint64_t *fast, uint64_t *declined)
{
    *fast = __atomic_load_n(&n_fast, __ATOMIC_RELAXED);
    *declined = __atomic_load_n(&n_declined, __ATOMIC_RELAXED);
}

static int declined(void)
{
    __atomic_fetch_add(&n_declined, 1, __ATOMIC_RELAXED);
    return MIME_FAST_DECLINED;
}

enum { MF_NONE, MF_EOS, MF_IMM, MF_IMM_END, MF_PARENT, MF_PARENT_END };
enum { MF_LEAF, MF_MULTI, MF_MESSAGE };

typedef struct mf_hdr {
    const char *name;        /* as before ':' (arena) */
    const char *raw;         /* everything after ':', line breaks included (arena) */
    uint64_t off;            /* where the header's line starts */
} mf_hdr;

typedef struct mf_part {
    int kind;
    uint64_t off;            /* the object's first header, or UINT64_MAX */
    const char *type, *subtype;   /* the object's content type */
    const char *charset, *smime_type, *ctname, *boundary;
    const char *dfilename;   /* Content-Disposition filename */
    bool attachment, text_part;
    GMimeContentEncoding enc;
    bool have;               /* leaf: content scanned */
    size_t c0, cn;           /* leaf: content span */
    const char *prologue, *epilogue; /* multipart: NUL-terminated or NULL */
    int first, last, next;   /* multipart: children; siblings */
    int msg;                 /* message part: its message, or -1 */
} mf_part;

typedef struct mf_msg {
    int h0, hn;              /* its headers (Content-* belong to its part) */
    int root;                /* its part, or -1 */
} mf_msg;

typedef struct mf_params {
    const char *name[MF_MAX_PARAMS], *value[MF_MAX_PARAMS];
    int n;
} mf_params;

struct mime_fast {
    ks_arena *arena;         /* strings of one message */
    mf_hdr *hdr;
    size_t nhdr, caphdr;
    mf_part *part;
    size_t npart, cappart;
    mf_msg *msg;
    size_t nmsg, capmsg;
    /* parse state */
    const uint8_t *p;
    size_t n, pos;
    struct {
        char *s;             /* "--boundary--" (arena) */
        size_t len;          /* strlen("--boundary") */
    } bound[MF_MAX_DEPTH];
    int nb;
    int boundary;            /* what the last scan stopped at */
    ks_buf addrs;            /* scratch: one address field */
};

void ks__mime_fast_free(mime_fast *f)
{
    if (!f)
        return;
    ks__arena_free(f->arena);
    ks__buf_release(&f->addrs);
    free(f->hdr);
    free(f->part);
    free(f->msg);
    free(f);
}

/* ---- characters (gmime's table, restricted to ASCII) ------------------------------ */

static bool is_lwsp(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool is_ttoken(int c)
{
    return c > ' ' && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

static const char *skip_lwsp(const char *s)
{
    while (is_lwsp((unsigned char)*s))
        s++;
    return s;
}

/* ---- header values and parameters ------------------------------------------------ */

/* What g_mime_header_get_value gives for raw (arena copy); NULL on memory. */
static const char *mf_value(mime_fast *f, const char *raw)
{
    const char *rp;
    size_t rn;
    if (ks__mime_plain_value(raw, &rp, &rn))
        return ks__arena_strndup(f->arena, rp, rn);
    char *own;
    const char *d = ks__mime_header_value(raw, &own);
    const char *r = d ? ks__arena_strndup(f->arena, d, strlen(d)) : NULL;
    g_free(own);
    return r;
}

/* A run of token characters at *s, copied; NULL when empty. */
static const char *mf_token(mime_fast *f, const char **s, bool star)
{
    const char *b = *s, *e = b;
    while (is_ttoken((unsigned char)*e) && (star || *e != '*'))
        e++;
    *s = e;
    return e > b ? ks__arena_strndup(f->arena, b, (size_t)(e - b)) : NULL;
}

/* Parameters "; name=value; name="value"" as gmime's decode_param_list
 * gives them, for the forms where it gives the value as written: false
 * for anything else (RFC 2231, encoded words, escapes, 8-bit, comments,
 * junk, repeats). s is after the first ';'. */
static bool mf_params_parse(mime_fast *f, const char *s, mf_params *pr)
{
    pr->n = 0;
    for (;;) {
        s = skip_lwsp(s);
        if (!*s)
            return true;
        const char *name = mf_token(f, &s, false);
        if (!name || pr->n == MF_MAX_PARAMS)
            return false;
        s = skip_lwsp(s);
        if (*s++ != '=')
            return false;
        s = skip_lwsp(s);
        const char *v;
        if (*s == '"') {
            const char *e = s + 1;
            while (*e && *e != '"' && *e != '\\' && ((unsigned char)*e >= ' ' || *e == '\t') &&
                   (unsigned char)*e < 127)
                e++;
            if (*e != '"')
                return false;
            v = ks__arena_strndup(f->arena, s + 1, (size_t)(e - s - 1));
            s = e + 1;
        } else if (!(v = mf_token(f, &s, true))) {
            return false;
        }
        if (!v || strstr(v, "=?"))
            return false;
        for (int i = 0; i < pr->n; i++)
            if (!strcasecmp(pr->name[i], name))
                return false;
        pr->name[pr->n] = name;
        pr->value[pr->n++] = v;
        s = skip_lwsp(s);
        if (!*s)
            return true;
        if (*s++ != ';')
            return false;
    }
}

static const char *mf_param(const mf_params *pr, const char *name)
{
    for (int i = 0; i < pr->n; i++)
        if (!strcasecmp(pr->name[i], name))
            return pr->value[i];
    return NULL;
}

/* "type/subtype" at the start of s (g_mime_parse_content_type on the
 * simple form); *rest after it. */
static bool mf_type(mime_fast *f, const char *s, const char **type, const char **subtype, const char **rest)
{
    s = skip_lwsp(s);
    if (!(*type = mf_token(f, &s, true)))
        return false;
    s = skip_lwsp(s);
    if (*s++ != '/')
        return false;
    s = skip_lwsp(s);
    if (!(*subtype = mf_token(f, &s, true)))
        return false;
    *rest = skip_lwsp(s);
    return **rest == 0 || **rest == ';';
}

/* A Content-* raw value the walker reads: ASCII text without encoded
 * words or comments (the parser and the part object then agree on it). */
static bool mf_plain_raw(const char *raw)
{
    for (const char *s = raw; *s; s++)
        if ((unsigned char)*s >= 127 || ((unsigned char)*s < ' ' && !is_lwsp((unsigned char)*s)) ||
            (s[0] == '=' && s[1] == '?') || *s == '(')
            return false;
    return true;
}

/* ---- boundaries --------------------------------------------------------------------- */

/* is_boundary: text starts with the boundary and the rest is blank. */
static bool mf_is_boundary(const uint8_t *s, size_t len, const char *b, size_t blen)
{
    if (blen > len || memcmp(s, b, blen) != 0)
        return false;
    for (size_t i = blen; i < len; i++)
        if (!is_lwsp(s[i]))
            return false;
    return true;
}

/* check_boundary for a line of len bytes (without its '\n'). */
static int mf_check(const mime_fast *f, const uint8_t *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (len < 2 || s[0] != '-' || s[1] != '-')
        return MF_NONE;
    for (int i = f->nb - 1; i >= 0; i--) {
        if (mf_is_boundary(s, len, f->bound[i].s, f->bound[i].len + 2))
            return i == f->nb - 1 ? MF_IMM_END : MF_PARENT_END;
        if (mf_is_boundary(s, len, f->bound[i].s, f->bound[i].len))
            return i == f->nb - 1 ? MF_IMM : MF_PARENT;
    }
    return MF_NONE;
}

/* A line gmime might look at in pieces that has a boundary in it: each
 * piece is checked as if it began a line, so only gmime knows. */
static bool mf_long_line_risk(const mime_fast *f, const uint8_t *s, size_t len)
{
    if (len <= MF_LONG_LINE)
        return false;
    for (int i = 0; i < f->nb; i++)
        if (memmem(s, len, f->bound[i].s, f->bound[i].len))
            return true;
    return false;
}

static size_t mf_line_len(const mime_fast *f, size_t pos, bool *nl)
{
    const uint8_t *e = memchr(f->p + pos, '\n', f->n - pos);
    *nl = e != NULL;
    return e ? (size_t)(e - (f->p + pos)) : f->n - pos;
}

/* parser_scan_content: from pos to the next line that is a boundary of
 * the stack (or the end). The span excludes the line break before the
 * boundary line (two bytes when the boundary line ends in "\r\n", as
 * gmime counts them). pos is left at the boundary line. False: declined. */
static bool mf_scan(mime_fast *f, size_t *c0, size_t *cn, bool *empty)
{
    size_t start = f->pos, pos = f->pos, len = 0;
    bool nl = false;
    f->boundary = MF_EOS;
    if (f->nb == 0) {
        pos = f->n;
    } else {
        while (pos < f->n) {
            len = mf_line_len(f, pos, &nl);
            if (mf_long_line_risk(f, f->p + pos, len))
                return false;
            int b = mf_check(f, f->p + pos, len);
            if (b != MF_NONE) {
                f->boundary = b;
                break;
            }
            pos += len + nl;
        }
    }
    size_t clen = pos - start;
    *empty = clen == 0;
    if (f->boundary != MF_EOS && clen > 0) {
        size_t strip = f->p[pos + len - 1] == '\r' ? 2 : 1;
        if (clen < strip)
            return false;
        clen -= strip;
    }
    f->pos = pos;
    *c0 = start;
    *cn = clen;
    return true;
}

/* parser_skip_line: past the next '\n'; false at the end without one. */
static bool mf_skip_line(mime_fast *f)
{
    bool nl;
    size_t len = f->pos < f->n ? mf_line_len(f, f->pos, &nl) : 0;
    if (f->pos >= f->n || !nl) {
        f->pos = f->n;
        return false;
    }
    f->pos += len + 1;
    return true;
}

/* found_immediate_boundary, after a pop. */
static bool mf_found_immediate(const mime_fast *f, bool end)
{
    bool nl;
    if (f->nb == 0 || f->pos >= f->n)
        return false;
    size_t len = mf_line_len(f, f->pos, &nl);
    return mf_is_boundary(f->p + f->pos, len, f->bound[f->nb - 1].s, f->bound[f->nb - 1].len + (end ? 2 : 0));
}

/* ---- headers ------------------------------------------------------------------------ */

static bool mf_header_add(mime_fast *f, size_t start, size_t colon, size_t end)
{
    if (ks__grow(&f->hdr, &f->caphdr, f->nhdr, sizeof *f->hdr, 16) != KS_OK)
        return false;
    mf_hdr *h = &f->hdr[f->nhdr];
    h->name = ks__arena_strndup(f->arena, (const char *)f->p + start, colon - start);
    h->raw = ks__arena_strndup(f->arena, (const char *)f->p + colon + 1, end - colon - 1);
    h->off = start;
    f->nhdr++;
    return h->name && h->raw;
}

/* A header block at pos, as step_headers reads one that is well formed:
 * "name: value" lines and their continuations up to a blank line. */
static bool mf_headers(mime_fast *f, int *h0, int *hn)
{
    size_t pos = f->pos, start = 0, colon = 0;
    bool pending = false, nl;
    *h0 = (int)f->nhdr;
    for (;;) {
        if (pos >= f->n)
            return false;
        const uint8_t *line = f->p + pos;
        size_t len = mf_line_len(f, pos, &nl);
        if (!nl)
            return false; /* the block ends without its blank line */
        if (len == 0 || (len == 1 && line[0] == '\r')) {
            if (pending && !mf_header_add(f, start, colon, pos))
                return false;
            f->pos = pos + len + 1;
            break;
        }
        if (memchr(line, 0, len) || mf_long_line_risk(f, line, len))
            return false;
        if (line[0] == ' ' || line[0] == '\t') {
            if (!pending)
                return false;
        } else {
            size_t k = 0;
            while (k < len && line[k] > ' ' && line[k] < 127 && line[k] != ':')
                k++;
            if (k == 0 || k == len || line[k] != ':')
                return false;
            if (pending && !mf_header_add(f, start, colon, pos))
                return false;
            start = pos;
            colon = pos + k;
            pending = true;
        }
        pos += len + 1;
    }
    *hn = (int)f->nhdr - *h0;
    return true;
}

static bool hdr_is(const mf_hdr *h, const char *name) { return !strcasecmp(h->name, name); }

static bool content_hdr(const mf_hdr *h) { return !strncasecmp(h->name, "Content-", 8); }

/* ---- parts -------------------------------------------------------------------------- */

static bool mf_part_body(mime_fast *f, int part, int depth);

static int mf_part_new(mime_fast *f)
{
    if (ks__grow(&f->part, &f->cappart, f->npart, sizeof *f->part, 16) != KS_OK)
        return -1;
    mf_part *p = &f->part[f->npart];
    memset(p, 0, sizeof *p);
    p->first = p->last = p->next = p->msg = -1;
    p->off = UINT64_MAX;
    return (int)f->npart++;
}

/* A part from its headers h[h0..h0+hn): the object gmime would make (its
 * class from the parser's reading of Content-Type, its content type,
 * disposition and transfer encoding from its own headers; a top-level
 * part of a message has only the Content-* ones), then its body. parent:
 * the enclosing multipart's subtype is "digest" (default message/rfc822). */
static int mf_part_make(mime_fast *f, int h0, int hn, bool toplevel, bool digest, int depth)
{
    const mf_hdr *ct = NULL, *cd = NULL, *cte = NULL;
    int part = mf_part_new(f);
    if (part < 0 || depth >= MF_MAX_DEPTH)
        return -1;
    mf_part *p = &f->part[part];
    for (int i = h0; i < h0 + hn; i++) {
        const mf_hdr *h = &f->hdr[i];
        if (!content_hdr(h)) {
            if (!toplevel && p->off == UINT64_MAX)
                p->off = h->off;
            continue;
        }
        if (p->off == UINT64_MAX)
            p->off = h->off;
        const mf_hdr **slot = hdr_is(h, "Content-Type") ? &ct
                              : hdr_is(h, "Content-Disposition") ? &cd
                              : hdr_is(h, "Content-Transfer-Encoding") ? &cte
                                                                        : NULL;
        if (!slot)
            continue;
        if (*slot || !mf_plain_raw(h->raw))
            return -1;
        *slot = h;
    }
    mf_params pr = {.n = 0};
    if (ct) {
        const char *v = mf_value(f, ct->raw), *rest, *rt, *rst, *rr;
        /* the parser's reading (raw) and the object's (decoded) agree */
        if (!v || !mf_type(f, v, &p->type, &p->subtype, &rest) ||
            !mf_type(f, ct->raw, &rt, &rst, &rr) || strcmp(rt, p->type) || strcmp(rst, p->subtype))
            return -1;
        if (*rest == ';' && rest[1] && !mf_params_parse(f, rest + 1, &pr))
            return -1;
        p->charset = mf_param(&pr, "charset");
        p->smime_type = mf_param(&pr, "smime-type");
        p->ctname = mf_param(&pr, "name");
        p->boundary = mf_param(&pr, "boundary");
    } else {
        p->type = digest ? "message" : "text";
        p->subtype = digest ? "rfc822" : "plain";
    }
    if (cd) {
        const char *v = mf_value(f, cd->raw);
        if (!v)
            return -1;
        const char *semi = strchr(v, ';');
        size_t dn = semi ? (size_t)(semi - v) : strlen(v);
        char *disp = ks__arena_strndup(f->arena, v, dn);
        if (!disp)
            return -1;
        g_strstrip(disp);
        p->attachment = !strcasecmp(disp, "attachment");
        mf_params dp = {.n = 0};
        if (semi && semi[1] && !mf_params_parse(f, semi + 1, &dp))
            return -1;
        p->dfilename = mf_param(&dp, "filename");
    }
    if (cte) {
        const char *v = mf_value(f, cte->raw);
        if (!v)
            return -1;
        p->enc = g_mime_content_encoding_from_string(v);
    }
    if (!strcasecmp(p->type, "multipart")) {
        p->kind = MF_MULTI;
    } else if (!strcasecmp(p->type, "message") &&
               (!strcasecmp(p->subtype, "rfc822") || !strcasecmp(p->subtype, "rfc2822") ||
                !strcasecmp(p->subtype, "global") || !strcasecmp(p->subtype, "news")) &&
               p->enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE && p->enc != GMIME_CONTENT_ENCODING_BASE64 &&
               p->enc != GMIME_CONTENT_ENCODING_UUENCODE) {
        p->kind = MF_MESSAGE;
    } else {
        p->kind = MF_LEAF;
        p->text_part = !strcasecmp(p->type, "text");
        if (p->enc == GMIME_CONTENT_ENCODING_UUENCODE)
            return -1; /* gmime's filter looks for the begin line */
    }
    return mf_part_body(f, part, depth) ? part : -1;
}

static bool mf_face(mime_fast *f, const char **out)
{
    size_t c0, cn;
    bool empty;
    if (!mf_scan(f, &c0, &cn, &empty))
        return false;
    *out = NULL;
    if (empty)
        return true;
    /* crlf2lf of gmime's NUL-terminated copy */
    if (memchr(f->p + c0, 0, cn))
        return false;
    char *s = ks__arena_alloc(f->arena, cn + 1);
    if (!s)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < cn; i++)
        if (!(f->p[c0 + i] == '\r' && i + 1 < cn && f->p[c0 + i + 1] == '\n'))
            s[k++] = (char)f->p[c0 + i];
    s[k] = 0;
    *out = s;
    return true;
}

/* parser_construct_multipart after its headers. */
static bool mf_multipart(mime_fast *f, int part, int depth)
{
    const char *b = f->part[part].boundary;
    bool digest = !strcasecmp(f->part[part].subtype, "digest");
    if (!b)
        return mf_face(f, &f->part[part].prologue); /* everything goes to the prologue */
    size_t bl = strlen(b);
    if (!bl || strchr(b, ':') || strchr(b, ' ') || strchr(b, '\t') || f->nb == MF_MAX_DEPTH)
        return false;
    char *s = ks__arena_printf(f->arena, "--%s--", b);
    if (!s)
        return false;
    f->bound[f->nb].s = s;
    f->bound[f->nb].len = bl + 2;
    f->nb++;
    if (!mf_face(f, &f->part[part].prologue))
        return false;
    if (f->boundary == MF_IMM) {
        do {
            int h0, hn;
            if (!mf_skip_line(f) || f->pos >= f->n) {
                f->boundary = MF_EOS; /* no headers at all: gmime's error state */
                break;
            }
            if (!mf_headers(f, &h0, &hn))
                return false;
            int child = mf_part_make(f, h0, hn, false, digest, depth + 1);
            if (child < 0)
                return false;
            mf_part *p = &f->part[part];
            if (p->last >= 0)
                f->part[p->last].next = child;
            else
                p->first = child;
            p->last = child;
        } while (f->boundary == MF_IMM);
    }
    if (f->boundary == MF_IMM_END) {
        mf_skip_line(f);
        f->nb--;
        return mf_face(f, &f->part[part].epilogue);
    }
    f->nb--;
    if (f->boundary == MF_PARENT_END && mf_found_immediate(f, true))
        f->boundary = MF_IMM_END;
    else if (f->boundary == MF_PARENT && mf_found_immediate(f, false))
        f->boundary = MF_IMM;
    return true;
}

/* parser_scan_message_part. */
static bool mf_message(mime_fast *f, int part, int depth)
{
    if (f->nb > 0) {
        if (f->pos >= f->n) {
            f->boundary = MF_EOS;
            return true;
        }
        bool nl;
        size_t len = mf_line_len(f, f->pos, &nl);
        if (mf_long_line_risk(f, f->p + f->pos, len))
            return false;
        int b = mf_check(f, f->p + f->pos, len);
        if (b != MF_NONE) {
            f->boundary = b; /* an empty message/rfc822 part */
            return true;
        }
    }
    if (f->pos >= f->n) {
        f->boundary = MF_EOS;
        return true;
    }
    int h0, hn, m;
    if (!mf_headers(f, &h0, &hn) || ks__grow(&f->msg, &f->capmsg, f->nmsg, sizeof *f->msg, 16) != KS_OK)
        return false;
    m = (int)f->nmsg++;
    f->msg[m] = (mf_msg){.h0 = h0, .hn = hn, .root = -1};
    f->part[part].msg = m;
    int root = mf_part_make(f, h0, hn, true, false, depth + 1);
    f->msg[m].root = root;
    return root >= 0;
}

static bool mf_part_body(mime_fast *f, int part, int depth)
{
    mf_part *p = &f->part[part];
    if (p->kind == MF_MULTI)
        return mf_multipart(f, part, depth);
    if (p->kind == MF_MESSAGE)
        return mf_message(f, part, depth);
    bool empty;
    p->have = true;
    return mf_scan(f, &p->c0, &p->cn, &empty);
}

/* ---- handing out ---------------------------------------------------------------------- */

static int mf_message_out(mime_fast *f, ks_xctx *x, const ks_xnode *node, int m, const char *folder,
                          ks_mailmeta *mm);

static void mf_walk(mime_fast *f, mime_walk *mw, int part, const char *section)
{
    char sub[64];
    if (part < 0 || mw->x->stopped || mw->rc < 0)
        return;
    const mf_part *p = &f->part[part];
    if (p->kind == MF_MULTI) {
        if (!ks__mime_nest_enter(mw))
            return;
        ks__mime_walk_text(mw, p->prologue);
        int i = 1;
        for (int c = p->first; c >= 0 && !mw->x->stopped && mw->rc >= 0; c = f->part[c].next, i++) {
            ks__mime_section(sub, sizeof sub, section, i);
            mf_walk(f, mw, c, sub);
        }
        ks__mime_walk_text(mw, p->epilogue);
        mw->nest--;
    } else if (p->kind == MF_MESSAGE) {
        char name[64];
        ks_xnode child;
        ks_mailmeta mm;
        if (p->msg >= 0 &&
            ks__mime_msg_begin(mw, p->dfilename, *section ? section : "1", p->off, name, &child, &mm))
            ks__mime_msg_end(mw, mf_message_out(f, mw->x, &child, p->msg, NULL, &mm), &mm);
    } else {
        const char *fname = p->dfilename ? p->dfilename : p->ctname;
        mime_leaf l = {
            .type = p->type, .subtype = p->subtype, .charset = p->charset, .smime_type = p->smime_type,
            .fname = fname, .attachment = p->attachment || fname, .text_part = p->text_part,
            .off = p->off, .have = p->have,
            .enc_p = (const char *)f->p + p->c0, .enc_n = p->cn, .enc = p->enc,
        };
        l.a.p = f->p + p->c0;
        l.a.n = p->cn;
        if (p->enc == GMIME_CONTENT_ENCODING_BASE64 || p->enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
            /* as mail_mime.c decodes a part's content */
            if (ks__mime_transfer_decode(p->enc, (const char *)f->p + p->c0, p->cn, &mw->dec) != KS_OK) {
                mw->rc = KS_ENOMEM;
                return;
            }
            l.a.n = mw->dec.n;
            l.a.p = (const guint8 *)mw->dec.p;
        }
        ks__mime_leaf(mw, &l, *section ? section : "1");
    }
}

/* ---- address lists ------------------------------------------------------------------- */

/* atext of RFC 5322 (what gmime's tokenizer reads as one atom). */
static bool is_atext(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A dot-atom local part "@" a lower-case domain of plain labels (what
 * mail_mime.c's plain_addr lets through unchanged), at s; its length, or
 * 0. */
static size_t mf_addr_spec(const char *s)
{
    size_t i = 0;
    for (;;) {
        size_t w = i;
        while (is_atext((unsigned char)s[i]))
            i++;
        if (i == w)
            return 0;
        if (s[i] == '@')
            break;
        if (s[i++] != '.')
            return 0;
    }
    size_t d = ++i, dots = 0;
    for (;;) {
        size_t w = i;
        while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')
            i++;
        if (i == w)
            return 0;
        if (s[i] != '.')
            break;
        i++, dots++;
    }
    if (!dots || memmem(s + d, i - d, "xn--", 4))
        return 0; /* gmime prints a punycode label decoded */
    return i;
}

/* One address header's list as ks__mime_set_addrs writes it from gmime's
 * parse ("Name <addr>, addr": the name quoted as gmime quotes it), for the
 * forms gmime reads exactly so: one line of printable ASCII holding
 * comma-separated addr-specs or "phrase <addr-spec>", the phrase either
 * atoms separated by single spaces or one encoded word (decoded by gmime's
 * phrase decoder, as its address parser does). Parsing an address list
 * into gmime's objects (a GObject per list and address, freed again) was
 * ~8 % of an index build of a mailbox. False (b may hold a part) for
 * anything else: the caller asks gmime. */
static bool mf_addrs_fast(const char *raw, ks_buf *b)
{
    const char *s;
    size_t n;
    if (!raw)
        return false;
    /* one line of printable ASCII, single spaces (encoded words allowed) */
    while (*raw == ' ' || *raw == '\t')
        raw++;
    n = strlen(raw);
    while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' ' || raw[n - 1] == '\t'))
        n--;
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)raw[i] < 0x20 || (unsigned char)raw[i] >= 0x7f || (raw[i] == ' ' && raw[i + 1] == ' '))
            return false;
    char tmp[1024];
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, raw, n);
    tmp[n] = 0;
    s = tmp;
    for (;;) {
        size_t al = mf_addr_spec(s);
        const char *addr = s, *name = NULL;
        size_t nl = 0;
        if (al && (s[al] == 0 || s[al] == ',')) {
            s += al;
        } else {
            /* phrase " <" addr-spec ">" */
            const char *e = s;
            bool ew = e[0] == '=' && e[1] == '?';
            for (;;) {
                const char *w = e;
                while (is_atext((unsigned char)*e))
                    e++;
                if (e == w || (!ew && strstr(w, "=?") && strstr(w, "=?") < e))
                    return false;
                if (e[0] != ' ')
                    return false;
                if (e[1] == '<')
                    break;
                if (ew)
                    return false; /* one encoded word, alone */
                e++;
            }
            name = s;
            nl = (size_t)(e - s);
            if (ew && (nl < 8 || e[-1] != '=' || e[-2] != '?'))
                return false;
            addr = e + 2;
            if (!(al = mf_addr_spec(addr)) || addr[al] != '>' || (addr[al + 1] != 0 && addr[al + 1] != ','))
                return false;
            s = addr + al + 1;
        }
        if (b->n && ks__buf_add(b, ", ", 2) != KS_OK)
            return false;
        if (name) {
            char *nm = g_strndup(name, nl), *own = NULL;
            const char *use;
            if (name[0] == '=' && name[1] == '?') {
                use = ks__mime_name_value(nm, &own);
            } else {
                use = own = g_mime_utils_quote_string(nm);
            }
            bool named = use && *use != 0; /* gmime prints a bare address for an empty name */
            bool ok = !named || (ks__buf_adds(b, use) == KS_OK && ks__buf_add(b, " <", 2) == KS_OK);
            g_free(own);
            g_free(nm);
            if (!ok || ks__buf_add(b, addr, al) != KS_OK || (named && ks__buf_addc(b, '>') != KS_OK))
                return false;
        } else if (ks__buf_add(b, addr, al) != KS_OK) {
            return false;
        }
        if (*s == 0)
            return true;
        s++; /* ',' */
        if (*s == ' ')
            s++;
        if (!*s)
            return false;
    }
}

/* The metadata gmime's message object holds: the last Subject, Date and
 * Message-Id header wins (each replaces what an earlier one set); the
 * From, To and Cc lists hold the addresses of every header of the name,
 * in order (gmime re-reads them all as each is added); the Date and
 * X-Folder of g_mime_object_get_header are the first. */
static int mf_meta(mime_fast *f, const mf_msg *m, ks_mailmeta *mm, const char *folder)
{
    static const char *const addr_names[] = {"From", "To", "Cc"};
    const mf_hdr *mid = NULL, *date = NULL, *date1 = NULL, *subj = NULL, *xf = NULL;
    const mf_hdr *ah[3][MF_MAX_ADDR_HDRS];
    int nah[3] = {0, 0, 0};
    bool many[3] = {false, false, false};
    const char **fields[] = {&mm->m.from, &mm->m.to, &mm->m.cc};
    GMimeParserOptions *opts = ks__mime_parser_opts();
    int rc = KS_OK;
    for (int i = m->h0; i < m->h0 + m->hn; i++) {
        const mf_hdr *h = &f->hdr[i];
        if (content_hdr(h))
            continue;
        if (hdr_is(h, "Message-Id"))
            mid = h;
        else if (hdr_is(h, "Date"))
            date1 = date1 ? date1 : h, date = h;
        else if (hdr_is(h, "Subject"))
            subj = h;
        else if (hdr_is(h, "X-Folder") && !xf)
            xf = h;
        for (size_t k = 0; k < KS_ARRAY_LEN(addr_names); k++)
            if (hdr_is(h, addr_names[k]) && nah[k] < MF_MAX_ADDR_HDRS)
                ah[k][nah[k]++] = h;
            else if (hdr_is(h, addr_names[k]))
                many[k] = true;
    }
    const char *v;
    if (mid && (v = mf_value(f, mid->raw))) {
        char *id = g_mime_utils_decode_message_id(v);
        if (id)
            rc = ks__mailmeta_set_msgid(mm, id, strlen(id));
        g_free(id);
    }
    if (rc == KS_OK && date1 && (v = mf_value(f, date1->raw)))
        rc = ks__mailmeta_set(mm, &mm->m.date, v, strlen(v));
    if (rc == KS_OK && date && (v = mf_value(f, date->raw))) {
        int64_t sec;
        GDateTime *d = NULL;
        /* the common form read here as gmime reads it (its parser makes a
         * token list, a time zone and a GDateTime per message) */
        if (ks__mail_date_plain(v, &sec))
            rc = ks__mailmeta_set_time(mm, ks__mail_sec_to_ns(sec));
        else if ((d = g_mime_utils_header_decode_date(v)))
            rc = ks__mailmeta_set_time(mm, ks__mail_sec_to_ns((int64_t)g_date_time_to_unix(d)));
        if (d)
            g_date_time_unref(d);
    }
    for (size_t k = 0; k < KS_ARRAY_LEN(addr_names) && rc == KS_OK; k++) {
        bool fast = !many[k];
        ks__buf_reset(&f->addrs);
        for (int i = 0; i < nah[k] && fast; i++)
            fast = mf_addrs_fast(ah[k][i]->raw, &f->addrs);
        if (fast) {
            if (f->addrs.n)
                rc = ks__mailmeta_set(mm, fields[k], f->addrs.p, f->addrs.n);
            continue;
        }
        InternetAddressList *l = internet_address_list_new();
        for (int i = 0; i < m->hn; i++)
            if (hdr_is(&f->hdr[m->h0 + i], addr_names[k]))
                internet_address_list_append_parse(l, opts, f->hdr[m->h0 + i].raw);
        rc = ks__mime_set_addrs(mm, fields[k], l);
        g_object_unref(l);
    }
    if (rc == KS_OK && subj && (v = mf_value(f, subj->raw)))
        rc = ks__mailmeta_set(mm, &mm->m.subject, v, strlen(v));
    if (rc == KS_OK && xf && (v = mf_value(f, xf->raw)))
        rc = ks__mailmeta_set(mm, &mm->m.folder, v, strlen(v));
    else if (rc == KS_OK && folder)
        rc = ks__mailmeta_set(mm, &mm->m.folder, folder, strlen(folder));
    return rc;
}

/* message_walk of mail_mime.c for message m. */
static int mf_message_out(mime_fast *f, ks_xctx *x, const ks_xnode *node, int m, const char *folder,
                          ks_mailmeta *mm)
{
    ks_xnode me = *node;
    ks_buf b = KS_BUF_INIT;
    int rc;
    ks__mailmeta_reset(mm);
    if ((rc = mf_meta(f, &f->msg[m], mm, folder)) != KS_OK)
        return rc;
    me.mail = &mm->m;
    for (int i = f->msg[m].h0; i < f->msg[m].h0 + f->msg[m].hn && rc == KS_OK; i++)
        if (!content_hdr(&f->hdr[i]))
            rc = ks__mime_header_add(&b, f->hdr[i].name, f->hdr[i].raw, NULL);
    if (rc == KS_OK)
        rc = ks__mime_headers_out(x, &me, &b);
    ks__buf_release(&b);
    if (rc < 0 || x->stopped)
        return rc;
    mime_walk mw = {.x = x, .node = &me, .nest = 0, .rc = KS_OK, .conv = KS_BUF_INIT, .dec = KS_BUF_INIT};
    mf_walk(f, &mw, f->msg[m].root, "");
    ks__buf_release(&mw.conv);
    ks__buf_release(&mw.dec);
    return mw.rc;
}

int ks__mime_fast_message(mime_fast **fp, ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n,
                          const char *folder, ks_mailmeta *mm)
{
    mime_fast *f = *fp;
    if (!fast_on)
        return MIME_FAST_DECLINED;
    if (!f) {
        if (!(f = calloc(1, sizeof *f)) || !(f->arena = ks__arena_new(16384, (size_t)64 << 20))) {
            free(f);
            return MIME_FAST_DECLINED;
        }
        *fp = f;
    }
    ks__arena_reset(f->arena);
    f->nhdr = f->npart = f->nmsg = 0;
    f->p = p;
    f->n = n;
    f->pos = 0;
    f->nb = 0;
    f->boundary = MF_NONE;
    int h0, hn;
    if (!mf_headers(f, &h0, &hn) || ks__grow(&f->msg, &f->capmsg, 0, sizeof *f->msg, 16) != KS_OK)
        return declined();
    f->nmsg = 1;
    f->msg[0] = (mf_msg){.h0 = h0, .hn = hn, .root = -1};
    int root = mf_part_make(f, h0, hn, true, false, 0); /* may move f->msg */
    if (root < 0)
        return declined();
    f->msg[0].root = root;
    __atomic_fetch_add(&n_fast, 1, __ATOMIC_RELAXED);
    return mf_message_out(f, x, node, 0, folder, mm);
}
