/* SPDX-License-Identifier: Apache-2.0
 *
 * A reader of Microsoft compound files (CFB / OLE2, [MS-CFB]) over a
 * borrowed buffer, for Outlook .msg. Written here rather than using
 * libolecf because Debian's libolecf-dev opens only by file name (its
 * memory handle needs libbfio-dev, absent), and a .msg is as often an
 * attachment in memory as a file; this reader also never trusts a sector
 * number, size or sibling link: every chain is bounded by the file's
 * sector count and every tree walk by the entry count.
 *
 * Ownership: ks_cfb borrows p[0..n) for its whole life; entries belong to
 * the ks_cfb; ks__cfb_read appends to a caller-owned ks_buf.
 */
#ifndef KS_EXTRACT_MAIL_CFB_H
#define KS_EXTRACT_MAIL_CFB_H

#include "core/core.h"

#define KS_CFB_NONE 0xFFFFFFFFu

enum { KS_CFB_STORAGE = 1, KS_CFB_STREAM = 2, KS_CFB_ROOT = 5 };

typedef struct ks_cfb_entry {
    char name[200];      /* UTF-8 from the UTF-16 directory name */
    uint8_t type;        /* KS_CFB_* (0 = unused) */
    uint32_t left, right, child; /* red-black tree links, KS_CFB_NONE */
    uint32_t start;      /* first sector (mini sector for small streams) */
    uint64_t size;       /* stream size in bytes */
} ks_cfb_entry;

typedef struct ks_cfb ks_cfb;

/* True when p starts with the CFB signature. */
bool ks__cfb_sniff(const uint8_t *p, size_t n);
/* KS_OK, KS_EFORMAT (not CFB / header or directory unreadable), KS_ENOMEM. */
int ks__cfb_open(const uint8_t *p, size_t n, ks_cfb **out);
void ks__cfb_free(ks_cfb *c);   /* NULL-safe */
/* Entry id or NULL when out of range; id 0 is the root storage. */
const ks_cfb_entry *ks__cfb_entry(const ks_cfb *c, uint32_t id);
/* Children of storage id in directory order, at most cap ids written;
 * returns how many there are (may exceed cap). */
size_t ks__cfb_children(const ks_cfb *c, uint32_t id, uint32_t *ids, size_t cap);
/* The child of storage id named name (ASCII case-insensitive, as CFB
 * compares), or KS_CFB_NONE. */
uint32_t ks__cfb_find(const ks_cfb *c, uint32_t storage, const char *name);
/* Appends the stream's bytes to out, at most max. KS_OK, KS_ETRUNCATED
 * (chain shorter than the size: what was read is in out), KS_EFORMAT. */
int ks__cfb_read(const ks_cfb *c, uint32_t id, uint64_t max, ks_buf *out);

#endif
