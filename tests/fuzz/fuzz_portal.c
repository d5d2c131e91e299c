/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the portal's request parsing (src/httpd/route.c)
 * and its DNS answer parser (verify.c): the first byte picks the parser,
 * the rest is its input. Every output buffer is read back so a bad write
 * would be touched.
 */
#include <stdlib.h>
#include <string.h>
#include "httpd/portal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static void on_txt(void *ud, const char *txt, size_t n)
{
    (void)ud;
    sink += n ? (unsigned char)txt[n - 1] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[300], dom[254];
    bool bad;
    portal_route rt;
    if (size < 1 || size > 65536)
        return 0;
    unsigned sel = data[0] % 6;
    data++;
    size--;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    switch (sel) {
    case 0:
        portal_route_match(size && (data[0] & 1) ? "POST" : "GET", s, &rt, &bad);
        sink += strlen(rt.domain) + strlen(rt.prefix) + (unsigned)rt.id;
        break;
    case 1:
        if (portal_form_get(s, size, "domain", out, sizeof out))
            sink += strlen(out);
        if (portal_form_get(s, size, "csrf", out, 65))
            sink += strlen(out);
        break;
    case 2:
        if (portal_cookie_get(s, "kensa_sid", out, 80))
            sink += strlen(out);
        if (portal_bearer(s, out, 80))
            sink += strlen(out);
        break;
    case 3:
        if (size >= 2)
            portal_dns_parse(data, size, (uint16_t)(data[0] << 8 | data[1]), on_txt, NULL);
        break;
    case 4:
        if (portal_domain_ok(s, strlen(s), dom)) {
            uint8_t q[512];
            sink += portal_dns_query(dom, 1, q, sizeof q);
        }
        break;
    default:
        portal_route_match("POST", s, &rt, &bad);
        sink += rt.post;
        break;
    }
    free(s);
    return 0;
}
