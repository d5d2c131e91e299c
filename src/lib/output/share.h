/* SPDX-License-Identifier: Apache-2.0
 *
 * What the sharing formats (STIX 2.1, MISP, SARIF, Timesketch) have in
 * common: the indicators a finding carries, deterministic ids, and JSON
 * member writers.
 *
 * Observables are read from a finding's matched values, details and
 * evidence by key and shape: a 64-hex value counts as a file SHA-256 only
 * under a key that names a file hash ("sha256", "hashes.SHA256"), never
 * under "secret_sha256"/"value_sha256" (those hash a secret or a person's
 * data and must not be published as indicators); domains only under keys
 * that name a DNS name (query, domain, host, sni); addresses by shape under
 * address-like keys. File-detector findings give their file name.
 *
 * Ownership: ks_obs values point into the finding (valid as long as it).
 */
#ifndef KS_OUTPUT_SHARE_H
#define KS_OUTPUT_SHARE_H

#include "kensa_int.h"

typedef enum ks_obs_type {
    KS_OBS_SHA256 = 0,
    KS_OBS_SHA1,
    KS_OBS_MD5,
    KS_OBS_IPV4,
    KS_OBS_IPV6,
    KS_OBS_DOMAIN,
    KS_OBS_URL,
    KS_OBS_FILENAME,
    KS_OBS_NTYPES
} ks_obs_type;

typedef struct ks_obs {
    ks_obs_type type;
    const char *value;   /* borrowed from the finding */
} ks_obs;

#define KS_OBS_MAX 16

/* Distinct observables of f, at most cap. */
size_t ks__finding_observables(const ks_finding *f, ks_obs *out, size_t cap);
/* "SHA-256", "ipv4-addr", ... short type names per format. */
const char *ks__obs_misp_type(ks_obs_type t);
/* The STIX 2.1 pattern of one observable, e.g. [file:hashes.'SHA-256' = '..'] */
int ks__obs_stix_pattern(const ks_obs *o, ks_buf *b);

/* Writes "type--uuid" with a name-based (v5, SHA-1) UUID of `name` into
 * out (cap >= 80): the same finding gives the same id in every run. */
void ks__stix_id(const char *type, const char *name, size_t n, char *out, size_t cap);
/* A UUID v5 of name, 36 characters + NUL. */
void ks__uuid5(const char *name, size_t n, char out[37]);

/* JSON members: "k":"v" (escaped; null when v is NULL) followed by a comma
 * when comma is true. */
void ks__jmember(ks_buf *b, const char *k, const char *v, bool comma);
/* ,"record":N,"line":N,"offset":N: the members of ev's place that it
 * has (jsonl, Timesketch). */
void ks__jplace(ks_buf *b, const ks_evidence *ev);
/* A time as JSON string in RFC 3339 UTC with milliseconds (STIX, MISP). */
void ks__jtime_ms(ks_buf *b, int64_t t);
/* The run's reference time: SOURCE_DATE_EPOCH when set (reproducible
 * reports), else now. */
int64_t ks__report_time(void);

#endif
