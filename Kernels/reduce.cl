// reduce.cl — column sums (bias gradients), row sums, the mean, the per-row norms of
// the WGAN-GP gradient penalty, spectral normalisation's norms and gradient, and layer
// normalisation.
//
// Every reduction has a fixed order that depends only on the sizes and on REDUCE_WG,
// never on scheduling: the same device and inputs give the same bits.

#ifndef REDUCE_WG
#define REDUCE_WG 256
#endif
#if (REDUCE_WG & (REDUCE_WG - 1)) != 0
#error "REDUCE_WG must be a power of two"
#endif

#pragma OPENCL FP_CONTRACT OFF

// x is (rows, columns), out is (columns):
//   out[c] = sum_r x[r, c], or out[c] += sum_r x[r, c] when accumulate != 0
// Launch: global = columns, one work-item per column; rows in order, so neighbouring
// work-items read neighbouring addresses.
__kernel void sum_columns(__global const float* x, __global float* out,
                          const int rows, const int columns, const int accumulate)
{
    const int c = get_global_id(0);
    if (c >= columns) return;
    float sum = 0.0f;
    for (int r = 0; r < rows; r++) sum += x[r * columns + c];
    out[c] = accumulate ? out[c] + sum : sum;
}

// x is (rows, columns), out is (rows): out[r] = sum_c x[r, c]
// Launch: global = (REDUCE_WG, rows), local = (REDUCE_WG, 1); a work-group per row,
// each work-item sums a strided slice, then a fixed tree in local memory.
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void sum_rows(__global const float* x, __global float* out, const int rows, const int columns)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int r = get_group_id(1);
    float sum = 0.0f;
    for (int c = lid; c < columns; c += REDUCE_WG) sum += x[r * columns + c];
    partial[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = REDUCE_WG / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[r] = partial[0];
}

// x is (count), out is (1): out[0] = sum_i x[i] / count  (0 when count is 0)
// Launch: global = local = REDUCE_WG, one work-group.
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void mean(__global const float* x, __global float* out, const int count)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    float sum = 0.0f;
    for (int i = lid; i < count; i += REDUCE_WG) sum += x[i];
    partial[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = REDUCE_WG / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[0] = count > 0 ? partial[0] / (float)count : 0.0f;
}

// gradients, directions are (rows, columns); norms, losses are (rows):
//   norms[r] = |g_r|, losses[r] = weight * (|g_r| - 1)^2,
//   directions[r, c] = scale * 2 * weight * (|g_r| - 1) * g[r, c] / |g_r|  (0 when |g_r| = 0).
// Launch: as sum_rows, a work-group per row: the squares summed by a fixed tree, then
// each work-item writes its slice of the row's directions.
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void gradient_penalty(__global const float* gradients, const int rows, const int columns,
                      const float weight, const float scale, __global float* norms,
                      __global float* losses, __global float* directions)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int r = get_group_id(1);
    __global const float* g = gradients + (size_t)r * columns;
    float sum = 0.0f;
    for (int c = lid; c < columns; c += REDUCE_WG) sum += g[c] * g[c];
    partial[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = REDUCE_WG / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float norm = sqrt(partial[0]);
    const float factor = norm > 0.0f ? scale * 2.0f * weight * (norm - 1.0f) / norm : 0.0f;
    __global float* d = directions + (size_t)r * columns;
    for (int c = lid; c < columns; c += REDUCE_WG) d[c] = factor * g[c];
    if (lid == 0) {
        norms[r] = norm;
        losses[r] = weight * (norm - 1.0f) * (norm - 1.0f);
    }
}

// The sum of a work-group's partial sums by a fixed tree; every work-item gets it.
inline float group_sum(__local float* partial, const int lid, const float value)
{
    partial[lid] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = REDUCE_WG / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = partial[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// x is (count), norm is (1): norm[0] = |x|, and x /= |x| unless |x| is 0.
// Launch: global = local = REDUCE_WG, one work-group.
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void normalize_vector(__global float* x, const int count, __global float* norm)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    float sum = 0.0f;
    for (int i = lid; i < count; i += REDUCE_WG) sum += x[i] * x[i];
    const float length = sqrt(group_sum(partial, lid, sum));
    if (length > 0.0f)
        for (int i = lid; i < count; i += REDUCE_WG) x[i] = x[i] / length;
    if (lid == 0) norm[0] = length;
}

// gradient, weight are (rows, columns), v is (rows), u is (columns), sigma is (1):
//   c = sum of gradient * weight;  gradient[r, k] = (gradient[r, k] - c * v[r] * u[k]) / sigma[0]
// Launch: global = local = REDUCE_WG, one work-group.
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void spectral_norm_gradient(__global float* gradient, __global const float* weight, const int rows,
                            const int columns, __global const float* v, __global const float* u,
                            __global const float* sigma)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int count = rows * columns;
    float sum = 0.0f;
    for (int i = lid; i < count; i += REDUCE_WG) sum += gradient[i] * weight[i];
    const float c = group_sum(partial, lid, sum);
    const float s = sigma[0];
    for (int i = lid; i < count; i += REDUCE_WG)
        gradient[i] = (gradient[i] - c * v[i / columns] * u[i % columns]) / s;
}

// Layer normalisation over each row of x (rows x columns), a work-group per row: the
// row's mean, then the squares about it, each by group_sum's fixed tree;
// y[r, c] = f(gamma[c] * (x[r, c] - mean[r]) * s + beta[c]), s = 1 / sqrt(variance[r] + epsilon).
// y may be x: each work-item reads an element before it writes it, after both sums.
// Launch: global = (REDUCE_WG, rows), local = (REDUCE_WG, 1).
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void layer_norm_forward(__global const float* x, const int rows, const int columns, const float epsilon,
                        __global const float* gamma, __global const float* beta, const int activation,
                        const float slope, __global float* mean, __global float* variance, __global float* y)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int r = get_group_id(1);
    __global const float* xr = x + (size_t)r * columns;
    float sum = 0.0f;
    for (int c = lid; c < columns; c += REDUCE_WG) sum += xr[c];
    const float mu = group_sum(partial, lid, sum) / (float)columns;
    float squares = 0.0f;
    for (int c = lid; c < columns; c += REDUCE_WG) {
        const float d = xr[c] - mu;
        squares += d * d;
    }
    const float var = group_sum(partial, lid, squares) / (float)columns;
    const float s = 1.0f / sqrt(var + epsilon);
    __global float* yr = y + (size_t)r * columns;
    for (int c = lid; c < columns; c += REDUCE_WG) yr[c] = activate1(gamma[c] * ((xr[c] - mu) * s) + beta[c], activation, slope);
    if (lid == 0) {
        mean[r] = mu;
        variance[r] = var;
    }
}

// The input gradient of layer normalisation, a work-group per row: with g = dz * gamma[c]
// and xhat = (x - mean[r]) * s, the row's sums of g and g * xhat by fixed trees, then
// dx = f'_below(x) * s / N * (N * g - sum g - xhat * sum g * xhat).
// Launch: global = (REDUCE_WG, rows), local = (REDUCE_WG, 1).
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void layer_norm_input_gradient(__global const float* x, __global const float* dz, const int rows, const int columns,
                               __global const float* mean, __global const float* variance, const float epsilon,
                               __global const float* gamma, __global float* dx, const int below, const float slope)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int r = get_group_id(1);
    const size_t base = (size_t)r * columns;
    const float mu = mean[r];
    const float s = 1.0f / sqrt(variance[r] + epsilon);
    float sum_g = 0.0f, sum_g_xhat = 0.0f;
    for (int c = lid; c < columns; c += REDUCE_WG) {
        const float g = dz[base + c] * gamma[c];
        sum_g += g;
        sum_g_xhat += g * ((x[base + c] - mu) * s);
    }
    const float a = group_sum(partial, lid, sum_g);
    const float b = group_sum(partial, lid, sum_g_xhat);
    const float n = (float)columns;
    for (int c = lid; c < columns; c += REDUCE_WG) {
        const float xv = x[base + c];
        const float xhat = (xv - mu) * s;
        dx[base + c] = derivative1(xv, below, slope) * (s / n * (n * (dz[base + c] * gamma[c]) - a - xhat * b));
    }
}

// Layer normalisation's parameter gradients, a work-item per column summing over rows in
// blocks (the column sums' order): beta_gradient[c] = sum dz, gamma_gradient[c] = sum dz * xhat.
// Launch: global = (columns).
__kernel void layer_norm_parameter_gradients(__global const float* x, __global const float* dz, const int rows,
                                             const int columns, __global const float* mean,
                                             __global const float* variance, const float epsilon,
                                             __global float* gamma_gradient, __global float* beta_gradient)
{
    const int c = get_global_id(0);
    if (c >= columns) return;
    float total_beta = 0.0f, total_gamma = 0.0f;
    for (int block = 0; block < rows; block += 64) {
        float part_beta = 0.0f, part_gamma = 0.0f;
        for (int r = block; r < min(block + 64, rows); r++) {
            const size_t i = (size_t)r * columns + c;
            const float xhat = (x[i] - mean[r]) * (1.0f / sqrt(variance[r] + epsilon));
            part_beta += dz[i];
            part_gamma += dz[i] * xhat;
        }
        total_beta += part_beta;
        total_gamma += part_gamma;
    }
    beta_gradient[c] = total_beta;
    gamma_gradient[c] = total_gamma;
}

// Minibatch standard deviation (ProGAN). value[g] = mean over columns of
// sqrt(variance[g, c] + epsilon), a work-group per group by group_sum's fixed tree.
// Launch: global = (REDUCE_WG, groups), local = (REDUCE_WG, 1).
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void minibatch_std_value(__global const float* variance, const int columns, const float epsilon,
                         __global float* value)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int g = get_group_id(1);
    float sum = 0.0f;
    for (int c = lid; c < columns; c += REDUCE_WG) sum += sqrt(variance[(size_t)g * columns + c] + epsilon);
    const float total = group_sum(partial, lid, sum);
    if (lid == 0) value[g] = total / (float)columns;
}

// y = x (rows x spatial x channels, NHWC) with one more channel holding value[r / per].
// Launch: global = rows * spatial * (channels + 1).
__kernel void append_channel(__global const float* x, const int count, const int spatial, const int channels,
                             const int per, __global const float* value, __global float* y)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const int c = i % (channels + 1);
    const int position = i / (channels + 1);
    const int r = position / spatial;
    y[i] = c < channels ? x[(size_t)position * channels + c] : value[r / per];
}

// totals[g] = the sum of the extra channel's gradient over group g's rows and positions,
// a work-group per group by group_sum's fixed tree.
// Launch: global = (REDUCE_WG, groups), local = (REDUCE_WG, 1).
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void minibatch_std_totals(__global const float* dy, const int spatial, const int channels, const int per,
                          __global float* totals)
{
    __local float partial[REDUCE_WG];
    const int lid = get_local_id(0);
    const int g = get_group_id(1);
    const size_t first = (size_t)g * per * spatial;
    float sum = 0.0f;
    for (int k = lid; k < per * spatial; k += REDUCE_WG) sum += dy[(first + k) * (channels + 1) + channels];
    const float total = group_sum(partial, lid, sum);
    if (lid == 0) totals[g] = total;
}

// dx[r, e] = f'_below(x) * (dy[r, e] + totals[g] / E * (x - mean[g, e]) / (per * sqrt(variance[g, e] + epsilon))),
// E = spatial * channels, dy read past the extra channel.
// Launch: global = rows * spatial * channels.
__kernel void minibatch_std_backward(__global const float* x, __global const float* dy, const int count,
                                     const int spatial, const int channels, const int per,
                                     __global const float* mean, __global const float* variance,
                                     const float epsilon, __global const float* totals, const int below,
                                     const float slope, __global float* dx)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const int e = spatial * channels;
    const int r = i / e;
    const int g = r / per;
    const int within = i % e;
    const int c = i % channels;
    const int position = i / channels;
    const size_t k = (size_t)g * e + within;
    const float deviation = sqrt(variance[k] + epsilon);
    const float spread = totals[g] / (float)e * (x[i] - mean[k]) / ((float)per * deviation);
    dx[i] = derivative1(x[i], below, slope) * (dy[(size_t)position * (channels + 1) + c] + spread);
}
