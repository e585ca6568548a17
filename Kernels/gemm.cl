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

// ---------------------------------------------------------------------------------
// Kernels for CPU devices (PoCL). A CPU core wants long vector FMAs with operands in
// registers, not local-memory tiles shared by work-items. Each work-item computes its
// block of C straight from global memory (the caches do the tiling):
//
// gemm_rows: NN and TN. A 4 x 16 block: per step of k one float16 row of B and four
//   scalars of op(A), broadcast. global = (ceil(n / 16), ceil(m / 4)), any local size.
//   NT runs as NN on a transposed copy of B (`transpose` below; the host keeps the
//   copy's buffer); TT keeps the tiled kernel above.
// Rows past the matrix's edge read a clamped (valid) row and are not written; a
// column block that does not fit a whole float16 takes a scalar path.

inline void store_row16(__global float* c, const int index, const float16 sum,
                        const float alpha, const float beta)
{
    float16 result = alpha * sum;
    if (beta != 0.0f) result = fma((float16)(beta), vload16(0, c + index), result);
    vstore16(result, 0, c + index);
}

__kernel void gemm_rows(const int m, const int n, const int k, const int transA,
                        const float alpha, __global const float* restrict a,
                        __global const float* restrict b,
                        const float beta, __global float* restrict c)
{
    const int col = get_global_id(0) * 16;
    const int row = get_global_id(1) * 4;
    if (col >= n || row >= m) return;
    // op(A)[r][p] = a[r * rowStride + p * pStride]
    const int rowStride = transA ? 1 : k;
    const int pStride = transA ? m : 1;
    const int r0 = row, r1 = min(row + 1, m - 1), r2 = min(row + 2, m - 1), r3 = min(row + 3, m - 1);
    __global const float* a0 = a + (size_t)r0 * rowStride;
    __global const float* a1 = a + (size_t)r1 * rowStride;
    __global const float* a2 = a + (size_t)r2 * rowStride;
    __global const float* a3 = a + (size_t)r3 * rowStride;
    if (col + 16 <= n) {
        float16 acc0 = (float16)(0.0f), acc1 = (float16)(0.0f), acc2 = (float16)(0.0f), acc3 = (float16)(0.0f);
        for (int p = 0; p < k; p++) {
            const float16 bv = vload16(0, b + (size_t)p * n + col);
            const size_t ap = (size_t)p * pStride;
            acc0 = fma((float16)(a0[ap]), bv, acc0);
            acc1 = fma((float16)(a1[ap]), bv, acc1);
            acc2 = fma((float16)(a2[ap]), bv, acc2);
            acc3 = fma((float16)(a3[ap]), bv, acc3);
        }
        store_row16(c, row * n + col, acc0, alpha, beta);
        if (row + 1 < m) store_row16(c, (row + 1) * n + col, acc1, alpha, beta);
        if (row + 2 < m) store_row16(c, (row + 2) * n + col, acc2, alpha, beta);
        if (row + 3 < m) store_row16(c, (row + 3) * n + col, acc3, alpha, beta);
    } else {
        for (int i = 0; i < 4 && row + i < m; i++) {
            __global const float* ai = a + (size_t)(row + i) * rowStride;
            for (int j = col; j < n; j++) {
                float sum = 0.0f;
                for (int p = 0; p < k; p++) sum = fma(ai[(size_t)p * pStride], b[(size_t)p * n + j], sum);
                const int index = (row + i) * n + j;
                c[index] = beta == 0.0f ? alpha * sum : alpha * sum + beta * c[index];
            }
        }
    }
}

// out (columns x rows) = transpose of x (rows x columns); global = (rows, columns).
// For the CPU kernels' NT case: op(B) is copied out as a (k x n) matrix for gemm_rows.
__kernel void transpose(__global const float* restrict x, __global float* restrict out,
                        const int rows, const int columns)
{
    const int r = get_global_id(0);
    const int col = get_global_id(1);
    if (r >= rows || col >= columns) return;
    out[(size_t)col * rows + r] = x[(size_t)r * columns + col];
}
