// gemm.cl — single-precision GEMM on row-major matrices.
//
//   C = epilogue(alpha * op(A) * op(B) + beta * C)
//   op(A) is (m, k): A is stored (m, k), or (k, m) when transA != 0
//   op(B) is (k, n): B is stored (k, n), or (n, k) when transB != 0
//   C is (m, n). When beta == 0, C is only written, never read.
//
// Epilogues (ComputeBackend.GEMMEpilogue), applied to each element as it is stored:
//   0 none;
//   1 bias + activation: C[r, c] = f(C[r, c] + extra[c]), extra the bias (n);
//   2 activation gradient: C[r, c] *= f'(y) from y = extra[r * n + c], the forward
//     output (m, n);
//   3 column sums (gemm_rows only): C as it is, and extra[c] = sum over p of op(B)[p, c],
//     written by the work-items of the first row block (a fixed order: deterministic).
// Activation codes as in elementwise.cl: 0 identity, 1 ReLU, 2 LeakyReLU(slope),
// 3 tanh, 4 sigmoid. When the epilogue is 0, extra is any buffer and is not read.
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

inline float activate1(const float v, const int activation, const float slope)
{
    switch (activation) {
        case 1: return v > 0.0f ? v : 0.0f;
        case 2: return v > 0.0f ? v : slope * v;
        case 3: return tanh(v);
        case 4: return v >= 0.0f ? 1.0f / (1.0f + exp(-v)) : exp(v) / (1.0f + exp(v));
        default: return v;
    }
}

inline float derivative1(const float y, const int activation, const float slope)
{
    switch (activation) {
        case 1: return y > 0.0f ? 1.0f : 0.0f;
        case 2: return y > 0.0f ? 1.0f : slope;
        case 3: return 1.0f - y * y;
        case 4: return y * (1.0f - y);
        default: return 1.0f;
    }
}

// The epilogue of one element: C[index] from its sum, in column `col`.
inline void store1(__global float* c, const int index, const int col, const float sum,
                   const float alpha, const float beta, const int epilogue,
                   __global const float* extra, const int activation, const float slope)
{
    float v = beta == 0.0f ? alpha * sum : alpha * sum + beta * c[index];
    if (epilogue == 1) v = activate1(v + extra[col], activation, slope);
    else if (epilogue == 2) v *= derivative1(extra[index], activation, slope);
    c[index] = v;
}

__kernel __attribute__((reqd_work_group_size(THREADS_N, THREADS_M, 1)))
void gemm(const int m, const int n, const int k,
          const int transA, const int transB,
          const float alpha, __global const float* restrict a,
          __global const float* restrict b,
          const float beta, __global float* restrict c,
          const int epilogue, __global const float* restrict extra,
          const int activation, const float slope)
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
            store1(c, row * n + col, col, acc[i][j], alpha, beta, epilogue, extra, activation, slope);
        }
    }
}

// ---------------------------------------------------------------------------------
// Kernels for CPU devices (PoCL). A CPU core wants long vector FMAs with operands in
// registers, not local-memory tiles shared by work-items. Each work-item computes its
// block of C straight from global memory (the caches do the tiling):
//
// gemm_rows: NN and TN. An RB_M x (16 * RB_V) block: per step of k, RB_V float16 pieces
//   of a row of B and RB_M scalars of op(A), broadcast.
//   order 0: global = (ceil(n / (16 * RB_V)), ceil(m / RB_M)), column blocks along
//     dimension 0, so the work-items a core runs in turn share a block of A's rows (which
//     stays in L1) and stream B: for a B that fits in the caches.
//   order 1: global = (ceil(m / RB_M), ceil(n / (16 * RB_V))), row blocks along dimension
//     0, so they share a panel of B's columns (which stays in L2) and stream A: for a B
//     too large to stay cached (2048 x 2048 runs 3x faster this way on PoCL).
//   Any local size.
//   A transposed B (NT, TT) is first copied out as (k x n) by `transpose` below; the
//   host keeps the copy's buffer.
// Rows past the matrix's edge read a clamped (valid) row and are not written; a
// column block that does not fit a whole float16 takes a scalar path.

inline float16 activate16(const float16 v, const int activation, const float slope)
{
    switch (activation) {
        case 1: return select((float16)(0.0f), v, v > (float16)(0.0f));
        case 2: return select(slope * v, v, v > (float16)(0.0f));
        case 3: return tanh(v);
        case 4: {
            const float16 e = exp(-fabs(v));
            return select(e / (1.0f + e), 1.0f / (1.0f + e), v >= (float16)(0.0f));
        }
        default: return v;
    }
}

inline float16 derivative16(const float16 y, const int activation, const float slope)
{
    switch (activation) {
        case 1: return select((float16)(0.0f), (float16)(1.0f), y > (float16)(0.0f));
        case 2: return select((float16)(slope), (float16)(1.0f), y > (float16)(0.0f));
        case 3: return 1.0f - y * y;
        case 4: return y * (1.0f - y);
        default: return (float16)(1.0f);
    }
}

// 16 elements of a row of C from their sums: C[index ..< index + 16], columns col...
inline void store_row16(__global float* c, const int index, const int col, const float16 sum,
                        const float alpha, const float beta, const int epilogue,
                        __global const float* extra, const int activation, const float slope)
{
    float16 result = alpha * sum;
    if (beta != 0.0f) result = fma((float16)(beta), vload16(0, c + index), result);
    if (epilogue == 1) result = activate16(result + vload16(0, extra + col), activation, slope);
    else if (epilogue == 2) result *= derivative16(vload16(0, extra + index), activation, slope);
    vstore16(result, 0, c + index);
}

#ifndef RB_M
#define RB_M 4
#endif
#ifndef RB_V
#define RB_V 1
#endif

// RB_M rows x 16 columns of C from op(A)'s rows `a_rows` and B's columns from `col`,
// accumulating over all of k; rows past m were clamped by the caller.
inline void rows_times_vector(__global const float* a_rows[RB_M], const int pStride,
                              __global const float* b, const int n, const int k, const int col,
                              float16 acc[RB_M])
{
    for (int i = 0; i < RB_M; i++) acc[i] = (float16)(0.0f);
    for (int p = 0; p < k; p++) {
        const float16 bv = vload16(0, b + (size_t)p * n + col);
        const size_t ap = (size_t)p * pStride;
        #pragma unroll
        for (int i = 0; i < RB_M; i++) acc[i] = fma((float16)(a_rows[i][ap]), bv, acc[i]);
    }
}

__kernel void gemm_rows(const int m, const int n, const int k, const int transA,
                        const float alpha, __global const float* restrict a,
                        __global const float* restrict b,
                        const float beta, __global float* restrict c,
                        const int epilogue, __global float* restrict extra,
                        const int activation, const float slope, const int order)
{
    // (PoCL cannot build get_global_id of a dimension that is not a constant.)
    const int g0 = get_global_id(0), g1 = get_global_id(1);
    const int col = (order == 0 ? g0 : g1) * (16 * RB_V);
    const int row = (order == 0 ? g1 : g0) * RB_M;
    if (col >= n || row >= m) return;
    // op(A)[r][p] = a[r * rowStride + p * pStride]
    const int rowStride = transA ? 1 : k;
    const int pStride = transA ? m : 1;
    __global const float* a_rows[RB_M];
    #pragma unroll
    for (int i = 0; i < RB_M; i++) a_rows[i] = a + (size_t)min(row + i, m - 1) * rowStride;
    if (col + 16 * RB_V <= n) {
        // The whole block: RB_V vectors per row share each scalar of op(A).
        float16 acc[RB_M][RB_V];
        #pragma unroll
        for (int i = 0; i < RB_M; i++)
            #pragma unroll
            for (int v = 0; v < RB_V; v++) acc[i][v] = (float16)(0.0f);
        for (int p = 0; p < k; p++) {
            float16 bv[RB_V];
            #pragma unroll
            for (int v = 0; v < RB_V; v++) bv[v] = vload16(0, b + (size_t)p * n + col + 16 * v);
            const size_t ap = (size_t)p * pStride;
            #pragma unroll
            for (int i = 0; i < RB_M; i++) {
                const float16 av = (float16)(a_rows[i][ap]);
                #pragma unroll
                for (int v = 0; v < RB_V; v++) acc[i][v] = fma(av, bv[v], acc[i][v]);
            }
        }
        for (int i = 0; i < RB_M && row + i < m; i++)
            for (int v = 0; v < RB_V; v++)
                store_row16(c, (row + i) * n + col + 16 * v, col + 16 * v, acc[i][v], alpha, beta,
                            epilogue, extra, activation, slope);
        if (epilogue == 3 && row == 0) {
            for (int v = 0; v < RB_V; v++) {
                float16 sum = (float16)(0.0f);
                for (int p = 0; p < k; p++) sum += vload16(0, b + (size_t)p * n + col + 16 * v);
                vstore16(sum, 0, extra + col + 16 * v);
            }
        }
        return;
    }
    // The matrix's right edge: whole vectors one at a time, then single columns.
    int j = col;
    for (; j + 16 <= n; j += 16) {
        float16 acc[RB_M];
        rows_times_vector(a_rows, pStride, b, n, k, j, acc);
        for (int i = 0; i < RB_M && row + i < m; i++)
            store_row16(c, (row + i) * n + j, j, acc[i], alpha, beta, epilogue, extra, activation, slope);
    }
    if (epilogue == 3 && row == 0) {
        for (int jj = col; jj < n; jj++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++) sum += b[(size_t)p * n + jj];
            extra[jj] = sum;
        }
    }
    for (; j < n; j++) {
        for (int i = 0; i < RB_M && row + i < m; i++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++) sum = fma(a_rows[i][(size_t)p * pStride], b[(size_t)p * n + j], sum);
            store1(c, (row + i) * n + j, j, sum, alpha, beta, epilogue, extra, activation, slope);
        }
    }
}

// out (columns x rows) = transpose of x (rows x columns), a 16 x 16 block per work-item,
// global = (ceil(columns / 16), ceil(rows / 16)). A whole block is read as 16 row vectors
// and written as 16 column vectors, transposed in registers; edge blocks go one element
// at a time. Used for the CPU kernels' NT case (B (n x k) becomes (k x n)) and for the
// kept Wᵀ of a dense layer.
__kernel void transpose(__global const float* restrict x, __global float* restrict out,
                        const int rows, const int columns)
{
    const int c0 = get_global_id(0) * 16;
    const int r0 = get_global_id(1) * 16;
    if (r0 >= rows || c0 >= columns) return;
    if (r0 + 16 <= rows && c0 + 16 <= columns) {
        float16 block[16];
        #pragma unroll
        for (int r = 0; r < 16; r++) block[r] = vload16(0, x + (size_t)(r0 + r) * columns + c0);
        #pragma unroll
        for (int c = 0; c < 16; c++) {
            float16 column;
            #pragma unroll
            for (int r = 0; r < 16; r++) column[r] = block[r][c];
            vstore16(column, 0, out + (size_t)(c0 + c) * rows + r0);
        }
        return;
    }
    const int r1 = min(r0 + 16, rows), c1 = min(c0 + 16, columns);
    for (int col = c0; col < c1; col++)
        for (int r = r0; r < r1; r++)
            out[(size_t)col * rows + r] = x[(size_t)r * columns + col];
}
