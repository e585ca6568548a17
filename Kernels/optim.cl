// optim.cl — optimiser steps, in place, one work-item per parameter (global = count).
//
// adam_step: params, grads, m, v are (count); bias_correction1 = 1 - beta1^t and
// bias_correction2 = 1 - beta2^t come from the host, computed once per step.
//   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
// adam_step_vector: the same, 16 parameters per work-item (below).
// sgd_step: params, grads, velocity are (count).
//   v = momentum*v + g;  p -= lr*v

#pragma OPENCL FP_CONTRACT OFF

inline void adam_element(__global float* params, __global const float* grads,
                         __global float* m, __global float* v, const int i,
                         const float lr, const float beta1, const float beta2, const float eps,
                         const float bias_correction1, const float bias_correction2)
{
    const float g = grads[i];
    const float m1 = beta1 * m[i] + (1.0f - beta1) * g;
    const float v1 = beta2 * v[i] + (1.0f - beta2) * (g * g);
    const float m_hat = m1 / bias_correction1;
    const float v_hat = v1 / bias_correction2;
    params[i] = params[i] - lr * m_hat / (sqrt(v_hat) + eps);
    m[i] = m1;
    v[i] = v1;
}

__kernel void adam_step(__global float* params, __global const float* grads,
                        __global float* m, __global float* v, const int count,
                        const float lr, const float beta1, const float beta2, const float eps,
                        const float bias_correction1, const float bias_correction2)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    adam_element(params, grads, m, v, i, lr, beta1, beta2, eps, bias_correction1, bias_correction2);
}

// 16 parameters at once; the same operations, in the same order, as adam_element on
// each lane.
inline void adam16(__global float* params, __global const float* grads,
                   __global float* m, __global float* v, const int i,
                   const float lr, const float beta1, const float beta2, const float eps,
                   const float bias_correction1, const float bias_correction2)
{
    const float16 g = vload16(0, grads + i);
    const float16 m1 = beta1 * vload16(0, m + i) + (1.0f - beta1) * g;
    const float16 v1 = beta2 * vload16(0, v + i) + (1.0f - beta2) * (g * g);
    const float16 m_hat = m1 / bias_correction1;
    const float16 v_hat = v1 / bias_correction2;
    vstore16(vload16(0, params + i) - lr * m_hat / (sqrt(v_hat) + eps), 0, params + i);
    vstore16(m1, 0, m + i);
    vstore16(v1, 0, v + i);
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
        adam16(params, grads, m, v, i, lr, beta1, beta2, eps, bias_correction1, bias_correction2);
        return;
    }
    for (int j = i; j < count; j++)
        adam_element(params, grads, m, v, j, lr, beta1, beta2, eps, bias_correction1, bias_correction2);
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
