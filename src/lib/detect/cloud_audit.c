/* SPDX-License-Identifier: Apache-2.0
 *
 * Storage exposure made through the audit log (issue 20): the record of a
 * change is turned into the facts of the resource it changed, and those
 * facts go through the same checks as the configuration exports
 * (cloud_checks.c), so an export and the audit log give one verdict:
 *   AWS CloudTrail   PutBucketPolicy (the policy decoded: Principal "*" or
 *                    another account without a restricting Condition;
 *                    service principals such as CloudTrail's own log
 *                    delivery are not exposure), PutBucketAcl / PutObjectAcl
 *                    granting AllUsers / AuthenticatedUsers (grant lists,
 *                    x-amz-grant-* headers, canned ACLs),
 *                    Delete/PutBucketPublicAccessBlock;
 *   Azure Activity   container writes setting publicAccess, storage account
 *                    writes setting allowBlobPublicAccess (the request body,
 *                    a JSON string, decoded);
 *   GCP audit logs   storage.setIamPermissions / SetIamPolicy adding
 *                    allUsers / allAuthenticatedUsers.
 * Failed calls (CloudTrail errorCode, Azure Failed, GCP status code) change
 * nothing and are skipped. Findings name who did it, from where, when.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cloud.h"
#include "input/json.h"

#define MAX_WHO 6

typedef struct audit {
    cloud_ws *ws;
    const ks_event *ev;
    ks_kv who[MAX_WHO];
    size_t nwho;
    char buf[MAX_WHO][256];    /* the values of who[] */
} audit;

static bool text(cloud_ws *ws, const ks_event *ev, const char *path, const char **s, size_t *n)
{
    return ks__cloud_vstr(ks__cloud_getp(ws, ev, path), s, n);
}

static bool is(cloud_ws *ws, const ks_event *ev, const char *path, const char *lit)
{
    const char *s;
    size_t n;
    return text(ws, ev, path, &s, &n) && ks__ieq(s, n, lit, strlen(lit));
}

/* Adds "key: first of paths present" to the actor details. */
static void who(audit *a, const char *key, const char *const *paths)
{
    const char *s;
    size_t n;
    for (size_t i = 0; paths[i] && a->nwho < MAX_WHO; i++)
        if (text(a->ws, a->ev, paths[i], &s, &n) && n) {
            snprintf(a->buf[a->nwho], sizeof a->buf[0], "%.*s", (int)KS_MIN(n, 255), s);
            a->who[a->nwho].key = key;
            a->who[a->nwho].value = a->buf[a->nwho];
            a->nwho++;
            return;
        }
}

/* Where each provider's record says what was done, by whom, from where,
 * when (first present wins). */
typedef struct actor_paths {
    const char *op[4], *actor[4], *ip[4], *when[4];
} actor_paths;

static const actor_paths aws_paths = {
    {"eventName", NULL}, {"userIdentity.arn", "userIdentity.principalId", NULL},
    {"sourceIPAddress", NULL}, {"eventTime", NULL}};
static const actor_paths azure_paths = {
    {"operationName.value", "operationName", "OperationNameValue", NULL},
    {"caller", "Caller", "identity.claims.name", NULL},
    {"callerIpAddress", "CallerIpAddress", "httpRequest.clientIpAddress", NULL},
    {"time", "eventTimestamp", "TimeGenerated", NULL}};
static const actor_paths gcp_paths = {
    {"protoPayload.methodName", NULL}, {"protoPayload.authenticationInfo.principalEmail", NULL},
    {"protoPayload.requestMetadata.callerIp", NULL}, {"timestamp", NULL}};

/* Judges the resource the record changed, naming who changed it. */
static bool report(audit *a, const res *r, const actor_paths *pp)
{
    who(a, "operation", pp->op);
    who(a, "actor", pp->actor);
    who(a, "source_ip", pp->ip);
    who(a, "time", pp->when);
    ks__cloud_judge_audit(a->ws->d->e, r, a->ev, a->who, a->nwho);
    return true;
}

static void init_res(res *r, const char *provider, const char *kind, const char *name, size_t n)
{
    memset(r, 0, sizeof *r);
    memset(&r->blob_public, U, offsetof(res, min_tls) - offsetof(res, blob_public));
    memset(&r->acl_read, U, offsetof(res, pap) - offsetof(res, acl_read));
    snprintf(r->provider, sizeof r->provider, "%s", provider);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->name, sizeof r->name, "%.*s", (int)KS_MIN(n, 199), name);
}

/* Calls fn for every string field whose path starts with prefix. */
static void each(const ks_event *ev, const char *prefix, void (*fn)(void *ud, const char *k, size_t kn,
                                                                     const char *v, size_t vn), void *ud)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < ks_event_nfields(ev); i++) {
        const ks_field *f = ks_event_field(ev, i);
        size_t n, vn;
        const char *k = ks_symtab_str(ks_event_symtab(ev), f->name, &n), *v;
        if (k && n >= pl && !memcmp(k, prefix, pl) && ks__cloud_vstr(&f->v, &v, &vn))
            fn(ud, k, n, v, vn);
    }
}

/* ---- AWS CloudTrail --------------------------------------------------------------- */

typedef struct acl_scan {
    cloud_ws *ws;
    const ks_event *ev;
    res *r;
} acl_scan;

static bool write_perm(const char *s, size_t n)
{
    return ks__ieq(s, n, "WRITE", 5) || ks__ieq(s, n, "WRITE_ACP", 9) || ks__ieq(s, n, "FULL_CONTROL", 12);
}

/* One requestParameters value of an ACL change: a grantee URI in a grant
 * list (its Permission beside it), an x-amz-grant-* header, a canned ACL. */
static void acl_value(void *ud, const char *k, size_t kn, const char *v, size_t vn)
{
    acl_scan *a = ud;
    bool all = ks__memmem_ci(v, vn, "/global/AllUsers", 16) != NULL;
    bool auth = ks__memmem_ci(v, vn, "/global/AuthenticatedUsers", 26) != NULL;
    bool write = false;
    if (ks__memmem_ci(k, kn, "x-amz-acl", 9)) {
        all = ks__ieq(v, vn, "public-read", 11) || ks__ieq(v, vn, "public-read-write", 17);
        auth = ks__ieq(v, vn, "authenticated-read", 18);
        write = ks__ieq(v, vn, "public-read-write", 17);
    } else if (all || auth) {
        const char *g = ks__memmem_ci(k, kn, "Grantee.", 8);
        if (g) { /* ...Grant.N.Grantee.URI -> ...Grant.N.Permission */
            char p[512], *perm_s = NULL;
            size_t pn = 0;
            snprintf(p, sizeof p, "%.*sPermission", (int)(g - k), k);
            const char *ps;
            if (ks__cloud_vstr(ks__cloud_getp(a->ws, a->ev, p), &ps, &pn))
                perm_s = (char *)ps;
            write = perm_s && write_perm(perm_s, pn);
        } else {
            write = ks__memmem_ci(k, kn, "grant-write", 11) || ks__memmem_ci(k, kn, "grant-full-control", 18);
        }
    }
    if (all)
        a->r->acl_read = 1;
    if (auth)
        a->r->acl_auth = 1;
    if ((all || auth) && write)
        a->r->acl_write = 1;
}

static bool cloudtrail(audit *a)
{
    cloud_ws *ws = a->ws;
    const ks_event *ev = a->ev;
    const char *name, *bucket, *s;
    size_t nn, bn, sn;
    if (!text(ws, ev, "eventName", &name, &nn) || !is(ws, ev, "eventSource", "s3.amazonaws.com"))
        return false;
    bool policy = ks__ieq(name, nn, "PutBucketPolicy", 15);
    bool acl = ks__ieq(name, nn, "PutBucketAcl", 12), oacl = ks__ieq(name, nn, "PutObjectAcl", 12);
    bool pab_del = ks__ieq(name, nn, "DeleteBucketPublicAccessBlock", 29);
    bool pab_put = ks__ieq(name, nn, "PutBucketPublicAccessBlock", 26);
    if (!policy && !acl && !oacl && !pab_del && !pab_put)
        return false;
    /* A refused call changed nothing. */
    if (text(ws, ev, "errorCode", &s, &sn) && sn)
        return true;
    if (!text(ws, ev, "requestParameters.bucketName", &bucket, &bn))
        return true;
    res r;
    char obj[200];
    if (oacl && text(ws, ev, "requestParameters.key", &s, &sn)) {
        snprintf(obj, sizeof obj, "%.*s/%.*s", (int)KS_MIN(bn, 99), bucket, (int)KS_MIN(sn, 99), s);
        init_res(&r, "aws", "bucket", obj, strlen(obj));
    } else {
        init_res(&r, "aws", "bucket", bucket, bn);
    }
    if ((text(ws, ev, "recipientAccountId", &s, &sn) || text(ws, ev, "userIdentity.accountId", &s, &sn)) &&
        sn < sizeof r.owner)
        snprintf(r.owner, sizeof r.owner, "%.*s", (int)sn, s);
    if (policy) {
        /* The policy as an object, or as the JSON string some pipelines make of it. */
        if (text(ws, ev, "requestParameters.bucketPolicy", &s, &sn)) {
            ks__event_reset(&ws->scratch);
            if (ks__json_flatten(&ws->scratch, "", 0, s, sn, NULL, NULL) != KS_OK)
                return true;
            ks__cloud_policy(ws, &ws->scratch, "", &r);
        } else {
            ks__cloud_policy(ws, ev, "requestParameters.bucketPolicy.", &r);
        }
    } else if (acl || oacl) {
        acl_scan sc = {ws, ev, &r};
        r.acl_read = r.acl_write = r.acl_auth = 0;
        each(ev, "requestParameters.", acl_value, &sc);
    } else {
        for (int i = 0; i < 4; i++) {
            char p[128];
            snprintf(p, sizeof p, "requestParameters.PublicAccessBlockConfiguration.%s", ks__cloud_pab_names[i]);
            r.pab[i] = pab_del ? 0 : ks__cloud_tri(ks__cloud_getp(ws, ev, p));
        }
    }
    return report(a, &r, &aws_paths);
}

/* ---- Azure Activity log ------------------------------------------------------------- */

/* The value after "/<kind>/" in an ARM resource id. */
static bool arm_part(const char *id, size_t n, const char *kind, const char **out, size_t *on)
{
    const char *p = ks__memmem_ci(id, n, kind, strlen(kind));
    if (!p)
        return false;
    p += strlen(kind);
    size_t rest = n - (size_t)(p - id);
    const char *slash = memchr(p, '/', rest);
    *out = p;
    *on = slash ? (size_t)(slash - p) : rest;
    return *on > 0;
}

static bool azure_activity(audit *a)
{
    cloud_ws *ws = a->ws;
    const ks_event *ev = a->ev;
    static const char *const ids[] = {"resourceId", "ResourceId", "_ResourceId", NULL};
    static const char *const bodies[] = {"properties.requestbody", "properties.requestBody",
                                         "Properties_d.requestbody", "Properties.requestbody", NULL};
    const char *op = NULL, *id = NULL, *body = NULL, *s;
    size_t on = 0, idn = 0, bodyn = 0, sn;
    for (size_t i = 0; azure_paths.op[i] && !op; i++)
        if (!text(ws, ev, azure_paths.op[i], &op, &on))
            op = NULL;
    if (!op || !ks__memmem_ci(op, on, "Microsoft.Storage/storageAccounts", 33) ||
        !ks__memmem_ci(op, on, "/write", 6))
        return false;
    for (size_t i = 0; ids[i] && !id; i++)
        if (!text(ws, ev, ids[i], &id, &idn))
            id = NULL;
    for (size_t i = 0; bodies[i] && !body; i++)
        if (!text(ws, ev, bodies[i], &body, &bodyn))
            body = NULL;
    /* Failed writes changed nothing; a body is needed to know what changed. */
    if (is(ws, ev, "resultType", "Failure") || is(ws, ev, "status.value", "Failed") ||
        is(ws, ev, "ActivityStatusValue", "Failure") || !id || !body || !bodyn)
        return true;
    ks__event_reset(&ws->scratch);
    if (ks__json_flatten(&ws->scratch, "", 0, body, bodyn, NULL, NULL) != KS_OK)
        return true;
    res r;
    const char *acct, *cont;
    size_t an, cn;
    if (!arm_part(id, idn, "/storageAccounts/", &acct, &an))
        return true;
    bool container = arm_part(id, idn, "/containers/", &cont, &cn);
    if (container) {
        if (!text(ws, &ws->scratch, "properties.publicAccess", &s, &sn))
            return true;
        init_res(&r, "azure", "container", cont, cn);
        snprintf(r.access, sizeof r.access, "%.*s", (int)KS_MIN(sn, 15), s);
        snprintf(r.parent, sizeof r.parent, "%.*s", (int)KS_MIN(an, 199), acct);
    } else {
        int8_t v = ks__cloud_tri(ks__cloud_getp(ws, &ws->scratch, "properties.allowBlobPublicAccess"));
        if (v == U)
            return true;
        init_res(&r, "azure", "account", acct, an);
        r.blob_public = v;
    }
    return report(a, &r, &azure_paths);
}

/* ---- GCP audit logs ------------------------------------------------------------------ */

typedef struct iam_scan {
    cloud_ws *ws;
    const ks_event *ev;
    res *r;
} iam_scan;

/* policyDelta.bindingDeltas.N.member with action ADD, or the members of
 * the new policy in the request. */
static void iam_value(void *ud, const char *k, size_t kn, const char *v, size_t vn)
{
    iam_scan *a = ud;
    bool all = ks__ieq(v, vn, "allUsers", 8), auth = ks__ieq(v, vn, "allAuthenticatedUsers", 21);
    if (!all && !auth)
        return;
    const char *m = ks__memmem_ci(k, kn, ".member", 7);
    if (m && ks__memmem_ci(k, kn, "bindingDeltas.", 14)) {
        char p[512];
        snprintf(p, sizeof p, "%.*s.action", (int)(m - k), k);
        if (!is(a->ws, a->ev, p, "ADD"))
            return;
    }
    if (all)
        a->r->iam_all = 1;
    if (auth)
        a->r->iam_auth = 1;
}

static bool gcp_audit(audit *a)
{
    cloud_ws *ws = a->ws;
    const ks_event *ev = a->ev;
    const char *m, *s;
    size_t mn, sn;
    if (!text(ws, ev, "protoPayload.methodName", &m, &mn) ||
        (!ks__memmem_ci(m, mn, "setIamPermissions", 17) && !ks__memmem_ci(m, mn, "SetIamPolicy", 12)))
        return false;
    const ks_value *code = ks__cloud_getp(ws, ev, "protoPayload.status.code");
    if (code && !(code->type == KS_VINT && code->u.i == 0) && !(code->type == KS_VUINT && code->u.u == 0))
        return true;
    char name[200] = "";
    if (text(ws, ev, "resource.labels.bucket_name", &s, &sn))
        snprintf(name, sizeof name, "%.*s", (int)KS_MIN(sn, 199), s);
    else if (text(ws, ev, "protoPayload.resourceName", &s, &sn) && ks__memmem_ci(s, sn, "/buckets/", 9)) {
        const char *b = ks__memmem_ci(s, sn, "/buckets/", 9) + 9;
        snprintf(name, sizeof name, "%.*s", (int)KS_MIN(sn - (size_t)(b - s), 199), b);
    }
    if (!name[0])
        return false; /* not a bucket: project IAM is not this detector's */
    res r;
    init_res(&r, "gcp", "bucket", name, strlen(name));
    r.iam_all = r.iam_auth = 0;
    iam_scan sc = {ws, ev, &r};
    each(ev, "protoPayload.serviceData.policyDelta.bindingDeltas.", iam_value, &sc);
    each(ev, "protoPayload.request.policy.bindings.", iam_value, &sc);
    return report(a, &r, &gcp_paths);
}

bool ks__cloud_audit(cloud_ws *ws, const ks_event *ev)
{
    audit a = {ws, ev, {{0}}, 0, {{0}}};
    return cloudtrail(&a) || azure_activity(&a) || gcp_audit(&a);
}
