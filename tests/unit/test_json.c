/* SPDX-License-Identifier: Apache-2.0
 * JSON flattener and the "json" input: every export shape, and damage. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "input/json.h"

static ks_symtab *syms;
static ks_arena *arena;

static void ev_init(ks_event *ev)
{
    if (!syms) {
        syms = ks__symtab_new_schema();
        arena = ks__arena_new(4096, 0);
    }
    free(ev->fields); /* the previous use of this event */
    memset(ev, 0, sizeof *ev);
    ev->syms = syms;
    ev->arena = arena;
    ks__event_reset(ev);
}

static const char *get(ks_event *ev, const char *path, char *buf, size_t cap)
{
    const ks_value *v = ks_event_get_path(ev, path);
    if (!v)
        return NULL;
    ks_value_format(v, buf, cap);
    return buf;
}

TEST(flatten_nested_arrays_escapes)
{
    ks_event ev = {0};
    char b[256];
    ev_init(&ev);
    const char *j = "{\"a\":{\"b\":1,\"c\":[true,null,\"x\"]},\"s\":\"q\\\"\\u00e9\\ud83d\\ude00\","
                    "\"n\":-12.5e1,\"big\":18446744073709551615,\"arr\":[{\"k\":\"v\"}],\"e\":{},\"ea\":[]}";
    CHECK_INT(ks__json_flatten(&ev, "", 0, j, strlen(j), NULL, NULL), KS_OK);
    CHECK_STR(get(&ev, "a.b", b, sizeof b), "1");
    CHECK_STR(get(&ev, "a.c.0", b, sizeof b), "true");
    CHECK_STR(get(&ev, "a.c.1", b, sizeof b), "null");
    CHECK_STR(get(&ev, "a.c.2", b, sizeof b), "x");
    CHECK_STR(get(&ev, "a.c", b, sizeof b), "true"); /* scalar elements under the array path too */
    CHECK_STR(get(&ev, "s", b, sizeof b), "q\"\xc3\xa9\xf0\x9f\x98\x80");
    CHECK_STR(get(&ev, "n", b, sizeof b), "-125");
    CHECK_STR(get(&ev, "big", b, sizeof b), "18446744073709551615");
    CHECK_STR(get(&ev, "arr.0.k", b, sizeof b), "v");
    CHECK(ks_event_get_path(&ev, "e") == NULL);
    CHECK_INT(ks_event_get_path(&ev, "a.b")->type, KS_VINT);
    free(ev.fields);
}

TEST(flatten_zero_copy_and_errors)
{
    ks_event ev = {0};
    ev_init(&ev);
    const char *j = "{\"user\":\"alice@contoso.com\"}";
    CHECK_INT(ks__json_flatten(&ev, "p", 1, j, strlen(j), NULL, NULL), KS_OK);
    const ks_value *v = ks_event_get_path(&ev, "p.user");
    CHECK(v && v->u.s.p == j + 9); /* points into the input */
    uint64_t off = 0;
    const char *why = NULL;
    const char *bad[] = {"{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "[1,2", "{\"a\":\"x\nb\"}", "{\"a\":tru}", "{}x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ev_init(&ev);
        CHECK_INT(ks__json_flatten(&ev, "", 0, bad[i], strlen(bad[i]), &off, &why), KS_EFORMAT);
        CHECK(why != NULL);
    }
    /* nesting bomb */
    char deep[1000];
    memset(deep, '[', 500);
    memset(deep + 500, ']', 500);
    ev_init(&ev);
    CHECK_INT(ks__json_flatten(&ev, "", 0, deep, sizeof deep, &off, &why), KS_ELIMIT);
    /* invalid UTF-8 is repaired */
    ev_init(&ev);
    CHECK_INT(ks__json_flatten(&ev, "", 0, "{\"s\":\"a\xff\"}", 10, NULL, NULL), KS_OK);
    v = ks_event_get_path(&ev, "s");
    CHECK(v && v->u.s.n == 4 && !memcmp(v->u.s.p, "a\xef\xbf\xbd", 4));
    free(ev.fields);
}

TEST(extent_scanner)
{
    CHECK_INT(ks__json_extent("{\"a\":\"}\"}xyz", 12, false), 9);
    CHECK_INT(ks__json_extent("{\"a\":[1,2", 9, false), 0);
    CHECK_INT(ks__json_extent("{\"a\":1\n", 7, true), (size_t)-1);
    CHECK_INT(ks__json_extent("{\"a\":\"\x01\"}", 9, false), (size_t)-1);
}

/* ---- through the engine ---------------------------------------------------- */

typedef struct diag_log {
    int warn, err;
    char last[512];
} diag_log;

static void on_diag(void *ud, const ks_diag *d)
{
    diag_log *l = ud;
    if (d->level == KS_DIAG_WARN)
        l->warn++;
    if (d->level == KS_DIAG_ERROR)
        l->err++;
    snprintf(l->last, sizeof l->last, "%s:%llu:%llu %s", d->loc.path ? d->loc.path : "",
             (unsigned long long)d->loc.line, (unsigned long long)d->loc.offset, d->msg);
}

static uint64_t hunt(const char *path, diag_log *log, size_t *nfind)
{
    ks_engine *e = NULL;
    ks_engine_new(&e);
    ks_engine_set(e, "threads", "2");
    /* the JSON reader's tests: file detectors (a YARA scan of a 70 MiB
     * line, stopped by its wall-clock timeout on a loaded machine) are
     * not what is tested here */
    ks_engine_set(e, "mode", "events");
    ks_engine_add_path(e, path);
    ks_engine_on_diag(e, on_diag, log);
    ks_engine_run(e);
    uint64_t n = ks_engine_stats(e)->events;
    if (nfind)
        *nfind = ks_engine_nfindings(e);
    ks_engine_free(e);
    return n;
}

#define REC "{\"createdDateTime\":\"2024-02-01T10:00:00Z\",\"userPrincipalName\":\"a@x.com\",\"status\":{\"errorCode\":0},\"authenticationRequirement\":\"singleFactorAuthentication\"}"

TEST(input_shapes)
{
    diag_log log = {0};
    size_t nf;
    const char *jsonl = REC "\n" REC "\n" REC "\n";
    CHECK_INT(hunt(ks_test_write("a.jsonl", jsonl, strlen(jsonl)), &log, &nf), 3);
    CHECK_INT(nf, 1); /* one finding per account, not per record */
    const char *arr = "\xef\xbb\xbf[\n  " REC ",\n  " REC "\n]\n";
    CHECK_INT(hunt(ks_test_write("portal.json", arr, strlen(arr)), &log, NULL), 2);
    const char *graph = "{\"@odata.context\":\"x\",\"value\":[" REC "," REC "],\"@odata.nextLink\":\"y\"}";
    CHECK_INT(hunt(ks_test_write("graph.json", graph, strlen(graph)), &log, NULL), 2);
    const char *recs = "{\"records\":[" REC "," REC "," REC "," REC "]}";
    CHECK_INT(hunt(ks_test_write("azmon.json", recs, strlen(recs)), &log, NULL), 4);
    const char *concat = REC REC "  " REC;
    CHECK_INT(hunt(ks_test_write("concat.json", concat, strlen(concat)), &log, NULL), 3);
    const char *pretty = "{\n  \"createdDateTime\": \"2024-02-01T10:00:00Z\",\n  \"x\": [1,\n 2]\n}\n{\"y\":1}\n";
    CHECK_INT(hunt(ks_test_write("pretty.json", pretty, strlen(pretty)), &log, NULL), 2);
    CHECK_INT(log.warn, 0);
    CHECK_INT(log.err, 0);
}

TEST(input_damage_is_local)
{
    diag_log log = {0};
    /* a truncated line, garbage, a broken record, then good records */
    const char *d = REC "\n{\"createdDateTime\":\"2024-02-01T1\n\x01\x02garbage\n{\"a\":}\n" REC "\n" REC;
    CHECK_INT(hunt(ks_test_write("damaged.json", d, strlen(d)), &log, NULL), 3);
    CHECK(log.warn >= 3);
    CHECK_INT(log.err, 0);
    CHECK(strstr(log.last, "damaged.json") != NULL);
    /* truncated array */
    diag_log l2 = {0};
    const char *t = "[" REC "," REC ",{\"a\":";
    CHECK_INT(hunt(ks_test_write("trunc.json", t, strlen(t)), &l2, NULL), 2);
    CHECK(l2.warn >= 1);
    /* empty file and binary garbage named .json: no events, no crash; each
     * is named in a warning and each run says it recognised nothing (an
     * error: exit status 2, issue 14) */
    diag_log l3 = {0};
    CHECK_INT(hunt(ks_test_write("empty.json", "", 0), &l3, NULL), 0);
    CHECK(strstr(l3.last, "nothing was recognised") != NULL);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    junk[0] = '{';
    hunt(ks_test_write("junk.json", junk, sizeof junk), &l3, NULL);
    CHECK_INT(l3.err, 2);
    CHECK_INT(l3.warn, 2);
}

TEST(input_gzip_stdin_like_stream)
{
    diag_log log = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/big.jsonl", ks_test_tmpdir());
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < 20000; i++)
        fprintf(fp, "{\"TimeGenerated\":\"2024-02-01T10:00:%02dZ\",\"UserPrincipalName\":\"u%d@x.com\",\"ResultType\":\"50126\"}\n", i % 60, i);
    fclose(fp);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "gzip -kf '%s'", path);
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.gz", path);
    CHECK_INT(hunt(cmd, &log, NULL), 20000);
    CHECK_INT(log.warn + log.err, 0);
}

TEST(since_until_filter)
{
    const char *j = "{\"time\":\"2024-01-01T00:00:00Z\"}\n{\"time\":\"2024-06-01T00:00:00Z\"}\n{\"nodate\":1}\n";
    ks_engine *e = NULL;
    ks_engine_new(&e);
    CHECK_INT(ks_engine_set(e, "since", "2024-03-01"), KS_OK);
    CHECK_INT(ks_engine_set(e, "until", "not a time"), KS_EUSAGE);
    CHECK(strstr(ks_engine_errmsg(e), "not a time") != NULL);
    ks_engine_add_path(e, ks_test_write("times.jsonl", j, strlen(j)));
    ks_engine_run(e);
    CHECK_INT(ks_engine_stats(e)->events, 3);
    CHECK_INT(ks_engine_stats(e)->events_filtered, 1);
    ks_engine_free(e);
}

TEST(split_jsonl_parts_lose_and_duplicate_nothing)
{
    char path[512];
    snprintf(path, sizeof path, "%s/split.jsonl", ks_test_tmpdir());
    FILE *fp = fopen(path, "w");
    /* ~40 MB so the file is cut into several parts */
    for (int i = 0; i < 200000; i++)
        fprintf(fp, "{\"TimeGenerated\":\"2024-02-01T10:00:00Z\",\"i\":%d,\"pad\":\"%0150d\"}\n", i, i);
    fclose(fp);
    for (int threads = 1; threads <= 3; threads++) {
        ks_engine *e = NULL;
        char t[8];
        snprintf(t, sizeof t, "%d", threads);
        ks_engine_new(&e);
        ks_engine_set(e, "threads", t);
        ks_engine_add_path(e, path);
        ks_engine_run(e);
        CHECK_INT(ks_engine_stats(e)->events, 200000);
        ks_engine_free(e);
    }
}

TEST(huge_single_line_skipped_rest_read)
{
    char path[512];
    snprintf(path, sizeof path, "%s/hugeline.jsonl", ks_test_tmpdir());
    FILE *fp = fopen(path, "w");
    fputs("{\"a\":1}\n{\"big\":\"", fp);
    static char chunk[1 << 20];
    memset(chunk, 'A', sizeof chunk);
    for (int i = 0; i < 70; i++) /* 70 MiB: over the 64 MiB record cap */
        fwrite(chunk, 1, sizeof chunk, fp);
    fputs("\"}\n{\"b\":2}\n", fp);
    fclose(fp);
    diag_log log = {0};
    CHECK_INT(hunt(path, &log, NULL), 2);
    CHECK_INT(log.warn, 1);
    CHECK(strstr(log.last, "json.max_record") != NULL);
}

/* Sniffing by content must not claim prose or code: a Pascal source that
 * opens with "{ }" then code, and a licence text whose first lines happen
 * to hold commas, are neither JSON records nor a CSV table (each would be
 * read as hundreds of damaged records, a warning each). Named .json or
 * .csv they are still read and their damage reported. */
TEST(prose_and_code_are_not_records)
{
    const char *pas = "{\n}\n//{$mode objfpc}\n{$INLINE OFF}\n{$ifdef FPC_PROFILE}\n{$INLINE OFF}\n"
                      "{$endif FPC_PROFILE}\nprogram firework;\nuses\n  ncurses;\n\nCONST\n  my_bg = 0;\n\n"
                      "Procedure showit;\nbegin\n  refresh;\n  napms(120);\nend;\n";
    const char *txt = "Copyright 1999, 2001-2023 Free Software Foundation, Inc.\n"
                      "Contributed by the AriC and Caramba projects, INRIA.\n\n"
                      "This file is part of the GNU MPFR Library.\n";
    diag_log l1 = {0}, l2 = {0}, l3 = {0}, l4 = {0};
    CHECK_INT(hunt(ks_test_write("firework.pp", pas, strlen(pas)), &l1, NULL), 0);
    CHECK_INT(l1.warn, 0);
    CHECK(strstr(l1.last, "nothing was recognised") != NULL);
    CHECK_INT(hunt(ks_test_write("BUGS", txt, strlen(txt)), &l2, NULL), 0);
    CHECK_INT(l2.warn, 0);
    CHECK(strstr(l2.last, "nothing was recognised") != NULL);
    /* a real generic table and JSON lines without telling names still are */
    const char *tab = "host,account,outcome\nweb1,alice,ok\nweb2,bob,denied\n";
    CHECK_INT(hunt(ks_test_write("export", tab, strlen(tab)), &l3, NULL), 2);
    CHECK_INT(l3.warn + l3.err, 0);
    const char *jl = REC "\n" REC "\n";
    CHECK_INT(hunt(ks_test_write("signins.log", jl, strlen(jl)), &l4, NULL), 2);
    CHECK_INT(l4.warn + l4.err, 0);
}

TEST(not_json_after_all)
{
    diag_log log = {0};
    /* TOML's array-of-tables header is not a JSON array */
    const char *toml = "[[rules]]\nid = \"aws\"\nregex = '''AKIA'''\n";
    CHECK_INT(hunt(ks_test_write("rules.json", toml, strlen(toml)), &log, NULL), 0);
    CHECK_INT(log.warn, 1); /* named .json, not JSON: said once (issue 14), not per line */
    CHECK_INT(log.err, 1);  /* and the run recognised nothing */
    /* a file that starts like JSON but is not: the reader gives up early
     * with one sentence instead of a warning per line */
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "[{{ range . }}\n");
    for (int i = 0; i < 200; i++)
        ks__buf_adds(&b, "  {{ .Field }} {{ end }}\n");
    diag_log l2 = {0};
    CHECK_INT(hunt(ks_test_write("report.json", b.p, b.n), &l2, NULL), 0);
    CHECK(l2.warn <= 12);
    CHECK(strstr(l2.last, "not JSON records after all") != NULL);
    ks__buf_release(&b);
}
