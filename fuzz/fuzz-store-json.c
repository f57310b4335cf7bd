/* SPDX-License-Identifier: MIT */
/*
 * A json: store whose data file holds the input bytes, walked through list,
 * scan, recover, compact (papyra_fuzz_store_walk(), fuzz.h) twice: once
 * recovering with REPAIR, once, from the same bytes, with QUARANTINE. Any
 * file upstream or a crash could leave is a valid input as it is.
 */
#include <stdlib.h>

#include <papyra/papyra.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const papyra_recovery_mode modes[] = {PAPYRA_RECOVER_REPAIR, PAPYRA_RECOVER_QUARANTINE};
    char *path = papyra_fuzz_path("d.jsonl");
    char *url = papyra_fuzz_store_url(PAPYRA_BACKEND_JSON, path, "");

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        papyra_fuzz_write_file(path, data, size);
        papyra_fuzz_store_walk(url, modes[i]);
        papyra_fuzz_tmpdir_clear();
    }
    free(url);
    free(path);
    return 0;
}
