// Error checking and device guarding for the CUDA kernels (flash-attention's launch-template discipline).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace se::cuda {

// Throws std::runtime_error("<op>: <expression> failed: <cudaErrorName>: <cudaGetErrorString>").
inline void check_status(cudaError_t status, const char* op, const char* expression) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(op) + ": " + expression + " failed: " + cudaGetErrorName(status) + ": " +
                             cudaGetErrorString(status));
  }
}

// Checked after every <<<...>>>: catches bad launch configurations without synchronising.
inline void check_launch(const char* op, const char* kernel) { check_status(cudaGetLastError(), op, kernel); }

// Makes `device` current for the lifetime of the guard and restores the caller's device afterwards: the
// arrays may live on any GPU, and kernels and allocations must go to that one (flash-attention's CUDAGuard).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) : device_(device) {
    check_status(cudaGetDevice(&previous_), "DeviceGuard", "cudaGetDevice");
    if (previous_ != device_) check_status(cudaSetDevice(device_), "DeviceGuard", "cudaSetDevice");
  }
  ~DeviceGuard() {
    if (previous_ != device_) cudaSetDevice(previous_);  // best effort: destructors must not throw
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int device_;
  int previous_ = 0;
};

// 2-D launch geometry: 32 x 8 threads, x along the row (coalesced), y along the rows.
inline dim3 block_2d() { return dim3(32, 8, 1); }
inline dim3 grid_2d(long long x, long long y, long long z = 1) {
  const dim3 block = block_2d();
  // z is walked by a grid-stride loop inside the kernels, so it can be capped at the hardware limit.
  return dim3(static_cast<unsigned>((x + block.x - 1) / block.x), static_cast<unsigned>((y + block.y - 1) / block.y),
              static_cast<unsigned>(z < 65535 ? z : 65535));
}

}  // namespace se::cuda

// Single expression (no trailing statement, no double evaluation); `__func__` names the op.
#define SE_CUDA_CHECK(expr) ::se::cuda::check_status((expr), __func__, #expr)
#define SE_CUDA_CHECK_LAUNCH(kernel_name) ::se::cuda::check_launch(__func__, kernel_name)
