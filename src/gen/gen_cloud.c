/* SPDX-License-Identifier: Apache-2.0
 *
 * Cloud configuration exports as the providers' CLIs print them: the demo
 * has a BlueBleed-style storage account (anonymous container listing), a
 * safe account, an S3 bucket policy open to Principal "*", and a SAS link
 * with full rights in a note; `kensa-gen cloud --accounts N --out DIR`
 * writes N accounts and their containers for the audit benchmark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen.h"

int gen_cloud_demo(const char *dir)
{
    static const struct {
        const char *sub, *name, *text; /* written as DIR/cloud/sub/name */
    } files[] = {
        {"azure", "storage-accounts.json",
         "[\n  {\"name\": \"bluebleedcrm\", \"kind\": \"StorageV2\", \"location\": \"westeurope\",\n"
         "   \"allowBlobPublicAccess\": true, \"allowSharedKeyAccess\": true, \"enableHttpsTrafficOnly\": true,\n"
         "   \"minimumTlsVersion\": \"TLS1_0\", \"networkRuleSet\": {\"defaultAction\": \"Allow\", \"ipRules\": []},\n"
         "   \"publicNetworkAccess\": \"Enabled\", \"primaryEndpoints\": {\"blob\": \"https://bluebleedcrm.blob.core.windows.net/\"},\n"
         "   \"sku\": {\"name\": \"Standard_RAGRS\"}},\n"
         "  {\"name\": \"finvault\", \"kind\": \"StorageV2\", \"location\": \"westeurope\",\n"
         "   \"allowBlobPublicAccess\": false, \"allowSharedKeyAccess\": false, \"enableHttpsTrafficOnly\": true,\n"
         "   \"minimumTlsVersion\": \"TLS1_2\", \"networkRuleSet\": {\"defaultAction\": \"Deny\"},\n"
         "   \"publicNetworkAccess\": \"Disabled\", \"primaryEndpoints\": {\"blob\": \"https://finvault.blob.core.windows.net/\"},\n"
         "   \"sku\": {\"name\": \"Standard_ZRS\"}}\n]\n"},
        {"azure", "containers-bluebleedcrm.json",
         "[\n  {\"name\": \"crm-exports\", \"properties\": {\"publicAccess\": \"container\", \"leaseState\": \"available\",\n"
         "   \"lastModified\": \"2022-09-24T10:00:00+00:00\"}},\n"
         "  {\"name\": \"invoices\", \"properties\": {\"publicAccess\": null, \"leaseState\": \"available\"}}\n]\n"},
        {"aws/partner-share", "get-bucket-policy.json",
         "{\"Policy\": \"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Sid\\\":\\\"Share\\\",\\\"Effect\\\":"
         "\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":[\\\"s3:GetObject\\\",\\\"s3:ListBucket\\\"],"
         "\\\"Resource\\\":[\\\"arn:aws:s3:::partner-share\\\",\\\"arn:aws:s3:::partner-share/*\\\"]}]}\"}\n"},
        {"", "ticket-notes.jsonl",
         "{\"time\": \"2022-09-20T08:00:00Z\", \"ticket\": \"OPS-1207\", \"text\": \"exports for the partner: "
         "https://bluebleedcrm.blob.core.windows.net/crm-exports?sv=2021-08-06&ss=b&srt=sco&sp=rwdlacx"
         "&se=2032-09-20T00:00:00Z&st=2022-09-20T00:00:00Z&spr=https&sig=REDACTEDFORDEMO%3D\"}\n"},
    };
    for (size_t i = 0; i < KS_GEN_ARRAY(files); i++) {
        char d[4096];
        snprintf(d, sizeof d, "%s/cloud%s%s", dir, *files[i].sub ? "/" : "", files[i].sub);
        if (gen_write_text(d, files[i].name, files[i].text) != 0)
            return -1;
    }
    return 0;
}

int gen_cloud_run(int argc, char **argv)
{
    long n = 10000;
    const char *out = NULL;
    gen_rng r = {99};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--accounts"))
            n = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    if (!out) {
        fprintf(stderr, "usage: kensa-gen cloud --accounts N --out DIR\n");
        return 2;
    }
    FILE *fp = gen_open(out, "storage-accounts.json");
    if (!fp)
        return 1;
    fputs("[\n", fp);
    for (long i = 0; i < n; i++) {
        int open = gen_below(&r, 10) == 0;
        /* Drawn one by one: C leaves the order of a call's arguments open
         * (gcc went right to left, clang left to right), and the data must
         * be the same whatever compiled the generator. */
        int net_deny = gen_below(&r, 4) != 0, tls12 = gen_below(&r, 8) != 0, no_shared = gen_below(&r, 3) != 0;
        fprintf(fp, "  {\"name\": \"acct%06ld\", \"kind\": \"StorageV2\", \"allowBlobPublicAccess\": %s, "
                    "\"allowSharedKeyAccess\": %s, \"enableHttpsTrafficOnly\": true, \"minimumTlsVersion\": \"%s\", "
                    "\"networkRuleSet\": {\"defaultAction\": \"%s\"}, \"publicNetworkAccess\": \"Enabled\", "
                    "\"primaryEndpoints\": {\"blob\": \"https://acct%06ld.blob.core.windows.net/\"}}%s\n",
                i, open ? "true" : "false", no_shared ? "false" : "true", tls12 ? "TLS1_2" : "TLS1_0",
                net_deny ? "Deny" : "Allow", i, i + 1 < n ? "," : "");
    }
    fputs("]\n", fp);
    fclose(fp);
    if (!(fp = gen_open(out, "containers-all.json")))
        return 1;
    fputs("[\n", fp);
    for (long i = 0; i < n; i++)
        fprintf(fp, "  {\"name\": \"c%06ld\", \"properties\": {\"publicAccess\": %s, \"leaseState\": \"available\"}}%s\n", i,
                gen_below(&r, 20) == 0 ? "\"container\"" : "null", i + 1 < n ? "," : "");
    fputs("]\n", fp);
    return fclose(fp) == 0 ? 0 : 1;
}
