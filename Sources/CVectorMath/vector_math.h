// Scalar math that LLVM can vectorise, for Strata's Swift kernels. Swift's Float.squareRoot() on Linux lowers to
// glibc's sqrtf with errno semantics (a sqrtss plus a call for negative inputs), which keeps the loop vectoriser
// away from any loop that calls it; this header's square root is LLVM's own sqrt intrinsic, the same correctly
// rounded IEEE result, which the vectoriser turns into vsqrtps. Leaves out: everything else (Strata's exp and
// tanh are written in Swift: Kernels+Math.swift).
#pragma once

static inline float strata_sqrtf(float x) { return __builtin_elementwise_sqrt(x); }
