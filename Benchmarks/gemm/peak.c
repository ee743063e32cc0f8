/* Measures this machine's per-core ceilings, for each vector tier the CPU has:
 *   AVX-512: independent 512-bit FMAs (fp32), vdpbf16ps (bf16) and vpdpbusd (int8: 64 u8×s8 multiply-adds = 128 int
 *            ops per instruction);
 *   AVX2:    256-bit FMAs (fp32: 16 flop each), and the int8 step of the AVX2 kernel, vpmaddubsw + vpmaddwd (32 u8×s8
 *            multiply-adds = 64 int ops per pair; the vpaddd that follows runs on other ports).
 * 12 (AVX-512) or 10 (AVX2, which has 16 registers) accumulator chains hide the 4-7 cycle latency (each AVX2 int8
 * chain feeds its sum back as the next u8 operand, so nothing is loop-invariant).
 * Build and run (no -march: each part has its own target attribute and runs only where cpuid says it can):
 *   clang -O2 Benchmarks/gemm/peak.c -o /tmp/peak && /tmp/peak */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static const long N = 200000000 / 12;

__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl,avx512vnni")))
static void avx512(void) {
  __m512 c[12]; for(int i=0;i<12;i++) c[i]=_mm512_set1_ps(i*0.001f);
  __m512 a=_mm512_set1_ps(0.9999f), b=_mm512_set1_ps(1e-7f);
  const long n=N;
  for(int rep=0;rep<3;rep++){
  double t=now();
  for(long i=0;i<n;i++){ for(int j=0;j<12;j++) c[j]=_mm512_fmadd_ps(a,c[j],b); __asm__ volatile(""::"v"(c[0]),"v"(c[5]),"v"(c[11])); }
  t=now()-t; printf("fp32 fma zmm: %.1f GFLOP/s/core\n", n*12*32/t/1e9);
  __m512bh ab=(__m512bh)_mm512_set1_epi32(0x3f803f80), bb=(__m512bh)_mm512_set1_epi32(0x33803380);
  t=now();
  for(long i=0;i<n;i++){ for(int j=0;j<12;j++) c[j]=_mm512_dpbf16_ps(c[j],ab,bb); __asm__ volatile(""::"v"(c[0]),"v"(c[5]),"v"(c[11])); }
  t=now()-t; printf("bf16 dp zmm: %.1f GFLOP/s/core\n", n*12*64/t/1e9);
  __m512i ai=_mm512_set1_epi32(0x01010101), bi=_mm512_set1_epi32(0x01ff01ff), ci[12];
  for(int j=0;j<12;j++) ci[j]=_mm512_set1_epi32(j);
  t=now();
  for(long i=0;i<n;i++){ for(int j=0;j<12;j++) ci[j]=_mm512_dpbusd_epi32(ci[j],ai,bi); __asm__ volatile(""::"v"(ci[0]),"v"(ci[5]),"v"(ci[11])); }
  t=now()-t; printf("int8 vpdpbusd zmm: %.1f GOP/s/core\n", n*12*128/t/1e9);
  for(int j=0;j<12;j++) c[j]=_mm512_add_ps(c[j],_mm512_cvtepi32_ps(ci[j]));
  }
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(c[i]); printf("(%f)\n",s);
}

__attribute__((target("avx2,fma")))
static void avx2(void) {
  __m256 c[10]; for(int i=0;i<10;i++) c[i]=_mm256_set1_ps(i*0.001f);
  const __m256 a=_mm256_set1_ps(0.9999f), b=_mm256_set1_ps(1e-7f);
  const long n=N*12/10;
  __m256i ci[10]; for(int j=0;j<10;j++) ci[j]=_mm256_set1_epi32(j);
  const __m256i au=_mm256_set1_epi32(0x01010101), bs=_mm256_set1_epi32(0x01ff01ff), ones=_mm256_set1_epi16(1);
  for(int rep=0;rep<3;rep++){
  double t=now();
  for(long i=0;i<n;i++){ for(int j=0;j<10;j++) c[j]=_mm256_fmadd_ps(a,c[j],b); __asm__ volatile(""::"x"(c[0]),"x"(c[5]),"x"(c[9])); }
  t=now()-t; printf("fp32 fma ymm: %.1f GFLOP/s/core\n", n*10*16/t/1e9);
  t=now();
  for(long i=0;i<n;i++){ for(int j=0;j<10;j++) ci[j]=_mm256_add_epi32(au,_mm256_madd_epi16(_mm256_maddubs_epi16(ci[j],bs),ones));
                         __asm__ volatile(""::"x"(ci[0]),"x"(ci[5]),"x"(ci[9])); }
  t=now()-t; printf("int8 vpmaddubsw+vpmaddwd ymm: %.1f GOP/s/core\n", n*10*64/t/1e9);
  }
  float s=0; for(int i=0;i<10;i++) s+=c[i][0]+(float)ci[i][0]; printf("(%f)\n",s);
}

int main(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni")) avx512();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) avx2();
  return 0;
}
