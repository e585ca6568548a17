// random.cl — Philox4x32-10 uniforms and normals, keyed by (seed, counter).
//
// x is (count). Element i comes from block counter + i/4, word i%4, under the 64-bit
// key seed; the block's counter words are (lo32, hi32, 0, 0) of that 64-bit value.
// Launch: one work-item per block, global = ceil(count / 4).
//
// Equal bit for bit to ComputeBackend/Philox.swift and DeterministicMath.swift: only
// integer operations, float multiplies and adds, and explicit fma() are used, all of
// which OpenCL rounds correctly. The program must be built without
// -cl-fast-relaxed-math or -cl-mad-enable, and contraction is off.

#pragma OPENCL FP_CONTRACT OFF

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

inline uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k.x += PHILOX_W0; k.y += PHILOX_W1; }
        const uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        const uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

inline uint4 philox_block(const uint seed_lo, const uint seed_hi,
                          const uint counter_lo, const uint counter_hi, const uint block)
{
    const ulong c = (((ulong)counter_hi << 32) | counter_lo) + block;
    return philox4x32_10((uint4)((uint)c, (uint)(c >> 32), 0u, 0u), (uint2)(seed_lo, seed_hi));
}

inline uint lane_word(const uint4 w, const int lane)
{
    return lane == 0 ? w.x : lane == 1 ? w.y : lane == 2 ? w.z : w.w;
}

inline float uniform01(const uint w) { return (float)(w >> 8) * 0x1p-24f; }
inline float uniform_open_below(const uint w) { return (float)((w >> 8) + 1u) * 0x1p-24f; }

// log(x) for a positive normal x (DeterministicMath.logarithm).
inline float det_log(const float x)
{
    const uint bits = as_uint(x);
    int exponent = (int)(bits >> 23) - 127;
    float mantissa = as_float((bits & 0x007FFFFFu) | 0x3F800000u);
    if (mantissa > 1.5f) { mantissa = mantissa * 0.5f; exponent += 1; }
    const float f = mantissa - 1.0f;
    float p = -0x1.698df2p-5f;
    p = fma(p, f, 0x1.a6c85cp-4f);
    p = fma(p, f, -0x1.0c6d22p-3f);
    p = fma(p, f, 0x1.28a64ep-3f);
    p = fma(p, f, -0x1.550df4p-3f);
    p = fma(p, f, 0x1.99694cp-3f);
    p = fma(p, f, -0x1.ffff86p-3f);
    p = fma(p, f, 0x1.5555acp-2f);
    p = fma(p, f, -0x1p-1f);
    p = fma(p, f, 0x1p+0f);
    return fma((float)exponent, 0x1.62e43p-1f, f * p);
}

// sqrt(x) for x >= 0 (DeterministicMath.squareRoot).
inline float det_sqrt(const float x)
{
    if (x == 0.0f) return 0.0f;
    float y = as_float(0x5F3759DFu - (as_uint(x) >> 1));
    const float half_x = 0.5f * x;
    for (int i = 0; i < 3; i++) y = y * fma(-half_x, y * y, 1.5f);
    const float s = x * y;
    return fma(0.5f * y, fma(-s, s, x), s);
}

// (cos 2*pi*u, sin 2*pi*u) for u in [0, 1) (DeterministicMath.cosineSineOfTurn).
inline float2 det_cos_sin_turn(const float u)
{
    const float scaled = 4.0f * u;
    const int quadrant = (int)scaled;
    const float t = scaled - (float)quadrant;
    const float t2 = t * t;
    float s = -0x1.e3075p-19f;
    s = fma(s, t2, 0x1.507834p-13f);
    s = fma(s, t2, -0x1.32d2ccp-8f);
    s = fma(s, t2, 0x1.466bc6p-4f);
    s = fma(s, t2, -0x1.4abbcep-1f);
    s = fma(s, t2, 0x1.921fb6p+0f);
    s = t * s;
    float c = 0x1.f9d38ap-22f;
    c = fma(c, t2, -0x1.a6d1f2p-16f);
    c = fma(c, t2, 0x1.e1f506p-11f);
    c = fma(c, t2, -0x1.55d3c8p-6f);
    c = fma(c, t2, 0x1.03c1fp-2f);
    c = fma(c, t2, -0x1.3bd3ccp+0f);
    c = fma(c, t2, 0x1p+0f);
    switch (quadrant) {
        case 0: return (float2)(c, s);
        case 1: return (float2)(-s, c);
        case 2: return (float2)(-c, -s);
        default: return (float2)(s, -c);
    }
}

__kernel void philox_uniform(__global float* x, const int count,
                             const uint seed_lo, const uint seed_hi,
                             const uint counter_lo, const uint counter_hi)
{
    const int block = get_global_id(0);
    if (block * 4 >= count) return;
    const uint4 w = philox_block(seed_lo, seed_hi, counter_lo, counter_hi, (uint)block);
    for (int lane = 0; lane < 4 && block * 4 + lane < count; lane++)
        x[block * 4 + lane] = uniform01(lane_word(w, lane));
}

__kernel void philox_normal(__global float* x, const int count,
                            const uint seed_lo, const uint seed_hi,
                            const uint counter_lo, const uint counter_hi,
                            const float mean, const float std)
{
    const int block = get_global_id(0);
    if (block * 4 >= count) return;
    const uint4 w = philox_block(seed_lo, seed_hi, counter_lo, counter_hi, (uint)block);
    for (int pair = 0; pair < 2; pair++) {
        const float radius = det_sqrt(-2.0f * det_log(uniform_open_below(lane_word(w, 2 * pair))));
        const float2 cs = det_cos_sin_turn(uniform01(lane_word(w, 2 * pair + 1)));
        const int index = block * 4 + 2 * pair;
        if (index < count) x[index] = fma(radius * cs.x, std, mean);
        if (index + 1 < count) x[index + 1] = fma(radius * cs.y, std, mean);
    }
}
