import ComputeBackend

/// The order in which a training run visits the data: a fresh seeded permutation every
/// epoch, cut into full batches. The last partial batch of an epoch is dropped, so every
/// step sees `batchSize` images; the dropped images differ from epoch to epoch. The
/// order is a pure function of (seed, epoch), so a resumed run recomputes it.
public struct BatchOrder: Sendable {
    public let count: Int
    public let batchSize: Int
    public let seed: UInt64

    public init(count: Int, batchSize: Int, seed: UInt64) throws {
        guard batchSize >= 1 else { throw GANError("--batch-size must be at least 1, got \(batchSize)") }
        guard batchSize <= count else {
            throw GANError("--batch-size \(batchSize) is larger than the \(count) images of the data")
        }
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Full batches per epoch.
    public var batchesPerEpoch: Int { count / batchSize }

    /// The permutation of image indices for `epoch` (Fisher–Yates, SplitMix64 keyed by
    /// the seed and the epoch).
    public func permutation(epoch: Int) -> [Int] {
        var generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(epoch) &+ 0xD1B5_4A32_D192_ED03)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(generator.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }
}
