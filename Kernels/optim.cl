// optim.cl — optimiser steps, in place, one work-item per parameter (global = count).
//
// adam_step: params, grads, m, v are (count); the step is adam.cl's (put before this
// file by the host), bias_correction1 and 2 its bc1 and bc2.
// adam_step_vector: the same, 16 parameters per work-item (below).
// sgd_step: params, grads, velocity are (count).
//   v = momentum*v + g;  p -= lr*v
// rmsprop_step: params, grads, square_average are (count).
//   s = decay*s + (1 - decay)*g*g;  p -= lr * g / (sqrt(s) + eps)

#pragma OPENCL FP_CONTRACT OFF

__kernel void adam_step(__global float* params, __global const float* grads,
                        __global float* m, __global float* v, const int count,
                        const float lr, const float beta1, const float beta2, const float eps,
                        const float bias_correction1, const float bias_correction2)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    adam_update1(grads[i], params, m, v, i, lr, beta1, beta2, eps, bias_correction1, bias_correction2);
}

// adam_step_vector: adam_step with 16 parameters per work-item, global = ceil(count / 16):
// for CPU devices, where it runs at memory speed.
__kernel void adam_step_vector(__global float* params, __global const float* grads,
                               __global float* m, __global float* v, const int count,
                               const float lr, const float beta1, const float beta2, const float eps,
                               const float bias_correction1, const float bias_correction2)
{
    const int i = get_global_id(0) * 16;
    if (i >= count) return;
    if (i + 16 <= count) {
        adam_update16(vload16(0, grads + i), params, m, v, i, lr, beta1, beta2, eps, bias_correction1, bias_correction2);
        return;
    }
    for (int j = i; j < count; j++)
        adam_update1(grads[j], params, m, v, j, lr, beta1, beta2, eps, bias_correction1, bias_correction2);
}

__kernel void sgd_step(__global float* params, __global const float* grads,
                       __global float* velocity, const int count,
                       const float lr, const float momentum)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const float v = momentum * velocity[i] + grads[i];
    velocity[i] = v;
    params[i] = params[i] - lr * v;
}

__kernel void rmsprop_step(__global float* params, __global const float* grads,
                           __global float* square_average, const int count,
                           const float lr, const float decay, const float eps)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const float g = grads[i];
    const float s = decay * square_average[i] + (1.0f - decay) * (g * g);
    square_average[i] = s;
    params[i] = params[i] - lr * g / (sqrt(s) + eps);
}
