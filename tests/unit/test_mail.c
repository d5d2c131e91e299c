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
        printf("SKIP spamassassin-testmail: no ../shared/corpus\n");
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
