/*
 * main.c — the libFuzzer entry points. One program serves every target: it runs the target its
 * own name says, build/fuzz/fuzz_calc the target "calc" (make fuzz links one program per target
 * from the same objects; see scripts/fuzz.sh). An input that breaks an invariant aborts, so
 * libFuzzer saves it like a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static const struct fuzz_target *target;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *name = *argc > 0 ? strrchr((*argv)[0], '/') : NULL;

    name = name ? name + 1 : *argc > 0 ? (*argv)[0] : "";
    if (strncmp(name, "fuzz_", 5) == 0)
        target = fuzz_target_find(name + 5);
    if (!target) {
        fprintf(stderr, "fuzz: %s names no target (fuzz_http, fuzz_calc, ...)\n", name);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (target->one(data, n) != 0)
        abort(); /* an invariant broke: libFuzzer keeps the input as a crash */
    return 0;
}
