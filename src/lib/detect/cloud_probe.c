/* SPDX-License-Identifier: Apache-2.0
 *
 * Anonymous storage probe (see cloud_probe.h). Each target is a container
 * or bucket URL; a worker thread lists it anonymously with bounded
 * pagination (Azure: ?restype=container&comp=list; S3: ?list-type=2),
 * checks that an object can be read (HEAD of the first one), and, only when
 * asked, downloads a few samples. The verdict comes from the XML root
 * element and the error code, never the HTTP status alone (Azure answers
 * 404 ResourceNotFound for a private container, 409 PublicAccessNotPermitted
 * when the account forbids it; S3 403 AccessDenied vs 404 NoSuchBucket).
 * Throttling (429/503, ServerBusy, SlowDown) and transport errors are retried
 * with exponential backoff; a global token bucket enforces the rate.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cloud_probe.h"

#define MAX_BODY ((size_t)16 << 20) /* per listing page */
#define SAMPLE_MAX ((size_t)8 << 20)
#define NAMES_KEPT 10

void ks__cloud_probe_options(const ks_engine *e, cloud_probe_opts *o)
{
    memset(o, 0, sizeof *o);
    o->concurrency = (int)ks__opt_int(e, "probe.concurrency");
    o->timeout_ms = (long)(ks__opt_duration(e, "probe.timeout") / 1000000);
    o->connect_ms = (long)(ks__opt_duration(e, "probe.connect_timeout") / 1000000);
    o->retries = (int)ks__opt_int(e, "probe.retries");
    o->rate = ks__opt_double(e, "probe.rate");
    o->max_pages = (int)ks__opt_int(e, "probe.max_pages");
    o->page_size = (int)ks__opt_int(e, "probe.page_size");
    o->fetch_sample = (int)ks__opt_int(e, "probe.fetch_sample");
    o->sample_dir = ks__opt(e, "probe.sample_dir");
    o->provider = ks__opt(e, "probe.provider");
    o->insecure = ks__opt_bool(e, "probe.insecure");
}

int ks_engine_probe(ks_engine *e, const char *const *urls, size_t n, FILE *report)
{
    cloud_probe_opts o;
    ks__cloud_probe_options(e, &o);
    return ks__cloud_probe(e, urls, n, &o, report);
}

/* ---- tiny XML helpers -------------------------------------------------------------- */

/* Text of the first <tag>...</tag> in [p, end); decoded into out. */
static bool xml_text(const char *p, const char *end, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
    if (!a)
        return false;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b)
        return false;
    size_t o = 0;
    for (const char *q = a; q < b && o + 1 < cap;) {
        static const struct { const char *e; char c; } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;
        for (size_t i = 0; i < KS_ARRAY_LEN(ents) && !done; i++) {
            size_t l = strlen(ents[i].e);
            if ((size_t)(b - q) >= l && !memcmp(q, ents[i].e, l)) {
                out[o++] = ents[i].c;
                q += l;
                done = true;
            }
        }
        if (!done)
            out[o++] = *q++;
    }
    out[o] = 0;
    return true;
}

/* Name of the root element, skipping the XML declaration and a BOM. */
static bool xml_root(const char *p, size_t n, char *out, size_t cap)
{
    const char *end = p + n;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt || lt + 1 >= end)
            return false;
        if (lt[1] == '?' || lt[1] == '!') {
            p = lt + 2;
            continue;
        }
        size_t k = 0;
        for (const char *q = lt + 1; q < end && *q != '>' && *q != ' ' && *q != '/' && k + 1 < cap; q++)
            out[k++] = *q;
        out[k] = 0;
        return k > 0;
    }
    return false;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

typedef struct body {
    char *p;
    size_t n, cap, limit;
    bool over;
} body;

static size_t on_data(char *d, size_t sz, size_t nm, void *ud)
{
    body *b = ud;
    size_t n = sz * nm;
    if (b->n + n > b->limit) {
        b->over = true;
        return 0; /* abort: a page this big is not a listing */
    }
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

typedef struct prober {
    ks_engine *e;
    const cloud_probe_opts *o;
    pthread_mutex_t lock;       /* rate limiter, target queue, report */
    double next_slot;           /* monotonic seconds of the next allowed request */
    const char *const *urls;
    size_t n, next;
    FILE *report;
} prober;

static double now_s(void)
{
    return (double)ks__now_ns() / 1e9;
}

static void rate_wait(prober *p)
{
    if (p->o->rate <= 0)
        return;
    pthread_mutex_lock(&p->lock);
    double t = now_s(), slot = p->next_slot > t ? p->next_slot : t;
    p->next_slot = slot + 1.0 / p->o->rate;
    pthread_mutex_unlock(&p->lock);
    if (slot > t)
        usleep((useconds_t)((slot - t) * 1e6));
}

typedef struct resp {
    long status;
    body b;
    char ctype[128];
    long long length;
    CURLcode cc;
    char err[CURL_ERROR_SIZE];
} resp;

static size_t on_header(char *d, size_t sz, size_t nm, void *ud)
{
    resp *r = ud;
    size_t n = sz * nm;
    if (n > 13 && !strncasecmp(d, "Content-Type:", 13)) {
        size_t s = 13;
        while (s < n && d[s] == ' ')
            s++;
        size_t k = 0;
        while (s < n && d[s] != '\r' && d[s] != '\n' && k + 1 < sizeof r->ctype)
            r->ctype[k++] = d[s++];
        r->ctype[k] = 0;
    } else if (n > 15 && !strncasecmp(d, "Content-Length:", 15)) {
        r->length = strtoll(d + 15, NULL, 10);
    }
    return n;
}

static bool retryable(const resp *r)
{
    char code[64] = "";
    if (r->cc != CURLE_OK && r->cc != CURLE_WRITE_ERROR)
        return true;
    if (r->status == 429 || r->status == 503 || r->status == 500)
        return true;
    if (r->b.p && xml_text(r->b.p, r->b.p + r->b.n, "Code", code, sizeof code))
        return !strcmp(code, "ServerBusy") || !strcmp(code, "SlowDown") || !strcmp(code, "OperationTimedOut");
    return false;
}

/* One request with retries; resp is reset first. */
static void request(prober *p, CURL *c, const char *url, bool head, size_t limit, resp *r)
{
    for (int attempt = 0;; attempt++) {
        free(r->b.p);
        memset(r, 0, sizeof *r);
        r->b.limit = limit;
        r->length = -1;
        rate_wait(p);
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->o->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->o->connect_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is a verdict, not a hop */
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, p->o->insecure ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, p->o->insecure ? 0L : 2L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "kensa-probe/" KENSA_VERSION);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        r->cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (!retryable(r) || attempt >= p->o->retries)
            return;
        usleep((useconds_t)(200000u << attempt)); /* 0.2, 0.4, 0.8 s ... */
    }
}

/* ---- one target ------------------------------------------------------------------------ */

typedef struct verdict {
    const char *provider;
    char state[48];            /* listable / denied / not-found / public-access-not-permitted / error */
    char detail[256];
    uint64_t objects, bytes;
    bool truncated, readable;
    char names[NAMES_KEPT][160];
    size_t nnames;
    char ctypes[4][64];
    size_t nctypes;
    char first_key[512];
} verdict;

static void add_ctype(verdict *v, const char *ct)
{
    if (!ct || !*ct)
        return;
    for (size_t i = 0; i < v->nctypes; i++)
        if (!strcmp(v->ctypes[i], ct))
            return;
    if (v->nctypes < 4)
        snprintf(v->ctypes[v->nctypes++], sizeof v->ctypes[0], "%s", ct);
}

static void add_object(verdict *v, const char *name, long long size, const char *ct)
{
    v->objects++;
    if (size > 0)
        v->bytes += (uint64_t)size;
    if (v->nnames < NAMES_KEPT)
        snprintf(v->names[v->nnames++], sizeof v->names[0], "%s", name);
    if (!v->first_key[0])
        snprintf(v->first_key, sizeof v->first_key, "%s", name);
    add_ctype(v, ct);
}

/* Parses one listing page; returns false with v->state set on an error body. */
static bool parse_page(verdict *v, const resp *r, bool azure, char *next, size_t cap)
{
    char root[64] = "", code[96] = "";
    next[0] = 0;
    if (!r->b.p || !xml_root(r->b.p, r->b.n, root, sizeof root)) {
        snprintf(v->state, sizeof v->state, "error");
        snprintf(v->detail, sizeof v->detail, "HTTP %ld, body is not XML", r->status);
        return false;
    }
    const char *end = r->b.p + r->b.n;
    if (!strcmp(root, "Error")) {
        xml_text(r->b.p, end, "Code", code, sizeof code);
        snprintf(v->detail, sizeof v->detail, "HTTP %ld %s", r->status, code);
        const char *st = !strcmp(code, "PublicAccessNotPermitted") ? "public-access-not-permitted"
                         : !strcmp(code, "ResourceNotFound") || !strcmp(code, "ContainerNotFound") ||
                                 !strcmp(code, "NoSuchBucket")
                             ? (azure ? "private-or-missing" : "not-found")
                         : !strcmp(code, "AccessDenied") || !strcmp(code, "AuthorizationFailure") ||
                                 !strcmp(code, "NoAuthenticationInformation") || !strcmp(code, "AuthenticationFailed") ||
                                 !strcmp(code, "AllAccessDisabled")
                             ? "denied"
                             : "error";
        snprintf(v->state, sizeof v->state, "%s", st);
        return false;
    }
    const char *want = azure ? "EnumerationResults" : "ListBucketResult";
    if (strcmp(root, want)) {
        snprintf(v->state, sizeof v->state, "error");
        snprintf(v->detail, sizeof v->detail, "HTTP %ld, unexpected XML root <%s>", r->status, root);
        return false;
    }
    const char *item = azure ? "<Blob>" : "<Contents>", *item_end = azure ? "</Blob>" : "</Contents>";
    for (const char *p = r->b.p; (p = memmem(p, (size_t)(end - p), item, strlen(item))) != NULL;) {
        const char *q = memmem(p, (size_t)(end - p), item_end, strlen(item_end));
        if (!q)
            break;
        char name[512] = "", size[32] = "", ct[64] = "";
        xml_text(p, q, azure ? "Name" : "Key", name, sizeof name);
        xml_text(p, q, azure ? "Content-Length" : "Size", size, sizeof size);
        if (azure)
            xml_text(p, q, "Content-Type", ct, sizeof ct);
        add_object(v, name, strtoll(size, NULL, 10), ct);
        p = q + strlen(item_end);
    }
    if (azure)
        xml_text(r->b.p, end, "NextMarker", next, cap);
    else {
        char trunc[16] = "";
        xml_text(r->b.p, end, "IsTruncated", trunc, sizeof trunc);
        if (!strcmp(trunc, "true"))
            xml_text(r->b.p, end, "NextContinuationToken", next, cap);
    }
    snprintf(v->state, sizeof v->state, "listable");
    /* A page cut short (no closing root element) lists only part: the
     * counts are a floor and the listing stops here. */
    char close_tag[64];
    snprintf(close_tag, sizeof close_tag, "</%s>", want);
    if (!memmem(r->b.p, r->b.n, close_tag, strlen(close_tag))) {
        v->truncated = true;
        snprintf(v->detail, sizeof v->detail, "listing page cut short (no %s): counts are a floor", close_tag);
        next[0] = 0;
    } else if (strlen(next) + 1 >= cap) {
        /* xml_text cut the marker to fit: asking with it would list
         * something else. Stop, and say so. */
        v->truncated = true;
        snprintf(v->detail, sizeof v->detail, "continuation marker longer than %zu bytes: listing "
                 "stopped, counts are a floor", cap - 2);
        next[0] = 0;
    }
    return true;
}

static void url_escape(CURL *c, const char *s, char *out, size_t cap)
{
    char *e = curl_easy_escape(c, s, 0);
    snprintf(out, cap, "%s", e ? e : "");
    curl_free(e);
}

static bool is_azure_host(const char *url)
{
    return strstr(url, ".blob.core.windows.net") || strstr(url, "devstoreaccount1");
}

static void list_target(prober *p, CURL *c, const char *url, bool azure, verdict *v)
{
    char next[1024] = "", full[8192], esc[3 * sizeof next + 1];
    uint64_t *seen = calloc((size_t)KS_MAX(p->o->max_pages, 1), sizeof *seen);
    resp r = {0};
    const char *sep = strchr(url, '?') ? "&" : "?";
    v->provider = azure ? "azure" : "aws";
    for (int page = 0; page < p->o->max_pages; page++) {
        if (azure)
            snprintf(full, sizeof full, "%s%srestype=container&comp=list&maxresults=%d", url, sep, p->o->page_size);
        else
            snprintf(full, sizeof full, "%s%slist-type=2&max-keys=%d", url, sep, p->o->page_size);
        if (next[0]) {
            url_escape(c, next, esc, sizeof esc);
            size_t l = strlen(full);
            snprintf(full + l, sizeof full - l, azure ? "&marker=%s" : "&continuation-token=%s", esc);
        }
        request(p, c, full, false, MAX_BODY, &r);
        if (r.cc != CURLE_OK && !(r.cc == CURLE_WRITE_ERROR && r.b.over)) {
            snprintf(v->state, sizeof v->state, "error");
            snprintf(v->detail, sizeof v->detail, "%s", r.err[0] ? r.err : curl_easy_strerror(r.cc));
            break;
        }
        if (r.b.over) {
            snprintf(v->state, sizeof v->state, "error");
            snprintf(v->detail, sizeof v->detail, "listing page larger than 16 MiB");
            break;
        }
        if (!parse_page(v, &r, azure, next, sizeof next))
            break;
        if (!next[0])
            break;
        /* A server that hands out a marker it gave before would have us
         * count the same pages again (inflated counts) until max_pages. */
        uint64_t h = ks__hash(next, strlen(next));
        bool again = false;
        for (int k = 0; seen && k < page && !again; k++)
            again = seen[k] == h;
        if (again) {
            v->truncated = true;
            snprintf(v->detail, sizeof v->detail, "the server repeated a continuation marker after "
                     "page %d: listing stopped, counts are of distinct pages", page + 1);
            break;
        }
        if (seen)
            seen[page] = h;
        if (page + 1 == p->o->max_pages)
            v->truncated = true;
    }
    free(seen);
    free(r.b.p);
}

static void url_path(const char *name, char *esc, size_t cap);

/* HEAD of the first object: readable anonymously? */
static void read_check(prober *p, CURL *c, const char *url, verdict *v)
{
    char full[4096], esc[1024];
    resp r = {0};
    if (!v->first_key[0])
        return;
    char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    url_path(v->first_key, esc, sizeof esc);
    snprintf(full, sizeof full, "%.*s/%s", (int)base, url, esc);
    request(p, c, full, true, 0, &r);
    v->readable = r.cc == CURLE_OK && r.status == 200;
    if (v->readable)
        add_ctype(v, r.ctype);
    free(r.b.p);
}

/* An object name as a URL path: its slashes kept, everything else that is
 * not unreserved percent-escaped (a name is server-chosen text). */
static void url_path(const char *name, char *esc, size_t cap)
{
    size_t o = 0;
    for (const char *k = name; *k && o + 4 < cap; k++) {
        unsigned char ch = (unsigned char)*k;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~/", ch))
            esc[o++] = (char)ch;
        else
            o += (size_t)snprintf(esc + o, cap - o, "%%%02X", ch);
    }
    esc[o] = 0;
}

/* A server-chosen object name as a local file name: only [A-Za-z0-9._-]
 * kept (no '/', no "..", no control characters, no leading dot), prefixed
 * with its index so two names cannot collide into one file. */
static void safe_name(const char *name, size_t idx, char *out, size_t cap)
{
    size_t k = (size_t)snprintf(out, cap, "%03zu-", idx);
    for (const char *s = name; *s && k + 1 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || (ch == '.' && k > 4 && out[k - 1] != '.');
        out[k++] = ok ? (char)ch : '_';
    }
    out[k] = 0;
}

static void fetch_samples(prober *p, CURL *c, const char *url, verdict *v)
{
    char full[8192], path[4096], esc[3 * sizeof v->names[0] + 1];
    if (p->o->fetch_sample <= 0 || v->nnames == 0)
        return;
    mkdir(p->o->sample_dir, 0700);
    for (int i = 0; i < p->o->fetch_sample && (size_t)i < v->nnames; i++) {
        resp r = {0};
        char *q = strchr(url, '?');
        url_path(v->names[i], esc, sizeof esc);
        snprintf(full, sizeof full, "%.*s/%s", (int)(q ? (size_t)(q - url) : strlen(url)), url, esc);
        request(p, c, full, false, SAMPLE_MAX, &r);
        if (r.cc == CURLE_OK && r.status == 200 && r.b.p) {
            char safe[200];
            safe_name(v->names[i], (size_t)i, safe, sizeof safe);
            snprintf(path, sizeof path, "%s/%s", p->o->sample_dir, safe);
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd >= 0) {
                if (write(fd, r.b.p, r.b.n) != (ssize_t)r.b.n) {
                    ks_loc loc = KS_LOC_NONE;
                    loc.path = path;
                    ks__diag(p->e, KS_DIAG_WARN, KS_EIO, "cloud-probe", &loc, "sample not written in full");
                }
                close(fd);
            }
        }
        free(r.b.p);
    }
}

/* Does the URL name one object rather than a container/bucket? Path
 * segments after the host: Azure container/blob (emulators add the account
 * first), S3 path-style bucket/key or virtual-host key. */
static bool looks_like_object(const char *url, bool azure)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    const char *path = strchr(h, '/');
    size_t hostn = path ? (size_t)(path - h) : strlen(h);
    int segs = 0;
    for (const char *q = path; q && *q && *q != '?'; q++)
        if (*q == '/' && q[1] && q[1] != '?' && q[1] != '/')
            segs++;
    bool vhost_s3 = !azure && memmem(h, hostn, ".s3", 3) != NULL;
    bool emulator = azure && strstr(url, "devstoreaccount1");
    int need = azure ? (emulator ? 3 : 2) : (vhost_s3 ? 1 : 2);
    return segs >= need;
}

/* A blob/object URL the listing refused: can it be read anonymously? */
static void direct_read(prober *p, CURL *c, const char *url, verdict *v)
{
    resp r = {0};
    request(p, c, url, true, 0, &r);
    if (r.cc == CURLE_OK && r.status == 200) {
        v->readable = true;
        add_ctype(v, r.ctype);
        if (r.length > 0)
            v->bytes = (uint64_t)r.length;
    }
    free(r.b.p);
}

/* One probe finding: the URL as evidence, the verdict's facts as details. */
static void probe_finding(prober *p, const char *id, const char *title, const char *desc, ks_severity sev,
                          const char *url, const char *verdict_word, const char *provider, uint64_t count,
                          const ks_kv *det, size_t ndet)
{
    ks_kv matched[3] = {{"provider", provider}, {"url", url}, {"verdict", verdict_word}};
    ks_evidence ev = {url, "probe", 0, 0, UINT64_MAX, ks__wall_ns()};
    static const char *const tech[] = {"T1530"};
    ks_finding f = {0};
    f.rule_id = id;
    f.title = title;
    f.description = desc;
    f.detector = "cloud-probe";
    f.severity = sev;
    f.techniques = tech;
    f.ntechniques = 1;
    f.first = f.last = KS_TIME_NONE;
    f.evidence = &ev;
    f.nevidence = 1;
    f.event_count = count;
    f.matched = matched;
    f.nmatched = 3;
    f.details = det;
    f.ndetails = ndet;
    ks__emit(p->e, &f);
}

/* "a, b, c" of the content types seen. */
static void join_ctypes(const verdict *v, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < v->nctypes; i++)
        o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s%s", i ? ", " : "", v->ctypes[i]);
}

static void emit_read(prober *p, const char *url, const verdict *v)
{
    char size[64], ctypes[300];
    join_ctypes(v, ctypes, sizeof ctypes);
    snprintf(size, sizeof size, "%llu bytes", (unsigned long long)v->bytes);
    ks_kv det[3] = {{"listing", v->state}, {"size", size}, {"content_types", ctypes}};
    probe_finding(p, "kensa.cloud.probe.anonymous_read", "Stored object readable without credentials",
                  "The container/bucket does not list, but this object is served to anonymous clients: anyone "
                  "who knows or guesses names can read them ('blob' public access level).",
                  KS_SEV_HIGH, url, "anonymous-read", v->provider, 1, det, 3);
}

static void emit(prober *p, const char *url, const verdict *v)
{
    char cnt[64], size[64], names[1024] = "", ctypes[300];
    size_t o = 0;
    for (size_t i = 0; i < v->nnames; i++)
        o += (size_t)snprintf(names + o, o < sizeof names ? sizeof names - o : 0, "%s%s", i ? ", " : "", v->names[i]);
    join_ctypes(v, ctypes, sizeof ctypes);
    snprintf(cnt, sizeof cnt, "%s%llu", v->truncated ? ">= " : "", (unsigned long long)v->objects);
    snprintf(size, sizeof size, "%llu bytes", (unsigned long long)v->bytes);
    ks_kv det[5] = {{"objects", cnt}, {"size_seen", size}, {"sample_names", names}, {"content_types", ctypes},
                    {"anonymous_read", v->readable ? "yes" : "not confirmed"}};
    probe_finding(p, "kensa.cloud.probe.anonymous_list", "Storage open to anonymous listing",
                  "An anonymous client listed this container/bucket: everything in it is public (BlueBleed). "
                  "Turn off anonymous access now and find out who downloaded what from the access logs.",
                  KS_SEV_CRITICAL, url, v->state, v->provider, v->objects, det, 5);
}

static void probe_one(prober *p, CURL *c, const char *url)
{
    verdict v;
    memset(&v, 0, sizeof v);
    const char *prov = p->o->provider;
    bool azure = prov ? !strcmp(prov, "azure") : is_azure_host(url);
    bool aws = prov ? !strcmp(prov, "s3") : strstr(url, "amazonaws.com") != NULL;
    list_target(p, c, url, azure || !aws, &v);
    if (!prov && !azure && !aws && strcmp(v.state, "listable")) {
        /* unknown host: Azure said no; ask the S3 way */
        verdict s3;
        memset(&s3, 0, sizeof s3);
        list_target(p, c, url, false, &s3);
        if (!strcmp(s3.state, "listable") || !strcmp(v.state, "error"))
            v = s3;
    }
    if (!strcmp(v.state, "listable")) {
        read_check(p, c, url, &v);
        fetch_samples(p, c, url, &v);
        emit(p, url, &v);
    } else {
        /* a blob/object URL does not list; it may still be readable */
        if (looks_like_object(url, !strcmp(v.provider, "azure")))
            direct_read(p, c, url, &v);
        if (v.readable) {
            emit_read(p, url, &v);
        } else if (!strcmp(v.state, "error")) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = url;
            ks__diag(p->e, KS_DIAG_WARN, KS_ENET, "cloud-probe", &loc, "%s", v.detail);
        }
    }
    if (p->report) {
        /* The detail holds server text (an XML root name, an error code)
         * and the URL user text: neither may drive the terminal. */
        ks_buf line = KS_BUF_INIT;
        ks__buf_printf(&line, "%-28s %-6s objects=%s%llu bytes=%llu read=%s  ", v.state, v.provider,
                       v.truncated ? ">=" : "", (unsigned long long)v.objects, (unsigned long long)v.bytes,
                       v.readable ? "yes" : "-");
        ks__buf_add_term(&line, url, strlen(url));
        ks__buf_adds(&line, "  ");
        ks__buf_add_term(&line, v.detail, strlen(v.detail));
        ks__buf_addc(&line, '\n');
        pthread_mutex_lock(&p->lock);
        if (line.p)
            fputs(line.p, p->report);
        pthread_mutex_unlock(&p->lock);
        ks__buf_release(&line);
    }
}

static void *worker(void *arg)
{
    prober *p = arg;
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next < p->n ? p->next++ : SIZE_MAX;
        pthread_mutex_unlock(&p->lock);
        if (i == SIZE_MAX)
            break;
        probe_one(p, c, p->urls[i]);
    }
    curl_easy_cleanup(c);
    return NULL;
}

int ks__cloud_probe(ks_engine *e, const char *const *urls, size_t n, const cloud_probe_opts *o, FILE *report)
{
    prober p = {.e = e, .o = o, .urls = urls, .n = n, .report = report};
    int nt = o->concurrency > 0 ? KS_MIN(o->concurrency, 64) : 1;
    pthread_t th[64];
    int started = 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return KS_ENET;
    pthread_mutex_init(&p.lock, NULL);
    for (int i = 0; i < nt && (size_t)i < n; i++)
        if (pthread_create(&th[i], NULL, worker, &p) == 0)
            started++;
    if (!started && n)
        worker(&p);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.lock);
    curl_global_cleanup();
    return KS_OK;
}
