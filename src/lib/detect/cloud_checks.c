/* SPDX-License-Identifier: Apache-2.0
 *
 * The storage exposure checks: each a row of one table with a stable id,
 * severity, one-line rationale, remediation command and a judge function
 * over the facts of one resource (plus the rest of the evidence for
 * overrides). Also SAS URL parsing. docs/CLOUD.md maps every id to its
 * Prowler, ScoutSuite and Checkov counterparts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cloud.h"

const char *const ks__cloud_pab_names[4] = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                            "RestrictPublicBuckets"};

typedef struct ctx {
    ks_map *all;
    const res *aws_account;    /* s3control account-level block, if exported */
} ctx;

/* A verdict: 0 = fine, else the severity + 1, with a sentence. */
typedef int (*judge_fn)(const ctx *c, const res *r, char *why, size_t cap);

typedef struct check {
    const char *id;
    const char *provider, *kind;
    const char *title;
    const char *rationale;
    const char *fix;           /* printf format with %s = resource name */
    const char *const *tech;
    judge_fn judge;
} check;

static const char *const t_data[] = {"T1530"};
static const char *const t_access[] = {"T1530", "T1078.004"};

#define SEV(s) ((int)(s) + 1)

static const res *lookup(const ctx *c, const char *provider, const char *kind, const char *name)
{
    char key[256];
    int k = snprintf(key, sizeof key, "%s|%s|%s", provider, kind, name);
    uint64_t *v = k > 0 && c->all ? ks__map_get(c->all, key, (size_t)k) : NULL;
    return v ? (const res *)(uintptr_t)*v : NULL;
}

/* The storage account of a container: named in the ARM resource, else the
 * account whose name appears in the path of the container export. */
static const res *container_account(const ctx *c, const res *r)
{
    if (r->parent[0])
        return lookup(c, "azure", "account", r->parent);
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    const res *found = NULL;
    while (c->all && ks__map_iter(c->all, &i, &k, &n, &v)) {
        const res *a = (const res *)(uintptr_t)*v;
        if (strcmp(a->provider, "azure") || strcmp(a->kind, "account"))
            continue;
        for (size_t e = 0; e < r->nev; e++)
            if (strstr(r->ev_path[e], a->name))
                found = a;
    }
    return found;
}

/* ---- Azure ---------------------------------------------------------------- */

static int az_blob_public(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->blob_public == 1)
        return snprintf(why, cap, "allowBlobPublicAccess = true"), SEV(KS_SEV_MEDIUM);
    if (r->blob_public == 2)
        return snprintf(why, cap, "allowBlobPublicAccess not set (accounts created before Nov 2023 allow public blobs)"),
               SEV(KS_SEV_LOW);
    return 0;
}

static int az_shared_key(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->shared_key == 1 || r->shared_key == 2)
        return snprintf(why, cap, "allowSharedKeyAccess = %s", r->shared_key == 1 ? "true" : "not set (allowed)"),
               SEV(KS_SEV_LOW);
    return 0;
}

static int az_https(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    return r->https_only == 0 ? (snprintf(why, cap, "HTTPS-only traffic is off"), SEV(KS_SEV_MEDIUM)) : 0;
}

static int az_tls(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->min_tls[0] && (!strcmp(r->min_tls, "TLS1_0") || !strcmp(r->min_tls, "TLS1_1")))
        return snprintf(why, cap, "minimumTlsVersion = %s", r->min_tls), SEV(KS_SEV_MEDIUM);
    return 0;
}

static int az_network(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->net_allow != 1)
        return 0;
    snprintf(why, cap, "networkRuleSet.defaultAction = Allow (reachable from any network)");
    return r->blob_public == 1 || r->blob_public == 2 ? SEV(KS_SEV_MEDIUM) : SEV(KS_SEV_LOW);
}

static int az_pna(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->pna_enabled == 1 && r->net_allow == 1)
        return snprintf(why, cap, "publicNetworkAccess = Enabled"), SEV(KS_SEV_LOW);
    return 0;
}

static int az_container(const ctx *c, const res *r, char *why, size_t cap)
{
    bool list = !strcasecmp(r->access, "container"), read = list || !strcasecmp(r->access, "blob");
    if (!read)
        return 0;
    const res *acct = container_account(c, r);
    if (acct && acct->blob_public == 0) {
        /* the account forbids anonymous access: the container setting is dead */
        snprintf(why, cap, "publicAccess = %s, but account %s has allowBlobPublicAccess = false (no effect today; "
                           "it becomes public if that is switched on)", r->access, acct->name);
        return SEV(KS_SEV_INFO);
    }
    snprintf(why, cap, "publicAccess = %s: anyone can %s", r->access,
             list ? "list the container and read every blob (the BlueBleed exposure)" : "read any blob whose name they know");
    return list ? SEV(KS_SEV_CRITICAL) : SEV(KS_SEV_HIGH);
}

/* ---- AWS ---------------------------------------------------------------------- */

/* Effective Block Public Access flag i: bucket or account level. */
static bool blocked(const ctx *c, const res *r, int i)
{
    return r->pab[i] == 1 || (c->aws_account && c->aws_account->pab[i] == 1);
}

static int s3_acl(const ctx *c, const res *r, char *why, size_t cap)
{
    if (r->acl_read != 1 && r->acl_auth != 1)
        return 0;
    const char *who = r->acl_read == 1 ? "AllUsers (anyone)" : "AuthenticatedUsers (any AWS account)";
    if (blocked(c, r, 1)) {
        snprintf(why, cap, "ACL grants %s, but IgnorePublicAcls is on (no effect)", who);
        return SEV(KS_SEV_INFO);
    }
    snprintf(why, cap, "ACL grants %s%s", who, r->acl_write == 1 ? " write access" : " read access");
    return r->acl_write == 1 ? SEV(KS_SEV_CRITICAL) : SEV(KS_SEV_HIGH);
}

static int s3_policy(const ctx *c, const res *r, char *why, size_t cap)
{
    if (r->policy_public != 1) {
        if (r->status_public == 1 && r->policy_public == U) /* AWS says so; policy not exported */
            return snprintf(why, cap, "get-bucket-policy-status: IsPublic = true"), SEV(KS_SEV_HIGH);
        return 0;
    }
    if (blocked(c, r, 3)) {
        snprintf(why, cap, "policy allows Principal \"*\", but RestrictPublicBuckets is on (no effect)");
        return SEV(KS_SEV_INFO);
    }
    snprintf(why, cap, "policy allows Principal \"*\" without a restricting Condition%s",
             r->policy_write == 1 ? ", including writes" : "");
    return r->policy_write == 1 ? SEV(KS_SEV_CRITICAL) : SEV(KS_SEV_HIGH);
}

static int s3_policy_xacct(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->policy_xacct != 1 || r->policy_public == 1)
        return 0; /* public already says more */
    snprintf(why, cap, "policy grants AWS account %s%s%s%s without a restricting Condition%s", r->xacct,
             r->owner[0] ? " (the bucket's owner is " : " (not in cloud.aws_accounts",
             r->owner[0] ? r->owner : "", ")", r->policy_write == 1 ? ", including writes" : "");
    return r->policy_write == 1 ? SEV(KS_SEV_HIGH) : SEV(KS_SEV_MEDIUM);
}

static int pab_missing(const int8_t pab[4], char *why, size_t cap, const char *level)
{
    size_t o = 0;
    int missing = 0;
    for (int i = 0; i < 4; i++)
        if (pab[i] == 0) {
            o += (size_t)snprintf(why + o, o < cap ? cap - o : 0, "%s%s", missing ? ", " : "", ks__cloud_pab_names[i]);
            missing++;
        }
    if (!missing)
        return 0;
    if (o < cap)
        snprintf(why + o, cap - o, " off at the %s level", level);
    return SEV(KS_SEV_MEDIUM);
}

static int s3_pab(const ctx *c, const res *r, char *why, size_t cap)
{
    int8_t eff[4];
    bool any = false;
    for (int i = 0; i < 4; i++) {
        eff[i] = r->pab[i];
        if (c->aws_account && c->aws_account->pab[i] == 1)
            eff[i] = 1; /* the account level covers it */
        any |= r->pab[i] != U;
    }
    return any ? pab_missing(eff, why, cap, "bucket") : 0;
}

static int s3_account_pab(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    return pab_missing(r->pab, why, cap, "account");
}

/* ---- GCP ------------------------------------------------------------------------- */

static int gcs_iam(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->iam_all != 1 && r->iam_auth != 1)
        return 0;
    const char *who = r->iam_all == 1 ? "allUsers" : "allAuthenticatedUsers";
    if (!strcasecmp(r->pap, "enforced")) {
        snprintf(why, cap, "IAM binds %s, but public access prevention is enforced (no effect)", who);
        return SEV(KS_SEV_INFO);
    }
    snprintf(why, cap, "IAM policy binds %s", who);
    return r->iam_all == 1 ? SEV(KS_SEV_CRITICAL) : SEV(KS_SEV_HIGH);
}

static int gcs_ubla(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    return r->ubla == 0 ? (snprintf(why, cap, "uniform bucket-level access is off (object ACLs apply)"), SEV(KS_SEV_LOW)) : 0;
}

static int gcs_pap(const ctx *c, const res *r, char *why, size_t cap)
{
    (void)c;
    if (r->pap[0] && strcasecmp(r->pap, "enforced"))
        return snprintf(why, cap, "public access prevention = %s", r->pap), SEV(KS_SEV_LOW);
    return 0;
}

static const check checks[] = {
    {"kensa.cloud.azure.account_blob_public_access", "azure", "account", "Storage account allows anonymous blob access",
     "Containers of this account can be made anonymously readable by anyone with write rights.",
     "az storage account update --name %s --allow-blob-public-access false", t_data, az_blob_public},
    {"kensa.cloud.azure.container_public", "azure", "container", "Blob container open to anonymous access",
     "Anonymous clients can read (and with 'container', list) the blobs: BlueBleed was one such container.",
     "az storage container set-permission --name %s --public-access off --account-name ACCOUNT", t_data, az_container},
    {"kensa.cloud.azure.account_shared_key_access", "azure", "account", "Storage account accepts Shared Key authorization",
     "Account keys and SAS tokens signed with them bypass Entra ID and its conditional access.",
     "az storage account update --name %s --allow-shared-key-access false", t_access, az_shared_key},
    {"kensa.cloud.azure.account_https_only", "azure", "account", "Storage account accepts plain HTTP",
     "Data and SAS tokens travel unencrypted.", "az storage account update --name %s --https-only true", t_data, az_https},
    {"kensa.cloud.azure.account_min_tls", "azure", "account", "Storage account accepts TLS below 1.2",
     "Old TLS versions are breakable and deprecated.", "az storage account update --name %s --min-tls-version TLS1_2",
     t_data, az_tls},
    {"kensa.cloud.azure.account_network_open", "azure", "account", "Storage account reachable from any network",
     "Without network rules the account answers the whole Internet.",
     "az storage account update --name %s --default-action Deny", t_data, az_network},
    {"kensa.cloud.azure.account_public_network_access", "azure", "account", "Storage account public network access enabled",
     "Public endpoint enabled with no network restriction.",
     "az storage account update --name %s --public-network-access Disabled", t_data, az_pna},
    {"kensa.cloud.aws.bucket_acl_public", "aws", "bucket", "S3 bucket ACL grants public access",
     "The ACL opens the bucket to anyone (AllUsers) or to any AWS account (AuthenticatedUsers).",
     "aws s3api put-bucket-acl --bucket %s --acl private", t_data, s3_acl},
    {"kensa.cloud.aws.bucket_policy_public", "aws", "bucket", "S3 bucket policy allows everyone",
     "A policy statement allows Principal \"*\" with no Condition restricting who.",
     "aws s3api delete-bucket-policy --bucket %s  (or add a Condition such as aws:PrincipalOrgID)", t_data, s3_policy},
    {"kensa.cloud.aws.bucket_policy_cross_account", "aws", "bucket", "S3 bucket policy grants another AWS account",
     "A policy statement lets an account outside the organisation read (or write) the bucket.",
     "aws s3api get-bucket-policy --bucket %s  (remove the statement, or restrict it with aws:PrincipalOrgID)",
     t_data, s3_policy_xacct},
    {"kensa.cloud.aws.bucket_public_access_block", "aws", "bucket", "S3 Block Public Access not fully on for the bucket",
     "Without all four Block Public Access settings a later ACL or policy change can expose the bucket.",
     "aws s3api put-public-access-block --bucket %s --public-access-block-configuration "
     "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true", t_data, s3_pab},
    {"kensa.cloud.aws.account_public_access_block", "aws", "account", "S3 Block Public Access not fully on for the account",
     "The account-level block is the guard rail for every bucket, present and future.",
     "aws s3control put-public-access-block --account-id ACCOUNT_ID --public-access-block-configuration "
     "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true", t_data, s3_account_pab},
    {"kensa.cloud.gcp.bucket_iam_public", "gcp", "bucket", "Cloud Storage bucket readable by allUsers / allAuthenticatedUsers",
     "An IAM binding to allUsers makes the bucket public on the Internet.",
     "gcloud storage buckets remove-iam-policy-binding gs://%s --member=allUsers --role=ROLE", t_data, gcs_iam},
    {"kensa.cloud.gcp.bucket_uniform_access_disabled", "gcp", "bucket", "Cloud Storage bucket without uniform bucket-level access",
     "Per-object ACLs can expose single objects outside IAM.",
     "gcloud storage buckets update gs://%s --uniform-bucket-level-access", t_data, gcs_ubla},
    {"kensa.cloud.gcp.bucket_public_access_prevention", "gcp", "bucket", "Cloud Storage public access prevention not enforced",
     "Enforced prevention blocks allUsers bindings whatever IAM says.",
     "gcloud storage buckets update gs://%s --public-access-prevention", t_data, gcs_pap},
};

/* Runs every check of r's provider and kind. From an audit record
 * (audit != NULL) the finding says who changed what when, points at the
 * record, and its id reads kensa.cloud.audit.* so exports and audit logs
 * are told apart while the verdict is the same code's. */
static void judge_res(ks_engine *e, const ctx *c, const res *r, const ks_event *audit, const ks_kv *who,
                      size_t nwho)
{
    for (size_t j = 0; j < KS_ARRAY_LEN(checks); j++) {
        const check *ck = &checks[j];
        char why[512], fix[512], desc[1024], id[128], title[256];
        if (strcmp(ck->provider, r->provider) || strcmp(ck->kind, r->kind))
            continue;
        int sev = ck->judge(c, r, why, sizeof why);
        if (!sev)
            continue;
        snprintf(fix, sizeof fix, ck->fix, r->name);
        snprintf(desc, sizeof desc, "%s Fix: %s", ck->rationale, fix);
        ks_kv matched[3] = {{"provider", r->provider}, {"resource", r->name}, {"setting", why}};
        ks_kv det[2 + 8] = {{"kind", r->kind}, {"remediation", fix}};
        size_t nd = 2;
        for (size_t k = 0; k < nwho && nd < KS_ARRAY_LEN(det); k++)
            det[nd++] = who[k];
        ks_evidence ev;
        ks_finding f = {0};
        f.rule_id = ck->id;
        f.title = ck->title;
        f.first = f.last = KS_TIME_NONE;
        f.evidence = r->ev;
        f.nevidence = r->nev;
        f.event_count = r->nev;
        if (audit) {
            snprintf(id, sizeof id, "kensa.cloud.audit.%s", ck->id + strlen("kensa.cloud."));
            snprintf(title, sizeof title, "%s (changed in the audit log)", ck->title);
            f.rule_id = id;
            f.title = title;
            ks__evidence_from_event(&ev, audit);
            f.evidence = &ev;
            f.nevidence = f.event_count = 1;
            f.first = f.last = ks_event_time(audit);
        }
        f.description = desc;
        f.detector = "cloud";
        f.severity = (ks_severity)(sev - 1);
        f.techniques = ck->tech;
        f.ntechniques = 1;
        f.matched = matched;
        f.nmatched = 3;
        f.details = det;
        f.ndetails = nd;
        ks__emit(e, &f);
    }
}

int ks__cloud_judge(ks_engine *e, ks_map *resources)
{
    ctx c = {resources, NULL};
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    c.aws_account = lookup(&c, "aws", "account", "*");
    while (ks__map_iter(resources, &i, &k, &n, &v))
        judge_res(e, &c, (const res *)(uintptr_t)*v, NULL, NULL, 0);
    return KS_OK;
}

void ks__cloud_judge_audit(ks_engine *e, const res *r, const ks_event *ev, const ks_kv *who, size_t nwho)
{
    ctx c = {NULL, NULL};
    judge_res(e, &c, r, ev, who, nwho);
}

/* ---- SAS URLs ---------------------------------------------------------------------- */

/* Value of query parameter `key` in q[0..n) into out (percent-decoded). */
static bool param(const char *q, size_t n, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if ((i == 0 || q[i - 1] == '?' || q[i - 1] == '&') && !memcmp(q + i, key, kl) && q[i + kl] == '=') {
            size_t j = i + kl + 1, o = 0;
            while (j < n && q[j] != '&' && q[j] != '"' && q[j] != ' ' && q[j] != '\'' && o + 1 < cap) {
                if (q[j] == '%' && j + 2 < n) {
                    char h[3] = {q[j + 1], q[j + 2], 0};
                    out[o++] = (char)strtol(h, NULL, 16);
                    j += 3;
                } else {
                    out[o++] = q[j++];
                }
            }
            out[o] = 0;
            return true;
        }
    }
    return false;
}

int ks__cloud_parse_sas(const char *s, size_t n, cloud_sas *out)
{
    memset(out, 0, sizeof *out);
    const char *sig = ks__memmem_ci(s, n, "sig=", 4);
    if (!sig)
        return KS_ENOTFOUND;
    /* the query starts at the last '?' before sig= */
    const char *q = sig;
    while (q > s && *q != '?')
        q--;
    size_t qn = (size_t)(s + n - q);
    if (!param(q, qn, "sp", out->perms, sizeof out->perms) && !param(q, qn, "sv", out->expiry, sizeof out->expiry))
        return KS_ENOTFOUND;
    param(q, qn, "se", out->expiry, sizeof out->expiry);
    param(q, qn, "srt", out->srt, sizeof out->srt);
    param(q, qn, "ss", out->ss, sizeof out->ss);
    out->expiry_ns = KS_TIME_NONE;
    if (out->expiry[0])
        ks_time_parse(out->expiry, strlen(out->expiry), &out->expiry_ns);
    /* host and path: back from '?' to "://" */
    const char *scheme = q;
    while (scheme > s && !(scheme[0] == ':' && scheme + 2 < q && scheme[1] == '/' && scheme[2] == '/'))
        scheme--;
    if (scheme > s) {
        const char *h = scheme + 3, *slash = memchr(h, '/', (size_t)(q - h));
        size_t hl = slash ? (size_t)(slash - h) : (size_t)(q - h);
        snprintf(out->host, sizeof out->host, "%.*s", (int)KS_MIN(hl, 127), h);
        if (slash)
            snprintf(out->resource, sizeof out->resource, "%.*s", (int)KS_MIN((size_t)(q - slash - 1), 255), slash + 1);
    }
    return KS_OK;
}

void ks__cloud_report_sas(ks_engine *e, const ks_event *ev, const ks_field *f, const cloud_sas *sas, int64_t max_days)
{
    bool list = strchr(sas->perms, 'l'), write = strchr(sas->perms, 'w') || strchr(sas->perms, 'c') ||
                                                 strchr(sas->perms, 'a'),
         del = strchr(sas->perms, 'd');
    int64_t base = ks_event_time(ev) != KS_TIME_NONE ? ks_event_time(ev) : ks__wall_ns();
    int64_t days = sas->expiry_ns != KS_TIME_NONE ? (sas->expiry_ns - base) / (86400ll * 1000000000ll) : -1;
    bool long_lived = sas->expiry_ns != KS_TIME_NONE && days > max_days;
    if (!list && !write && !del && !long_lived)
        return;
    char why[256], dd[32];
    snprintf(dd, sizeof dd, "%lld", (long long)days);
    snprintf(why, sizeof why, "sp=%s%s%s%s; expires %s%s", sas->perms, list ? " (list)" : "", write ? " (write)" : "",
             del ? " (delete)" : "", sas->expiry[0] ? sas->expiry : "never stated",
             long_lived ? " (far in the future)" : "");
    size_t kn;
    const char *key = ks_symtab_str(ks_event_symtab(ev), f->name, &kn);
    char fieldname[128];
    snprintf(fieldname, sizeof fieldname, "%.*s", (int)KS_MIN(kn, 127), key ? key : "");
    ks_kv matched[3] = {{"account_host", sas->host}, {"resource", sas->resource}, {"sas", why}};
    ks_kv det[3] = {{"field", fieldname}, {"days_valid", days >= 0 ? dd : "unknown"},
                    {"remediation", "rotate the account key that signed it (az storage account keys renew) or revoke "
                                    "the stored access policy; issue short-lived, read-only, user-delegation SAS"}};
    ks_evidence evd;
    ks__evidence_from_event(&evd, ev);
    ks_finding fi = {0};
    static const char *const tech[] = {"T1530", "T1552"};
    fi.rule_id = "kensa.cloud.azure.sas_broad";
    fi.title = "Shared access signature with broad rights or a distant expiry";
    fi.description = "A SAS URL in the evidence grants list/write/delete rights or stays valid for a long time: "
                     "whoever holds the URL has that access without any identity.";
    fi.detector = "cloud";
    fi.severity = (list || write || del) && long_lived ? KS_SEV_HIGH : KS_SEV_MEDIUM;
    fi.techniques = tech;
    fi.ntechniques = 2;
    fi.first = fi.last = ks_event_time(ev);
    fi.evidence = &evd;
    fi.nevidence = 1;
    fi.event_count = 1;
    fi.matched = matched;
    fi.nmatched = 3;
    fi.details = det;
    fi.ndetails = 3;
    ks__emit(e, &fi);
}
