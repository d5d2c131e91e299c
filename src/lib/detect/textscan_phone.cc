// SPDX-License-Identifier: Apache-2.0
//
// libphonenumber (C++) behind one C function for the text scanner: parse a
// candidate, say whether the library finds the number valid (assigned
// ranges of its region: 2) or only possible (a plausible length: 1), and
// give its E.164 form (the normalised value whose SHA-256 a personal-data
// finding carries). Exceptions never cross into C.
#include <cstring>
#include <mutex>
#include <string>
#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::NullLogger;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

extern "C" int ks__phone_e164(const char *s, size_t n, const char *region, char *out, size_t cap);

extern "C" int ks__phone_e164(const char *s, size_t n, const char *region, char *out, size_t cap)
{
    static std::once_flag quiet;
    try {
        PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
        // The library logs parse failures to stderr by default; evidence
        // is full of numbers that are not phones.
        std::call_once(quiet, [u] { u->SetLogger(new NullLogger()); });
        PhoneNumber num;
        if (u->Parse(std::string(s, n), region ? region : "US", &num) !=
            PhoneNumberUtil::NO_PARSING_ERROR)
            return 0;
        int verdict = u->IsValidNumber(num) ? 2 : u->IsPossibleNumber(num) ? 1 : 0;
        if (!verdict)
            return 0;
        std::string f;
        u->Format(num, PhoneNumberUtil::E164, &f);
        if (f.size() + 1 > cap)
            return 0;
        std::memcpy(out, f.c_str(), f.size() + 1);
        return verdict;
    } catch (...) {
        return 0;
    }
}
