/* SPDX-License-Identifier: Apache-2.0
 *
 * Online verification of found credentials (interface: secrets_verify.h).
 *
 * Each check is the cheapest read-only call of the service that says
 * whether a credential works and whose it is: STS GetCallerIdentity needs
 * no permission at all (an AWS key that can do nothing else still
 * answers), GitHub's /user and Slack's auth.test only name the owner.
 * Requests go through libcurl without redirects (a redirect is an answer,
 * not a hop), with a timeout, TLS verified, a capped reply, and a pause
 * between requests (secrets.verify_rate per second).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "detect/fileinfo.h"
#include "detect/secrets_verify.h"
#include "detect/textscan.h"

#define MAX_CANARIES 4096
#define MAX_REPLY (64 << 10)

struct ks_sverify {
    ks_engine *e;
    CURL *curl;
    char (*canary)[13];       /* 12-digit AWS account ids */
    size_t ncanary;
    double interval;          /* seconds between two requests */
    double last;              /* monotonic time of the last request, 0 none */
    long timeout_ms;
    int64_t budget;           /* requests left in this run */
    const char *aws_url, *github_url, *slack_url;
};

/* ---- canary list --------------------------------------------------------------- */

static int load_canaries(ks_sverify *v, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[256];
    uint32_t ln = 0;
    if (!fp) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(v->e, KS_DIAG_ERROR, KS_EIO, "secrets", &loc,
                 "canary account list unreadable: --verify would not know which keys to spare");
        return KS_EIO;
    }
    if (!(v->canary = calloc(MAX_CANARIES, sizeof *v->canary))) {
        fclose(fp);
        return KS_ENOMEM;
    }
    while (fgets(line, sizeof line, fp) && v->ncanary < MAX_CANARIES) {
        size_t k = 0;
        ln++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
            continue;
        while (p[k] >= '0' && p[k] <= '9')
            k++;
        if (k != 12) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = path;
            loc.line = ln;
            ks__diag(v->e, KS_DIAG_WARN, KS_EFORMAT, "secrets", &loc,
                     "not a 12-digit AWS account id; line skipped");
            continue;
        }
        memcpy(v->canary[v->ncanary], p, 12);
        v->canary[v->ncanary++][12] = 0;
    }
    fclose(fp);
    return KS_OK;
}

bool ks__sverify_canary(const ks_sverify *v, const char *account)
{
    for (size_t i = 0; account && i < v->ncanary; i++)
        if (!strcmp(v->canary[i], account))
            return true;
    return false;
}

/* ---- life cycle ------------------------------------------------------------------ */

int ks__sverify_new(ks_engine *e, ks_sverify **out)
{
    ks_sverify *v = NULL;
    char path[4096];
    int rc = KS_OK;
    *out = NULL;
    if (!ks__opt_bool(e, "secrets.verify"))
        return KS_OK;
    if (!(v = calloc(1, sizeof *v)))
        return KS_ENOMEM;
    v->e = e;
    int64_t rate = ks__opt_int(e, "secrets.verify_rate");
    v->interval = 1.0 / (double)(rate > 0 ? rate : 1);
    v->timeout_ms = (long)ks__opt_int(e, "secrets.verify_timeout") * 1000;
    v->budget = ks__opt_int(e, "secrets.verify_max");
    v->aws_url = ks__opt(e, "secrets.verify_aws_url");
    v->github_url = ks__opt(e, "secrets.verify_github_url");
    v->slack_url = ks__opt(e, "secrets.verify_slack_url");
    const char *list = ks__opt(e, "secrets.canary_accounts");
    if (!list || !list[0]) {
        const char *dir = ks__rules_dir(e);
        if (!dir) {
            ks__seterr(e, "--verify: no bundled rules directory for the canary account list");
            rc = KS_EUSAGE;
            goto out;
        }
        snprintf(path, sizeof path, "%s/verify/canary-aws-accounts.txt", dir);
        list = path;
    }
    if ((rc = load_canaries(v, list)) != KS_OK)
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(v->curl = curl_easy_init())) {
        rc = KS_EINTERNAL;
        goto out;
    }
    *out = v;
    v = NULL;
out:
    ks__sverify_free(v);
    return rc;
}

void ks__sverify_free(ks_sverify *v)
{
    if (!v)
        return;
    if (v->curl) {
        curl_easy_cleanup(v->curl);
        curl_global_cleanup();
    }
    free(v->canary);
    free(v);
}

/* ---- HTTP ------------------------------------------------------------------------- */

typedef struct reply {
    long status;
    char body[MAX_REPLY + 1];  /* NUL-terminated, cut at MAX_REPLY */
    size_t n;
} reply;

static size_t on_body(char *d, size_t sz, size_t nm, void *ud)
{
    reply *r = ud;
    size_t n = sz * nm, take = KS_MIN(n, (size_t)MAX_REPLY - r->n);
    memcpy(r->body + r->n, d, take);
    r->n += take;
    r->body[r->n] = 0;
    return n;
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits for the rate limit's next slot. */
static void pace(ks_sverify *v)
{
    double now = mono();
    if (v->last > 0 && now < v->last + v->interval) {
        double w = v->last + v->interval - now;
        struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
        nanosleep(&ts, NULL);
    }
    v->last = mono();
}

/* One request; false when no HTTP answer came (r->status 0). */
static bool http(ks_sverify *v, const char *url, const char *body, struct curl_slist *hdrs,
                 reply *r)
{
    CURL *c = v->curl;
    r->status = 0;
    r->n = 0;
    r->body[0] = 0;
    pace(v);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kensa-verify/" KENSA_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_easy_perform(c) != CURLE_OK)
        return false;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return r->status != 0;
}

/* The text of the first <tag>...</tag> (STS replies are XML). */
static bool xml_field(const char *body, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(body, open), *b;
    if (!a || !(b = strstr(a += strlen(open), close)) || (size_t)(b - a) >= cap)
        return false;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = 0;
    return true;
}

/* The string value of "key": "..." in a flat JSON reply (no escapes). */
static bool json_field(const char *body, const char *key, char *out, size_t cap)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\"", key);
    const char *p = strstr(body, k);
    if (!p)
        return false;
    p += strlen(k);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"')
        return false;
    const char *e = strchr(++p, '"');
    if (!e || (size_t)(e - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    return true;
}

/* ---- AWS Signature V4 ------------------------------------------------------------------ */

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    unsigned dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    ks__hex(d, 32, out);
}

static void hmac(const uint8_t *key, size_t nkey, const char *msg, uint8_t out[32])
{
    unsigned ol = 32;
    HMAC(EVP_sha256(), key, (int)nkey, (const uint8_t *)msg, strlen(msg), out, &ol);
}

int ks__sigv4(const char *secret, const char *amzdate, const char *region, const char *service,
              const char *method, const char *path, const char *query, const char *headers,
              const char *signed_headers, const char *body, size_t nbody, char sig[65])
{
    char canon[4096], sts[1024], hbody[65], hcanon[65], date[9], key[160];
    uint8_t k1[32], k2[32], k3[32], k4[32], s[32];
    if (strlen(amzdate) < 8)
        return KS_EUSAGE;
    memcpy(date, amzdate, 8);
    date[8] = 0;
    sha256_hex(body, nbody, hbody);
    if (snprintf(canon, sizeof canon, "%s\n%s\n%s\n%s\n%s\n%s", method, path, query, headers,
                 signed_headers, hbody) >= (int)sizeof canon)
        return KS_ELIMIT;
    sha256_hex(canon, strlen(canon), hcanon);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amzdate, date,
             region, service, hcanon);
    if (snprintf(key, sizeof key, "AWS4%s", secret) >= (int)sizeof key)
        return KS_ELIMIT;
    hmac((const uint8_t *)key, strlen(key), date, k1);
    hmac(k1, 32, region, k2);
    hmac(k2, 32, service, k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, s);
    ks__hex(s, 32, sig);
    OPENSSL_cleanse(key, sizeof key);
    return KS_OK;
}

static ks_vverdict verify_aws(ks_sverify *v, const char *secret, const char *keyid,
                              char *info, size_t cap)
{
    static const char body[] = "Action=GetCallerIdentity&Version=2011-06-15";
    static const char ctype[] = "application/x-www-form-urlencoded; charset=utf-8";
    char amzdate[17], host[300], path[1024], headers[1200], sig[65], h[1400];
    char *uhost = NULL, *uport = NULL, *upath = NULL;
    struct curl_slist *hl = NULL;
    ks_vverdict vv = KS_VV_ERROR;
    reply *r = NULL;
    CURLU *u = curl_url();
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
    if (!u || curl_url_set(u, CURLUPART_URL, v->aws_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &uhost, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &upath, 0) != CURLUE_OK)
        goto out;
    curl_url_get(u, CURLUPART_PORT, &uport, 0); /* only when written in the URL */
    snprintf(host, sizeof host, "%s%s%s", uhost, uport ? ":" : "", uport ? uport : "");
    snprintf(path, sizeof path, "%s", upath[0] ? upath : "/");
    snprintf(headers, sizeof headers, "content-type:%s\nhost:%s\nx-amz-date:%s\n", ctype, host,
             amzdate);
    if (ks__sigv4(secret, amzdate, "us-east-1", "sts", "POST", path, "", headers,
                  "content-type;host;x-amz-date", body, strlen(body), sig) != KS_OK)
        goto out;
    snprintf(h, sizeof h,
             "Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/us-east-1/sts/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date, Signature=%s",
             keyid, amzdate, sig);
    hl = curl_slist_append(hl, h);
    snprintf(h, sizeof h, "Content-Type: %s", ctype);
    hl = curl_slist_append(hl, h);
    snprintf(h, sizeof h, "Host: %s", host);
    hl = curl_slist_append(hl, h);
    snprintf(h, sizeof h, "X-Amz-Date: %s", amzdate);
    hl = curl_slist_append(hl, h);
    if (!hl || !(r = malloc(sizeof *r)) || !http(v, v->aws_url, body, hl, r))
        goto out;
    if (r->status == 200 && xml_field(r->body, "Arn", info, cap))
        vv = KS_VV_LIVE;
    else if (r->status == 403 || r->status == 401)
        vv = KS_VV_REJECTED;
    else
        snprintf(info, cap, "STS answered HTTP %ld", r->status);
out:
    curl_slist_free_all(hl);
    curl_free(uhost);
    curl_free(uport);
    curl_free(upath);
    curl_url_cleanup(u);
    if (r)
        OPENSSL_cleanse(r, sizeof *r);
    free(r);
    return vv;
}

/* A bearer-style token check: live on 200 (and "ok":true for Slack). */
static ks_vverdict verify_token(ks_sverify *v, const char *url, const char *scheme,
                                const char *token, bool slack, char *info, size_t cap)
{
    char h[1200];
    struct curl_slist *hl = NULL;
    ks_vverdict vv = KS_VV_ERROR;
    reply *r = malloc(sizeof *r);
    if (snprintf(h, sizeof h, "Authorization: %s %s", scheme, token) >= (int)sizeof h)
        goto out;
    hl = curl_slist_append(hl, h);
    hl = curl_slist_append(hl, "Accept: application/json");
    if (!hl || !r || !http(v, url, slack ? "" : NULL, hl, r))
        goto out;
    if (slack) {
        bool ok = strstr(r->body, "\"ok\":true") || strstr(r->body, "\"ok\": true");
        vv = r->status == 200 && ok ? KS_VV_LIVE : r->status == 200 ? KS_VV_REJECTED : KS_VV_ERROR;
        if (vv == KS_VV_LIVE && json_field(r->body, "team", h, 128))
            snprintf(info, cap, "team %s", h);
    } else {
        vv = r->status == 200 ? KS_VV_LIVE : r->status == 401 ? KS_VV_REJECTED : KS_VV_ERROR;
        if (vv == KS_VV_LIVE && json_field(r->body, "login", h, 128))
            snprintf(info, cap, "login %s", h);
    }
    if (vv == KS_VV_ERROR)
        snprintf(info, cap, "HTTP %ld", r->status);
out:
    OPENSSL_cleanse(h, sizeof h);
    curl_slist_free_all(hl);
    if (r)
        OPENSSL_cleanse(r, sizeof *r);
    free(r);
    return vv;
}

bool ks__sverify_supports(const char *type)
{
    return !strcmp(type, "aws.secret_access_key") || !strcmp(type, "github.token") ||
           !strcmp(type, "slack.token");
}

ks_vverdict ks__sverify_one(ks_sverify *v, const char *type, const char *value, size_t n,
                            const char *pair, size_t npair, const char *account, char *info,
                            size_t cap)
{
    char val[512], id[32];
    ks_vverdict vv = KS_VV_NONE;
    info[0] = 0;
    if (!ks__sverify_supports(type) || n >= sizeof val)
        return KS_VV_NONE;
    char decoded[24];
    if (pair && npair == 20 && !account) {
        memcpy(id, pair, 20);
        id[20] = 0;
        if (ks__aws_account(id, decoded))
            account = decoded;
    }
    if (account && ks__sverify_canary(v, account))
        return KS_VV_CANARY; /* checked before the budget: never sent */
    if (v->budget <= 0)
        return KS_VV_NONE;
    memcpy(val, value, n);
    val[n] = 0;
    if (!strcmp(type, "aws.secret_access_key")) {
        if (!pair || npair >= sizeof id)
            goto out; /* a secret key alone cannot be checked */
        memcpy(id, pair, npair);
        id[npair] = 0;
        v->budget--;
        vv = verify_aws(v, val, id, info, cap);
    } else if (!strcmp(type, "github.token")) {
        v->budget--;
        vv = verify_token(v, v->github_url, "token", val, false, info, cap);
    } else {
        v->budget--;
        vv = verify_token(v, v->slack_url, "Bearer", val, true, info, cap);
    }
out:
    OPENSSL_cleanse(val, sizeof val);
    return vv;
}
