/* SPDX-License-Identifier: Apache-2.0
 *
 * Documents, archives and a git repository with known content (gen_docs.h):
 * the test data of the content extractors, built by code so nothing binary
 * needs to be committed. `kensa-gen docs --out DIR` writes one of each
 * with planted example secrets (a demo for the secrets detector);
 * `kensa-gen docs --bomb --out DIR` adds a zip bomb and a deeply nested zip.
 */
#include <archive.h>
#include <archive_entry.h>
#include <git2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "gen.h"
#include "gen_docs.h"

/* ---- a growable output buffer --------------------------------------------- */

typedef struct obuf {
    uint8_t *p;
    size_t n, cap;
    int err;
} obuf;

static void ob_add(obuf *b, const void *p, size_t n)
{
    if (b->err || !n)
        return;
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void ob_adds(obuf *b, const char *s)
{
    ob_add(b, s, strlen(s));
}

static void ob_printf(obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ob_printf(obuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        ob_add(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* XML text with the five predefined entities. */
static void ob_xml(obuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': ob_adds(b, "&lt;"); break;
        case '>': ob_adds(b, "&gt;"); break;
        case '&': ob_adds(b, "&amp;"); break;
        case '"': ob_adds(b, "&quot;"); break;
        default: ob_add(b, s + i, 1);
        }
    }
}

static int ob_done(obuf *b, uint8_t **out, size_t *n)
{
    if (b->err) {
        free(b->p);
        return -1;
    }
    *out = b->p;
    *n = b->n;
    return 0;
}

/* ---- archives ------------------------------------------------------------------ */

static la_ssize_t ar_write(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    obuf *b = ud;
    ob_add(b, p, n);
    return b->err ? -1 : (la_ssize_t)n;
}

int gen_archive(const char *format, const char *filter, const gen_member *m, size_t nm, uint8_t **out,
                size_t *n)
{
    obuf b = {0};
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int rc = -1;
    if (!a || !e)
        goto out;
    bool store = !strcmp(format, "zipstore");
    if (!strcmp(format, "raw")     ? archive_write_set_format_raw(a)
        : store                    ? archive_write_set_format_zip(a)
                                   : archive_write_set_format_by_name(a, format))
        goto out;
    if (store && archive_write_set_format_option(a, "zip", "compression", "store") != ARCHIVE_OK)
        goto out;
    if (filter && archive_write_add_filter_by_name(a, filter) != ARCHIVE_OK)
        goto out;
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, &b, NULL, ar_write, NULL) != ARCHIVE_OK)
        goto out;
    for (size_t i = 0; i < nm; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].n);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            goto out;
        if (m[i].n && archive_write_data(a, m[i].p, m[i].n) != (la_ssize_t)m[i].n)
            goto out;
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        goto out;
    rc = 0;
out:
    archive_entry_free(e);
    if (a)
        archive_write_free(a);
    if (rc == 0)
        return ob_done(&b, out, n);
    free(b.p);
    return -1;
}

int gen_nested_zip(unsigned levels, const char *text, uint8_t **out, size_t *n)
{
    uint8_t *cur = (uint8_t *)strdup(text);
    size_t cn = strlen(text);
    char name[32] = "secret.txt";
    for (unsigned i = 0; cur && i < levels; i++) {
        gen_member m = {name, cur, cn};
        uint8_t *next = NULL;
        size_t nn = 0;
        if (gen_archive("zip", NULL, &m, 1, &next, &nn) != 0)
            next = NULL;
        free(cur);
        cur = next;
        cn = nn;
        snprintf(name, sizeof name, "level%u.zip", levels - 1 - i);
    }
    if (!cur)
        return -1;
    *out = cur;
    *n = cn;
    return 0;
}

/* ---- OOXML and ODF ------------------------------------------------------------------ */

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"

static const char ct_head[] = XML_DECL
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>";

static const char core_xml[] = XML_DECL
    "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>kensa-gen</dc:creator>"
    "<dc:title>Generated document</dc:title></cp:coreProperties>";

static char *rels_for(const char *type, const char *target)
{
    obuf b = {0};
    ob_adds(&b, XML_DECL "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
                         "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/");
    ob_adds(&b, type);
    ob_adds(&b, "\" Target=\"");
    ob_adds(&b, target);
    ob_adds(&b, "\"/></Relationships>");
    ob_add(&b, "", 1);
    return b.err ? (free(b.p), NULL) : (char *)b.p;
}

/* Zips [Content_Types].xml (with the given overrides), _rels/.rels and the
 * parts; [Content_Types].xml first, as Office writes it. */
static int ooxml_zip(const char *overrides, const char *main_type, const char *main_part, gen_member *parts,
                     size_t nparts, uint8_t **out, size_t *n)
{
    obuf ct = {0};
    ob_adds(&ct, ct_head);
    ob_adds(&ct, overrides);
    ob_adds(&ct, "</Types>");
    char *rels = rels_for(main_type, main_part);
    gen_member m[16];
    size_t k = 0;
    int rc = -1;
    if (ct.err || !rels || nparts > 12)
        goto out;
    m[k++] = (gen_member){"[Content_Types].xml", ct.p, ct.n};
    m[k++] = (gen_member){"_rels/.rels", rels, strlen(rels)};
    m[k++] = (gen_member){"docProps/core.xml", core_xml, sizeof core_xml - 1};
    for (size_t i = 0; i < nparts; i++)
        m[k++] = parts[i];
    rc = gen_archive("zip", NULL, m, k, out, n);
out:
    free(ct.p);
    free(rels);
    return rc;
}

int gen_docx(const char *text, size_t run, uint8_t **out, size_t *n)
{
    obuf d = {0};
    ob_adds(&d, XML_DECL "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>");
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        ob_adds(&d, "<w:p><w:pPr><w:pStyle w:val=\"Normal\"/></w:pPr>");
        for (size_t i = 0; i < ll || i == 0;) {
            size_t k = run ? (ll - i < run ? ll - i : run) : ll;
            ob_adds(&d, "<w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">");
            ob_xml(&d, line + i, k);
            ob_adds(&d, "</w:t></w:r>");
            i += k;
            if (!k)
                break;
        }
        ob_adds(&d, "</w:p>");
        line += ll + (nl != NULL);
    }
    ob_adds(&d, "</w:body></w:document>");
    gen_member parts[] = {{"word/document.xml", d.p, d.n}};
    int rc = d.err ? -1
                   : ooxml_zip("<Override PartName=\"/word/document.xml\" ContentType=\"application/"
                               "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>",
                               "officeDocument", "word/document.xml", parts, 1, out, n);
    free(d.p);
    return rc;
}

int gen_xlsx(const char *const *cells, size_t ncells, uint8_t **out, size_t *n)
{
    obuf ss = {0}, sh = {0}, wb = {0};
    ob_printf(&ss, XML_DECL "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
                            "count=\"%zu\" uniqueCount=\"%zu\">", ncells, ncells);
    ob_adds(&sh, XML_DECL "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>");
    for (size_t i = 0; i < ncells; i++) {
        ob_adds(&ss, "<si><t>");
        ob_xml(&ss, cells[i], strlen(cells[i]));
        ob_adds(&ss, "</t></si>");
        ob_printf(&sh, "<row r=\"%zu\"><c r=\"A%zu\" t=\"s\"><v>%zu</v></c><c r=\"B%zu\"><v>%zu</v></c></row>", i + 1,
                  i + 1, i, i + 1, 1000 + i);
    }
    ob_adds(&ss, "</sst>");
    ob_adds(&sh, "</sheetData></worksheet>");
    ob_adds(&wb, XML_DECL "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
                          "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
                          "<sheets><sheet name=\"Accounts\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>");
    char *wbrels = rels_for("worksheet", "worksheets/sheet1.xml");
    gen_member parts[] = {{"xl/workbook.xml", wb.p, wb.n},
                          {"xl/_rels/workbook.xml.rels", wbrels, wbrels ? strlen(wbrels) : 0},
                          {"xl/worksheets/sheet1.xml", sh.p, sh.n},
                          {"xl/sharedStrings.xml", ss.p, ss.n}};
    int rc = ss.err || sh.err || wb.err || !wbrels
                 ? -1
                 : ooxml_zip("<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/"
                             "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
                             "officeDocument", "xl/workbook.xml", parts, 4, out, n);
    free(ss.p);
    free(sh.p);
    free(wb.p);
    free(wbrels);
    return rc;
}

int gen_pptx(const char *const *slides, size_t nslides, uint8_t **out, size_t *n)
{
    obuf s[8] = {{0}};
    char names[8][40];
    gen_member parts[9];
    obuf pres = {0};
    int rc = -1;
    if (nslides > 8)
        return -1;
    ob_adds(&pres, XML_DECL "<p:presentation xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"/>");
    parts[0] = (gen_member){"ppt/presentation.xml", pres.p, pres.n};
    for (size_t i = 0; i < nslides; i++) {
        ob_adds(&s[i], XML_DECL "<p:sld xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" "
                               "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\"><p:cSld><p:spTree>"
                               "<p:sp><p:txBody><a:p><a:r><a:t>");
        ob_xml(&s[i], slides[i], strlen(slides[i]));
        ob_adds(&s[i], "</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>");
        snprintf(names[i], sizeof names[i], "ppt/slides/slide%zu.xml", i + 1);
        parts[i + 1] = (gen_member){names[i], s[i].p, s[i].n};
        if (s[i].err)
            goto out;
    }
    if (!pres.err)
        rc = ooxml_zip("<Override PartName=\"/ppt/presentation.xml\" ContentType=\"application/"
                       "vnd.openxmlformats-officedocument.presentationml.presentation.main+xml\"/>",
                       "officeDocument", "ppt/presentation.xml", parts, nslides + 1, out, n);
out:
    for (size_t i = 0; i < nslides; i++)
        free(s[i].p);
    free(pres.p);
    return rc;
}

int gen_odt(const char *text, uint8_t **out, size_t *n)
{
    static const char mimetype[] = "application/vnd.oasis.opendocument.text";
    static const char manifest[] = XML_DECL
        "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">"
        "<manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.text\"/>"
        "<manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>"
        "</manifest:manifest>";
    obuf c = {0};
    ob_adds(&c, XML_DECL "<office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
                         "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:text>");
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        ob_adds(&c, "<text:p>");
        ob_xml(&c, line, ll);
        ob_adds(&c, "</text:p>");
        line += ll + (nl != NULL);
    }
    ob_adds(&c, "</office:text></office:body></office:document-content>");
    /* The mimetype member comes first (stored), as ODF requires. */
    gen_member m[] = {{"mimetype", mimetype, sizeof mimetype - 1},
                      {"META-INF/manifest.xml", manifest, sizeof manifest - 1},
                      {"content.xml", c.p, c.n}};
    int rc = c.err ? -1 : gen_archive("zip", NULL, m, 3, out, n);
    free(c.p);
    return rc;
}

/* ---- PDF ------------------------------------------------------------------------------ */

/* A PDF string literal: ( ) and \ escaped. */
static void pdf_str(obuf *b, const char *s, size_t n)
{
    ob_adds(b, "(");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '(' || s[i] == ')' || s[i] == '\\')
            ob_adds(b, "\\");
        ob_add(b, s + i, 1);
    }
    ob_adds(b, ")");
}

int gen_pdf(const char *const *pages, size_t npages, int flate, uint8_t **out, size_t *n)
{
    obuf b = {0};
    size_t nobj = 3 + 2 * npages;
    size_t *off = calloc(nobj + 1, sizeof *off);
    int rc = -1;
    if (!off)
        return -1;
    ob_adds(&b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    off[1] = b.n;
    ob_adds(&b, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[2] = b.n;
    ob_adds(&b, "2 0 obj\n<< /Type /Pages /Kids [");
    for (size_t i = 0; i < npages; i++)
        ob_printf(&b, "%zu 0 R ", 4 + 2 * i);
    ob_printf(&b, "] /Count %zu >>\nendobj\n", npages);
    off[3] = b.n;
    ob_adds(&b, "3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>\nendobj\n");
    for (size_t i = 0; i < npages; i++) {
        obuf c = {0};
        ob_adds(&c, "BT /F1 11 Tf 14 TL 72 740 Td\n");
        for (const char *line = pages[i]; *line;) {
            const char *nl = strchr(line, '\n');
            size_t ll = nl ? (size_t)(nl - line) : strlen(line);
            pdf_str(&c, line, ll);
            ob_adds(&c, " Tj T*\n");
            line += ll + (nl != NULL);
        }
        ob_adds(&c, "ET\n");
        uint8_t *body = c.p;
        size_t blen = c.n;
        uLongf zlen = compressBound(c.n);
        uint8_t *z = flate ? malloc(zlen) : NULL;
        if (flate && (!z || compress2(z, &zlen, c.p, c.n, 9) != Z_OK)) {
            free(z);
            free(c.p);
            goto out;
        }
        if (flate) {
            body = z;
            blen = zlen;
        }
        size_t po = 4 + 2 * i, co = po + 1;
        off[po] = b.n;
        ob_printf(&b, "%zu 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                      "/Resources << /Font << /F1 3 0 R >> >> /Contents %zu 0 R >>\nendobj\n", po, co);
        off[co] = b.n;
        ob_printf(&b, "%zu 0 obj\n<< /Length %zu%s >>\nstream\n", co, blen, flate ? " /Filter /FlateDecode" : "");
        ob_add(&b, body, blen);
        ob_adds(&b, "\nendstream\nendobj\n");
        free(z);
        free(c.p);
    }
    size_t xref = b.n;
    ob_printf(&b, "xref\n0 %zu\n0000000000 65535 f \n", nobj + 1);
    for (size_t i = 1; i <= nobj; i++)
        ob_printf(&b, "%010zu 00000 n \n", off[i]);
    ob_printf(&b, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", nobj + 1, xref);
    rc = ob_done(&b, out, n);
    b.p = NULL;
out:
    free(b.p);
    free(off);
    return rc;
}

/* ---- RTF ---------------------------------------------------------------------------------- */

int gen_rtf(const char *text, uint8_t **out, size_t *n)
{
    obuf b = {0};
    ob_adds(&b, "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Helvetica;}}"
                "{\\colortbl;\\red0\\green0\\blue0;}{\\*\\generator kensa-gen;}"
                "{\\info{\\author kensa-gen}}\\f0\\fs22 caf\\'e9\\par\n");
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            ob_adds(&b, "\\par\n");
        else if (*p == '\\' || *p == '{' || *p == '}') {
            ob_adds(&b, "\\");
            ob_add(&b, p, 1);
        } else
            ob_add(&b, p, 1);
    }
    ob_adds(&b, "\\par\n}");
    return ob_done(&b, out, n);
}

/* ---- git history --------------------------------------------------------------------------- */

/* Commits a tree of (name, content) files on HEAD with a fixed author and
 * time, so the repository is the same on every run. */
static int git_commit_files(git_repository *repo, const gen_member *files, size_t nf, const char *msg,
                            int64_t when)
{
    git_treebuilder *tb = NULL;
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_reference *head = NULL;
    git_oid blob, tree_id, commit;
    int rc = -1;
    if (git_treebuilder_new(&tb, repo, NULL) != 0)
        goto out;
    for (size_t i = 0; i < nf; i++)
        if (git_blob_create_from_buffer(&blob, repo, files[i].p, files[i].n) != 0 ||
            git_treebuilder_insert(NULL, tb, files[i].name, &blob, GIT_FILEMODE_BLOB) != 0)
            goto out;
    if (git_treebuilder_write(&tree_id, tb) != 0 || git_tree_lookup(&tree, repo, &tree_id) != 0)
        goto out;
    if (git_signature_new(&sig, "Dev Eloper", "dev@example.com", (git_time_t)when, 0) != 0)
        goto out;
    if (git_repository_head(&head, repo) == 0)
        git_commit_lookup(&parent, repo, git_reference_target(head));
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&commit, repo, "HEAD", sig, sig, NULL, msg, tree, parent ? 1 : 0, parents) != 0)
        goto out;
    rc = 0;
out:
    git_reference_free(head);
    git_commit_free(parent);
    git_tree_free(tree);
    git_signature_free(sig);
    git_treebuilder_free(tb);
    return rc;
}

int gen_git_history(const char *dir, const char *secret)
{
    git_repository *repo = NULL;
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    char env[512];
    int rc = -1;
    git_libgit2_init();
    opts.flags = GIT_REPOSITORY_INIT_MKPATH;
    opts.initial_head = "main";
    if (git_repository_init_ext(&repo, dir, &opts) != 0)
        goto out;
    snprintf(env, sizeof env, "DB_HOST=db.internal\nAPI_TOKEN=%s\n", secret);
    static const char readme[] = "# service\nConfiguration comes from the vault now.\n";
    static const char app[] = "print('hello')\n";
    gen_member c1[] = {{"app.py", app, sizeof app - 1}, {"config.env", env, strlen(env)}};
    gen_member c2[] = {{"app.py", app, sizeof app - 1}};
    gen_member c3[] = {{"README.md", readme, sizeof readme - 1}, {"app.py", app, sizeof app - 1}};
    if (git_commit_files(repo, c1, 2, "add service config", 1700000000) != 0 ||
        git_commit_files(repo, c2, 1, "remove secrets from the repository", 1700003600) != 0 ||
        git_commit_files(repo, c3, 2, "readme", 1700007200) != 0)
        goto out;
    rc = 0;
out:
    git_repository_free(repo);
    git_libgit2_shutdown();
    return rc;
}

/* ---- kensa-gen docs ---------------------------------------------------------------------------- */

/* Writes each kind of document once, each with planted example secrets
 * made from the PRNG (nothing that looks like a real key is in the
 * source), plus a zip of them all and a repository with a secret only in
 * history. With bombs: a zip bomb and a zip nested 20 deep. */
static int docs_write(const char *dir, int bombs)
{
    gen_rng r = {0x6b656e7361ull};
    char akid[21] = "AKIA", tok[41] = "ghp_", line[256], text[1024];
    static const char up[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char an[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int i = 4; i < 20; i++)
        akid[i] = up[gen_below(&r, 32)];
    for (int i = 4; i < 40; i++)
        tok[i] = an[gen_below(&r, 62)];
    snprintf(text, sizeof text, "Deployment notes\naws_access_key_id = %s\nowner: ops@example.com\n", akid);
    snprintf(line, sizeof line, "github token %s", tok);
    const char *cells[] = {"user", "ops@example.com", line};
    const char *slides[] = {"Quarterly review", line};
    const char *pages[] = {"Statement of work", text};
    uint8_t *p[8] = {0};
    size_t n[8] = {0};
    int rc = 0;
    if (gen_docx(text, 5, &p[0], &n[0]) || gen_xlsx(cells, 3, &p[1], &n[1]) || gen_pptx(slides, 2, &p[2], &n[2]) ||
        gen_odt(text, &p[3], &n[3]) || gen_pdf(pages, 2, 1, &p[4], &n[4]) || gen_rtf(text, &p[5], &n[5]))
        rc = -1;
    static const char *const names[] = {"notes.docx", "accounts.xlsx", "review.pptx", "notes.odt", "sow.pdf", "notes.rtf"};
    gen_member m[6];
    for (int i = 0; rc == 0 && i < 6; i++) {
        rc = gen_write(dir, names[i], p[i], n[i]);
        m[i] = (gen_member){names[i], p[i], n[i]};
    }
    if (rc == 0 && (gen_archive("zip", NULL, m, 6, &p[6], &n[6]) || gen_write(dir, "bundle.zip", p[6], n[6])))
        rc = -1;
    if (rc == 0) {
        char repo[1024];
        snprintf(repo, sizeof repo, "%s/service-repo", dir);
        rc = gen_git_history(repo, tok);
    }
    if (rc == 0 && bombs) {
        size_t zn = (size_t)64 << 20;
        uint8_t *zeros = calloc(1, zn);
        gen_member zm = {"zeros.bin", zeros, zn};
        if (!zeros || gen_archive("zip", NULL, &zm, 1, &p[7], &n[7]) || gen_write(dir, "bomb.zip", p[7], n[7]))
            rc = -1;
        free(zeros);
        free(p[7]);
        p[7] = NULL;
        if (rc == 0 && (gen_nested_zip(20, text, &p[7], &n[7]) || gen_write(dir, "nested.zip", p[7], n[7])))
            rc = -1;
    }
    for (int i = 0; i < 8; i++)
        free(p[i]);
    if (rc != 0)
        fprintf(stderr, "kensa-gen docs: cannot write %s\n", dir);
    return rc;
}

int gen_docs_run(int argc, char **argv)
{
    const char *out = NULL;
    int bombs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--bomb"))
            bombs = 1;
        else {
            fprintf(stderr, "kensa-gen docs: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "usage: kensa-gen docs --out DIR [--bomb]\n");
        return 2;
    }
    return docs_write(out, bombs) ? 1 : 0;
}

int gen_docs_demo(const char *dir)
{
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/documents", dir);
    return docs_write(sub, 0);
}
