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
// (memory bounded). Matching with STRICT_GROUPING built
// a PhoneNumberMatcher per number and region: half a scan of mail before.
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <phonenumbers/logger.h>
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
            for (size_t i = 0; grouped == 2 && i < nr && f.index < 0; i++)
                if (ks__phone_e164(s, n, regions[i], e164, sizeof e164) == 2 &&
                    ks__phone_grouped(s, n, regions[i]) && own_format(s, n, regions[i])) {
                    f.index = (int)i;
                    f.e164 = e164;
                }
            for (size_t i = 0; i < nr && f.index < 0; i++)
                if (ks__phone_e164(s, n, regions[i], e164, sizeof e164) == 2 &&
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
