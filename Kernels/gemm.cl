// gemm.cl — single-precision GEMM on row-major matrices.
//
//   C = alpha * op(A) * op(B) + beta * C
//   op(A) is (m, k): A is stored (m, k), or (k, m) when transA != 0
//   op(B) is (k, n): B is stored (k, n), or (n, k) when transB != 0
//   C is (m, n). When beta == 0, C is only written, never read.
//
// Launch geometry (host: OpenCLBackend+Operations.swift):
//   local  = (TILE_N / WPT_N, TILE_M / WPT_M)
//   global = (ceil(n / TILE_N) * local[0], ceil(m / TILE_M) * local[1])
// Each work-group computes one TILE_M x TILE_N block of C; each work-item computes
// WPT_M x WPT_N outputs, strided by the work-group's extent so that neighbouring
// work-items touch neighbouring columns. K advances in TILE_K steps through local
// memory; elements outside the matrices load as zero, so any m, n, k is correct.

#ifndef TILE_M
#define TILE_M 64
#endif
#ifndef TILE_N
#define TILE_N 64
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef WPT_M
#define WPT_M 4
#endif
#ifndef WPT_N
#define WPT_N 4
#endif

#define THREADS_M (TILE_M / WPT_M)
#define THREADS_N (TILE_N / WPT_N)
#define THREADS (THREADS_M * THREADS_N)

#if (TILE_M % WPT_M) != 0 || (TILE_N % WPT_N) != 0
#error "TILE_M and TILE_N must be multiples of WPT_M and WPT_N"
#endif

__kernel __attribute__((reqd_work_group_size(THREADS_N, THREADS_M, 1)))
void gemm(const int m, const int n, const int k,
          const int transA, const int transB,
          const float alpha, __global const float* restrict a,
          __global const float* restrict b,
          const float beta, __global float* restrict c)
{
    __local float tileA[TILE_K][TILE_M];
    __local float tileB[TILE_K][TILE_N];

    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int tid = ty * THREADS_N + tx;
    const int rowBase = get_group_id(1) * TILE_M;
    const int colBase = get_group_id(0) * TILE_N;

    float acc[WPT_M][WPT_N];
    for (int i = 0; i < WPT_M; i++)
        for (int j = 0; j < WPT_N; j++)
            acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < k; k0 += TILE_K) {
        // Stage op(A)[rowBase.., k0..] and op(B)[k0.., colBase..]; consecutive
        // work-items read consecutive addresses of the stored layout.
        for (int l = tid; l < TILE_M * TILE_K; l += THREADS) {
            int r, p;
            if (transA) { r = l % TILE_M; p = l / TILE_M; }
            else        { p = l % TILE_K; r = l / TILE_K; }
            const int gr = rowBase + r, gp = k0 + p;
            float value = 0.0f;
            if (gr < m && gp < k)
                value = transA ? a[gp * m + gr] : a[gr * k + gp];
            tileA[p][r] = value;
        }
        for (int l = tid; l < TILE_K * TILE_N; l += THREADS) {
            int p, col;
            if (transB) { p = l % TILE_K; col = l / TILE_K; }
            else        { col = l % TILE_N; p = l / TILE_N; }
            const int gp = k0 + p, gc = colBase + col;
            float value = 0.0f;
            if (gp < k && gc < n)
                value = transB ? b[gc * k + gp] : b[gp * n + gc];
            tileB[p][col] = value;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int p = 0; p < TILE_K; p++) {
            float av[WPT_M], bv[WPT_N];
            for (int i = 0; i < WPT_M; i++) av[i] = tileA[p][ty + i * THREADS_M];
            for (int j = 0; j < WPT_N; j++) bv[j] = tileB[p][tx + j * THREADS_N];
            for (int i = 0; i < WPT_M; i++)
                for (int j = 0; j < WPT_N; j++)
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < WPT_M; i++) {
        const int row = rowBase + ty + i * THREADS_M;
        if (row >= m) continue;
        for (int j = 0; j < WPT_N; j++) {
            const int col = colBase + tx + j * THREADS_N;
            if (col >= n) continue;
            const int index = row * n + col;
            c[index] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[index];
        }
    }
}
