/* SPDX-License-Identifier: Apache-2.0
 *
 * Cloud storage exposure: the facts collected per resource (cloud.c), the
 * checks that judge them (cloud_checks.c: ids, severities, rationale,
 * remediation, cross-document overrides) and SAS URL parsing.
 */
#ifndef KS_CLOUD_H
#define KS_CLOUD_H

#include <stddef.h>
#include "kensa_int.h"

enum { U = -1 }; /* unknown tri-state */

typedef struct res {
    char key[256];               /* provider|kind|name */
    char provider[8], kind[16], name[200], parent[200];
    int8_t blob_public, shared_key, https_only, net_allow, pna_enabled;
    char min_tls[16];
    char access[16];             /* container publicAccess: blob / container / off */
    int8_t acl_read, acl_write, acl_auth;
    int8_t policy_public, policy_write, policy_conditioned;
    int8_t pab[4];               /* BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets */
    int8_t status_public;
    int8_t iam_all, iam_auth, ubla;
    char pap[24];
    ks_evidence ev[4];
    char ev_path[4][256];
    size_t nev;
} res;



/* BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets */
extern const char *const ks__cloud_pab_names[4];

/* Judges every resource of `resources` (key -> res*) and emits findings. */
int ks__cloud_judge(ks_engine *e, ks_map *resources);

/* A shared access signature found in a URL. */
typedef struct cloud_sas {
    char host[128];        /* account.blob.core.windows.net */
    char resource[256];    /* path: container/blob */
    char perms[16];        /* sp= */
    char expiry[40];       /* se= as written */
    int64_t expiry_ns;     /* KS_TIME_NONE if unparsable */
    char srt[8], ss[8];    /* account SAS: resource types / services */
} cloud_sas;

/* Parses the first SAS-bearing URL in s. KS_OK or KS_ENOTFOUND. */
int ks__cloud_parse_sas(const char *s, size_t n, cloud_sas *out);
/* Emits a finding when the SAS grants list/write/delete or lives longer
 * than max_days after the event (or now). */
void ks__cloud_report_sas(ks_engine *e, const ks_event *ev, const ks_field *f, const cloud_sas *sas, int64_t max_days);

#endif
