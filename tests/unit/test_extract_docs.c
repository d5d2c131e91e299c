/* SPDX-License-Identifier: Apache-2.0
 * Documents and archives through the extractors, on data built by the
 * generators (src/gen/gen_docs.c): OOXML (runs joined, shared strings,
 * slides), ODF, PDF (plain and Flate), RTF, HTML, XML in UTF-16; zip, tar
 * with every compressor, 7z, nesting with the provenance chain; bombs,
 * deep nesting and truncation as diagnostics. */
#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include "harness.h"
#include "gen_docs.h"
#include "extract/extract.h"

typedef struct collect {
    ks_buf all;      /* "chain|format|part|offset|text" lines */
    ks_buf text;
    int units;
} collect;

static int on_text(void *ud, const ks_xtext *t)
{
    collect *c = ud;
    ks__xnode_path(t->node, &c->all);
    ks__buf_printf(&c->all, "|%s|%s|%llu|", t->node->format ? t->node->format : "-", t->part,
                   (unsigned long long)t->offset);
    ks__buf_add(&c->all, t->p, t->n);
    ks__buf_addc(&c->all, '\n');
    ks__buf_add(&c->text, t->p, t->n);
    ks__buf_addc(&c->text, '\n');
    c->units++;
    return 0;
}

typedef struct diags {
    int warn, info;
    ks_buf msgs;
} diags;

static void on_diag(void *ud, const ks_diag *d)
{
    diags *g = ud;
    if (d->level == KS_DIAG_WARN)
        g->warn++;
    else if (d->level == KS_DIAG_INFO)
        g->info++;
    ks__buf_printf(&g->msgs, "%s\n", d->msg);
}

/* Extracts p with an engine (for diagnostics) and the given options. */
static void run(collect *c, diags *g, const char *name, const uint8_t *p, size_t n, const char *const *opts)
{
    ks_engine *e = NULL;
    ks_engine_new(&e);
    ks_engine_on_diag(e, on_diag, g);
    for (size_t i = 0; opts && opts[i]; i += 2)
        ks_engine_set(e, opts[i], opts[i + 1]);
    ks_xctx x;
    ks__xctx_init(&x, e, name, on_text, c);
    ks_xnode top = {.name = name, .offset = UINT64_MAX};
    ks__extract(&x, &top, p, n);
    ks_engine_free(e);
}

static void release(collect *c, diags *g)
{
    ks__buf_release(&c->all);
    ks__buf_release(&c->text);
    ks__buf_release(&g->msgs);
}

#define HAS(buf, s) ((buf).p && strstr((buf).p, (s)) != NULL)

TEST(docx_runs_joined_and_named_bin)
{
    collect c = {0};
    diags g = {0};
    uint8_t *p;
    size_t n;
    CHECK_INT(gen_docx("first line\npassword = Tr0ub4dor&3x\nlast", 3, &p, &n), 0);
    /* Named .bin: sniffed by content. */
    run(&c, &g, "upload.bin", p, n, NULL);
    CHECK(HAS(c.text, "password = Tr0ub4dor&3x\n"));
    CHECK(HAS(c.all, "upload.bin!word/document.xml|xml|text|"));
    CHECK(HAS(c.text, "kensa-gen")); /* docProps/core.xml: the author */
    CHECK(HAS(c.all, "upload.bin|ooxml") == 0); /* the top node's format is the caller's */
    CHECK_INT(g.warn, 0);
    free(p);
    release(&c, &g);
}

TEST(xlsx_shared_strings_and_pptx_slides)
{
    collect c = {0};
    diags g = {0};
    uint8_t *p;
    size_t n;
    const char *cells[] = {"alice@example.com", "card 4111 1111 1111 1111", "x<y&z"};
    CHECK_INT(gen_xlsx(cells, 3, &p, &n), 0);
    run(&c, &g, "book.xlsx", p, n, NULL);
    /* the sheet as a table, shared strings in their cells; all are used */
    CHECK(HAS(c.all, "book.xlsx!xl/worksheets/sheet1.xml|xlsx|sheet1|0|alice@example.com\t1000\n"
                     "card 4111 1111 1111 1111\t1001\nx<y&z\t1002\n"));
    CHECK(!HAS(c.all, "book.xlsx!xl/sharedStrings.xml"));
    CHECK(HAS(c.text, "worksheets/sheet1.xml")); /* the Target of a relationship */
    free(p);
    const char *slides[] = {"slide one", "token abc123"};
    CHECK_INT(gen_pptx(slides, 2, &p, &n), 0);
    run(&c, &g, "deck.pptx", p, n, NULL);
    CHECK(HAS(c.all, "deck.pptx!ppt/slides/slide2.xml|xml|text|0|token abc123"));
    CHECK_INT(g.warn, 0);
    free(p);
    release(&c, &g);
}

/* Tables keep their columns: an xlsx sheet's cells where their references
 * put them (Excel omits empty cells), inline strings, unused shared
 * strings still read; HTML, Word and ODF table cells tab-separated, empty
 * ones kept, paragraphs of a cell joined, ODF's repeated cells counted and
 * a row's trailing empty cells dropped. */
TEST(tables_keep_their_columns)
{
    collect c = {0};
    diags g = {0};
    const char *sheet = "<?xml version=\"1.0\"?><worksheet><sheetData>"
                        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"C1\" t=\"s\"><v>1</v></c>"
                        "<c r=\"D1\" t=\"inlineStr\"><is><t>No&amp;te</t></is></c></row>"
                        "<row r=\"3\"><c r=\"B3\" s=\"1\"/><c r=\"C3\" t=\"s\"><v>2</v></c><c r=\"D3\"><v>42</v></c></row>"
                        "</sheetData></worksheet>";
    const char *sst = "<?xml version=\"1.0\"?><sst><si><t>Dienst</t></si><si><r><t>Pass</t></r><r><t>wort</t></r></si>"
                      "<si><t>Xq7!vRq2#Lm9</t></si><si><t>deleted row</t></si></sst>";
    gen_member m[] = {{"[Content_Types].xml", "<Types/>", 8},
                      {"xl/worksheets/sheet1.xml", sheet, strlen(sheet)},
                      {"xl/sharedStrings.xml", sst, strlen(sst)}};
    uint8_t *p;
    size_t n;
    CHECK_INT(gen_archive("zip", NULL, m, 3, &p, &n), 0);
    run(&c, &g, "b.xlsx", p, n, NULL);
    CHECK(HAS(c.all, "b.xlsx!xl/worksheets/sheet1.xml|xlsx|sheet1|0|Dienst\t\tPasswort\tNo&te\n\t\tXq7!vRq2#Lm9\t42\n"));
    CHECK(HAS(c.all, "b.xlsx!xl/sharedStrings.xml|xlsx|text|0|deleted row\n"));
    free(p);
    const char *html = "<html><body><p>Hi</p><table><tr><th>System</th><th>User</th><th>Password</th><th>Note</th></tr>"
                       "<tr><td><p>a</p><p>b</p></td><td></td><td>pw1</td><td></td></tr></table><p>Bye</p></body></html>";
    run(&c, &g, "t.html", (const uint8_t *)html, strlen(html), NULL);
    CHECK(HAS(c.text, "Hi\nSystem\tUser\tPassword\tNote\na b\t\tpw1\nBye"));
    const char *ods = "<?xml version=\"1.0\"?><office:document-content><table:table>"
                      "<table:table-row><table:table-cell table:number-columns-repeated=\"2\"/>"
                      "<table:table-cell><text:p>x</text:p></table:table-cell>"
                      "<table:table-cell table:number-columns-repeated=\"1020\"/></table:table-row>"
                      "<table:table-row><table:table-cell><text:p>y</text:p></table:table-cell></table:table-row>"
                      "</table:table></office:document-content>";
    run(&c, &g, "content.xml", (const uint8_t *)ods, strlen(ods), NULL);
    CHECK(HAS(c.text, "\t\tx\ny\n"));
    CHECK_INT(g.warn, 0);
    release(&c, &g);
}

/* An invitation's DESCRIPTION is one long line folded every 75 octets,
 * inside a word too: given unfolded, its escapes decoded; a vCard the
 * same. */
TEST(ical_and_vcard_unfolded)
{
    collect c = {0};
    diags g = {0};
    const char *ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n"
                      "DESCRIPTION:Join the bridge.\\n\\nHost password: Xq7!vRq2#L\r\n m9\\, do not forw\r\n\tard\r\n"
                      "END:VEVENT\r\nEND:VCALENDAR\r\n";
    run(&c, &g, "invite.bin", (const uint8_t *)ics, strlen(ics), NULL);
    CHECK(HAS(c.all, "invite.bin|-|text|0|BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\n"
                     "DESCRIPTION:Join the bridge.\n\nHost password: Xq7!vRq2#Lm9, do not forward\nEND:VEVENT"));
    const char *vcf = "\xEF\xBB\xBF" "BEGIN:VCARD\nVERSION:3.0\nFN:Anouk de Vries\nNOTE:Klantnummer 77\\;\n  88\nEND:VCARD\n";
    run(&c, &g, "c.vcf", (const uint8_t *)vcf, strlen(vcf), NULL);
    CHECK(HAS(c.text, "FN:Anouk de Vries\nNOTE:Klantnummer 77; 88\nEND:VCARD"));
    CHECK_INT(g.warn, 0);
    release(&c, &g);
}

TEST(odt_and_rtf)
{
    collect c = {0};
    diags g = {0};
    uint8_t *p;
    size_t n;
    CHECK_INT(gen_odt("odf body\nsecret: s3cr3t-odf", &p, &n), 0);
    run(&c, &g, "n.odt", p, n, NULL);
    CHECK(HAS(c.all, "n.odt!content.xml|xml|text|0|odf body\nsecret: s3cr3t-odf"));
    free(p);
    CHECK_INT(gen_rtf("rtf line {braced}\nkey=AbC\\d", &p, &n), 0);
    run(&c, &g, "n.rtf", p, n, NULL);
    CHECK(HAS(c.all, "n.rtf|-|text|0|kensa-gen\ncaf\xc3\xa9\nrtf line {braced}\nkey=AbC\\d"));
    CHECK(!HAS(c.text, "Helvetica")); /* font table skipped */
    CHECK(!HAS(c.text, "kensa-gen;")); /* \* generator skipped */
    CHECK(HAS(c.text, "kensa-gen")); /* \info author kept */
    free(p);
    /* \u with its fallback, \ansicpg1251, \bin skipped, unbalanced groups. */
    const char *r = "{\\rtf1\\ansi\\ansicpg1251 \\u1055?\\'cf x\\bin3 {}}y}}}{{{";
    run(&c, &g, "u.rtf", (const uint8_t *)r, strlen(r), NULL);
    CHECK(HAS(c.all, "u.rtf|-|text|0|\xd0\x9f\xd0\x9f xy"));
    /* a hyperlink's target lives in the field instruction, its text in
     * the result: both read (other \* destinations still skipped) */
    const char *f = "{\\rtf1\\ansi Backups: {\\field{\\*\\fldinst{HYPERLINK \"ftp://backup:Ft7vO0WL!@ftp.example/\"}}"
                    "{\\fldrslt{\\ul backup server}}}\\par{\\*\\bkmkstart x}done}";
    run(&c, &g, "f.rtf", (const uint8_t *)f, strlen(f), NULL);
    CHECK(HAS(c.text, "HYPERLINK \"ftp://backup:Ft7vO0WL!@ftp.example/\"\n"));
    CHECK(HAS(c.text, "backup server"));
    CHECK(!HAS(c.text, "bkmkstart") && !HAS(c.text, "x}"));
    CHECK_INT(g.warn, 0);
    release(&c, &g);
}

TEST(pdf_pages_plain_and_flate)
{
    collect c = {0};
    diags g = {0};
    uint8_t *p;
    size_t n;
    const char *pages[] = {"Statement of work (draft)", "aws_secret = wJalrXUtnFEMI\nsecond line"};
    for (int flate = 0; flate <= 1; flate++) {
        CHECK_INT(gen_pdf(pages, 2, flate, &p, &n), 0);
        run(&c, &g, "sow.pdf", p, n, NULL);
        CHECK(HAS(c.all, "sow.pdf|-|page 1|0|Statement of work (draft)"));
        CHECK(HAS(c.all, "sow.pdf|-|page 2|0|aws_secret = wJalrXUtnFEMI\nsecond line"));
        free(p);
    }
    CHECK_INT(g.warn, 0);
    /* A link's target and a filled form field are read beside the text
     * (part "page 1 annotations"); objects written with their offsets. */
    static const char *const objs[] = {
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] >> >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R /Annots [7 0 R 6 0 R] >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Length 44 >>\nstream\nBT /F1 11 Tf 50 780 Td (click here) Tj ET\nendstream",
        "<< /Type /Annot /Subtype /Widget /FT /Tx /T (SSN) /V (536-22-8726) /Rect [50 700 250 720] /P 3 0 R >>",
        "<< /Type /Annot /Subtype /Link /Rect [50 770 400 790] /A << /S /URI "
        "/URI (https://acct.blob.core.windows.net/hr?sv=2022-11-02&sig=abc) >> >>"};
    ks_buf pdf = KS_BUF_INIT;
    size_t offs[KS_ARRAY_LEN(objs)];
    char line[96];
    ks__buf_adds(&pdf, "%PDF-1.6\n");
    for (size_t i = 0; i < KS_ARRAY_LEN(objs); i++) {
        offs[i] = pdf.n;
        snprintf(line, sizeof line, "%zu 0 obj\n", i + 1);
        ks__buf_adds(&pdf, line);
        ks__buf_adds(&pdf, objs[i]);
        ks__buf_adds(&pdf, "\nendobj\n");
    }
    size_t xref = pdf.n;
    snprintf(line, sizeof line, "xref\n0 %zu\n0000000000 65535 f \n", KS_ARRAY_LEN(objs) + 1);
    ks__buf_adds(&pdf, line);
    for (size_t i = 0; i < KS_ARRAY_LEN(objs); i++) {
        snprintf(line, sizeof line, "%010zu 00000 n \n", offs[i]);
        ks__buf_adds(&pdf, line);
    }
    snprintf(line, sizeof line, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
             KS_ARRAY_LEN(objs) + 1, xref);
    ks__buf_adds(&pdf, line);
    run(&c, &g, "form.pdf", (const uint8_t *)pdf.p, pdf.n, NULL);
    CHECK(HAS(c.all, "form.pdf|-|page 1 annotations|0|https://acct.blob.core.windows.net/hr?sv=2022-11-02&sig=abc\n"
                     "SSN: 536-22-8726\n"));
    ks__buf_release(&pdf);
    CHECK_INT(g.warn, 0);
    /* Truncated: a diagnostic, no crash. */
    CHECK_INT(gen_pdf(pages, 2, 1, &p, &n), 0);
    g.warn = 0;
    run(&c, &g, "cut.pdf", p, n / 2, NULL);
    CHECK(g.warn + g.info <= 2);
    free(p);
    release(&c, &g);
}

TEST(html_and_utf16_xml)
{
    collect c = {0};
    diags g = {0};
    /* Configuration in attributes (web.config, Spring, appSettings): a
     * credential attribute keeps its name, a settings pair keeps its key, a
     * commented-out element is read as written, an HTML data- attribute is
     * kept; layout attributes are not. */
    const char *x = "<?xml version=\"1.0\"?><configuration><connectionStrings>"
                    "<add name=\"Orders\" connectionString=\"Server=sql01;User ID=app;Password=Wq8!rT3z;\" />"
                    "<!-- <add name=\"Old\" connectionString=\"Server=old;Password=OldPa55!x;\" /> -->"
                    "</connectionStrings><appSettings><add key=\"DbPassword\" value=\"Kq7-vL2x!\" />"
                    "<add key=\"Theme\" value=\"dark\" /></appSettings>"
                    "<smtp><network host=\"smtp.example\" userName=\"ops@corp.example\" password=\"Mx7#pQ2v\" "
                    "rsid=\"00A1B2C3\"/></smtp></configuration>";
    run(&c, &g, "web.config", (const uint8_t *)x, strlen(x), NULL);
    CHECK(HAS(c.text, "connectionString: Server=sql01;User ID=app;Password=Wq8!rT3z;\n"));
    CHECK(HAS(c.text, "Password=OldPa55!x;"));
    CHECK(HAS(c.text, "DbPassword=Kq7-vL2x!\n"));
    CHECK(HAS(c.text, "dark\n") && !HAS(c.text, "Theme=dark"));
    CHECK(HAS(c.text, "userName: ops@corp.example\n"));
    CHECK(HAS(c.text, "password: Mx7#pQ2v\n"));
    CHECK(!HAS(c.text, "00A1B2C3"));
    release(&c, &g);
    const char *d = "<html><body><div id=\"map\" class=\"wide\" data-maps-key=\"AIzaSyA-example-value\"></div></body></html>";
    run(&c, &g, "a.html", (const uint8_t *)d, strlen(d), NULL);
    CHECK(HAS(c.text, "AIzaSyA-example-value\n"));
    CHECK(!HAS(c.text, "wide"));
    release(&c, &g);
    const char *h = "<!DOCTYPE html><html><head><style>p{x:1}</style><title>T</title></head><body>"
                    "<p>Hello&nbsp;&amp;&#x41;&#66;</p><a href=\"https://u:pw@h/x?a=1&amp;b=2\">link</a>"
                    "<script>var key = \"sk_live_abc\";</script><input type=password value='hunter2'>"
                    "<!-- comment --> tail < 3 and &unknown;";
    run(&c, &g, "p.html", (const uint8_t *)h, strlen(h), NULL);
    CHECK(HAS(c.text, "Hello &AB"));
    CHECK(HAS(c.text, "https://u:pw@h/x?a=1&b=2\n"));
    CHECK(HAS(c.text, "var key = \"sk_live_abc\";"));
    CHECK(HAS(c.text, "hunter2"));
    CHECK(HAS(c.text, "tail < 3 and &unknown;"));
    CHECK(!HAS(c.text, "x:1"));
    CHECK(HAS(c.text, " comment ")); /* what is commented out is still written down */
    /* UTF-16LE XML with BOM, and an unterminated tag at the end. */
    const char *xml = "<?xml version=\"1.0\"?><r><v>p\xc3\xa9 secret</v></r><unterminated";
    ks_buf w = KS_BUF_INIT;
    ks__buf_add(&w, "\xFF\xFE", 2);
    /* UTF-8 -> UTF-16LE by hand (ASCII + é). */
    for (size_t i = 0; xml[i]; i++) {
        if ((uint8_t)xml[i] == 0xc3) {
            ks__buf_add(&w, "\xe9\0", 2);
            i++;
        } else {
            ks__buf_addc(&w, xml[i]);
            ks__buf_addc(&w, 0);
        }
    }
    ks__buf_reset(&c.text);
    run(&c, &g, "u.xml", (const uint8_t *)w.p, w.n, NULL);
    CHECK(HAS(c.text, "p\xc3\xa9 secret"));
    CHECK(HAS(c.text, "<unterminated"));
    ks__buf_release(&w);
    /* No declaration: an element first and an XML file name. */
    ks__buf_reset(&c.all);
    const char *nodecl = "<configuration><add key=\"pw\" value=\"S3cret!\"/></configuration>";
    run(&c, &g, "web.config", (const uint8_t *)nodecl, strlen(nodecl), NULL);
    CHECK(HAS(c.all, "web.config|-|text|0|S3cret!"));
    CHECK_INT(g.warn, 0);
    release(&c, &g);
}

TEST(archives_every_format_and_compressor)
{
    static const char *const fmts[][2] = {{"zip", NULL},      {"7zip", NULL},   {"ustar", NULL},  {"ustar", "gzip"},
                                          {"ustar", "bzip2"}, {"ustar", "xz"},  {"ustar", "zstd"}, {"raw", "gzip"},
                                          {"raw", "bzip2"},   {"raw", "xz"},    {"raw", "zstd"}};
    const char *body = "db_password=Hunter2Hunter2\n";
    gen_member m[] = {{"conf/app.ini", body, strlen(body)}, {"empty.txt", "", 0}};
    for (size_t i = 0; i < KS_ARRAY_LEN(fmts); i++) {
        collect c = {0};
        diags g = {0};
        uint8_t *p = NULL;
        size_t n = 0;
        bool raw = !strcmp(fmts[i][0], "raw");
        CHECK_INT(gen_archive(fmts[i][0], fmts[i][1], m, raw ? 1 : 2, &p, &n), 0);
        run(&c, &g, raw ? "logs/app.ini.gz" : "ev.arc", p, n, NULL);
        const char *want = raw ? "logs/app.ini.gz!app.ini|text|text|0|db_password=Hunter2Hunter2"
                               : "ev.arc!conf/app.ini|text|text|0|db_password=Hunter2Hunter2";
        if (!HAS(c.all, want))
            fprintf(stderr, "%s+%s: got\n%s\n", fmts[i][0], fmts[i][1] ? fmts[i][1] : "-", c.all.p ? c.all.p : "");
        CHECK(HAS(c.all, want));
        CHECK_INT(g.warn, 0);
        free(p);
        release(&c, &g);
    }
}

/* A password-protected zip is evidence left unread: a warning at its first
 * encrypted member and one with the count, never silence. */
TEST(encrypted_members_are_warnings)
{
    static uint8_t zip[8192];
    size_t used = 0;
    struct archive *a = archive_write_new();
    CHECK(a != NULL);
    if (!a)
        return;
    archive_write_set_format_zip(a);
    if (archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
        archive_write_set_passphrase(a, "hunter2") != ARCHIVE_OK) {
        ks_test_skip("tool", "libarchive cannot write encrypted zip here: %s", archive_error_string(a));
        archive_write_free(a);
        return;
    }
    CHECK_INT(archive_write_open_memory(a, zip, sizeof zip, &used), ARCHIVE_OK);
    const char *names[] = {"secrets/.env", "secrets/id_rsa", "notes.txt"};
    const char *body = "DB_PASSWORD=Xk29!LmQp7Rt\n";
    for (size_t i = 0; i < KS_ARRAY_LEN(names); i++) {
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, names[i]);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_size(en, (la_int64_t)strlen(body));
        archive_write_header(a, en);
        archive_write_data(a, body, strlen(body));
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    collect c = {0};
    diags g = {0};
    run(&c, &g, "loot.zip", zip, used, NULL);
    CHECK_INT(g.warn, 2);
    CHECK(HAS(g.msgs, "encrypted member, not read"));
    CHECK(HAS(g.msgs, "3 of 3 members encrypted, not read"));
    CHECK(!HAS(c.text, "Xk29")); /* nothing made up from ciphertext */
    release(&c, &g);
}

/* Member nodes carry where their data starts in the container. */
static int on_text_offsets(void *ud, const ks_xtext *t)
{
    ks_buf *b = ud;
    ks__buf_printf(b, "%s@%llu\n", t->node->name, (unsigned long long)t->node->offset);
    return 0;
}

TEST(member_offsets_in_container)
{
    const char *a = "first member body", *b = "second: the token is here";
    gen_member m[] = {{"a.txt", a, strlen(a)}, {"dir/b.txt", b, strlen(b)}};
    uint8_t *p;
    size_t n;
    CHECK_INT(gen_archive("zipstore", NULL, m, 2, &p, &n), 0);
    const uint8_t *pb = memmem(p, n, b, strlen(b));
    CHECK(pb != NULL);
    ks_buf got = KS_BUF_INIT;
    ks_xctx x;
    ks__xctx_init(&x, NULL, "s.zip", on_text_offsets, &got);
    ks_xnode top = {.name = "s.zip", .offset = UINT64_MAX};
    ks__extract(&x, &top, p, n);
    char want[64];
    snprintf(want, sizeof want, "dir/b.txt@%zu\n", (size_t)(pb - p));
    CHECK(got.p && strstr(got.p, want));
    ks__buf_release(&got);
    free(p);
}

TEST(nested_documents_keep_the_chain)
{
    collect c = {0};
    diags g = {0};
    uint8_t *docx, *inner, *outer;
    size_t dn, in, on;
    CHECK_INT(gen_docx("nested secret ZXCV-1234", 0, &docx, &dn), 0);
    gen_member m1[] = {{"docs/q3/report.docx", docx, dn}};
    CHECK_INT(gen_archive("ustar", "xz", m1, 1, &inner, &in), 0);
    gen_member m2[] = {{"readme.txt", "hi", 2}, {"backup/docs.tar.xz", inner, in}};
    CHECK_INT(gen_archive("zip", NULL, m2, 2, &outer, &on), 0);
    run(&c, &g, "/evidence/share.zip", outer, on, NULL);
    CHECK(HAS(c.all, "/evidence/share.zip!backup/docs.tar.xz!docs/q3/report.docx!word/document.xml|xml|text|0|"
                     "nested secret ZXCV-1234"));
    CHECK(HAS(c.all, "/evidence/share.zip!readme.txt|text|text|0|hi"));
    CHECK_INT(g.warn, 0);
    free(docx);
    free(inner);
    free(outer);
    release(&c, &g);
}

TEST(bombs_depth_truncation_are_diagnostics)
{
    collect c = {0};
    diags g = {0};
    uint8_t *p;
    size_t n;
    /* A 48 MiB member of zeros (deflate ~1000:1): cut by the ratio budget. */
    size_t zn = (size_t)48 << 20;
    uint8_t *zeros = calloc(1, zn);
    gen_member zm[] = {{"zeros.bin", zeros, zn}, {"after.txt", "after the bomb", 14}};
    CHECK_INT(gen_archive("zip", NULL, zm, 2, &p, &n), 0);
    run(&c, &g, "bomb.zip", p, n, NULL);
    CHECK(g.warn >= 1);
    CHECK(HAS(g.msgs, "bomb.zip!zeros.bin: decompresses past the budget"));
    CHECK(HAS(c.text, "after the bomb")); /* zip: the next member is still read */
    free(p);
    /* The same as tar.gz: the rest is not inflated. */
    ks__buf_reset(&g.msgs);
    g.warn = 0;
    CHECK_INT(gen_archive("ustar", "gzip", zm, 2, &p, &n), 0);
    run(&c, &g, "bomb.tgz", p, n, NULL);
    CHECK(HAS(g.msgs, "bomb.tgz!zeros.bin: decompresses past the budget"));
    CHECK(HAS(g.msgs, "members after zeros.bin not read"));
    free(p);
    free(zeros);
    /* Nested 20 deep: stopped at max_depth (8), one warning naming the chain. */
    ks__buf_reset(&g.msgs);
    ks__buf_reset(&c.text);
    g.warn = 0;
    CHECK_INT(gen_nested_zip(20, "deep secret", &p, &n), 0);
    run(&c, &g, "nested.zip", p, n, NULL);
    CHECK_INT(g.warn, 1);
    CHECK(HAS(g.msgs, "nested.zip!level1.zip!level2.zip!level3.zip!level4.zip!level5.zip!level6.zip!level7.zip!"
                      "level8.zip!level9.zip: nested deeper than extract.max_depth (8 levels)"));
    CHECK(!HAS(c.text, "deep secret"));
    /* With a deeper budget the secret is found. */
    const char *deep[] = {"extract.max_depth", "24", NULL};
    g.warn = 0;
    run(&c, &g, "nested.zip", p, n, deep);
    CHECK(HAS(c.text, "deep secret"));
    CHECK_INT(g.warn, 0);
    free(p);
    /* Truncated zip: members before the cut are read, one warning. */
    const char *body = "first member text\n";
    char big[20000];
    uint32_t lcg = 12345;
    for (size_t i = 0; i < sizeof big; i++) {
        lcg = lcg * 1103515245u + 12345u;
        big[i] = (char)('a' + (lcg >> 16) % 26);
    }
    gen_member tm[] = {{"first.txt", body, strlen(body)}, {"second.txt", big, sizeof big}};
    CHECK_INT(gen_archive("zip", NULL, tm, 2, &p, &n), 0);
    ks__buf_reset(&g.msgs);
    ks__buf_reset(&c.text);
    g.warn = 0;
    run(&c, &g, "cut.zip", p, n - 8000, NULL);
    CHECK(HAS(c.text, "first member text"));
    CHECK(g.warn >= 1);
    CHECK(HAS(g.msgs, "cut.zip"));
    free(p);
    release(&c, &g);
}
