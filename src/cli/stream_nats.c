/* SPDX-License-Identifier: Apache-2.0
 *
 * The NATS JetStream transport of `kensa stream`: placeholder until the
 * JetStream consumer lands (docs/STREAM.md says what it will do).
 */
#include <stdio.h>
#include "cli.h"
#include "stream.h"

int stream_nats_run(const stream_cfg *cfg)
{
    (void)cfg;
    fprintf(stderr, "kensa stream: --nats is not available in this build yet\n");
    return KS_EXIT_ERRORS;
}
