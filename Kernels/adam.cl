// adam.cl — one Adam step of parameters in place, shared by optim.cl's kernels and
// gemm.cl's Adam epilogue: the host puts this file before each of them (KernelSource).
//   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
// with bc1 = 1 - beta1^t and bc2 = 1 - beta2^t from the host, computed once per step.
// Contraction is off, so every device rounds as the CPU reference does.

// p[i ..< i + 16] with gradients g and moments m[i ...], v[i ...].
inline void adam_update16(const float16 g, __global float* p, __global float* m, __global float* v, const int i,
                          const float lr, const float beta1, const float beta2, const float eps,
                          const float bc1, const float bc2)
{
    #pragma OPENCL FP_CONTRACT OFF
    const float16 m1 = beta1 * vload16(0, m + i) + (1.0f - beta1) * g;
    const float16 v1 = beta2 * vload16(0, v + i) + (1.0f - beta2) * (g * g);
    const float16 m_hat = m1 / bc1;
    const float16 v_hat = v1 / bc2;
    vstore16(vload16(0, p + i) - lr * m_hat / (sqrt(v_hat) + eps), 0, p + i);
    vstore16(m1, 0, m + i);
    vstore16(v1, 0, v + i);
}

// The same operations, in the same order, on the one parameter p[i].
inline void adam_update1(const float g, __global float* p, __global float* m, __global float* v, const int i,
                         const float lr, const float beta1, const float beta2, const float eps,
                         const float bc1, const float bc2)
{
    #pragma OPENCL FP_CONTRACT OFF
    const float m1 = beta1 * m[i] + (1.0f - beta1) * g;
    const float v1 = beta2 * v[i] + (1.0f - beta2) * (g * g);
    const float m_hat = m1 / bc1;
    const float v_hat = v1 / bc2;
    p[i] = p[i] - lr * m_hat / (sqrt(v_hat) + eps);
    m[i] = m1;
    v[i] = v1;
}
