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
#include "exchange.h"
#include "input/weblog.h"

#define MAX_SOURCES 50000
#define MAX_HOST 256
#define MAX_SCAN_NAMES 128 /* distinct page names kept per client for the scan test */
#define DAY_NS (86400ll * 1000000000ll)

enum stage {
    ST_PROBE = 0,   /* /ecp/y.js-style requests for files that do not exist */
    ST_SCAN,        /* many non-stock pages under the shell folders: looking for shells */
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
    "probe", "shell-scan", "ssrf", "proxyshell", "proxynotshell", "config-write", "shell-write", "shell-use",
    "um-deserialisation"};
static const char *const stage_cves[NSTAGES] = {
    "", "", "CVE-2021-26855", "CVE-2021-34473,CVE-2021-34523,CVE-2021-31207",
    "CVE-2022-41040,CVE-2022-41082", "CVE-2021-27065,CVE-2021-26858", "", "", "CVE-2021-26857"};

typedef struct hit {
    int64_t t;              /* first time this stage was seen */
    ks_evidence ev;         /* its evidence (path in the state arena) */
    char what[160];         /* short description: method + URL, file, ... */
    char file[64];          /* shell-write: the file's base name (joins shell URLs) */
    uint64_t count;
} hit;

/* A non-stock page name a client asked for under the shell folders. */
typedef struct scan_name {
    uint64_t h;             /* hash of the lower-cased name */
    int64_t t;              /* first request */
    bool known;             /* on the known shell name list */
} scan_name;

typedef struct source {
    char name[64];          /* client address */
    hit st[NSTAGES];        /* count == 0: stage not seen */
    int64_t first, last;
    char shell_url[96];     /* first web shell URL used: later requests to it count */
    scan_name *scan;        /* distinct non-stock names (NULL until one) */
    size_t nscan, cscan;
    hit scan_first;         /* the first of those requests (ST_SCAN's example) */
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
    ks_xpages *pages;       /* stock pages, known shell names */
    size_t scan_min;        /* exchange.scan_min_names */
    int64_t scan_window;    /* exchange.scan_window, ns */
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

/* What a URL path alone says to classify_request (stem_flags). */
enum {
    SF_PROBE_ECP = 1 << 0,  /* /ecp/?.js: no such files */
    SF_PROBE_OWA = 1 << 1,  /* under /owa/auth/Current/themes/resources/ */
    SF_AUTODISC = 1 << 2,   /* /autodiscover/autodiscover.json */
    SF_PS = 1 << 3,         /* /powershell... */
    SF_DDI_SET = 1 << 4,    /* .../ecp/DDI/DDIService.svc/SetObject... */
    SF_SCRIPT = 1 << 5,     /* .aspx, .ashx, .asp, .asmx */
    SF_SHELL_NAME = 1 << 6, /* a script named like a known shell */
    SF_PLANTED = 1 << 7,    /* a script under a web root that Exchange does not ship */
    SF_KNOWN = 1 << 8       /* set on every computed answer */
};

#define STEM_SETS 64      /* URL paths remembered per worker: 64 sets of two */
#define STEM_MEMO_LEN 110 /* longer paths are classified every time */

/* A URL path and its stem_flags. */
typedef struct stem_memo {
    uint16_t flags; /* 0 = empty */
    uint8_t n;
    char s[STEM_MEMO_LEN + 1];
} stem_memo;

typedef struct xws {
    xdet *d;
    xstate st;
    /* A web log names a few dozen URL paths over and over: what each path
     * says (suffix, web root, stock page and shell name lists, prefixes)
     * is worked out once per path, not per line (~700 instructions a line,
     * a third of them in the page lists for script paths). */
    stem_memo stems[STEM_SETS][2];
    /* The source of the URL path's name (W3C or HttpProxy) for the last
     * name seen: a name's schema class never changes, and the lookup and
     * string compares per line cost as much as the rest of a plain line. */
    ks_sym url_sym;
    uint8_t url_kind; /* 1 w3c, 2 exchange, 0 other */
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

static inline bool has_ci(ks_slice s, const char *needle)
{
    return s.p && ks__memmem_ci(s.p, s.n, needle, strlen(needle)) != NULL;
}

/* The first/last byte is compared inline: most calls fail right there. */
static inline bool eq_ci(ks_slice s, const char *lit)
{
    size_t k = strlen(lit);
    return s.p && s.n == k && (!k || lower((unsigned char)s.p[0]) == lower((unsigned char)lit[0])) &&
           ks__ieq(s.p, s.n, lit, k);
}

static inline bool prefix_ci(ks_slice s, const char *lit)
{
    size_t k = strlen(lit);
    return s.p && s.n >= k && (!k || lower((unsigned char)s.p[0]) == lower((unsigned char)lit[0])) &&
           ks__ieq(s.p, k, lit, k);
}

static inline bool suffix_ci(ks_slice s, const char *lit)
{
    size_t k = strlen(lit);
    return s.p && s.n >= k &&
           (!k || lower((unsigned char)s.p[s.n - 1]) == lower((unsigned char)lit[k - 1])) &&
           ks__ieq(s.p + s.n - k, k, lit, k);
}

static bool vdir_set(ks_slice s)
{
    return s.p && ks__vdir_set(s.p, s.n);
}

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
        while (ks__map_iter(s->srcs, &i, &k, &n, &v)) {
            source *src = (source *)(uintptr_t)*v;
            free(src->scan);
            free(src);
        }
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

/* A host stage seen in an event. The evidence context is made only here:
 * it interns host, record id and user, so making it for every event would
 * grow the symbol table with every record read. */
static void event_hit(xstate *s, int st, const ks_event *ev, const char *what)
{
    ks_evidence e;
    ks__evidence_from_event(&e, ev);
    host_add(s, st, &e, ev->time, what, 1);
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

/* Remembers a non-stock page name under the shell folders for the client
 * (first request per name; MAX_SCAN_NAMES names at most). */
static void scan_note(xstate *s, ks_slice who, const ks_event *ev, ks_slice m, ks_slice stem,
                      ks_slice q, bool known)
{
    if (!who.n)
        return;
    source *src = source_get(s, who.p, who.n);
    if (!src)
        return;
    ks_slice b = ks__path_base(stem);
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the lower-cased name */
    for (size_t i = 0; i < b.n; i++)
        h = (h ^ (uint64_t)lower((unsigned char)b.p[i])) * 1099511628211ull;
    for (size_t i = 0; i < src->nscan; i++)
        if (src->scan[i].h == h) {
            if (ev->time != KS_TIME_NONE && ev->time < src->scan[i].t)
                src->scan[i].t = ev->time;
            return;
        }
    if (src->nscan >= MAX_SCAN_NAMES ||
        ks__grow(&src->scan, &src->cscan, src->nscan + 1, sizeof *src->scan, 8) != KS_OK)
        return;
    src->scan[src->nscan++] = (scan_name){h, ev->time, known};
    char what[160];
    ks_evidence e;
    what_url(what, sizeof what, m, stem, q);
    ks__evidence_from_event(&e, ev);
    hit_set(s, &src->scan_first, ev->time, &e, what, 1);
}

/* What the path alone says (SF_ flags, SF_KNOWN set), worked out. */
static unsigned stem_classify(const xdet *d, ks_slice stem)
{
    unsigned fl = SF_KNOWN;
    if (prefix_ci(stem, "/ecp/") && suffix_ci(stem, ".js") && stem.n <= 10)
        fl |= SF_PROBE_ECP;
    if (prefix_ci(stem, "/owa/auth/Current/themes/resources/"))
        fl |= SF_PROBE_OWA;
    if (eq_ci(stem, "/autodiscover/autodiscover.json"))
        fl |= SF_AUTODISC;
    if (prefix_ci(stem, "/powershell"))
        fl |= SF_PS;
    if (has_ci(stem, "/ecp/DDI/DDIService.svc/SetObject"))
        fl |= SF_DDI_SET;
    if (script_ext(stem)) {
        /* Without a stock page list (turned off, or not found) only known
         * shell names can be told from Exchange's own pages. */
        const ks_xpages *pg = d->pages;
        bool shell_name = ks__xpages_shell(pg, stem);
        fl |= SF_SCRIPT | (shell_name ? SF_SHELL_NAME : 0);
        if (web_root_dir(stem) &&
            (ks__xpages_nstock(pg) ? !ks__xpages_stock(pg, stem) : shell_name))
            fl |= SF_PLANTED;
    }
    return fl;
}

/* stem_classify's answer for the path, remembered per worker. The set
 * comes from the length and the first and last 8 bytes (paths differ at
 * their ends: the file name); two ways, the newer first, as a log's two
 * dozen hot paths would often meet in a direct-mapped slot and evict
 * each other line after line. */
static unsigned stem_flags(xws *w, ks_slice stem)
{
    if (!stem.n || stem.n > STEM_MEMO_LEN)
        return stem_classify(w->d, stem);
    uint64_t a = 0, b = 0; /* fixed-size loads: a copy of up to 8 bytes was a call */
    if (stem.n >= 8) {
        memcpy(&a, stem.p, 8);
        memcpy(&b, stem.p + stem.n - 8, 8);
    } else {
        for (size_t i = 0; i < stem.n; i++)
            a |= (uint64_t)(unsigned char)stem.p[i] << (8 * i);
        b = a;
    }
    uint64_t h = ((a ^ stem.n) * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    stem_memo *m = w->stems[(h ^ h >> 29) * 0x9E3779B97F4A7C15ull >> 58]; /* 6 bits: STEM_SETS */
    for (int k = 0; k < 2; k++)
        if (m[k].flags && m[k].n == stem.n && !memcmp(m[k].s, stem.p, stem.n))
            return m[k].flags;
    if (m[0].flags)
        m[1] = m[0];
    m->flags = (uint16_t)stem_classify(w->d, stem);
    m->n = (uint8_t)stem.n;
    memcpy(m->s, stem.p, stem.n);
    return m->flags;
}

/* One web request (IIS or HttpProxy); fl is stem_flags(stem). */
static void classify_request(xws *w, const ks_event *ev, unsigned fl, ks_slice who, ks_slice m,
                             ks_slice stem, ks_slice q, ks_slice status, ks_slice cookie,
                             ks_slice user, ks_slice anchor, bool httpproxy, ks_slice authuser)
{
    xstate *s = &w->st;
    unsigned hits = 0; /* stages this request shows; the text is built only then */
    /* Both exploit cookies route to "host~version": no '~', no SSRF cookie. */
    bool tilde = cookie.n && memchr(cookie.p, '~', cookie.n);
    if ((tilde && (has_ci(cookie, "X-AnonResource-Backend=") || has_ci(cookie, "X-BEResource="))) ||
        (httpproxy && authuser.n == 0 && prefix_ci(anchor, "ServerInfo~") &&
         memchr(anchor.p, '/', anchor.n)))
        hits |= 1u << ST_SSRF;
    if ((fl & SF_PROBE_ECP) || ((fl & SF_PROBE_OWA) && eq_ci(m, "POST")))
        hits |= 1u << ST_PROBE; /* /ecp/y.js, /ecp/x.js: no such files */
    if ((fl & SF_AUTODISC) && (memchr(q.p ? q.p : "", '@', q.n) || has_ci(q, "X-Rps-CAT="))) {
        bool ps = has_ci(q, "powershell");
        if (ps && user.n && !eq_ci(user, "anonymous"))
            hits |= 1u << ST_NOTSHELL;
        else if (has_ci(q, "/mapi/nspi") || ps || has_ci(q, "/ews/") || has_ci(q, "X-Rps-CAT=") ||
                 has_ci(q, "Email=autodiscover/autodiscover.json"))
            hits |= 1u << ST_PROXYSHELL;
    } else if ((fl & SF_PS) && has_ci(q, "X-Rps-CAT=")) {
        hits |= 1u << ST_PROXYSHELL;
    }
    if ((fl & SF_DDI_SET) && eq_ci(m, "POST") &&
        (has_ci(q, "OABVirtualDirectory") || has_ci(q, "ResetOAB")))
        hits |= 1u << ST_WRITE;
    if (fl & SF_PLANTED) {
        /* Not a page Exchange ships. Answered 200 it exists: a planted
         * shell being driven (POST) or checked (a bare GET, as the Hafnium
         * operators did). Every such name also feeds the scan test
         * (finish()), known shell names counted apart. */
        if (status.n == 0 || eq_ci(status, "200"))
            hits |= 1u << ST_SHELL_USE;
        scan_note(s, who, ev, m, stem, q, (fl & SF_SHELL_NAME) != 0);
    }
    if ((fl & SF_SCRIPT) && (has_ci(q, "proxy&port=") || (has_ci(q, "port=") && has_ci(q, "ip="))))
        hits |= 1u << ST_SHELL_USE; /* Tunna-style tunnel through a shell */
    else if ((fl & SF_SCRIPT) && who.n) {
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
    /* W3C and HttpProxy requests are told apart by the source of the path */
    const ks_value *uv = ks__field(ev, KS_F_URL_PATH);
    if (uv) {
        ks_sym nm = ((const ks_field *)((const char *)uv - offsetof(ks_field, v)))->name;
        if (nm != w->url_sym) {
            const char *src = ks__field_source(ev, KS_F_URL_PATH);
            w->url_sym = nm;
            w->url_kind = !src ? 0 : !strcmp(src, "w3c") ? 1 : !strcmp(src, "exchange") ? 2 : 0;
        }
    }
    bool w3c = uv && w->url_kind == 1, proxy = uv && w->url_kind == 2;
    if (w3c) {
        ks_slice stem = get(URL_PATH), cookie = get(HTTP_COOKIE);
        unsigned fl = stem_flags(w, stem);
        /* Nearly every line: a path that says nothing and no '~' cookie
         * (classify_request's first test) cannot show any stage. */
        if (!(fl & ~(unsigned)SF_KNOWN) && !(cookie.n && memchr(cookie.p, '~', cookie.n)))
            return KS_OK;
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
        classify_request(w, ev, fl, who, get(HTTP_METHOD), stem, get(URL_QUERY), get(HTTP_STATUS),
                         cookie, get(USER), (ks_slice){NULL, 0}, false, (ks_slice){NULL, 0});
        return KS_OK;
    }
    ks_slice ustem = proxy ? get(URL_PATH) : (ks_slice){NULL, 0};
    ks_slice anchor = get(ANCHOR_MAILBOX);
    if (ustem.p || anchor.p) {
        ks_slice q = get(URL_QUERY);
        if (q.n && q.p[0] == '?')
            q.p++, q.n--;
        classify_request(w, ev, stem_flags(w, ustem), get(SOURCE_IP), get(HTTP_METHOD), ustem, q,
                         get(HTTP_STATUS), (ks_slice){NULL, 0}, get(USER), anchor, true, get(USER));
        return KS_OK;
    }
    /* ECP server log: EventData, or the raw line (Message) when the file
     * lost its header or columns; Test-ProxyLogon searches the raw line. */
    ks_slice ed = get(EVENT_DATA);
    if (!vdir_set(ed))
        ed = get(MESSAGE);
    if (vdir_set(ed) && (has_ci(ed, "<script") || has_ci(ed, "%3Cscript") ||
                         has_ci(ed, "&lt;script") || has_ci(ed, "runat=") ||
                         has_ci(ed, "Page_Load") || has_ci(ed, "eval("))) {
        /* Script in a URL: the web shell body, not an administrator's edit. */
        snprintf(what, sizeof what, "ECP %.*s", (int)KS_MIN(ed.n, 140), ed.p);
        event_hit(&w->st, ST_WRITE, ev, what);
        return KS_OK;
    }
    ks_slice msg = get(MESSAGE);
    if (msg.p && has_ci(msg, "Download failed and temporary file")) {
        event_hit(&w->st, ST_WRITE, ev, "OAB generator: Download failed and temporary file");
        return KS_OK;
    }
    /* Windows events (JSON exports or EVTX). */
    ks_slice tf = get(FILE_PATH);
    if (tf.p && script_ext(tf) && web_root_dir(tf)) {
        snprintf(what, sizeof what, "file created: %.*s", (int)KS_MIN(tf.n, 140), tf.p);
        event_hit(&w->st, ST_SHELL_WRITE, ev, what);
        set_file(&w->st, what, ks__path_base(tf));
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
            event_hit(&w->st, ST_SHELL_USE, ev, what);
        }
        return KS_OK;
    }
    ks_slice prov = get(PROVIDER);
    if (eq_ci(prov, "MSExchange Unified Messaging")) {
        for (size_t i = 0; i < ks_event_nfields(ev); i++) {
            const ks_field *f = ks_event_field(ev, i);
            if (f->v.type == KS_VSTR && has_ci(f->v.u.s, "System.InvalidCastException")) {
                event_hit(&w->st, ST_UM, ev,
                          "MSExchange Unified Messaging: System.InvalidCastException");
                break;
            }
        }
    }
    return KS_OK;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int x_create(ks_engine *e, void **out)
{
    xdet *d = calloc(1, sizeof *d);
    if (!d)
        return KS_ENOMEM;
    d->e = e;
    pthread_mutex_init(&d->lock, NULL);
    d->scan_min = (size_t)ks__opt_int(e, "exchange.scan_min_names");
    d->scan_window = ks__opt_duration(e, "exchange.scan_window");
    if (ks__xpages_load(e, &d->pages) != KS_OK || state_init(&d->total) != KS_OK) {
        state_release(&d->total);
        ks__xpages_free(d->pages);
        pthread_mutex_destroy(&d->lock);
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

static void scan_merge(xstate *T, source *t, const source *s)
{
    for (size_t i = 0; i < s->nscan; i++) {
        size_t j = 0;
        while (j < t->nscan && t->scan[j].h != s->scan[i].h)
            j++;
        if (j < t->nscan) {
            if (s->scan[i].t != KS_TIME_NONE &&
                (t->scan[j].t == KS_TIME_NONE || s->scan[i].t < t->scan[j].t))
                t->scan[j].t = s->scan[i].t;
        } else if (t->nscan < MAX_SCAN_NAMES &&
                   ks__grow(&t->scan, &t->cscan, t->nscan + 1, sizeof *t->scan, 8) == KS_OK) {
            t->scan[t->nscan++] = s->scan[i];
        }
    }
    hit_merge(T, &t->scan_first, &s->scan_first);
}

static int cmp_scan(const void *a, const void *b)
{
    int64_t x = ((const scan_name *)a)->t, y = ((const scan_name *)b)->t;
    return x < y ? -1 : x > y;
}

/* Shell scanning: at least scan_min distinct non-stock page names from one
 * client within scan_window (undated requests count as one moment). The
 * stage's count is the most names seen in one window. */
static void scan_judge(xdet *d, source *s)
{
    size_t best = 0, known = 0;
    if (s->nscan < d->scan_min)
        return;
    qsort(s->scan, s->nscan, sizeof *s->scan, cmp_scan);
    for (size_t i = 0, j = 0; j < s->nscan; j++) {
        while (s->scan[j].t != KS_TIME_NONE && s->scan[i].t != KS_TIME_NONE &&
               s->scan[j].t - s->scan[i].t > d->scan_window)
            i++;
        best = KS_MAX(best, j - i + 1);
    }
    if (best < d->scan_min)
        return;
    for (size_t i = 0; i < s->nscan; i++)
        known += s->scan[i].known;
    hit *h = &s->st[ST_SCAN];
    *h = s->scan_first;
    h->count = best;
    size_t l = strlen(h->what);
    snprintf(h->what + l, sizeof h->what - l, " and %zu other names%s", s->nscan - 1,
             known ? " (known shell names among them)" : "");
    if (s->first == KS_TIME_NONE || (h->t != KS_TIME_NONE && h->t < s->first))
        s->first = h->t;
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
        scan_merge(&d->total, t, s);
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
        set_file(&d->total, what, ks__path_base(p));
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
    return s->st[ST_SCAN].count || s->st[ST_SSRF].count || s->st[ST_PROXYSHELL].count || s->st[ST_NOTSHELL].count ||
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
        ks_slice b = ks__path_base(u);
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

/* What one finding folds together: a detail and an evidence record per
 * hit (callers keep within the arrays), the hits' count and time span. */
typedef struct fold {
    ks_kv *details;
    size_t nd;
    ks_evidence *evs;
    size_t ne, cape;
    uint64_t total;
    int64_t first, last;
} fold;

static void fold_hit(fold *f, ks_arena *a, const char *key, const hit *h)
{
    char tb[48] = "undated";
    if (h->t != KS_TIME_NONE)
        ks_time_format(h->t, tb, sizeof tb);
    f->details[f->nd].key = key;
    f->details[f->nd++].value = ks__arena_printf(a, "%s (x%llu) %s", tb, (unsigned long long)h->count, h->what);
    add_evidence(f->evs, &f->ne, f->cape, &h->ev);
    f->total += h->count;
    time_span(h->t, &f->first, &f->last);
}

/* Completes x with what f folded and emits it. */
static void fold_emit(xdet *d, const fold *f, ks_finding *x)
{
    x->first = f->first;
    x->last = f->last;
    x->evidence = f->evs;
    x->nevidence = f->ne;
    x->event_count = f->total;
    x->details = f->details;
    x->ndetails = f->nd;
    ks__emit(d->e, x);
}

static void emit_source(xdet *d, const source *s, const int *howner, size_t self)
{
    xstate *T = &d->total;
    ks_arena *a = T->arena;
    ks_kv details[MAX_DETAILS];
    ks_evidence evs[NSTAGES + 32];
    const char *tech[2] = {"T1190", "T1505.003"};
    fold fo = {details, 0, evs, 0, KS_ARRAY_LEN(evs), 0, KS_TIME_NONE, KS_TIME_NONE};
    int64_t stage_t[NSTAGES];
    bool present[NSTAGES] = {false};
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
    /* A client known only for a page or two it asked for is no finding. */
    bool any = false;
    for (int st = 0; st < NSTAGES; st++)
        any |= present[st];
    if (!any)
        return;
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
        if (s->st[st].count)
            fold_hit(&fo, a, stage_names[st], &s->st[st]);
        int k = 0;
        for (size_t hi = 0; hi < T->nhost && fo.nd < MAX_DETAILS - 3; hi++) {
            if (howner[hi] != (int)self || T->hstage[hi] != st)
                continue;
            fold_hit(&fo, a, ks__arena_printf(a, "%s (host %d)", stage_names[st], ++k), &T->host[hi]);
        }
    }
    bool shell = present[ST_SHELL_WRITE] || present[ST_SHELL_USE];
    bool entry = present[ST_SSRF] || present[ST_PROXYSHELL] || present[ST_NOTSHELL] ||
                 present[ST_WRITE];
    details[fo.nd++] = (ks_kv){"source", s->name};
    details[fo.nd++] = (ks_kv){"chain", chain};
    if (cves[0])
        details[fo.nd++] = (ks_kv){"cve", cves};
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
    };
    fold_emit(d, &fo, &f);
}

static void emit_host(xdet *d, const int *howner)
{
    xstate *T = &d->total;
    ks_kv details[MAX_HOST];
    ks_evidence evs[MAX_HOST];
    fold fo = {details, 0, evs, 0, MAX_HOST, 0, KS_TIME_NONE, KS_TIME_NONE};
    bool shell = false;
    for (size_t h = 0; h < T->nhost; h++) {
        if (howner[h] >= 0)
            continue;
        fold_hit(&fo, T->arena, ks__arena_printf(T->arena, "%s (%zu)", stage_names[T->hstage[h]], fo.nd + 1),
                 &T->host[h]);
        shell |= T->hstage[h] == ST_SHELL_WRITE || T->hstage[h] == ST_SHELL_USE;
    }
    if (!fo.nd)
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
    };
    fold_emit(d, &fo, &f);
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
    while (ks__map_iter(T->srcs, &i, &k, &n, &v)) {
        srcs[nsrc] = (source *)(uintptr_t)*v;
        scan_judge(d, srcs[nsrc++]);
    }
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
    for (size_t i = 0; i < d->nshell; i++) {
        free((char *)d->shell[i].ev.path);
        free((char *)d->shell[i].ev.format);
    }
    free(d->shell);
    ks__xpages_free(d->pages);
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
