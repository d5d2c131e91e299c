/* SPDX-License-Identifier: Apache-2.0
 *
 * SARIF 2.1.0 output (--sarif FILE), the format code-scanning dashboards
 * (GitHub, Azure DevOps, VS Code's SARIF viewer) load: one run, kensa as
 * the driver with one reportingDescriptor per rule that fired, one result
 * per finding with its evidence as physical locations (file URI, line or
 * byte offset). Severity maps to level (high/critical error, medium
 * warning, low/info note); ATT&CK ids go to the rule's tags; the stable
 * part of a finding (rule, file, record/line/offset) is its
 * partialFingerprint so a dashboard tracks it across runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kensa/kensa.h"
#include "output/share.h"

#define MAX_LOCATIONS 16

static const char *level(ks_severity s)
{
    return s >= KS_SEV_HIGH ? "error" : s == KS_SEV_MEDIUM ? "warning" : "note";
}

/* A path as a URI reference: absolute paths become file:// URIs, relative
 * ones stay relative; everything outside RFC 3986 unreserved and '/' is
 * percent-encoded. */
static void uri(ks_buf *b, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    ks__buf_adds(b, "\"uri\":\"");
    if (path[0] == '/')
        ks__buf_adds(b, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            ks__buf_addc(b, (char)c);
        } else {
            ks__buf_addc(b, '%');
            ks__buf_addc(b, hex[c >> 4]);
            ks__buf_addc(b, hex[c & 15]);
        }
    }
    ks__buf_addc(b, '"');
}

static void rule(ks_buf *b, const ks_finding *f)
{
    ks__buf_addc(b, '{');
    ks__jmember(b, "id", f->rule_id, true);
    ks__jmember(b, "name", f->detector ? f->detector : "kensa", true);
    ks__buf_adds(b, "\"shortDescription\":{");
    ks__jmember(b, "text", f->title ? f->title : f->rule_id, false);
    ks__buf_adds(b, "},");
    if (f->description) {
        ks__buf_adds(b, "\"fullDescription\":{");
        ks__jmember(b, "text", f->description, false);
        ks__buf_adds(b, "},");
    }
    ks__buf_adds(b, "\"defaultConfiguration\":{");
    ks__jmember(b, "level", level(f->severity), false);
    ks__buf_adds(b, "},\"properties\":{\"tags\":[\"security\"");
    for (size_t t = 0; t < f->ntechniques; t++) {
        ks__buf_adds(b, ",\"");
        ks__buf_add_json_str(b, f->techniques[t], strlen(f->techniques[t]));
        ks__buf_addc(b, '"');
    }
    ks__buf_adds(b, "]}}");
}

static void kvs(ks_buf *b, const char *name, const ks_kv *kv, size_t n)
{
    ks__buf_printf(b, ",\"%s\":{", name);
    for (size_t i = 0; i < n; i++)
        ks__jmember(b, kv[i].key, kv[i].value, i + 1 < n);
    ks__buf_addc(b, '}');
}

static void result(ks_buf *b, const ks_finding *f, uint64_t index)
{
    ks_buf msg = KS_BUF_INIT, fp = KS_BUF_INIT;
    size_t nloc = 0;
    ks__buf_addc(b, '{');
    ks__jmember(b, "ruleId", f->rule_id, true);
    ks__buf_printf(b, "\"ruleIndex\":%" PRIu64 ",", index);
    ks__jmember(b, "level", level(f->severity), true);
    ks__buf_adds(&msg, f->title ? f->title : f->rule_id);
    for (size_t i = 0; i < f->nmatched && i < 4; i++)
        ks__buf_printf(&msg, "%s%s=%s", i ? ", " : " (", f->matched[i].key, f->matched[i].value);
    if (f->nmatched)
        ks__buf_addc(&msg, ')');
    ks__buf_adds(b, "\"message\":{");
    ks__jmember(b, "text", msg.p, false);
    ks__buf_adds(b, "},\"locations\":[");
    for (size_t i = 0; i < f->nevidence && nloc < MAX_LOCATIONS; i++) {
        const ks_evidence *ev = &f->evidence[i];
        if (!ev->path)
            continue;
        ks__buf_adds(b, nloc++ ? ",{" : "{");
        ks__buf_adds(b, "\"physicalLocation\":{\"artifactLocation\":{");
        uri(b, ev->path);
        ks__buf_addc(b, '}');
        if (ev->line)
            ks__buf_printf(b, ",\"region\":{\"startLine\":%" PRIu64 "}", ev->line);
        else if (ev->offset != UINT64_MAX)
            ks__buf_printf(b, ",\"region\":{\"byteOffset\":%" PRIu64 "}", ev->offset);
        ks__buf_addc(b, '}');
        if (ev->record)
            ks__buf_printf(b, ",\"properties\":{\"record\":%" PRIu64 "}", ev->record);
        ks__buf_addc(b, '}');
    }
    ks__buf_adds(b, "],");
    ks__buf_printf(&fp, "%s|%s|%" PRIu64 "|%" PRIu64 "|%" PRIu64, f->rule_id,
                   f->nevidence && f->evidence[0].path ? f->evidence[0].path : "",
                   f->nevidence ? f->evidence[0].record : 0, f->nevidence ? f->evidence[0].line : 0,
                   f->nevidence ? f->evidence[0].offset : 0);
    char u[37];
    ks__uuid5(fp.p, fp.n, u);
    ks__buf_adds(b, "\"partialFingerprints\":{");
    ks__jmember(b, "kensaFinding/v1", u, false);
    ks__buf_adds(b, "},\"properties\":{");
    ks__jmember(b, "severity", ks_severity_name(f->severity), true);
    ks__jmember(b, "detector", f->detector, true);
    ks__buf_printf(b, "\"eventCount\":%" PRIu64, f->event_count);
    if (f->first != KS_TIME_NONE) {
        ks__buf_adds(b, ",\"firstSeen\":");
        ks__jtime_ms(b, f->first);
        ks__buf_adds(b, ",\"lastSeen\":");
        ks__jtime_ms(b, f->last != KS_TIME_NONE ? f->last : f->first);
    }
    kvs(b, "matched", f->matched, f->nmatched);
    kvs(b, "details", f->details, f->ndetails);
    ks__buf_adds(b, "}}");
    ks__buf_release(&msg);
    ks__buf_release(&fp);
}

static int put(FILE *fp, ks_buf *b)
{
    int rc = b->n && fwrite(b->p, 1, b->n, fp) != b->n ? KS_EIO : KS_OK;
    ks__buf_reset(b);
    return rc;
}

typedef struct sarif_pass {
    FILE *fp;
    ks_buf b;
    ks_map *rules;        /* rule id -> index + 1 */
    uint64_t nrules;
    size_t nresults;
} sarif_pass;

/* Pass 1: the rules that fired, each once, in first-seen order. */
static int sarif_rule(void *ud, const ks_finding *f)
{
    sarif_pass *p = ud;
    uint64_t *slot = ks__map_slot(p->rules, f->rule_id, strlen(f->rule_id), true);
    if (!slot)
        return KS_ENOMEM;
    if (*slot)
        return KS_OK;
    *slot = ++p->nrules; /* index + 1: 0 means new */
    if (p->nrules > 1)
        ks__buf_addc(&p->b, ',');
    rule(&p->b, f);
    return put(p->fp, &p->b);
}

/* Pass 2: results. */
static int sarif_result(void *ud, const ks_finding *f)
{
    sarif_pass *p = ud;
    uint64_t *slot = ks__map_get(p->rules, f->rule_id, strlen(f->rule_id));
    if (p->nresults++)
        ks__buf_addc(&p->b, ',');
    result(&p->b, f, slot ? *slot - 1 : 0);
    return put(p->fp, &p->b);
}

static int sarif_write(ks_engine *e, FILE *fp)
{
    sarif_pass p = {.fp = fp, .b = KS_BUF_INIT, .rules = ks__map_new(256)};
    int rc;
    if (!p.rules)
        return KS_ENOMEM;
    ks__buf_adds(&p.b, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
                       "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{"
                       "\"name\":\"kensa\",\"version\":\"" KENSA_VERSION "\","
                       "\"rules\":[");
    rc = ks__findings_each(e, sarif_rule, &p);
    ks__buf_adds(&p.b, "]}},\"columnKind\":\"unicodeCodePoints\",\"results\":[");
    if (rc == KS_OK)
        rc = ks__findings_each(e, sarif_result, &p);
    ks__buf_adds(&p.b, "]}]}\n");
    if (rc == KS_OK)
        rc = put(fp, &p.b);
    ks__buf_release(&p.b);
    ks__map_free(p.rules);
    return rc;
}

/* A report: written at close from every finding (the spool), renamed in. */
static int sarif_close(void *state)
{
    return ks__outbuf_stdio(state, sarif_write);
}

const struct ks_output ks_output_sarif = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "sarif",
    .description = "SARIF 2.1.0 log: one result per finding, evidence as file locations",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = ks__outbuf_open,
    .close = sarif_close,
    .free = ks__outbuf_free,
};
