/* SPDX-License-Identifier: Apache-2.0
 *
 * The mailbox-access normaliser: one event in, at most one compact record
 * out (mailaccess.h). Records are claimed by content, whatever the input
 * that read them:
 *  - Entra ID audit logs in the Graph directoryAudits shape (camelCase,
 *    targetResources[] as JSON), the Log Analytics AuditLogs shape
 *    (PascalCase, TargetResources and InitiatedBy as JSON kept in strings)
 *    and Azure Monitor diagnostics (properties.*): application changes;
 *  - service-principal sign-ins (servicePrincipalId + appId);
 *  - the M365 unified audit log, AuditData flattened, kept as a string, or
 *    in Sentinel's OfficeActivity shape (Folders, OperationProperties and
 *    Parameters as JSON strings): MailItemsAccessed, Send, searches, inbox
 *    rules, forwarding, eDiscovery;
 *  - Exchange on-premises: New-MailboxExportRequest in the MSExchange
 *    Management log, PowerShell logs, the ECP server log or a command
 *    line; exported files served by IIS; archivers started by w3wp.
 * Scalar names come from the field schema (engine/fields.def); arrays
 * (targetResources[].modifiedProperties[], Folders[].FolderItems[]) are
 * walked by path here, since their indexes are not names.
 */
#include <stdlib.h>
#include <string.h>
#include "mailaccess.h"
#include "identity.h"
#include "input/json.h"

#define MAX_FOLDERS 64        /* folders of one MailItemsAccessed record */
#define MAX_TARGETS 8         /* target resources of one audit record */
#define MAX_IDS_PER_REC 100000

/* ---- small helpers ------------------------------------------------------------ */

static bool ieq(ks_slice s, const char *lit)
{
    return s.p && ks__ieq(s.p, s.n, lit, strlen(lit));
}

static bool iprefix(ks_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.p && s.n >= n && ks__ieq(s.p, n, lit, n);
}

static bool icontains(ks_slice s, const char *lit)
{
    return s.p && ks__memmem_ci(s.p, s.n, lit, strlen(lit)) != NULL;
}

static bool isuffix(ks_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.p && s.n >= n && ks__ieq(s.p + s.n - n, n, lit, n);
}

static ks_slice vstr(const ks_value *v)
{
    ks_slice s = {NULL, 0};
    if (v && v->type == KS_VSTR) {
        s = v->u.s;
        if (!s.p)
            s.p = "";
    }
    return s;
}

/* Strips surrounding quotes and blanks (modifiedProperties values are JSON
 * text: "\"full_access_as_app\""). */
static ks_slice unquote(ks_slice s)
{
    while (s.n && (s.p[0] == '"' || s.p[0] == ' ' || s.p[0] == '[')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == '"' || s.p[s.n - 1] == ' ' || s.p[s.n - 1] == ']'))
        s.n--;
    return s;
}

/* Interns s lower-cased (ids, UPNs and addresses compare without case). */
static uint32_t add_lower(ma_store *st, ks_buf *tmp, ks_slice s)
{
    if (!s.p || !s.n)
        return 0;
    ks__buf_reset(tmp);
    if (ks__buf_add(tmp, s.p, s.n) != KS_OK)
        return 0;
    for (size_t i = 0; i < tmp->n; i++)
        if (tmp->p[i] >= 'A' && tmp->p[i] <= 'Z')
            tmp->p[i] = (char)(tmp->p[i] + 32);
    return ks__strpool_add(&st->pool, tmp->p, tmp->n);
}

static uint32_t add(ma_store *st, ks_slice s)
{
    return s.p && s.n ? ks__strpool_add(&st->pool, s.p, s.n) : 0;
}

static bool zero_guid(ks_slice s)
{
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] != '0' && s.p[i] != '-')
            return false;
    return true;
}

/* ---- first-party applications ------------------------------------------------- */

static const struct {
    const char *id, *name;
} first_party[] = {
    {"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"},
    {"00000003-0000-0000-c000-000000000000", "Microsoft Graph"},
    {"5d661950-3475-41cd-a2c3-d671a3162bc1", "Outlook"},
    {"d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"},
    {"27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile"},
    {"9199bf20-a13f-4107-85dc-02114787ef48", "One Outlook Web"},
    {"00000006-0000-0ff1-ce00-000000000000", "Microsoft Office 365 Portal"},
    {"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"},
    {"5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "Microsoft Teams Web Client"},
    {"4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"},
    {"82d8ab62-be52-a567-14ea-1616c4ee06c4", "Outlook Web App"},
    {"a3883eba-fbe9-48bd-9ed3-dca3e0e84250", "Exchange Admin Center"},
    {"13937bba-652e-4c46-b222-3003f4d1ff97", "Substrate Context Service"},
};

const char *ks__ma_first_party(const char *app_id)
{
    for (size_t i = 0; app_id && i < KS_ARRAY_LEN(first_party); i++)
        if (!strcasecmp(app_id, first_party[i].id))
            return first_party[i].name;
    return NULL;
}

/* ---- mailbox-wide permissions ------------------------------------------------------ */

/* Application and delegated permissions that read every mailbox (or the
 * signed-in users' mail), by name and by the role / scope id an audit
 * record may carry instead. */
static const struct {
    const char *name, *id;
} mail_perms[] = {
    {"full_access_as_app", "dc890d15-9560-4a4c-9b7f-a736ec74ec40"},
    {"EWS.AccessAsUser.All", "3b5f3d61-589b-4a3c-a359-5dd4b5ee5bd5"},
    {"EWS.full_access_as_app", NULL},
    {"Mail.Read", "810c84a8-4a9e-49e6-bf7d-12d183f40d01"},
    {"Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9"},
    {"Mail.ReadBasic.All", "693c5e45-0940-467d-9b8a-1022fb9d42ef"},
    {"Mail.Read", "570282fd-fa5c-430d-a7fd-fc8dc98a9dca"},       /* delegated */
    {"Mail.ReadWrite", "024d486e-b451-40bb-833d-3e66d98c5c73"},  /* delegated */
    {"Mail.Read.Shared", NULL},
    {"Mail.ReadWrite.Shared", NULL},
    {"IMAP.AccessAsUser.All", NULL},
    {"POP.AccessAsUser.All", NULL},
    {"IMAP.AccessAsApp", NULL},
    {"POP.AccessAsApp", NULL},
};

static bool word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* Appends name to the comma-separated list unless it is there. */
static void add_role(ks_buf *roles, const char *name)
{
    size_t nn = strlen(name);
    for (const char *q = roles->p; q && q < roles->p + roles->n;) {
        const char *e = memchr(q, ',', (size_t)(roles->p + roles->n - q));
        size_t len = e ? (size_t)(e - q) : (size_t)(roles->p + roles->n - q);
        if (len == nn && !memcmp(q, name, nn))
            return;
        q = e ? e + 2 : NULL;
    }
    if (roles->n)
        ks__buf_adds(roles, ", ");
    ks__buf_adds(roles, name);
}

/* Appends to roles the mail permissions named (as whole words) in s. */
static void find_perms(ks_slice s, ks_buf *roles)
{
    for (size_t k = 0; s.p && k < KS_ARRAY_LEN(mail_perms); k++) {
        const char *keys[2] = {mail_perms[k].name, mail_perms[k].id};
        for (int j = 0; j < 2; j++) {
            if (!keys[j])
                continue;
            size_t kn = strlen(keys[j]);
            const char *h = s.p, *end = s.p + s.n, *m;
            while ((m = ks__memmem_ci(h, (size_t)(end - h), keys[j], kn)) != NULL) {
                bool lb = m == s.p || !word_char(m[-1]);
                bool rb = m + kn == end || !word_char(m[kn]) || (m[kn] == '.' && (m + kn + 1 == end || !word_char(m[kn + 1])));
                if (lb && rb) {
                    add_role(roles, mail_perms[k].name);
                    break;
                }
                h = m + 1;
            }
        }
    }
}

/* ---- walking an event's fields --------------------------------------------------------- */

/* Name of field f without the wrappers an export adds around a record. */
static ks_slice fname(const ks_event *ev, const ks_field *f)
{
    size_t n = 0;
    const char *s = ks_symtab_str(ev->syms, f->name, &n);
    ks_slice r = {s ? s : "", s ? n : 0};
    static const char *const wrap[] = {"AuditData.", "properties.", "RawEventData."};
    for (size_t i = 0; i < KS_ARRAY_LEN(wrap); i++)
        if (iprefix(r, wrap[i])) {
            r.p += strlen(wrap[i]);
            r.n -= strlen(wrap[i]);
        }
    return r;
}

/* Parses "<head>.<N>." at s; returns N and advances s, or -1. */
static long index_after(ks_slice *s, const char *head)
{
    size_t hn = strlen(head);
    if (s->n <= hn + 1 || !ks__ieq(s->p, hn, head, hn) || s->p[hn] != '.')
        return -1;
    size_t i = hn + 1;
    long v = 0;
    if (i >= s->n || s->p[i] < '0' || s->p[i] > '9')
        return -1;
    while (i < s->n && s->p[i] >= '0' && s->p[i] <= '9' && v < 1000000)
        v = v * 10 + (s->p[i++] - '0');
    if (i < s->n && s->p[i] != '.')
        return -1;
    s->p += i + (i < s->n);
    s->n -= i + (i < s->n);
    return v;
}

/* JSON kept in strings (Log Analytics, Sentinel, AuditData) is flattened
 * into the scratch event under its own name. */
static const char *const embedded[] = {
    "AuditData", "Folders", "OperationProperties", "Parameters", "TargetResources",
    "InitiatedBy", "AdditionalDetails", "Item", "ModifiedProperties",
};

static void flatten_embedded(ma_norm *n, const ks_event *ev)
{
    ks__event_reset(&n->scratch);
    ks__arena_reset(n->arena);
    for (size_t i = 0; i < ev->n; i++) {
        const ks_field *f = &ev->fields[i];
        if (f->v.type != KS_VSTR || f->v.u.s.n < 2 || (f->v.u.s.p[0] != '[' && f->v.u.s.p[0] != '{'))
            continue;
        ks_slice nm = fname(ev, f);
        for (size_t k = 0; k < KS_ARRAY_LEN(embedded); k++)
            if (ieq(nm, embedded[k])) {
                /* damage inside an embedded string only loses that part */
                ks__json_flatten(&n->scratch, embedded[k], strlen(embedded[k]), f->v.u.s.p,
                                 f->v.u.s.n, NULL, NULL);
                break;
            }
    }
}

/* The value of canonical field f from the event, else the scratch event. */
static ks_slice field(const ma_norm *n, const ks_event *ev, int f)
{
    ks_slice s = vstr(ks__field(ev, f));
    if (!s.p && n->scratch.n)
        s = vstr(ks__field(&n->scratch, f));
    return s;
}

typedef void (*field_fn)(void *ud, const ks_event *ev, ks_slice name, const ks_value *v);

static void each_field(const ma_norm *n, const ks_event *ev, field_fn fn, void *ud)
{
    for (size_t i = 0; i < ev->n; i++)
        fn(ud, ev, fname(ev, &ev->fields[i]), &ev->fields[i].v);
    for (size_t i = 0; i < n->scratch.n; i++)
        fn(ud, &n->scratch, fname(&n->scratch, &n->scratch.fields[i]), &n->scratch.fields[i].v);
}

/* ---- Entra ID audit: application changes ---------------------------------------------------- */

typedef struct target {
    ks_slice id, name, type;
} target;

typedef struct audit_view {
    ma_norm *n;
    target t[MAX_TARGETS];
    size_t nt;
    ks_slice sp_app, sp_obj, sp_name;  /* ServicePrincipal.* modified properties */
    ks_slice app_prop;                  /* AppId modified property / additional detail */
    ks_slice spn;                       /* TargetId.ServicePrincipalNames */
    ks_slice actor_ip, actor_app;
    ks_slice cur_mp_name;               /* displayName of the modified property being read */
    unsigned change;
} audit_view;

static void audit_field(void *ud, const ks_event *ev, ks_slice nm, const ks_value *v)
{
    audit_view *a = ud;
    ks_slice s = vstr(v);
    (void)ev;
    if (!s.p)
        return;
    if (ieq(nm, "initiatedBy.user.ipAddress") || ieq(nm, "InitiatedBy.user.ipAddress")) {
        a->actor_ip = s;
        return;
    }
    if (ieq(nm, "initiatedBy.app.displayName") || ieq(nm, "InitiatedBy.app.displayName")) {
        a->actor_app = s;
        return;
    }
    ks_slice r = nm;
    long ti = index_after(&r, "targetResources");
    if (ti < 0) {
        r = nm;
        ti = index_after(&r, "TargetResources");
    }
    if (ti < 0) {
        /* additionalDetails[].key == AppId */
        r = nm;
        if (index_after(&r, "additionalDetails") >= 0 || (r = nm, index_after(&r, "AdditionalDetails") >= 0)) {
            if (ieq(r, "key"))
                a->cur_mp_name = s;
            else if (ieq(r, "value") && ieq(a->cur_mp_name, "AppId"))
                a->app_prop = unquote(s);
        }
        /* Log Analytics' own columns */
        if (ieq(nm, "Permissions"))
            find_perms(s, &a->n->roles);
        return;
    }
    if (ti < MAX_TARGETS && (size_t)ti >= a->nt)
        a->nt = (size_t)ti + 1;
    target *t = ti < MAX_TARGETS ? &a->t[ti] : NULL;
    if (t && ieq(r, "id"))
        t->id = s;
    else if (t && ieq(r, "displayName"))
        t->name = s;
    else if (t && ieq(r, "type"))
        t->type = s;
    else if (index_after(&r, "modifiedProperties") >= 0) {
        if (ieq(r, "displayName")) {
            a->cur_mp_name = s;
            return;
        }
        if (!ieq(r, "newValue"))
            return;
        ks_slice mp = a->cur_mp_name, val = unquote(s);
        if (ieq(mp, "ServicePrincipal.AppId"))
            a->sp_app = val;
        else if (ieq(mp, "ServicePrincipal.ObjectID"))
            a->sp_obj = val;
        else if (ieq(mp, "ServicePrincipal.DisplayName"))
            a->sp_name = val;
        else if (ieq(mp, "AppId"))
            a->app_prop = val;
        else if (ieq(mp, "TargetId.ServicePrincipalNames"))
            a->spn = val;
        else if (ieq(mp, "KeyDescription") || ieq(mp, "KeyCredentials") ||
                 ieq(mp, "PasswordCredentials") || ieq(mp, "FederatedIdentityCredentials"))
            a->change |= MC_CREDENTIAL;
        else if (ieq(mp, "AvailableToOtherTenants") && icontains(val, "true"))
            a->change |= MC_MULTI_TENANT;
        else if (ieq(mp, "SignInAudience") && (icontains(val, "MultipleOrgs") || icontains(val, "PersonalMicrosoftAccount")))
            a->change |= MC_MULTI_TENANT;
        else if (ieq(mp, "DelegatedPermissionGrant.ConsentType") && icontains(val, "AllPrincipals"))
            a->change |= MC_ALL_USERS;
        else if (ieq(mp, "ConsentContext.IsAdminConsent") && icontains(val, "true"))
            a->change |= MC_ALL_USERS;
        if (ieq(mp, "AppRole.Value") || ieq(mp, "AppRole.Id") || ieq(mp, "DelegatedPermissionGrant.Scope") ||
            ieq(mp, "ConsentAction.Permissions"))
            find_perms(val, &a->n->roles);
    }
}

static const struct {
    const char *activity; /* prefix, case-insensitive */
    unsigned change;
} activities[] = {
    {"Add service principal credentials", MC_CREDENTIAL},
    {"Update application \xe2\x80\x93 Certificates and secrets management", MC_CREDENTIAL},
    {"Update application - Certificates and secrets management", MC_CREDENTIAL},
    {"Add owner to application", MC_OWNER},
    {"Add owner to service principal", MC_OWNER},
    {"Consent to application", MC_CONSENT},
    {"Add app role assignment to service principal", MC_ROLE},
    {"Add delegated permission grant", MC_DELEGATED},
    {"Add application", MC_NEW_APP},
    {"Add service principal", MC_NEW_APP},
    {"Update application", 0},       /* credentials or audience in modifiedProperties */
    {"Update service principal", 0},
};

static int app_change(ma_norm *n, ma_store *st, const ks_event *ev, ks_slice act, ma_rec *r)
{
    unsigned base = 0;
    bool ours = false;
    for (size_t i = 0; i < KS_ARRAY_LEN(activities) && !ours; i++)
        if (iprefix(act, activities[i].activity)) {
            /* "Add service principal" must not take "... credentials" */
            if (activities[i].change == MC_NEW_APP && act.n > strlen(activities[i].activity) + 1 &&
                !ieq(act, activities[i].activity))
                continue;
            base = activities[i].change;
            ours = true;
        }
    if (!ours)
        return 0;
    audit_view a = {.n = n};
    ks__buf_reset(&n->roles);
    each_field(n, ev, audit_field, &a);
    unsigned change = base | a.change;
    if (n->roles.n && (change & (MC_ROLE | MC_DELEGATED | MC_CONSENT)))
        change |= MC_MAIL;
    /* requested permissions (RequiredResourceAccess) are not grants */
    if (!(change & ~(unsigned)(MC_ALL_USERS)))
        return 0;
    /* which application: the ServicePrincipal.* properties name the client
     * of a grant (the first target is then the resource: Exchange, Graph) */
    ks_slice app = a.sp_app.n ? a.sp_app : a.app_prop;
    ks_slice obj = a.sp_obj, name = a.sp_name;
    if (!obj.n || !name.n) {
        bool grant = change & (MC_ROLE | MC_DELEGATED);
        for (size_t i = 0; i < a.nt; i++) {
            size_t k = grant ? a.nt - 1 - i : i;
            if (ieq(a.t[k].type, "Application") || ieq(a.t[k].type, "ServicePrincipal")) {
                if (!obj.n)
                    obj = a.t[k].id;
                if (!name.n)
                    name = a.t[k].name;
                break;
            }
        }
    }
    if (!app.n && a.spn.n && (change & MC_CONSENT)) {
        /* "appId;https://..." or "appId/host;..." */
        const char *end = a.spn.p, *lim = a.spn.p + a.spn.n;
        while (end < lim && *end != ';' && *end != '/')
            end++;
        if (end - a.spn.p == 36)
            app = (ks_slice){a.spn.p, 36};
    }
    ks_slice outcome = field(n, ev, KS_F_OUTCOME);
    ks_slice actor = field(n, ev, KS_F_USER);
    if (!actor.n)
        actor = vstr(ks_event_get_path(&n->scratch, "InitiatedBy.user.userPrincipalName"));
    r->kind = MR_APP_CHANGE;
    r->change = (uint16_t)change;
    r->failed = outcome.n && (icontains(outcome, "fail") || ieq(outcome, "false"));
    r->app = add_lower(st, &n->buf, app);
    r->app_obj = add_lower(st, &n->buf, obj);
    r->app_name = add(st, name);
    r->user = add_lower(st, &n->buf, actor.n ? actor : a.actor_app);
    r->ip = add(st, ks__id_clean_ip(a.actor_ip));
    r->what = n->roles.n ? ks__strpool_add(&st->pool, n->roles.p, n->roles.n) : 0;
    return 1;
}

/* ---- M365: MailItemsAccessed and other mailbox operations ------------------------------------- */

typedef struct read_view {
    ma_norm *n;
    ma_store *st;
    ks_slice folder[MAX_FOLDERS];
    ks_slice prop_name, param_name;
    ks_slice access, throttled, count;
    ks_slice item_id, item_folder;
    ks_slice params;                   /* "Name=Value; ..." of Parameters[] */
    ks_buf *pbuf;
    size_t first;                      /* first id of this record in st->ids */
    bool oom;
} read_view;

static void read_field(void *ud, const ks_event *ev, ks_slice nm, const ks_value *v)
{
    read_view *rv = ud;
    ks_slice s = vstr(v), r = nm;
    char num[32];
    (void)ev;
    if (!s.p && (v->type == KS_VINT || v->type == KS_VUINT) && ieq(nm, "OperationCount")) {
        size_t k = ks_value_format(v, num, sizeof num);
        rv->count = (ks_slice){ks__arena_strndup(rv->n->arena, num, KS_MIN(k, sizeof num - 1)), KS_MIN(k, sizeof num - 1)};
        return;
    }
    if (!s.p)
        return;
    if (ieq(nm, "OperationCount")) {
        rv->count = s;
        return;
    }
    if (ieq(nm, "Item.InternetMessageId")) {
        rv->item_id = s;
        return;
    }
    if (ieq(nm, "Item.ParentFolder.Path")) {
        rv->item_folder = s;
        return;
    }
    long pi = index_after(&r, "OperationProperties");
    if (pi >= 0) {
        if (ieq(r, "Name"))
            rv->prop_name = s;
        else if (ieq(r, "Value") && ieq(rv->prop_name, "MailAccessType"))
            rv->access = s;
        else if (ieq(r, "Value") && ieq(rv->prop_name, "IsThrottled"))
            rv->throttled = s;
        return;
    }
    r = nm;
    if (index_after(&r, "Parameters") >= 0) {
        if (ieq(r, "Name"))
            rv->param_name = s;
        else if (ieq(r, "Value") && rv->param_name.n) {
            ks__buf_printf(rv->pbuf, "%s%.*s=%.*s", rv->pbuf->n ? "; " : "", (int)rv->param_name.n,
                           rv->param_name.p, (int)KS_MIN(s.n, 512), s.p);
        }
        return;
    }
    r = nm;
    long fi = index_after(&r, "Folders");
    if (fi < 0 || fi >= MAX_FOLDERS)
        return;
    if (ieq(r, "Path")) {
        rv->folder[fi] = s;
        return;
    }
    if (index_after(&r, "FolderItems") >= 0 && ieq(r, "InternetMessageId")) {
        ks_slice id = s;
        if (id.n && id.p[0] == '<') {
            id.p++;
            id.n--;
        }
        if (id.n && id.p[id.n - 1] == '>')
            id.n--;
        ma_store *st = rv->st;
        if (!id.n || st->nids - rv->first >= MAX_IDS_PER_REC)
            return;
        if (ks__grow(&st->ids, &st->capids, st->nids, sizeof *st->ids, 256) != KS_OK) {
            rv->oom = true;
            return;
        }
        /* the folder index is kept in .folder until the record is done */
        st->ids[st->nids].id = ks__strpool_add(&st->pool, id.p, id.n);
        st->ids[st->nids].folder = (uint32_t)fi;
        st->nids++;
    }
}

static uint64_t to_u64(ks_slice s)
{
    uint64_t v = 0;
    for (size_t i = 0; i < s.n && s.p[i] >= '0' && s.p[i] <= '9' && v < UINT64_MAX / 10; i++)
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    return v;
}

static int mail_read(ma_norm *n, ma_store *st, const ks_event *ev, ma_rec *r)
{
    read_view rv = {.n = n, .st = st, .first = st->nids, .pbuf = &n->buf};
    ks__buf_reset(&n->buf);
    each_field(n, ev, read_field, &rv);
    if (rv.oom)
        return KS_ENOMEM;
    ks_slice client = field(n, ev, KS_F_CLIENT_APP_ID), app = field(n, ev, KS_F_APP_ID);
    ks_slice who = client.n && !zero_guid(client) ? client : app;
    ks_slice box = field(n, ev, KS_F_MAILBOX_OWNER), user = field(n, ev, KS_F_USER);
    r->kind = MR_MAIL_READ;
    r->app = zero_guid(who) ? 0 : add_lower(st, &n->buf, who);
    r->user = add_lower(st, &n->buf, user);
    r->mailbox = add_lower(st, &n->buf, box.n ? box : user);
    r->ip = add(st, ks__id_clean_ip(field(n, ev, KS_F_SOURCE_IP)));
    r->sync = ieq(rv.access, "Sync");
    r->throttled = ieq(rv.throttled, "True");
    ks_slice outcome = field(n, ev, KS_F_OUTCOME);
    r->failed = outcome.n && icontains(outcome, "fail");
    if (rv.item_id.n && st->nids == rv.first) {
        ks_slice id = rv.item_id;
        if (id.n && id.p[0] == '<') {
            id.p++;
            id.n--;
        }
        if (id.n && id.p[id.n - 1] == '>')
            id.n--;
        if (ks__grow(&st->ids, &st->capids, st->nids, sizeof *st->ids, 256) != KS_OK)
            return KS_ENOMEM;
        st->ids[st->nids++] = (ma_msgid){ks__strpool_add(&st->pool, id.p, id.n), MAX_FOLDERS};
    }
    /* folder indexes -> folder paths; a Sync record names folders only */
    uint32_t first_folder = 0;
    for (size_t i = rv.first; i < st->nids; i++) {
        uint32_t fi = st->ids[i].folder;
        ks_slice f = fi < MAX_FOLDERS ? rv.folder[fi] : rv.item_folder;
        st->ids[i].folder = add(st, f);
    }
    for (size_t i = 0; i < MAX_FOLDERS && !first_folder; i++)
        first_folder = add(st, rv.folder[i]);
    if (!first_folder)
        first_folder = add(st, rv.item_folder);
    r->what = first_folder;
    r->first_id = (uint32_t)rv.first;
    r->nids = (uint32_t)(st->nids - rv.first);
    uint64_t cnt = to_u64(rv.count);
    r->items = KS_MAX(cnt, (uint64_t)r->nids);
    if (!r->items)
        r->items = 1;
    return 1;
}

static const struct {
    const char *op;
    int kind;
} m365_ops[] = {
    {"Send", MO_SEND},
    {"SendAs", MO_SEND},
    {"SendOnBehalf", MO_SEND},
    {"SearchQueryInitiatedExchange", MO_SEARCH},
    {"SearchQueryInitiated", MO_SEARCH},
    {"New-InboxRule", MO_INBOX_RULE},
    {"Set-InboxRule", MO_INBOX_RULE},
    {"UpdateInboxRules", MO_INBOX_RULE},
    {"Set-Mailbox", MO_FORWARDING},
    {"SearchCreated", MO_EDISCOVERY},
    {"SearchStarted", MO_EDISCOVERY},
    {"New-ComplianceSearch", MO_EDISCOVERY},
    {"Start-ComplianceSearch", MO_EDISCOVERY},
    {"SearchExported", MO_EDISCOVERY_EXPORT},
    {"SearchExportDownloaded", MO_EDISCOVERY_EXPORT},
    {"ViewedSearchExported", MO_EDISCOVERY_EXPORT},
    {"New-ComplianceSearchAction", MO_EDISCOVERY_EXPORT},
    {"New-MailboxExportRequest", MO_EXPORT_REQUEST},
    {"New-ManagementRoleAssignment", MO_EXPORT_ROLE},
};

/* The domain part of the first address in s (forwarding targets). */
static bool external_target(ks_slice params, ks_slice mailbox)
{
    const char *at = mailbox.p ? memchr(mailbox.p, '@', mailbox.n) : NULL;
    ks_slice dom = at ? (ks_slice){at + 1, mailbox.n - (size_t)(at + 1 - mailbox.p)} : (ks_slice){NULL, 0};
    static const char *const keys[] = {"ForwardingSmtpAddress=", "ForwardTo=", "RedirectTo=",
                                       "ForwardAsAttachmentTo=", "ForwardingAddress="};
    for (size_t k = 0; k < KS_ARRAY_LEN(keys); k++) {
        const char *m = ks__memmem_ci(params.p, params.n, keys[k], strlen(keys[k]));
        if (!m)
            continue;
        const char *v = m + strlen(keys[k]), *end = params.p + params.n, *e = v;
        while (e < end && *e != ';')
            e++;
        ks_slice val = {v, (size_t)(e - v)};
        const char *a = memchr(val.p, '@', val.n);
        if (!a)
            continue; /* a mailbox name: inside the tenant */
        ks_slice vd = {a + 1, (size_t)(e - a - 1)};
        while (vd.n && (vd.p[vd.n - 1] == ']' || vd.p[vd.n - 1] == '"' || vd.p[vd.n - 1] == ' '))
            vd.n--;
        if (!dom.n || !ks__ieq(vd.p, vd.n, dom.p, dom.n))
            return true;
    }
    return false;
}

static int mail_op(ma_norm *n, ma_store *st, const ks_event *ev, ks_slice op, ma_rec *r)
{
    int kind = 0;
    for (size_t i = 0; i < KS_ARRAY_LEN(m365_ops) && !kind; i++)
        if (ieq(op, m365_ops[i].op))
            kind = m365_ops[i].kind;
    if (!kind)
        return 0;
    read_view rv = {.n = n, .st = st, .first = st->nids, .pbuf = &n->buf};
    ks__buf_reset(&n->buf);
    each_field(n, ev, read_field, &rv);
    st->nids = rv.first; /* message ids of other operations are not reads */
    ks_slice params = {n->buf.p, n->buf.n};
    ks_slice user = field(n, ev, KS_F_USER), box = field(n, ev, KS_F_MAILBOX_OWNER);
    if (kind == MO_INBOX_RULE || kind == MO_FORWARDING) {
        bool fwd = icontains(params, "ForwardTo=") || icontains(params, "RedirectTo=") ||
                   icontains(params, "ForwardAsAttachmentTo=") || icontains(params, "ForwardingSmtpAddress=") ||
                   icontains(params, "ForwardingAddress=");
        bool hide = icontains(params, "DeleteMessage=True") || icontains(params, "MoveToFolder=RSS") ||
                    icontains(params, "MarkAsRead=True");
        if (!fwd && !(kind == MO_INBOX_RULE && hide))
            return 0;
        r->external = external_target(params, box.n ? box : user);
    }
    if (kind == MO_EXPORT_ROLE && !icontains(params, "Mailbox Import Export"))
        return 0;
    ks_slice client = field(n, ev, KS_F_CLIENT_APP_ID), app = field(n, ev, KS_F_APP_ID);
    ks_slice who = client.n && !zero_guid(client) ? client : app;
    r->kind = MR_MAIL_OP;
    r->op = (uint8_t)kind;
    r->app = zero_guid(who) ? 0 : add_lower(st, &n->roles, who);
    r->user = add_lower(st, &n->roles, user);
    r->mailbox = add_lower(st, &n->roles, box.n ? box : user);
    r->ip = add(st, ks__id_clean_ip(field(n, ev, KS_F_SOURCE_IP)));
    r->what = params.n ? ks__strpool_add(&st->pool, params.p, KS_MIN(params.n, 2048)) : 0;
    ks_slice outcome = field(n, ev, KS_F_OUTCOME);
    r->failed = outcome.n && icontains(outcome, "fail");
    return 1;
}

/* ---- service-principal sign-ins ----------------------------------------------------------------- */

static int sp_signin(ma_norm *n, ma_store *st, const ks_event *ev, ma_rec *r)
{
    ks_slice sp = field(n, ev, KS_F_SP_ID), app = field(n, ev, KS_F_APP_ID);
    if (!sp.n || !app.n || field(n, ev, KS_F_ACTION).n)
        return 0;
    const ks_value *res = ks__field(ev, KS_F_RESULT_CODE);
    char tmp[32] = "";
    if (res)
        ks_value_format(res, tmp, sizeof tmp);
    ks_slice owner = field(n, ev, KS_F_APP_OWNER_TENANT);
    ks_slice tenant = field(n, ev, KS_F_TENANT);
    r->kind = MR_SP_SIGNIN;
    r->failed = res && strcmp(tmp, "0") != 0;
    r->app = add_lower(st, &n->buf, app);
    r->app_obj = add_lower(st, &n->buf, sp);
    r->app_name = add(st, field(n, ev, KS_F_SP_NAME));
    r->ip = add(st, ks__id_clean_ip(field(n, ev, KS_F_SOURCE_IP)));
    if (owner.n && tenant.n && !ks__ieq(owner.p, owner.n, tenant.p, tenant.n))
        r->tenant = add_lower(st, &n->buf, owner);
    return 1;
}

/* ---- Exchange on-premises ----------------------------------------------------------------------- */

static bool base_is(ks_slice path, const char *const *names, size_t n)
{
    const char *b = path.p;
    for (size_t i = 0; i < path.n; i++)
        if (path.p[i] == '\\' || path.p[i] == '/')
            b = path.p + i + 1;
    ks_slice base = {b, path.n - (size_t)(b - path.p)};
    for (size_t i = 0; i < n; i++)
        if (ieq(base, names[i]))
            return true;
    return false;
}

/* A path IIS serves: an export written there can be downloaded (ProxyShell). */
static bool web_path(ks_slice p)
{
    static const char *const marks[] = {"inetpub", "wwwroot", "aspnet_client", "\\FrontEnd\\HttpProxy\\",
                                        "\\owa\\auth\\", "/owa/auth/", "\\ecp\\", ".aspx", ".ashx", ".asp"};
    for (size_t i = 0; i < KS_ARRAY_LEN(marks); i++)
        if (icontains(p, marks[i]))
            return true;
    return false;
}

/* The value after "-Name" in a command line ("-FilePath \\h\c$\x.pst"). */
static ks_slice param(ks_slice cmd, const char *name)
{
    const char *m = ks__memmem_ci(cmd.p, cmd.n, name, strlen(name));
    ks_slice v = {NULL, 0};
    if (!m)
        return v;
    const char *p = m + strlen(name), *end = cmd.p + cmd.n;
    while (p < end && (*p == ' ' || *p == ':'))
        p++;
    char q = p < end && (*p == '"' || *p == '\'') ? *p++ : 0;
    const char *e = p;
    while (e < end && (q ? *e != q : (*e != ' ' && *e != ';' && *e != '\r' && *e != '\n')))
        e++;
    v.p = p;
    v.n = (size_t)(e - p);
    return v;
}

/* Every string of the record, space-separated (bounded): an Exchange
 * cmdlet log keeps the cmdlet and its parameters in separate fields. */
static void join_strings(void *ud, const ks_event *ev, ks_slice nm, const ks_value *v)
{
    ks_buf *b = ud;
    ks_slice s = vstr(v);
    (void)ev;
    (void)nm;
    if (s.n && b->n < 8192) {
        if (b->n)
            ks__buf_addc(b, ' ');
        ks__buf_add(b, s.p, KS_MIN(s.n, 8192 - b->n));
    }
}

static bool xlog_name(ma_xname *m, ks_slice s)
{
    if (!s.p)
        return false;
    if (s.n == m->n && !memcmp(m->s, s.p, s.n))
        return m->yes;
    bool yes = icontains(s, "MSExchange") || icontains(s, "PowerShell");
    if (s.n <= sizeof m->s) {
        memcpy(m->s, s.p, s.n);
        m->n = s.n;
        m->yes = yes;
    }
    return yes;
}

static bool exchange_log(ma_norm *n, const ks_event *ev)
{
    ks_slice ch = field(n, ev, KS_F_CHANNEL), pr = field(n, ev, KS_F_PROVIDER);
    return xlog_name(&n->xname[0], ch) || xlog_name(&n->xname[1], pr) ||
           (ev->prov.format && !strcmp(ev->prov.format, "exchange"));
}

/* Whether a URL path ends in the extension of exported mail or an
 * archive. Every web log record asks: the extension (two or three bytes
 * after a dot) is found once and compared, not each suffix in turn. */
static bool archive_ext(ks_slice url)
{
    static const char exts[][4] = {"pst", "ost", "zip", "7z", "rar", "cab", "tar", "tgz"};
    char e[4] = {0};
    size_t k; /* the extension's length */
    if (!url.p || url.n < 3)
        return false;
    if (url.p[url.n - 3] == '.')
        k = 2;
    else if (url.n >= 4 && url.p[url.n - 4] == '.')
        k = 3;
    else
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = url.p[url.n - k + i];
        e[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    for (size_t i = 0; i < KS_ARRAY_LEN(exts); i++)
        if (!memcmp(e, exts[i], 4))
            return true;
    return false;
}

/* The URL path a download is judged by. */
static ks_slice web_url(const ma_norm *n, const ks_event *ev)
{
    ks_slice url = field(n, ev, KS_F_URL_PATH);
    return url.n ? url : field(n, ev, KS_F_URL_FULL);
}

/* Exported mail or archives served by IIS. */
static int web_download(ma_norm *n, ma_store *st, const ks_event *ev, ma_rec *r)
{
    ks_slice url = web_url(n, ev);
    if (!archive_ext(url))
        return 0;
    const ks_value *bv = ks__field(ev, KS_F_RESPONSE_BYTES), *sv = ks__field(ev, KS_F_HTTP_STATUS);
    char tmp[32] = "";
    uint64_t bytes = 0;
    if (bv) {
        size_t k = ks_value_format(bv, tmp, sizeof tmp);
        bytes = to_u64((ks_slice){tmp, KS_MIN(k, sizeof tmp - 1)});
    }
    tmp[0] = 0;
    if (sv)
        ks_value_format(sv, tmp, sizeof tmp);
    bool ok = !sv || tmp[0] == '2';
    bool pst = isuffix(url, ".pst") || isuffix(url, ".ost");
    if (ok && (bytes >= n->min_download || (pst && bytes >= 1)) &&
        !ieq(field(n, ev, KS_F_HTTP_METHOD), "POST")) {
        r->kind = MR_ONPREM;
        r->op = MO_WEB_DOWNLOAD;
        r->bytes = bytes;
        r->what = add(st, url);
        r->ip = add(st, ks__id_clean_ip(field(n, ev, KS_F_SOURCE_IP)));
        r->user = add_lower(st, &n->buf, field(n, ev, KS_F_USER));
        return 1;
    }
    return 0;
}

static int onprem(ma_norm *n, ma_store *st, const ks_event *ev, ma_rec *r)
{
    static const char *const archivers[] = {"7z.exe", "7za.exe", "7zr.exe", "7zg.exe", "rar.exe",
                                            "winrar.exe", "makecab.exe", "tar.exe", "zip.exe",
                                            "pkzipc.exe", "wzzip.exe"};
    static const char *const w3wp[] = {"w3wp.exe"};
    ks_slice cmd = field(n, ev, KS_F_COMMAND_LINE);
    /* archivers started by the web server */
    ks_slice parent = field(n, ev, KS_F_PARENT_PROCESS), img = field(n, ev, KS_F_PROCESS);
    if (parent.n && base_is(parent, w3wp, 1) &&
        ((img.n && base_is(img, archivers, KS_ARRAY_LEN(archivers))) || icontains(cmd, "Compress-Archive"))) {
        r->kind = MR_ONPREM;
        r->op = MO_ARCHIVER;
        r->what = add(st, cmd.n ? cmd : img);
        r->user = add_lower(st, &n->buf, field(n, ev, KS_F_USER));
        return 1;
    }
    /* export requests: in the command line, or anywhere in an Exchange /
     * PowerShell log record (MSExchange Management, 4104 script blocks,
     * the ECP server log) */
    static const char *const cmdlets[] = {"New-MailboxExportRequest", "New-ManagementRoleAssignment"};
    ks_slice all = {NULL, 0};
    if (!(cmd.n && icontains(cmd, "Mailbox")) && exchange_log(n, ev)) {
        ks__buf_reset(&n->roles);
        each_field(n, ev, join_strings, &n->roles);
        all = (ks_slice){n->roles.p, n->roles.n};
    }
    for (size_t k = 0; k < KS_ARRAY_LEN(cmdlets); k++) {
        struct {
            ks_slice hit;
        } c = {{NULL, 0}};
        if (cmd.n && icontains(cmd, cmdlets[k]))
            c.hit = cmd;
        else if (all.n && icontains(all, cmdlets[k]))
            c.hit = all;
        if (!c.hit.n)
            continue;
        if (k == 1 && !icontains(c.hit, "Mailbox Import Export"))
            continue;
        r->kind = MR_ONPREM;
        r->op = k == 0 ? MO_EXPORT_REQUEST : MO_EXPORT_ROLE;
        ks_slice path = param(c.hit, "-FilePath");
        ks_slice box = param(c.hit, "-Mailbox");
        if (k == 1 && !box.n)
            box = param(c.hit, "-User");
        r->external = path.n && web_path(path);
        r->mailbox = add_lower(st, &n->buf, unquote(box));
        r->what = add(st, (ks_slice){c.hit.p, KS_MIN(c.hit.n, 2048)});
        r->app_name = add(st, path);
        r->user = add_lower(st, &n->buf, field(n, ev, KS_F_USER));
        r->ip = add(st, ks__id_clean_ip(field(n, ev, KS_F_SOURCE_IP)));
        return 1;
    }
    return web_download(n, st, ev, r);
}

/* ---- entry ---------------------------------------------------------------------------------------- */

int ks__ma_norm_init(ma_norm *n, ks_engine *e, ks_worker *w)
{
    memset(n, 0, sizeof *n);
    if (!(n->arena = ks__arena_new(65536, (size_t)64 << 20)))
        return KS_ENOMEM;
    n->scratch.syms = ks__engine_symtab(e);
    n->scratch.cache = w->cache;
    n->scratch.arena = n->arena;
    n->min_download = (uint64_t)ks__opt_int(e, "mailaccess.download_min");
    return KS_OK;
}

void ks__ma_norm_release(ma_norm *n)
{
    free(n->scratch.fields);
    ks__arena_free(n->arena);
    ks__buf_release(&n->buf);
    ks__buf_release(&n->roles);
    memset(n, 0, sizeof *n);
}

/* Any record: 1 with *r filled when it is one of ours, 0 if not, or an error. */
static int normalize_host(ma_norm *n, ma_store *st, const ks_event *ev, ma_rec *r)
{
    int rc = 0;
    ks_slice act = vstr(ks__field(ev, KS_F_ACTION));
    ks_slice ad = vstr(ks__field(ev, KS_F_AUDIT_DATA));
    bool app_id = ks__field(ev, KS_F_APP_ID) || ks__field(ev, KS_F_SP_ID);
    /* cheap test first: most evidence is none of ours */
    if (act.n || ad.n || app_id)
        flatten_embedded(n, ev);
    if (!act.n && ad.n)
        act = vstr(ks__field(&n->scratch, KS_F_ACTION));
    if (act.n) {
        if (ieq(act, "MailItemsAccessed"))
            rc = mail_read(n, st, ev, r);
        else if ((rc = app_change(n, st, ev, act, r)) == 0)
            rc = mail_op(n, st, ev, act, r);
    }
    if (rc == 0 && app_id)
        rc = sp_signin(n, st, ev, r);
    if (rc == 0)
        rc = onprem(n, st, ev, r);
    return rc;
}

/* Whether the event has none of the fields that make it an audit,
 * sign-in, process or Exchange/PowerShell log record: a web server's
 * request line, which can only be a download (web_download). Every IIS
 * line asks; the full walk read each of these fields as a string (~400
 * instructions a line). An HttpProxy log is an Exchange log by its
 * format, whatever its fields. */
static bool web_only(const ks_event *ev)
{
    static const int host[] = {KS_F_ACTION,  KS_F_AUDIT_DATA,   KS_F_APP_ID,
                               KS_F_SP_ID,   KS_F_COMMAND_LINE, KS_F_PARENT_PROCESS,
                               KS_F_PROCESS, KS_F_CHANNEL,      KS_F_PROVIDER};
    const char *fmt = ev->prov.format;
    if (!ev->finished || (fmt && fmt[0] == 'e' && !strcmp(fmt, "exchange")))
        return false;
    for (size_t i = 0; i < KS_ARRAY_LEN(host); i++)
        if (ks__field(ev, host[i]))
            return false;
    return true;
}

int ks__ma_normalize(ma_norm *n, ma_store *st, const ks_event *ev)
{
    int rc = 0;
    n->scratch.n = 0;
    bool web = web_only(ev);
    if (web && !archive_ext(web_url(n, ev)))
        return KS_OK; /* nearly every web log line: nothing to keep */
    ma_rec r = {0};
    if (web)
        rc = web_download(n, st, ev, &r);
    else
        rc = normalize_host(n, st, ev, &r);
    if (rc <= 0)
        return rc;
    if (st->nrecs >= UINT32_MAX - 1 ||
        ks__grow(&st->recs, &st->caprecs, st->nrecs, sizeof *st->recs, 256) != KS_OK)
        return KS_ENOMEM;
    r.time = ev->time;
    ks__evidence_from_event(&r.loc.ev, ev);
    r.loc.path = ks__strpool_add(&st->pool, ev->prov.path ? ev->prov.path : "-",
                                 strlen(ev->prov.path ? ev->prov.path : "-"));
    r.loc.ev.path = NULL;
    st->recs[st->nrecs++] = r;
    return KS_OK;
}
