# Locates LibTorch. Order: a LibTorch already on CMAKE_PREFIX_PATH (a user's official zip), then
# the torch package of HPO_PYTHON (default: the venv made by scripts/install-deps.sh, then
# python3 on PATH). Sets up CUDA first when the LibTorch is a CUDA build, since its config
# needs a CUDA toolkit at configure time (no GPU is needed).

# A CUDA build of LibTorch wants the CUDA toolkit while configuring.
if(HPO_WITH_CUDA AND EXISTS "/usr/local/cuda/bin/nvcc" AND NOT CMAKE_CUDA_COMPILER)
  set(CMAKE_CUDA_COMPILER "/usr/local/cuda/bin/nvcc")
endif()
if(HPO_WITH_CUDA AND CMAKE_CUDA_COMPILER)
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # CUDA >= 12.9 ships NVTX3 header-only; older Torch configs still ask for nvToolsExt.
  if(NOT TARGET CUDA::nvToolsExt AND TARGET CUDA::nvtx3)
    add_library(CUDA::nvToolsExt INTERFACE IMPORTED)
    target_link_libraries(CUDA::nvToolsExt INTERFACE CUDA::nvtx3)
  endif()
endif()

find_package(Torch QUIET CONFIG)
if(NOT Torch_FOUND)
  set(_hpo_venv "$ENV{HPO_TORCH_VENV}")
  if(NOT _hpo_venv)
    set(_hpo_venv "/opt/hpo/torch-venv")
  endif()
  if(NOT HPO_PYTHON)
    if(EXISTS "${_hpo_venv}/bin/python")
      set(HPO_PYTHON "${_hpo_venv}/bin/python")
    else()
      find_program(HPO_PYTHON NAMES python3 python)
    endif()
  endif()
  execute_process(
    COMMAND "${HPO_PYTHON}" -c "import torch; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _hpo_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _hpo_torch_rc ERROR_QUIET)
  if(NOT _hpo_torch_rc EQUAL 0)
    message(FATAL_ERROR
      "LibTorch not found: run scripts/install-deps.sh (installs torch==2.11.0 into "
      "${_hpo_venv}) or pass -DCMAKE_PREFIX_PATH=/path/to/libtorch")
  endif()
  list(APPEND CMAKE_PREFIX_PATH "${_hpo_torch_prefix}")
endif()

find_package(Torch REQUIRED CONFIG)
message(STATUS "LibTorch ${Torch_VERSION} from ${Torch_DIR}")

# hpo_torch: what every LibTorch-using target links. The torch wheel's libtorch.so exports its
# own copy of std::filesystem (built against a newer libstdc++); its remove_all calls a function
# Debian 12's libstdc++ lacks and jumps to address 0. Naming stdc++ before the torch libraries
# puts libstdc++.so.6 ahead of libtorch.so in DT_NEEDED, so the system's std::filesystem wins
# symbol lookup (tests/data/idx_test.cc, LinkOrderTest, checks this).
if(NOT TARGET hpo_torch)
  add_library(hpo_torch INTERFACE)
  target_link_libraries(hpo_torch INTERFACE stdc++ ${TORCH_LIBRARIES})
endif()

# CUDA code paths (per-slot streams, device generators) compile only against a CUDA LibTorch.
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  target_compile_definitions(hpo_torch INTERFACE HPO_HAVE_CUDA=1)
  set(HPO_HAVE_CUDA ON)
endif()
message(STATUS "LibTorch CUDA support: ${HPO_HAVE_CUDA}")
