// activation.cl — the activation maths every kernel family shares (put before gemm.cl,
// elementwise.cl and loss.cl by the host; OpenCL C has no #include for program sources).
//
// Activation codes (ComputeBackend.Activation.kernelCode):
//   0 identity, 1 ReLU, 2 LeakyReLU(slope), 3 tanh, 4 sigmoid.
// Each derivative is computed from the forward output y = f(x), as the CPU reference
// does, so a layer keeps only its output. The 16-lane forms are for CPU devices' vector
// kernels (gemm_rows); they are branch-free selects of the same formulas.

inline float sigmoid_stable(const float x)
{
    if (x >= 0.0f) return 1.0f / (1.0f + exp(-x));
    const float e = exp(x);
    return e / (1.0f + e);
}

inline float activate1(const float v, const int activation, const float slope)
{
    switch (activation) {
        case 1: return v > 0.0f ? v : 0.0f;
        case 2: return v > 0.0f ? v : slope * v;
        case 3: return tanh(v);
        case 4: return sigmoid_stable(v);
        default: return v;
    }
}

inline float derivative1(const float y, const int activation, const float slope)
{
    // 1 - y*y cancels badly when contracted into an fma: round as the CPU reference does.
    #pragma OPENCL FP_CONTRACT OFF
    switch (activation) {
        case 1: return y > 0.0f ? 1.0f : 0.0f;
        case 2: return y > 0.0f ? 1.0f : slope;
        case 3: return 1.0f - y * y;
        case 4: return y * (1.0f - y);
        default: return 1.0f;
    }
}

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
    #pragma OPENCL FP_CONTRACT OFF
    switch (activation) {
        case 1: return select((float16)(0.0f), (float16)(1.0f), y > (float16)(0.0f));
        case 2: return select((float16)(slope), (float16)(1.0f), y > (float16)(0.0f));
        case 3: return 1.0f - y * y;
        case 4: return y * (1.0f - y);
        default: return (float16)(1.0f);
    }
}
