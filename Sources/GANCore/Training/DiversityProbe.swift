import ComputeBackend

/// The collapse watchdog's cheap signal (`on-collapse`): the spread of `count` samples
/// drawn from one fixed noise batch — the mean over features of their standard deviation
/// across the samples — over the same spread of `count` real examples. About 1 for a
/// healthy generator (0.88 for PyTorch's DCGAN after 500 steps on Fashion-MNIST), 0.13 for
/// the dcgan preset's untrained generator, 0 when every sample is the same (a full
/// collapse). Partial collapse keeps some spread: the evaluation's classes see it.
public final class DiversityProbe<B: ComputeBackend> {
    public let count: Int
    private let sampler: ImageSampler<B>
    private let key: UInt64
    private let features: Int
    /// The real examples' spread.
    public let realSpread: Double

    public init(sampler: ImageSampler<B>, data: any Dataset, seed: UInt64, count: Int = 256) throws {
        let rows = min(count, data.count)
        self.sampler = sampler
        self.count = rows
        key = RandomStream.diversity.key(seed: seed)
        features = data.features
        let indices = (0..<rows).map { $0 * data.count / rows }
        var real = [Float](repeating: 0, count: rows * data.features)
        real.withUnsafeMutableBufferPointer { data.fill(indices[...], into: $0) }
        realSpread = Self.spread(real, rows: rows, columns: data.features)
        guard realSpread > 0 else { throw GANError("the data has no spread: every example is the same") }
    }

    /// The samples' spread over the data's.
    public func measure() throws -> Double {
        Self.spread(try sampler.sample(count: count, key: key), rows: count, columns: features) / realSpread
    }

    /// The mean over columns of each column's standard deviation over the rows (in Double).
    public static func spread(_ values: [Float], rows: Int, columns: Int) -> Double {
        guard rows > 1, columns > 0 else { return 0 }
        var total = 0.0
        for c in 0..<columns {
            var sum = 0.0
            for r in 0..<rows { sum += Double(values[r * columns + c]) }
            let mean = sum / Double(rows)
            var squares = 0.0
            for r in 0..<rows {
                let d = Double(values[r * columns + c]) - mean
                squares += d * d
            }
            total += (squares / Double(rows)).squareRoot()
        }
        return total / Double(columns)
    }
}

/// A run stopped by `on-collapse stop`: the generator's samples lost their diversity.
public struct TrainingCollapsed: Error, CustomStringConvertible {
    public let step: Int
    public let signal: String
    public let checkpoint: String?

    public var description: String {
        "training stopped at step \(step): mode collapse suspected (\(signal))"
            + (checkpoint.map { "; the checkpoint of that step is \($0) (--on-collapse rollback restarts from the one before with lower learning rates)" } ?? "")
    }
}
