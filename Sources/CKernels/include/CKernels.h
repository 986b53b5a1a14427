#ifndef CKERNELS_H
#define CKERNELS_H
// Hot loops that want AVX2 + FMA. The Swift targets are compiled for baseline x86-64 (SSE2: a
// SIMD8<Float> is two instructions, no fused multiply-add), and compiling the whole package for
// Haswell would make the binary die with SIGILL on older CPUs. So each kernel here has an
// AVX2/FMA body behind `__attribute__((target("avx2,fma")))`, chosen at run time by
// `__builtin_cpu_supports`, and a portable body beside it.

#include <stdbool.h>
#include <stddef.h>

/// True when this CPU runs the AVX2 + FMA bodies.
bool ck_has_avx2_fma(void);

#endif
