/* SPDX-License-Identifier: Apache-2.0
 *
 * Office documents that are zips of XML parts: OOXML (docx, xlsx, pptx and
 * their macro/template variants) and ODF (odt, ods, odp). Both are read as
 * archives whose every part is extracted (the XML extractor gives its
 * text, so document body, shared strings, slides, comments, headers,
 * relationship targets and properties are all seen); embedded documents
 * (word/embeddings/x.xlsx) are sniffed and opened again. Pictures and
 * media are skipped: no text, and they are most of a document's bytes.
 *
 * Recognised by content: the zip's first local headers name
 * [Content_Types].xml or an OOXML folder, or ODF's leading `mimetype`
 * member; a docx named .bin is still a docx.
 */
#include <string.h>
#include <strings.h>
#include "extract/extract_int.h"

static bool head_has(const uint8_t *head, size_t n, const char *s)
{
    return ks__memmem_ci((const char *)head, n, s, strlen(s)) != NULL;
}

static int ooxml_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    if (!ks__xis_zip(head, n))
        return 0;
    if (head_has(head, n, "[Content_Types].xml"))
        return 70;
    if (head_has(head, n, "word/") || head_has(head, n, "xl/") || head_has(head, n, "ppt/"))
        return 65;
    return 0;
}

static int odf_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    /* ODF stores "mimetype" first and uncompressed: its content follows
     * the 30-byte local header and the 8-byte name. */
    if (!ks__xis_zip(head, n) || n < 38 + 39 || memcmp(head + 30, "mimetype", 8) != 0)
        return 0;
    return !memcmp(head + 38, "application/vnd.oasis.opendocument", 34) ? 70 : 0;
}

/* Pictures, media, fonts and thumbnails: large, without text. */
static bool skip_media(const char *member)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".gif", ".emf", ".wmf", ".tif",
                                       ".tiff", ".bmp", ".svm", ".mp4", ".mp3", ".wav", ".odttf"};
    if (strstr(member, "media/") || strstr(member, "/fonts/") || !strncmp(member, "Pictures/", 9) ||
        !strncmp(member, "Thumbnails/", 11))
        return true;
    size_t n = strlen(member);
    for (size_t i = 0; i < KS_ARRAY_LEN(exts); i++) {
        size_t el = strlen(exts[i]);
        if (n > el && !strcasecmp(member + n - el, exts[i]))
            return true;
    }
    return false;
}

static int zipdoc_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    return ks__xarchive_walk(x, node, p, n, false, skip_media, NULL, NULL);
}

/* OOXML: a workbook's sheets are kept during the walk and given as tables
 * after it (sheet.c); every other part as above. */
static int ooxml_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    ks_xsheets s = {0};
    int rc = ks__xarchive_walk(x, node, p, n, false, skip_media, ks__xsheets_take, &s);
    int rc2 = ks__xsheets_emit(x, node, &s);
    ks__xsheets_free(&s);
    return rc != KS_OK ? rc : rc2;
}

const struct ks_extractor ks_extractor_ooxml = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "ooxml",
    .description = "Office Open XML (docx, xlsx sheets as tables, pptx): text of every part, embedded files",
    .probe = ooxml_probe,
    .extract = ooxml_extract,
};

const struct ks_extractor ks_extractor_odf = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "odf",
    .description = "OpenDocument (odt, ods, odp): text of every part, embedded files",
    .probe = odf_probe,
    .extract = zipdoc_extract,
};
