/* SPDX-License-Identifier: Apache-2.0
 *
 * The `mailaccess` detector: who read which mail, and what secrets they
 * read (docs/MAILACCESS.md, mailaccess.h for the parts).
 *
 * Workers normalise events into compact records (mailaccess_norm.c) and
 * note the files that may hold mail; worker_done merges them; finish()
 * sorts by time and decides, so evidence can arrive in any order:
 *  - kensa.mail.app_mail_role     an application given mailbox-wide access
 *                                 (full_access_as_app, Mail.Read, ...)
 *  - kensa.mail.app_credentials   credentials / owners added to an app
 *  - kensa.mail.app_mail_access   an app granted mail access or new
 *                                 credentials that then reads mail
 *                                 (MailItemsAccessed with its AppId)
 *  - kensa.mail.new_reader        an app reading mailboxes the tenant's
 *                                 baseline never saw it read
 *  - kensa.mail.volume            items read per app / mailbox per day
 *                                 against the reader's or the tenant's day
 *  - kensa.mail.sync              Sync of whole folders by an unusual reader
 *  - kensa.mail.session_read      mail read by an account right after the
 *                                 identity detector saw it compromised
 *  - kensa.mail.forwarding / inbox_rule / ediscovery / send / search
 *  - kensa.mail.export_request / export_download / archiver (on-premises)
 *  - kensa.mail.secret_read       the join (mailaccess_join.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailaccess.h"
#include "extract/extract.h"

#define NS_PER_DAY (86400LL * 1000000000LL)
#define MAX_EVIDENCE 8
#define MAX_LIST 20          /* names listed in a detail */

static const char *const t_role[] = {"T1098.003"};
static const char *const t_cred[] = {"T1098.001"};
static const char *const t_read[] = {"T1114.002", "T1550.001"};
static const char *const t_collect[] = {"T1114.002"};
static const char *const t_fwd[] = {"T1114.003"};
static const char *const t_export[] = {"T1114.001", "T1005"};
static const char *const t_exfil[] = {"T1048", "T1560.001"};
static const char *const t_valid[] = {"T1078.004", "T1114.002"};

/* ---- store --------------------------------------------------------------------- */

int ks__ma_store_init(ma_store *s)
{
    memset(s, 0, sizeof *s);
    return ks__strpool_init(&s->pool);
}

void ks__ma_store_release(ma_store *s)
{
    ks__strpool_release(&s->pool);
    free(s->recs);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

static uint32_t remap(ma_store *dst, const ma_store *src, uint32_t id)
{
    if (!id)
        return 0;
    const char *s = ks__strpool_get(&src->pool, id);
    return ks__strpool_add(&dst->pool, s, strlen(s));
}

int ks__ma_store_merge(ma_store *dst, const ma_store *src, uint64_t max_records)
{
    dst->dropped += src->dropped;
    for (size_t i = 0; i < src->nrecs; i++) {
        if (dst->nrecs >= max_records) {
            dst->dropped += src->nrecs - i;
            break;
        }
        ma_rec r = src->recs[i];
        if (ks__grow(&dst->recs, &dst->caprecs, dst->nrecs, sizeof *dst->recs, 1024) != KS_OK)
            return KS_ENOMEM;
        uint32_t *ids[] = {&r.app, &r.app_obj, &r.app_name, &r.user, &r.mailbox, &r.ip, &r.what,
                           &r.tenant, &r.loc.path};
        for (size_t k = 0; k < KS_ARRAY_LEN(ids); k++)
            *ids[k] = remap(dst, src, *ids[k]);
        r.loc.ev.path = ks__strpool_get(&dst->pool, r.loc.path);
        r.first_id = (uint32_t)dst->nids;
        for (uint32_t k = 0; k < r.nids; k++) {
            if (ks__grow(&dst->ids, &dst->capids, dst->nids, sizeof *dst->ids, 1024) != KS_OK)
                return KS_ENOMEM;
            const ma_msgid *m = &src->ids[src->recs[i].first_id + k];
            dst->ids[dst->nids++] = (ma_msgid){remap(dst, src, m->id), remap(dst, src, m->folder)};
        }
        dst->recs[dst->nrecs++] = r;
    }
    return KS_OK;
}

/* ---- detector state ---------------------------------------------------------------- */

/* An account or address the identity detector found compromised. */
typedef struct flag {
    char *key;               /* lower-case account or address; owned */
    int64_t time;            /* when (the finding's first event) */
    const char *why;         /* static: rule id */
} flag;

typedef struct ma_det {
    ks_engine *e;
    int64_t window, learn, session_window;
    uint64_t known_app_mailboxes, volume_min, max_records;
    double volume_factor;
    const char **apps;       /* mailaccess.apps */
    size_t napps;
    const char **accounts;   /* mailaccess.accounts */
    size_t naccounts;
    ma_join *join;           /* NULL when mailaccess.join is off */
    pthread_mutex_t lock;    /* guards total and flags */
    ma_store total;
    flag *flags;
    size_t nflags, capflags;
} ma_det;

typedef struct ma_ws {
    ma_det *d;
    ma_norm norm;
    ma_store own;
} ma_ws;

/* ---- identity findings ----------------------------------------------------------------- */

static void add_flag(ma_det *d, const char *key, int64_t t, const char *why)
{
    if (!key || !*key || ks__grow(&d->flags, &d->capflags, d->nflags, sizeof *d->flags, 16) != KS_OK)
        return;
    char *k = strdup(key);
    if (!k)
        return;
    for (char *p = k; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    d->flags[d->nflags++] = (flag){k, t, why};
}

static const char *kv_get(const ks_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i].key && !strcmp(kv[i].key, key))
            return kv[i].value;
    return NULL;
}

/* Compromised accounts (a spray's success, a single-factor sign-in of a
 * sprayed account) and spray sources, from the identity detector, which
 * runs before this one (plugins.def) and emits in its finish(). */
static void ma_on_finding(void *det, const ks_finding *f)
{
    ma_det *d = det;
    if (!f->detector || strcmp(f->detector, "identity") != 0 || !f->rule_id)
        return;
    pthread_mutex_lock(&d->lock);
    const char *acct = kv_get(f->matched, f->nmatched, "account");
    const char *src = kv_get(f->matched, f->nmatched, "source");
    if (!strcmp(f->rule_id, "kensa.identity.spray_success")) {
        add_flag(d, acct, f->first, "kensa.identity.spray_success");
        add_flag(d, src, f->first, "kensa.identity.spray_success");
    } else if (!strcmp(f->rule_id, "kensa.identity.spray")) {
        add_flag(d, src, f->first, "kensa.identity.spray");
    } else if ((!strcmp(f->rule_id, "kensa.identity.no_mfa") ||
                !strcmp(f->rule_id, "kensa.identity.legacy_auth")) && f->severity >= KS_SEV_HIGH) {
        add_flag(d, acct, f->first, f->rule_id); /* high: the account was sprayed */
    }
    pthread_mutex_unlock(&d->lock);
}

/* The identity flag on key at or before t (within window), or NULL. */
static const flag *flagged(const ma_det *d, const char *key, int64_t t, int64_t window)
{
    if (!key || !*key)
        return NULL;
    for (size_t i = 0; i < d->nflags; i++)
        if (!strcasecmp(d->flags[i].key, key) &&
            (t == KS_TIME_NONE || d->flags[i].time == KS_TIME_NONE ||
             (t >= d->flags[i].time - 3600LL * 1000000000LL && t - d->flags[i].time <= window)))
            return &d->flags[i];
    return NULL;
}

/* ---- finding helpers -------------------------------------------------------------------- */

/* A finding under construction: evidence and a few lists. */
typedef struct fb {
    ks_evidence ev[MAX_EVIDENCE];
    size_t nev;
    uint64_t count;
    int64_t first, last;
} fb;

static void fb_add(fb *b, const ma_rec *r)
{
    b->count++;
    if (r->time != KS_TIME_NONE) {
        if (b->first == KS_TIME_NONE || b->first == 0 || r->time < b->first)
            b->first = r->time;
        if (b->last == KS_TIME_NONE || r->time > b->last)
            b->last = r->time;
    }
    if (b->nev < MAX_EVIDENCE)
        b->ev[b->nev++] = r->loc.ev;
}

static void fb_init(fb *b)
{
    memset(b, 0, sizeof *b);
    b->first = b->last = KS_TIME_NONE;
}

/* Appends s to a ", "-list unless present (bounded). */
static void list_add(ks_buf *b, const char *s)
{
    if (!s || !*s)
        return;
    size_t n = strlen(s), items = 0;
    for (const char *q = b->p; q && q < b->p + b->n;) {
        const char *e = strstr(q, ", ");
        size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len == n && !memcmp(q, s, n))
            return;
        items++;
        q = e ? e + 2 : NULL;
    }
    if (items == MAX_LIST) {
        ks__buf_adds(b, ", ...");
        return;
    }
    if (items > MAX_LIST)
        return;
    if (b->n)
        ks__buf_adds(b, ", ");
    ks__buf_adds(b, s);
}

static void emit(ma_det *d, const char *rule, const char *title, const char *desc, ks_severity sev,
                 const char *const *tech, size_t ntech, const fb *b, const ks_kv *matched,
                 size_t nmatched, const ks_kv *det, size_t ndet)
{
    ks_finding f = {
        .rule_id = rule, .title = title, .detector = "mailaccess", .description = desc,
        .severity = sev, .techniques = tech, .ntechniques = ntech, .first = b->first,
        .last = b->last, .evidence = b->ev, .nevidence = b->nev, .event_count = b->count,
        .matched = matched, .nmatched = nmatched, .details = det, .ndetails = ndet,
    };
    ks__emit(d->e, &f);
}

static const char *S(const ma_det *d, uint32_t id)
{
    return ks__strpool_get(&d->total.pool, id);
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    if (t == KS_TIME_NONE)
        snprintf(buf, cap, "?");
    else
        ks_time_format(t, buf, cap);
}

/* ---- applications ------------------------------------------------------------------------- */

/* What the evidence says about one application id. */
typedef struct app_info {
    uint32_t app;              /* pool id of the AppId */
    unsigned change;           /* MC_* over its audit records */
    int64_t first_change;      /* first grant / credential / owner / consent */
    int64_t first_mail_grant;
    int64_t first_read, first_read_after;
    uint32_t name;
    uint64_t reads, items, reads_after;
    bool other_tenant;
    bool listed;               /* mailaccess.apps */
    bool suspicious;           /* its reads are joined */
    bool time_linked;          /* tied to an audit record without an AppId by time */
    const char *why;
    int64_t suspect_from;      /* reads from here on are the attacker's */
    ks_buf roles, actors, mailboxes, ips_before, ips_after, new_ips;
    ks_buf new_boxes;          /* first-seen mailboxes after the baseline */
    size_t n_new;
    fb new_ev;                 /* their reads */
} app_info;

typedef struct apps {
    app_info *a;
    size_t n, cap;
    ks_map *ix;                /* app pool id -> index + 1 */
} apps;

static app_info *app_get(apps *as, uint32_t app)
{
    uint64_t *slot = ks__map_slot(as->ix, &app, sizeof app, true);
    if (!slot)
        return NULL;
    if (*slot)
        return &as->a[*slot - 1];
    if (ks__grow(&as->a, &as->cap, as->n, sizeof *as->a, 64) != KS_OK)
        return NULL;
    app_info *ai = &as->a[as->n++];
    memset(ai, 0, sizeof *ai);
    ai->app = app;
    ai->first_change = ai->first_mail_grant = ai->first_read = ai->first_read_after = KS_TIME_NONE;
    ai->suspect_from = KS_TIME_NONE;
    *slot = as->n;
    return ai;
}

static void apps_free(apps *as)
{
    for (size_t i = 0; i < as->n; i++) {
        ks_buf *b[] = {&as->a[i].roles, &as->a[i].actors, &as->a[i].mailboxes,
                       &as->a[i].ips_before, &as->a[i].ips_after, &as->a[i].new_ips,
                       &as->a[i].new_boxes};
        for (size_t k = 0; k < KS_ARRAY_LEN(b); k++)
            ks__buf_release(b[k]);
    }
    free(as->a);
    ks__map_free(as->ix);
}

static bool in_list(const ks_buf *b, const char *s)
{
    size_t n = strlen(s);
    for (const char *q = b->p; q && q < b->p + b->n;) {
        const char *e = strstr(q, ", ");
        size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len == n && !memcmp(q, s, n))
            return true;
        q = e ? e + 2 : NULL;
    }
    return false;
}

/* The AppId of an audit record that names only the object or the display
 * name, from other records that tie them (new applications, grants,
 * service-principal sign-ins). */
static void resolve_apps(ma_det *d)
{
    ks_map *by_obj = ks__map_new(256), *by_name = ks__map_new(256);
    ma_store *t = &d->total;
    if (!by_obj || !by_name)
        goto out;
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if ((r->kind != MR_APP_CHANGE && r->kind != MR_SP_SIGNIN) || !r->app)
            continue;
        uint64_t *s;
        if (r->app_obj && (s = ks__map_slot(by_obj, &r->app_obj, 4, true)) && !*s)
            *s = r->app;
        if (r->app_name) {
            const char *nm = S(d, r->app_name);
            if ((s = ks__map_slot(by_name, nm, strlen(nm), true)) && !*s)
                *s = r->app;
        }
    }
    for (size_t i = 0; i < t->nrecs; i++) {
        ma_rec *r = &t->recs[i];
        if (r->kind != MR_APP_CHANGE || r->app)
            continue;
        uint64_t *s = r->app_obj ? ks__map_get(by_obj, &r->app_obj, 4) : NULL;
        if (!s && r->app_name) {
            const char *nm = S(d, r->app_name);
            s = ks__map_get(by_name, nm, strlen(nm));
        }
        if (s)
            r->app = (uint32_t)*s;
    }
out:
    ks__map_free(by_obj);
    ks__map_free(by_name);
}

static int rec_cmp(const void *a, const void *b)
{
    const ma_rec *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

static const char *change_words(unsigned c, ks_buf *b)
{
    static const struct {
        unsigned bit;
        const char *w;
    } w[] = {{MC_ROLE, "application permission"}, {MC_DELEGATED, "delegated permission"},
             {MC_CONSENT, "consent"}, {MC_CREDENTIAL, "credentials added"}, {MC_OWNER, "owner added"},
             {MC_NEW_APP, "new application"}, {MC_MULTI_TENANT, "multi-tenant"},
             {MC_ALL_USERS, "for all users"}};
    ks__buf_reset(b);
    for (size_t i = 0; i < KS_ARRAY_LEN(w); i++)
        if (c & w[i].bit)
            list_add(b, w[i].w);
    return b->p ? b->p : "";
}

/* Audit findings: grants of mailbox-wide access and credential/owner
 * changes, one finding per audit record (the responder revokes each). */
static void emit_changes(ma_det *d, apps *as)
{
    ks_buf words = KS_BUF_INIT;
    for (size_t i = 0; i < d->total.nrecs; i++) {
        const ma_rec *r = &d->total.recs[i];
        if (r->kind != MR_APP_CHANGE || r->failed)
            continue;
        app_info *ai = r->app ? app_get(as, r->app) : NULL;
        const flag *fl = flagged(d, S(d, r->user), r->time, d->session_window * 7);
        bool mail = r->change & MC_MAIL;
        bool cred = r->change & (MC_CREDENTIAL | MC_OWNER);
        if (!mail && !cred && !(r->change & (MC_NEW_APP | MC_MULTI_TENANT)))
            continue;
        ks_severity sev = KS_SEV_LOW;
        if (mail)
            sev = (r->change & MC_ROLE) || (r->change & MC_ALL_USERS) ? KS_SEV_HIGH : KS_SEV_MEDIUM;
        else if (cred && ai && (ai->change & MC_MAIL))
            sev = KS_SEV_MEDIUM; /* new credentials to an app that reads every mailbox */
        if (fl || (ai && ai->other_tenant) || (mail && ai && (ai->change & MC_CREDENTIAL) && (r->change & MC_ROLE)))
            sev = sev < KS_SEV_HIGH ? KS_SEV_HIGH : KS_SEV_CRITICAL;
        if (!mail && !cred)
            sev = fl ? KS_SEV_MEDIUM : KS_SEV_INFO;
        fb b;
        fb_init(&b);
        fb_add(&b, r);
        char title[512];
        const char *name = r->app_name ? S(d, r->app_name) : r->app ? S(d, r->app) :
                           r->app_obj ? S(d, r->app_obj) : "(unnamed)";
        if (mail)
            snprintf(title, sizeof title, "Application %s granted mailbox-wide access: %s", name, S(d, r->what));
        else
            snprintf(title, sizeof title, "Application %s changed: %s", name, change_words(r->change, &words));
        ks_kv m[3];
        size_t nm = 0;
        if (r->app)
            m[nm++] = (ks_kv){"app_id", S(d, r->app)};
        if (mail)
            m[nm++] = (ks_kv){"permissions", S(d, r->what)};
        if (r->user)
            m[nm++] = (ks_kv){"initiated_by", S(d, r->user)};
        ks_kv det[6];
        size_t nd = 0;
        det[nd++] = (ks_kv){"change", change_words(r->change, &words)};
        if (r->app_name)
            det[nd++] = (ks_kv){"app_name", S(d, r->app_name)};
        if (r->app_obj)
            det[nd++] = (ks_kv){"object_id", S(d, r->app_obj)};
        if (fl)
            det[nd++] = (ks_kv){"initiator_compromised", fl->why};
        if (ai && ai->reads)
            det[nd++] = (ks_kv){"reads_mail", "yes: see kensa.mail.app_mail_access"};
        if (mail)
            emit(d, "kensa.mail.app_mail_role", title,
                 "An application was given access to every mailbox (or every user's mail). "
                 "Midnight Blizzard gave full_access_as_app to an OAuth app it controlled. Check "
                 "who granted it and why; remove the grant if nobody can say.",
                 sev, t_role, 1, &b, m, nm, det, nd);
        else
            emit(d, "kensa.mail.app_credentials", title,
                 "Credentials, owners or tenancy of an application changed: whoever holds the new "
                 "credential acts as the application, with all its permissions.",
                 sev, t_cred, 1, &b, m, nm, det, nd);
    }
    ks__buf_release(&words);
}

/* Reads by applications that were granted mail access or new credentials:
 * the app's mail access finding, and who becomes suspicious for the join. */
static void app_access(ma_det *d, apps *as)
{
    ma_store *t = &d->total;
    ks_buf words = KS_BUF_INIT;
    /* 1. changes per app */
    int64_t unresolved = KS_TIME_NONE;      /* grant / credentials without an AppId */
    unsigned unresolved_change = 0;
    ks_buf unresolved_roles = KS_BUF_INIT;
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if (r->kind == MR_SP_SIGNIN && r->app && r->tenant) {
            app_info *ai = app_get(as, r->app);
            if (ai)
                ai->other_tenant = true;
        }
        if (r->kind != MR_APP_CHANGE || r->failed)
            continue;
        unsigned risky = r->change & (MC_MAIL | MC_CREDENTIAL | MC_OWNER | MC_MULTI_TENANT);
        if (!r->app) {
            if (risky && unresolved == KS_TIME_NONE) {
                unresolved = r->time;
            }
            unresolved_change |= r->change;
            if (r->what)
                list_add(&unresolved_roles, S(d, r->what));
            continue;
        }
        app_info *ai = app_get(as, r->app);
        if (!ai)
            continue;
        ai->change |= r->change;
        if (r->app_name && !ai->name)
            ai->name = r->app_name;
        if (risky && (ai->first_change == KS_TIME_NONE || r->time < ai->first_change))
            ai->first_change = r->time;
        if ((r->change & MC_MAIL) && ai->first_mail_grant == KS_TIME_NONE)
            ai->first_mail_grant = r->time;
        if (r->what)
            list_add(&ai->roles, S(d, r->what));
        if (r->user)
            list_add(&ai->actors, S(d, r->user));
    }
    for (size_t k = 0; k < d->napps; k++) {
        ks_buf tmp = KS_BUF_INIT;
        ks__buf_adds(&tmp, d->apps[k]);
        for (size_t j = 0; j < tmp.n; j++)
            if (tmp.p[j] >= 'A' && tmp.p[j] <= 'Z')
                tmp.p[j] = (char)(tmp.p[j] + 32);
        uint32_t id = ks__strpool_add(&t->pool, tmp.p, tmp.n);
        app_info *ai = id ? app_get(as, id) : NULL;
        if (ai)
            ai->listed = true;
        ks__buf_release(&tmp);
    }
    /* 2. reads per app, before and after its first change */
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if (r->kind != MR_MAIL_READ || !r->app || r->failed)
            continue;
        app_info *ai = app_get(as, r->app);
        if (!ai)
            continue;
        ai->reads++;
        ai->items += r->items;
        if (ai->first_read == KS_TIME_NONE)
            ai->first_read = r->time;
        bool after = ai->first_change != KS_TIME_NONE && r->time >= ai->first_change &&
                     r->time - ai->first_change <= d->window;
        const char *ip = S(d, r->ip);
        if (!after) {
            if (ai->first_change == KS_TIME_NONE || r->time < ai->first_change)
                list_add(&ai->ips_before, ip);
            continue;
        }
        ai->reads_after++;
        if (ai->first_read_after == KS_TIME_NONE)
            ai->first_read_after = r->time;
        list_add(&ai->mailboxes, S(d, r->mailbox));
        list_add(&ai->ips_after, ip);
        if (*ip && !in_list(&ai->ips_before, ip))
            list_add(&ai->new_ips, ip);
    }
    /* 3. an audit record without AppId (the Golden SAML data set: the app
     * object's credentials and a tenant-wide Mail.ReadWrite grant) is tied
     * by time to a third-party app that first reads mail after it */
    if (unresolved != KS_TIME_NONE) {
        for (size_t i = 0; i < as->n; i++) {
            app_info *ai = &as->a[i];
            if (ai->first_change != KS_TIME_NONE || ks__ma_first_party(S(d, ai->app)) ||
                ai->first_read == KS_TIME_NONE || ai->first_read < unresolved ||
                ai->first_read - unresolved > d->window)
                continue;
            ai->time_linked = true;
            ai->first_change = unresolved;
            ai->change |= unresolved_change;
            if (unresolved_roles.n)
                list_add(&ai->roles, unresolved_roles.p);
        }
        /* recount the reads of the linked apps */
        for (size_t i = 0; i < t->nrecs; i++) {
            const ma_rec *r = &t->recs[i];
            if (r->kind != MR_MAIL_READ || !r->app || r->failed)
                continue;
            app_info *ai = app_get(as, r->app);
            if (!ai || !ai->time_linked)
                continue;
            ai->reads_after++;
            if (ai->first_read_after == KS_TIME_NONE)
                ai->first_read_after = r->time;
            list_add(&ai->mailboxes, S(d, r->mailbox));
            list_add(&ai->ips_after, S(d, r->ip));
        }
    }
    /* 4. decide per app */
    for (size_t i = 0; i < as->n; i++) {
        app_info *ai = &as->a[i];
        if (ai->listed) {
            ai->suspicious = true;
            ai->why = "listed in mailaccess.apps";
        }
        if (!ai->reads_after || !(ai->change & (MC_MAIL | MC_CREDENTIAL | MC_OWNER | MC_MULTI_TENANT)))
            continue;
        /* an app that read mail before the change, from the same places,
         * had its credentials rotated: routine administration */
        bool rotation = ai->ips_before.n && !ai->new_ips.n && !(ai->change & MC_MAIL);
        if (rotation)
            continue;
        bool mail = ai->change & MC_MAIL;
        const flag *fl = NULL;
        for (const char *q = ai->actors.p; q && !fl && q < ai->actors.p + ai->actors.n;) {
            const char *e = strstr(q, ", ");
            char acct[256];
            snprintf(acct, sizeof acct, "%.*s", (int)(e ? (size_t)(e - q) : strlen(q)), q);
            fl = flagged(d, acct, ai->first_change, d->session_window * 7);
            q = e ? e + 2 : NULL;
        }
        ks_severity sev = mail || (ai->change & MC_CREDENTIAL) ? KS_SEV_HIGH : KS_SEV_MEDIUM;
        if (fl || ai->other_tenant || (ai->change & MC_MULTI_TENANT) ||
            (mail && (ai->change & (MC_CREDENTIAL | MC_OWNER))) || (ai->ips_before.n && ai->new_ips.n))
            sev = KS_SEV_CRITICAL;
        ai->suspicious = true;
        ai->why = "kensa.mail.app_mail_access";
        ai->suspect_from = ai->first_change;
        fb b;
        fb_init(&b);
        for (size_t k = 0; k < t->nrecs; k++) {
            const ma_rec *r = &t->recs[k];
            if (r->app == ai->app && ((r->kind == MR_APP_CHANGE && r->time >= ai->first_change) ||
                                      (r->kind == MR_MAIL_READ && r->time >= ai->first_change)))
                fb_add(&b, r);
        }
        char title[512], reads[32], items[32], tfirst[48], tchange[48];
        const char *name = ai->name ? S(d, ai->name) : S(d, ai->app);
        snprintf(title, sizeof title, "Application %s (%s) read mail after %s: MailItemsAccessed in %s",
                 name, S(d, ai->app), ai->roles.n ? ai->roles.p : change_words(ai->change, &words),
                 ai->mailboxes.p ? ai->mailboxes.p : "?");
        snprintf(reads, sizeof reads, "%llu", (unsigned long long)ai->reads_after);
        snprintf(items, sizeof items, "%llu", (unsigned long long)ai->items);
        fmt_time(ai->first_change, tchange, sizeof tchange);
        fmt_time(ai->first_read_after, tfirst, sizeof tfirst);
        ks_kv m[3] = {{"app_id", S(d, ai->app)}, {"operation", "MailItemsAccessed"},
                      {"permissions", ai->roles.n ? ai->roles.p : change_words(ai->change, &words)}};
        ks_kv det[12];
        size_t nd = 0;
        det[nd++] = (ks_kv){"mailboxes", ai->mailboxes.p ? ai->mailboxes.p : ""};
        det[nd++] = (ks_kv){"access_records", reads};
        det[nd++] = (ks_kv){"items_read", items};
        det[nd++] = (ks_kv){"change", change_words(ai->change, &words)};
        det[nd++] = (ks_kv){"changed_at", tchange};
        det[nd++] = (ks_kv){"first_read_after", tfirst};
        if (ai->actors.n)
            det[nd++] = (ks_kv){"changed_by", ai->actors.p};
        if (ai->ips_after.n)
            det[nd++] = (ks_kv){"client_ips", ai->ips_after.p};
        if (ai->ips_before.n && ai->new_ips.n)
            det[nd++] = (ks_kv){"new_ips", ai->new_ips.p};
        if (fl)
            det[nd++] = (ks_kv){"initiator_compromised", fl->why};
        if (ai->other_tenant || (ai->change & MC_MULTI_TENANT))
            det[nd++] = (ks_kv){"other_tenant", "the application belongs to, or is open to, another tenant"};
        if (ai->time_linked)
            det[nd++] = (ks_kv){"linked_by", "time: the audit record names the app object, not its AppId"};
        emit(d, "kensa.mail.app_mail_access", title,
             "An application that was just given mailbox-wide access or new credentials read mail "
             "(M365 MailItemsAccessed with its AppId). Every message it read is joined with the "
             "secrets found in the hunt's mail stores (kensa.mail.secret_read).",
             sev, t_read, KS_ARRAY_LEN(t_read), &b, m, 3, det, nd);
    }
    ks__buf_release(&words);
    ks__buf_release(&unresolved_roles);
}

/* ---- baselines: first-seen readers, volume, Sync ------------------------------------------------------ */

typedef struct day_count {
    uint64_t key;      /* app << 32 | mailbox, or mailbox */
    int64_t day;
    uint64_t items;
} day_count;

static int dc_cmp(const void *a, const void *b)
{
    const day_count *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return 0;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, u64_cmp);
    return v[n / 2];
}

static uint64_t vol_key(const ma_rec *r, bool by_app)
{
    if (by_app)
        return r->app ? (uint64_t)r->app << 32 | r->mailbox : 0;
    return r->mailbox;
}

static void vol_emit(ma_det *d, apps *as, bool by_app, const day_count *w, uint64_t base, bool own)
{
    ma_store *t = &d->total;
    fb b;
    fb_init(&b);
    for (size_t k = 0; k < t->nrecs; k++) {
        const ma_rec *r = &t->recs[k];
        if (r->kind == MR_MAIL_READ && vol_key(r, by_app) == w->key && r->time != KS_TIME_NONE &&
            r->time / NS_PER_DAY == w->day)
            fb_add(&b, r);
    }
    uint32_t app = by_app ? (uint32_t)(w->key >> 32) : 0, box = (uint32_t)w->key;
    app_info *ai = app ? app_get(as, app) : NULL;
    char title[512], cnt[32], bs[32], day[48];
    if (by_app)
        snprintf(title, sizeof title, "Application %s read %llu items of %s in one day (usual: %llu)",
                 S(d, app), (unsigned long long)w->items, S(d, box), (unsigned long long)base);
    else
        snprintf(title, sizeof title, "Mailbox %s: %llu items read in one day (usual: %llu)", S(d, box),
                 (unsigned long long)w->items, (unsigned long long)base);
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)w->items);
    snprintf(bs, sizeof bs, "%llu", (unsigned long long)base);
    fmt_time(w->day * NS_PER_DAY, day, sizeof day);
    ks_kv mt[2] = {{by_app ? "app_id" : "mailbox", by_app ? S(d, app) : S(d, box)},
                   {"operation", "MailItemsAccessed"}};
    ks_kv det[5] = {{"items", cnt}, {"baseline_items", bs}, {"day", day},
                    {"baseline", own ? "the reader's other days" : "the tenant's median reader-mailbox day"},
                    {"mailbox", S(d, box)}};
    emit(d, "kensa.mail.volume", title,
         "Far more mail items read in a day than this reader usually reads in this mailbox (or the "
         "tenant's readers usually read in one): bulk collection.",
         ai && ai->suspicious ? KS_SEV_HIGH : KS_SEV_MEDIUM, t_collect, 1, &b, mt, 2, det,
         by_app ? 5 : 4);
}

/* Items per day per (reader, mailbox) — by_app — or per mailbox, against
 * the key's other days (else the tenant's median day of that kind); one
 * finding per key, its worst day. */
static void volume(ma_det *d, apps *as, bool by_app)
{
    ma_store *t = &d->total;
    day_count *dc = NULL;
    uint64_t *tmp = NULL;
    size_t n = 0, cap = 0;
    ks_map *ix = ks__map_new(1024);
    if (!ix)
        return;
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        uint64_t key = vol_key(r, by_app);
        if (r->kind != MR_MAIL_READ || !key || r->time == KS_TIME_NONE)
            continue;
        int64_t day = r->time / NS_PER_DAY;
        uint64_t k2[2] = {key, (uint64_t)day};
        uint64_t *slot = ks__map_slot(ix, k2, sizeof k2, true);
        if (!slot)
            goto out;
        if (!*slot) {
            if (ks__grow(&dc, &cap, n, sizeof *dc, 256) != KS_OK)
                goto out;
            dc[n++] = (day_count){key, day, 0};
            *slot = n;
        }
        dc[*slot - 1].items += r->items;
    }
    if (!n || !(tmp = malloc(n * sizeof *tmp)))
        goto out;
    qsort(dc, n, sizeof *dc, dc_cmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = dc[i].items;
    uint64_t tenant = median(tmp, n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && dc[j].key == dc[i].key)
            j++;
        size_t worst = i, m = 0;
        for (size_t k = i; k < j; k++)
            if (dc[k].items > dc[worst].items)
                worst = k;
        for (size_t k = i; k < j; k++)
            if (k != worst)
                tmp[m++] = dc[k].items;
        uint64_t base = m >= 2 ? median(tmp, m) : tenant;
        if (!base)
            base = 1;
        if (dc[worst].items >= d->volume_min && (double)dc[worst].items > d->volume_factor * (double)base)
            vol_emit(d, as, by_app, &dc[worst], base, m >= 2);
        i = j;
    }
out:
    free(tmp);
    free(dc);
    ks__map_free(ix);
}

/* First-seen applications per mailbox after the baseline, and Sync of
 * whole folders by readers that did not sync that mailbox before. */
static void first_seen(ma_det *d, apps *as)
{
    ma_store *t = &d->total;
    int64_t t0 = KS_TIME_NONE;
    for (size_t i = 0; i < t->nrecs && t0 == KS_TIME_NONE; i++)
        if (t->recs[i].kind == MR_MAIL_READ && t->recs[i].time != KS_TIME_NONE)
            t0 = t->recs[i].time;
    if (t0 == KS_TIME_NONE)
        return;
    int64_t base_end = t0 + d->learn;
    ks_map *pairs = ks__map_new(4096), *sync = ks__map_new(1024), *base_boxes = ks__map_new(1024);
    if (!pairs || !sync || !base_boxes)
        goto out;
    /* the baseline: which app read which mailbox, how many mailboxes */
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if (r->kind != MR_MAIL_READ || !r->app || r->time >= base_end)
            continue;
        uint32_t k[2] = {r->app, r->mailbox};
        uint64_t *s = ks__map_slot(pairs, k, sizeof k, true);
        if (s && !*s) {
            *s = 1;
            uint64_t *c = ks__map_slot(base_boxes, &r->app, 4, true);
            if (c)
                (*c)++;
        }
        if (r->sync && (s = ks__map_slot(sync, k, sizeof k, true)))
            *s = 1;
    }
    /* after it: one pass, each new (app, mailbox) pair of an app that is
     * not the tenant's own */
    for (size_t k = 0; k < t->nrecs; k++) {
        const ma_rec *r = &t->recs[k];
        if (r->kind != MR_MAIL_READ || !r->app || r->time < base_end || ks__ma_first_party(S(d, r->app)))
            continue;
        uint64_t *c = ks__map_get(base_boxes, &r->app, 4);
        if (c && *c >= d->known_app_mailboxes)
            continue;
        uint32_t key[2] = {r->app, r->mailbox};
        uint64_t *s = ks__map_slot(pairs, key, sizeof key, true);
        app_info *ai = app_get(as, r->app);
        if (!s || *s == 1 || !ai)
            continue;
        if (!ai->n_new)
            fb_init(&ai->new_ev);
        if (!*s) {
            *s = 2;
            ai->n_new++;
            list_add(&ai->new_boxes, S(d, r->mailbox));
        }
        fb_add(&ai->new_ev, r);
    }
    for (size_t i = 0; i < as->n; i++) {
        app_info *ai = &as->a[i];
        if (!ai->n_new)
            continue;
        const char *id = S(d, ai->app);
        uint64_t *c = ks__map_get(base_boxes, &ai->app, 4);
        char title[512], nb[24];
        snprintf(title, sizeof title, "Application %s read %zu mailbox%s it never read before: %s", id,
                 ai->n_new, ai->n_new == 1 ? "" : "es", ai->new_boxes.p);
        snprintf(nb, sizeof nb, "%zu", ai->n_new);
        ks_kv m[2] = {{"app_id", id}, {"operation", "MailItemsAccessed"}};
        ks_kv det[3] = {{"mailboxes", ai->new_boxes.p}, {"new_mailboxes", nb},
                        {"baseline", c ? "the app read fewer mailboxes in the baseline" : "the app was not seen in the baseline"}};
        emit(d, "kensa.mail.new_reader", title,
             "An application the tenant's baseline never saw reading these mailboxes read them. "
             "Check the application's owner and grants.",
             ai->suspicious ? KS_SEV_HIGH : KS_SEV_MEDIUM, t_collect, 1, &ai->new_ev, m, 2, det, 3);
    }
    /* Sync: a whole folder handed to a client; normal for Outlook desktop */
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if (r->kind != MR_MAIL_READ || !r->sync || !r->app || r->time < base_end)
            continue;
        const char *app = S(d, r->app);
        uint32_t k[2] = {r->app, r->mailbox};
        uint64_t *s = ks__map_slot(sync, k, sizeof k, true);
        if (!s || *s)
            continue;
        *s = 1;
        app_info *ai = r->app ? app_get(as, r->app) : NULL;
        if (r->app && ks__ma_first_party(app) && !(ai && ai->suspicious))
            continue;
        fb b;
        fb_init(&b);
        for (size_t j = i; j < t->nrecs; j++)
            if (t->recs[j].kind == MR_MAIL_READ && t->recs[j].sync && t->recs[j].app == r->app &&
                t->recs[j].mailbox == r->mailbox)
                fb_add(&b, &t->recs[j]);
        char title[512];
        snprintf(title, sizeof title, "Whole folder%s of %s synchronised by %s%s (MailItemsAccessed Sync)",
                 b.count > 1 ? "s" : "", S(d, r->mailbox), r->app ? "application " : "a session of ",
                 r->app ? app : S(d, r->user));
        ks_kv m[3] = {{"mailbox", S(d, r->mailbox)}, {"operation", "MailItemsAccessed"},
                      {"app_id", app}};
        ks_kv det[2] = {{"mail_access_type", "Sync"}, {"folder", S(d, r->what)}};
        emit(d, "kensa.mail.sync", title,
             "MailItemsAccessed Sync means a client downloaded whole folders; Outlook desktop does "
             "this, an unfamiliar application or session doing it took a copy of the mailbox.",
             ai && ai->suspicious ? KS_SEV_HIGH : KS_SEV_MEDIUM, t_collect, 1, &b, m, 3, det, 2);
    }
out:
    ks__map_free(pairs);
    ks__map_free(sync);
    ks__map_free(base_boxes);
}

/* ---- sessions after an identity compromise ------------------------------------------------------------- */

typedef struct session {
    uint32_t user;
    const flag *fl;
    bool listed;
    int64_t from;
} session;

static void sessions(ma_det *d, session **out, size_t *nout)
{
    ma_store *t = &d->total;
    session *ss = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if (r->kind != MR_MAIL_READ || r->failed || !r->user)
            continue;
        const char *user = S(d, r->user);
        bool listed = false;
        for (size_t k = 0; k < d->naccounts && !listed; k++)
            listed = !strcasecmp(d->accounts[k], user);
        const flag *fl = flagged(d, user, r->time, d->session_window);
        if (!fl && r->ip)
            fl = flagged(d, S(d, r->ip), r->time, d->session_window);
        /* an application's own reads are judged as the application's */
        if (!listed && (!fl || (r->app && !ks__ma_first_party(S(d, r->app)))))
            continue;
        size_t k = 0;
        while (k < n && ss[k].user != r->user)
            k++;
        if (k == n) {
            if (ks__grow(&ss, &cap, n, sizeof *ss, 8) != KS_OK)
                break;
            ss[n++] = (session){r->user, fl, listed, r->time};
        }
    }
    for (size_t k = 0; k < n; k++) {
        fb b;
        fb_init(&b);
        ks_buf boxes = KS_BUF_INIT, ips = KS_BUF_INIT;
        for (size_t i = 0; i < t->nrecs; i++) {
            const ma_rec *r = &t->recs[i];
            if (r->kind == MR_MAIL_READ && r->user == ss[k].user && r->time >= ss[k].from) {
                fb_add(&b, r);
                list_add(&boxes, S(d, r->mailbox));
                list_add(&ips, S(d, r->ip));
            }
        }
        char title[512];
        snprintf(title, sizeof title, "Mail read by %s right after %s (MailItemsAccessed in %s)",
                 S(d, ss[k].user), ss[k].listed ? "it was listed as compromised" : "its compromise",
                 boxes.p ? boxes.p : "?");
        ks_kv m[2] = {{"account", S(d, ss[k].user)}, {"operation", "MailItemsAccessed"}};
        ks_kv det[3] = {{"mailboxes", boxes.p ? boxes.p : ""}, {"client_ips", ips.p ? ips.p : ""},
                        {"compromise", ss[k].listed ? "mailaccess.accounts" : ss[k].fl->why}};
        emit(d, "kensa.mail.session_read", title,
             "The account the password spray (or a single-factor sign-in) gave away read mail "
             "shortly after. Every message read is joined with the secrets in the hunt's mail.",
             KS_SEV_HIGH, t_valid, 2, &b, m, 2, det, 3);
        ks__buf_release(&boxes);
        ks__buf_release(&ips);
    }
    *out = ss;
    *nout = n;
}

/* ---- other mailbox operations and on-premises exports ---------------------------------------------------- */

static void operations(ma_det *d, apps *as, const session *ss, size_t nss)
{
    ma_store *t = &d->total;
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if ((r->kind != MR_MAIL_OP && r->kind != MR_ONPREM) || r->failed)
            continue;
        app_info *ai = r->app ? app_get(as, r->app) : NULL;
        bool sus_app = ai && ai->suspicious && (ai->suspect_from == KS_TIME_NONE || r->time >= ai->suspect_from);
        bool sus_user = false;
        for (size_t k = 0; k < nss; k++)
            sus_user |= ss[k].user == r->user && r->time >= ss[k].from;
        const flag *fl = flagged(d, S(d, r->user), r->time, d->session_window);
        bool sus = sus_app || sus_user || fl;
        const char *rule = NULL, *title = NULL, *desc = NULL;
        const char *const *tech = t_collect;
        ks_severity sev = KS_SEV_MEDIUM;
        switch (r->op) {
        case MO_SEND:
        case MO_SEARCH:
            if (!sus)
                continue;
            rule = r->op == MO_SEND ? "kensa.mail.send" : "kensa.mail.search";
            title = r->op == MO_SEND ? "Mail sent by a suspicious application or session"
                                     : "Mailbox searched by a suspicious application or session";
            desc = "The reader of kensa.mail.app_mail_access / session_read also sent or searched mail.";
            sev = KS_SEV_HIGH;
            break;
        case MO_INBOX_RULE:
        case MO_FORWARDING:
            rule = r->op == MO_INBOX_RULE ? "kensa.mail.inbox_rule" : "kensa.mail.forwarding";
            title = r->external ? "Mail forwarded outside the organisation" : "Inbox rule that forwards or hides mail";
            desc = "Forwarding and hiding rules keep collecting mail after the attacker leaves.";
            tech = t_fwd;
            sev = r->external || sus ? KS_SEV_HIGH : KS_SEV_MEDIUM;
            break;
        case MO_EDISCOVERY:
            rule = "kensa.mail.ediscovery";
            title = "eDiscovery (compliance) search of mailboxes";
            desc = "A compliance search reads every mailbox it targets; check that a case exists.";
            sev = sus ? KS_SEV_HIGH : KS_SEV_LOW;
            break;
        case MO_EDISCOVERY_EXPORT:
            rule = "kensa.mail.ediscovery_export";
            title = "eDiscovery search results exported or downloaded";
            desc = "Exported compliance search results are a copy of the mailboxes searched.";
            tech = t_export;
            sev = sus ? KS_SEV_CRITICAL : KS_SEV_MEDIUM;
            break;
        case MO_EXPORT_REQUEST:
            rule = "kensa.mail.export_request";
            title = r->external ? "Mailbox exported to a web folder (ProxyShell-style New-MailboxExportRequest)"
                                : "Mailbox export requested (New-MailboxExportRequest)";
            desc = "Hafnium exported whole mailboxes to .pst with New-MailboxExportRequest and "
                   "pulled them through the web server; ProxyShell wrote the export as a web shell.";
            tech = t_export;
            sev = r->external ? KS_SEV_CRITICAL : KS_SEV_HIGH;
            break;
        case MO_EXPORT_ROLE:
            rule = "kensa.mail.export_role";
            title = "Mailbox Import Export role assigned";
            desc = "The role New-MailboxExportRequest needs; ProxyShell grants it before exporting.";
            tech = t_role;
            sev = KS_SEV_MEDIUM;
            break;
        case MO_WEB_DOWNLOAD:
            rule = "kensa.mail.export_download";
            title = "Mail export or archive downloaded from the web server";
            desc = "A .pst or a large archive served from a web folder: an export pulled out.";
            tech = t_exfil;
            sev = KS_SEV_HIGH;
            break;
        case MO_ARCHIVER:
            rule = "kensa.mail.archiver";
            title = "Archiver started by the web server (w3wp.exe)";
            desc = "A web shell packing files (exports, mailboxes) for download.";
            tech = t_exfil;
            sev = KS_SEV_HIGH;
            break;
        default:
            continue;
        }
        fb b;
        fb_init(&b);
        fb_add(&b, r);
        char bytes[32];
        ks_kv m[4];
        size_t nm = 0;
        if (r->what)
            m[nm++] = (ks_kv){r->kind == MR_ONPREM ? "command" : "parameters", S(d, r->what)};
        if (r->app)
            m[nm++] = (ks_kv){"app_id", S(d, r->app)};
        if (r->user)
            m[nm++] = (ks_kv){"user", S(d, r->user)};
        if (r->mailbox)
            m[nm++] = (ks_kv){"mailbox", S(d, r->mailbox)};
        ks_kv det[3];
        size_t nd = 0;
        if (r->op == MO_WEB_DOWNLOAD) {
            snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)r->bytes);
            det[nd++] = (ks_kv){"bytes", bytes};
        }
        if (r->op == MO_EXPORT_REQUEST && r->app_name)
            det[nd++] = (ks_kv){"file_path", S(d, r->app_name)};
        if (sus)
            det[nd++] = (ks_kv){"actor_suspicious", sus_app ? "kensa.mail.app_mail_access" : sus_user ? "kensa.mail.session_read" : fl->why};
        emit(d, rule, title, desc, sev, tech, tech == t_exfil || tech == t_export ? 2 : 1, &b, m, nm, det, nd);
    }
}

/* ---- the join --------------------------------------------------------------------------------------------- */

static long join(ma_det *d, apps *as, const session *ss, size_t nss)
{
    ma_store *t = &d->total;
    size_t added = 0;
    for (size_t i = 0; i < t->nrecs; i++) {
        const ma_rec *r = &t->recs[i];
        if (r->kind != MR_MAIL_READ || r->failed || !r->nids)
            continue;
        app_info *ai = r->app ? app_get(as, r->app) : NULL;
        const char *why = NULL;
        if (ai && ai->suspicious && (ai->suspect_from == KS_TIME_NONE || r->time >= ai->suspect_from))
            why = ai->why;
        for (size_t k = 0; k < nss && !why; k++)
            if (ss[k].user == r->user && r->time >= ss[k].from)
                why = ss[k].listed ? "listed in mailaccess.accounts" : "kensa.mail.session_read";
        if (!why)
            continue;
        for (uint32_t k = 0; k < r->nids; k++) {
            const ma_msgid *m = &t->ids[r->first_id + k];
            ma_reader rd = {.app = S(d, r->app), .user = S(d, r->user), .mailbox = S(d, r->mailbox),
                            .ip = S(d, r->ip), .why = why, .time = r->time, .folder = S(d, m->folder),
                            .ev = &r->loc.ev};
            if (ks__ma_join_add(d->join, S(d, m->id), &rd) == KS_OK)
                added++;
        }
    }
    return added ? ks__ma_join_run(d->join) : 0;
}

/* ---- life cycle ------------------------------------------------------------------------------------------- */

static void ma_destroy(void *p)
{
    ma_det *d = p;
    if (!d)
        return;
    ks__ma_store_release(&d->total);
    for (size_t i = 0; i < d->nflags; i++)
        free(d->flags[i].key);
    free(d->flags);
    ks__ma_join_free(d->join);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int ma_create(ks_engine *e, void **out)
{
    ma_det *d = calloc(1, sizeof *d);
    int rc = KS_ENOMEM;
    *out = NULL;
    if (!d)
        return KS_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->e = e;
    d->window = ks__opt_duration(e, "mailaccess.window");
    d->learn = ks__opt_duration(e, "mailaccess.learn");
    d->session_window = ks__opt_duration(e, "mailaccess.session_window");
    d->known_app_mailboxes = (uint64_t)ks__opt_int(e, "mailaccess.known_app_mailboxes");
    d->volume_min = (uint64_t)ks__opt_int(e, "mailaccess.volume_min");
    d->volume_factor = ks__opt_double(e, "mailaccess.volume_factor");
    d->max_records = (uint64_t)ks__opt_int(e, "mailaccess.max_records");
    d->napps = ks__opt_list(e, "mailaccess.apps", &d->apps);
    d->naccounts = ks__opt_list(e, "mailaccess.accounts", &d->accounts);
    if (ks__ma_store_init(&d->total) != KS_OK)
        goto out;
    if (ks__opt_bool(e, "mailaccess.join") && (rc = ks__ma_join_new(e, &d->join)) != KS_OK)
        goto out;
    *out = d;
    d = NULL;
    rc = KS_OK;
out:
    ma_destroy(d);
    return rc;
}

static void ma_worker_done(void *det, void *p);

static int ma_worker_new(void *det, ks_worker *w, void **out)
{
    ma_ws *ws = calloc(1, sizeof *ws);
    *out = NULL;
    if (!ws)
        return KS_ENOMEM;
    ws->d = det;
    if (ks__ma_store_init(&ws->own) != KS_OK || ks__ma_norm_init(&ws->norm, ws->d->e, w) != KS_OK) {
        ks__ma_store_release(&ws->own);
        free(ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static int ma_on_event(void *p, const ks_event *ev)
{
    ma_ws *ws = p;
    if (ws->own.nrecs >= ws->d->max_records) {
        ws->own.dropped++;
        return KS_OK;
    }
    return ks__ma_normalize(&ws->norm, &ws->own, ev);
}

/* Files that may hold mail are noted for the join: read again in finish()
 * only if someone suspicious read something. */
static int ma_on_file(void *p, const ks_file *f)
{
    ma_ws *ws = p;
    if (!ws->d->join || f->xnode || !f->path || !strcmp(f->path, "-") || f->format)
        return KS_OK;
    const struct ks_extractor *x = ks__extractor_sniff(f->head, f->nhead, f->name);
    if (!x)
        return KS_OK;
    static const char *const mailish[] = {"mbox", "mime", "msg", "tnef", "pst", "archive"};
    for (size_t i = 0; i < KS_ARRAY_LEN(mailish); i++)
        if (!strcmp(x->name, mailish[i]))
            return ks__ma_join_file(ws->d->join, f->path);
    return KS_OK;
}

static void ma_worker_done(void *det, void *p)
{
    ma_det *d = det;
    ma_ws *ws = p;
    if (!ws)
        return;
    pthread_mutex_lock(&d->lock);
    if (ks__ma_store_merge(&d->total, &ws->own, d->max_records) != KS_OK)
        d->total.dropped += ws->own.nrecs;
    pthread_mutex_unlock(&d->lock);
    ks__ma_store_release(&ws->own);
    ks__ma_norm_release(&ws->norm);
    free(ws);
}

static int ma_finish(void *p)
{
    ma_det *d = p;
    apps as = {0};
    session *ss = NULL;
    size_t nss = 0;
    if (!d->total.nrecs)
        return KS_OK;
    if (!(as.ix = ks__map_new(256)))
        return KS_ENOMEM;
    qsort(d->total.recs, d->total.nrecs, sizeof *d->total.recs, rec_cmp);
    resolve_apps(d);
    app_access(d, &as);
    emit_changes(d, &as);
    first_seen(d, &as);
    volume(d, &as, true);
    volume(d, &as, false);
    sessions(d, &ss, &nss);
    operations(d, &as, ss, nss);
    if (d->join)
        join(d, &as, ss, nss);
    if (d->total.dropped) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "mailaccess", &loc,
                 "%llu mail-access records over mailaccess.max_records were counted, not analysed",
                 (unsigned long long)d->total.dropped);
    }
    free(ss);
    apps_free(&as);
    return KS_OK;
}

const struct ks_detector ks_detector_mailaccess = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "mailaccess",
    .description = "mailbox access: app grants then reads, first-seen readers, volume, exports; "
                   "secrets in the messages an attacker read",
    .flags = KS_DET_EVENTS | KS_DET_FILES | KS_DET_STREAMS,
    .create = ma_create,
    .worker_new = ma_worker_new,
    .on_event = ma_on_event,
    .on_file = ma_on_file,
    .worker_done = ma_worker_done,
    .finish = ma_finish,
    .on_finding = ma_on_finding,
    .destroy = ma_destroy,
};
