import RealModule

/// The mode-collapse metrics of PacGAN (Lin et al. 2018) and VEEGAN (Srivastava et al.
/// 2017) for samples of a 2-D mixture: a sample is of high quality when it lies within
/// 3σ of its nearest mode; a mode is covered when it is the nearest mode of at least one
/// high-quality sample. The protocol draws 2,500 samples.
public struct ModeMetrics: Equatable, Sendable, Codable {
    public static let protocolSamples = 2_500

    public let samples: Int
    public let modes: Int
    public let modesCovered: Int
    /// Fraction of samples within 3σ of their nearest mode, 0 to 1.
    public let highQuality: Double
    /// KL divergence (nats) of the high-quality samples' mode histogram to the uniform
    /// distribution over modes: 0 when every mode is hit equally, log(modes) when one
    /// mode takes all (and, by convention, when no sample is of high quality).
    public let modeKL: Double
    /// High-quality samples per mode.
    public let histogram: [Int]
    /// The mixture's name.
    public let mixtureName: String

    enum CodingKeys: String, CodingKey {
        case samples, modes, histogram, mixtureName = "data"
        case modesCovered = "modes_covered", highQuality = "high_quality", modeKL = "mode_kl"
    }

    /// Measures `points` (count × 2, x then y) against `mixture`.
    public init(points: [Float], mixture: Mixture2D) throws {
        guard points.count % 2 == 0, !points.isEmpty else {
            throw GANError("mode metrics need a non-empty list of 2-D points, got \(points.count) numbers")
        }
        let count = points.count / 2
        var histogram = [Int](repeating: 0, count: mixture.means.count)
        var good = 0
        for i in 0..<count {
            let x = Double(points[2 * i]), y = Double(points[2 * i + 1])
            guard x.isFinite, y.isFinite else { continue }
            let nearest = mixture.nearestMode(x: x, y: y)
            if nearest.distance <= 3 * mixture.sigma {
                histogram[nearest.mode] += 1
                good += 1
            }
        }
        samples = count
        modes = mixture.means.count
        modesCovered = histogram.filter { $0 > 0 }.count
        highQuality = Double(good) / Double(count)
        self.histogram = histogram
        mixtureName = mixture.name
        if good == 0 {
            modeKL = Double.log(Double(modes))
        } else {
            modeKL = histogram.reduce(0.0) { sum, n in
                guard n > 0 else { return sum }
                let p = Double(n) / Double(good)
                return sum + p * Double.log(p * Double(histogram.count))
            }
        }
    }
}
