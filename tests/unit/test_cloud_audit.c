/* SPDX-License-Identifier: Apache-2.0
 *
 * Storage exposure made through the audit log (issue 20), generated here in
 * the shapes the providers write: a CloudTrail file ({"Records": [...]},
 * the bucket policy as an object), a CloudTrail SIEM export (JSON lines,
 * the policy as a string), an Azure Activity log export ({"records":
 * [...]}, the request body a JSON string) and GCP audit log entries. Each
 * exposing change has benign twins: CloudTrail's own log bucket policy,
 * grants to the owner's account or the organisation, refused calls,
 * private settings, removals. Prints and asserts recall and false
 * positives, and that an export and an audit record of the same policy get
 * the same verdict.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa/kensa.h"

#define CT_HEAD                                                                                    \
    "{\"eventVersion\":\"1.08\",\"eventSource\":\"s3.amazonaws.com\",\"awsRegion\":\"eu-west-1\","  \
    "\"userIdentity\":{\"type\":\"IAMUser\",\"accountId\":\"111122223333\","                      \
    "\"arn\":\"arn:aws:iam::111122223333:user/deploy\"},\"sourceIPAddress\":\"198.51.100.4\","     \
    "\"recipientAccountId\":\"111122223333\","

/* Exposing changes, one per line, the bucket named after the case. */
static const char *const ct_attacks[] = {
    /* 1: everyone may read */
    CT_HEAD "\"eventTime\":\"2024-03-04T10:00:01Z\",\"eventName\":\"PutBucketPolicy\",\"requestParameters\":"
    "{\"bucketName\":\"x1-public-policy\",\"bucketPolicy\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":"
    "\"PublicRead\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":"
    "\"arn:aws:s3:::x1-public-policy/*\"}]},\"policy\":[\"\"],\"host\":[\"x1-public-policy.s3.amazonaws.com\"]}}",
    /* 2: another account may read */
    CT_HEAD "\"eventTime\":\"2024-03-04T10:00:02Z\",\"eventName\":\"PutBucketPolicy\",\"requestParameters\":"
    "{\"bucketName\":\"x2-cross-account\",\"bucketPolicy\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
    "\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::111122223333:role/app\",\"arn:aws:iam::444455556666:root\"]},"
    "\"Action\":[\"s3:GetObject\",\"s3:ListBucket\"],\"Resource\":[\"arn:aws:s3:::x2-cross-account\","
    "\"arn:aws:s3:::x2-cross-account/*\"]}]}}}",
    /* 3: ACL grant to AllUsers */
    CT_HEAD "\"eventTime\":\"2024-03-04T10:00:03Z\",\"eventName\":\"PutBucketAcl\",\"requestParameters\":"
    "{\"bucketName\":\"x3-acl-allusers\",\"AccessControlPolicy\":{\"AccessControlList\":{\"Grant\":[{\"Grantee\":"
    "{\"xsi:type\":\"CanonicalUser\",\"ID\":\"abc\"},\"Permission\":\"FULL_CONTROL\"},{\"Grantee\":{\"xsi:type\":"
    "\"Group\",\"URI\":\"http://acs.amazonaws.com/groups/global/AllUsers\"},\"Permission\":\"READ\"}]},"
    "\"Owner\":{\"ID\":\"abc\"}},\"acl\":[\"\"]}}",
    /* 4: an object made public with a canned ACL */
    CT_HEAD "\"eventTime\":\"2024-03-04T10:00:04Z\",\"eventName\":\"PutObjectAcl\",\"requestParameters\":"
    "{\"bucketName\":\"x4-object-acl\",\"key\":\"exports/customers.csv\",\"x-amz-acl\":[\"public-read\"],\"acl\":[\"\"]}}",
    /* 5: the guard rail removed */
    CT_HEAD "\"eventTime\":\"2024-03-04T10:00:05Z\",\"eventName\":\"DeleteBucketPublicAccessBlock\","
    "\"requestParameters\":{\"bucketName\":\"x5-pab-deleted\",\"publicAccessBlock\":[\"\"]}}",
    /* 6: AuthenticatedUsers may write, via a grant header */
    CT_HEAD "\"eventTime\":\"2024-03-04T10:00:06Z\",\"eventName\":\"PutBucketAcl\",\"requestParameters\":"
    "{\"bucketName\":\"x6-acl-auth-write\",\"x-amz-grant-write\":[\"uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers\"]}}",
};

static const char *const ct_benign[] = {
    /* CloudTrail's own log bucket policy (what the console writes) */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:01Z\",\"eventName\":\"PutBucketPolicy\",\"requestParameters\":"
    "{\"bucketName\":\"b1-cloudtrail-logs\",\"bucketPolicy\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":"
    "\"AWSCloudTrailAclCheck\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},"
    "\"Action\":\"s3:GetBucketAcl\",\"Resource\":\"arn:aws:s3:::b1-cloudtrail-logs\",\"Condition\":{\"StringEquals\":"
    "{\"AWS:SourceArn\":\"arn:aws:cloudtrail:eu-west-1:111122223333:trail/main\"}}},{\"Sid\":\"AWSCloudTrailWrite\","
    "\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},\"Action\":\"s3:PutObject\","
    "\"Resource\":\"arn:aws:s3:::b1-cloudtrail-logs/AWSLogs/111122223333/*\",\"Condition\":{\"StringEquals\":"
    "{\"s3:x-amz-acl\":\"bucket-owner-full-control\",\"AWS:SourceArn\":\"arn:aws:cloudtrail:eu-west-1:111122223333:trail/main\"}}}]}}}",
    /* the owner's own role */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:02Z\",\"eventName\":\"PutBucketPolicy\",\"requestParameters\":"
    "{\"bucketName\":\"b2-own-role\",\"bucketPolicy\":{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
    "\"arn:aws:iam::111122223333:role/etl\"},\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::b2-own-role/*\"}}}}",
    /* everyone in the organisation only */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:03Z\",\"eventName\":\"PutBucketPolicy\",\"requestParameters\":"
    "{\"bucketName\":\"b3-org-only\",\"bucketPolicy\":{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
    "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b3-org-only/*\",\"Condition\":{\"StringEquals\":"
    "{\"aws:PrincipalOrgID\":\"o-abc123\"}}}]}}}",
    /* a public policy the account's block refused */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:04Z\",\"eventName\":\"PutBucketPolicy\",\"errorCode\":\"AccessDenied\","
    "\"errorMessage\":\"public policies are blocked by the BlockPublicPolicy block public access setting.\","
    "\"requestParameters\":{\"bucketName\":\"b4-refused\",\"bucketPolicy\":{\"Statement\":[{\"Effect\":\"Allow\","
    "\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b4-refused/*\"}]}}}",
    /* a private ACL */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:05Z\",\"eventName\":\"PutBucketAcl\",\"requestParameters\":"
    "{\"bucketName\":\"b5-private-acl\",\"x-amz-acl\":[\"private\"]}}",
    /* the block switched fully on */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:06Z\",\"eventName\":\"PutBucketPublicAccessBlock\",\"requestParameters\":"
    "{\"bucketName\":\"b6-pab-on\",\"PublicAccessBlockConfiguration\":{\"BlockPublicAcls\":true,\"IgnorePublicAcls\":true,"
    "\"BlockPublicPolicy\":true,\"RestrictPublicBuckets\":true}}}",
    /* reads */
    CT_HEAD "\"eventTime\":\"2024-03-04T09:00:07Z\",\"eventName\":\"GetObject\",\"requestParameters\":"
    "{\"bucketName\":\"x1-public-policy\",\"key\":\"a.txt\"}}",
};

static const char azure_log[] =
    "{\"records\":[\n"
    /* 7: a container opened to anonymous listing */
    "{\"time\":\"2024-03-04T11:00:00Z\",\"resourceId\":\"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/x7acct/blobServices/default/containers/x7-exports\",\"operationName\":\"MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/BLOBSERVICES/CONTAINERS/WRITE\",\"category\":\"Administrative\",\"resultType\":\"Start\","
    "\"callerIpAddress\":\"203.0.113.8\",\"identity\":{\"claims\":{\"name\":\"dev@contoso.com\"}},\"properties\":"
    "{\"requestbody\":\"{\\\"properties\\\":{\\\"publicAccess\\\":\\\"Container\\\",\\\"metadata\\\":{}}}\"}},\n"
    /* 8: the account allows public blobs */
    "{\"time\":\"2024-03-04T11:01:00Z\",\"resourceId\":\"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/x8acct\",\"operationName\":\"MICROSOFT.STORAGE/STORAGEACCOUNTS/WRITE\",\"resultType\":\"Start\","
    "\"caller\":\"dev@contoso.com\",\"properties\":{\"requestbody\":\"{\\\"properties\\\":{\\\"allowBlobPublicAccess\\\":true}}\"}},\n"
    /* benign: a private container, a locked-down account, a failed write, a key listing */
    "{\"time\":\"2024-03-04T11:02:00Z\",\"resourceId\":\"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/b7acct/blobServices/default/containers/b7-private\",\"operationName\":\"MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/BLOBSERVICES/CONTAINERS/WRITE\",\"resultType\":\"Start\",\"properties\":{\"requestbody\":"
    "\"{\\\"properties\\\":{\\\"publicAccess\\\":\\\"None\\\"}}\"}},\n"
    "{\"time\":\"2024-03-04T11:03:00Z\",\"resourceId\":\"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/b8acct\",\"operationName\":\"MICROSOFT.STORAGE/STORAGEACCOUNTS/WRITE\",\"resultType\":\"Start\","
    "\"properties\":{\"requestbody\":\"{\\\"properties\\\":{\\\"allowBlobPublicAccess\\\":false}}\"}},\n"
    "{\"time\":\"2024-03-04T11:04:00Z\",\"resourceId\":\"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/b9acct/blobServices/default/containers/b9-failed\",\"operationName\":\"MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/BLOBSERVICES/CONTAINERS/WRITE\",\"resultType\":\"Failure\",\"properties\":{\"requestbody\":"
    "\"{\\\"properties\\\":{\\\"publicAccess\\\":\\\"Blob\\\"}}\"}},\n"
    "{\"time\":\"2024-03-04T11:05:00Z\",\"resourceId\":\"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/"
    "STORAGEACCOUNTS/b8acct\",\"operationName\":\"MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION\",\"resultType\":\"Success\"}\n"
    "]}\n";

static const char gcp_log[] =
    /* 9: allUsers added to a bucket */
    "{\"protoPayload\":{\"@type\":\"type.googleapis.com/google.cloud.audit.AuditLog\",\"status\":{},\"authenticationInfo\":"
    "{\"principalEmail\":\"dev@contoso.com\"},\"requestMetadata\":{\"callerIp\":\"203.0.113.9\"},\"serviceName\":"
    "\"storage.googleapis.com\",\"methodName\":\"storage.setIamPermissions\",\"resourceName\":\"projects/_/buckets/x9-site\","
    "\"serviceData\":{\"@type\":\"type.googleapis.com/google.iam.v1.logging.AuditData\",\"policyDelta\":{\"bindingDeltas\":"
    "[{\"action\":\"ADD\",\"role\":\"roles/storage.objectViewer\",\"member\":\"allUsers\"}]}}},\"resource\":{\"type\":"
    "\"gcs_bucket\",\"labels\":{\"bucket_name\":\"x9-site\",\"project_id\":\"p1\"}},\"timestamp\":\"2024-03-04T12:00:00Z\"}\n"
    /* benign: a person added; allUsers removed */
    "{\"protoPayload\":{\"methodName\":\"storage.setIamPermissions\",\"resourceName\":\"projects/_/buckets/b10-team\","
    "\"serviceData\":{\"policyDelta\":{\"bindingDeltas\":[{\"action\":\"ADD\",\"role\":\"roles/storage.objectViewer\","
    "\"member\":\"user:alice@contoso.com\"}]}}},\"resource\":{\"labels\":{\"bucket_name\":\"b10-team\"}},"
    "\"timestamp\":\"2024-03-04T12:01:00Z\"}\n"
    "{\"protoPayload\":{\"methodName\":\"storage.setIamPermissions\",\"resourceName\":\"projects/_/buckets/b11-closed\","
    "\"serviceData\":{\"policyDelta\":{\"bindingDeltas\":[{\"action\":\"REMOVE\",\"role\":\"roles/storage.objectViewer\","
    "\"member\":\"allUsers\"}]}}},\"resource\":{\"labels\":{\"bucket_name\":\"b11-closed\"}},"
    "\"timestamp\":\"2024-03-04T12:02:00Z\"}\n";

static ks_engine *hunt(const char *path)
{
    ks_engine *e = NULL;
    ks_engine_new(&e);
    ks_engine_set(e, "builtin", "false");
    ks_engine_set(e, "threads", "1");
    ks_engine_add_path(e, path);
    ks_engine_run(e);
    return e;
}

static const char *matched(const ks_finding *f, const char *key)
{
    for (size_t k = 0; k < f->nmatched; k++)
        if (!strcmp(f->matched[k].key, key))
            return f->matched[k].value;
    return "";
}

/* The audit findings for resources whose name starts with `prefix`. */
static size_t count(ks_engine *e, const char *prefix, const char *rule_part)
{
    size_t n = 0;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (!strcmp(f->detector, "cloud") && !strncmp(matched(f, "resource"), prefix, strlen(prefix)) &&
            strstr(f->rule_id, "kensa.cloud.audit.") && (!rule_part || strstr(f->rule_id, rule_part)))
            n++;
    }
    return n;
}

TEST(audit_logs_exposure_and_benign_twins)
{
    char buf[65536];
    size_t o = 0;
    /* A CloudTrail file as S3 delivers it. */
    o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"Records\":[");
    for (size_t i = 0; i < sizeof ct_attacks / sizeof ct_attacks[0]; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? "," : "", ct_attacks[i]);
    for (size_t i = 0; i < sizeof ct_benign / sizeof ct_benign[0]; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, ",%s", ct_benign[i]);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "]}\n");
    const char *ct = ks_test_write("111122223333_CloudTrail_eu-west-1_20240304T1000Z_x.json", buf, o);
    const char *az = ks_test_write("azure-activity.json", azure_log, sizeof azure_log - 1);
    const char *gc = ks_test_write("gcp-audit.jsonl", gcp_log, sizeof gcp_log - 1);
    static const struct {
        const char *prefix, *rule;
    } want[] = {
        {"x1-public-policy", "bucket_policy_public"}, {"x2-cross-account", "bucket_policy_cross_account"},
        {"x3-acl-allusers", "bucket_acl_public"},     {"x4-object-acl/exports", "bucket_acl_public"},
        {"x5-pab-deleted", "bucket_public_access_block"}, {"x6-acl-auth-write", "bucket_acl_public"},
        {"x7-exports", "container_public"},           {"x8acct", "account_blob_public_access"},
        {"x9-site", "bucket_iam_public"},
    };
    size_t got = 0, fp = 0, total = 0;
    const char *files[] = {ct, az, gc};
    for (size_t fi = 0; fi < 3; fi++) {
        ks_engine *e = hunt(files[fi]);
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            got += count(e, want[i].prefix, want[i].rule) > 0;
        fp += count(e, "b", NULL);
        total += count(e, "", NULL);
        for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
            const ks_finding *f = ks_engine_finding(e, i);
            if (matched(f, "resource")[0] == 'b')
                fprintf(stderr, "unexpected: %s %s\n", f->rule_id, matched(f, "resource"));
        }
        ks_engine_free(e);
    }
    printf("RECALL cloud audit logs (CloudTrail policy/ACL/object ACL/PAB, Azure Activity container "
           "and account, GCS setIamPermissions): %zu/%zu exposing changes; FP on 13 benign twins "
           "(CloudTrail's own bucket policy, own account, org-only, refused, private): %zu\n",
           got, sizeof want / sizeof want[0], fp);
    CHECK_INT(got, sizeof want / sizeof want[0]);
    CHECK_INT(fp, 0);
    CHECK_INT(total, sizeof want / sizeof want[0]);
}

/* The same policy as an export (get-bucket-policy) and as an audit
 * record: one verdict. */
TEST(export_and_audit_agree)
{
    static const char pol[] =
        "{\"Policy\": \"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Sid\\\":\\\"PublicRead\\\","
        "\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":\\\"s3:GetObject\\\",\\\"Resource\\\":"
        "\\\"arn:aws:s3:::x1-public-policy/*\\\"}]}\"}\n";
    const char *p = ks_test_write("x1-public-policy.policy.json", pol, sizeof pol - 1);
    char rec[8192];
    int n = snprintf(rec, sizeof rec, "%s\n", ct_attacks[0]);
    const char *a = ks_test_write("cloudtrail-export.jsonl", rec, (size_t)n);
    ks_engine *e1 = hunt(p), *e2 = hunt(a);
    const ks_finding *f1 = NULL, *f2 = NULL;
    for (size_t i = 0; i < ks_engine_nfindings(e1); i++)
        if (!strcmp(ks_engine_finding(e1, i)->rule_id, "kensa.cloud.aws.bucket_policy_public"))
            f1 = ks_engine_finding(e1, i);
    for (size_t i = 0; i < ks_engine_nfindings(e2); i++)
        if (!strcmp(ks_engine_finding(e2, i)->rule_id, "kensa.cloud.audit.aws.bucket_policy_public"))
            f2 = ks_engine_finding(e2, i);
    CHECK(f1 && f2);
    if (f1 && f2) {
        printf("INFO export vs audit: %s / %s, \"%s\" / \"%s\"\n", ks_severity_name(f1->severity),
               ks_severity_name(f2->severity), matched(f1, "setting"), matched(f2, "setting"));
        CHECK_INT(f1->severity, f2->severity);
        CHECK_STR(matched(f1, "setting"), matched(f2, "setting"));
    }
    ks_engine_free(e1);
    ks_engine_free(e2);
}

/* An export names no owner: with the organisation's accounts given, a
 * grant to any other account is cross-account; without them, not judged. */
TEST(export_cross_account_with_own_accounts)
{
    static const char pol[] =
        "{\"Policy\": \"{\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":"
        "\\\"arn:aws:iam::444455556666:root\\\"},\\\"Action\\\":\\\"s3:GetObject\\\",\\\"Resource\\\":"
        "\\\"arn:aws:s3:::shared-reports/*\\\"}]}\"}\n";
    const char *p = ks_test_write("shared-reports.policy.json", pol, sizeof pol - 1);
    size_t with = 0, without = 0;
    for (int pass = 0; pass < 2; pass++) {
        ks_engine *e = NULL;
        ks_engine_new(&e);
        ks_engine_set(e, "builtin", "false");
        if (pass == 0) {
            ks_engine_set(e, "cloud.aws_accounts", "111122223333");
            ks_engine_set(e, "cloud.aws_accounts", "777788889999");
        }
        ks_engine_add_path(e, p);
        ks_engine_run(e);
        for (size_t i = 0; i < ks_engine_nfindings(e); i++)
            if (!strcmp(ks_engine_finding(e, i)->rule_id, "kensa.cloud.aws.bucket_policy_cross_account"))
                *(pass == 0 ? &with : &without) += 1;
        ks_engine_free(e);
    }
    CHECK_INT(with, 1);
    CHECK_INT(without, 0);
}
