/* Measures this machine's per-core ceiling: throughput of independent 512-bit FMAs (fp32), vdpbf16ps (bf16) and
 * vpdpbusd (int8: 64 u8×s8 multiply-adds = 128 int ops per instruction).
 * 12 accumulator chains hide the 4-6 cycle latency. Build and run: clang -O2 peak.c -o /tmp/peak && /tmp/peak */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl,avx512vnni")))
int main(){
  __m512 c[12]; for(int i=0;i<12;i++) c[i]=_mm512_set1_ps(i*0.001f);
  __m512 a=_mm512_set1_ps(0.9999f), b=_mm512_set1_ps(1e-7f);
  long n=200000000/12;
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
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(c[i]); printf("%f\n",s);
}
