// Device queries and stream plumbing for the binding layer (declared in runtime.h with plain types).
#include <string>

#include "cuda/cuda_check.h"
#include "cuda/runtime.h"

namespace se::cuda {
namespace {

// cudaGetDeviceCount fails without a driver (35, cudaErrorInsufficientDriver) or without a device (100):
// both mean "no GPU" here, never an exception. The error is not sticky; clear it so later checks start clean.
int count_devices(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (reason) *reason = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && reason) *reason = "no CUDA device";
  return count;
}

}  // namespace

bool compiled() noexcept { return true; }

int device_count() noexcept { return count_devices(nullptr); }

std::string runtime_version() {
  int version = 0;
  if (cudaRuntimeGetVersion(&version) != cudaSuccess) {  // static cudart answers even without a driver
    cudaGetLastError();
    return "unknown";
  }
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

int pointer_device(const void* ptr, const char* name) {
  std::string reason;
  if (count_devices(&reason) == 0) {
    throw std::runtime_error(std::string("`") + name + "` is a CUDA array but no CUDA device is usable here (" +
                             reason + ")");
  }
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, ptr);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw std::invalid_argument(std::string("`") + name + "`: __cuda_array_interface__ data pointer is not valid: " +
                                cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
  }
  if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged) {
    throw std::invalid_argument(std::string("`") + name +
                                "`: expected device memory behind __cuda_array_interface__, got host memory");
  }
  return attributes.device;
}

void wait_for_stream(std::uintptr_t producer, cudaStream_t consumer, int device) {
  auto* const producer_stream = reinterpret_cast<cudaStream_t>(producer);
  // 1 is cudaStreamLegacy, the stream that handle 0 also means in this (non per-thread) build: cupy exports
  // it for its null stream.
  const bool both_legacy = producer == 1 && consumer == nullptr;
  if (producer == 0 || producer_stream == consumer || both_legacy) return;
  DeviceGuard guard(device);
  // An event orders the two streams on the GPU; the host does not wait.
  cudaEvent_t event = nullptr;
  SE_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  cudaError_t status = cudaEventRecord(event, producer_stream);
  if (status == cudaSuccess) status = cudaStreamWaitEvent(consumer, event, 0);
  cudaEventDestroy(event);  // released once the wait has been satisfied
  SE_CUDA_CHECK(status);
}

}  // namespace se::cuda
