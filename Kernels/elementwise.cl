// elementwise.cl — bias add, scale, clamp, division by a device scalar (spectral
// normalisation), activations forward and backward, and the per-row interpolation of the
// WGAN-GP penalty.
//
// Launch geometry: one work-item per element (bias_add: per element of x), global size
// = element count exactly, local size chosen by the runtime. Every kernel guards its
// index, so a runtime that rounds the global size up stays in bounds.
//
// The activation maths (codes, and f' from the forward output y) is activation.cl's.

// Contractions into fma would round differently from the CPU reference's separate
// multiply and add (1 - y*y in tanh's derivative cancels badly), so keep them apart.
#pragma OPENCL FP_CONTRACT OFF

// x is (rows, columns), bias is (columns): x[r, c] += bias[c]
__kernel void bias_add(__global float* x, __global const float* bias,
                       const int rows, const int columns)
{
    const int i = get_global_id(0);
    if (i >= rows * columns) return;
    x[i] += bias[i % columns];
}

// x is (count): x[i] *= factor
__kernel void scale(__global float* x, const int count, const float factor)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    x[i] *= factor;
}

// PacGAN's packing of NHWC examples in groups of m along channels: element i of the
// examples, (example p*m + j, position s, channel c), is element ((p*spatial + s)*m + j)*channels + c
// of the packs. inverse != 0 gathers the other way (a packed gradient back to examples).
__kernel void pack_examples(__global const float* x, __global float* y, const int count, const int m,
                            const int spatial, const int channels, const int inverse)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const int c = i % channels, s = (i / channels) % spatial, example = i / (channels * spatial);
    const int packed = (((example / m) * spatial + s) * m + example % m) * channels + c;
    if (inverse) y[i] = x[packed]; else y[packed] = x[i];
}

// y[i] = x[i] * factors[i / per]: per = 1 elementwise, per = columns one factor per row.
__kernel void multiply(__global const float* x, __global const float* factors, __global float* y, const int count,
                       const int per)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    y[i] = x[i] * factors[i / per];
}

// A conditional GAN's per-row values appended as channels at every position: y (rows x
// spatial x (channels + extra)) from x (rows x spatial x channels) and values (rows x
// extra); inverse: y (rows x spatial x channels) = x's first channels (a gradient back).
// One work-item per element of y.
__kernel void append_channels(__global const float* x, __global const float* values, __global float* y,
                              const int count, const int spatial, const int channels, const int extra,
                              const int inverse)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const int wide = channels + extra;
    if (inverse) {
        const int c = i % channels, position = i / channels;
        y[i] = x[(size_t)position * wide + c];
    } else {
        const int c = i % wide, position = i / wide;
        y[i] = c < channels ? x[(size_t)position * channels + c] : values[(size_t)(position / spatial) * extra + c - channels];
    }
}

// x[i] += scale * y[i] (instance noise on a discriminator's input).
__kernel void add_scaled(__global float* x, __global const float* y, const int count, const float scale)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    x[i] += scale * y[i];
}

// average[i] += rate * (value[i] - average[i]), rate = 1 - decay: an exponential moving
// average's step (the EMA generator).
__kernel void moving_average(__global float* average, __global const float* value, const int count, const float rate)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const float a = average[i];
    average[i] = a + rate * (value[i] - a);
}

// x is (count): x[i] = min(max(x[i], lower), upper)
__kernel void clamp_values(__global float* x, const int count, const float lower, const float upper)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    x[i] = fmin(fmax(x[i], lower), upper);
}

// x, out are (count), divisor is (1): out[i] = x[i] / divisor[0]
__kernel void divide(__global const float* x, const int count, __global const float* divisor,
                     __global float* out)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    out[i] = x[i] / divisor[0];
}

// x, y are (count): y[i] = f(x[i]); x and y may be the same buffer.
__kernel void activation_forward(__global const float* x, __global float* y, const int count,
                                 const int activation, const float slope)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    y[i] = activate1(x[i], activation, slope);
}

// y, dy, dx are (count): dx[i] = dy[i] * f'(x[i]) from y[i] = f(x[i]); dy may be dx.
__kernel void activation_backward(__global const float* y, __global const float* dy,
                                  __global float* dx, const int count,
                                  const int activation, const float slope)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    dx[i] = dy[i] * derivative1(y[i], activation, slope);
}

// real, fake, out are (rows, columns), epsilon is (rows):
//   out[r, c] = fake[r, c] + epsilon[r] * (real[r, c] - fake[r, c])
/* Inverted dropout: y = x * keep where u >= rate, else 0, with keep = 1 / (1 - rate)
 * rounded once on the host, as the CPU reference rounds it: the same bits. y may be x. */
__kernel void dropout(__global const float* x, __global const float* u, __global float* y,
                      const int count, const float rate, const float keep)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    y[i] = u[i] >= rate ? x[i] * keep : 0.0f;
}

__kernel void interpolate_rows(__global const float* real, __global const float* fake,
                               __global const float* epsilon, __global float* out,
                               const int rows, const int columns)
{
    const int i = get_global_id(0);
    if (i >= rows * columns) return;
    const float f = fake[i];
    out[i] = f + epsilon[i / columns] * (real[i] - f);
}
