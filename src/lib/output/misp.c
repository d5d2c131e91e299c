/* SPDX-License-Identifier: Apache-2.0
 *
 * MISP output (--misp FILE): one MISP event (the JSON MISP's "Add event /
 * import from JSON" and PyMISP's MISPEvent.load take) for the whole run.
 * Each distinct observable (share.h) is an attribute with its MISP type and
 * category, to_ids set for medium and above, commented with the rule that
 * saw it; a finding without observables becomes one "comment" attribute so
 * nothing the hunt found is left out. ATT&CK techniques are event tags.
 * The event's threat level follows its worst finding.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "kensa/kensa.h"
#include "output/share.h"

static const char *category(ks_obs_type t)
{
    switch (t) {
    case KS_OBS_IPV4:
    case KS_OBS_IPV6:
    case KS_OBS_DOMAIN:
    case KS_OBS_URL:
        return "Network activity";
    default:
        return "Payload delivery";
    }
}

static void attribute(ks_buf *b, bool *first, const char *type, const char *cat, const char *value,
                      bool ids, const ks_finding *f, int64_t now)
{
    ks_buf k = KS_BUF_INIT, c = KS_BUF_INIT;
    char u[37];
    int64_t t = f->first != KS_TIME_NONE ? f->first : now;
    ks__buf_printf(&k, "misp-attribute:%s:%s", type, value);
    ks__uuid5(k.p, k.n, u);
    ks__buf_printf(&c, "%s: %s", f->rule_id, f->title ? f->title : "");
    ks__buf_adds(b, *first ? "\n{" : ",\n{");
    *first = false;
    ks__jmember(b, "uuid", u, true);
    ks__jmember(b, "type", type, true);
    ks__jmember(b, "category", cat, true);
    ks__jmember(b, "value", value, true);
    ks__buf_printf(b, "\"to_ids\":%s,", ids ? "true" : "false");
    ks__jmember(b, "comment", c.p, true);
    ks__buf_printf(b, "\"timestamp\":\"%" PRId64 "\",\"distribution\":\"5\"}", t / 1000000000);
    ks__buf_release(&k);
    ks__buf_release(&c);
}

typedef struct misp_pass {
    FILE *fp;
    ks_buf b;
    ks_map *seen, *tags;
    bool first;
    int64_t now;
    ks_severity worst;
    size_t n;
} misp_pass;

static int misp_survey(void *ud, const ks_finding *f)
{
    misp_pass *p = ud;
    if (f->severity > p->worst)
        p->worst = f->severity;
    p->n++;
    return KS_OK;
}

static int misp_finding(void *ud, const ks_finding *f)
{
    misp_pass *p = ud;
    ks_buf *b = &p->b;
    ks_obs obs[KS_OBS_MAX];
    size_t nobs = ks__finding_observables(f, obs, KS_OBS_MAX);
    for (size_t j = 0; j < nobs; j++) {
        const char *type = ks__obs_misp_type(obs[j].type);
        ks_buf k = KS_BUF_INIT;
        ks__buf_printf(&k, "%s|%s", type, obs[j].value);
        uint64_t *slot = ks__map_slot(p->seen, k.p, k.n, true);
        ks__buf_release(&k);
        if (!slot)
            return KS_ENOMEM;
        if (*slot)
            continue;
        *slot = 1;
        attribute(b, &p->first, type, category(obs[j].type), obs[j].value,
                  f->severity >= KS_SEV_MEDIUM, f, p->now);
    }
    if (!nobs) {
        ks_buf v = KS_BUF_INIT;
        ks__buf_printf(&v, "[%s] %s", ks_severity_name(f->severity), f->title ? f->title : f->rule_id);
        if (f->nevidence && f->evidence[0].path)
            ks__buf_printf(&v, " in %s", f->evidence[0].path);
        attribute(b, &p->first, "comment", "Other", v.p, false, f, p->now);
        ks__buf_release(&v);
    }
    for (size_t t = 0; t < f->ntechniques; t++) {
        uint64_t *slot = ks__map_slot(p->tags, f->techniques[t], strlen(f->techniques[t]), true);
        if (slot)
            (*slot)++;
    }
    if (b->n > 65536) {
        if (fwrite(b->p, 1, b->n, p->fp) != b->n)
            return KS_EIO;
        ks__buf_reset(b);
    }
    return KS_OK;
}

static int misp_write(ks_engine *e, FILE *fp)
{
    misp_pass p = {.fp = fp, .b = KS_BUF_INIT, .seen = ks__map_new(256), .tags = ks__map_new(64),
                   .first = true, .now = ks__report_time(), .worst = KS_SEV_INFO};
    ks_buf date = KS_BUF_INIT;
    int rc = KS_OK;
    char u[37], info[128];
    if (!p.seen || !p.tags) {
        rc = KS_ENOMEM;
        goto out;
    }
    if ((rc = ks__findings_each(e, misp_survey, &p)) != KS_OK)
        goto out;
    snprintf(info, sizeof info, "kensa hunt: %zu findings", p.n);
    ks_buf key = KS_BUF_INIT;
    ks__buf_printf(&key, "misp-event:%" PRId64 ":%zu", p.now, p.n);
    ks__uuid5(key.p, key.n, u);
    ks__buf_release(&key);
    ks__jtime_ms(&date, p.now); /* "YYYY-MM-DD..." */
    ks__buf_adds(&p.b, "{\"Event\":{");
    ks__jmember(&p.b, "uuid", u, true);
    ks__jmember(&p.b, "info", info, true);
    ks__buf_printf(&p.b, "\"date\":\"%.10s\",", date.p + 1);
    /* MISP: 1 high, 2 medium, 3 low, 4 undefined. */
    ks__buf_printf(&p.b, "\"threat_level_id\":\"%d\",\"analysis\":\"2\",\"distribution\":\"0\","
                         "\"published\":false,\"timestamp\":\"%" PRId64 "\",",
                   p.worst >= KS_SEV_HIGH ? 1 : p.worst == KS_SEV_MEDIUM ? 2 : p.worst == KS_SEV_LOW ? 3 : 4,
                   p.now / 1000000000);
    ks__buf_adds(&p.b, "\"Orgc\":{\"name\":\"kensa\"},\"Attribute\":[");
    rc = ks__findings_each(e, misp_finding, &p);
    ks__buf_adds(&p.b, "\n],\"Tag\":[{\"name\":\"tlp:amber\"}");
    size_t it = 0;
    const char *tk;
    size_t tn;
    uint64_t *tv;
    while (ks__map_iter(p.tags, &it, &tk, &tn, &tv)) {
        ks__buf_adds(&p.b, ",{\"name\":\"mitre-attack:");
        ks__buf_add_json_str(&p.b, tk, tn);
        ks__buf_adds(&p.b, "\"}");
    }
    ks__buf_adds(&p.b, "]}}\n");
    if (rc == KS_OK && fwrite(p.b.p, 1, p.b.n, fp) != p.b.n)
        rc = KS_EIO;
out:
    ks__buf_release(&p.b);
    ks__buf_release(&date);
    ks__map_free(p.seen);
    ks__map_free(p.tags);
    return rc;
}

/* A report: written at close from every finding (the spool), renamed in. */
static int misp_close(void *state)
{
    return ks__outbuf_stdio(state, misp_write);
}

const struct ks_output ks_output_misp = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "misp",
    .description = "MISP event JSON: attributes for hashes, IPs, domains, URLs, file names",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = ks__outbuf_open,
    .close = misp_close,
    .free = ks__outbuf_free,
};
