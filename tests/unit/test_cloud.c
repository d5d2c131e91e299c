/* SPDX-License-Identifier: Apache-2.0
 * Cloud storage exposure: every audit check with a positive and a negative
 * fixture written as the provider CLI prints it, the overrides their users
 * ask for, malformed input; the anonymous probe against a loopback fixture
 * server of our own (listing with pagination, private, missing, 409
 * PublicAccessNotPermitted, throttling then success, a hanging endpoint,
 * garbage XML) and, when npm can install it, the Azurite emulator. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "kensa_int.h"
#include "detect/cloud_probe.h"

static const char *dir_with(const char *name, const char *const *files, const char *const *bodies)
{
    char d[512], cmd[2048];
    snprintf(d, sizeof d, "%s/%s", ks_test_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
    if (system(cmd) != 0)
        return NULL;
    for (int i = 0; files[i]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", d, files[i]);
        char *slash = strrchr(p, '/');
        *slash = 0;
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
        if (system(cmd) != 0)
            return NULL;
        *slash = '/';
        FILE *fp = fopen(p, "w");
        fputs(bodies[i], fp);
        fclose(fp);
    }
    return ks_test_strdup(d);
}

typedef struct audit {
    ks_engine *e;
    int warnings;
} audit;

static void on_diag(void *ud, const ks_diag *d)
{
    if (d->level >= KS_DIAG_WARN)
        ((audit *)ud)->warnings++;
}

static audit run_audit(const char *path)
{
    audit a = {NULL, 0};
    ks_engine_new(&a.e);
    ks_engine_set(a.e, "builtin", "false");
    ks_engine_set(a.e, "detector.identity", "false");
    ks_engine_on_diag(a.e, on_diag, &a);
    ks_engine_add_path(a.e, path);
    ks_engine_run(a.e);
    return a;
}

/* Severity of rule on resource, or -1 when absent. */
static int sev(audit *a, const char *rule, const char *resource)
{
    for (size_t i = 0; i < ks_engine_nfindings(a->e); i++) {
        const ks_finding *f = ks_engine_finding(a->e, i);
        if (strcmp(f->rule_id, rule))
            continue;
        for (size_t k = 0; k < f->nmatched; k++)
            if (!strcmp(f->matched[k].key, "resource") && !strcmp(f->matched[k].value, resource))
                return (int)f->severity;
    }
    return -1;
}

TEST(azure_accounts_and_containers)
{
    static const char *const files[] = {"accounts.json", "open/containers-openacct.json", "containers-lockedacct.json", NULL};
    static const char *const bodies[] = {
        "[{\"name\":\"openacct\",\"kind\":\"StorageV2\",\"allowBlobPublicAccess\":true,\"allowSharedKeyAccess\":true,"
        "\"enableHttpsTrafficOnly\":false,\"minimumTlsVersion\":\"TLS1_0\",\"networkRuleSet\":{\"defaultAction\":\"Allow\"},"
        "\"publicNetworkAccess\":\"Enabled\",\"primaryEndpoints\":{\"blob\":\"https://openacct.blob.core.windows.net/\"}},"
        "{\"name\":\"lockedacct\",\"kind\":\"StorageV2\",\"allowBlobPublicAccess\":false,\"allowSharedKeyAccess\":false,"
        "\"enableHttpsTrafficOnly\":true,\"minimumTlsVersion\":\"TLS1_2\",\"networkRuleSet\":{\"defaultAction\":\"Deny\"},"
        "\"publicNetworkAccess\":\"Disabled\",\"primaryEndpoints\":{\"blob\":\"https://lockedacct.blob.core.windows.net/\"}},"
        "{\"name\":\"oldacct\",\"kind\":\"StorageV2\",\"enableHttpsTrafficOnly\":true,\"minimumTlsVersion\":\"TLS1_2\","
        "\"primaryEndpoints\":{\"blob\":\"https://oldacct.blob.core.windows.net/\"}}]",
        "[{\"name\":\"dump\",\"properties\":{\"publicAccess\":\"container\",\"leaseState\":\"available\"}},"
        "{\"name\":\"images\",\"properties\":{\"publicAccess\":\"blob\",\"leaseState\":\"available\"}},"
        "{\"name\":\"secret\",\"properties\":{\"publicAccess\":null,\"leaseState\":\"available\"}}]",
        "[{\"name\":\"legacy\",\"properties\":{\"publicAccess\":\"container\",\"leaseState\":\"available\"}}]"};
    const char *d = dir_with("azure", files, bodies);
    audit a = run_audit(d);
    CHECK_INT(sev(&a, "kensa.cloud.azure.container_public", "dump"), KS_SEV_CRITICAL);
    CHECK_INT(sev(&a, "kensa.cloud.azure.container_public", "images"), KS_SEV_HIGH);
    CHECK_INT(sev(&a, "kensa.cloud.azure.container_public", "secret"), -1);
    /* the account forbids public access: the container setting has no effect */
    CHECK_INT(sev(&a, "kensa.cloud.azure.container_public", "legacy"), KS_SEV_INFO);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_blob_public_access", "openacct"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_blob_public_access", "oldacct"), KS_SEV_LOW); /* unset */
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_blob_public_access", "lockedacct"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_https_only", "openacct"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_https_only", "lockedacct"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_min_tls", "openacct"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_min_tls", "lockedacct"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_network_open", "openacct"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_network_open", "lockedacct"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_public_network_access", "openacct"), KS_SEV_LOW);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_public_network_access", "lockedacct"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_shared_key_access", "openacct"), KS_SEV_LOW);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_shared_key_access", "lockedacct"), -1);
    ks_engine_free(a.e);
}

TEST(arm_template_resources)
{
    static const char *const files[] = {"template.json", NULL};
    static const char *const bodies[] = {
        "{\"$schema\":\"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\","
        "\"resources\":[{\"type\":\"Microsoft.Storage/storageAccounts\",\"name\":\"armacct\",\"properties\":"
        "{\"allowBlobPublicAccess\":true,\"minimumTlsVersion\":\"TLS1_1\",\"supportsHttpsTrafficOnly\":true}},"
        "{\"type\":\"Microsoft.Storage/storageAccounts/blobServices/containers\",\"name\":\"armacct/default/web\","
        "\"properties\":{\"publicAccess\":\"Container\"}}]}"};
    audit a = run_audit(dir_with("arm", files, bodies));
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_blob_public_access", "armacct"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.azure.account_min_tls", "armacct"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.azure.container_public", "web"), KS_SEV_CRITICAL);
    ks_engine_free(a.e);
}

#define POL(stmt) "{\"Policy\":\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[" stmt "]}\"}"
#define PUB(b) "{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":\\\"s3:GetObject\\\",\\\"Resource\\\":\\\"arn:aws:s3:::" b "/*\\\"}"

TEST(s3_acl_policy_block_and_overrides)
{
    static const char *const files[] = {
        "leaky/policy.json", "leaky/public-access-block.json", "writable/policy.json",
        "orgonly/policy.json", "blocked/policy.json", "blocked/public-access-block.json",
        "aclopen/acl.json", "aclauth/acl.json", "aclprivate/acl.json", "status/get-bucket-policy-status.json",
        "broken/policy.json", NULL};
    static const char *const bodies[] = {
        POL(PUB("leaky")),
        "{\"PublicAccessBlockConfiguration\":{\"BlockPublicAcls\":false,\"IgnorePublicAcls\":true,\"BlockPublicPolicy\":false,\"RestrictPublicBuckets\":false}}",
        POL("{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":\\\"*\\\"},\\\"Action\\\":[\\\"s3:GetObject\\\",\\\"s3:PutObject\\\"],\\\"Resource\\\":\\\"*\\\"}"),
        POL("{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":\\\"s3:GetObject\\\",\\\"Resource\\\":\\\"*\\\",\\\"Condition\\\":{\\\"StringEquals\\\":{\\\"aws:PrincipalOrgID\\\":\\\"o-abc\\\"}}}"),
        POL(PUB("blocked")),
        "{\"PublicAccessBlockConfiguration\":{\"BlockPublicAcls\":true,\"IgnorePublicAcls\":true,\"BlockPublicPolicy\":true,\"RestrictPublicBuckets\":true}}",
        "{\"Owner\":{\"ID\":\"x\"},\"Grants\":[{\"Grantee\":{\"Type\":\"Group\",\"URI\":\"http://acs.amazonaws.com/groups/global/AllUsers\"},\"Permission\":\"READ\"}]}",
        "{\"Owner\":{\"ID\":\"x\"},\"Grants\":[{\"Grantee\":{\"Type\":\"Group\",\"URI\":\"http://acs.amazonaws.com/groups/global/AuthenticatedUsers\"},\"Permission\":\"WRITE\"}]}",
        "{\"Owner\":{\"ID\":\"x\"},\"Grants\":[{\"Grantee\":{\"Type\":\"CanonicalUser\",\"ID\":\"x\"},\"Permission\":\"FULL_CONTROL\"}]}",
        "{\"PolicyStatus\":{\"IsPublic\":true}}",
        "{\"Policy\":\"this is not json {\"}"};
    audit a = run_audit(dir_with("s3", files, bodies));
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "leaky"), KS_SEV_HIGH);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "writable"), KS_SEV_CRITICAL);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "orgonly"), -1);       /* Condition restricts */
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "blocked"), KS_SEV_INFO); /* BPA overrides */
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_public_access_block", "leaky"), KS_SEV_MEDIUM);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_public_access_block", "blocked"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_acl_public", "aclopen"), KS_SEV_HIGH);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_acl_public", "aclauth"), KS_SEV_CRITICAL);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_acl_public", "aclprivate"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "status"), KS_SEV_HIGH);
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "broken"), -1);
    CHECK(a.warnings >= 1); /* the policy string that is not JSON is reported */
    ks_engine_free(a.e);

    /* the account-level block neutralises a public bucket policy */
    static const char *const f2[] = {"acct/s3control-account-public-access-block.json", "pub/policy.json", NULL};
    static const char *const b2[] = {
        "{\"PublicAccessBlockConfiguration\":{\"BlockPublicAcls\":true,\"IgnorePublicAcls\":true,\"BlockPublicPolicy\":true,\"RestrictPublicBuckets\":true}}",
        POL(PUB("pub"))};
    a = run_audit(dir_with("s3acct", f2, b2));
    CHECK_INT(sev(&a, "kensa.cloud.aws.bucket_policy_public", "pub"), KS_SEV_INFO);
    CHECK_INT(sev(&a, "kensa.cloud.aws.account_public_access_block", "*"), -1);
    ks_engine_free(a.e);
}

TEST(gcs_iam_and_prevention)
{
    static const char *const files[] = {"open/iam.json", "open/describe.json", "enforced/iam.json",
                                        "enforced/describe.json", "authonly/iam.json", NULL};
    static const char *const bodies[] = {
        "{\"bindings\":[{\"members\":[\"allUsers\"],\"role\":\"roles/storage.objectViewer\"}],\"etag\":\"CAE=\"}",
        "{\"name\":\"open\",\"iamConfiguration\":{\"publicAccessPrevention\":\"inherited\",\"uniformBucketLevelAccess\":{\"enabled\":false}}}",
        "{\"bindings\":[{\"members\":[\"allUsers\"],\"role\":\"roles/storage.objectViewer\"}],\"etag\":\"CAE=\"}",
        "{\"name\":\"enforced\",\"iamConfiguration\":{\"publicAccessPrevention\":\"enforced\",\"uniformBucketLevelAccess\":{\"enabled\":true}}}",
        "{\"bindings\":[{\"members\":[\"allAuthenticatedUsers\",\"user:a@b.c\"],\"role\":\"roles/storage.objectViewer\"}]}"};
    audit a = run_audit(dir_with("gcs", files, bodies));
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_iam_public", "open"), KS_SEV_CRITICAL);
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_iam_public", "enforced"), KS_SEV_INFO);
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_iam_public", "authonly"), KS_SEV_HIGH);
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_uniform_access_disabled", "open"), KS_SEV_LOW);
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_uniform_access_disabled", "enforced"), -1);
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_public_access_prevention", "open"), KS_SEV_LOW);
    CHECK_INT(sev(&a, "kensa.cloud.gcp.bucket_public_access_prevention", "enforced"), -1);
    ks_engine_free(a.e);
}

TEST(sas_urls_anywhere)
{
    static const char *const files[] = {"mail.jsonl", NULL};
    static const char *const bodies[] = {
        "{\"time\":\"2024-01-01T00:00:00Z\",\"body\":\"link https://acct.blob.core.windows.net/c?sv=2021-06-08&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=AbC%2B\"}\n"
        "{\"time\":\"2024-01-01T00:00:00Z\",\"body\":\"https://acct.blob.core.windows.net/c/f.pdf?sv=2021-06-08&sr=b&sp=r&se=2024-01-02T00:00:00Z&sig=xyz\"}\n"
        "{\"time\":\"2024-01-01T00:00:00Z\",\"body\":\"no sas here: sig=1 sp=2\"}\n"};
    audit a = run_audit(dir_with("sas", files, bodies));
    size_t n = 0;
    for (size_t i = 0; i < ks_engine_nfindings(a.e); i++)
        if (!strcmp(ks_engine_finding(a.e, i)->rule_id, "kensa.cloud.azure.sas_broad")) {
            n++;
            CHECK(ks_engine_finding(a.e, i)->severity == KS_SEV_HIGH);
        }
    CHECK_INT(n, 1); /* the read-only one-day SAS is fine */
    ks_engine_free(a.e);
}

/* ==== probe against a loopback fixture server ================================== */

static int throttled;
static int long_marker_asked; /* requests with a marker on /longacct */

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **ptr)
{
    (void)cls; (void)version; (void)upload; (void)upload_size; (void)ptr;
    const char *marker = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "marker");
    const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continuation-token");
    const char *comp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "comp");
    const char *lt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "list-type");
    unsigned status = 200;
    char body[4096];
    body[0] = 0;
    if (!strncmp(url, "/openacct/public", 16) && comp) {
        if (!marker)
            snprintf(body, sizeof body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults><Blobs>"
                                        "<Blob><Name>customers.csv</Name><Properties><Content-Length>1000</Content-Length>"
                                        "<Content-Type>text/csv</Content-Type></Properties></Blob>"
                                        "<Blob><Name>mails &amp; notes.eml</Name><Properties><Content-Length>500</Content-Length>"
                                        "<Content-Type>message/rfc822</Content-Type></Properties></Blob></Blobs>"
                                        "<NextMarker>page2</NextMarker></EnumerationResults>");
        else
            snprintf(body, sizeof body, "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>last.pdf</Name>"
                                        "<Properties><Content-Length>2000</Content-Length><Content-Type>application/pdf"
                                        "</Content-Type></Properties></Blob></Blobs><NextMarker/></EnumerationResults>");
    } else if (!strncmp(url, "/openacct/public/", 17)) {
        snprintf(body, sizeof body, "x");
    } else if (!strncmp(url, "/openacct/private", 17)) {
        status = 404;
        snprintf(body, sizeof body, "<?xml version=\"1.0\"?><Error><Code>ResourceNotFound</Code><Message>The specified resource does not exist.</Message></Error>");
    } else if (!strncmp(url, "/lockedacct/", 12)) {
        status = 409;
        snprintf(body, sizeof body, "<?xml version=\"1.0\"?><Error><Code>PublicAccessNotPermitted</Code><Message>Public access is not permitted on this storage account.</Message></Error>");
    } else if (!strncmp(url, "/busy/", 6)) {
        if (throttled++ < 2) {
            status = 503;
            snprintf(body, sizeof body, "<?xml version=\"1.0\"?><Error><Code>ServerBusy</Code></Error>");
        } else {
            snprintf(body, sizeof body, "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
                                        "<Content-Length>1</Content-Length></Properties></Blob></Blobs></EnumerationResults>");
        }
    } else if (!strncmp(url, "/s3open", 7) && lt) {
        if (!token)
            snprintf(body, sizeof body, "<?xml version=\"1.0\"?><ListBucketResult><Name>s3open</Name><IsTruncated>true</IsTruncated>"
                                        "<Contents><Key>db.sql</Key><Size>4096</Size></Contents>"
                                        "<NextContinuationToken>t+2/x</NextContinuationToken></ListBucketResult>");
        else
            snprintf(body, sizeof body, "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated>"
                                        "<Contents><Key>keys.txt</Key><Size>10</Size></Contents></ListBucketResult>");
    } else if (!strncmp(url, "/s3closed", 9)) {
        status = 403;
        snprintf(body, sizeof body, "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    } else if (!strncmp(url, "/s3gone", 7)) {
        status = 404;
        snprintf(body, sizeof body, "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code></Error>");
    } else if (!strncmp(url, "/garbage", 8) && comp) {
        snprintf(body, sizeof body, "<html><body>hello</body></html>");
    } else if (!strncmp(url, "/loopacct/", 10) && comp) {
        /* Hands out the same continuation marker forever. */
        snprintf(body, sizeof body, "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>%s</Name>"
                                    "<Properties><Content-Length>10</Content-Length></Properties></Blob></Blobs>"
                                    "<NextMarker>again</NextMarker></EnumerationResults>", marker ? marker : "first");
    } else if (!strncmp(url, "/cutacct/", 9) && comp) {
        /* A page that ends before its root element closes. */
        snprintf(body, sizeof body, "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>half</Name>"
                                    "<Properties><Content-Length>7</Content-Length></Properties></Blob>");
    } else if (!strncmp(url, "/longacct/", 10) && comp) {
        /* A marker longer than the probe keeps: asking with a cut one would
         * list something else, so a second request is a failure. */
        size_t k = (size_t)snprintf(body, sizeof body, "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob>"
                                    "<Name>one</Name><Properties><Content-Length>1</Content-Length></Properties>"
                                    "</Blob></Blobs><NextMarker>");
        for (int i = 0; i < 2000; i++)
            body[k++] = 'm';
        snprintf(body + k, sizeof body - k, "</NextMarker></EnumerationResults>");
        if (marker)
            long_marker_asked++;
    } else if (!strncmp(url, "/hang", 5)) {
        sleep(3); /* longer than the probe's timeout */
        snprintf(body, sizeof body, "late");
    } else {
        status = 404;
    }
    (void)method;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/xml");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

typedef struct probe_out {
    ks_engine *e;
    char *report;
    int warnings;
} probe_out;

static void on_diag2(void *ud, const ks_diag *d)
{
    if (d->level >= KS_DIAG_WARN)
        ((probe_out *)ud)->warnings++;
}

/* timeout_ms: short against the fixture (its hanging endpoint), long
 * against an emulator that pages thousands of objects on a loaded machine. */
static probe_out probe(const char *const *urls, size_t n, const char *provider, long timeout_ms)
{
    probe_out o = {NULL, NULL, 0};
    cloud_probe_opts opt;
    ks__cloud_probe_options(NULL, &opt);
    opt.timeout_ms = timeout_ms;
    opt.retries = 3;
    opt.concurrency = 4;
    opt.provider = provider;
    size_t len = 0;
    FILE *rep = open_memstream(&o.report, &len);
    ks_engine_new(&o.e);
    ks_engine_on_diag(o.e, on_diag2, &o);
    ks__cloud_probe(o.e, urls, n, &opt, rep);
    fclose(rep);
    return o;
}

static const ks_finding *listed(probe_out *o, const char *url_part)
{
    for (size_t i = 0; i < ks__nfindings(o->e); i++) {
        const ks_finding *f = ks__finding(o->e, i);
        for (size_t k = 0; k < f->nmatched; k++)
            if (!strcmp(f->matched[k].key, "url") && strstr(f->matched[k].value, url_part))
                return f;
    }
    return NULL;
}

static const char *detail(const ks_finding *f, const char *key)
{
    for (size_t k = 0; f && k < f->ndetails; k++)
        if (!strcmp(f->details[k].key, key))
            return f->details[k].value;
    return "";
}

/* The fixture server on a free loopback port, and urls[i] for paths[i]
 * on it (u holds the text); NULL when it cannot start. */
static struct MHD_Daemon *fixture(const char *const *paths, size_t n, char (*u)[128], const char **urls)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                                            NULL, answer, NULL, MHD_OPTION_END);
    if (!d)
        return NULL;
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    for (size_t i = 0; i < n; i++) {
        snprintf(u[i], sizeof u[i], "http://127.0.0.1:%u/%s", port, paths[i]);
        urls[i] = u[i];
    }
    return d;
}

TEST(probe_fixture_server)
{
    char u[9][128];
    const char *paths[] = {"openacct/public", "openacct/private", "lockedacct/c", "busy/c", "garbage/c", "hang/c",
                           "s3open", "s3closed", "s3gone"};
    const char *urls[9];
    struct MHD_Daemon *d = fixture(paths, 9, u, urls);
    CHECK(d != NULL);
    if (!d)
        return;
    probe_out o = probe(urls, 6, "azure", 1000);
    const ks_finding *pub = listed(&o, "/openacct/public");
    CHECK(pub != NULL);
    CHECK(pub && pub->event_count == 3);                       /* two pages */
    CHECK_STR(detail(pub, "size_seen"), "3500 bytes");
    CHECK(strstr(detail(pub, "sample_names"), "mails & notes.eml") != NULL);
    CHECK(strstr(detail(pub, "content_types"), "text/csv") != NULL);
    CHECK_STR(detail(pub, "anonymous_read"), "yes");
    CHECK(listed(&o, "/openacct/private") == NULL);
    CHECK(listed(&o, "/lockedacct/") == NULL);
    CHECK(listed(&o, "/busy/") != NULL);                       /* retried after ServerBusy */
    CHECK(strstr(o.report, "public-access-not-permitted") != NULL);
    CHECK(strstr(o.report, "private-or-missing") != NULL);
    CHECK(o.warnings >= 2);                                    /* garbage XML, hanging endpoint */
    ks_engine_free(o.e);
    free(o.report);

    probe_out s = probe(urls + 6, 3, "s3", 1000);
    const ks_finding *s3 = listed(&s, "/s3open");
    CHECK(s3 && s3->event_count == 2);                         /* continuation token followed */
    CHECK(listed(&s, "/s3closed") == NULL);
    CHECK(strstr(s.report, "denied") != NULL && strstr(s.report, "not-found") != NULL);
    ks_engine_free(s.e);
    free(s.report);
    MHD_stop_daemon(d);
}

/* Listings a hostile or broken server gives (issue 15): a continuation
 * marker handed out again (counts would grow to max_pages), a page cut
 * short, a marker longer than the probe keeps. Each lists, with counts
 * that say they are a floor, and the report line says why. */
TEST(probe_markers_fixture)
{
    char u[3][128];
    const char *paths[] = {"loopacct/c", "cutacct/c", "longacct/c"};
    const char *urls[3];
    struct MHD_Daemon *d = fixture(paths, 3, u, urls);
    CHECK(d != NULL);
    if (!d)
        return;
    probe_out o = probe(urls, 3, "azure", 5000);
    const ks_finding *loop = listed(&o, "/loopacct/c");
    CHECK(loop && loop->event_count == 2); /* the first page and the one that repeated; not 50 */
    CHECK_STR(detail(loop, "objects"), ">= 2");
    CHECK(strstr(o.report, "repeated a continuation marker") != NULL);
    const ks_finding *cut = listed(&o, "/cutacct/c");
    CHECK(cut && cut->event_count == 1);
    CHECK_STR(detail(cut, "objects"), ">= 1");
    CHECK(strstr(o.report, "listing page cut short") != NULL);
    const ks_finding *lng = listed(&o, "/longacct/c");
    CHECK(lng && lng->event_count == 1);
    CHECK_STR(detail(lng, "objects"), ">= 1");
    CHECK(strstr(o.report, "continuation marker longer than") != NULL);
    CHECK_INT(long_marker_asked, 0);       /* never asked with a cut marker */
    CHECK(strstr(o.report, "objects=>=2") && strstr(o.report, "objects=>=1"));
    ks_engine_free(o.e);
    free(o.report);
    MHD_stop_daemon(d);
}

/* ==== the Azurite emulator ========================================================== */

static int free_port(void)
{
    char *out = NULL;
    int port = 0;
    if (ks_test_run("/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
                    "print(s.getsockname()[1])'", &out) == 0 && out)
        port = atoi(out);
    free(out);
    return port;
}

TEST(probe_azurite)
{
    char cmd[4096], *out = NULL;
    const char *npm = "build/npm";
    if (system("command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1") != 0) {
        ks_test_skip("npm", "no node/npm");
        return;
    }
    snprintf(cmd, sizeof cmd, "test -x %s/node_modules/.bin/azurite-blob && test -d %s/node_modules/@azure/storage-blob || "
             "timeout 240 npm install --prefix %s --no-audit --no-fund azurite@3 @azure/storage-blob@12 >/dev/null 2>&1",
             npm, npm, npm);
    if (system(cmd) != 0) {
        ks_test_skip("npm-install", "npm could not install azurite");
        return;
    }
    int port = free_port();
    CHECK(port > 0);
    char loc[512];
    snprintf(loc, sizeof loc, "%s/azurite", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort %d --inMemoryPersistence "
             "--skipApiVersionCheck --silent > %s.log 2>&1 & echo $!", npm, port, loc);
    CHECK_INT(ks_test_run(cmd, &out), 0);
    int pid = out ? atoi(out) : 0;
    free(out);
    /* wait until it answers (bounded) */
    snprintf(cmd, sizeof cmd, "for i in $(seq 1 300); do curl -s -o /dev/null http://127.0.0.1:%d/ && exit 0; sleep 0.1; done; exit 1", port);
    int up = system(cmd) == 0;
    CHECK(up);
    if (up) {
        snprintf(cmd, sizeof cmd, "NODE_PATH=%s/node_modules timeout 120 node tests/data/cloud/azurite_setup.js %d 2500", npm, port);
        CHECK_INT(system(cmd), 0);
        char u[6][160];
        const char *names[] = {"open", "big", "blobonly", "private", "missing", "blobonly/customers.csv"};
        const char *urls[6];
        for (int i = 0; i < 6; i++) {
            snprintf(u[i], sizeof u[i], "http://127.0.0.1:%d/devstoreaccount1/%s", port, names[i]);
            urls[i] = u[i];
        }
        probe_out o = probe(urls, 6, "azure", 20000);
        const ks_finding *open = listed(&o, "/devstoreaccount1/open");
        CHECK(open && open->event_count == 3);
        CHECK(open && strstr(detail(open, "content_types"), "text/csv"));
        const ks_finding *big = listed(&o, "/devstoreaccount1/big");
        CHECK(big && big->event_count == 2500);   /* three pages of 1000 */
        const ks_finding *rd = listed(&o, "blobonly/customers.csv");
        CHECK(rd && !strcmp(rd->rule_id, "kensa.cloud.probe.anonymous_read")); /* the blob URL */
        size_t lists = 0, reads = 0;
        for (size_t i = 0; i < ks__nfindings(o.e); i++) {
            const char *id = ks__finding(o.e, i)->rule_id;
            lists += !strcmp(id, "kensa.cloud.probe.anonymous_list");
            reads += !strcmp(id, "kensa.cloud.probe.anonymous_read");
        }
        CHECK_INT(lists, 2);   /* open, big: not blobonly, private, missing */
        CHECK_INT(reads, 1);   /* blobonly/customers.csv */
        printf("INFO azurite probe: open=3 objects, big=2500 objects (paged), blob-level container readable not listable, private/missing refused\n");
        ks_engine_free(o.e);
        free(o.report);
    }
    if (pid > 0) {
        snprintf(cmd, sizeof cmd, "kill %d 2>/dev/null; sleep 0.2; kill -9 %d 2>/dev/null; true", pid, pid);
        CHECK_INT(system(cmd), 0);
    }
}

/* ==== s3rver: an open bucket (s3rver has no access control) ======================= */

TEST(probe_s3rver_open_bucket)
{
    char cmd[4096], *out = NULL;
    const char *npm = "build/npm";
    if (system("command -v npm >/dev/null 2>&1") != 0) {
        ks_test_skip("npm", "probe_s3rver: no npm");
        return;
    }
    snprintf(cmd, sizeof cmd, "test -x %s/node_modules/.bin/s3rver || timeout 240 npm install --prefix %s --no-audit "
             "--no-fund s3rver@3 >/dev/null 2>&1", npm, npm);
    if (system(cmd) != 0) {
        ks_test_skip("npm-install", "probe_s3rver: npm could not install s3rver");
        return;
    }
    int port = free_port();
    snprintf(cmd, sizeof cmd, "mkdir -p %s/s3d && %s/node_modules/.bin/s3rver -d %s/s3d -a 127.0.0.1 -p %d "
             "--configure-bucket openb --silent > %s/s3rver.log 2>&1 & echo $!", ks_test_tmpdir(), npm, ks_test_tmpdir(),
             port, ks_test_tmpdir());
    CHECK_INT(ks_test_run(cmd, &out), 0);
    int pid = out ? atoi(out) : 0;
    free(out);
    snprintf(cmd, sizeof cmd, "for i in $(seq 1 300); do curl -s -o /dev/null http://127.0.0.1:%d/openb && exit 0; sleep 0.1; done; exit 1", port);
    int up = system(cmd) == 0;
    CHECK(up);
    if (up) {
        /* 300 objects by anonymous PUT, in one process. One page: s3rver 3.x
         * answers InternalError when a ListObjectsV2 page is truncated, so
         * pagination is covered by Azurite and the fixture server. */
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import http.client\nc=http.client.HTTPConnection('127.0.0.1',%d)\n"
                 "for i in range(300):\n  c.request('PUT','/openb/export/part-%%05d.csv'%%i,body=b'id,email\\n1,a@b.c\\n');"
                 "r=c.getresponse();r.read()\n\"", port);
        CHECK_INT(system(cmd), 0);
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/openb", port);
        const char *urls[1] = {url};
        probe_out o = {NULL, NULL, 0};
        cloud_probe_opts opt;
        ks__cloud_probe_options(NULL, &opt);
        opt.provider = "s3";
        opt.page_size = 1000;
        size_t len = 0;
        FILE *rep = open_memstream(&o.report, &len);
        ks_engine_new(&o.e);
        ks__cloud_probe(o.e, urls, 1, &opt, rep);
        fclose(rep);
        const ks_finding *f = listed(&o, "/openb");
        CHECK(f && f->event_count == 300);
        CHECK(f && strstr(detail(f, "sample_names"), "export/part-00000.csv"));
        CHECK_STR(detail(f, "anonymous_read"), "yes");
        printf("INFO s3rver probe: open bucket listed anonymously, 300 objects, first object readable\n");
        ks_engine_free(o.e);
        free(o.report);
    }
    if (pid > 0) {
        snprintf(cmd, sizeof cmd, "kill %d 2>/dev/null; sleep 0.2; kill -9 %d 2>/dev/null; true", pid, pid);
        CHECK_INT(system(cmd), 0);
    }
}
