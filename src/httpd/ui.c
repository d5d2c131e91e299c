/* SPDX-License-Identifier: Apache-2.0
 *
 * The portal's web pages, rendered on the server: no external assets (one
 * inline style sheet, one inline script allowed by its hash in the CSP),
 * every value HTML-escaped, every form that changes state carrying the
 * session's CSRF token. The pages say what the numbers mean: distinct
 * values after duplicates collapse, observations, the data set's status.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "httpd/portal.h"

/* The single-address check: hashes the address in the browser and asks
 * only for its 5-character range, so the portal never sees the address. */
const char portal_ui_script[] =
    "document.addEventListener('DOMContentLoaded',function(){"
    "var f=document.getElementById('check');if(!f)return;"
    "f.addEventListener('submit',async function(ev){ev.preventDefault();"
    "var out=document.getElementById('check-result');"
    "var a=document.getElementById('addr').value.trim().toLowerCase();"
    "var d=await crypto.subtle.digest('SHA-256',new TextEncoder().encode(a));"
    "var h=Array.from(new Uint8Array(d)).map(function(b){return b.toString(16).padStart(2,'0')})"
    ".join('').toUpperCase();"
    "var r=await fetch('/api/v1/range/'+h.slice(0,5));"
    "if(!r.ok){out.textContent='The check is not available right now ('+r.status+').';return;}"
    "var lines=(await r.text()).split('\\n');"
    "var hit=lines.indexOf(h.slice(5))>=0;"
    "out.textContent=hit?'This address appears in the indexed data.':"
    "'This address does not appear in the indexed data.';"
    "out.className=hit?'bad':'good';});});";

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}"
    "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3rem .8rem;text-align:left}"
    "form.inline{display:inline}input,button{font:inherit;padding:.3rem .5rem;margin:.2rem 0}"
    ".note{color:#555;font-size:.9rem}.bad{color:#a00;font-weight:bold}.good{color:#070;font-weight:bold}"
    ".banner{background:#fff3cd;border:1px solid #e0c060;padding:.6rem 1rem;margin:1rem 0}"
    "code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}"
    "nav{margin-bottom:1rem}nav form{display:inline}";

static void esc(ks_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': ks__buf_adds(b, "&lt;"); break;
        case '>': ks__buf_adds(b, "&gt;"); break;
        case '&': ks__buf_adds(b, "&amp;"); break;
        case '"': ks__buf_adds(b, "&quot;"); break;
        case '\'': ks__buf_adds(b, "&#39;"); break;
        default: ks__buf_addc(b, *s);
        }
    }
}

static void page_begin(portal_req *q, portal_resp *r, int status, const char *title)
{
    r->status = status;
    r->type = "text/html; charset=utf-8";
    ks__buf_reset(&r->body);
    ks__buf_adds(&r->body, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    esc(&r->body, title);
    ks__buf_printf(&r->body, " - kensa exposure portal</title><style>%s</style><script>%s</script></head><body>",
                   style, portal_ui_script);
    ks__buf_adds(&r->body, "<nav><a href=\"/\">kensa exposure portal</a> &middot; <a href=\"/help\">what the numbers mean</a>");
    if (q->account) {
        ks__buf_adds(&r->body, " &middot; <a href=\"/dashboard\">your domains</a> &middot; "
                               "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"");
        esc(&r->body, q->csrf);
        ks__buf_adds(&r->body, "\"><button id=\"logout\">log out</button></form>");
    }
    ks__buf_adds(&r->body, "</nav><h1>");
    esc(&r->body, title);
    ks__buf_adds(&r->body, "</h1>");
}

static void page_end(portal_resp *r)
{
    ks__buf_adds(&r->body, "</body></html>");
}

static void csrf_field(portal_req *q, portal_resp *r)
{
    ks__buf_adds(&r->body, "<input type=\"hidden\" name=\"csrf\" value=\"");
    esc(&r->body, q->csrf);
    ks__buf_adds(&r->body, "\">");
}

static void message_page(portal_req *q, portal_resp *r, int status, const char *title, const char *msg,
                         const char *back)
{
    page_begin(q, r, status, title);
    ks__buf_adds(&r->body, "<p class=\"bad\" id=\"message\">");
    esc(&r->body, msg);
    ks__buf_printf(&r->body, "</p><p><a href=\"%s\">back</a></p>", back);
    page_end(r);
}

/* ---- pages ------------------------------------------------------------------------ */

static void home(portal_req *q, portal_resp *r)
{
    page_begin(q, r, 200, "Is your organisation in an exposed data set?");
    ks__buf_adds(&r->body,
        "<p>This portal shows an organisation what an exposed store (an open cloud container, a leaked "
        "mail archive) held about it: how many of its addresses, phone numbers, people, documents and "
        "secrets, and when. <b>Each organisation sees only its own domains, and only after proving it "
        "controls them</b> (a DNS TXT record or a file on its web site). Nobody can look up another "
        "organisation here.</p>"
        "<h2>Check one address</h2><p class=\"note\">Your browser hashes the address and asks only for "
        "the first 5 characters of the hash; the portal never sees the address (k-anonymity).</p>"
        "<form id=\"check\"><input id=\"addr\" type=\"email\" required placeholder=\"you@example.com\" size=\"32\">"
        " <button>Check</button></form><p id=\"check-result\"></p>");
    if (q->account) {
        ks__buf_adds(&r->body, "<p><a href=\"/dashboard\">Go to your domains</a></p>");
    } else {
        ks__buf_adds(&r->body,
            "<h2>Log in</h2><form method=\"post\" action=\"/login\" id=\"login\">"
            "<input name=\"name\" placeholder=\"account name\" required> "
            "<input name=\"password\" type=\"password\" placeholder=\"password\" required> "
            "<button>Log in</button></form>"
            "<h2>Create an organisation account</h2><form method=\"post\" action=\"/signup\" id=\"signup\">"
            "<input name=\"name\" placeholder=\"account name\" required> "
            "<input name=\"password\" type=\"password\" placeholder=\"password (10+ characters)\" required> "
            "<button>Create</button></form>");
    }
    page_end(r);
}

static void help(portal_req *q, portal_resp *r)
{
    page_begin(q, r, 200, "What the numbers mean");
    ks__buf_adds(&r->body,
        "<ul><li><b>Distinct</b>: each address, phone number, person, document or secret counts once, "
        "however many files held it (duplicates collapsed). The same address in 400 messages is one "
        "exposed address, <b>seen</b> 400 times.</li>"
        "<li><b>Seen</b>: how many messages or documents held it.</li>"
        "<li><b>Addresses</b> and <b>people</b> are your domain's own: another organisation's address in "
        "a message you are on counts for them, not for you. Phone numbers, documents and secrets count "
        "for every organisation whose addresses appear in the same message or document.</li>"
        "<li><b>Documents by type</b> come from the content (a statement of work, proof of execution, "
        "invoice, contract, or mail), not from file names.</li>"
        "<li><b>Data set status</b>: <i>unverified</i> means the operator has not confirmed the dump is "
        "authentic; <i>verified</i> means they have. Counts are always after duplicate collapse.</li>"
        "<li><b>New</b>: first seen after the last time you marked the exposure as seen.</li>"
        "<li>Nothing identifying is stored in clear: values are keyed hashes, and the few the owner must "
        "see (your addresses) are sealed with a server key.</li></ul>");
    page_end(r);
}

static void login(portal_req *q, portal_resp *r, bool create)
{
    char name[80], pw[260], msg[160];
    int64_t id = 0;
    if (!portal_form_get(q->body, q->nbody, "name", name, sizeof name) ||
        !portal_form_get(q->body, q->nbody, "password", pw, sizeof pw)) {
        message_page(q, r, 400, "Missing fields", "Both a name and a password are needed.", "/");
        return;
    }
    int rc = create ? portal_account_new(q->store, name, pw, &id, msg, sizeof msg)
                    : portal_account_login(q->store, name, pw, &id);
    if (rc != KS_OK) {
        q->audit_what = create ? "signup refused" : "login failed";
        message_page(q, r, create ? 400 : 401, create ? "Cannot create the account" : "Cannot log in",
                     create ? msg : "Wrong name or password.", "/");
        return;
    }
    if (portal_session_new(q->store, id, q->P->cfg.session_ttl, q->sid, q->csrf) != KS_OK) {
        message_page(q, r, 500, "Cannot log in", "The session could not be stored.", "/");
        return;
    }
    q->account = id;
    q->audit_what = create ? "signup" : "login";
    portal_redirect(r, "/dashboard");
}

static void proof_block(portal_req *q, portal_resp *r, const portal_domain *d)
{
    ks__buf_adds(&r->body, "<p>Prove control of <b>");
    esc(&r->body, d->name);
    ks__buf_adds(&r->body, "</b> one of two ways, then press its button:</p><ol><li>DNS: a TXT record on <code>");
    esc(&r->body, d->name);
    ks__buf_adds(&r->body, "</code> with the value <code class=\"dns-value\">kensa-verify=");
    esc(&r->body, d->token);
    ks__buf_adds(&r->body, "</code> <form class=\"inline\" method=\"post\" action=\"/domains/");
    esc(&r->body, d->name);
    ks__buf_adds(&r->body, "/verify\">");
    csrf_field(q, r);
    ks__buf_adds(&r->body, "<input type=\"hidden\" name=\"method\" value=\"dns\"><button class=\"verify-dns\">"
                           "Verify by DNS</button></form></li><li>HTTPS: a file at <code>https://");
    esc(&r->body, d->name);
    ks__buf_adds(&r->body, "/.well-known/kensa-verify.txt</code> holding <code>");
    esc(&r->body, d->token);
    ks__buf_adds(&r->body, "</code> <form class=\"inline\" method=\"post\" action=\"/domains/");
    esc(&r->body, d->name);
    ks__buf_adds(&r->body, "/verify\">");
    csrf_field(q, r);
    ks__buf_adds(&r->body, "<input type=\"hidden\" name=\"method\" value=\"https\"><button class=\"verify-https\">"
                           "Verify by HTTPS</button></form></li></ol>");
}

static void dashboard(portal_req *q, portal_resp *r)
{
    portal_domain ds[64];
    size_t n = 0;
    if (!q->account) {
        portal_redirect(r, "/");
        return;
    }
    portal_domain_list(q->store, q->account, ds, KS_ARRAY_LEN(ds), &n);
    page_begin(q, r, 200, "Your domains");
    if (!n)
        ks__buf_adds(&r->body, "<p>No domains yet. Add one below; you will be asked to prove you control it.</p>");
    for (size_t i = 0; i < n; i++) {
        ks__buf_adds(&r->body, "<h2>");
        esc(&r->body, ds[i].name);
        if (ds[i].verified) {
            ks__buf_adds(&r->body, " <span class=\"good\">verified</span></h2><p><a class=\"exposure\" href=\"/domains/");
            esc(&r->body, ds[i].name);
            ks__buf_adds(&r->body, "\">View its exposure</a></p>");
        } else {
            ks__buf_adds(&r->body, " <span class=\"bad\">not verified</span></h2>");
            proof_block(q, r, &ds[i]);
        }
    }
    ks__buf_adds(&r->body, "<h2>Add a domain</h2><form method=\"post\" action=\"/domains\" id=\"add-domain\">");
    csrf_field(q, r);
    ks__buf_adds(&r->body, "<input name=\"domain\" placeholder=\"example.com\" required> <button>Add</button></form>"
                           "<h2>API token</h2><p class=\"note\">For scripts: <code>Authorization: Bearer TOKEN</code> "
                           "on /api/v1. Shown once.</p><form method=\"post\" action=\"/tokens\">");
    csrf_field(q, r);
    ks__buf_adds(&r->body, "<button>Create a token</button></form>");
    page_end(r);
}

static void add_domain(portal_req *q, portal_resp *r)
{
    char raw[300], dom[254];
    portal_domain d;
    if (!q->account) {
        portal_redirect(r, "/");
        return;
    }
    if (!portal_form_get(q->body, q->nbody, "domain", raw, sizeof raw) ||
        !portal_domain_ok(raw, strlen(raw), dom)) {
        message_page(q, r, 400, "Not a domain", "Enter a DNS name such as example.com.", "/dashboard");
        return;
    }
    if (portal_domain_claim(q->store, q->account, dom, &d) != KS_OK) {
        message_page(q, r, 500, "Cannot add", "The claim could not be stored.", "/dashboard");
        return;
    }
    q->audit_what = "domain claimed";
    portal_redirect(r, "/dashboard");
}

static void verify(portal_req *q, const portal_route *rt, portal_resp *r)
{
    char method[16] = "", msg[300], to[300];
    if (!q->account) {
        portal_redirect(r, "/");
        return;
    }
    portal_form_get(q->body, q->nbody, "method", method, sizeof method);
    if (portal_verify(q, rt->domain, method, msg, sizeof msg) != KS_OK) {
        message_page(q, r, 403, "Not verified", msg, "/dashboard");
        return;
    }
    snprintf(to, sizeof to, "/domains/%s", rt->domain);
    portal_redirect(r, to);
}

static void count_row(portal_resp *r, const char *label, uint64_t distinct, uint64_t seen, uint64_t fresh,
                      const char *id)
{
    ks__buf_printf(&r->body, "<tr id=\"%s\"><td>%s</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%s",
                   id, label, distinct, seen, fresh ? "<span class=\"bad\">+" : "");
    if (fresh)
        ks__buf_printf(&r->body, "%" PRIu64 " new</span>", fresh);
    ks__buf_adds(&r->body, "</td></tr>");
}

typedef struct addr_list {
    portal_resp *r;
    int64_t seen_batch;
} addr_list;

static int on_addr(void *ud, const char *v, size_t n, const char *type, uint64_t seen, int64_t first,
                   int64_t last, int64_t first_batch)
{
    addr_list *l = ud;
    char buf[320];
    (void)type;
    (void)first;
    (void)last;
    snprintf(buf, sizeof buf, "%.*s", (int)KS_MIN(n, sizeof buf - 1), v);
    ks__buf_adds(&l->r->body, "<li>");
    esc(&l->r->body, buf);
    ks__buf_printf(&l->r->body, " <span class=\"note\">seen %" PRIu64 "x%s</span></li>", seen,
                   l->seen_batch && first_batch > l->seen_batch ? ", new" : "");
    return 0;
}

static void domain_page(portal_req *q, const portal_route *rt, portal_resp *r)
{
    portal_domain d;
    ks_sexposure x;
    char f[64] = "-", l[64] = "-", title[300];
    if (!q->account) {
        portal_redirect(r, "/");
        return;
    }
    if (portal_domain_get(q->store, q->account, rt->domain, &d) != KS_OK || !d.verified) {
        q->audit_what = "owner check refused";
        message_page(q, r, 403, "Not yours to see",
                     "This account has not proved control of this domain.", "/dashboard");
        return;
    }
    if (ks__store_exposure(q->store, rt->domain, d.seen_batch, &x) != KS_OK) {
        message_page(q, r, 500, "Index unavailable", "The index cannot be read.", "/dashboard");
        return;
    }
    q->audit_what = "exposure read";
    snprintf(title, sizeof title, "Exposure of %s", rt->domain);
    page_begin(q, r, 200, title);
    uint64_t fresh = 0;
    for (size_t i = 0; i < x.ncounts; i++)
        if (x.counts[i].kind != KS_SK_SOURCE)
            fresh += d.seen_batch ? x.counts[i].fresh : 0;
    if (fresh) {
        ks__buf_printf(&r->body, "<div class=\"banner\" id=\"notification\">New exposure: %" PRIu64
                                 " items appeared since you last marked this page as seen. "
                                 "<form class=\"inline\" method=\"post\" action=\"/domains/%s/ack\">",
                       fresh, rt->domain);
        csrf_field(q, r);
        ks__buf_adds(&r->body, "<button>Mark as seen</button></form></div>");
    } else if (!d.seen_batch) {
        ks__buf_printf(&r->body, "<p class=\"note\">Mark this page as seen to be told about new exposure later: "
                                 "<form class=\"inline\" method=\"post\" action=\"/domains/%s/ack\">",
                       rt->domain);
        csrf_field(q, r);
        ks__buf_adds(&r->body, "<button>Mark as seen</button></form></p>");
    }
    if (!x.found) {
        ks__buf_adds(&r->body, "<p class=\"good\" id=\"none\">Nothing about this domain is in the index.</p>");
    } else {
        if (x.first != KS_TIME_NONE)
            ks__time_format_sec(x.first / 1000000000, 0, f, sizeof f);
        if (x.last != KS_TIME_NONE)
            ks__time_format_sec(x.last / 1000000000, 0, l, sizeof l);
        ks__buf_printf(&r->body, "<p>Data set status: <b id=\"status\">%s</b>, duplicates collapsed. "
                                 "Dates in the data: %s to %s. <a href=\"/help\">What these numbers mean</a>.</p>",
                       ks__store_status(q->store), f, l);
        ks__buf_adds(&r->body, "<table><tr><th>data type</th><th>distinct</th><th>seen</th><th></th></tr>");
        for (unsigned k = 1; k < KS_SK_MAX; k++) {
            uint64_t dn = 0, sn = 0, fn = 0;
            for (size_t i = 0; i < x.ncounts; i++)
                if (x.counts[i].kind == k) {
                    dn += x.counts[i].distinct;
                    sn += x.counts[i].seen;
                    fn += d.seen_batch ? x.counts[i].fresh : 0;
                }
            count_row(r, ks__skind_label(k), dn, sn, fn, ks__skind_key(k));
        }
        ks__buf_adds(&r->body, "</table><h2>Documents by type</h2><table>");
        for (size_t i = 0; i < x.ncounts; i++)
            if (x.counts[i].kind == KS_SK_DOCUMENT)
                count_row(r, x.counts[i].type, x.counts[i].distinct, x.counts[i].seen,
                          d.seen_batch ? x.counts[i].fresh : 0, "doctype");
        ks__buf_adds(&r->body, "</table><h2>Secrets and personal data by type</h2><table>");
        for (size_t i = 0; i < x.ncounts; i++)
            if (x.counts[i].kind == KS_SK_SECRET)
                count_row(r, x.counts[i].type, x.counts[i].distinct, x.counts[i].seen,
                          d.seen_batch ? x.counts[i].fresh : 0, "secrettype");
        ks__buf_adds(&r->body, "</table><h2>Your exposed addresses</h2><ul id=\"addresses\">");
        addr_list al = {r, d.seen_batch};
        ks__store_list(q->store, rt->domain, KS_SK_ADDRESS, 1000, on_addr, &al);
        ks__buf_adds(&r->body, "</ul>");
    }
    ks__sexposure_release(&x);
    page_end(r);
}

static void ack(portal_req *q, const portal_route *rt, portal_resp *r)
{
    portal_domain d;
    char to[300];
    if (!q->account || portal_domain_get(q->store, q->account, rt->domain, &d) != KS_OK || !d.verified) {
        message_page(q, r, 403, "Not yours to see", "This account has not proved control of this domain.",
                     "/dashboard");
        return;
    }
    portal_domain_ack(q->store, q->account, rt->domain, ks__store_last_batch(q->store));
    q->audit_what = "new exposure acknowledged";
    snprintf(to, sizeof to, "/domains/%s", rt->domain);
    portal_redirect(r, to);
}

static void token(portal_req *q, portal_resp *r)
{
    char tok[65];
    if (!q->account) {
        portal_redirect(r, "/");
        return;
    }
    if (portal_token_new(q->store, q->account, tok) != KS_OK) {
        message_page(q, r, 500, "Cannot create a token", "The token could not be stored.", "/dashboard");
        return;
    }
    q->audit_what = "token issued";
    page_begin(q, r, 201, "Your new API token");
    ks__buf_adds(&r->body, "<p>Copy it now; it is stored only as a hash and cannot be shown again.</p><p><code id=\"token\">");
    esc(&r->body, tok);
    ks__buf_adds(&r->body, "</code></p><p><a href=\"/dashboard\">back</a></p>");
    page_end(r);
}

void portal_ui(portal_req *q, const portal_route *rt, portal_resp *r)
{
    switch (rt->id) {
    case R_UI_HOME: home(q, r); break;
    case R_UI_HELP: help(q, r); break;
    case R_UI_SIGNUP: login(q, r, true); break;
    case R_UI_LOGIN: login(q, r, false); break;
    case R_UI_LOGOUT:
        if (q->cookie) {
            char sid[80];
            if (portal_cookie_get(q->cookie, "kensa_sid", sid, sizeof sid))
                portal_session_end(q->store, sid);
        }
        q->clear_session = true;
        q->audit_what = "logout";
        portal_redirect(r, "/");
        break;
    case R_UI_DASH: dashboard(q, r); break;
    case R_UI_ADD_DOMAIN: add_domain(q, r); break;
    case R_UI_VERIFY: verify(q, rt, r); break;
    case R_UI_DOMAIN: domain_page(q, rt, r); break;
    case R_UI_ACK: ack(q, rt, r); break;
    case R_UI_TOKEN: token(q, r); break;
    default: message_page(q, r, 404, "Not found", "No such page.", "/"); break;
    }
}
