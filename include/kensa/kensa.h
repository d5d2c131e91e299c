/* SPDX-License-Identifier: Apache-2.0
 *
 * kensa: a threat-hunting and exposure-assessment engine.
 * The whole public API; include this and link -lkensa.
 */
#ifndef KENSA_H
#define KENSA_H

#define KENSA_VERSION "0.1.0"
#define KENSA_VERSION_NUM 0x000100

#include "kensa/error.h"
#include "kensa/event.h"
#include "kensa/finding.h"
#include "kensa/option.h"
#include "kensa/engine.h"
#include "kensa/index.h"

#ifdef __cplusplus
extern "C" {
#endif
KS_API const char *ks_version(void);
#ifdef __cplusplus
}
#endif
#endif
