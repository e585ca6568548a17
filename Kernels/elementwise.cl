// elementwise.cl — bias add, scale, clamp, and activations forward and backward.
//
// Launch geometry: one work-item per element (bias_add: per element of x), global size
// = element count exactly, local size chosen by the runtime. Every kernel guards its
// index, so a runtime that rounds the global size up stays in bounds.
//
// Activation codes (ComputeBackend.Activation.kernelCode):
//   0 identity, 1 ReLU, 2 LeakyReLU(slope), 3 tanh, 4 sigmoid.
// The backward pass computes f'(x) from the forward output y, as the CPU reference does.

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

// x is (count): x[i] = min(max(x[i], lower), upper)
__kernel void clamp_values(__global float* x, const int count, const float lower, const float upper)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    x[i] = fmin(fmax(x[i], lower), upper);
}

inline float sigmoid_stable(const float x)
{
    if (x >= 0.0f) return 1.0f / (1.0f + exp(-x));
    const float e = exp(x);
    return e / (1.0f + e);
}

// x, y are (count): y[i] = f(x[i]); x and y may be the same buffer.
__kernel void activation_forward(__global const float* x, __global float* y, const int count,
                                 const int activation, const float slope)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const float v = x[i];
    float out;
    switch (activation) {
        case 1: out = v > 0.0f ? v : 0.0f; break;
        case 2: out = v > 0.0f ? v : slope * v; break;
        case 3: out = tanh(v); break;
        case 4: out = sigmoid_stable(v); break;
        default: out = v; break;
    }
    y[i] = out;
}

// y, dy, dx are (count): dx[i] = dy[i] * f'(x[i]) from y[i] = f(x[i]); dy may be dx.
__kernel void activation_backward(__global const float* y, __global const float* dy,
                                  __global float* dx, const int count,
                                  const int activation, const float slope)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const float v = y[i];
    float d;
    switch (activation) {
        case 1: d = v > 0.0f ? 1.0f : 0.0f; break;
        case 2: d = v > 0.0f ? 1.0f : slope; break;
        case 3: d = 1.0f - v * v; break;
        case 4: d = v * (1.0f - v); break;
        default: d = 1.0f; break;
    }
    dx[i] = dy[i] * d;
}
