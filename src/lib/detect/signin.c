/* SPDX-License-Identifier: Apache-2.0
 *
 * Foundation detector over Entra ID sign-in records: successful sign-ins
 * that used single-factor authentication, and sign-ins through legacy
 * protocols that cannot do MFA. One finding per account (not per record),
 * with counts, first/last time, source addresses and example records.
 *
 * It proves the pipeline end to end (reader -> event -> detector ->
 * finding -> output) and is the seed of the identity analytics. Field
 * names are looked up in every export shape: portal/Graph (camelCase),
 * Log Analytics (PascalCase) and Azure Monitor diagnostics (properties.*).
 */
#include <stdlib.h>
#include <string.h>
#include "kensa_int.h"

#define MAX_ACCOUNTS 100000
#define MAX_EXAMPLES 5
#define MAX_IPS 8

enum { F_USER, F_RESULT, F_AUTHREQ, F_CLIENTAPP, F_IP, NFIELDS, ALTS = 4 };

/* Alternative paths per field, first hit wins. */
static const char *const paths[NFIELDS][ALTS] = {
    [F_USER] = {"userPrincipalName", "UserPrincipalName", "properties.userPrincipalName", NULL},
    [F_RESULT] = {"status.errorCode", "ResultType", "properties.status.errorCode", "resultType"},
    [F_AUTHREQ] = {"authenticationRequirement", "AuthenticationRequirement",
                   "properties.authenticationRequirement", NULL},
    [F_CLIENTAPP] = {"clientAppUsed", "ClientAppUsed", "properties.clientAppUsed", NULL},
    [F_IP] = {"ipAddress", "IPAddress", "properties.ipAddress", "callerIpAddress"},
};

static const char *const legacy_apps[] = {
    "IMAP4", "POP3", "SMTP", "Authenticated SMTP", "Exchange ActiveSync", "Exchange Web Services",
    "Other clients", "Autodiscover", "Exchange Online PowerShell", "MAPI Over HTTP",
    "Offline Address Book", "Outlook Anywhere (RPC over HTTP)", "Reporting Web Services",
    "Universal Outlook"};

typedef struct account {
    uint64_t single_factor;   /* successful single-factor sign-ins */
    uint64_t legacy;          /* sign-ins over legacy protocols */
    int64_t first, last;
    char *ips[MAX_IPS];
    size_t nips;
    char *apps[MAX_IPS];
    size_t napps;
    ks_evidence ex[MAX_EXAMPLES];
    size_t nex;
} account;

typedef struct signin_state {
    ks_map *accounts;         /* upn -> account* */
    ks_arena *arena;          /* evidence paths, strings */
    ks_engine *e;
    uint64_t dropped;         /* accounts over MAX_ACCOUNTS */
} signin_state;

typedef struct signin_det {
    ks_engine *e;
    ks_sym syms[NFIELDS][ALTS];
    signin_state total;       /* merged at worker_done */
    pthread_mutex_t lock;
} signin_det;

typedef struct signin_ws {
    signin_det *det;
    signin_state st;
} signin_ws;

static int state_init(signin_state *s, ks_engine *e)
{
    s->e = e;
    s->accounts = ks__map_new(256);
    s->arena = ks__arena_new(65536, 0);
    return s->accounts && s->arena ? KS_OK : KS_ENOMEM;
}

static void state_release(signin_state *s)
{
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    if (!s->accounts)
        goto out;
    while (ks__map_iter(s->accounts, &i, &k, &n, &v))
        free((account *)(uintptr_t)*v);
    ks__map_free(s->accounts);
out:
    ks__arena_free(s->arena);
}

static int signin_create(ks_engine *e, void **out)
{
    signin_det *d = calloc(1, sizeof *d);
    if (!d)
        return KS_ENOMEM;
    d->e = e;
    pthread_mutex_init(&d->lock, NULL);
    for (int f = 0; f < NFIELDS; f++)
        for (int a = 0; a < ALTS; a++)
            if (paths[f][a])
                d->syms[f][a] = ks_symtab_intern(ks__engine_symtab(e), paths[f][a], strlen(paths[f][a]));
    if (state_init(&d->total, e) != KS_OK) {
        free(d);
        return KS_ENOMEM;
    }
    *out = d;
    return KS_OK;
}

static int signin_worker_new(void *det, ks_worker *w, void **out)
{
    signin_ws *ws = calloc(1, sizeof *ws);
    KS_UNUSED(w);
    if (!ws)
        return KS_ENOMEM;
    ws->det = det;
    if (state_init(&ws->st, ws->det->e) != KS_OK) {
        state_release(&ws->st);
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static const ks_value *field(const signin_det *d, const ks_event *ev, int f)
{
    for (int a = 0; a < ALTS; a++) {
        const ks_value *v = d->syms[f][a] ? ks_event_get(ev, d->syms[f][a]) : NULL;
        if (v && v->type != KS_VNULL)
            return v;
    }
    return NULL;
}

static bool is_success(const ks_value *v)
{
    if (!v)
        return false;
    if (v->type == KS_VINT)
        return v->u.i == 0;
    if (v->type == KS_VSTR)
        return v->u.s.n == 1 && v->u.s.p[0] == '0';
    return false;
}

static bool str_eq(const ks_value *v, const char *s)
{
    return v && v->type == KS_VSTR && ks__ieq(v->u.s.p, v->u.s.n, s, strlen(s));
}

static void add_unique(signin_state *s, char **arr, size_t *n, const char *p, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen(arr[i]) == len && memcmp(arr[i], p, len) == 0)
            return;
    if (*n < MAX_IPS)
        arr[(*n)++] = ks__arena_strndup(s->arena, p, len);
}

static account *get_account(signin_state *s, const char *k, size_t n)
{
    uint64_t *slot = ks__map_get(s->accounts, k, n);
    if (!slot) {
        if (ks__map_count(s->accounts) >= MAX_ACCOUNTS) {
            s->dropped++;
            return NULL;
        }
        slot = ks__map_slot(s->accounts, k, n, true);
        if (!slot)
            return NULL;
        account *a = calloc(1, sizeof *a);
        if (!a)
            return NULL;
        a->first = a->last = KS_TIME_NONE;
        *slot = (uint64_t)(uintptr_t)a;
    }
    return (account *)(uintptr_t)*slot;
}

static void note_time(account *a, int64_t t)
{
    if (t == KS_TIME_NONE)
        return;
    if (a->first == KS_TIME_NONE || t < a->first)
        a->first = t;
    if (a->last == KS_TIME_NONE || t > a->last)
        a->last = t;
}

static int signin_event(void *wsp, const ks_event *ev)
{
    signin_ws *ws = wsp;
    signin_det *d = ws->det;
    const ks_value *user = field(d, ev, F_USER);
    if (!user || user->type != KS_VSTR || !user->u.s.n)
        return KS_OK;
    const ks_value *res = field(d, ev, F_RESULT);
    const ks_value *req = field(d, ev, F_AUTHREQ);
    const ks_value *app = field(d, ev, F_CLIENTAPP);
    if (!is_success(res))
        return KS_OK; /* failures are spray/brute-force evidence, not exposure */
    bool single = str_eq(req, "singleFactorAuthentication");
    bool legacy = false;
    for (size_t i = 0; app && i < KS_ARRAY_LEN(legacy_apps); i++)
        if (str_eq(app, legacy_apps[i]))
            legacy = true;
    if (!single && !legacy)
        return KS_OK;
    account *a = get_account(&ws->st, user->u.s.p, user->u.s.n);
    if (!a)
        return KS_OK;
    a->single_factor += single;
    a->legacy += legacy;
    note_time(a, ev->time);
    const ks_value *ip = field(d, ev, F_IP);
    if (ip && ip->type == KS_VSTR)
        add_unique(&ws->st, a->ips, &a->nips, ip->u.s.p, ip->u.s.n);
    if (legacy)
        add_unique(&ws->st, a->apps, &a->napps, app->u.s.p, app->u.s.n);
    if (a->nex < MAX_EXAMPLES) {
        ks_evidence *x = &a->ex[a->nex++];
        ks__evidence_from_event(x, ev);
        x->path = ks__arena_strndup(ws->st.arena, x->path, strlen(x->path));
        x->format = ev->prov.format;
    }
    return KS_OK;
}

/* Folds a worker's accounts into the detector's totals. */
static void signin_worker_done(void *detp, void *wsp)
{
    signin_det *d = detp;
    signin_ws *ws = wsp;
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    if (!ws)
        return;
    pthread_mutex_lock(&d->lock);
    while (ks__map_iter(ws->st.accounts, &i, &k, &n, &v)) {
        account *src = (account *)(uintptr_t)*v, *dst = get_account(&d->total, k, n);
        if (!dst)
            continue;
        dst->single_factor += src->single_factor;
        dst->legacy += src->legacy;
        note_time(dst, src->first);
        note_time(dst, src->last);
        for (size_t j = 0; j < src->nips; j++)
            add_unique(&d->total, dst->ips, &dst->nips, src->ips[j], strlen(src->ips[j]));
        for (size_t j = 0; j < src->napps; j++)
            add_unique(&d->total, dst->apps, &dst->napps, src->apps[j], strlen(src->apps[j]));
        for (size_t j = 0; j < src->nex && dst->nex < MAX_EXAMPLES; j++) {
            dst->ex[dst->nex] = src->ex[j];
            dst->ex[dst->nex].path = ks__arena_strndup(d->total.arena, src->ex[j].path, strlen(src->ex[j].path));
            dst->nex++;
        }
    }
    d->total.dropped += ws->st.dropped;
    pthread_mutex_unlock(&d->lock);
    state_release(&ws->st);
    free(ws);
}

static void join(char *out, size_t cap, char *const *arr, size_t n)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", arr[i]);
}

/* One finding kind of this detector. */
typedef struct signin_rule {
    const char *id, *title, *description;
    ks_severity severity;
    const char *const *techniques;
    size_t ntechniques;
} signin_rule;

static const char *const t_valid[] = {"T1078.004"};
static const char *const t_legacy[] = {"T1078.004", "T1110"};

static const signin_rule rule_single = {
    "kensa.signin.single_factor_success", "Successful sign-in without MFA (single-factor)",
    "The account signed in with a password alone. If it was also a spray target, treat it as "
    "compromised; enforce MFA / conditional access.",
    KS_SEV_MEDIUM, t_valid, 1};
static const signin_rule rule_legacy = {
    "kensa.signin.legacy_auth", "Sign-in over a legacy protocol that bypasses MFA",
    "Legacy authentication (IMAP, POP, SMTP AUTH, EWS basic, ActiveSync, other clients) cannot "
    "do MFA; block it with conditional access.",
    KS_SEV_LOW, t_legacy, 2};

static void emit(signin_det *d, const signin_rule *r, const account *a, const ks_kv *matched,
                 const ks_kv *details, size_t ndetails, uint64_t count)
{
    ks_finding f = {0};
    f.rule_id = r->id;
    f.title = r->title;
    f.description = r->description;
    f.severity = r->severity;
    f.techniques = r->techniques;
    f.ntechniques = r->ntechniques;
    f.detector = "signin";
    f.first = a->first;
    f.last = a->last;
    f.evidence = a->ex;
    f.nevidence = a->nex;
    f.matched = matched;
    f.nmatched = 2;
    f.details = details;
    f.ndetails = ndetails;
    f.event_count = count;
    ks__emit(d->e, &f);
}

static int signin_finish(void *detp)
{
    signin_det *d = detp;
    size_t i = 0, n;
    const char *k;
    uint64_t *v;
    while (ks__map_iter(d->total.accounts, &i, &k, &n, &v)) {
        account *a = (account *)(uintptr_t)*v;
        char user[512], ips[1024], apps[512], cnt[32];
        snprintf(user, sizeof user, "%.*s", (int)n, k);
        join(ips, sizeof ips, a->ips, a->nips);
        join(apps, sizeof apps, a->apps, a->napps);
        ks_kv matched[2] = {{"account", user}, {"source_ips", ips}};
        if (a->single_factor) {
            snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)a->single_factor);
            ks_kv det[1] = {{"single_factor_successes", cnt}};
            emit(d, &rule_single, a, matched, det, 1, a->single_factor);
        }
        if (a->legacy) {
            snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)a->legacy);
            ks_kv det[2] = {{"legacy_sign_ins", cnt}, {"client_apps", apps}};
            emit(d, &rule_legacy, a, matched, det, 2, a->legacy);
        }
    }
    return KS_OK;
}

static void signin_destroy(void *detp)
{
    signin_det *d = detp;
    if (!d)
        return;
    state_release(&d->total);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const struct ks_detector ks_detector_signin = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "signin",
    .description = "Entra ID sign-ins without MFA and over legacy protocols",
    .flags = KS_DET_EVENTS,
    .create = signin_create,
    .worker_new = signin_worker_new,
    .on_event = signin_event,
    .worker_done = signin_worker_done,
    .finish = signin_finish,
    .destroy = signin_destroy,
};
