/* SPDX-License-Identifier: Apache-2.0
 *
 * The "exchange" detector: one correlated timeline per attacking source for
 * the on-premises Exchange exploitation chains (ProxyLogon, ProxyShell,
 * ProxyNotShell), joined with host-level traces and web shell files.
 *
 * The single-event signals are kensa's Sigma rules in rules/sigma/exchange/
 * (they run in the Sigma engine and give one finding per rule). What Sigma
 * cannot express is the join this file does: requests from IIS W3C logs
 * (c-ip) and Exchange HttpProxy logs (ClientIpAddress) are folded per
 * source into stages — probe, SSRF, configuration write, web shell use —
 * while host-level evidence without a client address (ECP server log
 * Set-*VirtualDirectory, OAB generator "Download failed", Sysmon file
 * creation of .aspx in Exchange web roots, w3wp.exe spawning a shell, UM
 * deserialisation errors) and web shell files found by the file detectors
 * (detectors "yara" and "ioc", listed before this one in plugins.def, so
 * their findings are stored when finish() runs) are attached to every source active the same day.
 * The result is one finding per source: "probe -> SSRF -> shell write ->
 * shell use", with the CVEs and the first example of each stage.
 *
 * Known web shell names (MSTIC's March 2021 IOC feed or any list of paths)
 * load at run time from the "exchange.ioc" option, never from the source
 * tree. Memory is bounded: at most MAX_SOURCES sources and MAX_HOST host
 * entries are kept; the rest are counted.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kensa_int.h"

#define MAX_SOURCES 50000
#define MAX_HOST 256
#define MAX_IOC_NAMES 4096
#define DAY_NS (86400ll * 1000000000ll)

enum stage {
    ST_PROBE = 0,   /* /ecp/y.js-style requests for files that do not exist */
    ST_SSRF,        /* CVE-2021-26855: X-BEResource cookies, ServerInfo~ anchors */
    ST_PROXYSHELL,  /* CVE-2021-34473 family: autodiscover.json?@.../mapi|powershell */
    ST_NOTSHELL,    /* CVE-2022-41040: the same with authentication + PowerShell */
    ST_WRITE,       /* CVE-2021-27065/26858: ECP config / OAB / DDI SetObject */
    ST_SHELL_WRITE, /* a script file appears in an Exchange web root */
    ST_SHELL_USE,   /* requests to it, or w3wp.exe running a shell */
    ST_UM,          /* CVE-2021-26857: UM deserialisation */
    NSTAGES
};

static const char *const stage_names[NSTAGES] = {
    "probe", "ssrf", "proxyshell", "proxynotshell", "config-write", "shell-write", "shell-use",
    "um-deserialisation"};
static const char *const stage_cves[NSTAGES] = {
    "", "CVE-2021-26855", "CVE-2021-34473,CVE-2021-34523,CVE-2021-31207",
    "CVE-2022-41040,CVE-2022-41082", "CVE-2021-27065,CVE-2021-26858", "", "", "CVE-2021-26857"};

typedef struct hit {
    int64_t t;              /* first time this stage was seen */
    ks_evidence ev;         /* its evidence (path in the state arena) */
    char what[160];         /* short description: method + URL, file, ... */
    char file[64];          /* shell-write: the file's base name (joins shell URLs) */
    uint64_t count;
} hit;

typedef struct source {
    char name[64];          /* client address */
    hit st[NSTAGES];        /* count == 0: stage not seen */
    int64_t first, last;
    char shell_url[96];     /* first web shell URL used: later requests to it count */
} source;

typedef struct xstate {
    ks_map *srcs;           /* address -> source* */
    hit host[MAX_HOST];     /* host-level hits (stage in .ev.record's place: see hstage) */
    int hstage[MAX_HOST];
    size_t nhost;
    uint64_t dropped;
    ks_arena *arena;        /* evidence paths */
} xstate;

typedef struct xdet {
    ks_engine *e;
    char **ioc;             /* known shell file names, lowercase */
    size_t nioc;
    xstate total;
    pthread_mutex_t lock;
    struct shell_file *shell;  /* web shell files the file detectors found */
    size_t nshell, capshell;
} xdet;

/* A file finding under a web root: its first time and one evidence (path
 * and format owned). */
typedef struct shell_file {
    int64_t first;
    ks_evidence ev;
} shell_file;

typedef struct xws {
    xdet *d;
    xstate st;
} xws;

/* ---- small string helpers ------------------------------------------------------ */

/* Field names come from the field schema (engine/fields.def): IIS W3C and
 * Exchange HttpProxy names, EVTX paths and flat JSON exports of each
 * concept are one canonical field there, resolved once per event. Only
 * string values count (as they always have here). */
#define get(f) ks__field_str(ev, KS_F_##f)

static inline int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool has_ci(ks_slice s, const char *needle)
{
    return s.p && ks__memmem_ci(s.p, s.n, needle, strlen(needle)) != NULL;
}

/* The first/last byte is compared inline: most calls fail right there. */
static bool eq_ci(ks_slice s, const char *lit)
{
    size_t k = strlen(lit);
    return s.p && s.n == k && (!k || lower((unsigned char)s.p[0]) == lower((unsigned char)lit[0])) &&
           ks__ieq(s.p, s.n, lit, k);
}

static bool prefix_ci(ks_slice s, const char *lit)
{
    size_t k = strlen(lit);
    return s.p && s.n >= k && (!k || lower((unsigned char)s.p[0]) == lower((unsigned char)lit[0])) &&
           ks__ieq(s.p, k, lit, k);
}

static bool suffix_ci(ks_slice s, const char *lit)
{
    size_t k = strlen(lit);
    return s.p && s.n >= k &&
           (!k || lower((unsigned char)s.p[s.n - 1]) == lower((unsigned char)lit[k - 1])) &&
           ks__ieq(s.p + s.n - k, k, lit, k);
}

static ks_slice basename_of(ks_slice s)
{
    for (size_t i = s.n; i > 0; i--)
        if (s.p[i - 1] == '/' || s.p[i - 1] == '\\') {
            ks_slice b = {s.p + i, s.n - i};
            return b;
        }
    return s;
}

/* Stock .aspx pages of OWA/ECP auth folders that legitimately take POSTs. */
static const char *const stock_pages[] = {"logon.aspx", "logoff.aspx", "errorfe.aspx",
                                          "expiredpassword.aspx", "signout.aspx",
                                          "timeoutlogout.aspx", "frowny.aspx", "owaauth.dll"};

static bool script_ext(ks_slice s)
{
    if (!s.n)
        return false;
    int last = lower((unsigned char)s.p[s.n - 1]);
    if (last != 'x' && last != 'p')
        return false;
    return suffix_ci(s, ".aspx") || suffix_ci(s, ".ashx") || suffix_ci(s, ".asp") ||
           suffix_ci(s, ".asmx");
}

static bool web_root_dir(ks_slice s)
{
    return has_ci(s, "/aspnet_client/") || has_ci(s, "/owa/auth/") || has_ci(s, "/ecp/auth/") ||
           has_ci(s, "\\aspnet_client\\") || has_ci(s, "\\owa\\auth\\") ||
           has_ci(s, "\\ecp\\auth\\") || has_ci(s, "\\inetpub\\wwwroot\\");
}

static bool known_shell(const xdet *d, ks_slice path)
{
    ks_slice b = basename_of(path);
    for (size_t i = 0; i < d->nioc; i++)
        if (ks__ieq(b.p, b.n, d->ioc[i], strlen(d->ioc[i])))
            return true;
    return false;
}

/* ---- state ------------------------------------------------------------------------ */

static int state_init(xstate *s)
{
    memset(s, 0, sizeof *s);
    s->srcs = ks__map_new(64);
    s->arena = ks__arena_new(16384, (size_t)64 << 20);
    return s->srcs && s->arena ? KS_OK : KS_ENOMEM;
}

static void state_release(xstate *s)
{
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    if (s->srcs) {
        while (ks__map_iter(s->srcs, &i, &k, &n, &v))
            free((source *)(uintptr_t)*v);
        ks__map_free(s->srcs);
    }
    ks__arena_free(s->arena);
}

static void hit_set(xstate *s, hit *h, int64_t t, const ks_evidence *ev, const char *what,
                    uint64_t count)
{
    /* The earliest example wins; ties go to the smaller (path, line) so the
     * result does not depend on which worker saw what first. */
    bool earlier = h->count == 0 || (t != KS_TIME_NONE && (h->t == KS_TIME_NONE || t < h->t));
    if (!earlier && h->count && t == h->t) {
        int c = strcmp(ev->path ? ev->path : "", h->ev.path ? h->ev.path : "");
        earlier = c < 0 || (c == 0 && ev->line < h->ev.line);
    }
    if (earlier) {
        h->t = t;
        h->ev = *ev;
        h->ev.path = ev->path ? ks__arena_strndup(s->arena, ev->path, strlen(ev->path)) : NULL;
        h->ev.format = ev->format; /* static strings of the inputs */
        snprintf(h->what, sizeof h->what, "%s", what);
    }
    h->count += count;
}

static source *source_get(xstate *s, const char *name, size_t n)
{
    n = KS_MIN(n, (size_t)63);
    uint64_t *slot = ks__map_get(s->srcs, name, n);
    if (slot)
        return (source *)(uintptr_t)*slot;
    if (ks__map_count(s->srcs) >= MAX_SOURCES) {
        s->dropped++;
        return NULL;
    }
    source *src = calloc(1, sizeof *src);
    if (!src)
        return NULL;
    slot = ks__map_slot(s->srcs, name, n, true);
    if (!slot) {
        free(src);
        return NULL;
    }
    memcpy(src->name, name, n);
    src->first = src->last = KS_TIME_NONE;
    *slot = (uint64_t)(uintptr_t)src;
    return src;
}

static void source_hit(xstate *s, ks_slice who, int st, const ks_event *ev, const char *what,
                       ks_slice url)
{
    if (!who.n)
        return;
    source *src = source_get(s, who.p, who.n);
    if (!src)
        return;
    ks_evidence e;
    ks__evidence_from_event(&e, ev);
    hit_set(s, &src->st[st], ev->time, &e, what, 1);
    if (st == ST_SHELL_USE && !src->shell_url[0] && url.n && url.n < sizeof src->shell_url) {
        memcpy(src->shell_url, url.p, url.n);
        src->shell_url[url.n] = 0;
    }
    if (ev->time != KS_TIME_NONE) {
        if (src->first == KS_TIME_NONE || ev->time < src->first)
            src->first = ev->time;
        if (src->last == KS_TIME_NONE || ev->time > src->last)
            src->last = ev->time;
    }
}

static void set_file(xstate *s, const char *what, ks_slice base)
{
    for (size_t i = 0; i < s->nhost; i++)
        if (strcmp(s->host[i].what, what) == 0 && base.n < sizeof s->host[i].file) {
            memcpy(s->host[i].file, base.p, base.n);
            s->host[i].file[base.n] = 0;
        }
}

static void host_add(xstate *s, int st, const ks_evidence *e, int64_t t, const char *what,
                     uint64_t count)
{
    /* One entry per stage and description: repeated lines only count. */
    for (size_t i = 0; i < s->nhost; i++)
        if (s->hstage[i] == st && strcmp(s->host[i].what, what) == 0) {
            hit_set(s, &s->host[i], t, e, what, count);
            return;
        }
    if (s->nhost == MAX_HOST) {
        s->dropped++;
        return;
    }
    memset(&s->host[s->nhost], 0, sizeof s->host[0]);
    s->hstage[s->nhost] = st;
    hit_set(s, &s->host[s->nhost], t, e, what, count);
    s->nhost++;
}

static void host_hit(xstate *s, int st, const ks_evidence *e, int64_t t, const char *what)
{
    host_add(s, st, e, t, what, 1);
}

static void host_merge(xstate *into, int st, const hit *h)
{
    host_add(into, st, &h->ev, h->t, h->what, h->count);
    if (h->file[0]) {
        ks_slice b = {h->file, strlen(h->file)};
        set_file(into, h->what, b);
    }
}

/* ---- classification ------------------------------------------------------------------ */

static void what_url(char *buf, size_t cap, ks_slice m, ks_slice stem, ks_slice q)
{
    snprintf(buf, cap, "%.*s %.*s%s%.*s", (int)KS_MIN(m.n, 10), m.p ? m.p : "",
             (int)KS_MIN(stem.n, 100), stem.p ? stem.p : "", q.n ? "?" : "",
             (int)KS_MIN(q.n, 40), q.p ? q.p : "");
}

/* One web request (IIS or HttpProxy). */
static void classify_request(xws *w, const ks_event *ev, ks_slice who, ks_slice m, ks_slice stem,
                             ks_slice q, ks_slice status, ks_slice cookie, ks_slice user,
                             ks_slice anchor, bool httpproxy, ks_slice authuser)
{
    xstate *s = &w->st;
    unsigned hits = 0; /* stages this request shows; the text is built only then */
    /* Both exploit cookies route to "host~version": no '~', no SSRF cookie. */
    bool tilde = cookie.n && memchr(cookie.p, '~', cookie.n);
    if ((tilde && (has_ci(cookie, "X-AnonResource-Backend=") || has_ci(cookie, "X-BEResource="))) ||
        (httpproxy && authuser.n == 0 && prefix_ci(anchor, "ServerInfo~") &&
         memchr(anchor.p, '/', anchor.n)))
        hits |= 1u << ST_SSRF;
    if (prefix_ci(stem, "/ecp/") && suffix_ci(stem, ".js") && stem.n <= 10)
        hits |= 1u << ST_PROBE; /* /ecp/y.js, /ecp/x.js: no such files */
    else if (prefix_ci(stem, "/owa/auth/Current/themes/resources/") && eq_ci(m, "POST"))
        hits |= 1u << ST_PROBE;
    if (eq_ci(stem, "/autodiscover/autodiscover.json") &&
        (memchr(q.p ? q.p : "", '@', q.n) || has_ci(q, "X-Rps-CAT="))) {
        bool ps = has_ci(q, "powershell");
        if (ps && user.n && !eq_ci(user, "anonymous"))
            hits |= 1u << ST_NOTSHELL;
        else if (has_ci(q, "/mapi/nspi") || ps || has_ci(q, "/ews/") || has_ci(q, "X-Rps-CAT=") ||
                 has_ci(q, "Email=autodiscover/autodiscover.json"))
            hits |= 1u << ST_PROXYSHELL;
    } else if (prefix_ci(stem, "/powershell") && has_ci(q, "X-Rps-CAT=")) {
        hits |= 1u << ST_PROXYSHELL;
    }
    if (eq_ci(m, "POST") && has_ci(stem, "/ecp/DDI/DDIService.svc/SetObject") &&
        (has_ci(q, "OABVirtualDirectory") || has_ci(q, "ResetOAB")))
        hits |= 1u << ST_WRITE;
    if (script_ext(stem) && web_root_dir(stem)) {
        ks_slice b = basename_of(stem);
        bool stock = false;
        for (size_t i = 0; i < KS_ARRAY_LEN(stock_pages) && !stock; i++)
            stock = eq_ci(b, stock_pages[i]);
        bool ok = status.n == 0 || eq_ci(status, "200");
        if (ok && ((!stock && eq_ci(m, "POST")) || known_shell(w->d, stem)))
            hits |= 1u << ST_SHELL_USE;
    }
    if (script_ext(stem) && (has_ci(q, "proxy&port=") || (has_ci(q, "port=") && has_ci(q, "ip="))))
        hits |= 1u << ST_SHELL_USE; /* Tunna-style tunnel through a shell */
    else if (script_ext(stem) && who.n) {
        /* Every later request of the same client to a shell it used counts. */
        uint64_t *slot = ks__map_get(s->srcs, who.p, KS_MIN(who.n, (size_t)63));
        source *src = slot ? (source *)(uintptr_t)*slot : NULL;
        if (src && src->shell_url[0] && ks__ieq(stem.p, stem.n, src->shell_url, strlen(src->shell_url)))
            hits |= 1u << ST_SHELL_USE;
    }
    if (!hits)
        return;
    char what[160];
    what_url(what, sizeof what, m, stem, q);
    for (int st = 0; st < NSTAGES; st++)
        if (hits & (1u << st))
            source_hit(s, who, st, ev, what, stem);
}

static int x_on_event(void *wsp, const ks_event *ev)
{
    xws *w = wsp;
    char what[160];
    ks_evidence e;
    /* W3C and HttpProxy requests are told apart by the source of the path */
    const char *url_src = ks__field_source(ev, KS_F_URL_PATH);
    bool w3c = url_src && !strcmp(url_src, "w3c"), proxy = url_src && !strcmp(url_src, "exchange");
    if (w3c) {
        ks_slice stem = get(URL_PATH);
        ks_slice who = get(SOURCE_IP);
        /* Behind a load balancer c-ip is the balancer: the client is the
         * first X-Forwarded-For entry when IIS logs that header. */
        ks_slice xff = get(FORWARDED_FOR);
        if (xff.n) {
            const char *comma = memchr(xff.p, ',', xff.n);
            size_t k = comma ? (size_t)(comma - xff.p) : xff.n;
            while (k && xff.p[k - 1] == ' ')
                k--;
            if (k) {
                who.p = xff.p;
                who.n = k;
            }
        }
        classify_request(w, ev, who, get(HTTP_METHOD), stem, get(URL_QUERY), get(HTTP_STATUS),
                         get(HTTP_COOKIE), get(USER), (ks_slice){NULL, 0}, false, (ks_slice){NULL, 0});
        return KS_OK;
    }
    ks_slice ustem = proxy ? get(URL_PATH) : (ks_slice){NULL, 0};
    ks_slice anchor = get(ANCHOR_MAILBOX);
    if (ustem.p || anchor.p) {
        ks_slice q = get(URL_QUERY);
        if (q.n && q.p[0] == '?')
            q.p++, q.n--;
        classify_request(w, ev, get(SOURCE_IP), get(HTTP_METHOD), ustem, q, get(HTTP_STATUS),
                         (ks_slice){NULL, 0}, get(USER), anchor, true, get(USER));
        return KS_OK;
    }
    ks__evidence_from_event(&e, ev);
    ks_slice ed = get(EVENT_DATA);
    if (ed.p && has_ci(ed, "Set-") && has_ci(ed, "VirtualDirectory") &&
        (has_ci(ed, "ExternalUrl") || has_ci(ed, "InternalUrl")) &&
        (has_ci(ed, "<script") || has_ci(ed, "runat=") || has_ci(ed, "Page_Load") ||
         has_ci(ed, "eval("))) {
        /* Script in a URL: the web shell body, not an administrator's edit. */
        snprintf(what, sizeof what, "ECP %.*s", (int)KS_MIN(ed.n, 140), ed.p);
        host_hit(&w->st, ST_WRITE, &e, ev->time, what);
        return KS_OK;
    }
    ks_slice msg = get(MESSAGE);
    if (msg.p && has_ci(msg, "Download failed and temporary file")) {
        host_hit(&w->st, ST_WRITE, &e, ev->time, "OAB generator: Download failed and temporary file");
        return KS_OK;
    }
    /* Windows events (JSON exports or EVTX). */
    ks_slice tf = get(FILE_PATH);
    if (tf.p && script_ext(tf) && web_root_dir(tf)) {
        snprintf(what, sizeof what, "file created: %.*s", (int)KS_MIN(tf.n, 140), tf.p);
        host_hit(&w->st, ST_SHELL_WRITE, &e, ev->time, what);
        set_file(&w->st, what, basename_of(tf));
        return KS_OK;
    }
    ks_slice parent = get(PARENT_PROCESS);
    if (parent.p && suffix_ci(parent, "\\w3wp.exe")) {
        /* Only Exchange's application pools (any IIS web shell is the Sigma
         * rules' business, not this timeline's). */
        ks_slice pcl = get(PARENT_COMMAND_LINE);
        if (pcl.p && !has_ci(pcl, "MSExchange"))
            return KS_OK;
        ks_slice img = get(PROCESS);
        ks_slice cmd = get(COMMAND_LINE);
        if (suffix_ci(img, "\\cmd.exe") || suffix_ci(img, "\\powershell.exe") ||
            suffix_ci(img, "\\pwsh.exe") || suffix_ci(img, "\\whoami.exe") ||
            suffix_ci(img, "\\net.exe") || suffix_ci(img, "\\certutil.exe")) {
            snprintf(what, sizeof what, "w3wp.exe ran: %.*s", (int)KS_MIN(cmd.n, 130),
                     cmd.p ? cmd.p : "");
            host_hit(&w->st, ST_SHELL_USE, &e, ev->time, what);
        }
        return KS_OK;
    }
    ks_slice prov = get(PROVIDER);
    if (eq_ci(prov, "MSExchange Unified Messaging")) {
        for (size_t i = 0; i < ks_event_nfields(ev); i++) {
            const ks_field *f = ks_event_field(ev, i);
            if (f->v.type == KS_VSTR && has_ci(f->v.u.s, "System.InvalidCastException")) {
                host_hit(&w->st, ST_UM, &e, ev->time,
                         "MSExchange Unified Messaging: System.InvalidCastException");
                break;
            }
        }
    }
    return KS_OK;
}

/* ---- life cycle ------------------------------------------------------------------------ */

/* Known web shell names: any line holding a path (MSTIC CSV, one path per
 * line) contributes its file name when it ends in a script extension. */
static void load_ioc(xdet *d, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    if (!fp) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(d->e, KS_DIAG_WARN, KS_EIO, "exchange", &loc, "cannot read IOC file");
        return;
    }
    while (fgets(line, sizeof line, fp) && d->nioc < MAX_IOC_NAMES) {
        char *p = line;
        for (char *c = line; *c; c++)
            if (*c == ',' || *c == '\n' || *c == '\r' || *c == ';') {
                *c = 0;
                ks_slice s = {p, strlen(p)};
                if (script_ext(s) && (memchr(p, '\\', s.n) || memchr(p, '/', s.n))) {
                    ks_slice b = basename_of(s);
                    char *nm = ks__arena_strndup(ks__engine_arena(d->e), b.p, b.n);
                    char **grown = realloc(d->ioc, (d->nioc + 1) * sizeof *grown);
                    if (!nm || !grown)
                        break;
                    d->ioc = grown;
                    d->ioc[d->nioc++] = nm;
                }
                p = c + 1;
            }
    }
    fclose(fp);
}

static int x_create(ks_engine *e, void **out)
{
    xdet *d = calloc(1, sizeof *d);
    const char **iocs = NULL;
    if (!d)
        return KS_ENOMEM;
    d->e = e;
    pthread_mutex_init(&d->lock, NULL);
    /* Our own option, and the shared IOC list (its hash lines are ignored). */
    size_t n = ks__opt_list(e, "exchange.ioc", &iocs);
    for (size_t i = 0; i < n; i++)
        load_ioc(d, iocs[i]);
    n = ks__opt_list(e, "ioc", &iocs);
    for (size_t i = 0; i < n; i++)
        load_ioc(d, iocs[i]);
    if (state_init(&d->total) != KS_OK) {
        state_release(&d->total);
        free(d);
        return KS_ENOMEM;
    }
    *out = d;
    return KS_OK;
}

static int x_worker_new(void *det, ks_worker *w, void **out)
{
    xws *ws = calloc(1, sizeof *ws);
    KS_UNUSED(w);
    if (!ws)
        return KS_ENOMEM;
    ws->d = det;
    if (state_init(&ws->st) != KS_OK) {
        state_release(&ws->st);
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static void hit_merge(xstate *into, hit *dst, const hit *src)
{
    if (!src->count)
        return;
    uint64_t c = src->count;
    hit_set(into, dst, src->t, &src->ev, src->what, c);
}

static void x_worker_done(void *det, void *wsp)
{
    xdet *d = det;
    xws *w = wsp;
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    if (!w)
        return;
    pthread_mutex_lock(&d->lock);
    while (ks__map_iter(w->st.srcs, &i, &k, &n, &v)) {
        source *s = (source *)(uintptr_t)*v;
        source *t = source_get(&d->total, k, n);
        if (!t)
            continue;
        /* The shell URL used first across workers (ties: the smaller URL). */
        const hit *a = &t->st[ST_SHELL_USE], *b = &s->st[ST_SHELL_USE];
        bool take = s->shell_url[0] &&
                    (!t->shell_url[0] || (b->t != KS_TIME_NONE && (a->t == KS_TIME_NONE || b->t < a->t)) ||
                     (b->t == a->t && strcmp(s->shell_url, t->shell_url) < 0));
        if (take)
            memcpy(t->shell_url, s->shell_url, sizeof t->shell_url);
        for (int st = 0; st < NSTAGES; st++)
            hit_merge(&d->total, &t->st[st], &s->st[st]);
        if (s->first != KS_TIME_NONE && (t->first == KS_TIME_NONE || s->first < t->first))
            t->first = s->first;
        if (s->last != KS_TIME_NONE && (t->last == KS_TIME_NONE || s->last > t->last))
            t->last = s->last;
    }
    for (size_t h = 0; h < w->st.nhost; h++)
        host_merge(&d->total, w->st.hstage[h], &w->st.host[h]);
    d->total.dropped += w->st.dropped;
    pthread_mutex_unlock(&d->lock);
    state_release(&w->st);
    free(w);
}

/* Web shell files reported by the file detectors (YARA, IOC lists), taken
 * as they are emitted (the engine keeps only findings.keep findings, so
 * the store cannot be read back at finish) and joined in the order found
 * (hit_set breaks ties between files so workers' timing does not matter;
 * one file's detectors run in plugins.def order on one worker). */
#define MAX_SHELL_FILES 4096

static void x_on_finding(void *det, const ks_finding *f)
{
    xdet *d = det;
    if (!f->detector || (strcmp(f->detector, "yara") != 0 && strcmp(f->detector, "ioc") != 0))
        return;
    for (size_t k = 0; k < f->nevidence; k++) {
        const char *path = f->evidence[k].path;
        ks_slice p = {path, path ? strlen(path) : 0};
        if (!p.n || !web_root_dir(p))
            continue;
        if (d->nshell >= MAX_SHELL_FILES ||
            ks__grow(&d->shell, &d->capshell, d->nshell, sizeof *d->shell, 16) != KS_OK) {
            d->total.dropped++;
            return;
        }
        shell_file *sf = &d->shell[d->nshell];
        sf->first = f->first;
        /* where only: the finding's context strings die with the finding */
        sf->ev = (ks_evidence){.record = f->evidence[k].record, .line = f->evidence[k].line,
                               .offset = f->evidence[k].offset, .time = f->evidence[k].time};
        sf->ev.path = strdup(path);
        sf->ev.format = f->evidence[k].format ? strdup(f->evidence[k].format) : NULL;
        if (!sf->ev.path) {
            free((char *)sf->ev.format);
            return;
        }
        d->nshell++;
    }
}

static void join_file_findings(xdet *d)
{
    for (size_t i = 0; i < d->nshell; i++) {
        const shell_file *sf = &d->shell[i];
        ks_slice p = {sf->ev.path, strlen(sf->ev.path)};
        char what[160];
        snprintf(what, sizeof what, "web shell file: %.*s", (int)KS_MIN(p.n, 140), p.p);
        host_hit(&d->total, ST_SHELL_WRITE, &sf->ev, sf->first, what);
        set_file(&d->total, what, basename_of(p));
    }
}

static void time_span(int64_t t, int64_t *first, int64_t *last)
{
    if (t == KS_TIME_NONE)
        return;
    if (*first == KS_TIME_NONE || t < *first)
        *first = t;
    if (*last == KS_TIME_NONE || t > *last)
        *last = t;
}

/* Evidence list without repeats (two stages can share one record). */
static void add_evidence(ks_evidence *evs, size_t *ne, size_t cap, const ks_evidence *e)
{
    for (size_t i = 0; i < *ne; i++)
        if (evs[i].line == e->line && evs[i].record == e->record && evs[i].offset == e->offset &&
            (evs[i].path == e->path ||
             (evs[i].path && e->path && strcmp(evs[i].path, e->path) == 0)))
            return;
    if (*ne < cap)
        evs[(*ne)++] = *e;
}

static bool is_attack(const source *s)
{
    return s->st[ST_SSRF].count || s->st[ST_PROXYSHELL].count || s->st[ST_NOTSHELL].count ||
           s->st[ST_WRITE].count || s->st[ST_SHELL_USE].count;
}

/* The source a host trace belongs to: the latest ProxyLogon SSRF before it
 * (same day, an hour of clock skew allowed), else the latest attacking
 * source active before it; NULL = no web request explains it. */
static source *owner_of(source **v, size_t n, int64_t t, const char *file)
{
    source *best = NULL;
    /* A shell file belongs to the client that used a URL of that name. */
    for (size_t i = 0; file[0] && i < n && !best; i++) {
        ks_slice u = {v[i]->shell_url, strlen(v[i]->shell_url)};
        ks_slice b = basename_of(u);
        if (b.n && ks__ieq(b.p, b.n, file, strlen(file)))
            best = v[i];
    }
    for (int pass = 0; pass < 2 && !best; pass++)
        for (size_t i = 0; i < n; i++) {
            int64_t ref = pass == 0 ? v[i]->st[ST_SSRF].t : v[i]->first;
            if ((pass == 0 && !v[i]->st[ST_SSRF].count) || ref == KS_TIME_NONE)
                continue;
            if (t != KS_TIME_NONE && (ref > t + DAY_NS / 24 || t - ref > DAY_NS))
                continue;
            int64_t bref = best ? (pass == 0 ? best->st[ST_SSRF].t : best->first) : 0;
            if (!best || ref > bref)
                best = v[i];
        }
    return best;
}

static int cmp_source(const void *a, const void *b)
{
    return strcmp((*(source *const *)a)->name, (*(source *const *)b)->name);
}

#define MAX_DETAILS (NSTAGES + 40)

static void emit_source(xdet *d, const source *s, const int *howner, size_t self)
{
    xstate *T = &d->total;
    ks_arena *a = T->arena;
    ks_kv details[MAX_DETAILS];
    ks_evidence evs[NSTAGES + 32];
    const char *tech[2] = {"T1190", "T1505.003"};
    size_t nd = 0, ne = 0;
    uint64_t total = 0;
    int64_t stage_t[NSTAGES];
    bool present[NSTAGES] = {false};
    int64_t first = KS_TIME_NONE, last = KS_TIME_NONE;
    char chain[256] = "", cves[256] = "";
    for (int st = 0; st < NSTAGES; st++) {
        stage_t[st] = s->st[st].count ? s->st[st].t : KS_TIME_NONE;
        present[st] = s->st[st].count > 0;
    }
    for (size_t h = 0; h < T->nhost; h++)
        if (howner[h] == (int)self) {
            int st = T->hstage[h];
            present[st] = true;
            if (T->host[h].t != KS_TIME_NONE &&
                (stage_t[st] == KS_TIME_NONE || T->host[h].t < stage_t[st]))
                stage_t[st] = T->host[h].t;
        }
    /* Stages in time order (undated last): the chain as it happened. */
    int order[NSTAGES], no = 0;
    for (int st = 0; st < NSTAGES; st++)
        if (present[st])
            order[no++] = st;
    for (int x = 1; x < no; x++)
        for (int y = x; y > 0; y--) {
            int64_t ta = stage_t[order[y - 1]], tb = stage_t[order[y]];
            bool swap = ta == KS_TIME_NONE ? tb != KS_TIME_NONE : (tb != KS_TIME_NONE && tb < ta);
            if (!swap)
                break;
            int tmp = order[y];
            order[y] = order[y - 1];
            order[y - 1] = tmp;
        }
    for (int x = 0; x < no; x++) {
        int st = order[x];
        size_t cl = strlen(chain);
        snprintf(chain + cl, sizeof chain - cl, "%s%s", cl ? " -> " : "", stage_names[st]);
        if (stage_cves[st][0] && !strstr(cves, stage_cves[st])) {
            cl = strlen(cves);
            snprintf(cves + cl, sizeof cves - cl, "%s%s", cl ? "," : "", stage_cves[st]);
        }
        const hit *h = &s->st[st];
        char tb[48] = "undated";
        if (h->count) {
            if (h->t != KS_TIME_NONE)
                ks_time_format(h->t, tb, sizeof tb);
            details[nd].key = stage_names[st];
            details[nd++].value = ks__arena_printf(a, "%s (x%llu) %s", tb,
                                                   (unsigned long long)h->count, h->what);
            add_evidence(evs, &ne, KS_ARRAY_LEN(evs), &h->ev);
            total += h->count;
            time_span(h->t, &first, &last);
        }
        int k = 0;
        for (size_t hi = 0; hi < T->nhost && nd < MAX_DETAILS - 3; hi++) {
            const hit *hh = &T->host[hi];
            if (howner[hi] != (int)self || T->hstage[hi] != st)
                continue;
            strcpy(tb, "undated");
            if (hh->t != KS_TIME_NONE)
                ks_time_format(hh->t, tb, sizeof tb);
            details[nd].key = ks__arena_printf(a, "%s (host %d)", stage_names[st], ++k);
            details[nd++].value = ks__arena_printf(a, "%s (x%llu) %s", tb,
                                                   (unsigned long long)hh->count, hh->what);
            add_evidence(evs, &ne, KS_ARRAY_LEN(evs), &hh->ev);
            total += hh->count;
            time_span(hh->t, &first, &last);
        }
    }
    bool shell = present[ST_SHELL_WRITE] || present[ST_SHELL_USE];
    bool entry = present[ST_SSRF] || present[ST_PROXYSHELL] || present[ST_NOTSHELL] ||
                 present[ST_WRITE];
    details[nd].key = "source";
    details[nd++].value = s->name;
    details[nd].key = "chain";
    details[nd++].value = chain;
    if (cves[0]) {
        details[nd].key = "cve";
        details[nd++].value = cves;
    }
    ks_finding f = {
        .rule_id = "kensa.exchange.chain",
        .title = ks__arena_printf(a, "Exchange exploitation from %s: %s", s->name, chain),
        .detector = "exchange",
        .description = "Requests of one client across IIS and HttpProxy logs folded into the "
                       "ProxyLogon/ProxyShell stages, with the host traces that follow them.",
        .severity = entry && shell ? KS_SEV_CRITICAL
                  : entry || shell ? KS_SEV_HIGH
                                   : KS_SEV_MEDIUM,
        .techniques = tech,
        .ntechniques = shell ? 2 : 1,
        .first = first,
        .last = last,
        .evidence = evs,
        .nevidence = ne,
        .event_count = total,
        .details = details,
        .ndetails = nd,
    };
    ks__emit(d->e, &f);
}

static void emit_host(xdet *d, const int *howner)
{
    xstate *T = &d->total;
    ks_kv details[MAX_HOST];
    ks_evidence evs[MAX_HOST];
    size_t nd = 0, ne = 0;
    int64_t first = KS_TIME_NONE, last = KS_TIME_NONE;
    uint64_t total = 0;
    bool shell = false;
    for (size_t h = 0; h < T->nhost; h++) {
        const hit *hh = &T->host[h];
        if (howner[h] >= 0)
            continue;
        char tb[48] = "undated";
        if (hh->t != KS_TIME_NONE)
            ks_time_format(hh->t, tb, sizeof tb);
        details[nd].key = ks__arena_printf(T->arena, "%s (%zu)", stage_names[T->hstage[h]], nd + 1);
        details[nd++].value = ks__arena_printf(T->arena, "%s (x%llu) %s", tb,
                                               (unsigned long long)hh->count, hh->what);
        add_evidence(evs, &ne, MAX_HOST, &hh->ev);
        total += hh->count;
        shell |= T->hstage[h] == ST_SHELL_WRITE || T->hstage[h] == ST_SHELL_USE;
        time_span(hh->t, &first, &last);
    }
    if (!nd)
        return;
    const char *tech[2] = {"T1505.003", "T1190"};
    ks_finding f = {
        .rule_id = "kensa.exchange.host",
        .title = "Exchange compromise traces on the server (web shell / exploitation)",
        .detector = "exchange",
        .description = "Host-level traces of the ProxyLogon chain (web shell files, w3wp.exe "
                       "shells, ECP/OAB configuration writes, UM errors) that no web request "
                       "in the evidence explains.",
        .severity = shell ? KS_SEV_HIGH : KS_SEV_MEDIUM,
        .techniques = tech,
        .ntechniques = 2,
        .first = first,
        .last = last,
        .evidence = evs,
        .nevidence = ne,
        .event_count = total,
        .details = details,
        .ndetails = nd,
    };
    ks__emit(d->e, &f);
}

/* Host traces in time order (undated last), then stage and text: workers
 * merge in any order, the report must not depend on it. */
static int cmp_hostix(const void *pa, const void *pb, void *ud)
{
    const xstate *T = ud;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int64_t ta = T->host[a].t, tb = T->host[b].t;
    if (ta != tb) {
        if (ta == KS_TIME_NONE || tb == KS_TIME_NONE)
            return ta == KS_TIME_NONE ? 1 : -1;
        return ta < tb ? -1 : 1;
    }
    if (T->hstage[a] != T->hstage[b])
        return T->hstage[a] - T->hstage[b];
    return strcmp(T->host[a].what, T->host[b].what);
}

static void sort_host(xstate *T)
{
    size_t ix[MAX_HOST];
    static_assert(sizeof(hit) < 4096, "hit stays small");
    hit *tmp = malloc(T->nhost * sizeof *tmp + 1);
    int st[MAX_HOST];
    if (!tmp)
        return; /* unsorted is still correct, only less tidy */
    for (size_t i = 0; i < T->nhost; i++)
        ix[i] = i;
    qsort_r(ix, T->nhost, sizeof ix[0], cmp_hostix, T);
    for (size_t i = 0; i < T->nhost; i++) {
        tmp[i] = T->host[ix[i]];
        st[i] = T->hstage[ix[i]];
    }
    memcpy(T->host, tmp, T->nhost * sizeof *tmp);
    memcpy(T->hstage, st, T->nhost * sizeof st[0]);
    free(tmp);
}

static int x_finish(void *det)
{
    xdet *d = det;
    xstate *T = &d->total;
    size_t i = 0, n, nsrc = 0;
    const char *k;
    uint64_t *v;
    int howner[MAX_HOST];
    join_file_findings(d);
    sort_host(T);
    source **srcs = calloc(ks__map_count(T->srcs) + 1, sizeof *srcs);
    if (!srcs)
        return KS_ENOMEM;
    while (ks__map_iter(T->srcs, &i, &k, &n, &v))
        srcs[nsrc++] = (source *)(uintptr_t)*v;
    qsort(srcs, nsrc, sizeof *srcs, cmp_source);
    /* Owners are searched among attacking sources only. */
    source **att = calloc(nsrc + 1, sizeof *att);
    size_t natt = 0;
    if (!att) {
        free(srcs);
        return KS_ENOMEM;
    }
    for (size_t s = 0; s < nsrc; s++)
        if (is_attack(srcs[s]))
            att[natt++] = srcs[s];
    for (size_t h = 0; h < T->nhost; h++) {
        source *o = owner_of(att, natt, T->host[h].t, T->host[h].file);
        howner[h] = -1;
        for (size_t s = 0; o && s < nsrc; s++)
            if (srcs[s] == o)
                howner[h] = (int)s;
    }
    for (size_t s = 0; s < nsrc; s++)
        emit_source(d, srcs[s], howner, s);
    emit_host(d, howner);
    if (T->dropped) {
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "exchange", NULL,
                 "%llu sources/host traces over the detector's caps were not correlated",
                 (unsigned long long)T->dropped);
    }
    free(att);
    free(srcs);
    return KS_OK;
}

static void x_destroy(void *det)
{
    xdet *d = det;
    if (!d)
        return;
    state_release(&d->total);
    free(d->ioc);
    for (size_t i = 0; i < d->nshell; i++) {
        free((char *)d->shell[i].ev.path);
        free((char *)d->shell[i].ev.format);
    }
    free(d->shell);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const struct ks_detector ks_detector_exchange = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "exchange",
    .description = "ProxyLogon/ProxyShell/ProxyNotShell chains per source across IIS, HttpProxy, "
                   "ECP/OAB logs, Windows events and web shell files",
    .flags = KS_DET_EVENTS,
    .create = x_create,
    .worker_new = x_worker_new,
    .on_event = x_on_event,
    .worker_done = x_worker_done,
    .finish = x_finish,
    .on_finding = x_on_finding,
    .destroy = x_destroy,
};
