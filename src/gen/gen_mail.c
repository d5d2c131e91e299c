/* SPDX-License-Identifier: Apache-2.0
 *
 * Mail evidence (gen_mail.h): `kensa-gen mailbox --out DIR [--messages N |
 * --size 1G] [--eml K] [--seed S]` writes an mbox and .eml files in which
 * the secrets and personal data of gen_mail_truth are planted, one per
 * message in turn, in bodies encoded every way mail encodes them (quoted-
 * printable with the value cut by soft line breaks, base64, Latin-1 8-bit),
 * in text, zip and docx attachments and in nested messages. The demo part
 * writes a small mailbox under DIR/mail.
 */
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/core.h"
#include "gen.h"
#include "gen_mail.h"

/* Valid for their types, made for kensa (random, not anyone's). */
const gen_mail_truth_t gen_mail_truth[] = {
    {"aws.access_key", "AKIAQBJB55SOTXQ2FW73", "aws_access_key_id = %s"},
    {"aws.secret_key", "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", "aws_secret_access_key = %s"},
    {"github.token", "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", "the deploy token is %s until Friday"},
    {"slack.token", "xoxb-373003569930-4060283388480-ddppWDUbUM8jTljwB6C15xNk", "bot token %s"},
    {"stripe.secret_key", "sk_live_Qe6I7TR9rPF8u8uPRWEPBNgV", "billing uses %s in production"},
    {"google.api_key", "AIzaMqQs2-cbF9d_UyQuH-ADe7xA_6gLCkpao8S", "maps key=%s"},
    {"azure.storage_key",
     "GbUXih8+AmSgC+vXHbyvDPDYw2Qn5qOxQT0tlQI9hj7rHRqkJURjaAlnduK6d3VCCQ8HtTJtqkHs94BiGs83HQ==",
     "DefaultEndpointsProtocol=https;AccountName=hrexports;AccountKey=%s;EndpointSuffix=core.windows.net"},
    {"jwt",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtYmFja3VwIiwiaXNzIjoiaHR0cHM6Ly9sb2dpbi5leGFtcGxlLmNvbSIsImV4cCI6MTg5MzQ1NjAwMH0.pmvNbyWMVdJvREmGETmZ5QqqB8lRZA_LMqvpCwtJxfI",
     "Authorization: Bearer %s"},
    {"password", "Wint3r!Sync#2024", "Server=db01.corp.local;Database=hr;User Id=sa;Password=%s;"},
    {"private_key",
     "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIN+yecI72L2e9pMPKXH/jBwfpUKskfIk/rceRRl/bJJN\n-----END PRIVATE KEY-----",
     "the signing key:\n%s\n"},
    {"pii.card", "4111 1111 1111 1111", "please charge the company Visa card %s exp 09/29"},
    {"pii.iban", "GB82 WEST 1234 5698 7654 32", "wire the refund to IBAN %s"},
    {"pii.ssn", "536-22-1234", "employee SSN: %s"},
    {"pii.my_number", "1234 5678 9018", "マイナンバー (My Number): %s"},
    {"pii.phone", "+44 20 7946 0958", "call me on %s"},
    {"pii.email", "j.tanaka@corp-example.jp", "write to %s for access"},
};
const size_t gen_mail_ntruth = sizeof gen_mail_truth / sizeof gen_mail_truth[0];

static const char *const people[] = {
    "Alice Martin <alice.martin@corp-example.com>", "Bob Chen <bob.chen@corp-example.com>",
    "=?UTF-8?B?UmVuw6llIETDvHJy?= <renee.durr@corp-example.de>",
    "=?ISO-8859-1?Q?Jos=E9_Pe=F1a?= <jose.pena@corp-example.es>",
    "=?UTF-8?B?55Sw5Lit?= <tanaka@corp-example.jp>", "ops <ops@corp-example.com>",
};

static const char *const words[] = {
    "the", "quarterly", "report", "is", "attached", "and", "we", "need", "your", "review",
    "before", "Monday", "meeting", "budget", "server", "migration", "please", "confirm",
    "access", "schedule", "customer", "invoice", "project", "update", "thanks", "regards",
};

/* ---- encoders ---------------------------------------------------------------------- */

static void put_qp(ks_buf *b, const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            ks__buf_addc(b, '\n');
            col = 0;
            continue;
        }
        bool plain = c >= 33 && c <= 126 && c != '=';
        plain |= c == ' ' && i + 1 < n && s[i + 1] != '\n';
        size_t w = plain ? 1 : 3;
        if (col + w > 75) {
            ks__buf_adds(b, "=\n"); /* soft line break, often inside a token */
            col = 0;
        }
        if (plain)
            ks__buf_addc(b, (char)c);
        else
            ks__buf_printf(b, "=%02X", c);
        col += w;
    }
    ks__buf_addc(b, '\n');
}

static void put_b64(ks_buf *b, const void *data, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], i + 1 < n ? a[(v >> 6) & 63] : '=',
                     i + 2 < n ? a[v & 63] : '='};
        ks__buf_add(b, q, 4);
        if ((col += 4) >= 76) {
            ks__buf_addc(b, '\n');
            col = 0;
        }
    }
    if (col)
        ks__buf_addc(b, '\n');
}

/* UTF-8 to Latin-1 for the 8-bit bodies (characters outside become '?'). */
static void to_latin1(ks_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            ks__buf_addc(b, (char)*p++);
        } else if ((*p & 0xE0) == 0xC0 && p[1]) {
            unsigned cp = (unsigned)(*p & 0x1F) << 6 | (p[1] & 0x3F);
            ks__buf_addc(b, cp < 256 ? (char)cp : '?');
            p += 2;
        } else {
            ks__buf_addc(b, '?');
            p++;
            while ((*p & 0xC0) == 0x80)
                p++;
        }
    }
}

/* ---- attachments (libarchive writes the zip and docx) -------------------------------- */

static int zip_of(ks_buf *out, const char *const *names, const char *const *texts, size_t k)
{
    size_t cap = 65536;
    for (size_t i = 0; i < k; i++)
        cap += strlen(texts[i]) * 2;
    void *mem = malloc(cap);
    size_t used = 0;
    struct archive *a = archive_write_new();
    int rc = -1;
    if (!mem || !a || archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_memory(a, mem, cap, &used) != ARCHIVE_OK)
        goto out;
    for (size_t i = 0; i < k; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(texts[i]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 1700000000, 0);
        archive_write_header(a, e);
        archive_write_data(a, texts[i], strlen(texts[i]));
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        goto out;
    rc = ks__buf_add(out, mem, used) == KS_OK ? 0 : -1;
out:
    if (a)
        archive_write_free(a);
    free(mem);
    return rc;
}

static int docx_of(ks_buf *out, const char *text)
{
    static const char ct[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Types "
        "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
        "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
        "<Override PartName=\"/word/document.xml\" ContentType=\"application/"
        "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    static const char rels[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Relationships "
        "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/"
        "2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";
    ks_buf doc = KS_BUF_INIT;
    ks__buf_adds(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<w:document "
                       "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
                       "<w:body><w:p><w:r><w:t>Statement of work</w:t></w:r></w:p><w:p><w:r><w:t>");
    for (const char *p = text; *p; p++) {
        if (*p == '<')
            ks__buf_adds(&doc, "&lt;");
        else if (*p == '&')
            ks__buf_adds(&doc, "&amp;");
        else
            ks__buf_addc(&doc, *p);
    }
    ks__buf_adds(&doc, "</w:t></w:r></w:p></w:body></w:document>");
    const char *names[] = {"[Content_Types].xml", "_rels/.rels", "word/document.xml"};
    const char *texts[] = {ct, rels, doc.p};
    int rc = zip_of(out, names, texts, 3);
    ks__buf_release(&doc);
    return rc;
}

/* ---- messages ------------------------------------------------------------------------ */

typedef struct gen_ctx {
    gen_rng r;
    FILE *truth;            /* truth.jsonl */
    FILE *index;            /* messages.tsv */
    uint64_t filler;        /* filler bytes per message */
} gen_ctx;

static void filler(gen_ctx *g, ks_buf *b, uint64_t n, bool latin)
{
    uint64_t start = b->n;
    while (b->n - start < n) {
        for (int w = 0; w < 12; w++) {
            ks__buf_adds(b, words[gen_below(&g->r, KS_ARRAY_LEN(words))]);
            ks__buf_addc(b, ' ');
        }
        ks__buf_adds(b, latin ? "Gr\xfc\xdf" "e.\n" : "Grüße.\n");
    }
}

static void truth_row(gen_ctx *g, const gen_mail_truth_t *t, const char *msgid, const char *where)
{
    unsigned char md[32];
    unsigned mdlen = 0;
    ks_buf j = KS_BUF_INIT;
    EVP_Digest(t->value, strlen(t->value), md, &mdlen, EVP_sha256(), NULL);
    ks__buf_adds(&j, "{\"type\":\"");
    ks__buf_adds(&j, t->type);
    ks__buf_adds(&j, "\",\"value\":\"");
    ks__buf_add_json_str(&j, t->value, strlen(t->value));
    ks__buf_adds(&j, "\",\"sha256\":\"");
    for (unsigned i = 0; i < mdlen; i++)
        ks__buf_printf(&j, "%02x", md[i]);
    ks__buf_printf(&j, "\",\"message_id\":\"%s\",\"where\":\"%s\"}\n", msgid, where);
    fputs(j.p, g->truth);
    ks__buf_release(&j);
}

static void planted_line(ks_buf *b, const gen_mail_truth_t *t)
{
    const char *pct = strstr(t->line, "%s");
    if (pct) {
        ks__buf_add(b, t->line, (size_t)(pct - t->line));
        ks__buf_adds(b, t->value);
        ks__buf_adds(b, pct + 2);
    } else {
        ks__buf_adds(b, t->line);
    }
    ks__buf_addc(b, '\n');
}

static void headers(ks_buf *b, gen_ctx *g, unsigned i, const char *msgid, const char *subject,
                    int64_t t)
{
    char date[64];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    ks__buf_printf(b, "Return-Path: <%s>\n", "mailer@corp-example.com");
    ks__buf_printf(b, "From: %s\n", people[i % KS_ARRAY_LEN(people)]);
    ks__buf_printf(b, "To: %s, %s\n", people[(i + 1) % KS_ARRAY_LEN(people)],
                   people[(i + 3) % KS_ARRAY_LEN(people)]);
    if (i % 3 == 0)
        ks__buf_printf(b, "Cc: %s\n", people[(i + 2) % KS_ARRAY_LEN(people)]);
    ks__buf_printf(b, "Subject: %s\n", subject);
    ks__buf_printf(b, "Date: %s\n", date);
    ks__buf_printf(b, "Message-ID: <%s>\n", msgid);
    ks__buf_adds(b, "MIME-Version: 1.0\n");
    KS_UNUSED(g);
}

/* A base64 attachment part. */
static void attach(ks_buf *b, const char *bnd, const char *name, const char *ctype,
                   const void *data, size_t n)
{
    ks__buf_printf(b, "--%s\nContent-Type: %s; name=\"%s\"\n"
                      "Content-Disposition: attachment; filename=\"%s\"\n"
                      "Content-Transfer-Encoding: base64\n\n", bnd, ctype, name, name);
    put_b64(b, data, n);
}

/* One message into b; plants truth item i % ntruth. */
static void message(gen_ctx *g, ks_buf *b, unsigned i)
{
    const gen_mail_truth_t *t = &gen_mail_truth[i % gen_mail_ntruth];
    char msgid[96], inner_id[96], subject[160];
    int64_t when = 1704067200 + (int64_t)i * 600; /* 2024-01-01, ten minutes apart */
    unsigned kind = i % 5;
    bool zip = i % 7 == 6, docx = i % 11 == 10;
    snprintf(msgid, sizeof msgid, "gen-%06u.%08llx@mail.corp-example.com", i,
             (unsigned long long)(gen_next(&g->r) & 0xffffffffu));
    static const char *const subjects[] = {
        "=?UTF-8?Q?Zugangsdaten_f=C3=BCr_den_Server?=", "=?UTF-8?B?5pys55Wq55Kw5aKD44Gu6Kit5a6a?=",
        "=?ISO-8859-1?Q?R=E9sum=E9_des_acc=E8s?=", "access for the migration",
        "Fwd: credentials", "=?koi8-r?B?8MHSz8zYIMTM0SDEz9PU1dDB?="};
    snprintf(subject, sizeof subject, "%s", subjects[(i / 5) % KS_ARRAY_LEN(subjects)]);
    fprintf(g->index, "%s\t%lld\t%s\n", msgid, (long long)when, subject);

    ks_buf text = KS_BUF_INIT;
    filler(g, &text, g->filler / 2, false);
    planted_line(&text, t);
    filler(g, &text, g->filler / 2, false);

    headers(b, g, i, msgid, subject, when);
    bool multi = kind >= 3 || zip || docx;
    const char *bnd = "=_kensa_gen_boundary";
    if (multi) {
        ks__buf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n", bnd);
        ks__buf_printf(b, "This is a multi-part message in MIME format.\n--%s\n", bnd);
    }
    static const char *const where_body[] = {"body/quoted-printable", "body/base64", "body/latin1-8bit",
                                             "body/quoted-printable", "nested-message"};
    switch (kind) {
    case 1:
        ks__buf_adds(b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n");
        put_b64(b, text.p, text.n);
        break;
    case 2: {
        ks_buf l = KS_BUF_INIT;
        to_latin1(&l, text.p);
        ks__buf_adds(b, "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n");
        ks__buf_add(b, l.p, l.n);
        ks__buf_release(&l);
        break;
    }
    case 4:
        /* the value lives only in the forwarded message */
        ks__buf_adds(b, "Content-Type: text/plain; charset=utf-8\n\nSee the forwarded message below.\n");
        break;
    default:
        ks__buf_adds(b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n");
        put_qp(b, text.p, text.n);
        break;
    }
    if (kind != 4)
        truth_row(g, t, msgid, where_body[kind]);
    ks_buf line = KS_BUF_INIT, att = KS_BUF_INIT;
    char name[64];
    planted_line(&line, t);
    if (kind == 3) {
        snprintf(name, sizeof name, "notes-%u.txt", i);
        attach(b, bnd, name, "text/plain; charset=utf-8", line.p, line.n);
        truth_row(g, t, msgid, "attachment/text");
    }
    if (kind == 4) {
        snprintf(inner_id, sizeof inner_id, "inner-%06u@mail.corp-example.com", i);
        ks__buf_printf(b, "--%s\nContent-Type: message/rfc822\nContent-Disposition: attachment; "
                          "filename=\"forwarded-%u.eml\"\n\n", bnd, i);
        headers(b, g, i + 1, inner_id, "=?UTF-8?Q?the_credentials_=E2=9C=93?=", when - 86400);
        ks__buf_adds(b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n");
        put_qp(b, text.p, text.n);
        truth_row(g, t, inner_id, "nested-message/quoted-printable");
    }
    if (zip) {
        const char *names[] = {"config/.env", "README.txt"};
        const char *texts[] = {line.p, "deployment bundle\n"};
        snprintf(name, sizeof name, "bundle-%u.zip", i);
        if (zip_of(&att, names, texts, 2) == 0) {
            attach(b, bnd, name, "application/zip", att.p, att.n);
            truth_row(g, t, msgid, "attachment/zip");
        }
        ks__buf_reset(&att);
    }
    if (docx) {
        snprintf(name, sizeof name, "sow-%u.docx", i);
        if (docx_of(&att, line.p) == 0) {
            attach(b, bnd, name,
                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                   att.p, att.n);
            truth_row(g, t, msgid, "attachment/docx");
        }
    }
    ks__buf_release(&att);
    ks__buf_release(&line);
    if (multi)
        ks__buf_printf(b, "--%s--\n", bnd);
    ks__buf_release(&text);
}

static int write_blob(const char *dir, const char *name, const ks_buf *b)
{
    FILE *fp = gen_open(dir, name);
    if (!fp)
        return -1;
    fwrite(b->p, 1, b->n, fp);
    return fclose(fp) == 0 ? 0 : -1;
}

/* Outlook files: three .msg (value in the body, in an attachment, in an
 * embedded message) and a winmail.dat (body and attachment), planting the
 * truth items after those the mbox starts with. */
static int outlook(gen_ctx *g, const char *dir)
{
    char sub[4096], id[3][80], name[40];
    ks_buf line[3] = {KS_BUF_INIT, KS_BUF_INIT, KS_BUF_INIT}, out = KS_BUF_INIT;
    int rc = 0;
    snprintf(sub, sizeof sub, "%s/outlook", dir);
    for (int k = 0; k < 3; k++) {
        planted_line(&line[k], &gen_mail_truth[(size_t)(k + 3) % gen_mail_ntruth]);
        snprintf(id[k], sizeof id[k], "outlook-%d@mail.corp-example.com", k);
    }
    gen_msg_spec inner = {.subject = "the old credentials", .body = line[2].p,
                          .message_id = id[2], .from_name = "Bob Chen",
                          .from_addr = "bob.chen@corp-example.com", .to_name = "Alice Martin",
                          .to_addr = "alice.martin@corp-example.com", .time = 1704000000};
    gen_msg_spec m = {.subject = "Zugangsdaten für den Server", .body = line[0].p,
                      .message_id = id[0], .from_name = "Renée Dürr",
                      .from_addr = "renee.durr@corp-example.de", .to_name = "ops",
                      .to_addr = "ops@corp-example.com", .time = 1704067200,
                      .attach_name = "keys.txt", .attach = line[1].p, .nattach = line[1].n,
                      .embedded = &inner};
    for (int k = 0; k < 2 && rc == 0; k++) {
        ks__buf_reset(&out);
        if (k == 0)
            gen_msg_build(&m, &out);
        else
            gen_tnef_build(&m, &out);
        snprintf(name, sizeof name, k == 0 ? "planted-1.msg" : "winmail.dat");
        rc = write_blob(sub, name, &out);
        const char *fmt = k == 0 ? "msg" : "tnef";
        char where[32];
        snprintf(where, sizeof where, "%s/body", fmt);
        truth_row(g, &gen_mail_truth[3], id[0], where);
        snprintf(where, sizeof where, "%s/attachment", fmt);
        truth_row(g, &gen_mail_truth[4], id[0], where);
    }
    truth_row(g, &gen_mail_truth[5], id[2], "msg/embedded-message");
    for (int k = 0; k < 3; k++)
        ks__buf_release(&line[k]);
    ks__buf_release(&out);
    return rc;
}

/* mboxrd: a body line "^>*From " gains a '>'. */
static void mbox_put(FILE *fp, const ks_buf *m, unsigned i)
{
    fprintf(fp, "From mailer@corp-example.com Mon Jan  1 00:%02u:00 2024\n", i % 60);
    const char *p = m->p, *end = m->p + m->n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        const char *q = p;
        while (q < p + len && *q == '>')
            q++;
        if ((size_t)(p + len - q) >= 5 && memcmp(q, "From ", 5) == 0)
            fputc('>', fp);
        fwrite(p, 1, len, fp);
        p += len;
    }
    fputc('\n', fp);
}

int gen_mail_write(const char *dir, const gen_mail_opts *o)
{
    char path[4096];
    int rc = -1;
    FILE *mbox = NULL;
    ks_buf m = KS_BUF_INIT;
    gen_ctx g = {.r = {o->seed ? o->seed : 16}};
    unsigned n = o->messages;
    g.filler = 1500;
    if (o->size && !n)
        n = (unsigned)KS_MIN(o->size / 4096 + 1, (uint64_t)UINT32_MAX);
    if (!n)
        n = 200;
    if (o->size)
        g.filler = o->size / n > 2500 ? o->size / n - 1000 : 1500;
    unsigned eml = o->eml ? o->eml : 12;
    snprintf(path, sizeof path, "%s/eml", dir);
    if (gen_mkdirs(path) != 0 || !(mbox = gen_open(dir, "mailbox.mbox")) ||
        !(g.truth = o->truth ? fopen(o->truth, "w") : gen_open(dir, "truth.jsonl")) || !(g.index = gen_open(dir, "messages.tsv")))
        goto out;
    for (unsigned i = 1; i <= n; i++) {
        ks__buf_reset(&m);
        message(&g, &m, i);
        mbox_put(mbox, &m, i);
        if (i <= eml) {
            char name[64];
            snprintf(name, sizeof name, "message-%04u.eml", i);
            FILE *fp = gen_open(path, name);
            if (!fp)
                goto out;
            fwrite(m.p, 1, m.n, fp);
            fclose(fp);
        }
    }
    rc = outlook(&g, dir);
out:
    if (mbox && fclose(mbox) != 0)
        rc = -1;
    if (g.truth)
        fclose(g.truth);
    if (g.index)
        fclose(g.index);
    ks__buf_release(&m);
    return rc;
}

int gen_mail_run(int argc, char **argv)
{
    const char *out = NULL;
    gen_mail_opts o = {0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--messages"))
            o.messages = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--size") && ks__parse_size(argv[i + 1], &o.size) != KS_OK)
            out = NULL;
        else if (!strcmp(argv[i], "--eml"))
            o.eml = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            o.seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--truth"))
            o.truth = argv[i + 1];
    }
    if (!out) {
        fprintf(stderr, "usage: kensa-gen mailbox --out DIR [--messages N | --size 1G] [--eml K] [--seed S] [--truth FILE]\n");
        return 2;
    }
    return gen_mail_write(out, &o) == 0 ? 0 : 1;
}

int gen_mail_demo(const char *dir)
{
    char d[4096];
    snprintf(d, sizeof d, "%s/mail", dir);
    /* The truth (clear values) stays out of the hunted tree: beside it. */
    char truth[4096];
    snprintf(truth, sizeof truth, "%s.mail-truth.jsonl", dir);
    gen_mail_opts o = {.messages = 48, .eml = 6, .seed = 16, .truth = truth};
    return gen_mail_write(d, &o);
}
