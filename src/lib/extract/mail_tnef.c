/* SPDX-License-Identifier: Apache-2.0
 *
 * TNEF (winmail.dat, application/ms-tnef, [MS-OXTNEF]): the stream Outlook
 * sends instead of MIME, a list of attributes (level, id, length, data,
 * checksum) where the message's and each attachment's MAPI properties are
 * serialized. Read here rather than with libytnef: the format is small,
 * the reader shares the MAPI property names of the .msg reader, every
 * length is checked against what is left (libytnef's history is one of
 * out-of-bounds reads on such lengths), and the library's GPL would bind
 * the whole of kensa.
 *
 * Text units: "headers" (metadata), "body" (attBody or PR_BODY),
 * "properties" (other string properties). HTML and compressed RTF bodies
 * and attachments are children; an embedded message (PR_ATTACH_DATA_OBJ)
 * is itself a TNEF stream and is sniffed again.
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>
#include "extract/mail.h"

#define TNEF_SIGNATURE 0x223E9F78u
#define LVL_MESSAGE 1
#define LVL_ATTACHMENT 2

/* Attribute ids (low 16 bits of the attribute tag). */
enum {
    ATT_FROM = 0x8000,
    ATT_SUBJECT = 0x8004,
    ATT_DATE_SENT = 0x8005,
    ATT_MESSAGE_ID = 0x8009,
    ATT_BODY = 0x800C,
    ATT_ATTACH_DATA = 0x800F,
    ATT_ATTACH_TITLE = 0x8010,
    ATT_ATTACH_RENDDATA = 0x9002,
    ATT_MAPI_PROPS = 0x9003,
    ATT_ATTACHMENT = 0x9005,
    ATT_OEM_CODEPAGE = 0x9007,
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- MAPI property lists ([MS-OXTNEF] 2.1.3.4) ------------------------------------ */

typedef struct mapi_prop {
    uint16_t id, type;       /* type without the multi-value bit */
    const uint8_t *v;        /* first value (for variable types: its bytes) */
    size_t vn;
    bool named;              /* a named property (id >= 0x8000) */
} mapi_prop;

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static size_t fixed_size(uint16_t type)
{
    switch (type) {
    case 0x0002: case 0x0003: case 0x0004: case 0x000A: case 0x000B:
        return 4;   /* I2 and BOOLEAN are padded to 4 */
    case 0x0005: case 0x0006: case 0x0007: case 0x0014: case 0x0040:
        return 8;
    case 0x0048:
        return 16;  /* CLSID */
    default:
        return 0;
    }
}

/* Reads the property at *off of the list p[0..n); false at the end or on
 * damage (a length beyond the list). */
static bool mapi_next(const uint8_t *p, size_t n, size_t *off, mapi_prop *pr)
{
    size_t o = *off;
    if (o + 4 > n)
        return false;
    uint32_t tag = rd32(p + o);
    o += 4;
    memset(pr, 0, sizeof *pr);
    pr->id = (uint16_t)(tag >> 16);
    uint16_t type = (uint16_t)tag;
    bool multi = type & 0x1000;
    pr->type = type & 0x0FFF;
    if (pr->id >= 0x8000) {
        pr->named = true;
        if (o + 20 > n)
            return false;
        uint32_t kind = rd32(p + o + 16);
        o += 20;
        if (kind == 0) {
            o += 4;
        } else {
            if (o + 4 > n)
                return false;
            size_t len = rd32(p + o);
            if (len > n - o - 4)
                return false;
            o += 4 + pad4(len);
        }
    }
    size_t count = 1;
    bool var = pr->type == KS_PT_STRING8 || pr->type == KS_PT_UNICODE || pr->type == KS_PT_BINARY ||
               pr->type == KS_PT_OBJECT;
    if (multi || var) {
        if (o + 4 > n)
            return false;
        count = rd32(p + o);
        o += 4;
        if (count > n)
            return false;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len;
        if (var) {
            if (o + 4 > n)
                return false;
            len = rd32(p + o);
            o += 4;
        } else {
            len = fixed_size(pr->type);
            if (!len)
                return false; /* a type whose size we do not know: stop here */
        }
        if (len > n - o)
            return false;
        if (i == 0) {
            pr->v = p + o;
            pr->vn = len;
        }
        o += var ? pad4(len) : len;
        if (o > n)
            o = n;
    }
    *off = o;
    return true;
}

/* ---- reading ----------------------------------------------------------------------- */

/* What one TNEF level (the message, or one attachment) gathered. */
typedef struct tnef_part {
    ks_buf name;             /* attachment file name */
    const uint8_t *data;     /* attAttachData / PR_ATTACH_DATA_BIN */
    size_t ndata;
    const uint8_t *object;   /* PR_ATTACH_DATA_OBJ after its IID: embedded TNEF */
    size_t nobject;
} tnef_part;

typedef struct tnef_ctx {
    ks_xctx *x;
    ks_xnode me;             /* the message's node (mail set) */
    ks_mailmeta mm;
    const char *charset;     /* PT_STRING8 / attribute strings */
    char cpbuf[24];
    ks_buf body, props, html, rtf;
    unsigned nattach;
    int rc;
} tnef_ctx;

/* Appends a property's string value as UTF-8. */
static int add_string(tnef_ctx *t, const mapi_prop *pr, ks_buf *out)
{
    if (!pr->v || !pr->vn)
        return KS_OK; /* a multi-valued property with no values */
    if (pr->type == KS_PT_UNICODE) {
        size_t cap = pr->vn / 2 * 3 + 4;
        int rc = ks__buf_grow(out, cap);
        if (rc == KS_OK) {
            out->n += ks__utf16le_to_utf8(pr->v, pr->vn, out->p + out->n, cap, true);
            out->p[out->n] = 0;
        }
        return rc;
    }
    size_t len = strnlen((const char *)pr->v, pr->vn);
    gsize wrote = 0;
    gchar *u = g_convert_with_fallback((const char *)pr->v, (gssize)len, "UTF-8",
                                       t->charset ? t->charset : "CP1252", "?", NULL, &wrote, NULL);
    int rc = u ? ks__buf_add(out, u, wrote) : ks__buf_add(out, pr->v, len);
    g_free(u);
    return rc;
}

static void message_prop(tnef_ctx *t, const mapi_prop *pr)
{
    ks_buf s = KS_BUF_INIT;
    bool str = pr->type == KS_PT_STRING8 || pr->type == KS_PT_UNICODE;
    char nb[16];
    if (!pr->v) /* a multi-valued property with no values */
        return;
    if (str && add_string(t, pr, &s) != KS_OK)
        goto out;
    switch (pr->named ? 0 : pr->id) {
    case KS_PR_BODY:
        if (str && !t->body.n)
            ks__buf_add(&t->body, s.p, s.n);
        break;
    case KS_PR_HTML:
        ks__buf_add(&t->html, str ? (const uint8_t *)s.p : pr->v, str ? s.n : pr->vn);
        break;
    case KS_PR_RTF_COMPRESSED:
        if (pr->type == KS_PT_BINARY)
            ks__mail_lzfu(pr->v, pr->vn, &t->rtf);
        break;
    case KS_PR_INTERNET_MESSAGE_ID:
        if (str)
            ks__mailmeta_set_msgid(&t->mm, s.p, s.n);
        break;
    case KS_PR_SUBJECT:
        if (str)
            ks__mailmeta_set(&t->mm, &t->mm.m.subject, s.p, s.n);
        break;
    case KS_PR_SENDER_EMAIL:
    case KS_PR_SENDER_SMTP_ADDRESS:
        if (str && !t->mm.m.from)
            ks__mailmeta_set(&t->mm, &t->mm.m.from, s.p, s.n);
        break;
    case KS_PR_DISPLAY_TO:
        if (str)
            ks__mailmeta_set(&t->mm, &t->mm.m.to, s.p, s.n);
        break;
    case KS_PR_DISPLAY_CC:
        if (str)
            ks__mailmeta_set(&t->mm, &t->mm.m.cc, s.p, s.n);
        break;
    case KS_PR_CLIENT_SUBMIT_TIME:
        if (pr->type == KS_PT_SYSTIME && pr->vn == 8 && t->mm.m.time == KS_TIME_NONE)
            ks__mailmeta_set_time(&t->mm, ks__filetime_to_ns((uint64_t)rd32(pr->v) |
                                                              (uint64_t)rd32(pr->v + 4) << 32));
        break;
    default:
        if (str && s.n && pr->id != KS_PR_MESSAGE_CLASS)
            ks__buf_printf(&t->props, "%s: %s\n", ks__mapi_name(pr->id, nb, sizeof nb), s.p);
        break;
    }
out:
    ks__buf_release(&s);
}

static void attach_prop(tnef_ctx *t, tnef_part *a, const mapi_prop *pr)
{
    if (pr->named || !pr->v)
        return;
    if ((pr->id == KS_PR_ATTACH_LONG_FILENAME ||
         (pr->id == KS_PR_ATTACH_FILENAME && !a->name.n)) &&
        (pr->type == KS_PT_STRING8 || pr->type == KS_PT_UNICODE)) {
        ks__buf_reset(&a->name);
        add_string(t, pr, &a->name);
    } else if (pr->id == KS_PR_ATTACH_DATA && pr->type == KS_PT_BINARY && !a->data) {
        a->data = pr->v;
        a->ndata = pr->vn;
    } else if (pr->id == KS_PR_ATTACH_DATA && pr->type == KS_PT_OBJECT && pr->vn > 16) {
        a->object = pr->v + 16; /* after IID_IMessage */
        a->nobject = pr->vn - 16;
    }
}

/* Hands a finished attachment to the extractor table. */
static void attach_done(tnef_ctx *t, tnef_part *a)
{
    char name[32];
    const uint8_t *p = a->object ? a->object : a->data;
    size_t n = a->object ? a->nobject : a->ndata;
    if (p && n && t->rc >= 0 && !t->x->stopped) {
        t->nattach++;
        if (!a->name.n)
            snprintf(name, sizeof name, "attachment %u", t->nattach);
        int rc = ks__extract_child(t->x, &t->me, a->name.n ? a->name.p : name, NULL, NULL,
                                   UINT64_MAX, p, n);
        if (rc < 0 && rc != KS_ELIMIT && rc != KS_EFORMAT)
            t->rc = rc;
    }
    ks__buf_release(&a->name);
    memset(a, 0, sizeof *a);
}

static void props_each(tnef_ctx *t, tnef_part *a, const uint8_t *p, size_t n)
{
    size_t off = 4;
    uint32_t count = n >= 4 ? rd32(p) : 0;
    mapi_prop pr;
    for (uint32_t i = 0; i < count && mapi_next(p, n, &off, &pr); i++) {
        if (a)
            attach_prop(t, a, &pr);
        else
            message_prop(t, &pr);
    }
}

/* attDateSent: a dtr (year, month, day, hour, minute, second, weekday). */
static int64_t dtr_time(const uint8_t *p, size_t n)
{
    if (n < 12)
        return KS_TIME_NONE;
    int y = rd16(p), mo = rd16(p + 2), d = rd16(p + 4);
    if (y < 1601 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return KS_TIME_NONE;
    return ks__mail_sec_to_ns(ks__timegm(y, mo, d, rd16(p + 6), rd16(p + 8), rd16(p + 10)));
}

/* One attribute of the message level. */
static void message_attr(tnef_ctx *t, uint16_t id, const uint8_t *d, size_t len)
{
    switch (id) {
    case ATT_SUBJECT:
        if (!t->mm.m.subject)
            ks__mailmeta_set(&t->mm, &t->mm.m.subject, (const char *)d, strnlen((const char *)d, len));
        break;
    case ATT_BODY:
        if (!t->body.n)
            ks__buf_add(&t->body, d, strnlen((const char *)d, len));
        break;
    case ATT_DATE_SENT:
        ks__mailmeta_set_time(&t->mm, dtr_time(d, len));
        break;
    case ATT_MAPI_PROPS:
        props_each(t, NULL, d, len);
        break;
    case ATT_OEM_CODEPAGE:
        if (len >= 4)
            t->charset = ks__mail_codepage(rd32(d), t->cpbuf, sizeof t->cpbuf);
        break;
    default:
        break;
    }
}

static int tnef_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    return n >= 6 && rd32(head) == TNEF_SIGNATURE ? 95 : 0;
}

static int tnef_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    tnef_ctx t = {.x = x, .me = *node};
    tnef_part a = {0};
    bool in_attach = false;
    size_t o = 6;
    int rc = ks__mailmeta_init(&t.mm);
    if (rc != KS_OK)
        return rc;
    t.me.mail = &t.mm.m;
    if (node->mail) /* inside a MIME message: that message's metadata first */
        t.mm.m = *node->mail;
    while (o + 9 <= n && !x->stopped && t.rc >= 0) {
        uint8_t level = p[o];
        uint32_t tag = rd32(p + o + 1);
        size_t len = rd32(p + o + 5);
        if (len > n - o - 9 || n - o - 9 - len < 2) {
            ks__xdiag(x, node, KS_DIAG_WARN, KS_ETRUNCATED,
                      "TNEF attribute 0x%08X at byte %zu runs past the end", tag, o);
            break;
        }
        const uint8_t *d = p + o + 9;
        uint16_t id = (uint16_t)tag;
        if (level == LVL_ATTACHMENT && id == ATT_ATTACH_RENDDATA) {
            if (in_attach)
                attach_done(&t, &a);
            in_attach = true;
        } else if (level == LVL_ATTACHMENT && in_attach) {
            if (id == ATT_ATTACH_TITLE && !a.name.n)
                ks__buf_add(&a.name, d, strnlen((const char *)d, len));
            else if (id == ATT_ATTACH_DATA) {
                a.data = d;
                a.ndata = len;
            } else if (id == ATT_ATTACHMENT) {
                props_each(&t, &a, d, len);
            }
        } else if (level == LVL_MESSAGE) {
            message_attr(&t, id, d, len);
        }
        o += 9 + len + 2; /* the checksum is not needed to read on */
    }
    if (in_attach)
        attach_done(&t, &a);
    if (t.rc >= 0)
        t.rc = ks__mail_emit_meta(x, &t.me, &t.mm.m);
    if (t.rc >= 0 && t.body.n)
        t.rc = ks__extract_text(x, &t.me, "body", t.body.p, t.body.n, NULL);
    if (t.rc >= 0 && t.props.n)
        t.rc = ks__extract_text(x, &t.me, "properties", t.props.p, t.props.n, "utf-8");
    if (t.rc >= 0 && t.html.n)
        t.rc = ks__extract_child(x, &t.me, "body.html", NULL, NULL, UINT64_MAX,
                                 (const uint8_t *)t.html.p, t.html.n);
    if (t.rc >= 0 && !t.body.n && !t.html.n && t.rtf.n)
        t.rc = ks__extract_child(x, &t.me, "body.rtf", NULL, NULL, UINT64_MAX,
                                 (const uint8_t *)t.rtf.p, t.rtf.n);
    rc = t.rc == KS_ELIMIT || t.rc == KS_EFORMAT ? KS_OK : t.rc;
    ks__buf_release(&t.body);
    ks__buf_release(&t.props);
    ks__buf_release(&t.html);
    ks__buf_release(&t.rtf);
    ks__mailmeta_release(&t.mm);
    return rc;
}

const struct ks_extractor ks_extractor_tnef = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "tnef",
    .description = "TNEF (winmail.dat): body, MAPI properties, attachments, embedded messages",
    .probe = tnef_probe,
    .extract = tnef_extract,
};
