/* SPDX-License-Identifier: Apache-2.0
 *
 * The YARA gate's per-file decision (src/lib/detect/yara_sets.c,
 * ks__ysets_select): which compiled sets a file gets, and which rules are
 * known false on it before libyara runs. Rules are built into sets here
 * as the detector builds them; files are only heads and sizes (and, for
 * literals, content). A rule whose header test holds must be kept, one
 * whose header, size or required literal rules it out dropped. The
 * end-to-end check that these decisions change no match is test_yara's
 * fact_gates_match_like_one_set.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "detect/yara_sets.h"

static int mk_compiler(void *ud, YR_COMPILER **out)
{
    (void)ud;
    return yr_compiler_create(out) == ERROR_SUCCESS ? KS_OK : KS_ENOMEM;
}

typedef struct content {
    const uint8_t *p;
    size_t n;
} content;

static int read_content(void *ud, ks_chunk_fn fn, void *fnud)
{
    const content *c = ud;
    fn(fnud, c->p, c->n, 0);
    return KS_OK;
}

/* What the gate decided for one file. */
typedef struct verdict {
    bool any_set;        /* some set runs */
    char out[4096];      /* " name name ": rules known false in running sets */
    char kept[4096];     /* " name name ": rules of running sets not known false */
} verdict;

static void decide(const ks_ysets *s, ks_ygatews *g, const void *data, size_t n, uint64_t size,
                   verdict *v)
{
    bool run[KS_YSETS_MAX];
    content c = {data, n};
    memset(v, 0, sizeof *v);
    ks__ysets_select(s, g, data, n < 4096 ? n : 4096, size, read_content, &c, run);
    for (size_t i = 0; i < s->n; i++) {
        if (!run[i])
            continue;
        YR_RULES *rules = s->set[i].rules;
        uint8_t *bits = calloc(rules->num_rules / 8 + 1, 1);
        const YR_RULE *r;
        v->any_set = true;
        ks__ysets_gated_out(s, i, g, bits);
        yr_rules_foreach(rules, r) {
            size_t idx = (size_t)(r - rules->rules_table);
            char *dst = bits[idx / 8] >> (idx % 8) & 1 ? v->out : v->kept;
            size_t l = strlen(dst);
            snprintf(dst + l, 4096 - l, " %s ", r->identifier);
        }
        free(bits);
    }
}

static bool has(const char *list, const char *name)
{
    char w[128];
    snprintf(w, sizeof w, " %s ", name);
    return strstr(list, w) != NULL;
}

/* An EVTX file header ("ElfFile\0") and a PE's ("MZ"), padded. */
static size_t evtx_head(uint8_t *b, size_t n)
{
    memset(b, 0, n);
    memcpy(b, "ElfFile\0", 8);
    return n;
}

static size_t pe_head(uint8_t *b, size_t n)
{
    memset(b, 0, n);
    b[0] = 'M', b[1] = 'Z';
    memcpy(b + 200, "some text in the body", 21);
    return n;
}

static const char rules_src[] =
    /* header tests: too few rules per magic for a set of their own, so
     * they sit in the always-run set with a per-rule fact */
    "rule pe_small { strings: $a = \"body\" condition: uint16(0) == 0x5a4d and filesize < 1MB and $a }\n"
    "rule elf_rule { condition: uint32(0) == 0x464c457f }\n"
    "rule evtx_rule { condition: uint32(0) == 0x46666c45 and uint32(4) == 0x00656c69 }\n"
    /* sizes only */
    "rule small_script { strings: $r = /ev[a]l\\s*\\(/ condition: filesize < 2MB and $r }\n"
    "rule big_only { strings: $a = \"zz\" condition: filesize > 10MB and $a }\n"
    /* a regex-only rule whose required literal is long enough to gate it */
    "rule regex_lit { strings: $r = /kensa-required-literal-[0-9]{2,8}/ condition: $r }\n"
    /* no fact at all: the set holding it always runs */
    "rule open_rule { strings: $r = /[a-z]{3}[0-9]/ condition: $r and filesize < 100 }\n";

TEST(gate_keeps_and_drops)
{
    CHECK(yr_initialize() == ERROR_SUCCESS);
    const char *path = ks_test_write("gate.yar", rules_src, sizeof rules_src - 1);
    char *paths[] = {(char *)path};
    bool good[] = {true};
    ks_ysets s;
    ks_ygatews g;
    verdict v;
    uint8_t buf[512];
    CHECK(ks__ysets_build(&s, paths, good, 1, mk_compiler, NULL) == KS_OK);
    CHECK(ks__ysets_ws_init(&s, &g) == KS_OK);

    /* a small PE: its header rule kept, the others' headers drop them */
    decide(&s, &g, buf, pe_head(buf, sizeof buf), sizeof buf, &v);
    CHECK(v.any_set);
    CHECK(has(v.kept, "pe_small"));
    CHECK(has(v.out, "elf_rule") || !has(v.kept, "elf_rule"));
    CHECK(has(v.out, "evtx_rule") || !has(v.kept, "evtx_rule"));
    CHECK(!has(v.kept, "big_only"));
    CHECK(!has(v.kept, "regex_lit")); /* its literal is not in the file */

    /* an EVTX header: the EVTX rule kept, the PE one dropped */
    decide(&s, &g, buf, evtx_head(buf, sizeof buf), sizeof buf, &v);
    CHECK(has(v.kept, "evtx_rule"));
    CHECK(!has(v.kept, "pe_small"));
    CHECK(!has(v.kept, "elf_rule"));

    /* the same header on a 40 MB log: no rule but big_only can hold, and
     * its string ("zz") is not known absent, so only its set runs */
    decide(&s, &g, buf, evtx_head(buf, sizeof buf), 40u << 20, &v);
    CHECK(!has(v.kept, "pe_small"));
    CHECK(!has(v.kept, "small_script"));
    CHECK(!has(v.kept, "open_rule"));
    CHECK(has(v.kept, "big_only"));

    /* a 3 MB file with an unknown header: nothing but big_only's size
     * could hold, and that says > 10 MB: no libyara pass at all */
    memset(buf, 'x', sizeof buf);
    decide(&s, &g, buf, sizeof buf, 3u << 20, &v);
    CHECK(!v.any_set);

    /* the regex's required literal in the content opens its rule */
    static const char text[] = "a line with kensa-required-literal-1234 in it";
    decide(&s, &g, text, sizeof text - 1, sizeof text - 1, &v);
    CHECK(has(v.kept, "regex_lit"));
    CHECK(has(v.kept, "small_script"));
    decide(&s, &g, "no literal here at all", 22, 22, &v);
    CHECK(!has(v.kept, "regex_lit"));
    CHECK(has(v.kept, "open_rule")); /* no fact rules it out */

    ks__ysets_ws_free(&g);
    ks__ysets_free(&s);
    yr_finalize();
}



/* YARA regex bodies as Vectorscan reads them for the prefilter: at least
 * as loose as libyara, or refused. */
TEST(regex_translation)
{
    static const struct {
        const char *yara, *hs; /* hs NULL: refused */
    } cases[] = {
        {"abc", "abc"},
        {"a\\sb", "a[\\t\\n\\x0b\\f\\r ]b"},
        {"\\w+\\d\\S", "[a-zA-Z0-9_]+[0-9][^\\t\\n\\x0b\\f\\r ]"},
        {"[\\w.]{1,3}", "[a-zA-Z0-9_.]{1,3}"},
        {"x{,3}y", "x{0,3}y"},
        {"[]a]b", "[\\]a]b"},
        {"[^]a]", "[^\\]a]"},
        {"\\x41\\.\\/", "\\x41\\.\\/"},
        {"\\bword\\b", "\\bword\\b"},
        {"[\\S]", NULL},
        {"\\q", NULL},
        {"[abc", NULL},
        {"\\x4", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ks_buf b = {0};
        bool ok = ks__yre_translate(cases[i].yara, strlen(cases[i].yara), &b);
        ks__buf_addc(&b, 0);
        if (cases[i].hs) {
            CHECK(ok);
            if (ok && strcmp(b.p, cases[i].hs)) {
                fprintf(stderr, "%s -> %s (want %s)\n", cases[i].yara, b.p, cases[i].hs);
                CHECK(false);
            }
        } else {
            CHECK(!ok);
        }
        ks__buf_release(&b);
    }
}

/* A regex string the prefilter does not find is switched off; one it
 * finds (or cannot tell) stays on. */
TEST(regex_prefilter_per_file)
{
    CHECK(yr_initialize() == ERROR_SUCCESS);
    static const char src[] =
        "rule re_a { strings: $a = /ev[a]l\\s{,2}\\(\\$_POST/ nocase condition: $a }\n"
        "rule re_b { strings: $b = /zz[0-9]+q/ $t = \"text\" condition: $b or $t }\n";
    const char *path = ks_test_write("re.yar", src, sizeof src - 1);
    char *paths[] = {(char *)path};
    bool good[] = {true};
    ks_ysets s;
    ks_ygatews g;
    bool run[KS_YSETS_MAX];
    CHECK(ks__ysets_build(&s, paths, good, 1, mk_compiler, NULL) == KS_OK);
    CHECK(ks__ysets_ws_init(&s, &g) == KS_OK);
    CHECK(s.rf.nexpr == 2 && s.rf.db != NULL);
    static const char text[] = "x EVAL\v ($_post y";
    content c = {(const uint8_t *)text, sizeof text - 1};
    ks__ysets_select(&s, &g, c.p, c.n, c.n, read_content, &c, run);
    ks__ysets_prefilter(&s, &g, run, c.p, c.n);
    CHECK(run[0]);
    CHECK(g.re.known);
    size_t on = 0, off = 0;
    for (size_t k = 0; k < s.set[0].nre; k++) {
        bool hit = g.re.hit[s.set[0].re[k].expr / 64] >> (s.set[0].re[k].expr % 64) & 1;
        on += hit, off += !hit;
    }
    CHECK_INT(on, 1);  /* $a: \\s takes \\v as YARA's does */
    CHECK_INT(off, 1); /* $b */
    ks__ysets_ws_free(&g);
    ks__ysets_free(&s);
    yr_finalize();
}
