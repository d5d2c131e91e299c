/* SPDX-License-Identifier: Apache-2.0
 *
 * The exchange detector's page lists (exchange.h): stock Exchange pages by
 * URL path, known web shell file names. Real Hafnium shells were named to
 * look like stock pages (OutlookEN.aspx beside OutlookCN.aspx,
 * RedirSuiteServerProxy.aspx beside RedirSuiteServiceProxy.aspx), so the
 * stock list is matched on the whole path below the site root, and a page
 * that is not on it is not Exchange's, whatever its name looks like.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

#define MAX_NAMES 8192
#define MAX_LINE 4096

struct ks_xpages {
    char **stock;          /* URL paths, as written ("/owa/auth/logon.aspx") */
    size_t nstock, cstock;
    char **shell;          /* file names */
    size_t nshell, cshell;
};

ks_slice ks__path_base(ks_slice s)
{
    for (size_t i = s.n; i > 0; i--)
        if (s.p[i - 1] == '/' || s.p[i - 1] == '\\')
            return (ks_slice){s.p + i, s.n - i};
    return s;
}

static int add(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n >= MAX_NAMES)
        return KS_ELIMIT;
    if (ks__grow(v, cap, *n + 1, sizeof **v, 64) != KS_OK)
        return KS_ENOMEM;
    char *c = malloc(len + 1);
    if (!c)
        return KS_ENOMEM;
    memcpy(c, s, len);
    c[len] = 0;
    (*v)[(*n)++] = c;
    return KS_OK;
}

static bool script_name(ks_slice b)
{
    static const char *const ext[] = {".aspx", ".ashx", ".asmx", ".asp", ".asa", ".cer", ".cshtml"};
    for (size_t i = 0; i < KS_ARRAY_LEN(ext); i++) {
        size_t k = strlen(ext[i]);
        if (b.n > k && ks__ieq(b.p + b.n - k, k, ext[i], k))
            return true;
    }
    return false;
}

enum list { L_STOCK, L_SHELL, L_PATHS };

/* One list file. L_STOCK/L_SHELL: first word of each line; L_PATHS (IOC
 * feeds): every comma/semicolon-separated cell holding a path to a script
 * contributes its file name. */
static int load(ks_engine *e, ks_xpages *p, const char *path, enum list kind, bool quiet)
{
    FILE *fp = fopen(path, "r");
    char line[MAX_LINE];
    int rc = KS_OK;
    uint64_t lineno = 0;
    if (!fp) {
        if (!quiet) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = path;
            ks__diag(e, KS_DIAG_WARN, KS_EIO, "exchange", &loc, "cannot read page list");
        }
        return KS_OK;
    }
    while (rc == KS_OK && fgets(line, sizeof line, fp)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || !*s)
            continue;
        if (kind != L_PATHS) {
            size_t k = strcspn(s, " \t\r\n");
            rc = kind == L_STOCK ? add(&p->stock, &p->nstock, &p->cstock, s, k)
                                 : add(&p->shell, &p->nshell, &p->cshell, s, k);
            continue;
        }
        for (char *c = s;; c++) {
            if (*c && *c != ',' && *c != ';' && *c != '\n' && *c != '\r')
                continue;
            ks_slice cell = {s, (size_t)(c - s)};
            while (cell.n && (cell.p[0] == '"' || cell.p[0] == ' '))
                cell.p++, cell.n--;
            while (cell.n && (cell.p[cell.n - 1] == '"' || cell.p[cell.n - 1] == ' '))
                cell.n--;
            ks_slice b = ks__path_base(cell);
            if (b.n < cell.n && script_name(b))
                rc = add(&p->shell, &p->nshell, &p->cshell, b.p, b.n);
            if (!*c || rc != KS_OK)
                break;
            s = c + 1;
        }
    }
    fclose(fp);
    if (rc == KS_ELIMIT) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        loc.line = lineno;
        ks__diag(e, KS_DIAG_WARN, KS_ELIMIT, "exchange", &loc,
                 "more than %d names; the rest of the list is ignored", MAX_NAMES);
        rc = KS_OK;
    }
    return rc;
}

int ks__xpages_load(ks_engine *e, ks_xpages **out)
{
    ks_xpages *p = calloc(1, sizeof *p);
    const char **v = NULL;
    char dflt[4096];
    int rc = KS_ENOMEM;
    if (!p)
        goto out;
    static const struct {
        const char *key, *file;
        enum list kind;
    } lists[] = {
        {"exchange.stock_pages", "exchange/stock-pages.txt", L_STOCK},
        {"exchange.shell_names", "exchange/shell-names.txt", L_SHELL},
    };
    for (size_t i = 0; i < KS_ARRAY_LEN(lists); i++) {
        const char *path = ks__opt(e, lists[i].key), *dir = ks__rules_dir(e);
        if (!path && !dir) {
            ks_loc loc = KS_LOC_NONE;
            ks__diag(e, KS_DIAG_WARN, KS_ENOTFOUND, "exchange", &loc,
                     "bundled rules not found: no %s list (set %s)%s", lists[i].file,
                     lists[i].key,
                     lists[i].kind == L_STOCK ? "; only known shell names count as shell use" : "");
            continue;
        }
        if (!path) {
            snprintf(dflt, sizeof dflt, "%s/%s", dir, lists[i].file);
            path = dflt;
        }
        /* An empty value switches the list off. */
        if (*path && (rc = load(e, p, path, lists[i].kind, false)) != KS_OK)
            goto out;
    }
    /* Our own option, and the shared IOC list (its hash lines are ignored). */
    static const char *const ioc_keys[] = {"exchange.ioc", "ioc"};
    for (size_t k = 0; k < KS_ARRAY_LEN(ioc_keys); k++) {
        size_t n = ks__opt_list(e, ioc_keys[k], &v);
        for (size_t i = 0; i < n; i++)
            if ((rc = load(e, p, v[i], L_PATHS, false)) != KS_OK)
                goto out;
    }
    rc = KS_OK;
    *out = p;
    p = NULL;
out:
    ks__xpages_free(p);
    return rc;
}

void ks__xpages_free(ks_xpages *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nstock; i++)
        free(p->stock[i]);
    for (size_t i = 0; i < p->nshell; i++)
        free(p->shell[i]);
    free(p->stock);
    free(p->shell);
    free(p);
}

bool ks__xpages_stock(const ks_xpages *p, ks_slice stem)
{
    /* Paths compare from the site root down; a virtual directory mounted
     * deeper (/mail/owa/auth/...) still ends the same way. */
    for (size_t i = 0; p && stem.p && i < p->nstock; i++) {
        size_t k = strlen(p->stock[i]);
        if (stem.n >= k && ks__ieq(stem.p + stem.n - k, k, p->stock[i], k))
            return true;
    }
    return false;
}

bool ks__xpages_shell(const ks_xpages *p, ks_slice path)
{
    ks_slice b = ks__path_base(path);
    for (size_t i = 0; p && b.n && i < p->nshell; i++)
        if (ks__ieq(b.p, b.n, p->shell[i], strlen(p->shell[i])))
            return true;
    return false;
}

size_t ks__xpages_nstock(const ks_xpages *p)
{
    return p ? p->nstock : 0;
}

size_t ks__xpages_nshell(const ks_xpages *p)
{
    return p ? p->nshell : 0;
}
