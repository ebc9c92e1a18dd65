// Device-level CUDA helpers the binding layer needs, declared with plain types only so that it compiles
// without CUDA headers. Defined in runtime.cu (CUDA builds) or stubs.cpp (CPU-only builds).
#pragma once

#include <cstdint>
#include <string>

#include "ops.h"

namespace se::cuda {

// Whether this build contains the CUDA kernels.
bool compiled() noexcept;

// Usable devices right now; 0 when there is no driver (cudaErrorInsufficientDriver, 35), no device, or the
// build has no CUDA.
int device_count() noexcept;

// CUDA runtime version linked in ("13.0"), or "" without CUDA.
std::string runtime_version();

// Device ordinal of the device (or managed) memory at `ptr`. Throws std::runtime_error when CUDA is not
// compiled or not usable, std::invalid_argument when `ptr` is host memory. `name` is the argument name.
int pointer_device(const void* ptr, const char* name);

// Make `consumer` wait (without blocking the host) for the work queued so far on `producer`, the stream a
// __cuda_array_interface__ v3 producer named. No-op when they are the same stream or producer is 0.
void wait_for_stream(std::uintptr_t producer, cudaStream_t consumer, int device);

}  // namespace se::cuda
