/* SPDX-License-Identifier: Apache-2.0
 *
 * Outlook .msg ([MS-OXMSG]): a compound file (mail_cfb.c) whose storages
 * hold a message's MAPI properties: fixed-size values in the
 * "__properties_version1.0" stream, strings and binaries in
 * "__substg1.0_<id><type>" streams, one "__recip_version1.0_#N" storage per
 * recipient and one "__attach_version1.0_#N" per attachment (an embedded
 * message is a storage of the same shape inside it).
 *
 * Text units: "headers" (the transport headers when the message came from
 * the Internet, else the metadata), "body" (PR_BODY), "properties" (every
 * other string property: contacts' phone numbers and addresses, tasks'
 * notes, custom properties). The HTML body and the compressed RTF body
 * (decompressed here, read only when there is no plain body) go to
 * ks__extract_child as body.html / body.rtf; attachments as children under
 * their file names; embedded messages are read here as child nodes.
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>
#include "extract/mail.h"
#include "extract/mail_cfb.h"

#define MSG_TOP_HEADER 32      /* properties stream header of the top message */
#define MSG_EMBED_HEADER 24    /* of an embedded message */
#define MSG_SUB_HEADER 8       /* of a recipient or attachment */
#define MSG_MAX_STRING ((uint64_t)64 << 20)

/* One storage holding properties: its fixed-value stream read once. */
typedef struct msg_store {
    const ks_cfb *c;
    uint32_t sid;            /* the storage */
    ks_buf props;            /* __properties_version1.0 */
    size_t hdr;              /* bytes before the first 16-byte entry */
    const char *charset;     /* of PT_STRING8 values (code page), NULL = CP1252 */
    char cpbuf[24];
} msg_store;

static void store_init(msg_store *s, const ks_cfb *c, uint32_t sid, size_t hdr)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->sid = sid;
    s->hdr = hdr;
    uint32_t ps = ks__cfb_find(c, sid, "__properties_version1.0");
    if (ps != KS_CFB_NONE)
        ks__cfb_read(c, ps, (uint64_t)1 << 20, &s->props);
}

static void store_release(msg_store *s)
{
    ks__buf_release(&s->props);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A fixed-size property (PT_LONG, PT_SYSTIME, ...) by id. */
static bool store_fixed(const msg_store *s, uint16_t id, uint64_t *v)
{
    const uint8_t *p = (const uint8_t *)s->props.p;
    for (size_t o = s->hdr; p && o + 16 <= s->props.n; o += 16) {
        uint32_t tag = rd32(p + o);
        if ((tag >> 16) == id) {
            *v = (uint64_t)rd32(p + o + 8) | (uint64_t)rd32(p + o + 12) << 32;
            return true;
        }
    }
    return false;
}

/* The stream of property id with type, or KS_CFB_NONE. */
static uint32_t store_stream(const msg_store *s, uint16_t id, uint16_t type)
{
    char name[40];
    snprintf(name, sizeof name, "__substg1.0_%04X%04X", id, type);
    return ks__cfb_find(s->c, s->sid, name);
}

/* Appends a string stream as UTF-8 (PT_UNICODE is UTF-16LE, PT_STRING8 is
 * in the message's code page). */
static int append_string(const msg_store *s, uint32_t st, uint16_t type, ks_buf *out)
{
    ks_buf raw = KS_BUF_INIT;
    int rc = ks__cfb_read(s->c, st, MSG_MAX_STRING, &raw);
    if (rc != KS_OK && rc != KS_ETRUNCATED)
        goto out;
    rc = KS_OK;
    if (!raw.n)
        goto out;
    if (type == KS_PT_UNICODE) {
        size_t cap = raw.n / 2 * 3 + 4;
        if ((rc = ks__buf_grow(out, cap)) != KS_OK)
            goto out;
        out->n += ks__utf16le_to_utf8((const uint8_t *)raw.p, raw.n, out->p + out->n, cap, true);
        out->p[out->n] = 0;
    } else {
        size_t len = strnlen(raw.p, raw.n);
        gsize wrote = 0;
        gchar *u = g_convert_with_fallback(raw.p, (gssize)len, "UTF-8",
                                           s->charset ? s->charset : "CP1252", "?", NULL, &wrote, NULL);
        rc = u ? ks__buf_add(out, u, wrote) : ks__buf_add(out, raw.p, len);
        g_free(u);
    }
out:
    ks__buf_release(&raw);
    return rc;
}

/* A string property by id (either string type); KS_ENOTFOUND if absent. */
static int store_string(const msg_store *s, uint16_t id, ks_buf *out)
{
    uint32_t st = store_stream(s, id, KS_PT_UNICODE);
    if (st != KS_CFB_NONE)
        return append_string(s, st, KS_PT_UNICODE, out);
    st = store_stream(s, id, KS_PT_STRING8);
    if (st != KS_CFB_NONE)
        return append_string(s, st, KS_PT_STRING8, out);
    return KS_ENOTFOUND;
}

/* Parses "__substg1.0_XXXXYYYY" into id and type. */
static bool substg_name(const char *name, uint16_t *id, uint16_t *type)
{
    unsigned v = 0;
    if (strncmp(name, "__substg1.0_", 12) != 0 || strlen(name) < 20)
        return false;
    for (int i = 12; i < 20; i++) {
        int h = ks__hexval((unsigned char)name[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *id = (uint16_t)(v >> 16);
    *type = (uint16_t)v;
    return true;
}

/* ---- metadata ---------------------------------------------------------------------- */

static int meta_set_prop(ks_mailmeta *mm, const msg_store *s, const char **field, uint16_t id)
{
    ks_buf b = KS_BUF_INIT;
    int rc = store_string(s, id, &b);
    if (rc == KS_OK && b.n)
        rc = ks__mailmeta_set(mm, field, b.p, b.n);
    ks__buf_release(&b);
    return rc == KS_ENOTFOUND ? KS_OK : rc;
}

/* Sets or appends "Name <address>" of a sender or recipient; the SMTP
 * address wins over an Exchange X.500 one ("/O=EXCHANGE/..."). */
static int person(ks_mailmeta *mm, const char **field, bool append, const msg_store *s,
                  uint16_t name_id, const uint16_t *addr_ids, size_t naddr)
{
    ks_buf name = KS_BUF_INIT, addr = KS_BUF_INIT;
    store_string(s, name_id, &name);
    for (size_t i = 0; i < naddr && !addr.n; i++) {
        ks__buf_reset(&addr);
        store_string(s, addr_ids[i], &addr);
        if (addr.n && addr.p[0] == '/' && i + 1 < naddr)
            ks__buf_reset(&addr);
    }
    int rc = ks__mailmeta_person(mm, field, append, name.p, addr.p);
    ks__buf_release(&name);
    ks__buf_release(&addr);
    return rc;
}

static int meta_recipients(ks_mailmeta *mm, const ks_cfb *c, uint32_t sid)
{
    uint32_t ids[1024];
    size_t k = KS_MIN(ks__cfb_children(c, sid, ids, KS_ARRAY_LEN(ids)), KS_ARRAY_LEN(ids));
    static const uint16_t addr_ids[] = {KS_PR_SMTP_ADDRESS, KS_PR_EMAIL_ADDRESS};
    int rc = KS_OK;
    for (size_t i = 0; i < k && rc == KS_OK; i++) {
        const ks_cfb_entry *e = ks__cfb_entry(c, ids[i]);
        if (e->type != KS_CFB_STORAGE || strncmp(e->name, "__recip_version1.0_", 19) != 0)
            continue;
        msg_store r;
        uint64_t type = 1;
        store_init(&r, c, ids[i], MSG_SUB_HEADER);
        store_fixed(&r, KS_PR_RECIPIENT_TYPE, &type);
        if ((type & 0xff) == 1 || (type & 0xff) == 2)
            rc = person(mm, (type & 0xff) == 2 ? &mm->m.cc : &mm->m.to, true, &r,
                        KS_PR_DISPLAY_NAME, addr_ids, 2);
        store_release(&r);
    }
    return rc;
}

/* Fills mm from the message storage; headers gets the transport headers. */
static int msg_meta(ks_mailmeta *mm, const msg_store *s, ks_buf *headers)
{
    static const uint16_t sender_addr[] = {KS_PR_SENDER_SMTP_ADDRESS, KS_PR_SENDER_EMAIL,
                                           KS_PR_SENT_REPRESENTING_EMAIL};
    ks_buf b = KS_BUF_INIT;
    uint64_t ft;
    int rc = meta_set_prop(mm, s, &mm->m.subject, KS_PR_SUBJECT);
    if (rc == KS_OK && store_string(s, KS_PR_INTERNET_MESSAGE_ID, &b) == KS_OK)
        rc = ks__mailmeta_set_msgid(mm, b.p, b.n);
    if (rc == KS_OK)
        rc = person(mm, &mm->m.from, false, s, KS_PR_SENDER_NAME, sender_addr, 3);
    if (rc == KS_OK && store_string(s, KS_PR_TRANSPORT_HEADERS, headers) == KS_OK && headers->n)
        rc = ks__mailmeta_from_headers(mm, headers->p, headers->n);
    if (rc == KS_OK && mm->m.time == KS_TIME_NONE &&
        (store_fixed(s, KS_PR_CLIENT_SUBMIT_TIME, &ft) || store_fixed(s, KS_PR_DELIVERY_TIME, &ft)))
        rc = ks__mailmeta_set_time(mm, ks__filetime_to_ns(ft));
    if (rc == KS_OK)
        rc = meta_recipients(mm, s->c, s->sid);
    if (rc == KS_OK && !mm->m.to)
        rc = meta_set_prop(mm, s, &mm->m.to, KS_PR_DISPLAY_TO);
    if (rc == KS_OK && !mm->m.cc)
        rc = meta_set_prop(mm, s, &mm->m.cc, KS_PR_DISPLAY_CC);
    ks__buf_release(&b);
    return rc;
}

/* ---- content ------------------------------------------------------------------------ */

static bool handled_prop(uint16_t id)
{
    static const uint16_t ids[] = {
        KS_PR_SUBJECT,         KS_PR_BODY,         KS_PR_HTML,          KS_PR_TRANSPORT_HEADERS,
        KS_PR_INTERNET_MESSAGE_ID, KS_PR_SENDER_NAME, KS_PR_SENDER_EMAIL, KS_PR_SENDER_SMTP_ADDRESS,
        KS_PR_DISPLAY_TO,      KS_PR_DISPLAY_CC,   KS_PR_MESSAGE_CLASS, KS_PR_SENT_REPRESENTING_EMAIL,
        0x0E1D /* normalized subject */, 0x003D /* subject prefix */,
    };
    for (size_t i = 0; i < KS_ARRAY_LEN(ids); i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Every other string property as "name: value" lines. */
static int other_strings(const msg_store *s, ks_buf *out)
{
    uint32_t ids[2048];
    size_t k = KS_MIN(ks__cfb_children(s->c, s->sid, ids, KS_ARRAY_LEN(ids)), KS_ARRAY_LEN(ids));
    int rc = KS_OK;
    for (size_t i = 0; i < k && rc == KS_OK; i++) {
        const ks_cfb_entry *e = ks__cfb_entry(s->c, ids[i]);
        uint16_t id, type;
        char nb[16];
        if (e->type != KS_CFB_STREAM || !substg_name(e->name, &id, &type) ||
            (type != KS_PT_UNICODE && type != KS_PT_STRING8) || handled_prop(id))
            continue;
        size_t before = out->n;
        rc = ks__buf_printf(out, "%s: ", ks__mapi_name(id, nb, sizeof nb));
        size_t mid = out->n;
        if (rc == KS_OK)
            rc = append_string(s, ids[i], type, out);
        if (rc == KS_OK && out->n == mid)
            out->n = before, out->p[before] = 0; /* empty value */
        else if (rc == KS_OK)
            rc = ks__buf_addc(out, '\n');
    }
    return rc;
}

/* HTML body (PT_BINARY in the message's code page, or a string) and, when
 * there is no other body, the compressed RTF one: children. */
static int msg_bodies(ks_xctx *x, const ks_xnode *me, const msg_store *s, bool have_body)
{
    ks_buf b = KS_BUF_INIT, rtf = KS_BUF_INIT;
    int rc = KS_OK;
    uint32_t st = store_stream(s, KS_PR_HTML, KS_PT_BINARY);
    if (st != KS_CFB_NONE)
        ks__cfb_read(s->c, st, x->budget.max_blob, &b);
    else
        store_string(s, KS_PR_HTML, &b);
    if (b.n) {
        have_body = true;
        rc = ks__extract_child(x, me, "body.html", NULL, NULL, UINT64_MAX, (const uint8_t *)b.p, b.n);
    }
    st = store_stream(s, KS_PR_RTF_COMPRESSED, KS_PT_BINARY);
    if (!have_body && st != KS_CFB_NONE && !x->stopped) {
        ks__buf_reset(&b);
        ks__cfb_read(s->c, st, x->budget.max_blob, &b);
        int lrc = ks__mail_lzfu((const uint8_t *)b.p, b.n, &rtf);
        if (lrc != KS_OK)
            ks__xdiag(x, me, KS_DIAG_WARN, lrc, "compressed RTF body: %s", ks_strerror(lrc));
        if (rtf.n)
            rc = ks__extract_child(x, me, "body.rtf", NULL, NULL, UINT64_MAX, (const uint8_t *)rtf.p,
                                   rtf.n);
    }
    ks__buf_release(&b);
    ks__buf_release(&rtf);
    return rc;
}

static int msg_message(ks_xctx *x, const ks_xnode *node, const ks_cfb *c, uint32_t sid, size_t hdr);

/* One attachment storage: data by value becomes a child, an embedded
 * message a child node read here. */
static int msg_attachment(ks_xctx *x, const ks_xnode *me, const ks_cfb *c, uint32_t sid, unsigned idx)
{
    msg_store a;
    ks_buf name = KS_BUF_INIT, data = KS_BUF_INIT;
    uint64_t method = KS_ATTACH_BY_VALUE;
    int rc = KS_OK;
    store_init(&a, c, sid, MSG_SUB_HEADER);
    store_fixed(&a, KS_PR_ATTACH_METHOD, &method);
    if (store_string(&a, KS_PR_ATTACH_LONG_FILENAME, &name) != KS_OK || !name.n) {
        ks__buf_reset(&name);
        if (store_string(&a, KS_PR_ATTACH_FILENAME, &name) != KS_OK || !name.n) {
            ks__buf_reset(&name);
            if (store_string(&a, KS_PR_DISPLAY_NAME, &name) != KS_OK || !name.n)
                ks__buf_printf(&name, "attachment %u", idx);
        }
    }
    uint32_t obj = store_stream(&a, KS_PR_ATTACH_DATA, KS_PT_OBJECT);
    uint32_t bin = store_stream(&a, KS_PR_ATTACH_DATA, KS_PT_BINARY);
    if ((method & 0xff) == KS_ATTACH_EMBEDDED_MSG || (obj != KS_CFB_NONE && bin == KS_CFB_NONE)) {
        const ks_cfb_entry *e = obj != KS_CFB_NONE ? ks__cfb_entry(c, obj) : NULL;
        ks_xnode child = {.parent = me, .name = name.p, .format = "msg", .mail = me->mail,
                          .git = me->git, .offset = UINT64_MAX, .depth = me->depth + 1};
        if (!e || e->type != KS_CFB_STORAGE)
            goto out;
        if (child.depth > x->budget.max_depth) {
            ks__xdiag(x, &child, KS_DIAG_WARN, KS_ELIMIT,
                      "embedded message deeper than extract.max_depth (%u); not opened",
                      x->budget.max_depth);
            goto out;
        }
        rc = msg_message(x, &child, c, obj, MSG_EMBED_HEADER);
    } else if (bin != KS_CFB_NONE) {
        int rrc = ks__cfb_read(c, bin, x->budget.max_blob + 1, &data);
        if (rrc == KS_ETRUNCATED)
            ks__xdiag(x, me, KS_DIAG_WARN, rrc, "attachment '%s' is cut short", name.p);
        if (data.n)
            rc = ks__extract_child(x, me, name.p, NULL, NULL, UINT64_MAX, (const uint8_t *)data.p, data.n);
    }
out:
    ks__buf_release(&name);
    ks__buf_release(&data);
    store_release(&a);
    return rc == KS_ELIMIT || rc == KS_EFORMAT ? KS_OK : rc;
}

/* The message in storage sid, extracted as node (mail set here). */
static int msg_message(ks_xctx *x, const ks_xnode *node, const ks_cfb *c, uint32_t sid, size_t hdr)
{
    msg_store s;
    ks_mailmeta mm;
    ks_buf headers = KS_BUF_INIT, text = KS_BUF_INIT;
    ks_xnode me = *node;
    uint64_t cp = 0;
    uint32_t ids[1024];
    int rc = ks__mailmeta_init(&mm);
    store_init(&s, c, sid, hdr);
    if (rc != KS_OK)
        goto out;
    if (store_fixed(&s, KS_PR_MESSAGE_CODEPAGE, &cp) || store_fixed(&s, KS_PR_INTERNET_CPID, &cp))
        s.charset = ks__mail_codepage((uint32_t)cp, s.cpbuf, sizeof s.cpbuf);
    if ((rc = msg_meta(&mm, &s, &headers)) != KS_OK)
        goto out;
    me.mail = &mm.m;
    rc = ks__mail_emit_headers(x, &me, &mm.m, headers.p, headers.n);
    bool have_body = false;
    if (rc == KS_OK && store_string(&s, KS_PR_BODY, &text) == KS_OK && text.n) {
        have_body = true;
        rc = ks__extract_text(x, &me, "body", text.p, text.n, "utf-8");
    }
    ks__buf_reset(&text);
    if (rc == KS_OK && (rc = other_strings(&s, &text)) == KS_OK && text.n)
        rc = ks__extract_text(x, &me, "properties", text.p, text.n, "utf-8");
    if (rc == KS_OK && !x->stopped)
        rc = msg_bodies(x, &me, &s, have_body);
    size_t k = KS_MIN(ks__cfb_children(c, sid, ids, KS_ARRAY_LEN(ids)), KS_ARRAY_LEN(ids));
    unsigned natt = 0;
    for (size_t i = 0; i < k && rc >= 0 && !x->stopped; i++) {
        const ks_cfb_entry *e = ks__cfb_entry(c, ids[i]);
        if (e->type == KS_CFB_STORAGE && strncmp(e->name, "__attach_version1.0_", 20) == 0)
            rc = msg_attachment(x, &me, c, ids[i], ++natt);
    }
out:
    ks__buf_release(&headers);
    ks__buf_release(&text);
    store_release(&s);
    ks__mailmeta_release(&mm);
    return rc == KS_ELIMIT || rc == KS_EFORMAT ? KS_OK : rc;
}

/* ---- extractor ------------------------------------------------------------------------ */

/* "__substg1.0_" as UTF-16LE, as it appears in directory entries. */
static bool has_msg_names(const uint8_t *p, size_t n)
{
    static const char pat[] = "_\0_\0s\0u\0b\0s\0t\0g\0" "1\0.\0" "0\0_\0";
    return memmem(p, n, pat, sizeof pat - 1) != NULL;
}

static int msg_probe(const uint8_t *head, size_t n, const char *name)
{
    if (!ks__cfb_sniff(head, n))
        return 0;
    if (has_msg_names(head, n))
        return 95;
    size_t len = name ? strlen(name) : 0;
    if (len > 4 && strcasecmp(name + len - 4, ".msg") == 0)
        return 90;
    /* A compound file whose directory lies past the probe window: the
     * extractor looks for message streams before claiming it. */
    return 20;
}

static int msg_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    ks_cfb *c = NULL;
    int rc = ks__cfb_open(p, n, &c);
    if (rc != KS_OK) {
        ks__xdiag(x, node, KS_DIAG_WARN, rc, "unreadable Outlook .msg (compound file): %s",
                  ks_strerror(rc));
        return rc;
    }
    if (ks__cfb_find(c, 0, "__properties_version1.0") == KS_CFB_NONE &&
        ks__cfb_find(c, 0, "__substg1.0_0037001F") == KS_CFB_NONE &&
        ks__cfb_find(c, 0, "__substg1.0_0037001E") == KS_CFB_NONE &&
        ks__cfb_find(c, 0, "__substg1.0_001A001F") == KS_CFB_NONE &&
        ks__cfb_find(c, 0, "__substg1.0_001A001E") == KS_CFB_NONE) {
        ks__xdiag(x, node, KS_DIAG_INFO, KS_EUNSUPPORTED,
                  "compound file that is not an Outlook message; not read");
        ks__cfb_free(c);
        return KS_OK;
    }
    rc = msg_message(x, node, c, 0, MSG_TOP_HEADER);
    ks__cfb_free(c);
    return rc;
}

const struct ks_extractor ks_extractor_msg = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "msg",
    .description = "Outlook .msg (OLE2 compound file): properties, recipients, bodies, attachments, embedded messages",
    .probe = msg_probe,
    .extract = msg_extract,
};
