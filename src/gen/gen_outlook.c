/* SPDX-License-Identifier: Apache-2.0
 *
 * Outlook formats for the mail generator (gen_mail.h): a compound-file
 * writer ([MS-CFB] version 3, small streams in the mini stream) that lays
 * out .msg files ([MS-OXMSG]) with recipients, attachments and an embedded
 * message, and a TNEF (winmail.dat) writer. Both are written from the
 * specifications so the readers are tested on files they did not make.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "gen_mail.h"

/* ---- compound file writer --------------------------------------------------------- */

#define CFB_FREE 0xFFFFFFFFu
#define CFB_END 0xFFFFFFFEu
#define CFB_FATSECT 0xFFFFFFFDu
#define CFB_MAX_ENTS 64

typedef struct cfb_ent {
    char name[40];          /* ASCII */
    int type;               /* 1 storage, 2 stream, 5 root */
    int parent;
    ks_buf data;            /* stream bytes */
    uint32_t child, right;  /* tree links: children chained through right */
    uint32_t start;
} cfb_ent;

typedef struct gen_cfb {
    cfb_ent e[CFB_MAX_ENTS];
    int n;
} gen_cfb;

static void put16(ks_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    ks__buf_add(b, x, 2);
}

static void put32(ks_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ks__buf_add(b, x, 4);
}

static void put64(ks_buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static int cfb_add(gen_cfb *c, int parent, const char *name, int type, const void *p, size_t n)
{
    if (c->n >= CFB_MAX_ENTS)
        return -1;
    cfb_ent *e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->type = type;
    e->parent = parent;
    e->child = e->right = CFB_FREE;
    e->start = CFB_END;
    if (p && n)
        ks__buf_add(&e->data, p, n);
    if (parent >= 0) { /* append to the parent's chain of children */
        uint32_t *link = &c->e[parent].child;
        while (*link != CFB_FREE)
            link = &c->e[*link].right;
        *link = (uint32_t)c->n;
    }
    return c->n++;
}

static void fat_chain(uint32_t *fat, uint32_t first, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        fat[first + i] = i + 1 < count ? first + i + 1 : CFB_END;
}

static void pad_to(ks_buf *b, size_t mult)
{
    while (b->n % mult)
        ks__buf_addc(b, 0);
}

/* Lays the file out: [FAT][directory][mini FAT][mini stream][big streams]. */
static void cfb_write(gen_cfb *c, ks_buf *out)
{
    ks_buf mini = KS_BUF_INIT, big = KS_BUF_INIT, minifat = KS_BUF_INIT, dir = KS_BUF_INIT;
    uint32_t nbig = 0;
    for (int i = 1; i < c->n; i++) {
        cfb_ent *e = &c->e[i];
        if (e->type != 2 || !e->data.n)
            continue;
        if (e->data.n < 4096) {
            uint32_t first = (uint32_t)(mini.n / 64), cnt = (uint32_t)((e->data.n + 63) / 64);
            e->start = first;
            ks__buf_add(&mini, e->data.p, e->data.n);
            pad_to(&mini, 64);
            for (uint32_t k = 0; k < cnt; k++)
                put32(&minifat, k + 1 < cnt ? first + k + 1 : CFB_END);
        } else {
            e->start = nbig; /* relative; fixed below */
            ks__buf_add(&big, e->data.p, e->data.n);
            pad_to(&big, 512);
            nbig = (uint32_t)(big.n / 512);
        }
    }
    pad_to(&minifat, 512);
    pad_to(&mini, 512);
    uint32_t ndir = (uint32_t)((c->n * 128 + 511) / 512);
    uint32_t nmf = (uint32_t)(minifat.n / 512), nms = (uint32_t)(mini.n / 512);
    uint32_t rest = ndir + nmf + nms + nbig, nfat = 1;
    while (nfat * 128 < rest + nfat)
        nfat++;
    uint32_t total = nfat + rest;
    uint32_t dir0 = nfat, mf0 = dir0 + ndir, ms0 = mf0 + nmf, big0 = ms0 + nms;
    uint32_t *fat = malloc((size_t)nfat * 128 * sizeof *fat);
    for (uint32_t i = 0; i < nfat * 128; i++)
        fat[i] = i < nfat ? CFB_FATSECT : CFB_FREE;
    fat_chain(fat, dir0, ndir);
    fat_chain(fat, mf0, nmf);
    fat_chain(fat, ms0, nms);
    for (int i = 1; i < c->n; i++) {
        cfb_ent *e = &c->e[i];
        if (e->type == 2 && e->data.n >= 4096) {
            e->start += big0;
            fat_chain(fat, e->start, (uint32_t)((e->data.n + 511) / 512));
        }
    }
    c->e[0].start = nms ? ms0 : CFB_END;
    /* directory */
    for (int i = 0; i < c->n; i++) {
        const cfb_ent *e = &c->e[i];
        size_t at = dir.n, len = strlen(e->name);
        for (size_t k = 0; k < len; k++)
            put16(&dir, (uint8_t)e->name[k]);
        while (dir.n < at + 64)
            ks__buf_addc(&dir, 0);
        put16(&dir, (uint16_t)((len + 1) * 2));
        ks__buf_addc(&dir, (char)e->type);
        ks__buf_addc(&dir, 1); /* black */
        put32(&dir, CFB_FREE); /* left */
        put32(&dir, e->right);
        put32(&dir, e->child);
        while (dir.n < at + 0x74)
            ks__buf_addc(&dir, 0);
        put32(&dir, e->type == 1 ? 0 : e->start);
        put64(&dir, i == 0 ? (uint64_t)mini.n : (uint64_t)e->data.n);
    }
    pad_to(&dir, 512);
    /* header */
    static const uint8_t sig[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    ks__buf_add(out, sig, 8);
    while (out->n < 0x18)
        ks__buf_addc(out, 0);
    put16(out, 0x3E);
    put16(out, 3);
    put16(out, 0xFFFE);
    put16(out, 9);
    put16(out, 6);
    while (out->n < 0x2C)
        ks__buf_addc(out, 0);
    put32(out, nfat);
    put32(out, dir0);
    put32(out, 0);
    put32(out, 4096);
    put32(out, nmf ? mf0 : CFB_END);
    put32(out, nmf);
    put32(out, CFB_END);
    put32(out, 0);
    for (uint32_t i = 0; i < 109; i++)
        put32(out, i < nfat ? i : CFB_FREE);
    for (uint32_t i = 0; i < nfat * 128; i++)
        put32(out, fat[i]);
    ks__buf_add(out, dir.p, dir.n);
    ks__buf_add(out, minifat.p, minifat.n);
    ks__buf_add(out, mini.p, mini.n);
    ks__buf_add(out, big.p, big.n);
    KS_UNUSED(total);
    free(fat);
    for (int i = 0; i < c->n; i++)
        ks__buf_release(&c->e[i].data);
    ks__buf_release(&mini);
    ks__buf_release(&big);
    ks__buf_release(&minifat);
    ks__buf_release(&dir);
}

/* ---- .msg ----------------------------------------------------------------------------- */

/* UTF-8 to UTF-16LE (BMP; others become U+FFFD), with the terminating NUL. */
static void utf16(ks_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = *p++;
        int more = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
        if (more)
            cp &= 0x3F >> more;
        for (; more && (*p & 0xC0) == 0x80; more--)
            cp = cp << 6 | (*p++ & 0x3F);
        put16(b, cp > 0xFFFF ? 0xFFFD : (uint16_t)cp);
    }
    put16(b, 0);
}

static void msg_str(gen_cfb *c, int parent, uint16_t id, const char *s)
{
    char name[40];
    ks_buf b = KS_BUF_INIT;
    snprintf(name, sizeof name, "__substg1.0_%04X001F", id);
    utf16(&b, s);
    cfb_add(c, parent, name, 2, b.p, b.n - 2); /* the stream has no NUL */
    ks__buf_release(&b);
}

/* __properties_version1.0 with `hdr` header bytes and fixed properties. */
static void msg_props(gen_cfb *c, int parent, size_t hdr, const uint32_t *tags,
                      const uint64_t *vals, size_t k, uint32_t nrecip, uint32_t nattach)
{
    ks_buf b = KS_BUF_INIT;
    for (size_t i = 0; i < hdr; i++)
        ks__buf_addc(&b, 0);
    if (hdr >= 24) {
        memset(b.p + 8, 0, 16);
        b.p[8] = (char)nrecip;  /* next recipient id */
        b.p[12] = (char)nattach;
        b.p[16] = (char)nrecip; /* recipient count */
        b.p[20] = (char)nattach;
    }
    for (size_t i = 0; i < k; i++) {
        put32(&b, tags[i]);
        put32(&b, 6); /* readable | writable */
        put64(&b, vals[i]);
    }
    cfb_add(c, parent, "__properties_version1.0", 2, b.p, b.n);
    ks__buf_release(&b);
}

/* A message storage's content: subject, body, ids, one recipient. */
static void msg_content(gen_cfb *c, int st, const gen_msg_spec *m, size_t hdr, uint32_t nattach)
{
    uint32_t tags[] = {0x00390040 /* PR_CLIENT_SUBMIT_TIME */, 0x3FFD0003 /* code page */};
    uint64_t vals[] = {(uint64_t)(m->time + 11644473600ll) * 10000000ull, 1252};
    msg_props(c, st, hdr, tags, vals, 2, 1, nattach);
    msg_str(c, st, 0x001A, "IPM.Note");
    msg_str(c, st, 0x0037, m->subject);
    msg_str(c, st, 0x1000, m->body);
    msg_str(c, st, 0x1035, m->message_id);
    msg_str(c, st, 0x0C1A, m->from_name);
    msg_str(c, st, 0x5D01, m->from_addr);
    msg_str(c, st, 0x0E04, m->to_name);
    int r = cfb_add(c, st, "__recip_version1.0_#00000000", 1, NULL, 0);
    uint32_t rt[] = {0x0C150003};
    uint64_t rv[] = {1};
    msg_props(c, r, 8, rt, rv, 1, 0, 0);
    msg_str(c, r, 0x3001, m->to_name);
    msg_str(c, r, 0x39FE, m->to_addr);
}

int gen_msg_build(const gen_msg_spec *m, ks_buf *out)
{
    gen_cfb c = {.n = 0};
    int root = cfb_add(&c, -1, "Root Entry", 5, NULL, 0);
    uint32_t nattach = (m->attach_name ? 1 : 0) + (m->embedded ? 1 : 0);
    msg_content(&c, root, m, 32, nattach);
    if (m->attach_name) {
        int a = cfb_add(&c, root, "__attach_version1.0_#00000000", 1, NULL, 0);
        uint32_t t[] = {0x37050003};
        uint64_t v[] = {1};
        msg_props(&c, a, 8, t, v, 1, 0, 0);
        msg_str(&c, a, 0x3707, m->attach_name);
        cfb_add(&c, a, "__substg1.0_37010102", 2, m->attach, m->nattach);
    }
    if (m->embedded) {
        int a = cfb_add(&c, root, "__attach_version1.0_#00000001", 1, NULL, 0);
        uint32_t t[] = {0x37050003};
        uint64_t v[] = {5};
        msg_props(&c, a, 8, t, v, 1, 0, 0);
        msg_str(&c, a, 0x3707, "forwarded.msg");
        int em = cfb_add(&c, a, "__substg1.0_3701000D", 1, NULL, 0);
        msg_content(&c, em, m->embedded, 24, 0);
    }
    cfb_write(&c, out);
    return 0;
}

/* ---- TNEF ------------------------------------------------------------------------------ */

static void tnef_attr(ks_buf *b, uint8_t level, uint32_t tag, const void *p, size_t n)
{
    const uint8_t *d = p;
    uint16_t sum = 0;
    ks__buf_addc(b, (char)level);
    put32(b, tag);
    put32(b, (uint32_t)n);
    ks__buf_add(b, p, n);
    for (size_t i = 0; i < n; i++)
        sum = (uint16_t)(sum + d[i]);
    put16(b, sum);
}

/* One PT_STRING8 MAPI property (tag, count 1, length, bytes, padding). */
static void mapi_str8(ks_buf *b, uint32_t tag, const char *s)
{
    size_t n = strlen(s) + 1;
    put32(b, tag);
    put32(b, 1);
    put32(b, (uint32_t)n);
    ks__buf_add(b, s, n);
    pad_to(b, 4);
}

int gen_tnef_build(const gen_msg_spec *m, ks_buf *out)
{
    ks_buf props = KS_BUF_INIT, ap = KS_BUF_INIT;
    put32(out, 0x223E9F78);
    put16(out, 0x0001);
    uint32_t ver = 0x00010000;
    tnef_attr(out, 1, 0x00089006, &ver, 4);
    uint32_t cp[2] = {1252, 0};
    tnef_attr(out, 1, 0x00069007, cp, 8);
    tnef_attr(out, 1, 0x00018004, m->subject, strlen(m->subject) + 1);
    put32(&props, 3);
    mapi_str8(&props, 0x1000001E, m->body);
    mapi_str8(&props, 0x1035001E, m->message_id);
    mapi_str8(&props, 0x0C1F001E, m->from_addr);
    tnef_attr(out, 1, 0x00069003, props.p, props.n);
    if (m->attach_name) {
        uint8_t rend[14] = {1};
        tnef_attr(out, 2, 0x00069002, rend, sizeof rend);
        tnef_attr(out, 2, 0x00018010, m->attach_name, strlen(m->attach_name) + 1);
        tnef_attr(out, 2, 0x0006800F, m->attach, m->nattach);
        put32(&ap, 1);
        mapi_str8(&ap, 0x3707001E, m->attach_name);
        tnef_attr(out, 2, 0x00069005, ap.p, ap.n);
    }
    ks__buf_release(&props);
    ks__buf_release(&ap);
    return 0;
}
