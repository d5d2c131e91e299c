/* SPDX-License-Identifier: Apache-2.0
 *
 * STIX 2.1 output (--stix FILE): one bundle a threat-intelligence platform
 * (OpenCTI, MISP, Sentinel TI) can load as it is.
 *
 *   identity        kensa, the producer (created_by_ref of everything)
 *   attack-pattern  one per ATT&CK technique named by a finding
 *   indicator       one per distinct observable (hash, IP, domain, URL,
 *                   file name: share.h) with its STIX pattern, related to the
 *                   attack patterns of the findings that saw it ("indicates")
 *   observed-data   per finding with observables: the SCOs it saw
 *   sighting        per finding: of its first indicator, else of its first
 *                   attack pattern, with count, first/last seen
 *   note            a finding with neither: its title and rule, so nothing
 *                   the hunt found is silently left out of the bundle
 *
 * Ids are UUID v5 of the content, so re-rendering a saved run (kensa report)
 * gives the same ids and a platform deduplicates imports. Objects are
 * written as they are made; a map of written ids keeps each one once, so
 * memory grows with distinct ids, not with findings.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kensa/kensa.h"
#include "output/share.h"

typedef struct stix_out {
    ks_buf b;             /* pending text, flushed per finding */
    FILE *fp;
    ks_map *seen;         /* ids already written */
    char ident[96];       /* producer identity id */
    int64_t now;
    bool first_obj;
    int rc;
} stix_out;

/* Starts an object unless its id was written already; false = skip it. */
static bool begin_obj(stix_out *s, const char *type, const char *id)
{
    uint64_t *slot = ks__map_slot(s->seen, id, strlen(id), true);
    if (!slot) {
        s->rc = KS_ENOMEM;
        return false;
    }
    if (*slot)
        return false;
    *slot = 1;
    ks__buf_adds(&s->b, s->first_obj ? "\n" : ",\n");
    s->first_obj = false;
    ks__buf_adds(&s->b, "{");
    ks__jmember(&s->b, "type", type, true);
    ks__jmember(&s->b, "spec_version", "2.1", true);
    ks__jmember(&s->b, "id", id, true);
    return true;
}

/* created/modified/created_by_ref: the common SDO tail, then the closing brace. */
static void end_sdo(stix_out *s)
{
    ks__buf_adds(&s->b, "\"created\":");
    ks__jtime_ms(&s->b, s->now);
    ks__buf_adds(&s->b, ",\"modified\":");
    ks__jtime_ms(&s->b, s->now);
    ks__buf_addc(&s->b, ',');
    ks__jmember(&s->b, "created_by_ref", s->ident, false);
    ks__buf_addc(&s->b, '}');
}

/* The id of an object named "TYPE:NAME" (an attack pattern by technique,
 * a finding's observed-data/sighting/note by its key): derived, so every
 * export of the same thing gives the same id. */
static void named_id(const char *type, const char *name, char *id, size_t cap)
{
    ks_buf k = KS_BUF_INIT;
    ks__buf_printf(&k, "%s:%s", type, name ? name : "");
    ks__stix_id(type, k.p ? k.p : "", k.n, id, cap);
    ks__buf_release(&k);
}

static void attack_pattern(stix_out *s, const char *tech, char *id, size_t cap)
{
    char url[160];
    named_id("attack-pattern", tech, id, cap);
    if (!begin_obj(s, "attack-pattern", id))
        return;
    ks__jmember(&s->b, "name", tech, true);
    /* T1110.003 -> techniques/T1110/003/ */
    snprintf(url, sizeof url, "https://attack.mitre.org/techniques/%s/", tech);
    for (char *p = url + strlen("https://attack.mitre.org/techniques/"); *p; p++)
        if (*p == '.')
            *p = '/';
    ks__buf_adds(&s->b, "\"external_references\":[{");
    ks__jmember(&s->b, "source_name", "mitre-attack", true);
    ks__jmember(&s->b, "external_id", tech, true);
    ks__jmember(&s->b, "url", url, false);
    ks__buf_adds(&s->b, "}],");
    end_sdo(s);
}

static void relationship(stix_out *s, const char *src, const char *rtype, const char *dst)
{
    char name[256], id[96];
    snprintf(name, sizeof name, "relationship:%s|%s|%s", src, rtype, dst);
    ks__stix_id("relationship", name, strlen(name), id, sizeof id);
    if (!begin_obj(s, "relationship", id))
        return;
    ks__jmember(&s->b, "relationship_type", rtype, true);
    ks__jmember(&s->b, "source_ref", src, true);
    ks__jmember(&s->b, "target_ref", dst, true);
    end_sdo(s);
}

static const char *sco_type(ks_obs_type t)
{
    switch (t) {
    case KS_OBS_IPV4: return "ipv4-addr";
    case KS_OBS_IPV6: return "ipv6-addr";
    case KS_OBS_DOMAIN: return "domain-name";
    case KS_OBS_URL: return "url";
    default: return "file";
    }
}

/* The SCO of an observable; its id in id. */
static void sco(stix_out *s, const ks_obs *o, char *id, size_t cap)
{
    static const char *const hname[] = {"SHA-256", "SHA-1", "MD5"};
    const char *type = sco_type(o->type);
    ks_buf key = KS_BUF_INIT;
    ks__buf_printf(&key, "%s:%d:%s", type, (int)o->type, o->value);
    ks__stix_id(type, key.p ? key.p : "", key.n, id, cap);
    ks__buf_release(&key);
    if (!begin_obj(s, type, id))
        return;
    if (o->type <= KS_OBS_MD5) {
        ks__buf_adds(&s->b, "\"hashes\":{");
        ks__jmember(&s->b, hname[o->type], o->value, false);
        ks__buf_adds(&s->b, "}}");
    } else if (o->type == KS_OBS_FILENAME) {
        ks__jmember(&s->b, "name", o->value, false);
        ks__buf_addc(&s->b, '}');
    } else {
        ks__jmember(&s->b, "value", o->value, false);
        ks__buf_addc(&s->b, '}');
    }
}

static void indicator(stix_out *s, const ks_finding *f, const ks_obs *o, char *id, size_t cap)
{
    ks_buf pat = KS_BUF_INIT;
    char name[512];
    ks__obs_stix_pattern(o, &pat);
    ks__stix_id("indicator", pat.p ? pat.p : "", pat.n, id, cap);
    if (begin_obj(s, "indicator", id)) {
        snprintf(name, sizeof name, "%s: %s", f->title ? f->title : f->rule_id, o->value);
        ks__jmember(&s->b, "name", name, true);
        ks__buf_adds(&s->b, "\"indicator_types\":[\"");
        ks__buf_adds(&s->b, f->severity >= KS_SEV_MEDIUM ? "malicious-activity" : "anomalous-activity");
        ks__buf_adds(&s->b, "\"],");
        ks__jmember(&s->b, "pattern", pat.p, true);
        ks__jmember(&s->b, "pattern_type", "stix", true);
        ks__buf_adds(&s->b, "\"valid_from\":");
        ks__jtime_ms(&s->b, f->first != KS_TIME_NONE ? f->first : s->now);
        ks__buf_addc(&s->b, ',');
        ks__buf_adds(&s->b, "\"labels\":[");
        ks__buf_addc(&s->b, '"');
        ks__buf_add_json_str(&s->b, f->rule_id, strlen(f->rule_id));
        ks__buf_adds(&s->b, "\"],");
        end_sdo(s);
    }
    ks__buf_release(&pat);
}

/* A stable name for a finding: same evidence and rule, same id. */
static void finding_key(const ks_finding *f, ks_buf *k)
{
    ks__buf_printf(k, "%s|%" PRId64 "|%" PRId64, f->rule_id, f->first, f->last);
    if (f->nevidence)
        ks__buf_printf(k, "|%s|%" PRIu64 "|%" PRIu64 "|%" PRIu64,
                       f->evidence[0].path ? f->evidence[0].path : "", f->evidence[0].record,
                       f->evidence[0].line, f->evidence[0].offset);
}

static void times(stix_out *s, const ks_finding *f, const char *k1, const char *k2)
{
    int64_t a = f->first != KS_TIME_NONE ? f->first : s->now;
    int64_t z = f->last != KS_TIME_NONE && f->last >= a ? f->last : a;
    ks__buf_printf(&s->b, "\"%s\":", k1);
    ks__jtime_ms(&s->b, a);
    ks__buf_printf(&s->b, ",\"%s\":", k2);
    ks__jtime_ms(&s->b, z);
    ks__buf_addc(&s->b, ',');
}

static void one_finding(stix_out *s, const ks_finding *f)
{
    ks_obs obs[KS_OBS_MAX];
    size_t nobs = ks__finding_observables(f, obs, KS_OBS_MAX);
    char ind0[96] = "", ap0[96] = "", od[96] = "", id[96];
    char (*scos)[96] = NULL;
    ks_buf key = KS_BUF_INIT;
    uint64_t count = f->event_count ? f->event_count : 1;
    if (count > 999999999)
        count = 999999999;

    for (size_t t = 0; t < f->ntechniques; t++) {
        attack_pattern(s, f->techniques[t], id, sizeof id);
        if (!ap0[0])
            memcpy(ap0, id, sizeof ap0);
    }
    if (nobs && !(scos = calloc(nobs, sizeof *scos)))
        nobs = 0;
    for (size_t i = 0; i < nobs; i++) {
        indicator(s, f, &obs[i], id, sizeof id);
        if (!ind0[0])
            memcpy(ind0, id, sizeof ind0);
        for (size_t t = 0; t < f->ntechniques; t++) {
            char ap[96];
            named_id("attack-pattern", f->techniques[t], ap, sizeof ap);
            relationship(s, id, "indicates", ap);
        }
        sco(s, &obs[i], scos[i], sizeof scos[i]);
    }
    finding_key(f, &key);
    if (nobs) {
        named_id("observed-data", key.p, od, sizeof od);
        if (begin_obj(s, "observed-data", od)) {
            times(s, f, "first_observed", "last_observed");
            ks__buf_printf(&s->b, "\"number_observed\":%" PRIu64 ",\"object_refs\":[", count);
            for (size_t i = 0; i < nobs; i++) {
                if (i)
                    ks__buf_addc(&s->b, ',');
                ks__buf_printf(&s->b, "\"%s\"", scos[i]);
            }
            ks__buf_adds(&s->b, "],");
            end_sdo(s);
        }
    }
    const char *of = ind0[0] ? ind0 : ap0[0] ? ap0 : NULL;
    if (of) {
        named_id("sighting", key.p, id, sizeof id);
        if (begin_obj(s, "sighting", id)) {
            ks__jmember(&s->b, "description", f->title, true);
            times(s, f, "first_seen", "last_seen");
            ks__buf_printf(&s->b, "\"count\":%" PRIu64 ",", count);
            ks__jmember(&s->b, "sighting_of_ref", of, true);
            if (od[0])
                ks__buf_printf(&s->b, "\"observed_data_refs\":[\"%s\"],", od);
            ks__buf_printf(&s->b, "\"where_sighted_refs\":[\"%s\"],", s->ident);
            ks__buf_adds(&s->b, "\"x_kensa_rule_id\":\"");
            ks__buf_add_json_str(&s->b, f->rule_id, strlen(f->rule_id));
            ks__buf_printf(&s->b, "\",\"x_kensa_severity\":\"%s\",", ks_severity_name(f->severity));
            end_sdo(s);
        }
    } else {
        ks_buf txt = KS_BUF_INIT;
        named_id("note", key.p, id, sizeof id);
        if (begin_obj(s, "note", id)) {
            ks__jmember(&s->b, "abstract", f->title, true);
            ks__buf_printf(&txt, "%s finding of rule %s (%s)", ks_severity_name(f->severity),
                           f->rule_id, f->detector ? f->detector : "kensa");
            if (f->nevidence && f->evidence[0].path)
                ks__buf_printf(&txt, " in %s", f->evidence[0].path);
            ks__jmember(&s->b, "content", txt.p, true);
            ks__buf_printf(&s->b, "\"object_refs\":[\"%s\"],", s->ident);
            end_sdo(s);
        }
        ks__buf_release(&txt);
    }
    free(scos);
    ks__buf_release(&key);
}

static int flush(stix_out *s)
{
    if (s->b.n && fwrite(s->b.p, 1, s->b.n, s->fp) != s->b.n)
        s->rc = KS_EIO;
    ks__buf_reset(&s->b);
    return s->rc;
}

static int stix_each(void *ud, const ks_finding *f)
{
    stix_out *s = ud;
    one_finding(s, f);
    return flush(s);
}

static int stix_write(ks_engine *e, FILE *fp)
{
    stix_out s = {.b = KS_BUF_INIT, .fp = fp, .first_obj = true, .rc = KS_OK};
    char bundle[96], name[64];
    s.now = ks__report_time();
    s.seen = ks__map_new(1024);
    if (!s.seen)
        return KS_ENOMEM;
    ks__stix_id("identity", "identity:kensa", strlen("identity:kensa"), s.ident, sizeof s.ident);
    const ks_stats *st = ks_engine_stats(e);
    snprintf(name, sizeof name, "bundle:%" PRId64 ":%" PRIu64, s.now, st->findings - st->findings_dropped);
    ks__stix_id("bundle", name, strlen(name), bundle, sizeof bundle);
    ks__buf_adds(&s.b, "{\"type\":\"bundle\",");
    ks__jmember(&s.b, "id", bundle, true);
    ks__buf_adds(&s.b, "\"objects\":[");
    if (begin_obj(&s, "identity", s.ident)) {
        ks__jmember(&s.b, "name", "kensa", true);
        ks__jmember(&s.b, "description", "kensa threat-hunting engine " KENSA_VERSION, true);
        ks__jmember(&s.b, "identity_class", "system", true);
        ks__buf_adds(&s.b, "\"created\":");
        ks__jtime_ms(&s.b, s.now);
        ks__buf_adds(&s.b, ",\"modified\":");
        ks__jtime_ms(&s.b, s.now);
        ks__buf_addc(&s.b, '}');
    }
    if (s.rc == KS_OK)
        ks__findings_each(e, stix_each, &s);
    ks__buf_adds(&s.b, "\n]}\n");
    flush(&s);
    ks__buf_release(&s.b);
    ks__map_free(s.seen);
    if (s.rc == KS_OK && fflush(fp) != 0)
        s.rc = KS_EIO;
    return s.rc;
}

/* A report: written at close from every finding (the spool), renamed in. */
static int stix_close(void *state)
{
    return ks__outbuf_stdio(state, stix_write);
}

const struct ks_output ks_output_stix = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "stix",
    .description = "STIX 2.1 bundle: indicators, sightings, attack patterns, observed data",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = ks__outbuf_open,
    .close = stix_close,
    .free = ks__outbuf_free,
};
