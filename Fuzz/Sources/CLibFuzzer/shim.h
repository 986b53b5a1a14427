// libFuzzer's entry for programs that keep their own main (compiler-rt FuzzerInterface.h).
// SwiftPM links an executable with `main` aliased to `<Module>_main`, so under
// -parse-as-library the link fails and without it libFuzzer's main is never used; the fuzz
// targets' top-level code calls this instead. -sanitize=fuzzer links the library.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));

// The sanitizers' hook run before a process dies of a finding; libFuzzer sets it to save the
// input as a crash. A forked child that is meant to die of libhdf5's own bugs clears it.
void __sanitizer_set_death_callback(void (*callback)(void));
