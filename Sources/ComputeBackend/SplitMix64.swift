/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seeded generator for host-side
/// data such as test inputs. The backends' own random numbers come from `Philox`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A float32 in [0, 1) from the top 24 bits.
    public mutating func unitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A double in [0, 1) from the top 53 bits.
    public mutating func unitDouble() -> Double { Double(next() >> 11) * 0x1p-53 }
}
