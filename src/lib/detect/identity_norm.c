/* SPDX-License-Identifier: Apache-2.0
 *
 * Normalises every authentication record kensa reads into one view:
 *  - Windows Security (EVTX, or flat JSON from Mordor/winlogbeat): 4625 and
 *    4624 logons, 4768 TGT requests, 4771 Kerberos pre-authentication,
 *    4776 NTLM validation;
 *  - Entra ID sign-ins in every export shape: portal and Graph (camelCase),
 *    Log Analytics (PascalCase), Azure Monitor diagnostics (properties.*);
 *  - the M365 unified audit log (UserLoginFailed / UserLoggedIn), with
 *    AuditData either flattened or as a JSON string;
 *  - 4648 explicit-credential logons (runas, net use, a spraying tool):
 *    no verdict, but one process naming many accounts is DeepBlueCLI's
 *    spray check; the source is the computer + process + subject;
 *  - OpenSSH for Windows (OpenSSH/Operational event 4, sshd's "Failed
 *    password for [invalid user] U from IP" / "Accepted ... for U from IP").
 *  - SQL Server logins in the Application log (18456 "Login failed for
 *    user 'U'. Reason: ... [CLIENT: IP]", 18454 / 18453 succeeded), from
 *    the unnamed Data items of an EVTX record or a rendered Message.
 * Result codes are decoded to words, and the outcome is classified:
 * failure, "valid credential" (password right but MFA or a password change
 * stopped it: what a sprayer wants) or success.
 */
#include <stdlib.h>
#include <string.h>
#include "identity.h"
#include "input/json.h"

/* Field names come from the field schema (engine/fields.def): Windows
 * (EVTX, flat JSON, Winlogbeat), Entra (every export shape) and M365 names
 * of each concept are one canonical field there. */

/* The value of canonical field f, from the event or else from the scratch
 * event (M365 AuditData kept as a JSON string, flattened there). */
static const ks_value *get(const ks_event *ev, const ks_event *scratch, int f)
{
    const ks_value *v = ks__field(ev, f);
    if (!v && scratch && scratch->n)
        v = ks__field(scratch, f);
    return v;
}

/* The value as text: strings as they are, numbers formatted into `tmp`. */
static ks_slice text(const ks_value *v, char *tmp, size_t cap)
{
    ks_slice s = {NULL, 0};
    if (!v)
        return s;
    if (v->type == KS_VSTR) {
        s.p = v->u.s.p;
        s.n = v->u.s.n;
        return s;
    }
    size_t n = ks_value_format(v, tmp, cap);
    s.p = tmp;
    s.n = KS_MIN(n, cap - 1);
    return s;
}

static bool eq(ks_slice s, const char *lit)
{
    return ks__ieq(s.p, s.n, lit, strlen(lit));
}

static int64_t num(const ks_value *v)
{
    char tmp[32];
    if (!v)
        return -1;
    if (v->type == KS_VINT)
        return v->u.i;
    if (v->type == KS_VUINT)
        return (int64_t)v->u.u;
    if (v->type == KS_VSTR && v->u.s.n && v->u.s.n < sizeof tmp) {
        memcpy(tmp, v->u.s.p, v->u.s.n);
        tmp[v->u.s.n] = 0;
        char *end;
        long long n = strtoll(tmp, &end, 0);
        return *end ? -1 : n;
    }
    return -1;
}

/* ---- result codes ---------------------------------------------------------- */

typedef struct code_word {
    const char *code;
    const char *words;
    int kind;          /* AK_* this code means */
    unsigned flags;
} code_word;

static const code_word codes[] = {
    /* Entra ID sign-in error codes (AADSTS) */
    {"0", "success", AK_SUCCESS, 0},
    {"50126", "invalid username or password", AK_FAIL, 0},
    {"50034", "user account does not exist", AK_FAIL, AF_UNKNOWN_USER},
    {"50053", "account locked (smart lockout)", AK_FAIL, AF_LOCKED},
    {"50057", "account disabled", AK_FAIL, 0},
    {"50055", "password expired (the password was right)", AK_VALID, 0},
    {"50144", "AD password expired (the password was right)", AK_VALID, 0},
    {"50074", "strong authentication required: MFA stopped a correct password", AK_VALID, 0},
    {"50076", "MFA required by policy: the password was right", AK_VALID, 0},
    {"50079", "MFA registration required: the password was right", AK_VALID, 0},
    {"50158", "external security challenge not satisfied", AK_VALID, 0},
    {"53003", "blocked by conditional access (the password was right)", AK_VALID, 0},
    {"50056", "invalid or null password", AK_FAIL, 0},
    {"50064", "credential validation failed", AK_FAIL, 0},
    {"50140", "keep-me-signed-in interrupt", AK_SUCCESS, 0},
    {"81016", "seamless SSO: invalid Kerberos ticket", AK_FAIL, 0},
    /* NTSTATUS of 4625 / 4776 */
    {"0x0", "success", AK_SUCCESS, 0},
    {"0xc000006d", "bad user name or password", AK_FAIL, 0},
    {"0xc000006a", "bad password", AK_FAIL, 0},
    {"0xc0000064", "unknown user name", AK_FAIL, AF_UNKNOWN_USER},
    {"0xc0000234", "account locked out", AK_FAIL, AF_LOCKED},
    {"0xc0000072", "account disabled", AK_FAIL, 0},
    {"0xc000006f", "logon outside allowed hours", AK_VALID, 0},
    {"0xc0000070", "workstation restriction", AK_VALID, 0},
    {"0xc0000071", "password expired (the password was right)", AK_VALID, 0},
    {"0xc0000193", "account expired", AK_FAIL, 0},
    {"0xc0000224", "password must change (the password was right)", AK_VALID, 0},
    {"0xc000015b", "logon type not granted (the password was right)", AK_VALID, 0},
    {"0xc0000133", "clock skew", AK_FAIL, 0},
    {"0xc0000413", "authentication firewall", AK_FAIL, 0},
    /* Kerberos 4771 failure codes */
    {"0x18", "Kerberos: bad password", AK_FAIL, 0},
    {"0x6", "Kerberos: unknown principal", AK_FAIL, AF_UNKNOWN_USER},
    {"0x12", "Kerberos: account disabled, expired or locked", AK_FAIL, AF_LOCKED},
    {"0x17", "Kerberos: password expired (the password was right)", AK_VALID, 0},
    {"0x25", "Kerberos: clock skew", AK_FAIL, 0},
    /* M365 LogonError */
    {"InvalidUserNameOrPassword", "invalid username or password", AK_FAIL, 0},
    {"UserAccountNotFound", "user account does not exist", AK_FAIL, AF_UNKNOWN_USER},
    {"IdsLocked", "account locked (smart lockout)", AK_FAIL, AF_LOCKED},
    {"UserStrongAuthClientAuthNRequired", "MFA required: the password was right", AK_VALID, 0},
    {"UserStrongAuthClientAuthNRequiredInterrupt", "MFA required: the password was right", AK_VALID, 0},
    /* SQL Server 18456, by its Reason text (mssql_reasons below) */
    {"mssql:password", "SQL Server: password did not match", AK_FAIL, 0},
    {"mssql:no-login", "SQL Server: no such login", AK_FAIL, AF_UNKNOWN_USER},
    {"mssql:nt-name", "SQL Server: Windows account name tried with SQL authentication", AK_FAIL, AF_UNKNOWN_USER},
    {"mssql:disabled", "SQL Server: login disabled", AK_FAIL, 0},
    {"mssql:locked", "SQL Server: login locked out", AK_FAIL, AF_LOCKED},
    {"mssql:must-change", "SQL Server: password must be changed (the password was right)", AK_VALID, 0},
    {"mssql:expired", "SQL Server: password expired (the password was right)", AK_VALID, 0},
    {"mssql:database", "SQL Server: login right, default database refused", AK_VALID, 0},
    {"mssql:other", "SQL Server: login failed", AK_FAIL, 0},
};

static const code_word *lookup(const char *c, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(codes); i++)
        /* first letters before strlen: a failure's code is looked up per event */
        if (n && (codes[i].code[0] | 32) == (c[0] | 32) && ks__ieq(c, n, codes[i].code, strlen(codes[i].code)))
            return &codes[i];
    return NULL;
}

const char *ks__id_code_words(const char *code, size_t n)
{
    const code_word *w = lookup(code, n);
    return w ? w->words : NULL;
}

/* A list of words with their lengths, compared per event: a strlen per
 * word was most of ignorable_account's cost (every logon passes it). */
#define C(lit) lit, sizeof lit - 1

typedef struct word {
    const char *s;
    size_t n;
} word;

static bool in_words(ks_slice s, const word *w, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (w[i].n == s.n && ks__ieq(s.p, s.n, w[i].s, s.n))
            return true;
    return false;
}

static const word legacy_apps[] = {
    {C("IMAP4")}, {C("POP3")}, {C("SMTP")}, {C("Authenticated SMTP")}, {C("Exchange ActiveSync")},
    {C("Exchange Web Services")}, {C("Other clients")}, {C("Autodiscover")}, {C("Exchange Online PowerShell")},
    {C("MAPI Over HTTP")}, {C("Offline Address Book")}, {C("Outlook Anywhere (RPC over HTTP)")},
    {C("Reporting Web Services")}, {C("Universal Outlook")}};

static bool is_legacy(ks_slice app)
{
    return in_words(app, legacy_apps, KS_ARRAY_LEN(legacy_apps));
}

/* Accounts that are not people: machine accounts and Windows' own. */
static bool ignorable_account(ks_slice a)
{
    static const word sys[] = {{C("-")},     {C("SYSTEM")}, {C("ANONYMOUS LOGON")}, {C("LOCAL SERVICE")},
                               {C("NETWORK SERVICE")}, {C("DWM-1")}, {C("DWM-2")}, {C("UMFD-0")}, {C("UMFD-1")}};
    if (!a.n || a.p[a.n - 1] == '$')
        return true;
    return in_words(a, sys, KS_ARRAY_LEN(sys));
}

static bool no_address(ks_slice ip)
{
    return !ip.n || eq(ip, "-") || eq(ip, "::1") || eq(ip, "127.0.0.1") || eq(ip, "0.0.0.0");
}

ks_slice ks__id_clean_ip(ks_slice ip)
{
    if (!ip.n)
        return ip;
    if (ip.n > 7 && !memcmp(ip.p, "::ffff:", 7)) {
        ip.p += 7;
        ip.n -= 7;
    }
    if (ip.n && ip.p[0] == '[') {
        const char *close = memchr(ip.p, ']', ip.n);
        if (close) {
            ip.n = (size_t)(close - ip.p - 1);
            ip.p++;
        }
        return ip;
    }
    const char *colon = memchr(ip.p, ':', ip.n);
    if (colon && !memchr(colon + 1, ':', ip.n - (size_t)(colon - ip.p) - 1))
        ip.n = (size_t)(colon - ip.p); /* IPv4 with a port */
    return ip;
}

/* ---- Windows Security ------------------------------------------------------------ */

/* s as printf's %.*s wrote it: up to its first NUL, nothing for none (a
 * missing field; the "-" such a printf named was cut by its precision 0) */
static void add_text(ks_buf *b, ks_slice s)
{
    if (s.p)
        ks__buf_add(b, s.p, strnlen(s.p, s.n));
}

/* 4648: the subject (SubjectUserName) ran a process (ProcessName) that
 * logged on with someone else's credentials (TargetUserName) at
 * TargetServerName. Using one's own name is not counted (DeepBlueCLI). */
static bool explicit_creds(const ks_event *ev, ks_buf *buf, auth_view *v, char tmp[4][64])
{
    v->account = text(get(ev, NULL, KS_F_TARGET_USER), tmp[0], 64);
    ks_slice subj = text(get(ev, NULL, KS_F_USER), tmp[1], 64);
    if (ignorable_account(v->account) || ks__ieq(v->account.p, v->account.n, subj.p, subj.n))
        return false;
    ks_slice proc = text(get(ev, NULL, KS_F_PROCESS), tmp[2], 64);
    ks_slice host = text(get(ev, NULL, KS_F_HOST), tmp[3], 64);
    /* "host process (subject)", appended piece by piece as windows() does
     * (two printf calls were ~3,500 instructions a 4648 event) */
    ks__buf_reset(buf);
    add_text(buf, host);
    ks__buf_addc(buf, ' ');
    add_text(buf, proc);
    ks__buf_add(buf, " (", 2);
    add_text(buf, subj);
    ks__buf_addc(buf, ')');
    size_t sl = buf->n;
    ks__buf_add(buf, "windows|explicit", 16);
    v->source = (ks_slice){buf->p, sl};
    v->group = (ks_slice){buf->p + sl, buf->n - sl};
    v->app = (ks_slice){"explicit credentials", 20};
    v->code = (ks_slice){"4648", 4};
    v->kind = AK_EXPLICIT;
    v->reason = "explicit-credential logon";
    return true;
}

static bool windows(const ks_event *ev, ks_buf *buf, auth_view *v, char tmp[4][64])
{
    int64_t id = num(get(ev, NULL, KS_F_EVENT_ID));
    if (id == 4648)
        return explicit_creds(ev, buf, v, tmp);
    if (id != 4624 && id != 4625 && id != 4768 && id != 4771 && id != 4776)
        return false;
    v->account = text(get(ev, NULL, KS_F_TARGET_USER), tmp[0], 64);
    if (ignorable_account(v->account))
        return false;
    ks_slice ip = ks__id_clean_ip(text(get(ev, NULL, KS_F_SOURCE_IP), tmp[1], 64));
    ks_slice wks = text(get(ev, NULL, KS_F_SOURCE_HOST), tmp[2], 64);
    v->source = !no_address(ip) ? ip : (wks.n && !eq(wks, "-")) ? wks : (ks_slice){"local", 5};
    ks_slice dom = text(get(ev, NULL, KS_F_TARGET_DOMAIN), tmp[3], 64);
    int64_t lt = num(get(ev, NULL, KS_F_LOGON_TYPE));
    const char *proto = id == 4771 || id == 4768 ? "kerberos" : id == 4776 ? "ntlm" : "logon";
    /* appended piece by piece: two printf calls here were ~3% of an EVTX
     * hunt (every Security logon passes) */
    ks__buf_reset(buf);
    ks__buf_add(buf, "windows|", 8);
    add_text(buf, dom);
    ks__buf_addc(buf, '|');
    ks__buf_adds(buf, proto);
    if (lt >= 0) {
        ks__buf_add(buf, "|type ", 6);
        ks__buf_add_i64(buf, lt);
    }
    v->group.p = buf->p;
    v->group.n = buf->n;
    v->app.p = proto;
    v->app.n = strlen(proto);
    if (id == 4624) {
        v->kind = AK_SUCCESS;
        v->code = (ks_slice){"0x0", 3};
        v->reason = "logon";
        return true;
    }
    char cbuf[64];
    ks_slice st = text(get(ev, NULL, KS_F_LOGON_STATUS), cbuf, sizeof cbuf);
    if ((id == 4776 || id == 4768) && (eq(st, "0x0") || eq(st, "0"))) {
        v->kind = AK_SUCCESS; /* credentials validated / TGT issued */
        v->code = (ks_slice){"0x0", 3};
        v->reason = id == 4768 ? "Kerberos TGT issued" : "NTLM validation succeeded";
        return true;
    }
    ks_slice sub = id == 4625 ? text(get(ev, NULL, KS_F_LOGON_SUBSTATUS), tmp[3], 64) : (ks_slice){NULL, 0};
    /* SubStatus says why when Status is the generic 0xc000006d */
    ks_slice code = sub.n && !eq(sub, "0x0") ? sub : st;
    /* the code must outlive this frame: point into the static table */
    const code_word *w = code.n ? lookup(code.p, code.n) : NULL;
    if (w) {
        v->code = (ks_slice){w->code, strlen(w->code)};
        v->kind = w->kind;
        v->flags |= w->flags;
        v->reason = w->words;
    } else {
        v->code = (ks_slice){"other", 5};
        v->kind = AK_FAIL;
        v->reason = "logon failure";
    }
    return true;
}

/* ---- Entra ID sign-ins ---------------------------------------------------------------- */

static bool entra(const ks_event *ev, ks_buf *buf, auth_view *v, char tmp[4][64])
{
    const ks_value *upn = get(ev, NULL, KS_F_USER), *res = get(ev, NULL, KS_F_RESULT_CODE);
    if (!upn || upn->type != KS_VSTR || !upn->u.s.n || !res)
        return false;
    v->account = upn->u.s;
    v->source = ks__id_clean_ip(text(get(ev, NULL, KS_F_SOURCE_IP), tmp[0], 64));
    if (!v->source.n)
        v->source = (ks_slice){"unknown", 7};
    ks_slice ua = text(get(ev, NULL, KS_F_USER_AGENT), tmp[1], 64);
    ks_slice app = text(get(ev, NULL, KS_F_APP), tmp[2], 64);
    ks_slice capp = text(get(ev, NULL, KS_F_CLIENT_APP), tmp[3], 64);
    const ks_value *ten = get(ev, NULL, KS_F_TENANT);
    ks_slice tenant = ten && ten->type == KS_VSTR ? ten->u.s : (ks_slice){NULL, 0};
    if (!tenant.n) {
        const char *at = memchr(upn->u.s.p, '@', upn->u.s.n);
        if (at) {
            tenant.p = at + 1;
            tenant.n = upn->u.s.n - (size_t)(at + 1 - upn->u.s.p);
        }
    }
    ks__buf_reset(buf);
    ks__buf_printf(buf, "entra|%.*s|%.*s|%.*s|%.*s", (int)tenant.n, tenant.p ? tenant.p : "",
                   (int)app.n, app.p ? app.p : "", (int)capp.n, capp.p ? capp.p : "", (int)ua.n,
                   ua.p ? ua.p : "");
    v->group.p = buf->p;
    v->group.n = buf->n;
    v->app = capp;
    char cbuf[32];
    ks_slice code = text(res, cbuf, sizeof cbuf);
    const code_word *w = code.n ? lookup(code.p, code.n) : NULL;
    v->code = w ? (ks_slice){w->code, strlen(w->code)} : (ks_slice){"other", 5};
    v->kind = w ? w->kind : AK_FAIL;
    v->flags |= w ? w->flags : 0;
    v->reason = w ? w->words : "sign-in error";
    if (v->kind == AK_SUCCESS && eq(text(get(ev, NULL, KS_F_AUTH_REQUIREMENT), cbuf, sizeof cbuf), "singleFactorAuthentication"))
        v->flags |= AF_SINGLE_FACTOR;
    if (is_legacy(capp))
        v->flags |= AF_LEGACY;
    return true;
}

/* ---- M365 unified audit log ---------------------------------------------------------------- */

static bool m365(const ks_event *ev, ks_event *scratch, ks_buf *buf, auth_view *v,
                 char tmp[4][64])
{
    const ks_value *ad = get(ev, NULL, KS_F_AUDIT_DATA);
    ks__event_reset(scratch);
    if (ad && ad->type == KS_VSTR && ad->u.s.n && ad->u.s.p[0] == '{')
        ks__json_flatten(scratch, "AuditData", 9, ad->u.s.p, ad->u.s.n, NULL, NULL);
    ks_slice op = text(get(ev, scratch, KS_F_ACTION), tmp[0], 64);
    bool fail = eq(op, "UserLoginFailed"), ok = eq(op, "UserLoggedIn");
    if (!fail && !ok)
        return false;
    const ks_value *uid = get(ev, scratch, KS_F_USER);
    if (!uid || uid->type != KS_VSTR || !uid->u.s.n)
        return false;
    v->account = uid->u.s;
    v->source = ks__id_clean_ip(text(get(ev, scratch, KS_F_SOURCE_IP), tmp[1], 64));
    if (!v->source.n)
        v->source = (ks_slice){"unknown", 7};
    ks__buf_reset(buf);
    const char *at = memchr(uid->u.s.p, '@', uid->u.s.n);
    ks__buf_printf(buf, "m365|%.*s", at ? (int)(uid->u.s.n - (size_t)(at + 1 - uid->u.s.p)) : 0, at ? at + 1 : "");
    v->group.p = buf->p;
    v->group.n = buf->n;
    if (ok) {
        v->kind = AK_SUCCESS;
        v->code = (ks_slice){"0", 1};
        v->reason = "success";
        return true;
    }
    ks_slice le = text(get(ev, scratch, KS_F_LOGON_ERROR), tmp[2], 64);
    const code_word *w = le.n ? lookup(le.p, le.n) : NULL;
    v->code = w ? (ks_slice){w->code, strlen(w->code)} : (ks_slice){"other", 5};
    v->kind = w ? w->kind : AK_FAIL;
    v->flags |= w ? w->flags : 0;
    v->reason = w ? w->words : "sign-in failed";
    return true;
}

/* ---- OpenSSH for Windows ------------------------------------------------------------------ */

/* The text after `lit` in s, up to `stop` (or the end). */
static bool after(ks_slice s, const char *lit, const char *stop, ks_slice *out)
{
    const char *p = ks__memmem_ci(s.p, s.n, lit, strlen(lit));
    if (!p)
        return false;
    p += strlen(lit);
    size_t rest = s.n - (size_t)(p - s.p);
    const char *e = stop ? ks__memmem_ci(p, rest, stop, strlen(stop)) : NULL;
    *out = (ks_slice){p, e ? (size_t)(e - p) : rest};
    return out->n > 0;
}

static bool openssh(const ks_event *ev, ks_buf *buf, auth_view *v)
{
    const ks_value *pl = get(ev, NULL, KS_F_MESSAGE);
    if (!pl || pl->type != KS_VSTR || num(get(ev, NULL, KS_F_EVENT_ID)) != 4)
        return false;
    /* sshd's line, alone (payload) or after a prefix (a rendered Message
     * "sshd: Failed password for ..."). */
    ks_slice p = pl->u.s, who, ip;
    const char *f = ks__memmem_ci(p.p, p.n, "Failed ", 7), *a = ks__memmem_ci(p.p, p.n, "Accepted ", 9);
    bool fail = f && (!a || f < a), ok = a && !fail;
    if (fail || ok) {
        const char *at = fail ? f : a;
        p = (ks_slice){at, p.n - (size_t)(at - p.p)};
    }
    if ((!fail && !ok) || !after(p, " for ", " from ", &who) || !after(p, " from ", " port ", &ip))
        return false;
    if (fail && who.n > 13 && ks__ieq(who.p, 13, "invalid user ", 13)) {
        who.p += 13, who.n -= 13;
        v->flags |= AF_UNKNOWN_USER;
    }
    v->account = who;
    v->source = ks__id_clean_ip(ip);
    ks__buf_reset(buf);
    ks__buf_printf(buf, "openssh|ssh");
    v->group = (ks_slice){buf->p, buf->n};
    v->app = (ks_slice){"ssh", 3};
    v->kind = ok ? AK_SUCCESS : AK_FAIL;
    v->code = ok ? (ks_slice){"0x0", 3}
                 : v->flags & AF_UNKNOWN_USER ? (ks_slice){"0xc0000064", 10}
                                              : (ks_slice){"0xc000006a", 10};
    v->reason = ok ? "ssh sign-in" : v->flags & AF_UNKNOWN_USER ? "unknown user name" : "bad password";
    return !ignorable_account(v->account) && v->source.n;
}

/* ---- SQL Server logins (Application log) -------------------------------------------- */

/* 18456's Reason text to a code of the table above; first match wins. */
static const struct {
    const char *text;
    const char *code;
} mssql_reasons[] = {
    {"Password did not match", "mssql:password"},
    {"Could not find a login", "mssql:no-login"},
    {"NT account name with SQL Server Authentication", "mssql:nt-name"},
    {"account is disabled", "mssql:disabled"},
    {"locked out", "mssql:locked"},
    {"must be changed", "mssql:must-change"},
    {"password has expired", "mssql:expired"},
    {"Failed to open the", "mssql:database"},
};

/* The login, the reason and the client of a SQL Server login event: from
 * the unnamed Data items (event.data: login first, then " Reason: ..."
 * and " [CLIENT: ip]" in any order) or else from the rendered Message
 * "Login failed for user 'U'. Reason: ... [CLIENT: ip]". */
static bool mssql_parts(const ks_event *ev, ks_slice *user, ks_slice *reason, ks_slice *client)
{
    *user = *reason = *client = (ks_slice){NULL, 0};
    for (size_t i = 0; i < ev->n; i++) {
        const ks_field *f = &ev->fields[i];
        if (f->v.type != KS_VSTR || !ks__field_sym_is(ev->syms, f->name, KS_F_EVENT_DATA))
            continue;
        ks_slice d = f->v.u.s, x;
        if (after(d, "[CLIENT:", "]", &x))
            *client = x;
        else if (after(d, "Reason:", NULL, &x))
            *reason = x;
        else if (!user->p)
            *user = d;
    }
    ks_slice msg = ks__field_str(ev, KS_F_MESSAGE);
    if (!user->p && msg.p && !after(msg, "for user '", "'", user))
        return false;
    if (!reason->p && msg.p)
        after(msg, "Reason:", "[CLIENT:", reason);
    if (!client->p && msg.p)
        after(msg, "[CLIENT:", "]", client);
    while (client->n && client->p[0] == ' ')
        client->p++, client->n--;
    return user->p && user->n;
}

static bool mssql(const ks_event *ev, ks_buf *buf, auth_view *v)
{
    int64_t id = num(get(ev, NULL, KS_F_EVENT_ID));
    if (id != 18456 && id != 18454 && id != 18453)
        return false;
    ks_slice prov = ks__field_str(ev, KS_F_PROVIDER);
    if (!prov.p || prov.n < 5 || !ks__ieq(prov.p, 5, "MSSQL", 5))
        return false; /* MSSQLSERVER or MSSQL$INSTANCE */
    ks_slice user, reason, client;
    if (!mssql_parts(ev, &user, &reason, &client))
        return false;
    v->account = user;
    v->source = no_address(ks__id_clean_ip(client)) ? (ks_slice){"local", 5} : ks__id_clean_ip(client);
    ks_slice host = ks__field_str(ev, KS_F_HOST);
    ks__buf_reset(buf);
    ks__buf_printf(buf, "mssql|%.*s|%.*s", (int)host.n, host.p ? host.p : "", (int)prov.n, prov.p);
    v->group = (ks_slice){buf->p, buf->n};
    v->app = (ks_slice){"mssql", 5};
    if (id != 18456) {
        v->kind = AK_SUCCESS;
        v->code = (ks_slice){"0x0", 3};
        v->reason = "SQL Server login";
        return !ignorable_account(v->account);
    }
    const char *code = "mssql:other";
    for (size_t i = 0; i < KS_ARRAY_LEN(mssql_reasons) && reason.n; i++)
        if (ks__memmem_ci(reason.p, reason.n, mssql_reasons[i].text, strlen(mssql_reasons[i].text))) {
            code = mssql_reasons[i].code;
            break;
        }
    const code_word *w = lookup(code, strlen(code));
    v->code = (ks_slice){w->code, strlen(w->code)};
    v->kind = w->kind;
    v->flags |= w->flags;
    v->reason = w->words;
    return !ignorable_account(v->account);
}

bool ks__id_normalize(const ks_event *ev, ks_event *scratch, ks_buf *buf, auth_view *v)
{
    /* The slices may point into tmp: it lives in the caller's view frame. */
    static _Thread_local char tmp[4][64];
    memset(v, 0, sizeof *v);
    return windows(ev, buf, v, tmp) || entra(ev, buf, v, tmp) || m365(ev, scratch, buf, v, tmp) ||
           openssh(ev, buf, v) || mssql(ev, buf, v);
}
