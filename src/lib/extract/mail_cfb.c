/* SPDX-License-Identifier: Apache-2.0
 *
 * Compound file (CFB / OLE2) reader over a borrowed buffer: header, FAT
 * through the DIFAT, mini FAT and mini stream, the directory and its
 * red-black sibling trees ([MS-CFB] 2.2-2.6). Damaged files read as far as
 * they are sound: a chain that leaves the file or loops ends there.
 */
#include <stdlib.h>
#include <string.h>
#include "extract/mail_cfb.h"

#define CFB_ENDCHAIN 0xFFFFFFFEu
#define CFB_MAXSECT 0xFFFFFFFAu
#define CFB_MINI_CUTOFF 4096u

static const uint8_t cfb_sig[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};

struct ks_cfb {
    const uint8_t *p;     /* the file, borrowed */
    size_t n;
    unsigned shift;       /* sector size = 1 << shift (512 or 4096) */
    size_t nsect;         /* whole sectors in the file after the header */
    uint32_t *fat;        /* sector ids of the FAT sectors */
    size_t nfat;
    uint32_t *minifat;    /* the mini FAT itself (read through the FAT) */
    size_t nminifat;
    ks_buf mini;          /* the mini stream (root entry's data) */
    ks_cfb_entry *ents;   /* the directory */
    size_t nents;
    bool v3;              /* 512-byte sectors: only the low 32 size bits count */
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

bool ks__cfb_sniff(const uint8_t *p, size_t n)
{
    return n >= 8 && memcmp(p, cfb_sig, 8) == 0;
}

/* Start of sector sid, or NULL when it is not wholly in the file. */
static const uint8_t *sector(const ks_cfb *c, uint32_t sid)
{
    if (sid > CFB_MAXSECT || (size_t)sid >= c->nsect)
        return NULL;
    return c->p + (((size_t)sid + 1) << c->shift);
}

static uint32_t fat_next(const ks_cfb *c, uint32_t sid)
{
    size_t per = ((size_t)1 << c->shift) / 4;
    size_t k = sid / per;
    const uint8_t *s = k < c->nfat ? sector(c, c->fat[k]) : NULL;
    return s ? rd32(s + (sid % per) * 4) : CFB_ENDCHAIN;
}

/* Appends the regular-sector chain from start to out, at most max bytes. */
static int read_chain(const ks_cfb *c, uint32_t start, uint64_t max, ks_buf *out)
{
    size_t ssz = (size_t)1 << c->shift;
    uint64_t got = 0;
    size_t steps = 0;
    uint32_t sid = start;
    while (got < max && sid <= CFB_MAXSECT) {
        const uint8_t *s = sector(c, sid);
        if (!s || ++steps > c->nsect)
            return KS_ETRUNCATED; /* left the file or loops */
        size_t take = (size_t)KS_MIN((uint64_t)ssz, max - got);
        int rc = ks__buf_add(out, s, take);
        if (rc != KS_OK)
            return rc;
        got += take;
        sid = fat_next(c, sid);
    }
    return got < max && max != UINT64_MAX ? KS_ETRUNCATED : KS_OK;
}

static int read_mini(const ks_cfb *c, uint32_t start, uint64_t max, ks_buf *out)
{
    uint64_t got = 0;
    size_t steps = 0;
    uint32_t sid = start;
    while (got < max && sid <= CFB_MAXSECT) {
        size_t off = (size_t)sid * 64;
        if (off + 64 > c->mini.n || ++steps > c->nminifat)
            return KS_ETRUNCATED;
        size_t take = (size_t)KS_MIN((uint64_t)64, max - got);
        int rc = ks__buf_add(out, c->mini.p + off, take);
        if (rc != KS_OK)
            return rc;
        got += take;
        sid = (size_t)sid < c->nminifat ? c->minifat[sid] : CFB_ENDCHAIN;
    }
    return got < max ? KS_ETRUNCATED : KS_OK;
}

/* The FAT sector list: 109 ids in the header, the rest in DIFAT sectors. */
static int load_fat(ks_cfb *c, const uint8_t *h)
{
    size_t per = ((size_t)1 << c->shift) / 4;
    size_t want = KS_MIN((size_t)rd32(h + 0x2C), c->nsect);
    c->fat = calloc(want ? want : 1, sizeof *c->fat);
    if (!c->fat)
        return KS_ENOMEM;
    for (size_t i = 0; i < 109 && c->nfat < want; i++)
        c->fat[c->nfat++] = rd32(h + 0x4C + 4 * i);
    uint32_t dif = rd32(h + 0x44);
    size_t steps = 0;
    while (c->nfat < want && dif <= CFB_MAXSECT && ++steps <= c->nsect) {
        const uint8_t *s = sector(c, dif);
        if (!s)
            break;
        for (size_t i = 0; i + 1 < per && c->nfat < want; i++)
            c->fat[c->nfat++] = rd32(s + 4 * i);
        dif = rd32(s + 4 * (per - 1));
    }
    return KS_OK;
}

static int load_dir(ks_cfb *c, uint32_t start)
{
    ks_buf d = KS_BUF_INIT;
    int rc = read_chain(c, start, UINT64_MAX, &d);
    if (rc != KS_OK && rc != KS_ETRUNCATED)
        goto out;
    rc = KS_OK;
    c->nents = d.n / 128;
    if (c->nents == 0) {
        rc = KS_EFORMAT;
        goto out;
    }
    c->ents = calloc(c->nents, sizeof *c->ents);
    if (!c->ents) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c->nents; i++) {
        const uint8_t *e = (const uint8_t *)d.p + i * 128;
        ks_cfb_entry *x = &c->ents[i];
        size_t nl = KS_MIN((size_t)rd16(e + 0x40), 64);
        ks__utf16le_to_utf8(e, nl, x->name, sizeof x->name - 1, true);
        x->type = e[0x42];
        x->left = rd32(e + 0x44);
        x->right = rd32(e + 0x48);
        x->child = rd32(e + 0x4C);
        x->start = rd32(e + 0x74);
        x->size = (uint64_t)rd32(e + 0x78) | (c->v3 ? 0 : (uint64_t)rd32(e + 0x7C) << 32);
    }
out:
    ks__buf_release(&d);
    return rc;
}

int ks__cfb_open(const uint8_t *p, size_t n, ks_cfb **out)
{
    ks_cfb *c = NULL;
    int rc = KS_EFORMAT;
    if (n < 512 || !ks__cfb_sniff(p, n))
        goto out;
    unsigned shift = rd16(p + 0x1E);
    if (shift != 9 && shift != 12)
        goto out;
    if (!(c = calloc(1, sizeof *c))) {
        rc = KS_ENOMEM;
        goto out;
    }
    c->p = p;
    c->n = n;
    c->shift = shift;
    c->v3 = shift == 9;
    /* The header occupies one sector; a partial last sector is ignored. */
    c->nsect = n >> shift ? (n >> shift) - 1 : 0;
    if ((rc = load_fat(c, p)) != KS_OK)
        goto out;
    if ((rc = load_dir(c, rd32(p + 0x30))) != KS_OK)
        goto out;
    /* Mini FAT and mini stream, when there are small streams. */
    ks_buf mf = KS_BUF_INIT;
    uint32_t mfstart = rd32(p + 0x3C);
    if (mfstart <= CFB_MAXSECT) {
        uint64_t mfbytes = (uint64_t)rd32(p + 0x40) << shift;
        rc = read_chain(c, mfstart, KS_MIN(mfbytes, (uint64_t)n), &mf);
        if (rc != KS_OK && rc != KS_ETRUNCATED) {
            ks__buf_release(&mf);
            goto out;
        }
        c->nminifat = mf.n / 4;
        c->minifat = calloc(c->nminifat ? c->nminifat : 1, sizeof *c->minifat);
        if (!c->minifat) {
            ks__buf_release(&mf);
            rc = KS_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < c->nminifat; i++)
            c->minifat[i] = rd32((const uint8_t *)mf.p + 4 * i);
        ks__buf_release(&mf);
        rc = read_chain(c, c->ents[0].start, KS_MIN(c->ents[0].size, (uint64_t)n), &c->mini);
        if (rc != KS_OK && rc != KS_ETRUNCATED)
            goto out;
    }
    rc = KS_OK;
    *out = c;
    c = NULL;
out:
    ks__cfb_free(c);
    return rc;
}

void ks__cfb_free(ks_cfb *c)
{
    if (!c)
        return;
    free(c->fat);
    free(c->minifat);
    free(c->ents);
    ks__buf_release(&c->mini);
    free(c);
}

const ks_cfb_entry *ks__cfb_entry(const ks_cfb *c, uint32_t id)
{
    return (size_t)id < c->nents ? &c->ents[id] : NULL;
}

/* In-order walk of the sibling tree under storage id, with an explicit
 * stack and a visited mark so a looping tree ends. */
size_t ks__cfb_children(const ks_cfb *c, uint32_t id, uint32_t *ids, size_t cap)
{
    const ks_cfb_entry *e = ks__cfb_entry(c, id);
    uint32_t *stack = NULL;
    uint8_t *seen = NULL;
    size_t found = 0, sp = 0;
    if (!e || (e->type != KS_CFB_STORAGE && e->type != KS_CFB_ROOT))
        return 0;
    stack = malloc(c->nents * sizeof *stack);
    seen = calloc(c->nents, 1);
    if (!stack || !seen)
        goto out;
    uint32_t cur = e->child;
    while (sp > 0 || (size_t)cur < c->nents) {
        while ((size_t)cur < c->nents && !seen[cur] && sp < c->nents) {
            seen[cur] = 1;
            stack[sp++] = cur;
            cur = c->ents[cur].left;
        }
        if (sp == 0)
            break;
        cur = stack[--sp];
        if (c->ents[cur].type != 0) {
            if (found < cap)
                ids[found] = cur;
            found++;
        }
        cur = c->ents[cur].right;
    }
out:
    free(stack);
    free(seen);
    return found;
}

uint32_t ks__cfb_find(const ks_cfb *c, uint32_t storage, const char *name)
{
    uint32_t ids[512];
    size_t k = ks__cfb_children(c, storage, ids, KS_ARRAY_LEN(ids));
    size_t nl = strlen(name);
    for (size_t i = 0; i < KS_MIN(k, KS_ARRAY_LEN(ids)); i++)
        if (ks__ieq(c->ents[ids[i]].name, strlen(c->ents[ids[i]].name), name, nl))
            return ids[i];
    return KS_CFB_NONE;
}

int ks__cfb_read(const ks_cfb *c, uint32_t id, uint64_t max, ks_buf *out)
{
    const ks_cfb_entry *e = ks__cfb_entry(c, id);
    if (!e || e->type != KS_CFB_STREAM)
        return KS_EFORMAT;
    uint64_t want = KS_MIN(e->size, max);
    if (want == 0)
        return KS_OK;
    if (e->size < CFB_MINI_CUTOFF)
        return read_mini(c, e->start, want, out);
    if (want > c->n)
        want = c->n; /* a size larger than the file is a lie */
    return read_chain(c, e->start, want, out);
}
