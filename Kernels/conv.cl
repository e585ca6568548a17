// conv.cl — convolution by patches and batch normalisation, over NHWC images and
// (rows, columns) matrices. Put after activation.cl by the host.
//
// Images are NHWC: image n's pixel (y, x) channel c at ((n*H + y)*W + x)*C + c. The
// column matrix has a row per output position (n, oy, ox) and a column per patch entry
// (ky, kx, c): (batch*OH*OW, K*K*C), row-major. Every sum here runs in a fixed order in
// one work-item (no atomics), so results do not depend on scheduling.

// columns[(n, oy, ox), (ky, kx, c)] = x[n, oy*S - P + ky, ox*S - P + kx, c], 0 in the padding.
// Launch: global = (C, K*K, batch*OH*OW).
__kernel void im2col(__global const float* x, __global float* columns,
                     const int H, const int W, const int C, const int K, const int S, const int P,
                     const int OH, const int OW)
{
    const int c = get_global_id(0);
    const int kk = get_global_id(1);
    const int row = get_global_id(2);
    const int ky = kk / K, kx = kk - ky * K;
    const int ox = row % OW;
    const int t = row / OW;
    const int oy = t % OH, n = t / OH;
    const int iy = oy * S - P + ky, ix = ox * S - P + kx;
    const bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
    columns[(size_t)row * (K * K * C) + kk * C + c] = inside ? x[(((size_t)n * H + iy) * W + ix) * C + c] : 0.0f;
}

// x[n, iy, ix, c] = sum of its entries in columns, kernel rows then columns ascending:
// im2col's adjoint. One work-item per pixel; its channels go in runs of COL2IM_RUN, each
// run's sums kept in registers while every reaching patch entry adds its contiguous run
// of channels, so each channel's sum runs in the same order as a one-channel loop would.
// Launch: global = (W, batch*H).
#define COL2IM_RUN 16
__kernel void col2im(__global const float* columns, __global float* x,
                     const int H, const int W, const int C, const int K, const int S, const int P,
                     const int OH, const int OW)
{
    const int ix = get_global_id(0);
    const int t = get_global_id(1);
    const int iy = t % H, n = t / H;
    const int patch = K * K * C;
    __global float* out = x + (((size_t)n * H + iy) * W + ix) * C;
    // Only kernel rows ky ≡ iy + P (mod S) reach this pixel: start there, step by S.
    const int firstKy = (iy + P) % S, firstKx = (ix + P) % S;
    for (int c0 = 0; c0 < C; c0 += COL2IM_RUN) {
        const int run = min(COL2IM_RUN, C - c0);
        float sum[COL2IM_RUN];
        for (int j = 0; j < COL2IM_RUN; j++) sum[j] = 0.0f;
        for (int ky = firstKy; ky < K; ky += S) {
            const int ty = iy + P - ky;
            if (ty < 0 || ty >= S * OH) continue;
            for (int kx = firstKx; kx < K; kx += S) {
                const int tx = ix + P - kx;
                if (tx < 0 || tx >= S * OW) continue;
                const size_t row = ((size_t)n * OH + ty / S) * OW + tx / S;
                __global const float* in = columns + row * patch + (ky * K + kx) * C + c0;
                if (run == COL2IM_RUN) {
                    for (int j = 0; j < COL2IM_RUN; j++) sum[j] += in[j];
                } else {
                    for (int j = 0; j < run; j++) sum[j] += in[j];
                }
            }
        }
        for (int j = 0; j < run; j++) out[c0 + j] = sum[j];
    }
}

// Sums over rows run in blocks of SUM_BLOCK, each block's partial added to the total:
// a float sum over 10^5 rows then stays within the tolerance of a Double one.
#define SUM_BLOCK 128

// y[r, c] = f(gamma[c] * (x[r, c] - mean[g, c]) / sqrt(variance[g, c] + epsilon) + beta[c]).
// Launch: global = (columns, rows).
__kernel void batch_norm_forward(__global const float* x, const int rows, const int columns, const int groups,
                                 __global const float* mean, __global const float* variance, const float epsilon,
                                 __global const float* gamma, __global const float* beta,
                                 const int activation, const float slope, __global float* y)
{
    const int c = get_global_id(0);
    const int r = get_global_id(1);
    const int g = r / (rows / groups);
    const float s = 1.0f / sqrt(variance[g * columns + c] + epsilon);
    const size_t i = (size_t)r * columns + c;
    const float normalized = (x[i] - mean[g * columns + c]) * s;
    y[i] = activate1(gamma[c] * normalized + beta[c], activation, slope);
}

// Batch statistics and the training-mode backward, per column over groups of rows (rows
// split into `groups` equal runs), in passes that keep every core busy however few the
// columns: each block of SUM_BLOCK rows of a group gets its own work-item for its partial
// sum, and a second pass adds a group's partials in ascending order. The squares are
// taken about the mean in a pass of their own. `partial` holds (groups * blocks, columns)
// floats per quantity.

// Per column c and block b of group g: the block's sum of x (squares == 0) or of
// (x - mean[g, c])² (squares != 0). Launch: global = (columns, groups * blocks).
__kernel void batch_norm_partial_sums(__global const float* x, const int rows, const int columns, const int groups,
                                      const int blocks, const int squares, __global const float* mean,
                                      __global float* partial)
{
    const int c = get_global_id(0);
    const int gb = get_global_id(1);
    const int g = gb / blocks, b = gb - g * blocks;
    const int per = rows / groups;
    const int first = g * per + b * SUM_BLOCK;
    const int end = min(first + SUM_BLOCK, g * per + per);
    float part = 0.0f;
    if (squares) {
        const float mu = mean[g * columns + c];
        for (int r = first; r < end; r++) {
            const float d = x[(size_t)r * columns + c] - mu;
            part += d * d;
        }
    } else {
        for (int r = first; r < end; r++) part += x[(size_t)r * columns + c];
    }
    partial[(size_t)gb * columns + c] = part;
}

// Per column and group: the mean (squares == 0) or the biased variance and, with update
// != 0 (one group), the running averages (squares != 0) from the partial sums.
// Launch: global = (columns, groups).
__kernel void batch_norm_finish_statistics(__global const float* partial, const int rows, const int columns,
                                           const int groups, const int blocks, const int squares,
                                           __global float* mean, __global float* variance,
                                           const int update, __global float* running_mean,
                                           __global float* running_variance, const float momentum)
{
    const int c = get_global_id(0);
    const int g = get_global_id(1);
    const int per = rows / groups;
    float sum = 0.0f;
    for (int b = 0; b < blocks; b++) sum += partial[((size_t)g * blocks + b) * columns + c];
    if (!squares) {
        mean[g * columns + c] = per > 0 ? sum / (float)per : 0.0f;
        return;
    }
    const float var = per > 0 ? sum / (float)per : 0.0f;
    variance[g * columns + c] = var;
    if (update) {
        const float mu = mean[g * columns + c];
        const float unbiased = per > 1 ? var * (float)per / (float)(per - 1) : var;
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mu;
        running_variance[c] = (1.0f - momentum) * running_variance[c] + momentum * unbiased;
    }
}

// Per column c and block b of group g: the block's sums of dz and dz*xhat, into the
// first and second (groups * blocks, columns) halves of `partial`.
// Launch: global = (columns, groups * blocks).
__kernel void batch_norm_backward_partials(__global const float* x, __global const float* dz,
                                           const int rows, const int columns, const int groups, const int blocks,
                                           __global const float* mean, __global const float* variance,
                                           const float epsilon, __global float* partial)
{
    const int c = get_global_id(0);
    const int gb = get_global_id(1);
    const int g = gb / blocks, b = gb - g * blocks;
    const int per = rows / groups;
    const int first = g * per + b * SUM_BLOCK;
    const int end = min(first + SUM_BLOCK, g * per + per);
    const float mu = mean[g * columns + c];
    const float s = 1.0f / sqrt(variance[g * columns + c] + epsilon);
    float part_dz = 0.0f, part_dz_xhat = 0.0f;
    for (int r = first; r < end; r++) {
        const size_t i = (size_t)r * columns + c;
        part_dz += dz[i];
        part_dz_xhat += dz[i] * ((x[i] - mu) * s);
    }
    partial[(size_t)gb * columns + c] = part_dz;
    partial[((size_t)groups * blocks + gb) * columns + c] = part_dz_xhat;
}

// Per column: each group's sums from the partials (ascending), into sums (2 * groups,
// columns: the dz sums, then the dz*xhat sums), and their totals over groups, the beta
// and gamma gradients. Launch: global = (columns).
__kernel void batch_norm_backward_sums(__global const float* partial, const int columns, const int groups,
                                       const int blocks, __global float* sums,
                                       __global float* gamma_gradient, __global float* beta_gradient)
{
    const int c = get_global_id(0);
    float total_beta = 0.0f, total_gamma = 0.0f;
    for (int g = 0; g < groups; g++) {
        float sum_dz = 0.0f, sum_dz_xhat = 0.0f;
        for (int b = 0; b < blocks; b++) {
            sum_dz += partial[((size_t)g * blocks + b) * columns + c];
            sum_dz_xhat += partial[((size_t)(groups + g) * blocks + b) * columns + c];
        }
        sums[g * columns + c] = sum_dz;
        sums[(groups + g) * columns + c] = sum_dz_xhat;
        total_beta += sum_dz;
        total_gamma += sum_dz_xhat;
    }
    beta_gradient[c] = total_beta;
    gamma_gradient[c] = total_gamma;
}

// dx from the group sums, one work-item per element. Launch: global = (columns, rows).
__kernel void batch_norm_backward_dx(__global const float* x, __global const float* dz,
                                     const int rows, const int columns, const int groups,
                                     __global const float* mean, __global const float* variance, const float epsilon,
                                     __global const float* gamma, __global const float* sums, __global float* dx,
                                     const int below, const float slope)
{
    const int c = get_global_id(0);
    const int r = get_global_id(1);
    const int per = rows / groups;
    const int g = r / per;
    const float mu = mean[g * columns + c];
    const float s = 1.0f / sqrt(variance[g * columns + c] + epsilon);
    const float n = (float)per;
    const float scale = gamma[c] * s / n;
    const size_t i = (size_t)r * columns + c;
    const float xhat = (x[i] - mu) * s;
    dx[i] = derivative1(x[i], below, slope) *
            (scale * (n * dz[i] - sums[g * columns + c] - xhat * sums[(groups + g) * columns + c]));
}
