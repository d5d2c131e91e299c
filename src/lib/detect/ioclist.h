/* SPDX-License-Identifier: Apache-2.0
 *
 * Indicator list loading, shared by the file IOC detector (ioc.c: hashes,
 * file names, literals in file contents) and the network C2 detector
 * (c2.c: domains, addresses and ranges, URLs, JA3/JA3S in logs).
 *
 * Formats, recognised per file (docs/FILES.md, docs/NETWORK.md):
 *  - hash lists ("HASH;description", "HASH", "HASH  name");
 *  - filename IOCs "REGEX;SCORE[;FALSE_POSITIVE_REGEX]" (Loki/THOR);
 *  - literal lists (file name says c2/domain/keyword/literal, or a
 *    "# kensa: literal" line), one value a line, "[.]" / "hxxp" refanged;
 *  - CSVs whose header names hash columns and/or network columns (FQDN,
 *    domain, hostname, target, IP, URL, JA3, JA3S): FireEye's releases;
 *  - STIX 2.1 bundles (indicator patterns on file hashes/names,
 *    domain-name, url, ipv4-addr, ipv6-addr);
 *  - MISP JSON events (Attribute lists, also inside Objects): domain,
 *    hostname, ip-src/ip-dst (and "|port" forms), url, ja3-fingerprint-md5,
 *    md5/sha1/sha256, filename.
 * The loader parses; what to keep is the sink's business. Everything a
 * sink receives is borrowed for the call.
 */
#ifndef KS_IOCLIST_H
#define KS_IOCLIST_H

#include "kensa_int.h"

typedef enum ks_ioc_kind {
    KS_IOC_LITERAL = 0, /* untyped text (a literal list entry) */
    KS_IOC_DOMAIN,      /* host or domain name; matches its subdomains */
    KS_IOC_IP,          /* IPv4/IPv6 address or CIDR range */
    KS_IOC_URL,
    KS_IOC_JA3,         /* TLS client fingerprint (MD5 hex) */
    KS_IOC_JA3S         /* TLS server fingerprint */
} ks_ioc_kind;

typedef struct ks_ioc_sink {
    ks_engine *e;      /* diagnostics */
    void *ud;
    /* A description and origin shared by the entries that follow; returns
     * its id, UINT32_MAX on OOM. */
    uint32_t (*src)(void *ud, const char *desc, size_t dn, const char *file, uint64_t line);
    /* Hex digest; KS_EFORMAT when it is not one (the loader warns). */
    int (*hash)(void *ud, const char *hex, size_t n, uint32_t src);
    int (*name)(void *ud, const char *re, size_t n, int score, const char *fp, size_t fpn,
                uint32_t src, const char *file, uint64_t line);
    /* A literal (refanged) with the kind its source declared. */
    int (*lit)(void *ud, ks_ioc_kind kind, const char *s, size_t n, uint32_t src);
} ks_ioc_sink;

/* Where indicators came from, one table per detector (ioc.c, c2.c): each
 * entry keeps the id a sink's src() returned, an index into this table. */
typedef struct ks_ioc_src {
    char *desc;          /* owned: description or "" */
    char *file;          /* owned: the IOC file */
    uint64_t line;
} ks_ioc_src;
typedef struct ks_ioc_srcs {
    ks_ioc_src *v;
    size_t n, cap;
} ks_ioc_srcs;
/* Appends a source (desc may be NULL; strings copied): its id, or
 * UINT32_MAX on OOM. ks__ioc_srcs_free frees every entry and the table. */
uint32_t ks__ioc_srcs_add(ks_ioc_srcs *t, const char *desc, size_t dn, const char *file, uint64_t line);
void ks__ioc_srcs_free(ks_ioc_srcs *t);

/* Loads a file or a directory (recursively, sorted, README/.md skipped).
 * Unreadable files are diagnostics; returns KS_OK or KS_ENOMEM. */
int ks__ioc_load(const ks_ioc_sink *k, const char *path);
/* Loads the "ioc" option's paths, then <rules_dir>/ioc unless
 * builtin=false. */
int ks__ioc_load_configured(const ks_ioc_sink *k);
/* The kind an untyped literal looks like: an address or CIDR, a URL, a
 * domain name; KS_IOC_LITERAL when none. */
ks_ioc_kind ks__ioc_classify(const char *s, size_t n);

#endif
