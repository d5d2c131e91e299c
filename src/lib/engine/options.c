/* SPDX-License-Identifier: Apache-2.0
 *
 * The option registry (options.def) and everything that reads it: checking
 * a key and value before the engine keeps them (ks_engine_set, config
 * files), the typed lookups plugins use (ks__opt*, defaults from the row),
 * and the public rows the CLI makes its flags and help from.
 *
 * Values are kept as the text the user gave, validated once at set time, so
 * a lookup only converts. Nothing set is ever freed before the engine: a
 * repeated scalar key appends and lookups take the last value, which keeps
 * the pointers ks_engine_get() handed out valid.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "engine_int.h"

/* ---- the table ---------------------------------------------------------------- */

static const ks_option registry[] = {
#define KS_OPT(key, type, dflt, range, flag, short_flag, metavar, doc) \
    {key, KS_OPT_##type, dflt, range, flag, short_flag, metavar, doc},
#include "options.def"
#undef KS_OPT
};

static const char *const type_names[] = {"bool", "int", "size", "double", "time",
                                         "duration", "string", "list", "enum"};

const ks_option *ks_option_at(size_t i)
{
    return i < KS_ARRAY_LEN(registry) ? &registry[i] : NULL;
}

const char *ks_option_type_name(ks_opt_type t)
{
    return (unsigned)t < KS_ARRAY_LEN(type_names) ? type_names[t] : "?";
}

const ks_option *ks_option_find(const char *key)
{
    const ks_option *wild = NULL;
    if (!key)
        return NULL;
    for (size_t i = 0; i < KS_ARRAY_LEN(registry); i++) {
        const char *k = registry[i].key;
        size_t n = strlen(k);
        if (!strcmp(k, key))
            return &registry[i];
        if (n >= 2 && k[n - 1] == '*' && k[n - 2] == '.' && !strncmp(k, key, n - 1) && key[n - 1])
            wild = &registry[i];
    }
    return wild;
}

/* ---- checking a value ------------------------------------------------------------ */

static int msgf(char *msg, size_t cap, const char *fmt, ...) KS_PRINTF(3, 4);
static int msgf(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cap)
        vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return KS_EUSAGE;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < KS_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return KS_OK;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return KS_OK;
        }
    }
    return KS_EUSAGE;
}

static int parse_int(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || errno)
        return KS_EUSAGE;
    *out = n;
    return KS_OK;
}

static int parse_double(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d))
        return KS_EUSAGE;
    *out = d;
    return KS_OK;
}

/* Any numeric type as a double, for range checks. */
static int parse_num(ks_opt_type t, const char *v, double *out)
{
    int64_t i;
    uint64_t u;
    switch (t) {
    case KS_OPT_INT:
        if (parse_int(v, &i) != KS_OK)
            return KS_EUSAGE;
        *out = (double)i;
        return KS_OK;
    case KS_OPT_SIZE:
        if (ks__parse_size(v, &u) != KS_OK)
            return KS_EUSAGE;
        *out = (double)u;
        return KS_OK;
    case KS_OPT_DURATION:
        if (ks__parse_duration(v, &i) != KS_OK)
            return KS_EUSAGE;
        *out = (double)i;
        return KS_OK;
    case KS_OPT_DOUBLE:
        return parse_double(v, out);
    default:
        return KS_EUSAGE;
    }
}

/* Is word one of the '|'-separated words of list? */
static bool in_words(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, word, n))
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/* "LO..HI" against a value already known to parse. */
static int check_range(const ks_option *o, const char *key, const char *v, char *msg, size_t cap)
{
    const char *dots = strstr(o->range, "..");
    double x, lo, hi;
    char lo_s[64] = "", hi_s[64] = "";
    if (!dots || parse_num(o->type, v, &x) != KS_OK)
        return KS_OK;
    snprintf(lo_s, sizeof lo_s, "%.*s", (int)(dots - o->range), o->range);
    snprintf(hi_s, sizeof hi_s, "%s", dots + 2);
    if ((lo_s[0] && parse_num(o->type, lo_s, &lo) == KS_OK && x < lo) ||
        (hi_s[0] && parse_num(o->type, hi_s, &hi) == KS_OK && x > hi))
        return msgf(msg, cap, "option %s: '%s' is out of range (%s%s%s)", key, v,
                    lo_s[0] ? lo_s : "", "..", hi_s[0] ? hi_s : "");
    return KS_OK;
}

static bool known_detector(const char *name)
{
    for (size_t i = 0; ks__detectors[i]; i++)
        if (!strcmp(ks__detectors[i]->name, name))
            return true;
    return false;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), row[128];
    if (nb >= KS_ARRAY_LEN(row))
        return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            best = KS_MIN(best, up + 1);
            best = KS_MIN(best, row[j - 1] + 1);
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The registered key nearest to a typo, NULL when nothing is close. */
static const char *suggest(const char *key)
{
    const char *best = NULL;
    size_t bd = 3; /* at most two edits */
    for (size_t i = 0; i < KS_ARRAY_LEN(registry); i++) {
        size_t d = edit_distance(key, registry[i].key);
        if (d < bd) {
            bd = d;
            best = registry[i].key;
        }
    }
    return best;
}

int ks_option_check(const char *key, const char *v, char *msg, size_t cap)
{
    const ks_option *o = ks_option_find(key);
    int64_t i;
    double d;
    bool b;
    uint64_t u;
    if (cap)
        msg[0] = 0;
    if (!key || !*key || !v)
        return msgf(msg, cap, "an option needs a key and a value");
    if (!o) {
        const char *s = suggest(key);
        return msgf(msg, cap, "unknown option '%s'%s%s%s (kensa help options)", key,
                    s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    /* "--json --rules d": a flag's value that is itself a flag is a slip,
     * never a file name worth writing to. */
    if (v[0] == '-' && (v[1] == '-' || isalpha((unsigned char)v[1])))
        return msgf(msg, cap, "option %s: '%s' looks like a command-line option, not a value", key, v);
    if (!strncmp(o->key, "detector.", 9) && !known_detector(key + 9))
        return msgf(msg, cap, "unknown option '%s': no detector '%s' (kensa formats)", key, key + 9);
    switch (o->type) {
    case KS_OPT_BOOL:
        if (parse_bool(v, &b) != KS_OK)
            return msgf(msg, cap, "option %s: '%s' is not true or false", key, v);
        break;
    case KS_OPT_INT:
        if (parse_int(v, &i) != KS_OK)
            return msgf(msg, cap, "option %s: '%s' is not a whole number", key, v);
        break;
    case KS_OPT_SIZE:
        if (ks__parse_size(v, &u) != KS_OK)
            return msgf(msg, cap, "option %s: '%s' is not a size (e.g. 4096, 64K, 100M, 1G)", key, v);
        break;
    case KS_OPT_DOUBLE:
        if (parse_double(v, &d) != KS_OK)
            return msgf(msg, cap, "option %s: '%s' is not a number", key, v);
        break;
    case KS_OPT_TIME:
        if (ks_time_parse(v, strlen(v), &i) != KS_OK)
            return msgf(msg, cap, "option %s: '%s' is not a time (use 2021-03-02T04:05:06Z or 2021-03-02)",
                        key, v);
        break;
    case KS_OPT_DURATION:
        if (ks__parse_duration(v, &i) != KS_OK)
            return msgf(msg, cap, "option %s: '%s' is not a duration (e.g. 90s, 10m, 1h, 7d)", key, v);
        break;
    case KS_OPT_ENUM:
        if (!in_words(o->range, v))
            return msgf(msg, cap, "option %s: '%s' is not one of %s", key, v, o->range);
        break;
    case KS_OPT_STRING:
    case KS_OPT_LIST:
        break;
    }
    return check_range(o, key, v, msg, cap);
}

/* ---- the engine's options ------------------------------------------------------------ */

int ks_engine_set(ks_engine *e, const char *key, const char *value)
{
    char *k = NULL, *v = NULL;
    int rc = ks_option_check(key, value, e->errmsg, sizeof e->errmsg);
    if (rc != KS_OK)
        return rc;
    if (ks__grow(&e->opts, &e->capopts, e->nopts, sizeof *e->opts, 32) != KS_OK)
        return KS_ENOMEM;
    k = strdup(key);
    v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return KS_ENOMEM;
    }
    e->opts[e->nopts].key = k;
    e->opts[e->nopts].val = v;
    e->nopts++;
    return KS_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

int ks_engine_load_config(ks_engine *e, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096], section[128] = "", tmp[512];
    unsigned lineno = 0;
    int rc = KS_OK;
    if (!fp) {
        ks__seterr(e, "%s: %s", path, strerror(errno));
        return KS_EIO;
    }
    while (fgets(line, sizeof line, fp)) {
        char *s = trim(line), *eq, key[256];
        lineno++;
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || (size_t)(end - s - 1) >= sizeof section) {
                ks__seterr(e, "%s:%u: bad section header", path, lineno);
                rc = KS_EUSAGE;
                break;
            }
            *end = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        eq = strchr(s, '=');
        if (!eq) {
            ks__seterr(e, "%s:%u: expected key = value", path, lineno);
            rc = KS_EUSAGE;
            break;
        }
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (section[0])
            snprintf(key, sizeof key, "%s.%s", section, k);
        else
            snprintf(key, sizeof key, "%s", k);
        if ((rc = ks_engine_set(e, key, v)) != KS_OK) {
            snprintf(tmp, sizeof tmp, "%s", e->errmsg);
            ks__seterr(e, "%s:%u: %s", path, lineno, tmp);
            break;
        }
    }
    fclose(fp);
    return rc;
}

const char *ks_engine_get(const ks_engine *e, const char *key)
{
    const ks_option *o = ks_option_find(key);
    for (size_t i = e ? e->nopts : 0; i-- > 0;)
        if (strcmp(e->opts[i].key, key) == 0)
            return e->opts[i].val;
    return o && o->dflt[0] ? o->dflt : NULL;
}

/* ---- lookups for plugins ------------------------------------------------------------- */

/* The row of a key a plugin reads; a read of a key with no row is a bug in
 * that plugin, reported once per engine as an internal error. */
static const ks_option *row(const ks_engine *e, const char *key)
{
    const ks_option *o = ks_option_find(key);
    if (!o && e && !__atomic_exchange_n(&((ks_engine *)e)->unregistered_read, true, __ATOMIC_RELAXED))
        ks__diag((ks_engine *)e, KS_DIAG_ERROR, KS_EINTERNAL, "options", NULL,
                 "option '%s' is read but not registered in src/lib/engine/options.def", key);
    return o;
}

const char *ks__opt_(const ks_engine *e, const char *key)
{
    row(e, key);
    return ks_engine_get(e, key);
}

int64_t ks__opt_int_(const ks_engine *e, const char *key)
{
    const char *v = ks__opt_(e, key);
    const ks_option *o = ks_option_find(key);
    int64_t n = 0;
    uint64_t sz;
    double d;
    if (!v)
        return 0;
    if (o && o->type == KS_OPT_SIZE)
        return ks__parse_size(v, &sz) == KS_OK && sz <= INT64_MAX ? (int64_t)sz : 0;
    if (o && o->type == KS_OPT_DURATION)
        return ks__parse_duration(v, &n) == KS_OK ? n : 0;
    if (parse_int(v, &n) == KS_OK)
        return n;
    return parse_double(v, &d) == KS_OK ? (int64_t)d : 0;
}

double ks__opt_double_(const ks_engine *e, const char *key)
{
    const char *v = ks__opt_(e, key);
    double d = 0;
    if (v)
        parse_double(v, &d);
    return d;
}

bool ks__opt_bool_(const ks_engine *e, const char *key)
{
    const char *v = ks__opt_(e, key);
    bool b = false;
    if (v)
        parse_bool(v, &b);
    return b;
}

int64_t ks__opt_duration(const ks_engine *e, const char *key)
{
    const char *v = ks__opt_(e, key);
    int64_t ns = 0;
    if (v)
        ks__parse_duration(v, &ns);
    return ns;
}

size_t ks__opt_list(const ks_engine *e, const char *key, const char ***vals)
{
    const ks_option *o = row(e, key);
    size_t n = 0;
    *vals = NULL;
    for (size_t i = 0; e && i < e->nopts; i++)
        if (strcmp(e->opts[i].key, key) == 0)
            n++;
    if (!n)
        return 0;
    /* A scalar read as a list is its last value. */
    size_t first = o && o->type != KS_OPT_LIST ? n - 1 : 0;
    /* Owned by the engine arena: valid for the engine's life. */
    const char **v = ks__arena_alloc(((ks_engine *)e)->arena, (n - first) * sizeof *v);
    if (!v)
        return 0;
    size_t seen = 0, k = 0;
    for (size_t i = 0; i < e->nopts; i++)
        if (strcmp(e->opts[i].key, key) == 0 && seen++ >= first)
            v[k++] = e->opts[i].val;
    *vals = v;
    return k;
}

void ks__options_free(ks_engine *e)
{
    for (size_t i = 0; i < e->nopts; i++) {
        free(e->opts[i].key);
        free(e->opts[i].val);
    }
    free(e->opts);
}
