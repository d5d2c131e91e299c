/* SPDX-License-Identifier: Apache-2.0
 *
 * Cloud storage exposure from exported configuration (issue: BlueBleed).
 * The JSON reader turns what the providers' own CLIs print into events;
 * this detector recognises them by shape:
 *   Azure  az storage account list / show, az storage container list,
 *          ARM templates (storageAccounts, blobServices/containers);
 *   AWS    s3api get-bucket-acl, get-bucket-policy (the policy is a JSON
 *          string, decoded here), get-public-access-block (bucket or
 *          s3control account level), get-bucket-policy-status;
 *   GCP    bucket IAM policies, bucket descriptions (gcloud / JSON API);
 * and, in any string of any event, SAS URLs with list/write rights or far
 * expiry. Audit records of changes (CloudTrail, Azure Activity, GCP audit
 * logs) are judged by the same checks in cloud_audit.c. Facts about one resource come from several files, so they are
 * collected per resource and judged in finish(): Block Public Access
 * overrides a public policy, `enforced` public access prevention overrides
 * allUsers, an account that forbids public blobs neutralises a "public"
 * container, a Condition restricting the principal makes a policy private.
 * Checks, ids and their Prowler/ScoutSuite/Checkov counterparts:
 * docs/CLOUD.md.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "cloud.h"
#include "input/json.h"

/* ---- resources ---------------------------------------------------------------- */

typedef cloud_table table;

static res *get_res(table *t, const char *provider, const char *kind, const char *name, size_t n)
{
    char key[256];
    int k = snprintf(key, sizeof key, "%s|%s|%.*s", provider, kind, (int)KS_MIN(n, 199), name);
    if (k <= 0)
        return NULL;
    uint64_t *slot = ks__map_slot(t->map, key, (size_t)k, true);
    if (!slot)
        return NULL;
    if (!*slot) {
        res *r = calloc(1, sizeof *r);
        if (!r)
            return NULL;
        memset(&r->blob_public, U, offsetof(res, min_tls) - offsetof(res, blob_public));
        memset(&r->acl_read, U, offsetof(res, pap) - offsetof(res, acl_read));
        snprintf(r->key, sizeof r->key, "%s", key);
        snprintf(r->provider, sizeof r->provider, "%s", provider);
        snprintf(r->kind, sizeof r->kind, "%s", kind);
        snprintf(r->name, sizeof r->name, "%.*s", (int)KS_MIN(n, 199), name);
        *slot = (uint64_t)(uintptr_t)r;
    }
    return (res *)(uintptr_t)*slot;
}

static void add_evidence(res *r, const ks_event *ev)
{
    if (r->nev >= 4)
        return;
    ks_evidence *e = &r->ev[r->nev];
    ks__evidence_from_event(e, ev);
    snprintf(r->ev_path[r->nev], sizeof r->ev_path[0], "%s", e->path ? e->path : "");
    e->path = r->ev_path[r->nev];
    e->format = "json";
    r->nev++;
}

/* ---- field access ---------------------------------------------------------------- */

/* Paths every event is tested for: interned once, compared as ids. */
static const char *const shape_paths[] = {
    "resources.0.type",
    "name",
    "properties.publicAccess",
    "properties.leaseState",
    "primaryEndpoints.blob",
    "allowBlobPublicAccess",
    "kind",
    "sku.name",
    "encryption.services.blob.enabled",
    "Policy",
    "Grants.0.Permission",
    "PublicAccessBlockConfiguration.BlockPublicAcls",
    "PolicyStatus.IsPublic",
    "bindings.0.role",
    "iamConfiguration.publicAccessPrevention",
    "public_access_prevention",
    "iamConfiguration.uniformBucketLevelAccess.enabled",
    "uniform_bucket_level_access",
    /* audit records (cloud_audit.c) */
    "eventName",
    "operationName.value",
    "operationName",
    "OperationNameValue",
    "protoPayload.methodName"};
#define NSHAPE KS_ARRAY_LEN(shape_paths)

/* Field by path through the worker's cache: no lock per lookup (every
 * event of every evidence file passes through the shape tests). */
/* One of shape_paths by index: an id compare per field, no hashing. */
static const ks_value *getf(const cloud_ws *ws, const ks_event *ev, size_t i)
{
    return ws->d->shape[i] ? ks_event_get(ev, ws->d->shape[i]) : NULL;
}

const ks_value *ks__cloud_getp(cloud_ws *ws, const ks_event *ev, const char *path)
{
    ks_sym s = ks__symcache_intern(ws->cache, path, strlen(path));
    return s ? ks_event_get(ev, s) : NULL;
}



bool ks__cloud_vstr(const ks_value *v, const char **s, size_t *n)
{
    if (!v || v->type != KS_VSTR)
        return false;
    *s = v->u.s.p;
    *n = v->u.s.n;
    return true;
}

static bool str_is(const ks_value *v, const char *lit)
{
    const char *s;
    size_t n;
    return ks__cloud_vstr(v, &s, &n) && ks__ieq(s, n, lit, strlen(lit));
}

/* Tri-state from a JSON boolean (or "true"/"false" text). */
int8_t ks__cloud_tri(const ks_value *v)
{
    if (!v)
        return U;
    if (v->type == KS_VBOOL)
        return v->u.b;
    if (str_is(v, "true"))
        return 1;
    if (str_is(v, "false"))
        return 0;
    return U;
}

/* The resource name a CLI output lacks (get-bucket-policy prints no bucket
 * name): the file's name without the command words, else its directory. */
static void name_from_path(const char *path, char *out, size_t cap)
{
    static const char *const words[] = {"get-bucket-policy-status", "get-bucket-policy", "get-bucket-acl",
                                        "get-public-access-block", "public-access-block", "policy-status",
                                        "get-iam-policy", "iam-policy", "bucket-policy", "bucket-acl",
                                        "containers", "container-list", "policy", "acl", "iam", "pab",
                                        "status", "describe", "s3api", "s3", "gcs", "bucket"};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot)
        *dot = 0;
    for (size_t i = 0; i < KS_ARRAY_LEN(words); i++) {
        char *hit;
        while ((hit = strstr(stem, words[i])) != NULL)
            memmove(hit, hit + strlen(words[i]), strlen(hit + strlen(words[i])) + 1);
    }
    /* trim separators */
    char *s = stem;
    while (*s == '-' || *s == '_' || *s == '.')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '-' || s[n - 1] == '_' || s[n - 1] == '.'))
        s[--n] = 0;
    if (n) {
        snprintf(out, cap, "%s", s);
        return;
    }
    /* the directory name */
    size_t dl = base > path ? (size_t)(base - path - 1) : 0;
    const char *d = path;
    for (size_t i = 0; i < dl; i++)
        if (path[i] == '/')
            d = path + i + 1;
    snprintf(out, cap, "%.*s", (int)(path + dl - d), d);
}

/* ---- recognisers ------------------------------------------------------------------- */

static void azure_account(cloud_ws *ws, const ks_event *ev, const char *prefix)
{
    char p[256];
    const char *name;
    size_t n;
#define F(x) (snprintf(p, sizeof p, "%s%s", prefix, x), ks__cloud_getp(ws, ev, p))
    if (!ks__cloud_vstr(F("name"), &name, &n))
        return;
    res *r = get_res(&ws->t, "azure", "account", name, n);
    if (!r)
        return;
    int8_t v;
    if ((v = ks__cloud_tri(F("allowBlobPublicAccess"))) != U || (v = ks__cloud_tri(F("properties.allowBlobPublicAccess"))) != U)
        r->blob_public = v;
    else if (r->blob_public == U && (F("primaryEndpoints.blob") || F("properties.primaryEndpoints.blob")))
        r->blob_public = 2; /* not set: public access allowed on accounts older than 2023 */
    if ((v = ks__cloud_tri(F("allowSharedKeyAccess"))) != U || (v = ks__cloud_tri(F("properties.allowSharedKeyAccess"))) != U)
        r->shared_key = v;
    else if (r->shared_key == U)
        r->shared_key = 2; /* not set means allowed */
    if ((v = ks__cloud_tri(F("enableHttpsTrafficOnly"))) != U || (v = ks__cloud_tri(F("supportsHttpsTrafficOnly"))) != U ||
        (v = ks__cloud_tri(F("properties.supportsHttpsTrafficOnly"))) != U)
        r->https_only = v;
    const char *s;
    size_t sn;
    if (ks__cloud_vstr(F("networkRuleSet.defaultAction"), &s, &sn) || ks__cloud_vstr(F("properties.networkAcls.defaultAction"), &s, &sn))
        r->net_allow = ks__ieq(s, sn, "Allow", 5);
    if (ks__cloud_vstr(F("publicNetworkAccess"), &s, &sn) || ks__cloud_vstr(F("properties.publicNetworkAccess"), &s, &sn))
        r->pna_enabled = !ks__ieq(s, sn, "Disabled", 8);
    if (ks__cloud_vstr(F("minimumTlsVersion"), &s, &sn) || ks__cloud_vstr(F("properties.minimumTlsVersion"), &s, &sn))
        snprintf(r->min_tls, sizeof r->min_tls, "%.*s", (int)KS_MIN(sn, 15), s);
#undef F
    add_evidence(r, ev);
}

static void azure_container(cloud_ws *ws, const ks_event *ev, const char *name, size_t n, const char *access,
                            size_t an, const char *parent)
{
    res *r = get_res(&ws->t, "azure", "container", name, n);
    if (!r)
        return;
    snprintf(r->access, sizeof r->access, "%.*s", (int)KS_MIN(an, 15), access ? access : "off");
    if (parent && parent[0])
        snprintf(r->parent, sizeof r->parent, "%s", parent);
    add_evidence(r, ev);
}

/* ARM: resources.N.{type,name,properties.*} */
static void arm(cloud_ws *ws, const ks_event *ev)
{
    char p[128];
    for (int i = 0; i < 256; i++) {
        const char *type, *name;
        size_t tn, nn;
        snprintf(p, sizeof p, "resources.%d.type", i);
        if (!ks__cloud_vstr(ks__cloud_getp(ws, ev, p), &type, &tn))
            break;
        snprintf(p, sizeof p, "resources.%d.name", i);
        if (!ks__cloud_vstr(ks__cloud_getp(ws, ev, p), &name, &nn))
            continue;
        snprintf(p, sizeof p, "resources.%d.", i);
        if (ks__ieq(type, tn, "Microsoft.Storage/storageAccounts", 33)) {
            azure_account(ws, ev, p);
        } else if (tn > 11 && ks__ieq(type + tn - 11, 11, "/containers", 11)) {
            /* name "account/default/container" */
            char q[128];
            snprintf(q, sizeof q, "resources.%d.properties.publicAccess", i);
            const char *acc = "None", *last = memrchr(name, '/', nn);
            size_t an = 4;
            ks__cloud_vstr(ks__cloud_getp(ws, ev, q), &acc, &an);
            char parent[200] = "";
            const char *slash = memchr(name, '/', nn);
            if (slash)
                snprintf(parent, sizeof parent, "%.*s", (int)(slash - name), name);
            const char *cn = last ? last + 1 : name;
            azure_container(ws, ev, cn, (size_t)(name + nn - cn), acc, an, parent);
        }
    }
}

/* Conditions that pin a principal down (not public): source network,
 * organisation, account or ARN, VPC. */
static bool restricting_condition(const ks_event *pol, const char *stmt)
{
    static const char *const keys[] = {"aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce", "aws:PrincipalOrgID",
                                       "aws:PrincipalAccount", "aws:SourceAccount", "aws:SourceArn",
                                       "aws:PrincipalArn", "aws:userid", "aws:username", "aws:SourceOwner"};
    size_t sl = strlen(stmt);
    for (size_t i = 0; i < ks_event_nfields(pol); i++) {
        size_t n;
        const char *k = ks_symtab_str(ks_event_symtab(pol), ks_event_field(pol, i)->name, &n);
        if (!k || n <= sl + 10 || memcmp(k, stmt, sl) != 0 || memcmp(k + sl, ".Condition.", 11) != 0)
            continue;
        for (size_t j = 0; j < KS_ARRAY_LEN(keys); j++)
            if (ks__memmem_ci(k + sl, n - sl, keys[j], strlen(keys[j])))
                return true;
    }
    return false;
}

static bool any_prefix_value(const ks_event *ev, const char *prefix, const char *needle, bool exact)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < ks_event_nfields(ev); i++) {
        const ks_field *f = ks_event_field(ev, i);
        size_t n;
        const char *k = ks_symtab_str(ks_event_symtab(ev), f->name, &n);
        const char *s;
        size_t sn;
        if (!k || n < pl || memcmp(k, prefix, pl) != 0 || !ks__cloud_vstr(&f->v, &s, &sn))
            continue;
        if (exact ? ks__ieq(s, sn, needle, strlen(needle)) : ks__memmem_ci(s, sn, needle, strlen(needle)) != NULL)
            return true;
    }
    return false;
}

/* The 12-digit account id in a principal ("123456789012",
 * "arn:aws:iam::123456789012:root"), or false. */
static bool account_of(const char *s, size_t n, char out[16])
{
    const char *p = s;
    size_t k = n;
    const char *arn = ks__memmem_ci(s, n, "arn:aws:iam::", 13);
    if (arn) {
        p = arn + 13;
        k = n - (size_t)(p - s);
        const char *colon = memchr(p, ':', k);
        k = colon ? (size_t)(colon - p) : k;
    }
    if (k != 12)
        return false;
    for (size_t i = 0; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    memcpy(out, p, 12);
    out[12] = 0;
    return true;
}

/* The first AWS account under `path` (Principal.AWS, a string or a list)
 * that is neither the owner nor one of cloud.aws_accounts. */
static bool foreign_account(cloud_ws *ws, const ks_event *pol, const char *path, const char *owner, char out[16])
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < ks_event_nfields(pol); i++) {
        const ks_field *f = ks_event_field(pol, i);
        size_t n, sn;
        const char *k = ks_symtab_str(ks_event_symtab(pol), f->name, &n), *sv;
        char acct[16];
        if (!k || n < pl || memcmp(k, path, pl) != 0 || !ks__cloud_vstr(&f->v, &sv, &sn) ||
            !account_of(sv, sn, acct) || (owner && !strcmp(acct, owner)))
            continue;
        bool own = false;
        for (size_t j = 0; j < ws->d->nown && !own; j++)
            own = !strcmp(acct, ws->d->own_accounts[j]);
        if (!own) {
            memcpy(out, acct, 16);
            return true;
        }
    }
    return false;
}

void ks__cloud_policy(cloud_ws *ws, const ks_event *pol, const char *prefix, res *r)
{
    r->policy_public = 0;
    r->policy_conditioned = 0;
    r->policy_write = 0;
    /* Cross-account grants can be told only when the owner is known: the
     * audit record says, or the user listed the organisation's accounts. */
    r->policy_xacct = r->owner[0] || ws->d->nown ? 0 : U;
    for (int i = 0; i < 64; i++) {
        char st[128], p[192];
        snprintf(st, sizeof st, "%sStatement.%d", prefix, i);
        snprintf(p, sizeof p, "%s.Effect", st);
        const ks_value *eff = ks__cloud_getp(ws, pol, p);
        if (!eff) {
            if (i == 0) /* a single statement object, not an array */
                snprintf(st, sizeof st, "%sStatement", prefix);
            else
                break;
            snprintf(p, sizeof p, "%s.Effect", st);
            eff = ks__cloud_getp(ws, pol, p);
            if (!eff)
                break;
        }
        if (!str_is(eff, "Allow"))
            goto next;
        char pp[192], acct[16];
        snprintf(pp, sizeof pp, "%s.Principal", st);
        /* "*" or {"AWS": "*"}; {"Service": "cloudtrail.amazonaws.com"}
         * (CloudTrail writing its logs) is neither public nor an account */
        bool star = any_prefix_value(pol, pp, "*", true);
        snprintf(pp, sizeof pp, "%s.Principal.AWS", st);
        bool foreign = r->policy_xacct == 0 && foreign_account(ws, pol, pp, r->owner[0] ? r->owner : NULL, acct);
        if (!star && !foreign)
            goto next;
        if (restricting_condition(pol, st)) {
            r->policy_conditioned = 1;
            goto next;
        }
        if (star)
            r->policy_public = 1;
        if (foreign && !r->xacct[0]) {
            r->policy_xacct = 1;
            memcpy(r->xacct, acct, sizeof r->xacct);
        }
        snprintf(pp, sizeof pp, "%s.Action", st);
        if (any_prefix_value(pol, pp, "s3:Put", false) || any_prefix_value(pol, pp, "s3:Delete", false) ||
            any_prefix_value(pol, pp, "s3:*", true) || any_prefix_value(pol, pp, "*", true))
            r->policy_write = 1;
    next:
        if (!strcmp(st + strlen(prefix), "Statement"))
            break;
    }
}

static void aws_policy(cloud_ws *ws, const ks_event *ev, res *r, const char *pol, size_t n)
{
    uint64_t off;
    const char *why;
    ks__event_reset(&ws->scratch);
    if (ks__json_flatten(&ws->scratch, "", 0, pol, n, &off, &why) != KS_OK) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = ks_event_prov(ev)->path;
        loc.line = ks_event_prov(ev)->line;
        ks__diag(ws->d->e, KS_DIAG_WARN, KS_EFORMAT, "cloud", &loc,
                 "S3 bucket policy string is not JSON (%s at byte %llu); not judged", why, (unsigned long long)off);
        return;
    }
    ks__cloud_policy(ws, &ws->scratch, "", r);
}

static res *aws_bucket(cloud_ws *ws, const ks_event *ev)
{
    char name[200];
    const char *s;
    size_t n;
    if (ks__cloud_vstr(ks__cloud_getp(ws, ev, "Bucket"), &s, &n) || ks__cloud_vstr(ks__cloud_getp(ws, ev, "Name"), &s, &n))
        snprintf(name, sizeof name, "%.*s", (int)KS_MIN(n, 199), s);
    else
        name_from_path(ks_event_prov(ev)->path ? ks_event_prov(ev)->path : "", name, sizeof name);
    return get_res(&ws->t, "aws", "bucket", name, strlen(name));
}

static void aws(cloud_ws *ws, const ks_event *ev)
{
    const char *s;
    size_t n;
    if (ks__cloud_vstr(getf(ws, ev, 9 /* Policy */), &s, &n)) {
        res *r = aws_bucket(ws, ev);
        if (r) {
            aws_policy(ws, ev, r, s, n);
            add_evidence(r, ev);
        }
    }
    if (getf(ws, ev, 10 /* Grants.0.Permission */)) {
        res *r = aws_bucket(ws, ev);
        if (!r)
            return;
        r->acl_read = r->acl_write = r->acl_auth = 0;
        for (int i = 0; i < 100; i++) {
            char p[64], q[64];
            snprintf(p, sizeof p, "Grants.%d.Grantee.URI", i);
            snprintf(q, sizeof q, "Grants.%d.Permission", i);
            const ks_value *perm = ks__cloud_getp(ws, ev, q);
            if (!perm)
                break;
            const char *uri;
            size_t un;
            if (!ks__cloud_vstr(ks__cloud_getp(ws, ev, p), &uri, &un))
                continue;
            bool all = ks__memmem_ci(uri, un, "/global/AllUsers", 16) != NULL;
            bool auth = ks__memmem_ci(uri, un, "/global/AuthenticatedUsers", 26) != NULL;
            if (!all && !auth)
                continue;
            bool w = str_is(perm, "WRITE") || str_is(perm, "WRITE_ACP") || str_is(perm, "FULL_CONTROL");
            if (all)
                r->acl_read = 1;
            if (auth)
                r->acl_auth = 1;
            if (w)
                r->acl_write = 1;
        }
        add_evidence(r, ev);
    }
    if (getf(ws, ev, 11 /* PublicAccessBlockConfiguration.BlockPublicAcls */)) {
        const char *path = ks_event_prov(ev)->path ? ks_event_prov(ev)->path : "";
        /* s3control get-public-access-block: the account level */
        bool account = strstr(path, "account") || strstr(path, "s3control") || ks__cloud_getp(ws, ev, "AccountId");
        res *r = account ? get_res(&ws->t, "aws", "account", "*", 1) : aws_bucket(ws, ev);
        if (!r)
            return;
        for (int i = 0; i < 4; i++) {
            char p[96];
            snprintf(p, sizeof p, "PublicAccessBlockConfiguration.%s", ks__cloud_pab_names[i]);
            r->pab[i] = ks__cloud_tri(ks__cloud_getp(ws, ev, p));
        }
        add_evidence(r, ev);
    }
    if (getf(ws, ev, 12 /* PolicyStatus.IsPublic */)) {
        res *r = aws_bucket(ws, ev);
        if (r) {
            r->status_public = ks__cloud_tri(getf(ws, ev, 12 /* PolicyStatus.IsPublic */));
            add_evidence(r, ev);
        }
    }
}

static void gcp(cloud_ws *ws, const ks_event *ev)
{
    const char *s;
    size_t n;
    char name[200];
    bool iam = getf(ws, ev, 13 /* bindings.0.role */) != NULL;
    bool describe = getf(ws, ev, 14 /* iamConfiguration.publicAccessPrevention */) || getf(ws, ev, 15 /* public_access_prevention */) ||
                    getf(ws, ev, 16 /* iamConfiguration.uniformBucketLevelAccess.enabled */) ||
                    getf(ws, ev, 17 /* uniform_bucket_level_access */);
    if (!iam && !describe)
        return;
    if (describe && (ks__cloud_vstr(getf(ws, ev, 1 /* name */), &s, &n) || ks__cloud_vstr(ks__cloud_getp(ws, ev, "id"), &s, &n)))
        snprintf(name, sizeof name, "%.*s", (int)KS_MIN(n, 199), s);
    else
        name_from_path(ks_event_prov(ev)->path ? ks_event_prov(ev)->path : "", name, sizeof name);
    if (!strncmp(name, "gs://", 5))
        memmove(name, name + 5, strlen(name + 5) + 1);
    res *r = get_res(&ws->t, "gcp", "bucket", name, strlen(name));
    if (!r)
        return;
    if (iam) {
        r->iam_all = any_prefix_value(ev, "bindings.", "allUsers", true);
        r->iam_auth = any_prefix_value(ev, "bindings.", "allAuthenticatedUsers", true);
    }
    int8_t v;
    if ((v = ks__cloud_tri(getf(ws, ev, 16 /* iamConfiguration.uniformBucketLevelAccess.enabled */))) != U ||
        (v = ks__cloud_tri(getf(ws, ev, 17 /* uniform_bucket_level_access */))) != U)
        r->ubla = v;
    if (ks__cloud_vstr(getf(ws, ev, 14 /* iamConfiguration.publicAccessPrevention */), &s, &n) ||
        ks__cloud_vstr(getf(ws, ev, 15 /* public_access_prevention */), &s, &n))
        snprintf(r->pap, sizeof r->pap, "%.*s", (int)KS_MIN(n, 23), s);
    add_evidence(r, ev);
}

/* ---- SAS URLs anywhere -------------------------------------------------------------- */

/* Whether s holds "sig=" in any case: found by its '=', which few values
 * have, where a search for the 's' stopped at every s of every value of
 * every event (sas_scan was 3% of an IIS hunt, 1% of an EVTX one). */
static bool has_sig(const char *s, size_t n)
{
    for (const char *e = s + n, *q = s + 3; q < e && (q = memchr(q, '=', (size_t)(e - q))); q++)
        if ((q[-3] | 0x20) == 's' && (q[-2] | 0x20) == 'i' && (q[-1] | 0x20) == 'g')
            return true;
    return false;
}

static void sas_scan(cloud_ws *ws, const ks_event *ev)
{
    /* A record read as one line (W3C) vouches that its values are pieces of
     * that line, '+' read as a space at most (kensa_int.h): "sig=" has
     * neither, so one search of the line stands for one per value, every
     * value of nearly every line being no SAS URL. */
    if (ev->raw.p && !has_sig(ev->raw.p, ev->raw.n))
        return;
    for (size_t i = 0; i < ks_event_nfields(ev); i++) {
        const ks_field *f = ks_event_field(ev, i);
        const char *s;
        size_t n;
        if (!ks__cloud_vstr(&f->v, &s, &n) || n < 20 || !has_sig(s, n))
            continue;
        if (!ks__memmem_ci(s, n, "sp=", 3) || !ks__memmem_ci(s, n, "sv=", 3))
            continue;
        cloud_sas sas;
        if (ks__cloud_parse_sas(s, n, &sas) == KS_OK)
            ks__cloud_report_sas(ws->d->e, ev, f, &sas, ws->d->sas_max_days);
    }
}

/* ---- detector ------------------------------------------------------------------------ */

static int cloud_create(ks_engine *e, void **out)
{
    cloud_det *d = calloc(1, sizeof *d);
    if (!d)
        return KS_ENOMEM;
    d->e = e;
    d->all.map = ks__map_new(64);
    d->sas_max_days = ks__opt_int(e, "cloud.sas_max_days");
    d->nown = ks__opt_list(e, "cloud.aws_accounts", &d->own_accounts);
    d->shape = calloc(NSHAPE, sizeof *d->shape);
    for (size_t i = 0; i < NSHAPE; i++)
        d->shape[i] = ks_symtab_intern(ks__engine_symtab(e), shape_paths[i], strlen(shape_paths[i]));
    pthread_mutex_init(&d->lock, NULL);
    if (!d->all.map || !d->shape) {
        ks__map_free(d->all.map);
        free(d->shape);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return KS_ENOMEM;
    }
    *out = d;
    return KS_OK;
}

static int cloud_worker_new(void *detp, ks_worker *w, void **out)
{
    cloud_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return KS_ENOMEM;
    ws->d = detp;
    ws->t.map = ks__map_new(64);
    ws->arena = ks__arena_new(65536, (size_t)64 << 20);
    ws->scratch.syms = ks__engine_symtab(ws->d->e);
    ws->scratch.cache = w->cache;
    ws->cache = w->cache;
    ws->scratch.arena = ws->arena;
    ws->shapes.names = ws->d->shape;
    ws->shapes.n = NSHAPE;
    if (!ws->t.map || !ws->arena) {
        ks__map_free(ws->t.map);
        ks__arena_free(ws->arena);
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static int cloud_event(void *wsp, const ks_event *ev)
{
    cloud_ws *ws = wsp;
    const char *s, *acc;
    size_t n, an;
    sas_scan(ws, ev);
    /* Every test below needs one of the shape paths: most events (an EVTX
     * log, IIS lines) have none, known once per field layout instead of 23
     * lookups per event (3% of an EVTX hunt). */
    if (!ks__event_have(ev, &ws->shapes))
        return KS_OK;
    /* Audit records first: the cheap id test keeps other evidence fast. */
    if ((getf(ws, ev, 18 /* eventName */) || getf(ws, ev, 19 /* operationName.value */) ||
         getf(ws, ev, 20 /* operationName */) || getf(ws, ev, 21 /* OperationNameValue */) ||
         getf(ws, ev, 22 /* protoPayload.methodName */)) &&
        ks__cloud_audit(ws, ev))
        return KS_OK;
    if (getf(ws, ev, 0 /* resources.0.type */)) {
        arm(ws, ev);
        return KS_OK;
    }
    /* az storage container list: name + properties.publicAccess (null = off) */
    if (ks__cloud_vstr(getf(ws, ev, 1 /* name */), &s, &n) && (getf(ws, ev, 2 /* properties.publicAccess */) || getf(ws, ev, 3 /* properties.leaseState */))) {
        const ks_value *pa = getf(ws, ev, 2 /* properties.publicAccess */);
        if (!ks__cloud_vstr(pa, &acc, &an)) {
            acc = "off";
            an = 3;
        }
        azure_container(ws, ev, s, n, acc, an, NULL);
        return KS_OK;
    }
    if (getf(ws, ev, 4 /* primaryEndpoints.blob */) || getf(ws, ev, 5 /* allowBlobPublicAccess */) ||
        (getf(ws, ev, 6 /* kind */) && getf(ws, ev, 7 /* sku.name */) && getf(ws, ev, 1 /* name */) && getf(ws, ev, 8 /* encryption.services.blob.enabled */))) {
        azure_account(ws, ev, "");
        return KS_OK;
    }
    aws(ws, ev);
    gcp(ws, ev);
    return KS_OK;
}

/* Folds src facts into dst (known values win over unknown). */
static void merge_res(res *dst, const res *src)
{
    int8_t *d8 = &dst->blob_public;
    const int8_t *s8 = &src->blob_public;
    for (size_t i = 0; i < (size_t)(offsetof(res, min_tls) - offsetof(res, blob_public)); i++)
        if (s8[i] != U)
            d8[i] = s8[i];
    d8 = &dst->acl_read;
    s8 = &src->acl_read;
    for (size_t i = 0; i < (size_t)(offsetof(res, pap) - offsetof(res, acl_read)); i++)
        if (s8[i] != U)
            d8[i] = s8[i];
    if (src->min_tls[0])
        memcpy(dst->min_tls, src->min_tls, sizeof dst->min_tls);
    if (src->access[0])
        memcpy(dst->access, src->access, sizeof dst->access);
    if (src->pap[0])
        memcpy(dst->pap, src->pap, sizeof dst->pap);
    if (src->xacct[0])
        memcpy(dst->xacct, src->xacct, sizeof dst->xacct);
    if (src->owner[0])
        memcpy(dst->owner, src->owner, sizeof dst->owner);
    if (src->parent[0])
        memcpy(dst->parent, src->parent, sizeof dst->parent);
    for (size_t i = 0; i < src->nev && dst->nev < 4; i++) {
        dst->ev[dst->nev] = src->ev[i];
        memcpy(dst->ev_path[dst->nev], src->ev_path[i], sizeof dst->ev_path[0]);
        dst->ev[dst->nev].path = dst->ev_path[dst->nev];
        dst->nev++;
    }
}

static void free_table(table *t)
{
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    if (!t->map)
        return;
    while (ks__map_iter(t->map, &i, &k, &n, &v))
        free((res *)(uintptr_t)*v);
    ks__map_free(t->map);
    t->map = NULL;
}

static void cloud_worker_done(void *detp, void *wsp)
{
    cloud_det *d = detp;
    cloud_ws *ws = wsp;
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    if (!ws)
        return;
    pthread_mutex_lock(&d->lock);
    while (ks__map_iter(ws->t.map, &i, &k, &n, &v)) {
        res *src = (res *)(uintptr_t)*v;
        res *dst = get_res(&d->all, src->provider, src->kind, src->name, strlen(src->name));
        if (dst)
            merge_res(dst, src);
    }
    pthread_mutex_unlock(&d->lock);
    free_table(&ws->t);
    free(ws->scratch.fields);
    ks__arena_free(ws->arena);
    free(ws);
}

static int cloud_finish(void *detp)
{
    cloud_det *d = detp;
    return ks__cloud_judge(d->e, d->all.map);
}

static void cloud_destroy(void *detp)
{
    cloud_det *d = detp;
    if (!d)
        return;
    free_table(&d->all);
    free(d->shape);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const struct ks_detector ks_detector_cloud = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "cloud",
    .description = "cloud storage exposure in Azure/AWS/GCP CLI exports and SAS URLs",
    .flags = KS_DET_EVENTS,
    .create = cloud_create,
    .worker_new = cloud_worker_new,
    .on_event = cloud_event,
    .worker_done = cloud_worker_done,
    .finish = cloud_finish,
    .destroy = cloud_destroy,
};
