// SPDX-License-Identifier: Apache-2.0
//
// libphonenumber (C++) behind one C function for the text scanner: parse a
// candidate, say whether the library finds the number valid (assigned
// ranges of its region: 2) or only possible (a plausible length: 1), and
// give its E.164 form (the normalised value whose SHA-256 a personal-data
// finding carries). Exceptions never cross into C.
//
// Parsing costs microseconds (ICU regexes), and mail repeats the same
// numbers (signatures, footers): each thread remembers its last answers in
// a small table that is emptied when full (memory bounded).
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

namespace {
struct answer {
    int verdict;
    std::string e164;
};
constexpr size_t kCacheMax = 4096;
thread_local std::unordered_map<std::string, answer> cache;

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
} // namespace

extern "C" int ks__phone_e164(const char *s, size_t n, const char *region, char *out, size_t cap)
{
    try {
        if (!region)
            region = "US";
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
        const answer &a = hit->second;
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
        std::string text(s, n);
        PhoneNumberMatcher m(*util(), text, region,
                             PhoneNumberMatcher::STRICT_GROUPING, 4);
        PhoneNumberMatch match;
        while (m.HasNext())
            if (m.Next(&match) && match.start() == 0 && (size_t)match.length() == n)
                return true;
        return false;
    } catch (...) {
        return false;
    }
}

extern "C" bool ks__phone_region(const char *s, size_t n, char out[3])
{
    try {
        PhoneNumberUtil *u = util();
        PhoneNumber num;
        if (u->Parse(std::string(s, n), "ZZ", &num) != PhoneNumberUtil::NO_PARSING_ERROR)
            return false;
        std::string r;
        u->GetRegionCodeForCountryCode(num.country_code(), &r);
        if (r.size() != 2 || r == "ZZ")
            return false;
        std::memcpy(out, r.c_str(), 3);
        return true;
    } catch (...) {
        return false;
    }
}
