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
//   3 column sums (gemm_rows and gemm_dot): C as it is, and extra[c] = sum over p of
//     op(B)[p, c], written by the work-items of the first row block (a fixed order:
//     deterministic);
//   4 Adam (gemm_rows only): each element is the gradient of w[r * n + c] (m x n, like
//     C) and each column sum (as in 3) the gradient of bias[c] (n); each parameter takes
//     one Adam step in place with its moments (wm, wv; bm, bv), as adam.cl's adam_update1
//     does, with adam_lr ... adam_bc2 = lr, beta1, beta2, eps, 1 - beta1^t, 1 - beta2^t.
//     C and extra are not written;
//   5 the same, and the gradients kept: C as in 0, and extra[c] the column sums.
//   Epilogues 4 and 5 run as the kernel gemm_rows_adam, which takes w ... adam_bc2 as
//   its last arguments; gemm_rows has the others.
// Activation codes and maths: activation.cl. When the epilogue is 0, extra is any buffer
// and is not read.
//
// Launch geometry (host: OpenCLBackend+Operations.swift):
//   local  = (TILE_N / WPT_N, TILE_M / WPT_M)
//   global = (ceil(n / TILE_N) * local[0], ceil(m / TILE_M) * local[1])
// Each work-group computes one TILE_M x TILE_N block of C; each work-item computes
// WPT_M x WPT_N outputs, strided by the work-group's extent (singly, or in runs of 4:
// VW below) so that neighbouring work-items touch neighbouring columns. K advances in
// TILE_K steps through local memory; elements outside the matrices load as zero, so any
// m, n, k is correct.

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

// alpha * sum + beta * C[index], C not read when beta is 0.
inline float scaled1(const float sum, const float alpha, const float beta, __global const float* c, const int index)
{
    return beta == 0.0f ? alpha * sum : alpha * sum + beta * c[index];
}

// The epilogue of one element: C[index] from its sum, in column `col`.
inline void store1(__global float* c, const int index, const int col, const float sum,
                   const float alpha, const float beta, const int epilogue,
                   __global const float* extra, const int activation, const float slope)
{
    float v = scaled1(sum, alpha, beta, c, index);
    if (epilogue == 1) v = activate1(v + extra[col], activation, slope);
    else if (epilogue == 2) v *= derivative1(extra[index], activation, slope);
    c[index] = v;
}

// op(A)[r][p] and op(B)[p][col] as the tiles take them: zero outside the matrices.
inline float load_a1(__global const float* a, const int transA, const int m, const int k, const int r, const int p)
{
    if (r >= m || p >= k) return 0.0f;
    return transA ? a[p * m + r] : a[r * k + p];
}

inline float load_b1(__global const float* b, const int transB, const int k, const int n, const int p, const int col)
{
    if (p >= k || col >= n) return 0.0f;
    return transB ? b[col * k + p] : b[p * n + col];
}

// 4 consecutive elements of a stored matrix along its contiguous dimension, from
// element `index` of a row whose first `valid` elements (0 to 4) lie inside the
// matrix. One aligned vector load when all 4 are inside and `aligned` (the row length
// a multiple of 4, so that index is too; a buffer starts aligned to the device's
// CL_DEVICE_MEM_BASE_ADDR_ALIGN, at least 128 bytes); otherwise one element at a time,
// zeros past the edge.
inline float4 load4(__global const float* x, const int index, const int valid, const int aligned)
{
    if (valid >= 4 && aligned) return ((__global const float4*)x)[index / 4];
    float4 v = (float4)(0.0f);
    if (valid > 0) v.s0 = x[index];
    if (valid > 1) v.s1 = x[index + 1];
    if (valid > 2) v.s2 = x[index + 2];
    if (valid > 3) v.s3 = x[index + 3];
    return v;
}

// VW (vector width, 1 or 4) is how a work-item's outputs and loads are laid out:
//   1: its rows are ty + i * THREADS_M and its columns tx + j * THREADS_N, every load
//      one element;
//   4: its rows come in runs of 4 consecutive ones, ty * 4 + (i % 4) + (i / 4) * 4 *
//      THREADS_M, and so do its columns, so that each step of the inner loop reads its
//      values from the local tiles as float4s; the tiles are staged by float4 loads
//      along each stored matrix's contiguous dimension (aligned vector loads inside the
//      matrix when its rows are a multiple of 4 long, element by element at the edges).
//      The tiles' rows are padded by 4 floats, which spreads the transposing stores over
//      the local memory's banks and keeps each row 16-byte aligned.
#ifndef VW
#define VW 1
#endif
#if VW != 1 && VW != 4
#error "VW must be 1 or 4"
#endif
#if VW == 4 && ((WPT_M % 4) != 0 || (WPT_N % 4) != 0 || (TILE_K % 4) != 0)
#error "VW 4 needs WPT_M, WPT_N and TILE_K multiples of 4"
#endif
#define TILE_PAD (VW == 4 ? 4 : 0)

inline int tile_row(const int ty, const int i) { return VW == 1 ? ty + i * THREADS_M : ty * 4 + (i % 4) + (i / 4) * 4 * THREADS_M; }
inline int tile_col(const int tx, const int j) { return VW == 1 ? tx + j * THREADS_N : tx * 4 + (j % 4) + (j / 4) * 4 * THREADS_N; }

__kernel __attribute__((reqd_work_group_size(THREADS_N, THREADS_M, 1)))
void gemm(const int m, const int n, const int k,
          const int transA, const int transB,
          const float alpha, __global const float* restrict a,
          __global const float* restrict b,
          const float beta, __global float* restrict c,
          const int epilogue, __global const float* restrict extra,
          const int activation, const float slope)
{
    __local float tileA[TILE_K][TILE_M + TILE_PAD] __attribute__((aligned(16)));
    __local float tileB[TILE_K][TILE_N + TILE_PAD] __attribute__((aligned(16)));

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
#if VW == 1
        // Stage op(A)[rowBase.., k0..] and op(B)[k0.., colBase..]; consecutive
        // work-items read consecutive addresses of the stored layout.
        for (int l = tid; l < TILE_M * TILE_K; l += THREADS) {
            int r, p;
            if (transA) { r = l % TILE_M; p = l / TILE_M; }
            else        { p = l % TILE_K; r = l / TILE_K; }
            tileA[p][r] = load_a1(a, transA, m, k, rowBase + r, k0 + p);
        }
        for (int l = tid; l < TILE_K * TILE_N; l += THREADS) {
            int p, col;
            if (transB) { p = l % TILE_K; col = l / TILE_K; }
            else        { col = l % TILE_N; p = l / TILE_N; }
            tileB[p][col] = load_b1(b, transB, k, n, k0 + p, colBase + col);
        }
#else
        // The same by float4s along the stored rows: A (k, m) gives 4 rows of op(A) at one
        // p, A (m, k) 4 values of p in one row (stored transposed into the tile); B
        // likewise.
        for (int l = tid; l < TILE_M * TILE_K / 4; l += THREADS) {
            if (transA) {
                const int r = (l % (TILE_M / 4)) * 4, p = l / (TILE_M / 4);
                const int gr = rowBase + r, gp = k0 + p;
                const float4 v = gp < k ? load4(a, gp * m + gr, m - gr, (m & 3) == 0) : (float4)(0.0f);
                *(__local float4*)&tileA[p][r] = v;
            } else {
                const int p = (l % (TILE_K / 4)) * 4, r = l / (TILE_K / 4);
                const int gr = rowBase + r, gp = k0 + p;
                const float4 v = gr < m ? load4(a, gr * k + gp, k - gp, (k & 3) == 0) : (float4)(0.0f);
                tileA[p][r] = v.s0; tileA[p + 1][r] = v.s1; tileA[p + 2][r] = v.s2; tileA[p + 3][r] = v.s3;
            }
        }
        for (int l = tid; l < TILE_K * TILE_N / 4; l += THREADS) {
            if (transB) {
                const int p = (l % (TILE_K / 4)) * 4, col = l / (TILE_K / 4);
                const int gc = colBase + col, gp = k0 + p;
                const float4 v = gc < n ? load4(b, gc * k + gp, k - gp, (k & 3) == 0) : (float4)(0.0f);
                tileB[p][col] = v.s0; tileB[p + 1][col] = v.s1; tileB[p + 2][col] = v.s2; tileB[p + 3][col] = v.s3;
            } else {
                const int col = (l % (TILE_N / 4)) * 4, p = l / (TILE_N / 4);
                const int gc = colBase + col, gp = k0 + p;
                const float4 v = gp < k ? load4(b, gp * n + gc, n - gc, (n & 3) == 0) : (float4)(0.0f);
                *(__local float4*)&tileB[p][col] = v;
            }
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int p = 0; p < TILE_K; p++) {
            float av[WPT_M], bv[WPT_N];
#if VW == 1
            for (int i = 0; i < WPT_M; i++) av[i] = tileA[p][tile_row(ty, i)];
            for (int j = 0; j < WPT_N; j++) bv[j] = tileB[p][tile_col(tx, j)];
#else
            for (int i = 0; i < WPT_M; i += 4) {
                const float4 v = *(__local const float4*)&tileA[p][tile_row(ty, i)];
                av[i] = v.s0; av[i + 1] = v.s1; av[i + 2] = v.s2; av[i + 3] = v.s3;
            }
            for (int j = 0; j < WPT_N; j += 4) {
                const float4 v = *(__local const float4*)&tileB[p][tile_col(tx, j)];
                bv[j] = v.s0; bv[j + 1] = v.s1; bv[j + 2] = v.s2; bv[j + 3] = v.s3;
            }
#endif
            for (int i = 0; i < WPT_M; i++)
                for (int j = 0; j < WPT_N; j++)
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < WPT_M; i++) {
        const int row = rowBase + tile_row(ty, i);
        if (row >= m) continue;
        for (int j = 0; j < WPT_N; j++) {
            const int col = colBase + tile_col(tx, j);
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
//   gemm_rows sums over p0 <= p < p1 only, so that the host can go through a deep k in
//   chunks whose panel of B stays cached: beta 1 after the first chunk, the epilogue (0-2)
//   with the last. Column sums (epilogues 3-5) are over all of k: those run in one chunk.
//   Any local size.
//   A transposed B (TT, and NT when k < the host's dot threshold) is first copied out as
//   (k x n) by `transpose` below; the host keeps the copy's buffer.
// gemm_dot: NT, C = A (m x k) · Bᵀ with B stored (n x k), both read along contiguous k.
//   Described below.
// Rows past the matrix's edge read a clamped (valid) row and are not written; a
// column block that does not fit a whole float16 takes a scalar path.

// alpha * sum + beta * C[index ..< index + 16], C not read when beta is 0.
inline float16 scaled16(const float16 sum, const float alpha, const float beta, __global const float* c, const int index)
{
    const float16 result = alpha * sum;
    return beta == 0.0f ? result : fma((float16)(beta), vload16(0, c + index), result);
}

// 16 elements of a row of C from their sums: C[index ..< index + 16], columns col...
inline void store_row16(__global float* c, const int index, const int col, const float16 sum,
                        const float alpha, const float beta, const int epilogue,
                        __global const float* extra, const int activation, const float slope)
{
    float16 result = scaled16(sum, alpha, beta, c, index);
    if (epilogue == 1) result = activate16(result + vload16(0, extra + col), activation, slope);
    else if (epilogue == 2) result *= derivative16(vload16(0, extra + index), activation, slope);
    vstore16(result, 0, c + index);
}

// Epilogues 4 and 5: the Adam step's buffers and scalars (gemm_rows_adam's last arguments).
#define ADAM_PARAMS __global float* w, __global float* wm, __global float* wv, \
    __global float* bias, __global float* bm, __global float* bv, \
    const float adam_lr, const float adam_beta1, const float adam_beta2, const float adam_eps, \
    const float adam_bc1, const float adam_bc2
#define ADAM_SCALARS adam_lr, adam_beta1, adam_beta2, adam_eps, adam_bc1, adam_bc2
#define ADAM_ARGS w, wm, wv, bias, bm, bv, ADAM_SCALARS

// adam_update16 and adam_update1: adam.cl, which the host puts before this file.

// gemm_rows's store of 16 elements of a row: epilogues 0-3 as store_row16; 4 and 5 turn
// the sums into the gradient (alpha, beta as in 0) and step the weights with it.
inline void finish_row16(__global float* c, const int index, const int col, const float16 sum,
                         const float alpha, const float beta, const int epilogue,
                         __global const float* extra, const int activation, const float slope, ADAM_PARAMS)
{
    if (epilogue < 4) {
        store_row16(c, index, col, sum, alpha, beta, epilogue, extra, activation, slope);
        return;
    }
    const float16 g = scaled16(sum, alpha, beta, c, index);
    if (epilogue == 5) vstore16(g, 0, c + index);
    adam_update16(g, w, wm, wv, index, ADAM_SCALARS);
}

// The same for one element.
inline void finish1(__global float* c, const int index, const int col, const float sum,
                    const float alpha, const float beta, const int epilogue,
                    __global const float* extra, const int activation, const float slope, ADAM_PARAMS)
{
    if (epilogue < 4) {
        store1(c, index, col, sum, alpha, beta, epilogue, extra, activation, slope);
        return;
    }
    const float g = scaled1(sum, alpha, beta, c, index);
    if (epilogue == 5) c[index] = g;
    adam_update1(g, w, wm, wv, index, ADAM_SCALARS);
}

#ifndef RB_M
#define RB_M 4
#endif
#ifndef RB_V
#define RB_V 1
#endif

// RB_M rows x 16 columns of C from op(A)'s rows `a_rows` and B's columns from `col`,
// accumulating over p0 <= p < p1; rows past m were clamped by the caller.
inline void rows_times_vector(__global const float* a_rows[RB_M], const int pStride,
                              __global const float* b, const int n, const int p0, const int p1, const int col,
                              float16 acc[RB_M])
{
    for (int i = 0; i < RB_M; i++) acc[i] = (float16)(0.0f);
    for (int p = p0; p < p1; p++) {
        const float16 bv = vload16(0, b + (size_t)p * n + col);
        const size_t ap = (size_t)p * pStride;
        #pragma unroll
        for (int i = 0; i < RB_M; i++) acc[i] = fma((float16)(a_rows[i][ap]), bv, acc[i]);
    }
}

// A hint that the 16 floats at p will be written soon. On PoCL (the host defines
// CLANG_PREFETCH) clang's builtin, an x86 prefetch for writing; elsewhere OpenCL's
// prefetch, a hint the device may ignore (oclgrind, which runs these kernels in the
// tests, cannot run clang's builtin).
#ifdef CLANG_PREFETCH
#define PREFETCH_FOR_WRITE(p) __builtin_prefetch((p), 1, 2)
#else
#define PREFETCH_FOR_WRITE(p) prefetch((p), 16)
#endif

// The Adam epilogue's rows of w and its moments (RB_M x 16·RB_V from row, col), asked
// for before the block's sums so that they arrive while it computes: the epilogue then
// reads and writes them in cache instead of waiting for memory.
inline void prefetch_adam_block(__global float* w, __global float* wm, __global float* wv,
                                const int row, const int col, const int m, const int n)
{
    for (int i = 0; i < RB_M && row + i < m; i++) {
        const size_t at = (size_t)(row + i) * n + col;
        for (int q = 0; q < 16 * RB_V && col + q < n; q += 16) {
            PREFETCH_FOR_WRITE(w + at + q);
            PREFETCH_FOR_WRITE(wm + at + q);
            PREFETCH_FOR_WRITE(wv + at + q);
        }
    }
}

// gemm_rows' and gemm_rows_adam's first arguments, and their names.
#define GEMM_ROWS_PARAMS const int m, const int n, const int k, const int transA, \
    const float alpha, __global const float* restrict a, __global const float* restrict b, \
    const float beta, __global float* restrict c, \
    const int epilogue, __global float* restrict extra, \
    const int activation, const float slope, const int order
#define GEMM_ROWS_ARGS m, n, k, transA, alpha, a, b, beta, c, epilogue, extra, activation, slope, order

// The body of gemm_rows and gemm_rows_adam (the kernels follow it).
inline void gemm_rows_body(GEMM_ROWS_PARAMS, const int p0, const int p1, ADAM_PARAMS)
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
    if (epilogue >= 4) prefetch_adam_block(w, wm, wv, row, col, m, n);
    if (col + 16 * RB_V <= n) {
        // The whole block: RB_V vectors per row share each scalar of op(A).
        float16 acc[RB_M][RB_V];
        #pragma unroll
        for (int i = 0; i < RB_M; i++)
            #pragma unroll
            for (int v = 0; v < RB_V; v++) acc[i][v] = (float16)(0.0f);
        for (int p = p0; p < p1; p++) {
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
                finish_row16(c, (row + i) * n + col + 16 * v, col + 16 * v, acc[i][v], alpha, beta,
                             epilogue, extra, activation, slope, ADAM_ARGS);
        if (epilogue >= 3 && row == 0) {
            for (int v = 0; v < RB_V; v++) {
                float16 sum = (float16)(0.0f);
                for (int p = 0; p < k; p++) sum += vload16(0, b + (size_t)p * n + col + 16 * v);
                if (epilogue != 4) vstore16(sum, 0, extra + col + 16 * v);
                if (epilogue >= 4) adam_update16(sum, bias, bm, bv, col + 16 * v, ADAM_SCALARS);
            }
        }
        return;
    }
    // The matrix's right edge: whole vectors one at a time, then single columns.
    int j = col;
    for (; j + 16 <= n; j += 16) {
        float16 acc[RB_M];
        rows_times_vector(a_rows, pStride, b, n, p0, p1, j, acc);
        for (int i = 0; i < RB_M && row + i < m; i++)
            finish_row16(c, (row + i) * n + j, j, acc[i], alpha, beta, epilogue, extra, activation, slope, ADAM_ARGS);
    }
    if (epilogue >= 3 && row == 0) {
        for (int jj = col; jj < n; jj++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++) sum += b[(size_t)p * n + jj];
            if (epilogue != 4) extra[jj] = sum;
            if (epilogue >= 4) adam_update1(sum, bias, bm, bv, jj, ADAM_SCALARS);
        }
    }
    for (; j < n; j++) {
        for (int i = 0; i < RB_M && row + i < m; i++) {
            float sum = 0.0f;
            for (int p = p0; p < p1; p++) sum = fma(a_rows[i][(size_t)p * pStride], b[(size_t)p * n + j], sum);
            finish1(c, (row + i) * n + j, j, sum, alpha, beta, epilogue, extra, activation, slope, ADAM_ARGS);
        }
    }
}

// Epilogues 0-3.
__kernel void gemm_rows(GEMM_ROWS_PARAMS, const int p0, const int p1)
{
    // The Adam buffers are never touched with these epilogues.
    gemm_rows_body(GEMM_ROWS_ARGS, p0, p1, c, c, c, c, c, c, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f);
}

// Epilogues 4 and 5, with the Adam step's buffers and scalars as the last arguments.
__kernel void gemm_rows_adam(GEMM_ROWS_PARAMS, ADAM_PARAMS)
{
    gemm_rows_body(GEMM_ROWS_ARGS, 0, k, ADAM_ARGS);
}

// gemm_packed: the CPU kernels' GEMM for shapes that repay packing, built as BLIS builds
// its own (only where the host defines GEMM_PACKED: its local blocks are larger than a
// GPU's local memory). One work-item per work-group, each computing an mc x nc block of C
// (mc a multiple of PK_MR up to PK_MC, nc of PK_NR up to PK_NC, chosen by the host per
// shape): global = (ceil(n / nc), ceil(m / mc)), local = (1, 1). For each chunk of k of
// up to PK_KC, op(B)'s kc x nc block goes into micro-panels of PK_NR columns (each kc x
// PK_NR, row after row) and op(A)'s mc x kc block into micro-panels of PK_MR rows (each
// kc x PK_MR), zeros past the matrices' edges, for every transpose case. Then, for each
// micro-panel of B (which stays in L1) and each of A (the block stays in L2), the
// micro-kernel holds PK_MR x PK_NR of C in PK_MR x PK_NV float16 registers: per step of k,
// PK_NV vectors of B and PK_MR broadcasts of A. A panel that can be read in place (not
// transposed, not at an edge) is packed by its first micro-kernel as it reads it, so that
// its loads from memory overlap the multiply-adds; the others are packed before. Sums
// run over p ascending in one fma chain per element (kept in `partial` between chunks),
// so the blocking does not change the result: deterministic. Epilogues 0-5 as gemm_rows;
// the column sums (3-5) of op(B) are summed by the row-block-0 groups from the packed
// panels, p ascending.
#ifdef GEMM_PACKED
#ifndef PK_MR
#define PK_MR 12
#endif
#ifndef PK_NV
#define PK_NV 2
#endif
#ifndef PK_KC
#define PK_KC 256
#endif
#ifndef PK_MC
#define PK_MC 96
#endif
#ifndef PK_NC
#define PK_NC 512
#endif
#define PK_NR (16 * PK_NV)
#if (PK_MC % PK_MR) != 0 || (PK_NC % PK_NR) != 0
#error "PK_MC and PK_NC must be multiples of PK_MR and 16 * PK_NV"
#endif

// Whether a micro-panel is read straight from the matrix by its first micro-kernel (and
// packed as it goes, so that the reads overlap the multiply-adds): op(A)'s PK_MR rows when
// A is not transposed and all of them lie inside m, op(B)'s PK_NR columns when B is not
// transposed and all of them lie inside n. The other panels are packed before.
inline int a_panel_direct(const int transA, const int m, const int r0) { return !transA && r0 + PK_MR <= m; }
inline int b_panel_direct(const int transB, const int n, const int c0) { return !transB && c0 + PK_NR <= n; }

// op(A)[row0 ..< row0 + mc][p0 ..< p0 + kc] into micro-panels, those that are not direct:
// panel ip holds packed[(ip * kc + p) * PK_MR + i] = op(A)[row0 + ip * PK_MR + i][p0 + p].
inline void pack_a(__global const float* a, const int transA, const int m, const int k,
                   const int row0, const int mc, const int p0, const int kc, __local float* packed)
{
    for (int ip = 0; ip < mc / PK_MR; ip++) {
        if (a_panel_direct(transA, m, row0 + ip * PK_MR)) continue;
        __local float* panel = packed + ip * kc * PK_MR;
        for (int i = 0; i < PK_MR; i++) {
            const int r = row0 + ip * PK_MR + i;
            if (r >= m) {
                for (int p = 0; p < kc; p++) panel[p * PK_MR + i] = 0.0f;
            } else if (transA) {
                for (int p = 0; p < kc; p++) panel[p * PK_MR + i] = a[(size_t)(p0 + p) * m + r];
            } else {
                __global const float* row = a + (size_t)r * k + p0;
                for (int p = 0; p < kc; p++) panel[p * PK_MR + i] = row[p];
            }
        }
    }
}

// op(B)[p0 ..< p0 + kc][col0 ..< col0 + nc] into micro-panels, those that are not direct:
// panel jp holds packed[(jp * kc + p) * PK_NR + j] = op(B)[p0 + p][col0 + jp * PK_NR + j].
inline void pack_b(__global const float* b, const int transB, const int k, const int n,
                   const int col0, const int nc, const int p0, const int kc, __local float* packed)
{
    for (int jp = 0; jp < nc / PK_NR; jp++) {
        const int c0 = col0 + jp * PK_NR;
        if (b_panel_direct(transB, n, c0)) continue;
        __local float* panel = packed + jp * kc * PK_NR;
        for (int j = 0; j < PK_NR; j++) {
            const int col = c0 + j;
            if (col >= n) {
                for (int p = 0; p < kc; p++) panel[p * PK_NR + j] = 0.0f;
            } else if (transB) {
                __global const float* row = b + (size_t)col * k + p0;
                for (int p = 0; p < kc; p++) panel[p * PK_NR + j] = row[p];
            } else {
                for (int p = 0; p < kc; p++) panel[p * PK_NR + j] = b[(size_t)(p0 + p) * n + col];
            }
        }
    }
}

// The micro-kernel: acc += the micro-panels' product over kc steps of k. With fromA, op(A)'s
// rows are read from `arow` (row i at arow + i * lda) and stored into `ap` as they are
// used; with fromB, op(B)'s rows from `brow` (row p at brow + p * ldb) into `bp`. The
// callers pass the flags as constants, so that each use compiles to its own loop.
__attribute__((always_inline)) inline void micro_tile(__local float* ap, __local float* bp, const int kc,
                       __global const float* arow, const size_t lda, const int fromA,
                       __global const float* brow, const size_t ldb, const int fromB,
                       float16 acc[PK_MR][PK_NV])
{
    for (int p = 0; p < kc; p++) {
        float16 bvec[PK_NV];
        #pragma unroll
        for (int v = 0; v < PK_NV; v++) {
            if (fromB) {
                bvec[v] = vload16(v, brow + p * ldb);
                vstore16(bvec[v], v, bp + p * PK_NR);
            } else {
                bvec[v] = vload16(v, bp + p * PK_NR);
            }
        }
        #pragma unroll
        for (int i = 0; i < PK_MR; i++) {
            float s;
            if (fromA) {
                s = arow[i * lda + p];
                ap[p * PK_MR + i] = s;
            } else {
                s = ap[p * PK_MR + i];
            }
            const float16 av = (float16)(s);
            #pragma unroll
            for (int v = 0; v < PK_NV; v++) acc[i][v] = fma(av, bvec[v], acc[i][v]);
        }
    }
}

// gemm_packed's and gemm_packed_adam's first arguments, and their names.
#define GEMM_PACKED_PARAMS const int m, const int n, const int k, const int transA, const int transB, \
    const float alpha, __global const float* restrict a, __global const float* restrict b, \
    const float beta, __global float* restrict c, \
    const int epilogue, __global float* restrict extra, \
    const int activation, const float slope, const int mc, const int nc
#define GEMM_PACKED_ARGS m, n, k, transA, transB, alpha, a, b, beta, c, epilogue, extra, activation, slope, mc, nc

inline void gemm_packed_body(GEMM_PACKED_PARAMS, __local float* apack, __local float* bpack,
                             __local float* partial, __local float* columnSums, ADAM_PARAMS)
{
    const int col0 = get_group_id(0) * nc;
    const int row0 = get_group_id(1) * mc;
    // This block's extent, in whole micro-panels.
    const int mcb = min(mc, (m - row0 + PK_MR - 1) / PK_MR * PK_MR);
    const int ncb = min(nc, (n - col0 + PK_NR - 1) / PK_NR * PK_NR);
    const int sums = epilogue >= 3 && row0 == 0;
    if (sums)
        for (int j = 0; j < ncb; j++) columnSums[j] = 0.0f;
    for (int p0 = 0; p0 < k; p0 += PK_KC) {
        const int kc = min(PK_KC, k - p0);
        const int first = p0 == 0, last = p0 + kc == k;
        pack_b(b, transB, k, n, col0, ncb, p0, kc, bpack);
        pack_a(a, transA, m, k, row0, mcb, p0, kc, apack);
        for (int jp = 0; jp < ncb / PK_NR; jp++) {
            __local float* bp = bpack + jp * kc * PK_NR;
            const int c0 = col0 + jp * PK_NR;
            const int bDirect = b_panel_direct(transB, n, c0);
            __global const float* brow = b + (size_t)p0 * n + c0;
            for (int ip = 0; ip < mcb / PK_MR; ip++) {
                __local float* ap = apack + ip * kc * PK_MR;
                const int r0 = row0 + ip * PK_MR;
                const int fromA = jp == 0 && a_panel_direct(transA, m, r0), fromB = ip == 0 && bDirect;
                __global const float* arow = a + (size_t)r0 * k + p0;
                __local float* part = partial + (ip * PK_MR) * PK_NC + jp * PK_NR;
                float16 acc[PK_MR][PK_NV];
                #pragma unroll
                for (int i = 0; i < PK_MR; i++)
                    #pragma unroll
                    for (int v = 0; v < PK_NV; v++) acc[i][v] = first ? (float16)(0.0f) : vload16(v, part + i * PK_NC);
                if (fromA && fromB) micro_tile(ap, bp, kc, arow, k, 1, brow, n, 1, acc);
                else if (fromA) micro_tile(ap, bp, kc, arow, k, 1, brow, n, 0, acc);
                else if (fromB) micro_tile(ap, bp, kc, arow, k, 0, brow, n, 1, acc);
                else micro_tile(ap, bp, kc, arow, k, 0, brow, n, 0, acc);
                // This chunk's column sums from the packed panel, p ascending: the padding
                // past n adds zeros that are never stored.
                if (sums && ip == 0)
                    for (int p = 0; p < kc; p++)
                        #pragma unroll
                        for (int v = 0; v < PK_NV; v++)
                            vstore16(vload16(v, columnSums + jp * PK_NR) + vload16(v, bp + p * PK_NR), v, columnSums + jp * PK_NR);
                if (!last) {
                    #pragma unroll
                    for (int i = 0; i < PK_MR; i++)
                        #pragma unroll
                        for (int v = 0; v < PK_NV; v++) vstore16(acc[i][v], v, part + i * PK_NC);
                    continue;
                }
                for (int i = 0; i < PK_MR; i++) {
                    const int row = r0 + i;
                    if (row >= m) break;
                    for (int v = 0; v < PK_NV; v++) {
                        const int col = c0 + 16 * v;
                        if (col + 16 <= n) {
                            finish_row16(c, row * n + col, col, acc[i][v], alpha, beta, epilogue, extra, activation,
                                         slope, ADAM_ARGS);
                        } else {
                            float lanes[16];
                            vstore16(acc[i][v], 0, lanes);
                            for (int q = 0; q < 16 && col + q < n; q++)
                                finish1(c, row * n + col + q, col + q, lanes[q], alpha, beta, epilogue, extra, activation,
                                        slope, ADAM_ARGS);
                        }
                    }
                }
            }
        }
    }
    if (sums) {
        for (int j = 0; j < ncb && col0 + j < n; j++) {
            if (epilogue != 4) extra[col0 + j] = columnSums[j];
            if (epilogue >= 4) adam_update1(columnSums[j], bias, bm, bv, col0 + j, ADAM_SCALARS);
        }
    }
}

// The packed blocks, the partial sums and the column sums: local memory must be declared
// in the kernel itself, so each kernel declares them by this macro.
#define PACKED_LOCALS \
    __local float apack[PK_MC * PK_KC] __attribute__((aligned(64))); \
    __local float bpack[PK_KC * PK_NC] __attribute__((aligned(64))); \
    __local float partial[PK_MC * PK_NC] __attribute__((aligned(64))); \
    __local float columnSums[PK_NC] __attribute__((aligned(64)))

// Epilogues 0-3.
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_packed(GEMM_PACKED_PARAMS)
{
    PACKED_LOCALS;
    // The Adam buffers are never touched with these epilogues.
    gemm_packed_body(GEMM_PACKED_ARGS, apack, bpack, partial, columnSums, c, c, c, c, c, c, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f);
}

// Epilogues 4 and 5, with the Adam step's buffers and scalars as the last arguments.
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_packed_adam(GEMM_PACKED_PARAMS, ADAM_PARAMS)
{
    PACKED_LOCALS;
    gemm_packed_body(GEMM_PACKED_ARGS, apack, bpack, partial, columnSums, ADAM_ARGS);
}
#endif

// conv_rows: a convolution's forward, gemm_rows' NN product without the column matrix (an
// implicit GEMM). op(A)[r][p], for the output position r = (image, oy, ox) and the patch
// entry p = (ky·K + kx)·C + c, is x[image, oy·S − P + ky, ox·S − P + kx, c] read straight
// from the NHWC images, 0 in the padding: what im2col would have stored (conv.cl). B is
// the weights (k = K·K·C, n), C the output (m = positions, n) in NHWC. The sums run over
// p ascending as gemm_rows' do, so with k in one chunk the result has the same bits as
// im2col followed by gemm_rows. Epilogues 0-2; launched as gemm_rows (order 0 or 1).
__kernel void conv_rows(const int m, const int n, const int k,
                        const float alpha, __global const float* restrict x, __global const float* restrict b,
                        const float beta, __global float* restrict c,
                        const int epilogue, __global float* restrict extra,
                        const int activation, const float slope, const int order,
                        const int H, const int W, const int C, const int K, const int S, const int P,
                        const int OH, const int OW)
{
    const int g0 = get_global_id(0), g1 = get_global_id(1);
    const int col = (order == 0 ? g0 : g1) * (16 * RB_V);
    const int row = (order == 0 ? g1 : g0) * RB_M;
    if (col >= n || row >= m) return;
    // Each row's image and the top-left corner of its patch (rows past m: the last row).
    __global const float* image[RB_M];
    int y0[RB_M], x0[RB_M];
    #pragma unroll
    for (int i = 0; i < RB_M; i++) {
        const int r = min(row + i, m - 1);
        const int ox = r % OW, t = r / OW;
        const int oy = t % OH;
        image[i] = x + (size_t)(t / OH) * H * W * C;
        y0[i] = oy * S - P;
        x0[i] = ox * S - P;
    }
    if (col + 16 * RB_V <= n) {
        float16 acc[RB_M][RB_V];
        #pragma unroll
        for (int i = 0; i < RB_M; i++)
            #pragma unroll
            for (int v = 0; v < RB_V; v++) acc[i][v] = (float16)(0.0f);
        for (int ky = 0; ky < K; ky++) {
            for (int kx = 0; kx < K; kx++) {
                // The pixel each row reads for this kernel entry (a valid one in the padding,
                // where the read is replaced by 0).
                __global const float* pixel[RB_M];
                bool inside[RB_M];
                #pragma unroll
                for (int i = 0; i < RB_M; i++) {
                    const int iy = y0[i] + ky, ix = x0[i] + kx;
                    inside[i] = iy >= 0 && iy < H && ix >= 0 && ix < W;
                    pixel[i] = image[i] + ((size_t)(inside[i] ? iy : 0) * W + (inside[i] ? ix : 0)) * C;
                }
                __global const float* bk = b + (size_t)(ky * K + kx) * C * n + col;
                for (int ch = 0; ch < C; ch++) {
                    float16 bv[RB_V];
                    #pragma unroll
                    for (int v = 0; v < RB_V; v++) bv[v] = vload16(0, bk + (size_t)ch * n + 16 * v);
                    #pragma unroll
                    for (int i = 0; i < RB_M; i++) {
                        const float16 av = (float16)(inside[i] ? pixel[i][ch] : 0.0f);
                        #pragma unroll
                        for (int v = 0; v < RB_V; v++) acc[i][v] = fma(av, bv[v], acc[i][v]);
                    }
                }
            }
        }
        for (int i = 0; i < RB_M && row + i < m; i++)
            for (int v = 0; v < RB_V; v++)
                store_row16(c, (row + i) * n + col + 16 * v, col + 16 * v, acc[i][v], alpha, beta,
                            epilogue, extra, activation, slope);
        return;
    }
    // The matrix's right edge: one column at a time, each row's sum over p ascending.
    for (int j = col; j < n; j++) {
        for (int i = 0; i < RB_M && row + i < m; i++) {
            float sum = 0.0f;
            for (int ky = 0; ky < K; ky++) {
                for (int kx = 0; kx < K; kx++) {
                    const int iy = y0[i] + ky, ix = x0[i] + kx;
                    const bool in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                    __global const float* px = image[i] + ((size_t)(in ? iy : 0) * W + (in ? ix : 0)) * C;
                    __global const float* bk = b + (size_t)(ky * K + kx) * C * n + j;
                    for (int ch = 0; ch < C; ch++) sum = fma(in ? px[ch] : 0.0f, bk[(size_t)ch * n], sum);
                }
            }
            store1(c, (row + i) * n + j, j, sum, alpha, beta, epilogue, extra, activation, slope);
        }
    }
}

// gemm_dot: NT without a copy. Each work-item computes a 4 x 4 block of C as 16 dot
// products along k: float16 pieces of 4 rows of A and 4 rows of B (both contiguous in
// k), 16 float16 accumulators, then one tree that sums all 16 accumulators' lanes at
// once (15 vector adds; lane 4i + j of the result is C[row + i][col + j]). The k % 16
// left over is added element by element. A fixed order throughout: deterministic.
//   global = (ceil(m / 4), ceil(n / 4)): row blocks along dimension 0, so the work-items
//   a core runs in turn share 4 rows of B (in L1) and stream A's rows (from L2).
// Epilogues as gemm_rows; column sums of op(B) = Bᵀ are the row sums of B.

// Pairs of vectors halved: (sums of x's halves, sums of y's halves), and so on down.
inline float16 dot_fold16(const float16 x, const float16 y) { return (float16)(x.lo + x.hi, y.lo + y.hi); }
inline float16 dot_fold8(const float16 x, const float16 y)
{
    return (float16)(x.s0123 + x.s4567, x.s89ab + x.scdef, y.s0123 + y.s4567, y.s89ab + y.scdef);
}
inline float16 dot_fold4(const float16 x, const float16 y)
{
    return (float16)(x.s02 + x.s13, x.s46 + x.s57, x.s8a + x.s9b, x.sce + x.sdf,
                     y.s02 + y.s13, y.s46 + y.s57, y.s8a + y.s9b, y.sce + y.sdf);
}
inline float16 dot_fold2(const float16 x, const float16 y) { return (float16)(x.even + x.odd, y.even + y.odd); }

// 4 elements of a row of C from their sums: C[index ..< index + 4], columns col...
inline void store_row4(__global float* c, const int index, const int col, const float4 sum,
                       const float alpha, const float beta, const int epilogue,
                       __global const float* extra, const int activation, const float slope)
{
    float4 result = alpha * sum;
    if (beta != 0.0f) result = fma((float4)(beta), vload4(0, c + index), result);
    // (The float16 forms on four copies: one definition of each activation.)
    if (epilogue == 1) {
        const float4 z = result + vload4(0, extra + col);
        result = activate16((float16)(z, z, z, z), activation, slope).s0123;
    } else if (epilogue == 2) {
        const float4 y = vload4(0, extra + index);
        result *= derivative16((float16)(y, y, y, y), activation, slope).s0123;
    }
    vstore4(result, 0, c + index);
}

__kernel void gemm_dot(const int m, const int n, const int k,
                       const float alpha, __global const float* restrict a,
                       __global const float* restrict b,
                       const float beta, __global float* restrict c,
                       const int epilogue, __global float* restrict extra,
                       const int activation, const float slope)
{
    const int row = get_global_id(0) * 4;
    const int col = get_global_id(1) * 4;
    if (row >= m || col >= n) return;
    __global const float* ar[4];
    __global const float* br[4];
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        ar[i] = a + (size_t)min(row + i, m - 1) * k;
        br[i] = b + (size_t)min(col + i, n - 1) * k;
    }
    float16 acc[4][4];
    #pragma unroll
    for (int i = 0; i < 4; i++)
        #pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = (float16)(0.0f);
    int p = 0;
    for (; p + 16 <= k; p += 16) {
        float16 av[4];
        #pragma unroll
        for (int i = 0; i < 4; i++) av[i] = vload16(0, ar[i] + p);
        #pragma unroll
        for (int j = 0; j < 4; j++) {
            const float16 bv = vload16(0, br[j] + p);
            #pragma unroll
            for (int i = 0; i < 4; i++) acc[i][j] = fma(av[i], bv, acc[i][j]);
        }
    }
    float16 half8[8];
    #pragma unroll
    for (int t = 0; t < 8; t++) half8[t] = dot_fold16(acc[t / 2][(2 * t) % 4], acc[t / 2][(2 * t) % 4 + 1]);
    float16 half4[4];
    #pragma unroll
    for (int t = 0; t < 4; t++) half4[t] = dot_fold8(half8[2 * t], half8[2 * t + 1]);
    float16 sum = dot_fold2(dot_fold4(half4[0], half4[1]), dot_fold4(half4[2], half4[3]));
    if (p < k) {
        // The last k % 16 products, lane by lane.
        float rest[16];
        #pragma unroll
        for (int i = 0; i < 4; i++)
            #pragma unroll
            for (int j = 0; j < 4; j++) {
                float v = 0.0f;
                for (int q = p; q < k; q++) v = fma(ar[i][q], br[j][q], v);
                rest[4 * i + j] = v;
            }
        sum += vload16(0, rest);
    }
    if (col + 4 <= n) {
        #pragma unroll
        for (int i = 0; i < 4; i++) {
            if (row + i >= m) break;
            const float4 s = i == 0 ? sum.s0123 : i == 1 ? sum.s4567 : i == 2 ? sum.s89ab : sum.scdef;
            store_row4(c, (row + i) * n + col, col, s, alpha, beta, epilogue, extra, activation, slope);
        }
    } else {
        float sums[16];
        vstore16(sum, 0, sums);
        for (int i = 0; i < 4 && row + i < m; i++)
            for (int j = 0; col + j < n; j++)
                store1(c, (row + i) * n + col + j, col + j, sums[4 * i + j], alpha, beta, epilogue, extra, activation, slope);
    }
    if (epilogue == 3 && row == 0) {
        for (int j = 0; j < 4 && col + j < n; j++) {
            float total = 0.0f;
            for (int q = 0; q < k; q++) total += br[j][q];
            extra[col + j] = total;
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
