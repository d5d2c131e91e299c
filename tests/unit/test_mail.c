/* SPDX-License-Identifier: Apache-2.0
 *
 * Mail extractors (src/lib/extract/mail_*.c) on messages written here:
 * quoted-printable and base64 bodies, RFC 2047 headers in several charsets,
 * attachments, nested messages, mbox escaping; the provenance of every
 * text unit (Message-ID, subject, chain path); the SpamAssassin corpus for
 * MIME robustness and the Outlook .msg samples when ../shared is there.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "harness.h"
#include "extract/extract.h"
#include "extract/mail.h"
#include "extract/mail_cfb.h"
#include "gen.h"
#include "gen_mail.h"

/* Everything extracted, one line per text unit:
 * "<chain>|<part>|<message-id>|<subject>|<folder>|<text>" */
typedef struct collect {
    ks_buf out;
    int units;
    int messages_seen;       /* units whose node has mail */
} collect;

static int on_text(void *ud, const ks_xtext *t)
{
    collect *c = ud;
    ks_buf chain = KS_BUF_INIT;
    ks__xnode_path(t->node, &chain);
    const ks_xmail *m = t->node->mail;
    ks__buf_printf(&c->out, "%s|%s|%s|%s|%s|", chain.p ? chain.p : "", t->part,
                   m && m->message_id ? m->message_id : "-", m && m->subject ? m->subject : "-",
                   m && m->folder ? m->folder : "-");
    ks__buf_add(&c->out, t->p, t->n);
    ks__buf_addc(&c->out, '\n');
    c->units++;
    c->messages_seen += m != NULL;
    ks__buf_release(&chain);
    return 0;
}

static int extract_blob(const char *name, const void *p, size_t n, collect *c)
{
    ks_xctx x;
    memset(c, 0, sizeof *c);
    ks__xctx_init(&x, NULL, name, on_text, c);
    ks_xnode top = {.name = name, .offset = UINT64_MAX};
    return ks__extract(&x, &top, p, n);
}

static const char *has(const collect *c, const char *s)
{
    return c->out.p ? strstr(c->out.p, s) : NULL;
}

static const char eml_qp[] =
    "Return-Path: <alice@example.com>\r\n"
    "From: =?ISO-8859-1?Q?Ren=E9e?= <renee@example.com>\r\n"
    "To: bob@example.org, =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.ru>\r\n"
    "Cc: carol@example.net\r\n"
    "Subject: =?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= =?UTF-8?Q?_r=C3=A9sum=C3=A9?=\r\n"
    "Message-ID: <qp-1@mail.example.com>\r\n"
    "Date: Tue, 01 Jan 2019 10:00:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "The staging key is ghp_1234567890abcdefghijkl=\r\n"
    "mnopqrstuvwxyz12 and caf=E9 is Latin-1.\r\n";

TEST(eml_qp_rfc2047)
{
    collect c;
    CHECK_INT(extract_blob("qp.eml", eml_qp, sizeof eml_qp - 1, &c), KS_OK);
    /* the token cut by the soft line break comes out whole */
    CHECK(has(&c, "ghp_1234567890abcdefghijklmnopqrstuvwxyz12 "));
    CHECK(has(&c, "café is Latin-1"));
    CHECK(has(&c, "qp.eml|body|qp-1@mail.example.com|テスト résumé|-|"));
    CHECK(has(&c, "From: Renée <renee@example.com>"));
    CHECK(has(&c, "Иван <ivan@example.ru>"));
    ks__buf_release(&c.out);
}

/* Metadata, checked on the node itself. */
static ks_xmail seen_mail;
static char seen_store[6][128];
static int on_text_meta(void *ud, const ks_xtext *t)
{
    KS_UNUSED(ud);
    const ks_xmail *m = t->node->mail;
    if (!m)
        return 0;
    const char *src[6] = {m->message_id, m->date, m->from, m->to, m->cc, m->subject};
    for (int i = 0; i < 6; i++)
        snprintf(seen_store[i], sizeof seen_store[i], "%s", src[i] ? src[i] : "");
    seen_mail.time = m->time;
    return 0;
}

TEST(eml_meta)
{
    ks_xctx x;
    ks__xctx_init(&x, NULL, "m.eml", on_text_meta, NULL);
    ks_xnode top = {.name = "m.eml", .offset = UINT64_MAX};
    CHECK_INT(ks__extract(&x, &top, (const uint8_t *)eml_qp, sizeof eml_qp - 1), KS_OK);
    CHECK_STR(seen_store[0], "qp-1@mail.example.com");
    CHECK_STR(seen_store[1], "Tue, 01 Jan 2019 10:00:00 +0100");
    CHECK_STR(seen_store[2], "Renée <renee@example.com>");
    CHECK_STR(seen_store[3], "bob@example.org, Иван <ivan@example.ru>");
    CHECK_STR(seen_store[4], "carol@example.net");
    CHECK_INT(seen_mail.time, 1546333200ll * 1000000000ll);
}

static const char eml_multi[] =
    "From: dev@example.com\n"
    "To: ops@example.com\n"
    "Subject: keys\n"
    "Message-ID: <outer@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
    "\n"
    "preamble\n"
    "--XX\n"
    "Content-Type: multipart/alternative; boundary=\"YY\"\n"
    "\n"
    "--YY\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "cGFzc3dvcmQ6IGh1bnRlcjIgaW4gYmFzZTY0IOKckw==\n"
    "--YY\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>html body</p>\n"
    "--YY--\n"
    "--XX\n"
    "Content-Type: text/plain; name=\"creds.txt\"\n"
    "Content-Disposition: attachment; filename*=UTF-8''cr%C3%A9ds.txt\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "QUtJQVhYWFhYWFhYWFhYWFhYWFgK\n"
    "--XX\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner@example.com\n"
    "To: dev@example.com\n"
    "Subject: =?UTF-8?B?aW5uZXIg4pyT?=\n"
    "Message-ID: <inner@example.com>\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "inner sec=\n"
    "ret body\n"
    "--XX\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "!!!not*base64 at all@@@\n"
    "--XX--\n";

TEST(eml_multipart_attachment_nested)
{
    collect c;
    CHECK_INT(extract_blob("m.eml", eml_multi, sizeof eml_multi - 1, &c), KS_OK);
    CHECK(has(&c, "m.eml|body|outer@example.com|keys|-|password: hunter2 in base64 ✓"));
    CHECK(has(&c, "html body"));
    CHECK(has(&c, "m.eml!créds.txt|text|outer@example.com|keys|-|AKIAXXXXXXXXXXXXXXXX"));
    CHECK(has(&c, "m.eml!message 3.eml|body|inner@example.com|inner ✓|-|inner secret body"));
    ks__buf_release(&c.out);
}

static const char mbox[] =
    "From alice@example.com Mon Jan  7 10:00:00 2019\n"
    "From: alice@example.com\n"
    "Subject: one\n"
    "Message-ID: <m1@x>\n"
    "\n"
    "first body\n"
    ">From the escaped line\n"
    ">>From doubly escaped\n"
    "From here on an unescaped line that is not a header start\n"
    "still first\n"
    "\n"
    "From bob@example.com Mon Jan  7 11:00:00 2019\n"
    "From: bob@example.com\n"
    "Subject: two\n"
    "Message-ID: <m2@x>\n"
    "\n"
    "second body\n"
    "\n"
    "From carol@example.com Mon Jan  7 12:00:00 2019\n"
    "From: carol@example.com\n"
    "Subject: three\n"
    "Message-ID: <m3@x>\n"
    "\n"
    "third body\n";

TEST(mbox_split_unescape)
{
    collect c;
    CHECK_INT(extract_blob("dir/Inbox.mbox", mbox, sizeof mbox - 1, &c), KS_OK);
    CHECK(has(&c, "dir/Inbox.mbox!message 1|body|m1@x|one|Inbox|first body\nFrom the escaped line\n>From doubly escaped\nFrom here on"));
    CHECK(has(&c, "still first\n"));
    CHECK(has(&c, "dir/Inbox.mbox!message 2|body|m2@x|two|Inbox|second body\n"));
    CHECK(has(&c, "dir/Inbox.mbox!message 3|body|m3@x|three|Inbox|third body\n"));
    CHECK(!has(&c, "message 4"));
    ks__buf_release(&c.out);
}

/* extract.max_total bounds each message of a mailbox, not the mailbox. */
TEST(mbox_budget_per_message)
{
    ks_xctx x;
    collect c;
    memset(&c, 0, sizeof c);
    ks__xctx_init(&x, NULL, "b.mbox", on_text, &c);
    x.budget.max_total = 200; /* less than the three messages together */
    ks_xnode top = {.name = "b.mbox", .offset = UINT64_MAX};
    CHECK_INT(ks__extract(&x, &top, (const uint8_t *)mbox, sizeof mbox - 1), KS_OK);
    CHECK(has(&c, "third body"));
    ks__buf_release(&c.out);
}

TEST(probe_not_mail)
{
    static const char http[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: x\r\n\r\n<html>";
    static const char deb[] = "Package: foo\nVersion: 1.0\nDescription: bar\n\n";
    static const char yaml[] = "from: a\nto: b\n";
    CHECK_INT(ks_extractor_mime.probe((const uint8_t *)http, sizeof http - 1, "x"), 0);
    CHECK_INT(ks_extractor_mime.probe((const uint8_t *)deb, sizeof deb - 1, "x"), 0);
    CHECK(ks_extractor_mime.probe((const uint8_t *)yaml, sizeof yaml - 1, "x") < 85);
    CHECK(ks_extractor_mime.probe((const uint8_t *)eml_qp, sizeof eml_qp - 1, "x") >= 80);
    CHECK_INT(ks_extractor_mbox.probe((const uint8_t *)mbox, sizeof mbox - 1, "x"), 90);
    CHECK_INT(ks_extractor_mbox.probe((const uint8_t *)"From here to there\nand on\n", 26, "x"), 0);
}

TEST(truncated_and_broken)
{
    collect c;
    /* every prefix of the multipart message parses without harm */
    for (size_t n = 0; n < sizeof eml_multi - 1; n += 7) {
        extract_blob("t.eml", eml_multi, n, &c);
        ks__buf_release(&c.out);
    }
    for (size_t n = 0; n < sizeof mbox - 1; n += 5) {
        extract_blob("t.mbox", mbox, n, &c);
        ks__buf_release(&c.out);
    }
    CHECK(1);
}

/* Encrypted bodies (S/MIME enveloped-data, PGP/MIME) cannot be read: each
 * is a warning naming the message part; a signed message is read. */
static void count_warn(void *ud, const ks_diag *d)
{
    if (d->level == KS_DIAG_WARN && strstr(d->msg, "-encrypted message body, not read"))
        ++*(int *)ud;
}

static int warnings_of(const char *msg, collect *c)
{
    int warn = 0;
    ks_engine *e = NULL;
    ks_xctx x;
    ks_engine_new(&e);
    ks_engine_on_diag(e, count_warn, &warn);
    memset(c, 0, sizeof *c);
    ks__xctx_init(&x, e, "enc.eml", on_text, c);
    ks_xnode top = {.name = "enc.eml", .offset = UINT64_MAX};
    ks__extract(&x, &top, (const uint8_t *)msg, strlen(msg));
    ks_engine_free(e);
    return warn;
}

TEST(encrypted_bodies_are_warnings)
{
    static const char smime[] =
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: creds\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggFKMIIBRgIBADAu\r\n";
    static const char pgp[] =
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: creds\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
        "--b1\r\nContent-Type: application/octet-stream; name=encrypted.asc\r\n\r\n"
        "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA5rnvlMK0OxvAQf/VXyQ\r\n-----END PGP MESSAGE-----\r\n--b1--\r\n";
    static const char signed_[] =
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"b2\"\r\n\r\n"
        "--b2\r\nContent-Type: text/plain\r\n\r\nvpn password: Xk29!LmQp7Rt\r\n"
        "--b2\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--b2--\r\n";
    collect c;
    CHECK_INT(warnings_of(smime, &c), 1);
    ks__buf_release(&c.out);
    CHECK_INT(warnings_of(pgp, &c), 1);
    ks__buf_release(&c.out);
    CHECK_INT(warnings_of(signed_, &c), 0);
    CHECK(has(&c, "vpn password: Xk29!LmQp7Rt") != NULL);
    ks__buf_release(&c.out);
}

/* ---- generated mailbox ------------------------------------------------------------ */

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    struct stat st;
    if (!fp)
        return NULL;
    if (fstat(fileno(fp), &st) == 0 && (buf = malloc((size_t)st.st_size + 1)) != NULL) {
        *n = fread(buf, 1, (size_t)st.st_size, fp);
        buf[*n] = 0;
    }
    fclose(fp);
    return buf;
}

TEST(generated_mailbox_truth)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mailgen", ks_test_tmpdir());
    gen_mail_opts o = {.messages = 40, .seed = 7};
    CHECK_INT(gen_mail_write(dir, &o), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/mailbox.mbox", dir);
    size_t n = 0;
    char *p = slurp(path, &n);
    CHECK(p != NULL);
    if (!p)
        return;
    collect c;
    CHECK_INT(extract_blob(path, p, n, &c), KS_OK);
    /* every planted value of the truth list is found, in one piece */
    int found = 0, total = 0;
    for (size_t i = 0; i < gen_mail_ntruth; i++) {
        total++;
        if (has(&c, gen_mail_truth[i].value))
            found++;
        else
            fprintf(stderr, "missing planted %s\n", gen_mail_truth[i].type);
    }
    printf("INFO generated mailbox: %d/%d planted values extracted, %d text units\n", found,
           total, c.units);
    CHECK_INT(found, total);
    CHECK(has(&c, "!message 40|"));
    /* attachments go through the archive and document extractors */
    CHECK(has(&c, "mailbox.mbox!message 6!bundle-6.zip!config/.env|"));
    CHECK(has(&c, "mailbox.mbox!message 10!sow-10.docx!word/document.xml|"));
    CHECK(has(&c, "mailbox.mbox!message 4!forwarded-4.eml|body|inner-000004@mail.corp-example.com|"));
    const char *outl[] = {"outlook/planted-1.msg", "outlook/winmail.dat"};
    for (int k = 0; k < 2; k++) {
        collect oc;
        size_t on = 0;
        snprintf(path, sizeof path, "%s/%s", dir, outl[k]);
        char *op = slurp(path, &on);
        CHECK(op && extract_blob(path, op, on, &oc) == KS_OK);
        CHECK(has(&oc, gen_mail_truth[3].value) && has(&oc, gen_mail_truth[4].value));
        CHECK(k == 1 || has(&oc, gen_mail_truth[5].value));
        ks__buf_release(&oc.out);
        free(op);
    }
    free(p);
    ks__buf_release(&c.out);
}

/* ---- corpora ---------------------------------------------------------------------- */

static int count_files(const char *dir, int (*fn)(const char *path, void *ud), void *ud)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int k = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            k += count_files(path, fn, ud);
        else if (S_ISREG(st.st_mode))
            k += fn(path, ud);
    }
    closedir(d);
    return k;
}

typedef struct sa_stats {
    int files, mail, ok, with_body, with_id;
} sa_stats;

static int sa_one(const char *path, void *ud)
{
    sa_stats *s = ud;
    size_t n = 0;
    char *p = slurp(path, &n);
    const char *base = strrchr(path, '/');
    if (!p || strstr(base, "MANIFEST") || strstr(base, "LICENSE") || strstr(base, ".md") ||
        strstr(base, ".csv")) {
        free(p);
        return 0;
    }
    s->files++;
    const struct ks_extractor *ex = ks__extractor_sniff((const uint8_t *)p, n, base + 1);
    if (ex && (ex == &ks_extractor_mime || ex == &ks_extractor_mbox)) {
        collect c;
        s->mail++;
        if (extract_blob(path, p, n, &c) == KS_OK)
            s->ok++;
        if (has(&c, "|body|") || has(&c, "|text|"))
            s->with_body++;
        if (c.messages_seen)
            s->with_id++;
        ks__buf_release(&c.out);
    } else {
        fprintf(stderr, "not sniffed as mail: %s\n", path);
    }
    free(p);
    return 1;
}

TEST(spamassassin_corpus)
{
    const char *corpus = ks_test_corpus();
    char dir[4096];
    if (!corpus) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    snprintf(dir, sizeof dir, "%s/spamassassin-testmail/t/data", corpus);
    sa_stats s = {0};
    count_files(dir, sa_one, &s);
    printf("INFO spamassassin-testmail: %d files, %d sniffed as mail, %d parsed, %d with body text, %d with metadata\n",
           s.files, s.mail, s.ok, s.with_body, s.with_id);
    /* 136 messages; bsmtp transcripts and a URL feed are not messages. */
    CHECK(s.files >= 130);
    CHECK(s.mail * 100 >= s.files * 95);
    CHECK_INT(s.ok, s.mail);
    CHECK(s.with_body * 100 >= s.mail * 90); /* the rest: headers-only samples, attachment-only bodies */
}

/* ---- Outlook .msg, TNEF, compressed RTF --------------------------------------------- */

static const gen_msg_spec inner_spec = {
    .subject = "inner", .body = "inner body with AKIAQBJB55SOTXQ2FW73", .message_id = "in@x",
    .from_name = "Bob", .from_addr = "bob@x.example", .to_name = "Al",
    .to_addr = "al@x.example", .time = 1704000000};
static const gen_msg_spec outer_spec = {
    .subject = "Grüße", .body = "outer body 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",
    .message_id = "<out@x>", .from_name = "Renée", .from_addr = "renee@x.example",
    .to_name = "ops", .to_addr = "ops@x.example", .time = 1704067200,
    .attach_name = "notes.txt", .attach = "attached 4111 1111 1111 1111\n", .nattach = 29,
    .embedded = &inner_spec};

TEST(msg_generated)
{
    ks_buf b = KS_BUF_INIT;
    collect c;
    gen_msg_build(&outer_spec, &b);
    CHECK(ks_extractor_msg.probe((const uint8_t *)b.p, KS_MIN(b.n, 4096), "x") >= 90);
    CHECK_INT(extract_blob("a.msg", b.p, b.n, &c), KS_OK);
    CHECK(has(&c, "a.msg|headers|out@x|Grüße|-|From: Renée <renee@x.example>\nTo: ops <ops@x.example>"));
    CHECK(has(&c, "a.msg|body|out@x|Grüße|-|outer body 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"));
    CHECK(has(&c, "a.msg!notes.txt|text|out@x|Grüße|-|attached 4111 1111 1111 1111"));
    CHECK(has(&c, "a.msg!forwarded.msg|body|in@x|inner|-|inner body with AKIAQBJB55SOTXQ2FW73"));
    CHECK(has(&c, "Date: 2024-01-01T00:00:00Z"));
    ks__buf_release(&c.out); /* extract_blob starts a new one */
    /* cut anywhere, or with bytes flipped: read what can be read, no crash */
    for (size_t n = 0; n < b.n; n += 509) {
        extract_blob("t.msg", b.p, n, &c);
        ks__buf_release(&c.out);
    }
    gen_rng r = {99};
    for (int k = 0; k < 200; k++) {
        char *m = malloc(b.n);
        memcpy(m, b.p, b.n);
        for (int j = 0; j < 8; j++)
            m[gen_below(&r, b.n)] = (char)gen_next(&r);
        extract_blob("f.msg", m, b.n, &c);
        ks__buf_release(&c.out);
        free(m);
    }
    ks__buf_release(&b);
}

TEST(tnef_generated)
{
    ks_buf b = KS_BUF_INIT;
    collect c;
    gen_tnef_build(&outer_spec, &b);
    CHECK_INT(ks_extractor_tnef.probe((const uint8_t *)b.p, b.n, "winmail.dat"), 95);
    CHECK_INT(extract_blob("winmail.dat", b.p, b.n, &c), KS_OK);
    CHECK(has(&c, "winmail.dat|body|out@x|Grüße|-|outer body 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"));
    CHECK(has(&c, "winmail.dat!notes.txt|text|out@x|Grüße|-|attached 4111 1111 1111 1111"));
    ks__buf_release(&c.out); /* extract_blob starts a new one */
    for (size_t n = 0; n < b.n; n += 3) {
        extract_blob("t.dat", b.p, n, &c);
        ks__buf_release(&c.out);
    }
    ks__buf_release(&b);
}

/* [MS-OXRTFCP] 3.1.1.2: the compressed form of a short RTF document. */
TEST(lzfu_spec_example)
{
    static const uint8_t in[] = {0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75,
                                 0xf1, 0xc5, 0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67,
                                 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09,
                                 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
                                 0xa0};
    ks_buf b = KS_BUF_INIT;
    CHECK_INT(ks__mail_lzfu(in, sizeof in, &b), KS_OK);
    CHECK_STR(b.p, "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
    ks__buf_release(&b);
    CHECK_INT(ks__mail_lzfu(in, 10, &b), KS_EFORMAT);
    ks__buf_release(&b);
}

typedef struct msg_stats {
    int files, ok, with_subject;
} msg_stats;

static int msg_one(const char *path, void *ud)
{
    msg_stats *s = ud;
    size_t n = 0;
    if (!strstr(path, ".msg"))
        return 0;
    char *p = slurp(path, &n);
    collect c;
    s->files++;
    if (p && extract_blob(path, p, n, &c) == KS_OK && c.units > 0)
        s->ok++;
    if (p && has(&c, "|headers|") && strstr(c.out.p, "Subject: "))
        s->with_subject++;
    ks__buf_release(&c.out);
    free(p);
    return 1;
}

TEST(outlook_msg_corpus)
{
    const char *corpus = ks_test_corpus();
    char dir[4096];
    if (!corpus) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    snprintf(dir, sizeof dir, "%s/outlook-msg", corpus);
    msg_stats s = {0};
    count_files(dir, msg_one, &s);
    printf("INFO outlook-msg: %d files, %d read, %d with a subject\n", s.files, s.ok, s.with_subject);
    CHECK_INT(s.files, 8);
    CHECK_INT(s.ok, s.files);
    CHECK_INT(s.with_subject, s.files);
    /* known content: the Unicode contact's mobile number, a note's body */
    char path[4200];
    size_t n = 0;
    collect c;
    snprintf(path, sizeof path, "%s/contact-unicode.msg", dir);
    char *p = slurp(path, &n);
    if (p && extract_blob("contact-unicode.msg", p, n, &c) == KS_OK) {
        CHECK(has(&c, "mobile_phone: (mobile) 0404 123 456"));
        CHECK(has(&c, "Subject: (full name) A completely bogus contact"));
    }
    ks__buf_release(&c.out);
    free(p);
}

/* No PST is generated here (nothing in Debian writes one): a damaged
 * store is a diagnostic, never a crash; KENSA_PST_SAMPLE names a real one
 * to read when a developer has one. */
TEST(pst_damaged_and_sample)
{
    uint8_t junk[4096];
    collect c;
    memset(junk, 0x41, sizeof junk);
    memcpy(junk, "!BDN\0\0\0\0SM\x17\0", 12);
    CHECK_INT(ks_extractor_pst.probe(junk, sizeof junk, "x.pst"), 95);
    CHECK(extract_blob("junk.pst", junk, sizeof junk, &c) < 0);
    CHECK_INT(c.units, 0);
    ks__buf_release(&c.out);
    const char *sample = getenv("KENSA_PST_SAMPLE");
    if (!sample) {
        ks_test_skip("optional", "pst sample: KENSA_PST_SAMPLE not set");
        return;
    }
    size_t n = 0;
    char *p = slurp(sample, &n);
    CHECK(p != NULL);
    if (p && extract_blob(sample, p, n, &c) == KS_OK)
        printf("INFO pst sample: %d text units, %d with message metadata\n", c.units, c.messages_seen);
    CHECK(c.messages_seen > 0);
    ks__buf_release(&c.out);
    free(p);
}

/* Apple Mail's .emlx: the length line, the message (read as MIME: the
 * quoted-printable body decoded, its Message-ID known), Mail's property
 * list after it left out. A text that only opens with a number and a
 * "Key: value" line is all read. */
TEST(emlx_apple_mail)
{
    static const char plist[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">"
                                "<dict><key>flags</key><integer>8590195713</integer></dict></plist>\n";
    char buf[4096];
    int k = snprintf(buf, sizeof buf, "%zu        \n%s%s", sizeof eml_qp - 1, eml_qp, plist);
    collect c;
    CHECK_INT(extract_blob("4711.emlx", buf, (size_t)k, &c), KS_OK);
    CHECK(has(&c, "ghp_1234567890abcdefghijklmnopqrstuvwxyz12 "));
    CHECK(has(&c, "4711.emlx!message|body|qp-1@mail.example.com|"));
    CHECK(!has(&c, "8590195713"));
    ks__buf_release(&c.out);
    static const char note[] = "12\nNote: the meeting moved\nand the room is 4.12, second floor\n";
    CHECK_INT(extract_blob("note.txt", note, sizeof note - 1, &c), KS_OK);
    CHECK(has(&c, "second floor"));
    ks__buf_release(&c.out);
}
