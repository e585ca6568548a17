/* The machine's single-precision FMA peak, for reading the other benchmarks against:
 * each thread runs 12 independent chains of 512-bit FMAs (enough to cover the FMA
 * latency), 1 thread and then one per core; prints GFLOP/s (2 flops per lane).
 *   gcc -O3 -march=native -pthread benchmarks/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 * Needs AVX-512F (this project's CI machine has it). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum { CHAINS = 12, ROUNDS = 20000000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *chains(void *out) {
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < ROUNDS; r++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    float sum = 0;
    for (int i = 0; i < CHAINS; i++) sum += _mm512_reduce_add_ps(acc[i]);
    *(float *)out = sum; /* keeps the work */
    return NULL;
}

int main(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 64) cores = 64;
    long counts[2] = {1, cores};
    for (int c = 0; c < (cores > 1 ? 2 : 1); c++) {
        pthread_t threads[64];
        float sums[64];
        double best = 0;
        for (int trial = 0; trial < 3; trial++) {
            double start = now();
            for (long t = 0; t < counts[c]; t++) pthread_create(&threads[t], NULL, chains, &sums[t]);
            for (long t = 0; t < counts[c]; t++) pthread_join(threads[t], NULL);
            double rate = counts[c] * (double)ROUNDS * CHAINS * 16 * 2 / (now() - start) / 1e9;
            if (rate > best) best = rate;
        }
        printf("%ld thread%s: %.1f GFLOP/s (best of 3)\n", counts[c], counts[c] == 1 ? "" : "s", best);
    }
    return 0;
}
