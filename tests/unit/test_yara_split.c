/* SPDX-License-Identifier: Apache-2.0
 *
 * The YARA rule reader behind gated rule sets (src/lib/detect/yara_split.c):
 * which gate each kind of condition gets, the literals taken from text,
 * hex and regex strings, what must stay always-run, and the part texts.
 * The end-to-end check that gating changes no match is in test_yara.c.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "detect/yara_split.h"

/* Gate of the only rule in src (or -1 when the file is kept whole). */
static int gate_of(const char *src, ks_ysplit *s)
{
    if (ks__ysplit_parse(src, strlen(src), s) != KS_OK)
        return -2;
    if (s->whole || s->nrules == 0)
        return -1;
    return (int)s->rules[s->nrules - 1].gate;
}

static bool has_lit(const ks_ysplit *s, const char *bytes, size_t n, bool caseless)
{
    for (size_t i = 0; i < s->nlits; i++)
        if (s->lits[i].len == n && !memcmp(s->lits[i].bytes, bytes, n) &&
            s->lits[i].caseless == caseless)
            return true;
    return false;
}

TEST(magic_gates)
{
    ks_ysplit s;
    CHECK_INT(gate_of("rule a { strings: $a = \"x\" condition: uint16(0) == 0x5a4d and $a }", &s),
              KS_YG_MAGIC);
    CHECK_INT(s.rules[0].magic.value, 0x5a4d);
    CHECK_INT(s.rules[0].magic.width, 2);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { condition: filesize < 1MB and (0x464C457F == uint32(0)) }", &s),
              KS_YG_MAGIC);
    CHECK_INT(s.rules[0].magic.width, 4);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("import \"pe\" rule a { condition: pe.is_pe and pe.number_of_sections > 2 }",
                      &s),
              KS_YG_MAGIC);
    ks__ysplit_free(&s);
    /* under "or" or "not": no gate */
    CHECK_INT(gate_of("rule a { condition: uint16(0) == 0x5a4d or filesize < 10 }", &s),
              KS_YG_ALWAYS);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { condition: not uint16(0) == 0x5a4d and filesize < 10 }", &s),
              KS_YG_ALWAYS);
    ks__ysplit_free(&s);
    /* a value wider than the read cannot be a gate */
    CHECK_INT(gate_of("rule a { condition: uint8(0) == 0x5a4d }", &s), KS_YG_ALWAYS);
    ks__ysplit_free(&s);
    uint8_t mz[] = {'M', 'Z', 0};
    ks_ymagic m = {.off = 0, .width = 2, .be = 0, .value = 0x5a4d};
    CHECK(ks__ymagic_holds(&m, mz, 3));
    CHECK(!ks__ymagic_holds(&m, mz, 1));
    m = (ks_ymagic){.off = 0, .width = 2, .be = 1, .value = 0x4d5a};
    CHECK(ks__ymagic_holds(&m, mz, 2));
}

/* pe members are undefined on a file the pe module does not parse (a
 * file not starting with "MZ"), so conjuncts using only them imply MZ. */
TEST(pe_conjuncts_imply_mz)
{
    static const char *const mz_rules[] = {
        "import \"pe\" rule a { strings: $a = \"x\" condition: $a and pe.number_of_sections > 2 }",
        "import \"pe\" rule a { condition: filesize < 1MB and not pe.is_dll() }",
        "import \"pe\" rule a { condition: pe.characteristics & pe.DLL and filesize > 10 }",
        "import \"pe\" rule a { condition: pe.version_info[\"CompanyName\"] contains \"x\" }",
        ("import \"pe\" rule a { condition: for any i in (0 .. pe.number_of_signatures) : "
         "(pe.signatures[i].issuer contains \"x\" and filesize > 2) }"),
        "import \"pe\" rule a { strings: $a = { 83 EC } condition: $a at pe.entry_point }",
        "rule a { condition: uint16be(0) == 0x4d5a and filesize > 2 }",
    };
    static const char *const always_rules[] = {
        "import \"pe\" rule a { condition: not pe.is_pe }",        /* is_pe is defined */
        "import \"pe\" rule a { condition: pe.is_pe == 0 }",
        "import \"pe\" rule a { condition: not defined pe.number_of_sections }",
        "import \"pe\" rule a { condition: not for any i in (0 .. pe.number_of_sections) : (true) }",
        "import \"pe\" rule a { condition: for all i in (0 .. pe.number_of_sections) : (true) }",
        "import \"pe\" rule a { strings: $a = \"x\" condition: not $a at pe.entry_point }",
        "import \"pe\" rule a { condition: pe.MACHINE_I386 == 0x14c }", /* a constant */
        "import \"pe\" rule a { condition: pe.number_of_sections == 1 or true }",
        "rule a { condition: pe.number_of_sections > 2 }",          /* not the pe module */
    };
    ks_ysplit s;
    for (size_t i = 0; i < sizeof mz_rules / sizeof *mz_rules; i++) {
        int g = gate_of(mz_rules[i], &s);
        if (g != KS_YG_MAGIC || s.rules[0].magic.value != 0x5a4d || s.rules[0].magic.be)
            fprintf(stderr, "expected the MZ gate: %s\n", mz_rules[i]);
        CHECK_INT(g, KS_YG_MAGIC);
        CHECK_INT(s.rules[0].magic.value, 0x5a4d);
        CHECK_INT(s.rules[0].magic.be, 0);
        ks__ysplit_free(&s);
    }
    for (size_t i = 0; i < sizeof always_rules / sizeof *always_rules; i++) {
        int g = gate_of(always_rules[i], &s);
        if (g != KS_YG_ALWAYS && g != -1)
            fprintf(stderr, "expected no gate: %s\n", always_rules[i]);
        CHECK(g == KS_YG_ALWAYS || g == -1);
        ks__ysplit_free(&s);
    }
}

TEST(magic_or_literal_gates)
{
    ks_ysplit s;
    CHECK_INT(gate_of("rule a { strings: $a = \"first literal\" $b = \"second literal\" "
                      "condition: uint16(0) == 0x5a4d and filesize < 1MB and 1 of them "
                      "or all of them }", &s),
              KS_YG_LITERAL); /* each side needs one of the strings: a plain literal gate */
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { strings: $a = \"first literal\" $b = \"second literal\" "
                      "condition: uint16(0) == 0x5a4d and filesize < 1MB or 2 of them }", &s),
              KS_YG_MIXED);
    CHECK_INT(s.rules[0].magic.value, 0x5a4d);
    CHECK_INT(s.rules[0].nlit, 2);
    CHECK(!s.rules[0].costly);
    ks__ysplit_free(&s);
    /* literals of 8 bytes: enough for a rule using pe, not for others */
    CHECK_INT(gate_of("import \"pe\" rule a { strings: $a = \"8 bytes!\" "
                      "condition: pe.imphash() == \"x\" or $a }", &s),
              KS_YG_MIXED);
    CHECK(s.rules[0].costly);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { strings: $a = \"8 bytes!\" "
                      "condition: uint16(0) == 0x5a4d or $a }", &s),
              KS_YG_ALWAYS);
    ks__ysplit_free(&s);
    /* two different magics: no single gate */
    CHECK_INT(gate_of("rule a { strings: $a = \"a long literal\" condition: uint16(0) == 0x5a4d "
                      "or uint32(0) == 0x464c457f or $a }", &s),
              KS_YG_ALWAYS);
    ks__ysplit_free(&s);
}

TEST(literal_gates)
{
    ks_ysplit s;
    CHECK_INT(gate_of("rule a { strings: $a = \"Exact Literal\\x41\" nocase wide "
                      "condition: any of them }", &s),
              KS_YG_LITERAL);
    CHECK(has_lit(&s, "E\0x\0a\0c\0t\0 \0L\0i\0t\0e\0r\0a\0l\0A\0", 28, true));
    CHECK_INT(s.nlits, 1); /* wide only: no ASCII form */
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { strings: $h = { 00 11 ?? 22 33 44 55 66 77 88 99 AA BB [2-3] CC } "
                      "condition: #h > 0 }", &s),
              KS_YG_LITERAL);
    CHECK(has_lit(&s, "\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb", 10, false));
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { strings: $r = /(ab)?cmd\\.exe \\/c whoami+[0-9]/i condition: $r }",
                      &s),
              KS_YG_LITERAL);
    CHECK(has_lit(&s, "cmd.exe /c whoami", 17, true)); /* i+: one i, then the run ends */
    ks__ysplit_free(&s);
    /* one of two disjuncts: both literals; all of: one literal suffices */
    CHECK_INT(gate_of("rule a { strings: $a = \"first literal\" $b = \"second literal\" "
                      "condition: $a at 0 or $b }", &s),
              KS_YG_LITERAL);
    CHECK_INT(s.nlits, 2);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { strings: $a = \"short\" $b = \"the longer literal\" $c = /x+/ "
                      "condition: all of them }", &s),
              KS_YG_LITERAL);
    CHECK(has_lit(&s, "the longer literal", 18, false));
    CHECK_INT(s.nlits, 1);
    ks__ysplit_free(&s);
}

/* The sizes a condition allows: conjuncts narrow, disjuncts widen to the
 * hull, and what is not a top-level comparison allows any size. */
TEST(size_facts)
{
    static const struct {
        const char *cond;
        uint64_t lo, hi;
    } cases[] = {
        {"filesize < 2MB and $a", 0, 2 * 1024 * 1024 - 1},
        {"$a and filesize <= 100 and filesize > 10", 11, 100},
        {"100KB > filesize and $a", 0, 100 * 1024 - 1},
        {"$a and 64 <= filesize", 64, UINT64_MAX},
        {"filesize == 0x20", 32, 32},
        {"($a and filesize < 100) or (filesize < 4KB and $a)", 0, 4095},
        {"filesize > 10 and (filesize < 50 or filesize < 70)", 11, 69},
        /* not provable: any size */
        {"$a or filesize < 100", 0, UINT64_MAX},
        {"not filesize < 100", 0, UINT64_MAX},
        {"filesize < 0 and $a", 0, UINT64_MAX},
        {"filesize - 1 < 10", 0, UINT64_MAX},
        {"for any i in (1..2) : (filesize < 10)", 0, UINT64_MAX},
        {"filesize < 10 and filesize > 20", 0, UINT64_MAX}, /* never true: left alone */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char src[512];
        ks_ysplit s;
        snprintf(src, sizeof src, "rule a { strings: $a = \"x\" condition: %s }", cases[i].cond);
        CHECK(ks__ysplit_parse(src, strlen(src), &s) == KS_OK);
        CHECK(!s.whole && s.nrules == 1);
        if (s.nrules == 1 && (s.rules[0].size_min != cases[i].lo || s.rules[0].size_max != cases[i].hi)) {
            fprintf(stderr, "%s: [%llu, %llu]\n", cases[i].cond,
                    (unsigned long long)s.rules[0].size_min, (unsigned long long)s.rules[0].size_max);
            CHECK(false);
        }
        ks__ysplit_free(&s);
    }
    /* a rule named by another is not analysed: any size */
    ks_ysplit s;
    static const char linked[] = "rule a { condition: filesize < 10 } rule b { condition: a }";
    CHECK(ks__ysplit_parse(linked, sizeof linked - 1, &s) == KS_OK);
    CHECK(s.nrules == 2 && s.rules[0].size_max == UINT64_MAX);
    ks__ysplit_free(&s);
}

TEST(what_stays_always)
{
    ks_ysplit s;
    static const char *const always[] = {
        /* transformed bytes */
        "rule a { strings: $a = \"xored literal text\" xor condition: $a }",
        "rule a { strings: $a = \"based literal text\" base64 condition: $a }",
        /* short literal, alternation, a string without literal in the set */
        "rule a { strings: $a = \"cmd\" condition: $a }",
        "rule a { strings: $r = /long(er|est) alternative|other branch/ condition: $r }",
        "rule a { strings: $a = \"a long literal\" $r = /[a-z]+/ condition: any of them }",
        /* negation, loops, counts that allow zero */
        "rule a { strings: $a = \"a long literal\" condition: not $a }",
        "rule a { strings: $a = \"a long literal\" condition: for all of them : ( # == 0 ) }",
        "rule a { strings: $a = \"a long literal\" condition: #a >= 0 }",
        "rule a { strings: $a = \"a long literal\" condition: #a < 3 }",
    };
    for (size_t i = 0; i < sizeof always / sizeof *always; i++) {
        int g = gate_of(always[i], &s);
        if (g != KS_YG_ALWAYS)
            fprintf(stderr, "gated: %s\n", always[i]);
        CHECK_INT(g, KS_YG_ALWAYS);
        ks__ysplit_free(&s);
    }
    /* whole files: global rules, includes, unreadable text */
    CHECK_INT(gate_of("global rule g { condition: true } rule a { condition: true }", &s), -1);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("include \"x.yar\" rule a { condition: true }", &s), -1);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { strings: $a = \"unterminated condition: $a }", &s), -1);
    ks__ysplit_free(&s);
    CHECK_INT(gate_of("rule a { condition: true } garbage", &s), -1);
    ks__ysplit_free(&s);
}

TEST(references_and_parts)
{
    static const char src[] =
        "import \"pe\"\nimport \"math\"\n"
        "// a comment naming rule fake { }\n"
        "private rule mz { condition: uint16(0) == 0x5a4d }\n"
        "rule reported { strings: $a = \"reported literal\" condition: $a }\n"
        "rule uses_private { strings: $a = \"gated literal one\" condition: mz and $a }\n"
        "rule uses_reported { strings: $a = \"gated literal two\" condition: reported and $a }\n"
        "rule mathy { strings: $a = \"entropy literal\" condition: $a and math.entropy(0, 10) > 1 }\n";
    ks_ysplit s;
    CHECK(ks__ysplit_parse(src, sizeof src - 1, &s) == KS_OK);
    CHECK(!s.whole);
    CHECK_INT(s.nrules, 5);
    if (s.nrules != 5) {
        ks__ysplit_free(&s);
        return;
    }
    CHECK_INT(s.rules[1].gate, KS_YG_ALWAYS); /* named by a rule: stays */
    CHECK_INT(s.rules[2].gate, KS_YG_LITERAL); /* names a private rule: gated, copies it */
    CHECK_INT(s.rules[3].gate, KS_YG_ALWAYS); /* names a reported rule */
    CHECK_INT(s.rules[4].gate, KS_YG_LITERAL);
    bool pick[5] = {false, false, true, false, false};
    ks_buf b = {0};
    CHECK(ks__ysplit_text(src, &s, pick, &b) == KS_OK);
    ks__buf_addc(&b, 0);
    CHECK(strstr(b.p, "private rule mz") != NULL);
    CHECK(strstr(b.p, "rule uses_private") != NULL);
    CHECK(strstr(b.p, "rule reported") == NULL);
    CHECK(strstr(b.p, "import \"math\"") == NULL); /* imports only as used */
    CHECK(strstr(b.p, "fake") == NULL);
    ks__buf_reset(&b);
    bool pick2[5] = {false, false, false, false, true};
    CHECK(ks__ysplit_text(src, &s, pick2, &b) == KS_OK);
    ks__buf_addc(&b, 0);
    CHECK(strstr(b.p, "import \"math\"") != NULL);
    CHECK(strstr(b.p, "import \"pe\"") == NULL);
    ks__buf_release(&b);
    ks__ysplit_free(&s);
}

TEST(hostile_sources)
{
    /* deep nesting, long chains, lone delimiters: parsed or kept whole,
     * never a crash or a hang */
    size_t n = 400000;
    char *src = malloc(n + 200);
    strcpy(src, "rule a { strings: $a = \"deep literal here\" condition: ");
    size_t k = strlen(src);
    for (size_t i = 0; i < 50000; i++)
        src[k++] = '(';
    memcpy(src + k, "$a", 2);
    k += 2;
    for (size_t i = 0; i < 50000; i++)
        src[k++] = ')';
    strcpy(src + k, " }");
    ks_ysplit s;
    CHECK(ks__ysplit_parse(src, strlen(src), &s) == KS_OK);
    ks__ysplit_free(&s);
    k = strlen("rule a { strings: $a = \"deep literal here\" condition: ");
    for (size_t i = 0; i < 30000; i++) {
        memcpy(src + k, "$a and ", 7);
        k += 7;
    }
    strcpy(src + k, "$a }");
    CHECK(ks__ysplit_parse(src, strlen(src), &s) == KS_OK);
    ks__ysplit_free(&s);
    static const char *const odd[] = {"", "rule", "rule a {", "rule a { strings: $a = {",
                                      "rule a { strings: $a = /x", "/*", "import",
                                      "rule a { condition: \"x\" matches", "\"", "$", "#a >"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        CHECK(ks__ysplit_parse(odd[i], strlen(odd[i]), &s) == KS_OK);
        ks__ysplit_free(&s);
    }
    free(src);
}
