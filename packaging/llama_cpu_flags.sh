#!/bin/sh
# CMake flags for building llama-cpp-python on this machine: every x86 vector extension the CPU
# reports, except AMX. Why not -march=native: on some virtual machines the CPU reports AMX, the
# native build uses it, and the first matrix multiply dies with SIGILL (`tilezero`, seen on a
# Firecracker VM, 2026-12-06). Elsewhere (ARM, macOS) llama.cpp's own native build is kept.
[ "$(uname -m)" = x86_64 ] && [ -r /proc/cpuinfo ] || exit 0
flags=$(grep -m1 '^flags' /proc/cpuinfo)
out="-DGGML_NATIVE=OFF"
for pair in sse4_2:SSE42 avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI \
    avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
  case " ${flags#*:} " in *" ${pair%%:*} "*) out="$out -DGGML_${pair#*:}=ON" ;; esac
done
echo "$out"
