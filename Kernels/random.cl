// random.cl — Philox4x32-10 uniforms and normals, keyed by (seed, counter).
//
// x is (count). Element i comes from block counter + i/4, word i%4, under the 64-bit
// key seed; the block's counter words are (lo32, hi32, 0, 0) of that 64-bit value.
// Launch: one work-item per 16 blocks (64 elements), global = ceil(count / 64). A
// work-item computes its 16 blocks as the lanes of uint16 and float16 vectors, so that
// a CPU device runs them as SIMD instructions; lanes past the end are computed and not
// stored.
//
// Equal bit for bit to ComputeBackend/Philox.swift and DeterministicMath.swift: only
// integer operations, float multiplies and adds, and explicit fma() are used, all of
// which OpenCL rounds correctly, lane by lane. The program must be built without
// -cl-fast-relaxed-math or -cl-mad-enable, and contraction is off.

#pragma OPENCL FP_CONTRACT OFF

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

#define BLOCKS_PER_ITEM 16

// The four words of blocks first ..< first + 16 (lane l: block first + l), in place of
// their counter words.
typedef struct { uint16 x, y, z, w; } Words16;

inline Words16 philox_blocks16(const uint seed_lo, const uint seed_hi,
                               const uint counter_lo, const uint counter_hi, const uint first)
{
    const ulong16 lanes = (ulong16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const ulong16 c = (ulong16)((((ulong)counter_hi << 32) | counter_lo) + first) + lanes;
    Words16 v = { convert_uint16(c), convert_uint16(c >> 32), (uint16)(0u), (uint16)(0u) };
    uint2 k = (uint2)(seed_lo, seed_hi);
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k.x += PHILOX_W0; k.y += PHILOX_W1; }
        const uint16 hi0 = mul_hi((uint16)(PHILOX_M0), v.x), lo0 = PHILOX_M0 * v.x;
        const uint16 hi1 = mul_hi((uint16)(PHILOX_M1), v.z), lo1 = PHILOX_M1 * v.z;
        const uint16 x = hi1 ^ v.y ^ k.x;
        const uint16 z = hi0 ^ v.w ^ k.y;
        v.x = x; v.y = lo1; v.z = z; v.w = lo0;
    }
    return v;
}

inline float16 uniform01(const uint16 w) { return convert_float16(w >> 8) * 0x1p-24f; }
inline float16 uniform_open_below(const uint16 w) { return convert_float16((w >> 8) + 1u) * 0x1p-24f; }

// p = fma(p, x, c) with c broadcast: one step of a polynomial by Horner's rule.
#define HORNER(p, x, c) ((p) = fma((p), (x), (float16)(c)))

// log(x) for positive normal x (DeterministicMath.logarithm).
inline float16 det_log(const float16 x)
{
    const uint16 bits = as_uint16(x);
    int16 exponent = convert_int16(bits >> 23) - 127;
    float16 mantissa = as_float16((bits & 0x007FFFFFu) | 0x3F800000u);
    const int16 above = mantissa > 1.5f;
    mantissa = select(mantissa, mantissa * 0.5f, above);
    exponent = select(exponent, exponent + 1, above);
    const float16 f = mantissa - 1.0f;
    float16 p = (float16)(-0x1.698df2p-5f);
    HORNER(p, f, 0x1.a6c85cp-4f);
    HORNER(p, f, -0x1.0c6d22p-3f);
    HORNER(p, f, 0x1.28a64ep-3f);
    HORNER(p, f, -0x1.550df4p-3f);
    HORNER(p, f, 0x1.99694cp-3f);
    HORNER(p, f, -0x1.ffff86p-3f);
    HORNER(p, f, 0x1.5555acp-2f);
    HORNER(p, f, -0x1p-1f);
    HORNER(p, f, 0x1p+0f);
    return fma(convert_float16(exponent), (float16)(0x1.62e43p-1f), f * p);
}

// sqrt(x) for x >= 0 (DeterministicMath.squareRoot).
inline float16 det_sqrt(const float16 x)
{
    float16 y = as_float16((uint16)(0x5F3759DFu) - (as_uint16(x) >> 1));
    const float16 half_x = 0.5f * x;
    for (int i = 0; i < 3; i++) y = y * fma(-half_x, y * y, (float16)(1.5f));
    const float16 s = x * y;
    const float16 root = fma(0.5f * y, fma(-s, s, x), s);
    return select(root, (float16)(0.0f), x == 0.0f);
}

// (cos 2*pi*u, sin 2*pi*u) for u in [0, 1) (DeterministicMath.cosineSineOfTurn).
inline void det_cos_sin_turn(const float16 u, float16* cosine, float16* sine)
{
    const float16 scaled = 4.0f * u;
    const int16 quadrant = convert_int16(scaled);  // toward zero, as (int) is
    const float16 t = scaled - convert_float16(quadrant);
    const float16 t2 = t * t;
    float16 s = (float16)(-0x1.e3075p-19f);
    HORNER(s, t2, 0x1.507834p-13f);
    HORNER(s, t2, -0x1.32d2ccp-8f);
    HORNER(s, t2, 0x1.466bc6p-4f);
    HORNER(s, t2, -0x1.4abbcep-1f);
    HORNER(s, t2, 0x1.921fb6p+0f);
    s = t * s;
    float16 c = (float16)(0x1.f9d38ap-22f);
    HORNER(c, t2, -0x1.a6d1f2p-16f);
    HORNER(c, t2, 0x1.e1f506p-11f);
    HORNER(c, t2, -0x1.55d3c8p-6f);
    HORNER(c, t2, 0x1.03c1fp-2f);
    HORNER(c, t2, -0x1.3bd3ccp+0f);
    HORNER(c, t2, 0x1p+0f);
    // Quadrant 0: (c, s); 1: (-s, c); 2: (-c, -s); 3: (s, -c).
    const int16 odd = (quadrant & 1) != 0;
    const float16 first = select(c, s, odd), second = select(s, c, odd);
    *cosine = select(first, -first, (quadrant == 1) | (quadrant == 2));
    *sine = select(second, -second, quadrant >= 2);
}

// x[4 * (first + l) + j] = word j of lane l, for the elements below count.
inline void store_blocks16(__global float* x, const int count, const int first,
                           const float16 v0, const float16 v1, const float16 v2, const float16 v3)
{
    float lanes[4][16];
    vstore16(v0, 0, lanes[0]);
    vstore16(v1, 0, lanes[1]);
    vstore16(v2, 0, lanes[2]);
    vstore16(v3, 0, lanes[3]);
    const int base = first * 4;
    if (base + 4 * BLOCKS_PER_ITEM <= count) {
        #pragma unroll
        for (int l = 0; l < BLOCKS_PER_ITEM; l++)
            vstore4((float4)(lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l]), 0, x + base + 4 * l);
        return;
    }
    for (int i = base; i < count; i++) x[i] = lanes[(i - base) % 4][(i - base) / 4];
}

__kernel void philox_uniform(__global float* x, const int count,
                             const uint seed_lo, const uint seed_hi,
                             const uint counter_lo, const uint counter_hi)
{
    const int first = get_global_id(0) * BLOCKS_PER_ITEM;
    if (first * 4 >= count) return;
    const Words16 w = philox_blocks16(seed_lo, seed_hi, counter_lo, counter_hi, (uint)first);
    store_blocks16(x, count, first, uniform01(w.x), uniform01(w.y), uniform01(w.z), uniform01(w.w));
}

// -log(-log u) with u = (2k + 1) 2^-24 from the top 23 bits (Philox.gumbel).
inline float16 gumbel16(const uint16 w)
{
    const float16 u = convert_float16(((w >> 9) << 1) | 1u) * 0x1p-24f;
    return -det_log(-det_log(u));
}

__kernel void philox_gumbel(__global float* x, const int count,
                            const uint seed_lo, const uint seed_hi,
                            const uint counter_lo, const uint counter_hi)
{
    const int first = get_global_id(0) * BLOCKS_PER_ITEM;
    if (first * 4 >= count) return;
    const Words16 w = philox_blocks16(seed_lo, seed_hi, counter_lo, counter_hi, (uint)first);
    store_blocks16(x, count, first, gumbel16(w.x), gumbel16(w.y), gumbel16(w.z), gumbel16(w.w));
}

__kernel void philox_normal(__global float* x, const int count,
                            const uint seed_lo, const uint seed_hi,
                            const uint counter_lo, const uint counter_hi,
                            const float mean, const float std)
{
    const int first = get_global_id(0) * BLOCKS_PER_ITEM;
    if (first * 4 >= count) return;
    const Words16 w = philox_blocks16(seed_lo, seed_hi, counter_lo, counter_hi, (uint)first);
    // Box-Muller on each pair of words: (x, y) gives elements 0 and 1, (z, w) 2 and 3.
    const float16 radius0 = det_sqrt(-2.0f * det_log(uniform_open_below(w.x)));
    const float16 radius1 = det_sqrt(-2.0f * det_log(uniform_open_below(w.z)));
    float16 cos0, sin0, cos1, sin1;
    det_cos_sin_turn(uniform01(w.y), &cos0, &sin0);
    det_cos_sin_turn(uniform01(w.w), &cos1, &sin1);
    const float16 s = (float16)(std), m = (float16)(mean);
    store_blocks16(x, count, first, fma(radius0 * cos0, s, m), fma(radius0 * sin0, s, m),
                   fma(radius1 * cos1, s, m), fma(radius1 * sin1, s, m));
}
