/* SPDX-License-Identifier: Apache-2.0
 *
 * The "dnsdebug" input: Windows DNS server debug logs (dns.log, written
 * when "Log packets for debugging" is on).
 *
 * A file opens with a header block ("DNS Server log file creation at ...",
 * "Message logging key ..." and the field legend), then one line per packet:
 *
 *   6/1/2020 10:00:01 AM 0E60 PACKET  000000D5E7A8B1C0 UDP Rcv 10.1.2.3
 *       b9a4   Q [0001   D   NOERROR] A      (7)example(3)com(0)
 *
 * (one line in the file): date and time in the server's locale and local
 * clock, thread, context, packet id, UDP/TCP, Snd/Rcv, remote address,
 * transaction id, "R" for responses, opcode, [flags, flag letters, response
 * code], question type and the name in wire form with label lengths in
 * parentheses. With "Details" on, each packet is followed by an indented
 * block (QUESTION/ANSWER sections) whose ANSWER "DATA" lines give the
 * answers; they are attached to the packet's event.
 *
 * Each packet becomes one event with kensa's network names (netfields.h):
 * dns.query (dotted), dns.qtype, dns.rcode, dns.answers, client.ip or
 * server.ip (the remote is the client for received queries and sent
 * responses, an upstream server otherwise), network.transport, plus
 * dns.direction (Snd/Rcv), dns.response, dns.xid, dns.opcode, dns.flags.
 *
 * Time: the log has no zone; it is read as UTC unless dnsdebug.utc_offset
 * ("+02:00", "-5h") says what the server's clock was. Dates are M/D/YYYY
 * (en-US, the default) unless the first number is over 12 or
 * dnsdebug.date_order=dmy; YYYY-MM-DD and DD.MM.YYYY are recognised.
 * Other lines (notes, "Log file wrap") are skipped; a packet line that does
 * not parse is reported with its line number and skipped.
 */
#include <stdlib.h>
#include <string.h>
#include "input/linein.h"

#define DD_MAX_LINE ((size_t)64 << 10)
#define DD_MAX_ANSWERS 16

typedef struct dd_in {
    ks_linein in;
    int64_t utc_offset;      /* ns to subtract from the logged clock */
    bool dmy;                /* D/M/Y dates */
    ks_buf cur;              /* the packet line being emitted (copied) */
    ks_buf ans;              /* its answers, NUL-separated */
    size_t ans_off[DD_MAX_ANSWERS], ans_len[DD_MAX_ANSWERS];
    size_t nans;
} dd_in;

/* ---- probe --------------------------------------------------------------- */

static const char HDR[] = "DNS Server log file creation at ";

static int dd_probe(const uint8_t *h, size_t n, const char *name)
{
    KS_UNUSED(name);
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf)
        h += 3, n -= 3;
    if (n >= sizeof HDR - 1 && !memcmp(h, HDR, sizeof HDR - 1))
        return 95;
    const char *s = (const char *)h;
    if (ks__memmem_ci(s, n, "Message logging key (for packets", 32))
        return 90;
    /* Headerless (rotated or cut): a packet line with a wire-form name. */
    const char *p = ks__memmem_ci(s, n, " PACKET  ", 9);
    if (p && (memmem(p, n - (size_t)(p - s), " Rcv ", 5) || memmem(p, n - (size_t)(p - s), " Snd ", 5)) &&
        memmem(p, n - (size_t)(p - s), "(0)", 3))
        return 80;
    return 0;
}

/* ---- open / close ---------------------------------------------------------- */

static int dd_open(const ks_input_ctx *ctx, void **state)
{
    dd_in *d = calloc(1, sizeof *d);
    if (!d)
        return KS_ENOMEM;
    ks__linein_init(&d->in, ctx, "dnsdebug", DD_MAX_LINE);
    const char *off = ks__opt(d->in.dc.e, "dnsdebug.utc_offset");
    if (off && *off) {
        /* "+02:00" / "-05:00" or a duration ("2h", "-30m") */
        int sign = off[0] == '-' ? -1 : 1;
        const char *o = (off[0] == '+' || off[0] == '-') ? off + 1 : off;
        int hh = 0, mm = 0;
        int64_t dur;
        if (strlen(o) == 5 && o[2] == ':' && sscanf(o, "%2d:%2d", &hh, &mm) == 2)
            d->utc_offset = sign * ((int64_t)hh * 3600 + mm * 60) * 1000000000ll;
        else if (ks__parse_duration(o, &dur) == KS_OK)
            d->utc_offset = sign * dur;
        else
            ks__linein_report(&d->in, KS_DIAG_WARN, KS_EUSAGE, 0, UINT64_MAX,
                              "dnsdebug.utc_offset '%s' is not +HH:MM or a duration; ignored", off);
    }
    const char *order = ks__opt(d->in.dc.e, "dnsdebug.date_order");
    d->dmy = order && !strcmp(order, "dmy");
    *state = d;
    return KS_OK;
}

static void dd_close(void *state)
{
    dd_in *d = state;
    if (!d)
        return;
    ks__linein_close(&d->in);
    ks__buf_release(&d->cur);
    ks__buf_release(&d->ans);
    free(d);
}

/* ---- parsing --------------------------------------------------------------- */

static int num(const char *s, size_t n)
{
    int v = 0;
    if (n == 0 || n > 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Splits at runs of spaces/tabs; returns the count (at most max). */
static size_t split(const char *s, size_t n, ks_slice *t, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t b = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i > b)
            t[k++] = (ks_slice){s + b, i - b};
    }
    return k;
}

/* Date ("6/1/2020", "2020-06-01", "01.06.2020") and time ("10:00:01",
 * optional AM/PM) to ns as logged. */
static bool parse_when(const dd_in *d, ks_slice date, ks_slice tm, ks_slice ampm, int64_t *out)
{
    int y = -1, mo = -1, dd = -1, a, b, c, h, mi, s;
    const char *p = date.p;
    size_t n = date.n, i1 = 0, i2;
    char sep = 0;
    while (i1 < n && p[i1] >= '0' && p[i1] <= '9')
        i1++;
    if (i1 == n)
        return false;
    sep = p[i1];
    i2 = i1 + 1;
    while (i2 < n && p[i2] != sep)
        i2++;
    if (i2 >= n || (sep != '/' && sep != '-' && sep != '.'))
        return false;
    a = num(p, i1);
    b = num(p + i1 + 1, i2 - i1 - 1);
    c = num(p + i2 + 1, n - i2 - 1);
    if (a < 0 || b < 0 || c < 0)
        return false;
    if (sep == '-' && a > 999)
        y = a, mo = b, dd = c;
    else if (sep == '.')
        dd = a, mo = b, y = c;
    else if (d->dmy || a > 12)
        dd = a, mo = b, y = c;
    else
        mo = a, dd = b, y = c;
    if (tm.n < 7 || sscanf(tm.p, "%d:%d:%d", &h, &mi, &s) != 3)
        return false;
    if (ampm.n == 2 && (ampm.p[0] == 'P' || ampm.p[0] == 'p') && h < 12)
        h += 12;
    else if (ampm.n == 2 && (ampm.p[0] == 'A' || ampm.p[0] == 'a') && h == 12)
        h = 0;
    if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    *out = ks__timegm(y, mo, dd, h, mi, s) * 1000000000ll;
    return true;
}

/* "(7)example(3)com(0)" -> "example.com" in the event arena; the
 * "[C00C]" compression prefix of detail lines is skipped. */
static bool wire_name(ks_arena *a, const char *s, size_t n, ks_slice *out)
{
    char *buf = ks__arena_alloc(a, n + 1);
    size_t o = 0, i = 0;
    if (!buf)
        return false;
    if (n && s[0] == '[') {
        const char *e = memchr(s, ']', n);
        if (!e)
            return false;
        i = (size_t)(e - s) + 1;
    }
    while (i < n) {
        if (s[i] != '(')
            return false;
        const char *e = memchr(s + i, ')', n - i);
        if (!e)
            return false;
        int len = num(s + i + 1, (size_t)(e - s - i - 1));
        i = (size_t)(e - s) + 1;
        if (len < 0 || (size_t)len > n - i)
            return false;
        if (len == 0)
            break;
        if (o)
            buf[o++] = '.';
        memcpy(buf + o, s + i, (size_t)len);
        o += (size_t)len;
        i += (size_t)len;
    }
    buf[o] = 0;
    *out = (ks_slice){buf, o};
    return true;
}

static bool is_packet_line(const char *s, size_t n)
{
    return n > 20 && s[0] >= '0' && s[0] <= '9' && memmem(s, n, " PACKET ", 8) != NULL;
}

/* Collects answers from a detail block following a packet line; stops at
 * (and gives back) the next line that is not indented detail. */
static void read_details(dd_in *d)
{
    const char *s;
    size_t n;
    uint64_t lineno, off;
    bool in_answers = false;
    ks__buf_reset(&d->ans);
    d->nans = 0;
    while (ks__linein_next(&d->in, &s, &n, &lineno, &off) == KS_OK) {
        bool detail = s[0] == ' ' || s[0] == '\t' || !strncmp(s, "UDP ", 4) || !strncmp(s, "TCP ", 4);
        if (!detail || is_packet_line(s, n)) {
            ks__linein_unread(&d->in, off, lineno);
            return;
        }
        ks_slice t[4];
        size_t k = split(s, n, t, 4);
        if (k >= 2 && t[1].n >= 7 && !memcmp(t[1].p, "SECTION", 7))
            in_answers = t[0].n == 6 && !memcmp(t[0].p, "ANSWER", 6);
        else if (in_answers && k >= 2 && t[0].n == 4 && !memcmp(t[0].p, "DATA", 4) &&
                 d->nans < DD_MAX_ANSWERS) {
            const char *v = t[1].p;
            size_t vn = (size_t)(s + n - v);
            d->ans_off[d->nans] = d->ans.n;
            d->ans_len[d->nans] = vn;
            if (ks__buf_add(&d->ans, v, vn) == KS_OK && ks__buf_addc(&d->ans, 0) == KS_OK)
                d->nans++;
        }
    }
}

static void add(ks_event *ev, const char *name, ks_slice v)
{
    if (v.n)
        ks__event_add_str(ev, name, strlen(name), v.p, v.n);
}

/* Parses the copied packet line in d->cur into ev. */
static bool parse_packet(dd_in *d, ks_event *ev)
{
    const char *s = d->cur.p;
    size_t n = d->cur.n;
    const char *pk = memmem(s, n, " PACKET ", 8);
    ks_slice pre[5], t[8];
    size_t np = split(s, (size_t)(pk - s), pre, 5);
    const char *rest = pk + 8;
    size_t k = split(rest, (size_t)(s + n - rest), t, 6);
    if (np < 3 || k < 6)
        return false;
    bool ampm = pre[2].n == 2 && (pre[2].p[1] == 'M' || pre[2].p[1] == 'm');
    int64_t when;
    if (parse_when(d, pre[0], pre[1], ampm ? pre[2] : (ks_slice){"", 0}, &when))
        ev->time = when - d->utc_offset;
    /* t: packet id, UDP/TCP, Snd/Rcv, remote, xid, then "R"? opcode */
    ks_slice proto = t[1], dir = t[2], remote = t[3], xid = t[4];
    bool resp = t[5].n == 1 && t[5].p[0] == 'R';
    /* The flags' bracket comes after the opcode field: one earlier (inside
     * the remote address or xid of a damaged line) would make the opcode
     * span negative. */
    const char *lb = memchr(t[5].p, '[', (size_t)(s + n - t[5].p));
    const char *rb = lb ? memchr(lb, ']', (size_t)(s + n - lb)) : NULL;
    if (!lb || !rb)
        return false;
    ks_slice op[2];
    size_t nop = split(t[5].p, (size_t)(lb - t[5].p), op, 2);
    ks_slice fl[6];
    size_t nf = split(lb + 1, (size_t)(rb - lb - 1), fl, 6);
    ks_slice tail[2];
    size_t nt = split(rb + 1, (size_t)(s + n - rb - 1), tail, 2);
    if (nt < 2 || nf < 2)
        return false;
    ks_slice qname;
    if (!wire_name(ev->arena, tail[1].p, (size_t)(s + n - tail[1].p), &qname))
        return false;
    bool rcv = dir.n == 3 && dir.p[0] == 'R';
    /* The remote is the client for a query received or a response sent. */
    bool remote_is_client = rcv != resp;
    add(ev, "dns.query", qname);
    add(ev, "dns.qtype", tail[0]);
    add(ev, "dns.rcode", fl[nf - 1]);
    add(ev, "dns.flags", fl[0]);
    add(ev, remote_is_client ? "client.ip" : "server.ip", remote);
    add(ev, "dns.direction", dir);
    add(ev, "dns.xid", xid);
    if (nop)
        add(ev, "dns.opcode", op[nop - 1]);
    ks_value b = {.type = KS_VBOOL};
    b.u.b = resp;
    ks__event_add_named(ev, "dns.response", 12, &b);
    char lower[4] = {0};
    for (size_t i = 0; i < proto.n && i < 3; i++)
        lower[i] = (char)(proto.p[i] | 0x20);
    add(ev, "network.transport", (ks_slice){ks__arena_strndup(ev->arena, lower, strlen(lower)), strlen(lower)});
    for (size_t i = 0; i < d->nans; i++) {
        ks_slice a = {d->ans.p + d->ans_off[i], d->ans_len[i]}, nm;
        /* DATA is a wire-form name (CNAME, NS, PTR) or an address */
        if (a.n && (a.p[0] == '(' || a.p[0] == '[') && wire_name(ev->arena, a.p, a.n, &nm))
            a = nm;
        add(ev, "dns.answers", a);
    }
    return true;
}

static int dd_next(void *state, ks_event *ev)
{
    dd_in *d = state;
    for (;;) {
        const char *s;
        size_t n;
        uint64_t lineno, off;
        int rc = ks__linein_next(&d->in, &s, &n, &lineno, &off);
        if (rc != KS_OK)
            return rc;
        if (!is_packet_line(s, n))
            continue; /* header block, notes, detail lines of a skipped packet */
        ks__buf_reset(&d->cur);
        if (ks__buf_add(&d->cur, s, n) != KS_OK)
            return KS_ENOMEM;
        read_details(d);
        ks__linein_prov(ev, lineno, off);
        if (parse_packet(d, ev))
            return KS_OK;
        d->in.nbad++;
        ks__linein_report(&d->in, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                          "DNS debug packet line does not parse; skipped");
        ks__event_reset(ev);
    }
}

const struct ks_input ks_input_dnsdebug = {
    .abi = KS_INPUT_ABI_1,
    .name = "dnsdebug",
    .description = "Windows DNS server debug log (dns.log packet lines, details)",
    .probe = dd_probe,
    .open = dd_open,
    .next = dd_next,
    .close = dd_close,
};
