// SPDX-License-Identifier: Apache-2.0
//
// libphonenumber (C++) behind one C function for the text scanner: parse a
// candidate, say whether the library finds the number valid (assigned
// ranges of its region: 2) or only possible (a plausible length: 1), and
// give its E.164 form (the normalised value whose SHA-256 a personal-data
// finding carries). Exceptions never cross into C.
//
// Parsing costs microseconds (ICU regexes), and mail repeats the same
// numbers (signatures, footers, a header's "+0000" time zone that the
// region hints read): each thread remembers its last answers (E.164,
// grouping per region, the region of a +number, the first region of a
// list that takes a number) in small tables that are emptied when full
// (memory bounded). Regions a number's length and shape rule out are not
// parsed at all (ks__phone_may_be_valid, below). Matching with STRICT_GROUPING built
// a PhoneNumberMatcher per number and region: half a scan of mail before.
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <phonenumbers/logger.h>
#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumbermatch.h>
#include <phonenumbers/phonenumbermatcher.h>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::NullLogger;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberMatch;
using i18n::phonenumbers::PhoneNumberMatcher;
using i18n::phonenumbers::PhoneNumberUtil;

extern "C" int ks__phone_e164(const char *s, size_t n, const char *region, char *out, size_t cap);
extern "C" bool ks__phone_grouped(const char *s, size_t n, const char *region);
extern "C" bool ks__phone_region(const char *s, size_t n, char out[3]);
extern "C" int ks__phone_first(const char *s, size_t n, const char *const *regions, size_t nr,
                               int grouped, char *out, size_t cap);
extern "C" bool ks__phone_may_be_valid(const char *s, size_t n, const char *region);

namespace {
struct answer {
    int verdict;
    std::string e164;
    int grouped = -1; // ks__phone_grouped: 1, 0, -1 not asked yet
};
constexpr size_t kCacheMax = 4096;
thread_local std::unordered_map<std::string, answer> cache;  // region '\0' number
thread_local std::unordered_map<std::string, std::string> regions; // +number -> region, "" none
struct first {
    int index; // of the region found, -1 none
    std::string e164;
};
thread_local std::unordered_map<std::string, first> firsts; // ks__phone_first's answers

PhoneNumberUtil *util()
{
    static std::once_flag quiet;
    PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
    // The library logs parse failures to stderr by default; evidence
    // is full of numbers that are not phones.
    std::call_once(quiet, [u] { u->SetLogger(new NullLogger()); });
    return u;
}

int parse(const std::string &number, const char *region, std::string *e164)
{
    PhoneNumberUtil *u = util();
    PhoneNumber num;
    if (u->Parse(number, region, &num) != PhoneNumberUtil::NO_PARSING_ERROR)
        return 0;
    int verdict = u->IsValidNumber(num) ? 2 : u->IsPossibleNumber(num) ? 1 : 0;
    if (verdict)
        u->Format(num, PhoneNumberUtil::E164, e164);
    return verdict;
}

// The cached answer for number in region (parsed on a miss).
answer &lookup(const char *s, size_t n, const char *region)
{
    std::string key(region);
    key.push_back('\0');
    key.append(s, n);
    auto hit = cache.find(key);
    if (hit == cache.end()) {
        answer a;
        a.verdict = parse(std::string(s, n), region, &a.e164);
        if (cache.size() >= kCacheMax)
            cache.clear();
        hit = cache.emplace(std::move(key), std::move(a)).first;
    }
    return hit->second;
}
} // namespace

extern "C" int ks__phone_e164(const char *s, size_t n, const char *region, char *out, size_t cap)
{
    try {
        const answer &a = lookup(s, n, region ? region : "US");
        if (!a.verdict || a.e164.size() + 1 > cap)
            return 0;
        std::memcpy(out, a.e164.c_str(), a.e164.size() + 1);
        return a.verdict;
    } catch (...) {
        return 0;
    }
}

extern "C" bool ks__phone_grouped(const char *s, size_t n, const char *region)
{
    try {
        answer &a = lookup(s, n, region);
        if (a.grouped < 0) {
            std::string text(s, n);
            PhoneNumberMatcher m(*util(), text, region, PhoneNumberMatcher::STRICT_GROUPING, 4);
            PhoneNumberMatch match;
            a.grouped = 0;
            while (!a.grouped && m.HasNext())
                a.grouped = m.Next(&match) && match.start() == 0 && (size_t)match.length() == n;
        }
        return a.grouped > 0;
    } catch (...) {
        return false;
    }
}

extern "C" bool ks__phone_region(const char *s, size_t n, char out[3])
{
    try {
        std::string key(s, n);
        auto hit = regions.find(key);
        if (hit == regions.end()) {
            PhoneNumberUtil *u = util();
            PhoneNumber num;
            std::string r;
            if (u->Parse(key, "ZZ", &num) == PhoneNumberUtil::NO_PARSING_ERROR)
                u->GetRegionCodeForCountryCode(num.country_code(), &r);
            if (r.size() != 2 || r == "ZZ")
                r.clear();
            if (regions.size() >= kCacheMax)
                regions.clear();
            hit = regions.emplace(std::move(key), std::move(r)).first;
        }
        if (hit->second.empty())
            return false;
        std::memcpy(out, hit->second.c_str(), 3);
        return true;
    } catch (...) {
        return false;
    }
}

// ---- regions a number cannot be valid in, from libphonenumber's metadata -----------
//
// A national number of the corpus is tried in up to 32 guessed regions, a
// Parse + IsValidNumber each (ICU regexes: microseconds), and most are
// valid in none. IsValidNumber requires the national significant number
// (NSN) to have one of the lengths the general description of some
// region of its country code lists and to match that description's
// pattern whole; Parse (for a number without '+',
// not starting with the region's international prefix) takes the NSN
// from the digits by stripping at most the country code and national
// prefixes (national_prefix_for_parsing, twice at most: once with the
// region's, once with its country's main region's). So when no such
// strip leaves a listed length that the pattern takes, the region cannot
// take the number and is not parsed (PCRE2, JIT, reads the metadata's
// patterns as ICU does: digits, classes, groups, repeats, alternatives). Regions with a national_prefix_transform_rule (which can
// add digits), no listed lengths or a prefix pattern of unbounded width
// are always parsed. Everything is read from the metadata libphonenumber
// itself loads (its serialised PhoneMetadataCollection, field numbers
// from its generated header), never copied by hand; a test checks the
// filter against Parse + IsValidNumber on random digits in every region.
namespace i18n {
namespace phonenumbers {
int metadata_size();
const void *metadata_get();
} // namespace phonenumbers
} // namespace i18n

namespace {
using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumberDesc;

// The protobuf wire format, as far as reading these fields needs: the
// generated classes' objects would tie kensa to libprotobuf's variables
// (the kensa command binds libphonenumber on first use: functions only).
struct wire {
    const uint8_t *p, *end;
    bool varint(uint64_t *v)
    {
        *v = 0;
        for (int s = 0; p < end && s < 64; s += 7) {
            uint8_t b = *p++;
            *v |= (uint64_t)(b & 0x7f) << s;
            if (!(b & 0x80))
                return true;
        }
        return false;
    }
    // The next field: its number, wire type and, for length-delimited
    // ones, its bytes; false at the end or on damage.
    bool next(uint32_t *field, unsigned *type, uint64_t *val, wire *sub)
    {
        uint64_t key;
        if (p >= end || !varint(&key))
            return false;
        *field = (uint32_t)(key >> 3);
        *type = key & 7;
        switch (*type) {
        case 0:
            return varint(val);
        case 1:
            if (end - p < 8)
                return false;
            p += 8;
            return true;
        case 5:
            if (end - p < 4)
                return false;
            p += 4;
            return true;
        case 2:
            if (!varint(val) || *val > (uint64_t)(end - p))
                return false;
            *sub = wire{p, p + *val};
            p += *val;
            return true;
        default:
            return false;
        }
    }
};

struct meta {
    std::string id, idd, npfp, general; // general: the general description's pattern
    bool transform = false, main = false, lens_listed = false;
    int cc = 0;
    uint32_t lens = 0; // bit L: the general description lists length L
};

bool read_meta(wire w, meta *m)
{
    uint32_t f;
    unsigned t;
    uint64_t v;
    wire s{};
    while (w.next(&f, &t, &v, &s)) {
        std::string str = t == 2 ? std::string((const char *)s.p, (size_t)(s.end - s.p)) : "";
        if (f == PhoneMetadata::kIdFieldNumber && t == 2)
            m->id = str;
        else if (f == PhoneMetadata::kCountryCodeFieldNumber && t == 0)
            m->cc = (int)v;
        else if (f == PhoneMetadata::kInternationalPrefixFieldNumber && t == 2)
            m->idd = str;
        else if (f == PhoneMetadata::kNationalPrefixForParsingFieldNumber && t == 2)
            m->npfp = str;
        else if (f == PhoneMetadata::kNationalPrefixTransformRuleFieldNumber && t == 2)
            m->transform = !str.empty();
        else if (f == PhoneMetadata::kMainCountryForCodeFieldNumber && t == 0)
            m->main = v != 0;
        else if (f == PhoneMetadata::kGeneralDescFieldNumber && t == 2) {
            uint32_t g;
            unsigned gt;
            uint64_t gv;
            wire gs{};
            while (s.next(&g, &gt, &gv, &gs)) {
                if (g == PhoneNumberDesc::kNationalNumberPatternFieldNumber && gt == 2)
                    m->general.assign((const char *)gs.p, (size_t)(gs.end - gs.p));
                if (g != PhoneNumberDesc::kPossibleLengthFieldNumber)
                    continue;
                if (gt == 0 && gv < 32) {
                    m->lens |= 1u << gv;
                    m->lens_listed = true;
                } else if (gt == 2) { // packed
                    uint64_t x;
                    while (gs.p < gs.end && gs.varint(&x))
                        if (x < 32) {
                            m->lens |= 1u << x;
                            m->lens_listed = true;
                        }
                }
            }
        }
    }
    return w.p == w.end;
}

// Anchored, as libphonenumber's Consume reads these patterns (whole: as
// its FullMatch does).
pcre2_code *anchored(const std::string &re, bool whole = false)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re.c_str(), re.size(),
                                  PCRE2_ANCHORED | (whole ? PCRE2_ENDANCHORED : 0), &err, &off, nullptr);
    if (c)
        pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

// The most characters a pattern matches, or -1 (unbounded, unreadable).
int max_width(const std::string &re)
{
    if (re.empty())
        return 0;
    hs_expr_info_t *info = nullptr;
    hs_compile_error_t *err = nullptr;
    if (hs_expression_info(re.c_str(), 0, &info, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return -1;
    }
    int w = info->max_width == UINT_MAX || info->max_width > 64 ? -1 : (int)info->max_width;
    free(info);
    return w;
}

struct region_filter {
    bool on = false;         // false: always parsed
    uint32_t lens = 0;       // lengths valid NSNs of the country code have
    std::string cc;          // the country calling code's digits
    pcre2_code *idd = nullptr, *npfp = nullptr;
    std::vector<pcre2_code *> general; // the country code's regions' general patterns
    int strip_a = 0, strip_b = 0; // digits the national prefix strips: own; own + main's
};

// The metadata, read once; a region's filter is made the first time the
// region is asked about (patterns compiled for the few regions the scanner
// guesses in, not all 250: compiling them all was 15 ms of a scan), a
// country code's general patterns once for all its regions.
struct filters {
    std::mutex lock;
    std::vector<meta> all;
    std::unordered_map<std::string, region_filter> regions;
    std::unordered_map<int, std::vector<pcre2_code *>> general; // by country code
    bool ok = false;
};

filters *read_filters()
{
    auto *fs = new filters();
    wire w{(const uint8_t *)i18n::phonenumbers::metadata_get(),
           (const uint8_t *)i18n::phonenumbers::metadata_get() + i18n::phonenumbers::metadata_size()};
    uint32_t f;
    unsigned t;
    uint64_t v;
    wire s{};
    bool ok = true;
    while (ok && w.next(&f, &t, &v, &s))
        if (f == PhoneMetadataCollection::kMetadataFieldNumber && t == 2) {
            meta m;
            ok = read_meta(s, &m);
            fs->all.push_back(m);
        }
    fs->ok = ok && w.p == w.end; // else every region is parsed
    return fs;
}

// The filter of region (fs->lock held); off when the metadata has no such
// region or the number cannot be bounded there.
const region_filter &make_filter(filters *fs, const std::string &region)
{
    auto hit = fs->regions.find(region);
    if (hit != fs->regions.end())
        return hit->second;
    region_filter &rf = fs->regions[region];
    const meta *r = nullptr;
    for (const meta &m : fs->all)
        if (m.id == region)
            r = &m;
    if (!fs->ok || !r || !r->cc)
        return rf;
    const meta *main = r;
    bool filterable = !r->transform;
    bool compiled = fs->general.count(r->cc);
    std::vector<pcre2_code *> &general = fs->general[r->cc];
    for (const meta &o : fs->all) // every region of the country code
        if (o.cc == r->cc) {
            rf.lens |= o.lens;
            filterable &= o.lens_listed && !o.general.empty();
            if (o.main)
                main = &o;
            if (!compiled)
                general.push_back(o.general.empty() ? nullptr : anchored(o.general, true));
        }
    for (pcre2_code *g : general)
        filterable &= g != nullptr;
    filterable &= !main->transform;
    int wa = max_width(r->npfp), wm = max_width(main->npfp);
    rf.idd = r->idd.empty() ? nullptr : anchored(r->idd);
    rf.npfp = r->npfp.empty() ? nullptr : anchored(r->npfp);
    filterable &= wa >= 0 && wm >= 0 && (r->idd.empty() || rf.idd) && (r->npfp.empty() || rf.npfp);
    rf.general = general;
    rf.on = filterable;
    rf.cc = std::to_string(r->cc);
    rf.strip_a = wa;
    rf.strip_b = wa + wm;
    return rf;
}

bool anchored_match(pcre2_code *re, const char *d, size_t n)
{
    thread_local pcre2_match_data *md = pcre2_match_data_create(16, nullptr);
    return re && md && pcre2_match(re, (PCRE2_SPTR)d, n, 0, 0, md, nullptr) >= 0;
}

// True when the NSN d[0..n) has a listed length and a general pattern of
// the country code takes it whole.
bool nsn_ok(const region_filter &rf, const char *d, long n)
{
    if (n <= 0 || n >= 32 || !(rf.lens >> n & 1))
        return false;
    for (pcre2_code *g : rf.general)
        if (anchored_match(g, d, (size_t)n))
            return true;
    return false;
}
} // namespace

// False when s (no '+') cannot be a valid number read in region, true
// when it may be (Parse + IsValidNumber tell).
namespace {
bool may_be_valid(const char *s, size_t n, const char *region)
{
    static filters *fs = read_filters(); // thread-safe once (C++11 statics)
    if (memchr(s, '+', n))
        return true;
    const region_filter *rfp;
    {
        std::lock_guard<std::mutex> g(fs->lock);
        rfp = &make_filter(fs, region); // entries stay where they are (node map)
    }
    const region_filter &rf = *rfp;
    if (!rf.on)
        return true;
    char d[40];
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9') {
            if (nd == sizeof d)
                return true;
            d[nd++] = s[i];
        }
    if (anchored_match(rf.idd, d, nd)) // read as dialled abroad: another country's number
        return true;
    // the NSN is d less a prefix: none, a national prefix, or the country
    // code and national prefixes
    if (nsn_ok(rf, d, (long)nd))
        return true;
    if (anchored_match(rf.npfp, d, nd))
        for (int k = 1; k <= rf.strip_a && (size_t)k < nd; k++)
            if (nsn_ok(rf, d + k, (long)nd - k))
                return true;
    size_t c = rf.cc.size();
    if (nd > c && !memcmp(d, rf.cc.data(), c))
        for (int k = 0; k <= rf.strip_b && c + (size_t)k < nd; k++)
            if (nsn_ok(rf, d + c + k, (long)(nd - c) - k))
                return true;
    return false;
}
} // namespace

extern "C" bool ks__phone_may_be_valid(const char *s, size_t n, const char *region)
{
    try {
        return may_be_valid(s, n, region);
    } catch (...) {
        return true; // parsed, as without the filter
    }
}

// True when s is written exactly as region's national format writes the
// number: the same digits, broken into groups at the same places (the
// separators themselves may differ). EXACT/STRICT_GROUPING accept more:
// "090-1234-5678" passes as Indian (090123 45678) as well as Japanese.
bool own_format(const char *s, size_t n, const char *region)
{
    PhoneNumberUtil *u = util();
    PhoneNumber num;
    std::string nat;
    if (u->Parse(std::string(s, n), region, &num) != PhoneNumberUtil::NO_PARSING_ERROR)
        return false;
    u->Format(num, PhoneNumberUtil::NATIONAL, &nat);
    auto shape = [](const char *p, size_t k) {
        std::string o;
        for (size_t i = 0; i < k; i++) {
            if (p[i] >= '0' && p[i] <= '9')
                o.push_back(p[i]);
            else if (!o.empty() && o.back() != '|')
                o.push_back('|');
        }
        while (!o.empty() && o.back() == '|')
            o.pop_back();
        return o;
    };
    return shape(s, n) == shape(nat.data(), nat.size());
}

extern "C" int ks__phone_first(const char *s, size_t n, const char *const *regions, size_t nr,
                               int grouped, char *out, size_t cap)
{
    try {
        std::string key(s, n);
        key.push_back((char)(1 + grouped));
        for (size_t i = 0; i < nr; i++) {
            key.append(regions[i]);
            key.push_back('\0');
        }
        auto hit = firsts.find(key);
        if (hit == firsts.end()) {
            first f{-1, std::string()};
            char e164[64];
            // grouped 2: a region that writes it exactly so comes first
            // regions the number's length rules out are not parsed
            bool ruled_out[64] = {};
            for (size_t i = 0; i < nr && i < 64; i++)
                ruled_out[i] = !ks__phone_may_be_valid(s, n, regions[i]);
            for (size_t i = 0; grouped == 2 && i < nr && f.index < 0; i++)
                if (!(i < 64 && ruled_out[i]) && ks__phone_e164(s, n, regions[i], e164, sizeof e164) == 2 &&
                    ks__phone_grouped(s, n, regions[i]) && own_format(s, n, regions[i])) {
                    f.index = (int)i;
                    f.e164 = e164;
                }
            for (size_t i = 0; i < nr && f.index < 0; i++)
                if (!(i < 64 && ruled_out[i]) && ks__phone_e164(s, n, regions[i], e164, sizeof e164) == 2 &&
                    (!grouped || ks__phone_grouped(s, n, regions[i]))) {
                    f.index = (int)i;
                    f.e164 = e164;
                }
            if (firsts.size() >= kCacheMax)
                firsts.clear();
            hit = firsts.emplace(std::move(key), std::move(f)).first;
        }
        const first &f = hit->second;
        if (f.index < 0 || f.e164.size() + 1 > cap)
            return -1;
        std::memcpy(out, f.e164.c_str(), f.e164.size() + 1);
        return f.index;
    } catch (...) {
        return -1;
    }
}
