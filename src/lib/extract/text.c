/* SPDX-License-Identifier: Apache-2.0
 *
 * Plain text in any common encoding: UTF-8 (with or without BOM), UTF-16
 * and UTF-32 (BOM, or UTF-16 recognised by its zero bytes), and 8-bit text
 * that is not UTF-8 read as Windows-1252. The lowest-scoring extractor:
 * every format with structure (HTML, RTF, CSV, mail) outbids it, and a
 * blob that does not look like text is left to YARA and the IOCs.
 */
#include "extract/extract.h"

static int text_probe(const uint8_t *head, size_t n, const char *name)
{
    size_t bom;
    KS_UNUSED(name);
    return n && ks__xsniff_charset(head, n, &bom) ? 1 : 0;
}

static int text_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    return ks__extract_text(x, node, "text", (const char *)p, n, NULL);
}

const struct ks_extractor ks_extractor_text = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "text",
    .description = "plain text: UTF-8, UTF-16/32 (BOM or sniffed), Windows-1252/Latin-1",
    .probe = text_probe,
    .extract = text_extract,
};
