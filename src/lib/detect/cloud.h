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
    int8_t policy_xacct;         /* grants an account that is neither the owner's nor trusted */
    int8_t pab[4];               /* BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets */
    int8_t status_public;
    int8_t iam_all, iam_auth, ubla;
    char pap[24];
    char xacct[16];              /* that account (policy_xacct) */
    char owner[16];              /* the owner's account, when the evidence says */
    ks_evidence ev[4];
    char ev_path[4][256];
    size_t nev;
} res;



/* BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets */
extern const char *const ks__cloud_pab_names[4];

/* ---- the detector's state (cloud.c), shared with the audit-log reader ---- */

typedef struct cloud_table {
    ks_map *map;                 /* key -> res* */
} cloud_table;

typedef struct cloud_det {
    ks_engine *e;
    ks_sym *shape;               /* interned shape paths (cloud.c) */
    pthread_mutex_t lock;
    cloud_table all;
    int64_t sas_max_days;
    const char **own_accounts;   /* cloud.aws_accounts: the organisation's AWS accounts */
    size_t nown;
} cloud_det;

typedef struct cloud_ws {
    cloud_det *d;
    cloud_table t;
    ks_event scratch;            /* decoded policy / request body strings */
    ks_arena *arena;
    ks_symcache *cache;          /* the worker's interner: lock-free lookups */
    ks_evhave shapes;            /* which shape paths an event's layout has */
} cloud_ws;

/* Field by path through the worker's cache. */
const ks_value *ks__cloud_getp(cloud_ws *ws, const ks_event *ev, const char *path);
bool ks__cloud_vstr(const ks_value *v, const char **s, size_t *n);
/* Tri-state from a JSON boolean or "true"/"false" text. */
int8_t ks__cloud_tri(const ks_value *v);
/* Judges an S3 bucket policy held in `pol` under `prefix` ("" for a decoded
 * policy string, "requestParameters.bucketPolicy." inside a CloudTrail
 * record) into r's policy facts: Principal "*" without a restricting
 * Condition is public; an AWS account that is neither r->owner nor one of
 * cloud.aws_accounts is cross-account; service principals (CloudTrail's
 * own delivery, CloudFront, ...) are neither. */
void ks__cloud_policy(cloud_ws *ws, const ks_event *pol, const char *prefix, res *r);

/* Audit logs (cloud_audit.c): a CloudTrail / Azure Activity / GCP audit
 * record that changes storage exposure is judged by the same checks as the
 * exports. True when ev was such a record. */
bool ks__cloud_audit(cloud_ws *ws, const ks_event *ev);
/* Emits the verdicts of every check on a resource built from one audit
 * record, with who did it (`who`, borrowed) and the record as evidence. */
void ks__cloud_judge_audit(ks_engine *e, const res *r, const ks_event *ev, const ks_kv *who, size_t nwho);

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
