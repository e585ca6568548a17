// MARK: - Philox4x32-10

/// The counter-based generator Philox4x32-10 (Salmon et al., "Parallel random numbers:
/// as easy as 1, 2, 3", SC 2011). A block of four 32-bit words is a pure function of a
/// 64-bit key (the seed) and a 128-bit counter, so any element can be drawn
/// independently, in any order, on any device. `Kernels/random.cl` is the same function
/// in OpenCL C, and its output equals this one bit for bit.
///
/// Counter layout used by gan-cl: words (lo32(c), hi32(c), 0, 0) for a 64-bit block
/// counter c; element i of a draw starting at counter c comes from block c + i/4,
/// word i % 4.
public enum Philox {
    static let multiplier0: UInt32 = 0xD251_1F53
    static let multiplier1: UInt32 = 0xCD9E_8D57
    static let weyl0: UInt32 = 0x9E37_79B9
    static let weyl1: UInt32 = 0xBB67_AE85

    /// The four words of the block at `counter` under `key`, after 10 rounds.
    public static func block(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32))
        -> (UInt32, UInt32, UInt32, UInt32)
    {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 {
                k.0 &+= weyl0
                k.1 &+= weyl1
            }
            let p0 = multiplier0.multipliedFullWidth(by: c.0)
            let p1 = multiplier1.multipliedFullWidth(by: c.2)
            c = (p1.high ^ c.1 ^ k.0, p1.low, p0.high ^ c.3 ^ k.1, p0.low)
        }
        return c
    }

    /// The block for gan-cl's 64-bit (seed, counter) pair.
    public static func block(seed: UInt64, counter: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        block(
            counter: (UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), 0, 0),
            key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// How many counter values a draw of `count` elements consumes.
    public static func blocks(_ count: Int) -> UInt64 {
        UInt64((count + 3) / 4)
    }

    /// A uniform in [0, 1) from the top 24 bits of a word; exact in float32.
    @inline(__always)
    public static func uniform(_ word: UInt32) -> Float {
        Float(word >> 8) * 0x1p-24
    }

    /// A uniform in (0, 1], for the logarithm in Box–Muller.
    @inline(__always)
    public static func uniformOpenBelow(_ word: UInt32) -> Float {
        Float((word >> 8) + 1) * 0x1p-24
    }

    /// Two standard normals from two words (Box–Muller), computed with
    /// `DeterministicMath` so that every backend gets the same bits.
    public static func normalPair(_ w0: UInt32, _ w1: UInt32) -> (Float, Float) {
        let radius = DeterministicMath.squareRoot(-2 * DeterministicMath.logarithm(uniformOpenBelow(w0)))
        let (cosine, sine) = DeterministicMath.cosineSineOfTurn(uniform(w1))
        return (radius * cosine, radius * sine)
    }

    /// A standard Gumbel draw, −log(−log u), from a word: u = (2k + 1)·2⁻²⁴ for the top 23
    /// bits k, strictly inside (0, 1) and exact in float32, so both logarithms see positive
    /// normal floats; computed with `DeterministicMath` so that every backend gets the same bits.
    @inline(__always)
    public static func gumbel(_ word: UInt32) -> Float {
        let u = Float(((word >> 9) << 1) | 1) * 0x1p-24
        return -DeterministicMath.logarithm(-DeterministicMath.logarithm(u))
    }

    /// Fills `out` with standard Gumbel draws, as `ComputeBackend.gumbel` does.
    public static func fillGumbel(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, counter: UInt64) {
        forEachBlock(count: out.count, seed: seed, counter: counter) { index, words in
            out[index] = gumbel(word(words, index % 4))
        }
    }

    /// Fills `out` with uniforms in [0, 1), as `ComputeBackend.uniform` does.
    public static func fillUniform(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, counter: UInt64) {
        forEachBlock(count: out.count, seed: seed, counter: counter) { index, words in
            out[index] = uniform(word(words, index % 4))
        }
    }

    /// Fills `out` with mean + std · N(0, 1), as `ComputeBackend.normal` does.
    public static func fillNormal(
        _ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, counter: UInt64, mean: Float, std: Float
    ) {
        forEachBlock(count: out.count, seed: seed, counter: counter) { index, words in
            let lane = index % 4
            let pair = normalPair(word(words, lane & ~1), word(words, lane | 1))
            out[index] = mean.addingProduct(lane & 1 == 0 ? pair.0 : pair.1, std)
        }
    }

    @inline(__always)
    private static func word(_ words: (UInt32, UInt32, UInt32, UInt32), _ lane: Int) -> UInt32 {
        switch lane {
        case 0: words.0
        case 1: words.1
        case 2: words.2
        default: words.3
        }
    }

    private static func forEachBlock(
        count: Int, seed: UInt64, counter: UInt64, _ body: (Int, (UInt32, UInt32, UInt32, UInt32)) -> Void
    ) {
        var index = 0
        var blockCounter = counter
        while index < count {
            let words = block(seed: seed, counter: blockCounter)
            for _ in 0..<min(4, count - index) {
                body(index, words)
                index += 1
            }
            blockCounter &+= 1
        }
    }
}
