/* SPDX-License-Identifier: Apache-2.0
 *
 * Parser shoot-out behind docs/JSON.md: reads a JSON-lines file and parses
 * every line with one parser, visiting every leaf (what flattening into an
 * event needs). kensa's flattener vs jansson vs json-c, same input, same
 * loop, so the figures compare parsers and not I/O.
 *   json_peers kensa|jansson|json-c FILE
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "input/json.h"

static unsigned long long leaves;

/* jansson and json-c both define json_object_iter_next: jansson lives in
 * json_peers_jansson.c. Returns leaves, or -1 on a parse error. */
long long jansson_parse(const char *p, size_t n);

static void walk_jsonc(struct json_object *v)
{
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, c)
        {
            (void)k;
            walk_jsonc(c);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            walk_jsonc(json_object_array_get_idx(v, i));
    } else {
        leaves++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: json_peers kensa|jansson|json-c FILE\n");
        return 2;
    }
    int fd = open(argv[2], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 2;
    const char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    const char *end = p + st.st_size;
    unsigned long long records = 0, errors = 0;
    ks_symtab *syms = ks__symtab_new();
    ks_event ev;
    memset(&ev, 0, sizeof ev);
    ev.syms = syms;
    ev.cache = ks__symcache_new(syms);
    ev.arena = ks__arena_new(65536, 0);
    struct json_tokener *tok = json_tokener_new();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n) {
            records++;
            if (!strcmp(argv[1], "kensa")) {
                ks__event_reset(&ev);
                if (ks__json_flatten(&ev, "", 0, p, n, NULL, NULL) != KS_OK)
                    errors++;
                leaves += ev.n;
            } else if (!strcmp(argv[1], "jansson")) {
                long long k = jansson_parse(p, n);
                if (k < 0)
                    errors++;
                else
                    leaves += (unsigned long long)k;
            } else {
                json_tokener_reset(tok);
                struct json_object *v = json_tokener_parse_ex(tok, p, (int)n);
                if (!v)
                    errors++;
                else {
                    walk_jsonc(v);
                    json_object_put(v);
                }
            }
        }
        p += n + 1;
    }
    printf("%s: %llu records, %llu leaves, %llu errors\n", argv[1], records, leaves, errors);
    return 0;
}
