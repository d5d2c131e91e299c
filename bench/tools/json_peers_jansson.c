/* SPDX-License-Identifier: Apache-2.0
 * jansson half of the parser shoot-out (see json_peers.c). */
#include <jansson.h>

long long jansson_parse(const char *p, size_t n);

static long long walk(json_t *v)
{
    const char *k;
    json_t *c;
    size_t i;
    long long t = 0;
    if (json_is_object(v)) {
        json_object_foreach(v, k, c) t += walk(c);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) t += walk(c);
    } else {
        t = 1;
    }
    return t;
}

long long jansson_parse(const char *p, size_t n)
{
    json_error_t err;
    json_t *v = json_loadb(p, n, 0, &err);
    if (!v)
        return -1;
    long long t = walk(v);
    json_decref(v);
    return t;
}
