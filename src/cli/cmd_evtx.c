/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa evtx dump FILE [--json|--xml] [--recover]`: shows records the way
 * kensa reads them. --json prints one flat object per record whose keys
 * are exactly the field paths rules match on; --xml renders the record's
 * XML as Windows would (the library's evtx.xml option). Damage goes to
 * stderr with its location. Public API only (ks_engine_read_file).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char *const cmd_evtx_usage =
    "usage: kensa evtx dump FILE [--json | --xml] [--recover]\n\n"
    "--json (default)  one JSON object per record: field path -> value\n"
    "--xml             the record rendered as XML\n"
    "--recover         also print older copies of records found in chunk slack\n";

static void diag_print(void *ud, const ks_diag *d)
{
    (void)ud;
    if (d->level == KS_DIAG_INFO)
        return;
    fprintf(stderr, "kensa evtx: %s: %s", d->level == KS_DIAG_ERROR ? "error" : "warning",
            d->loc.path ? d->loc.path : "");
    if (d->loc.chunk >= 0)
        fprintf(stderr, " chunk %lld", (long long)d->loc.chunk);
    if (d->loc.offset != UINT64_MAX)
        fprintf(stderr, " offset %llu", (unsigned long long)d->loc.offset);
    fprintf(stderr, ": %s\n", d->msg);
}

/* A JSON string: events hold valid UTF-8 (event.h), so only quotes,
 * backslashes and control characters need escaping. */
static void json_str(FILE *fp, const char *s, size_t n)
{
    fputc('"', fp);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", fp);
        else if (c == '\r')
            fputs("\\r", fp);
        else if (c == '\t')
            fputs("\\t", fp);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* The value as text (ks_value_format), however long. */
static void value_text(FILE *fp, const ks_value *v, bool quoted)
{
    char small[256], *buf = small;
    size_t n = ks_value_format(v, small, sizeof small);
    if (n >= sizeof small && (buf = malloc(n + 1)) != NULL)
        ks_value_format(v, buf, n + 1);
    else if (n >= sizeof small)
        buf = small, n = sizeof small - 1;
    if (quoted)
        json_str(fp, buf, n);
    else
        fwrite(buf, 1, n, fp);
    if (buf != small)
        free(buf);
}

static int print_json(void *ud, const ks_event *ev)
{
    const ks_symtab *syms = ks_event_symtab(ev);
    (void)ud;
    fputc('{', stdout);
    for (size_t i = 0; i < ks_event_nfields(ev); i++) {
        const ks_field *f = ks_event_field(ev, i);
        size_t kn = 0;
        const char *k = ks_symtab_str(syms, f->name, &kn);
        if (i)
            fputc(',', stdout);
        json_str(stdout, k ? k : "", kn);
        fputc(':', stdout);
        switch (f->v.type) {
        case KS_VNULL: fputs("null", stdout); break;
        case KS_VINT: case KS_VUINT: case KS_VFLOAT: case KS_VBOOL: value_text(stdout, &f->v, false); break;
        case KS_VSTR: json_str(stdout, f->v.u.s.p, f->v.u.s.n); break;
        default: value_text(stdout, &f->v, true); break;
        }
    }
    fputs("}\n", stdout);
    return 0;
}

static int print_xml(void *ud, const ks_event *ev)
{
    const ks_value *x = ks_event_get_path(ev, "Event.XML");
    const ks_value *slack = ks_event_get_path(ev, "kensa.evtx.recovered");
    (void)ud;
    if (!x || x->type != KS_VSTR)
        return 0;
    if (slack)
        printf("<!-- recovered from slack: record %llu -->\n", (unsigned long long)ks_event_prov(ev)->record);
    fwrite(x->u.s.p, 1, x->u.s.n, stdout);
    fputc('\n', stdout);
    return 0;
}

int cmd_evtx(int argc, char **argv)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                       {"xml", no_argument, NULL, 'x'},
                                       {"recover", no_argument, NULL, 'r'},
                                       {NULL, 0, NULL, 0}};
    bool xml = false, recover = false;
    ks_engine *e = NULL;
    int c;
    if (argc < 2 || strcmp(argv[1], "dump") != 0) {
        fputs(cmd_evtx_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'j')
            xml = false;
        else if (c == 'x')
            xml = true;
        else if (c == 'r')
            recover = true;
        else {
            cli_error("evtx", "unknown option '%s' (see 'kensa help evtx')", argv[optind - 1]);
            return KS_EXIT_ERRORS;
        }
    }
    if (optind != argc - 1) {
        fputs(cmd_evtx_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    const char *file = argv[optind];
    if (ks_engine_new(&e) != KS_OK)
        return KS_EXIT_ERRORS;
    if ((recover && ks_engine_set(e, "evtx.recover", "true") != KS_OK) ||
        (xml && ks_engine_set(e, "evtx.xml", "true") != KS_OK)) {
        cli_error("evtx", "%s", ks_engine_errmsg(e));
        ks_engine_free(e);
        return KS_EXIT_ERRORS;
    }
    ks_engine_on_diag(e, diag_print, NULL);
    int rc = ks_engine_read_file(e, file, "evtx", xml ? print_xml : print_json, NULL);
    if (rc != KS_OK && ks_engine_errmsg(e)[0])
        cli_error("evtx", "%s", ks_engine_errmsg(e));
    int status = rc != KS_OK || ks_engine_stats(e)->errors ? KS_EXIT_ERRORS : KS_EXIT_CLEAN;
    ks_engine_free(e);
    return status;
}
