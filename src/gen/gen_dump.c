/* SPDX-License-Identifier: Apache-2.0
 *
 * An exposed multi-organisation dump with known truth, for the exposure
 * index and the portal: `kensa-gen dump --out DIR [--orgs N] [--mails N]
 * [--docs N] [--notes N] [--formats eml,txt,csv,docx,zip,tgz] [--seed S]
 * [--truth FILE] [--big N]`.
 *
 * Organisations are orgNN.example with people "First Last
 * <first.last@orgNN.example>" and a London phone each. Files: mails (.eml,
 * some copied twice into backup/ to test duplicate collapse), notes (.txt),
 * contact lists (.csv), typed documents (.docx: statement of work, proof of
 * execution, invoice, contract), and archives (.zip, .tar.gz) of notes and
 * lists. --truth writes one JSON line per domain with what the index must
 * count under the attribution rules of detect/index.c: a message or
 * document belongs to every domain whose address it holds; phones and
 * documents count for each of them, addresses, people and organisation
 * names only for their own domain. Invoices carry the client's payment
 * card (Luhn-valid) and IBAN (mod-97 valid), counted under secrets by
 * type (pii.card, pii.iban). --big N writes N notes of 100
 * addresses each (benchmarks; truth still exact).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include "gen.h"
#include "core/core.h"

#define MAX_ORGS 1000
#define PEOPLE_PER_ORG 12

static const char *const firsts[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                     "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy"};
static const char *const lasts[] = {"smith", "jones", "taylor", "brown", "wilson", "evans",
                                    "thomas", "roberts", "walker", "wright", "hall", "green"};
static const char *const forms[] = {"Inc", "Ltd", "GmbH", "LLC", "plc"};

typedef struct person {
    char name[64];   /* "Alice Smith" */
    char addr[96];   /* alice.smith@org01.example */
    char phone[32];  /* "+44 20 7946 0123" */
    char norm[24];   /* "+442079460123" */
    char card[24];   /* "4539 1400 0001 2348": Luhn-valid Visa */
    char cardn[20];  /* digits only, as the scanner normalises it */
    char iban[40];   /* "GB29 NWBK 6016 1300 0012 34": mod-97 valid */
    char ibann[32];
    int org;
} person;

typedef struct dump {
    const char *out;
    gen_rng rng;
    int norgs;
    char dom[MAX_ORGS][32];
    char oname[MAX_ORGS][64];
    person *people;
    int npeople;
    ks_map *truth[MAX_ORGS];      /* kind char + value -> 1 */
    int64_t first[MAX_ORGS], last[MAX_ORGS];
    unsigned formats;             /* F_* */
    int serial;                   /* makes every document distinct */
    uint64_t big_addrs[MAX_ORGS]; /* --big notes: counted, not kept */
    uint64_t big_docs[MAX_ORGS];
} dump;

enum { F_EML = 1, F_TXT = 2, F_CSV = 4, F_DOCX = 8, F_ZIP = 16, F_TGZ = 32 };

/* ---- truth ----------------------------------------------------------------------- */

/* What one message or document holds, recorded as it is written. */
typedef struct unit {
    int orgs[16];
    int norgs;
    const person *addrs[32];   /* every address in it */
    int naddrs;
    const person *named[32];   /* people whose display name is in a header */
    int nnamed;
    const char *phones[32];    /* normalised */
    int nphones;
    char secrets[4][48];       /* "pii.card:DIGITS": counted by type */
    int nsecrets;
    char doc[80];              /* "type:id" */
    int orgname;               /* org whose name is in the signature, -1 */
    int64_t time;              /* seconds, 0 none */
} unit;

static void u_addr(unit *u, const person *p)
{
    int k = 0;
    if (u->naddrs < 32)
        u->addrs[u->naddrs++] = p;
    while (k < u->norgs && u->orgs[k] != p->org)
        k++;
    if (k == u->norgs && u->norgs < 16)
        u->orgs[u->norgs++] = p->org;
}

static void u_phone(unit *u, const person *p)
{
    if (u->nphones < 32)
        u->phones[u->nphones++] = p->norm;
}

static void truth_add(dump *d, int org, char kind, const char *v)
{
    char key[256];
    if (!d->truth[org] && !(d->truth[org] = ks__map_new(256)))
        return;
    snprintf(key, sizeof key, "%c%s", kind, v);
    uint64_t *s = ks__map_slot(d->truth[org], key, strlen(key), true);
    if (s)
        *s = 1;
}

static void u_end(dump *d, const unit *u)
{
    for (int k = 0; k < u->norgs; k++) {
        int o = u->orgs[k];
        char low[80];
        for (int i = 0; i < u->naddrs; i++)
            if (u->addrs[i]->org == o)
                truth_add(d, o, 'a', u->addrs[i]->addr);
        for (int i = 0; i < u->nnamed; i++)
            if (u->named[i]->org == o) {
                size_t n = strlen(u->named[i]->name);
                for (size_t j = 0; j <= n; j++)
                    low[j] = (char)(u->named[i]->name[j] | (u->named[i]->name[j] >= 'A' && u->named[i]->name[j] <= 'Z' ? 32 : 0));
                truth_add(d, o, 'p', low);
            }
        for (int i = 0; i < u->nphones; i++)
            truth_add(d, o, 'f', u->phones[i]);
        for (int i = 0; i < u->nsecrets; i++)
            truth_add(d, o, 's', u->secrets[i]);
        if (u->doc[0])
            truth_add(d, o, 'd', u->doc);
        if (u->orgname == o)
            truth_add(d, o, 'o', d->oname[o]);
        if (u->time) {
            if (!d->first[o] || u->time < d->first[o])
                d->first[o] = u->time;
            if (u->time > d->last[o])
                d->last[o] = u->time;
        }
    }
}

/* Writes one unit's text as OUT/sub/name, records its truth and frees b. */
static int put_unit(dump *d, const unit *u, ks_buf *b, const char *sub, const char *name)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", d->out, sub);
    int rc = gen_write(dir, name, b->p, b->n);
    u_end(d, u);
    ks__buf_release(b);
    return rc;
}

static int write_truth(dump *d, const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "kensa-gen: cannot write %s\n", path);
        return -1;
    }
    for (int o = 0; o < d->norgs; o++) {
        uint64_t n[128] = {0};
        uint64_t types[5] = {0};
        static const char *const tnames[5] = {"mail", "sow", "poe", "invoice", "contract"};
        uint64_t other = 0, cards = 0, ibans = 0;
        size_t it = 0, kn;
        const char *key;
        uint64_t *val;
        char f[32], l[32];
        while (d->truth[o] && ks__map_iter(d->truth[o], &it, &key, &kn, &val)) {
            n[(unsigned char)key[0] & 127]++;
            if (key[0] == 'd') {
                int t = 0;
                while (t < 5 && strncmp(key + 1, tnames[t], strlen(tnames[t])))
                    t++;
                if (t < 5)
                    types[t]++;
                else
                    other++;
            }
            cards += key[0] == 's' && !strncmp(key + 1, "pii.card:", 9);
            ibans += key[0] == 's' && !strncmp(key + 1, "pii.iban:", 9);
        }
        gen_time(d->first[o], f, sizeof f);
        gen_time(d->last[o], l, sizeof l);
        other += d->big_docs[o];
        fprintf(fp, "{\"domain\":\"%s\",\"addresses\":%" PRIu64 ",\"phones\":%" PRIu64 ",\"people\":%" PRIu64
                    ",\"org_names\":%" PRIu64 ",\"documents\":%" PRIu64,
                d->dom[o], n['a'] + d->big_addrs[o], n['f'], n['p'], n['o'], n['d'] + d->big_docs[o]);
        for (int t = 0; t < 5; t++)
            fprintf(fp, ",\"doc_%s\":%" PRIu64, tnames[t], types[t]);
        fprintf(fp, ",\"secrets\":%" PRIu64 ",\"secret_pii.card\":%" PRIu64 ",\"secret_pii.iban\":%" PRIu64,
                n['s'], cards, ibans);
        fprintf(fp, ",\"doc_other\":%" PRIu64 ",\"first\":\"%s\",\"last\":\"%s\"}\n", other,
                d->first[o] ? f : "", d->last[o] ? l : "");
    }
    return fclose(fp) == 0 ? 0 : -1;
}

/* ---- people ----------------------------------------------------------------------- */

/* A Visa number (IIN 453914) from n with its Luhn check digit, grouped. */
static void make_card(uint64_t n, char *grouped, char *digits)
{
    int sum = 0;
    snprintf(digits, 20, "453914%09" PRIu64, n % 1000000000);
    for (int i = 14; i >= 0; i--) {
        int v = digits[i] - '0';
        if ((14 - i) % 2 == 0 && (v *= 2) > 9)
            v -= 9;
        sum += v;
    }
    digits[15] = (char)('0' + (10 - sum % 10) % 10);
    digits[16] = 0;
    snprintf(grouped, 24, "%.4s %.4s %.4s %.4s", digits, digits + 4, digits + 8, digits + 12);
}

/* A British IBAN for account n with its ISO 7064 mod-97 check digits. */
static void make_iban(uint64_t n, char *grouped, char *compact)
{
    char bban[24], r[64];
    unsigned rem = 0;
    snprintf(bban, sizeof bban, "NWBK601613%08" PRIu64, n % 100000000);
    snprintf(r, sizeof r, "%sGB00", bban);
    for (const char *p = r; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            rem = (rem * 100 + (unsigned)(*p - 'A' + 10)) % 97;
        else
            rem = (rem * 10 + (unsigned)(*p - '0')) % 97;
    }
    snprintf(compact, 32, "GB%02u%s", 98 - rem, bban);
    snprintf(grouped, 40, "%.4s %.4s %.4s %.4s %.4s %.2s", compact, compact + 4, compact + 8, compact + 12,
             compact + 16, compact + 20);
}

static void make_people(dump *d)
{
    d->npeople = d->norgs * PEOPLE_PER_ORG;
    d->people = calloc((size_t)d->npeople, sizeof *d->people);
    for (int o = 0; o < d->norgs; o++) {
        snprintf(d->dom[o], sizeof d->dom[o], "org%02d.example", o + 1);
        snprintf(d->oname[o], sizeof d->oname[o], "Orgname %d %s", o + 1, forms[o % 5]);
        for (int i = 0; i < PEOPLE_PER_ORG; i++) {
            person *p = &d->people[o * PEOPLE_PER_ORG + i];
            int k = o * PEOPLE_PER_ORG + i;
            const char *fn = firsts[k % 14], *ln = lasts[(k / 14 + i) % 12];
            snprintf(p->name, sizeof p->name, "%c%s %c%s", fn[0] - 32, fn + 1, ln[0] - 32, ln + 1);
            snprintf(p->addr, sizeof p->addr, "%s.%s%d@%s", fn, ln, i, d->dom[o]);
            snprintf(p->phone, sizeof p->phone, "+44 20 79%02d %04d", 40 + (k / 10000) % 60, k % 10000);
            snprintf(p->norm, sizeof p->norm, "+442079%02d%04d", 40 + (k / 10000) % 60, k % 10000);
            make_card(7000000 + (uint64_t)k * 7, p->card, p->cardn);
            make_iban(31000000 + (uint64_t)k * 13, p->iban, p->ibann);
            p->org = o;
        }
    }
}

static const person *pick(dump *d, int org)
{
    if (org < 0)
        org = (int)gen_below(&d->rng, (uint64_t)d->norgs);
    return &d->people[org * PEOPLE_PER_ORG + (int)gen_below(&d->rng, PEOPLE_PER_ORG)];
}

/* ---- content ---------------------------------------------------------------------- */

static const char *const topics[] = {"quarterly review", "renewal", "migration plan", "onboarding",
                                     "support ticket", "licence count", "workshop agenda"};

/* A mail as RFC 5322 text into b; records it in u. */
static void mail_text(dump *d, ks_buf *b, unit *u, int64_t t)
{
    const person *from = pick(d, -1), *to = pick(d, -1);
    const person *cc = gen_below(&d->rng, 3) == 0 ? pick(d, -1) : NULL;
    char date[64];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    int id = ++d->serial;
    ks__buf_printf(b, "From: \"%s\" <%s>\r\nTo: %s <%s>\r\n", from->name, from->addr, to->name, to->addr);
    if (cc)
        ks__buf_printf(b, "Cc: %s <%s>\r\n", cc->name, cc->addr);
    ks__buf_printf(b, "Date: %s\r\nMessage-ID: <m%d.%" PRIu64 "@kensa-gen>\r\nSubject: %s %d\r\n"
                      "Organization: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
                   date, id, d->rng.s % 100000, topics[id % 7], id, d->oname[from->org]);
    ks__buf_printf(b, "Hi %s,\r\n\r\nfollowing up on the %s. Let me know what you think.\r\n\r\n"
                      "Regards,\r\n%s\r\n%s\r\nTel: %s\r\n",
                   to->name, topics[id % 7], from->name, d->oname[from->org], from->phone);
    u_addr(u, from);
    u_addr(u, to);
    u->named[u->nnamed++] = from;
    u->named[u->nnamed++] = to;
    if (cc) {
        u_addr(u, cc);
        u->named[u->nnamed++] = cc;
    }
    u_phone(u, from);
    u->orgname = from->org;
    u->time = t;
    snprintf(u->doc, sizeof u->doc, "mail:%d", id);
}

static void note_text(dump *d, ks_buf *b, unit *u, int naddr)
{
    int id = ++d->serial;
    ks__buf_printf(b, "Notes %d (%s)\n", id, topics[id % 7]);
    for (int i = 0; i < naddr; i++) {
        const person *p = pick(d, i == 0 ? -1 : u->addrs[0]->org);
        ks__buf_printf(b, "- %s <%s>", p->name, p->addr);
        u_addr(u, p);
        if (gen_below(&d->rng, 2)) {
            ks__buf_printf(b, " tel %s", p->phone);
            u_phone(u, p);
        }
        ks__buf_addc(b, '\n');
    }
    snprintf(u->doc, sizeof u->doc, "other:%d", id);
}

static void csv_text(dump *d, ks_buf *b, unit *u)
{
    int org = (int)gen_below(&d->rng, (uint64_t)d->norgs), id = ++d->serial;
    ks__buf_printf(b, "name,email,phone,list\n");
    for (int i = 0; i < 4; i++) {
        const person *p = &d->people[org * PEOPLE_PER_ORG + (i + id) % PEOPLE_PER_ORG];
        ks__buf_printf(b, "%s,%s,%s,list%d\n", p->name, p->addr, p->phone, id);
        u_addr(u, p);
        u_phone(u, p);
    }
    snprintf(u->doc, sizeof u->doc, "other:%d", id);
}

static const char *const doc_heads[4] = {
    "Statement of Work\nThis statement of work describes the services.",
    "Proof of Execution\nThe delivery below was completed as planned.",
    "Invoice number INV-%d\nAmount due: 1200.00 EUR",
    "Services Agreement\nThis Agreement is made between the parties, hereinafter the Parties.",
};
static const char *const doc_types[4] = {"sow", "poe", "invoice", "contract"};

static void typed_text(dump *d, ks_buf *b, unit *u)
{
    int id = ++d->serial, t = id % 4;
    const person *client = pick(d, -1), *vendor = pick(d, -1);
    ks__buf_printf(b, doc_heads[t], id);
    ks__buf_printf(b, "\nReference %d\nClient contact: %s <%s>, %s\nVendor contact: %s <%s>\n", id,
                   client->name, client->addr, client->phone, vendor->name, vendor->addr);
    u_addr(u, client);
    u_addr(u, vendor);
    u_phone(u, client);
    if (t == 2) {
        /* personal data the index counts by type through the scanner's
         * validators (Luhn + IIN, IBAN mod-97) */
        ks__buf_printf(b, "Pay by card %s or bank transfer, IBAN %s\n", client->card, client->iban);
        snprintf(u->secrets[u->nsecrets++], sizeof u->secrets[0], "pii.card:%s", client->cardn);
        snprintf(u->secrets[u->nsecrets++], sizeof u->secrets[0], "pii.iban:%s", client->ibann);
    }
    snprintf(u->doc, sizeof u->doc, "%s:%d", doc_types[t], id);
}

/* ---- writers ---------------------------------------------------------------------- */

static int ar_add(struct archive *a, const char *name, const void *p, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    int rc = archive_write_header(a, e) == ARCHIVE_OK && archive_write_data(a, p, n) == (la_ssize_t)n ? 0 : -1;
    archive_entry_free(e);
    return rc;
}

/* A minimal Word document holding text, one paragraph per line. */
static int docx_bytes(const char *text, ks_buf *out)
{
    static const char ct[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
        "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
        "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
        "<Override PartName=\"/word/document.xml\" ContentType=\"application/"
        "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    static const char rels[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
        "relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";
    ks_buf doc = KS_BUF_INIT;
    size_t used = 0;
    int rc = -1;
    struct archive *a = archive_write_new();
    ks__buf_adds(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                       "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>");
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        ks__buf_adds(&doc, "<w:p><w:r><w:t xml:space=\"preserve\">");
        for (size_t i = 0; i < n; i++) {
            if (l[i] == '<')
                ks__buf_adds(&doc, "&lt;");
            else if (l[i] == '>')
                ks__buf_adds(&doc, "&gt;");
            else if (l[i] == '&')
                ks__buf_adds(&doc, "&amp;");
            else
                ks__buf_addc(&doc, l[i]);
        }
        ks__buf_adds(&doc, "</w:t></w:r></w:p>");
        l = e ? e + 1 : l + n;
    }
    ks__buf_adds(&doc, "</w:body></w:document>");
    if (ks__buf_grow(out, doc.n + 8192) != KS_OK)
        goto out;
    archive_write_set_format_zip(a);
    if (archive_write_open_memory(a, out->p, out->cap, &used) != ARCHIVE_OK)
        goto out;
    if (ar_add(a, "[Content_Types].xml", ct, strlen(ct)) || ar_add(a, "_rels/.rels", rels, strlen(rels)) ||
        ar_add(a, "word/document.xml", doc.p, doc.n))
        goto out;
    if (archive_write_close(a) != ARCHIVE_OK)
        goto out;
    out->n = used;
    rc = 0;
out:
    archive_write_free(a);
    ks__buf_release(&doc);
    return rc;
}

/* An archive of notes and contact lists (each member one unit). */
static int write_archive(dump *d, const char *dir, const char *name, bool tgz)
{
    char path[4096];
    int rc = 0;
    struct archive *a = archive_write_new();
    if (tgz) {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    } else {
        archive_write_set_format_zip(a);
    }
    if (gen_mkdirs(dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
        fprintf(stderr, "kensa-gen: cannot write %s\n", path);
        archive_write_free(a);
        return -1;
    }
    for (int i = 0; i < 4 && rc == 0; i++) {
        ks_buf b = KS_BUF_INIT;
        unit u = {.orgname = -1};
        char mname[64];
        if (i % 2) {
            csv_text(d, &b, &u);
            snprintf(mname, sizeof mname, "export/list%d.csv", d->serial);
        } else {
            note_text(d, &b, &u, 3);
            snprintf(mname, sizeof mname, "export/notes%d.txt", d->serial);
        }
        rc = ar_add(a, mname, b.p, b.n);
        u_end(d, &u);
        ks__buf_release(&b);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        rc = -1;
    archive_write_free(a);
    return rc;
}

static unsigned parse_formats(const char *s)
{
    unsigned f = 0;
    static const char *const names[] = {"eml", "txt", "csv", "docx", "zip", "tgz"};
    for (int i = 0; i < 6; i++) {
        const char *p = strstr(s, names[i]);
        size_t n = strlen(names[i]);
        if (p && (p == s || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            f |= 1u << i;
    }
    return f;
}

int gen_dump_run(int argc, char **argv)
{
    dump *d = calloc(1, sizeof *d);
    const char *truth = NULL;
    long mails = 40, docs = 12, notes = 10, lists = 5, archives = 2, big = 0;
    int rc = 0;
    char dir[4096], name[128];
    if (!d)
        return 2;
    d->norgs = 5;
    d->rng.s = 0x6b656e7361ull;
    d->formats = 63;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "kensa-gen dump: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--out"))
            d->out = v;
        else if (!strcmp(a, "--orgs"))
            d->norgs = (int)KS_MAX(1, KS_MIN(strtol(v, NULL, 10), MAX_ORGS));
        else if (!strcmp(a, "--mails"))
            mails = strtol(v, NULL, 10);
        else if (!strcmp(a, "--docs"))
            docs = strtol(v, NULL, 10);
        else if (!strcmp(a, "--notes"))
            notes = strtol(v, NULL, 10);
        else if (!strcmp(a, "--big"))
            big = strtol(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            d->rng.s = strtoull(v, NULL, 10) | 1;
        else if (!strcmp(a, "--truth"))
            truth = v;
        else if (!strcmp(a, "--formats"))
            d->formats = parse_formats(v);
        else {
            fprintf(stderr, "kensa-gen dump: unknown option %s\n", a);
            return 2;
        }
    }
    if (!d->out) {
        fprintf(stderr, "kensa-gen dump: needs --out DIR\n");
        return 2;
    }
    make_people(d);
    int64_t t0 = 1672531200; /* 2023-01-01 */
    for (long i = 0; i < mails && (d->formats & F_EML) && rc == 0; i++) {
        ks_buf b = KS_BUF_INIT;
        unit u = {.orgname = -1};
        mail_text(d, &b, &u, t0 + i * 86400 + (int64_t)gen_below(&d->rng, 80000));
        snprintf(dir, sizeof dir, "%s/mail/%s", d->out, d->dom[u.addrs[0]->org]);
        snprintf(name, sizeof name, "msg%04ld.eml", i);
        rc = gen_write(dir, name, b.p, b.n);
        if (rc == 0 && i % 5 == 0) { /* the same message in a backup: collapses */
            snprintf(dir, sizeof dir, "%s/backup/mail", d->out);
            rc = gen_write(dir, name, b.p, b.n);
        }
        u_end(d, &u);
        ks__buf_release(&b);
    }
    for (long i = 0; i < notes && (d->formats & F_TXT) && rc == 0; i++) {
        ks_buf b = KS_BUF_INIT;
        unit u = {.orgname = -1};
        note_text(d, &b, &u, 1 + (int)(i % 3));
        snprintf(name, sizeof name, "note%04ld.txt", i);
        rc = put_unit(d, &u, &b, "notes", name);
    }
    for (long i = 0; i < lists && (d->formats & F_CSV) && rc == 0; i++) {
        ks_buf b = KS_BUF_INIT;
        unit u = {.orgname = -1};
        csv_text(d, &b, &u);
        snprintf(name, sizeof name, "contacts%04ld.csv", i);
        rc = put_unit(d, &u, &b, "crm", name);
    }
    for (long i = 0; i < docs && (d->formats & F_DOCX) && rc == 0; i++) {
        ks_buf b = KS_BUF_INIT, x = KS_BUF_INIT;
        unit u = {.orgname = -1};
        typed_text(d, &b, &u);
        snprintf(dir, sizeof dir, "%s/documents", d->out);
        snprintf(name, sizeof name, "doc%04ld.docx", i);
        rc = docx_bytes(b.p, &x) || gen_write(dir, name, x.p, x.n);
        u_end(d, &u);
        ks__buf_release(&b);
        ks__buf_release(&x);
    }
    for (long i = 0; i < archives && rc == 0; i++) {
        snprintf(dir, sizeof dir, "%s/archives", d->out);
        if (d->formats & F_ZIP) {
            snprintf(name, sizeof name, "export%ld.zip", i);
            rc = write_archive(d, dir, name, false);
        }
        if (rc == 0 && (d->formats & F_TGZ)) {
            snprintf(name, sizeof name, "backup%ld.tar.gz", i);
            rc = write_archive(d, dir, name, true);
        }
    }
    for (long i = 0; i < big && rc == 0; i++) {
        /* 100 distinct addresses of one organisation per note */
        ks_buf b = KS_BUF_INIT;
        int o = (int)(i % d->norgs);
        ks__buf_printf(&b, "Mailing list export %ld\n", i);
        for (int k = 0; k < 100; k++)
            ks__buf_printf(&b, "user%ld.%d@%s; subscribed, bounce score %d\n", i, k, d->dom[o], k % 7);
        snprintf(dir, sizeof dir, "%s/big/%03ld", d->out, i / 1000);
        snprintf(name, sizeof name, "n%07ld.txt", i);
        rc = gen_write(dir, name, b.p, b.n);
        d->big_addrs[o] += 100;
        d->big_docs[o]++;
        ks__buf_release(&b);
    }
    if (rc == 0 && truth)
        rc = write_truth(d, truth);
    for (int o = 0; o < d->norgs; o++)
        ks__map_free(d->truth[o]);
    free(d->people);
    free(d);
    return rc ? 1 : 0;
}

/* A small dump (mails, notes, lists) for `kensa index build` on the demo. */
int gen_dump_demo(const char *dir)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/exposed-dump", dir);
    char *argv[] = {(char *)"dump", (char *)"--out", out, (char *)"--mails", (char *)"10",
                    (char *)"--formats", (char *)"eml,txt,csv", NULL};
    return gen_dump_run(7, argv);
}
