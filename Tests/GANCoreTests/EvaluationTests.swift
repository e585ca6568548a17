import CPUBackend
import ComputeBackend
import Foundation
import GANCore
import Testing

/// Gaussian features: `count` rows of `width`, N(mean[c], sd[c]²) per column.
func gaussianFeatures(count: Int, means: [Float], sds: [Float], seed: UInt64) -> FeatureSet {
    let width = means.count
    var values = [Float](repeating: 0, count: count * width)
    values.withUnsafeMutableBufferPointer { Philox.fillNormal($0, seed: seed, counter: 0, mean: 0, std: 1) }
    for r in 0..<count { for c in 0..<width { values[r * width + c] = means[c] + sds[c] * values[r * width + c] } }
    return FeatureSet(values: values, width: width)
}

@Suite("Evaluation: mode metrics")
struct ModeMetricsTests {
    /// The oracle: 2,500 samples of the true mixture hit every mode, and 1 − e^(−9/2) =
    /// 98.9% of them lie within 3σ of their mode.
    @Test(arguments: [Mixture2D.ring8, Mixture2D.grid25])
    func trueSamplesCoverEveryMode(mixture: Mixture2D) throws {
        var qualities: [Double] = []
        for key in UInt64(1)...5 {
            let metrics = try ModeMetrics(points: mixture.sample(count: 2500, key: key), mixture: mixture)
            #expect(metrics.modesCovered == mixture.means.count, "key \(key)")
            #expect(metrics.samples == 2500)
            qualities.append(metrics.highQuality)
            #expect(metrics.modeKL < 0.02, "KL \(metrics.modeKL)")
        }
        let mean = qualities.reduce(0, +) / Double(qualities.count)
        #expect(abs(mean - 0.98889) < 0.005, "mean high quality \(mean)")
        for q in qualities { #expect(abs(q - 0.98889) < 0.008, "high quality \(q)") }
    }

    @Test func collapseAndScatterAreSeen() throws {
        let ring = Mixture2D.ring8
        // Every sample at one mode: 1 of 8 covered, KL log 8.
        let collapsed = ring.sample(count: 2500, key: 9).enumerated().map { i, v in
            i % 2 == 0 ? Float(ring.means[3].x) + v * 0.0001 : Float(ring.means[3].y) + v * 0.0001
        }
        let one = try ModeMetrics(points: collapsed, mixture: ring)
        #expect(one.modesCovered == 1)
        #expect(abs(one.modeKL - log(8.0)) < 1e-9)
        #expect(one.highQuality > 0.99)
        // Uniform noise over the square: few samples of high quality.
        var random = SplitMix64(seed: 4)
        let scattered = (0..<5000).map { _ in random.unitFloat() * 3 - 1.5 }
        let noise = try ModeMetrics(points: scattered, mixture: ring)
        #expect(noise.highQuality < 0.02)
        // Half the modes sampled: 4 covered.
        let half = ring.sample(count: 2500, key: 3).enumerated().map { i, v -> Float in
            let p = i / 2
            let m = ring.means[(p % 4) * 2]
            return i % 2 == 0 ? Float(m.x) + v * 0.001 : Float(m.y) + v * 0.001
        }
        #expect(try ModeMetrics(points: half, mixture: ring).modesCovered == 4)
        #expect(throws: GANError.self) { try ModeMetrics(points: [1, 2, 3], mixture: ring) }
    }
}

@Suite("Evaluation: feature metrics")
struct FeatureMetricsTests {
    let metrics = FeatureMetrics(backend: CPUBackend())

    /// Between Gaussians with diagonal covariances, FD = ‖μ₁ − μ₂‖² + Σ (σ₁ − σ₂)².
    @Test func frechetDistanceMatchesTheGaussianFormula() throws {
        let width = 12
        let sd1 = (0..<width).map { 0.5 + Float($0) * 0.1 }, sd2 = (0..<width).map { 1.5 - Float($0) * 0.05 }
        let mean2 = (0..<width).map { Float($0 % 3) * 0.3 }
        let a = gaussianFeatures(count: 40_000, means: [Float](repeating: 0, count: width), sds: sd1, seed: 1)
        let b = gaussianFeatures(count: 40_000, means: mean2, sds: sd2, seed: 2)
        let expected = zip(sd1, sd2).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            + mean2.reduce(0.0) { $0 + Double($1 * $1) }
        let fd = try metrics.frechetDistance(a, b)
        #expect(abs(fd - expected) < 0.03 * expected, "FD \(fd), expected \(expected)")
        let same = try metrics.frechetDistance(a, gaussianFeatures(count: 40_000, means: [Float](repeating: 0, count: width), sds: sd1, seed: 3))
        #expect(same < 0.01, "FD of one distribution \(same)")
        // A rotation-coupled (non-diagonal) covariance: FD is invariant to rotating both sets.
        let rotated = { (x: FeatureSet) -> FeatureSet in
            var v = x.values
            for r in 0..<x.count {
                let (p, q) = (v[r * width], v[r * width + 1])
                v[r * width] = 0.6 * p - 0.8 * q
                v[r * width + 1] = 0.8 * p + 0.6 * q
            }
            return FeatureSet(values: v, width: width)
        }
        #expect(abs(try metrics.frechetDistance(rotated(a), rotated(b)) - fd) < 1e-3 * fd)
    }

    @Test func kidIsNearZeroForOneDistributionAndPositiveForTwo() throws {
        let width = 16
        let zero = [Float](repeating: 0, count: width), one = [Float](repeating: 1, count: width)
        let a = gaussianFeatures(count: 3000, means: zero, sds: one, seed: 5)
        let b = gaussianFeatures(count: 3000, means: zero, sds: one, seed: 6)
        let shifted = gaussianFeatures(count: 3000, means: [Float](repeating: 0.3, count: width), sds: one, seed: 7)
        let same = try metrics.kernelInceptionDistance(a, b, subsets: 20, subsetSize: 500, seed: 1)
        let different = try metrics.kernelInceptionDistance(a, shifted, subsets: 20, subsetSize: 500, seed: 1)
        #expect(abs(same.mean) < 3 * same.sd + 1e-4, "KID \(same)")
        #expect(different.mean > 10 * max(same.sd, 1e-4), "KID \(different) vs \(same)")
    }

    @Test func precisionRecallDensityCoverageSeparateSupports() throws {
        let width = 8
        let one = [Float](repeating: 1, count: width)
        let real = gaussianFeatures(count: 2000, means: [Float](repeating: 0, count: width), sds: one, seed: 8)
        let same = gaussianFeatures(count: 2000, means: [Float](repeating: 0, count: width), sds: one, seed: 9)
        let far = gaussianFeatures(count: 2000, means: [Float](repeating: 20, count: width), sds: one, seed: 10)
        let narrow = gaussianFeatures(count: 2000, means: [Float](repeating: 0, count: width), sds: one.map { $0 * 0.2 }, seed: 11)
        let pr = try metrics.precisionRecall(real: real, fake: same)
        #expect(pr.precision > 0.6 && pr.recall > 0.6, "\(pr)")
        let dc = try metrics.densityCoverage(real: real, fake: same)
        #expect(abs(dc.density - 1) < 0.2 && dc.coverage > 0.9, "\(dc)")
        let farPR = try metrics.precisionRecall(real: real, fake: far)
        #expect(farPR.precision == 0 && farPR.recall == 0)
        #expect(try metrics.densityCoverage(real: real, fake: far).coverage == 0)
        // A collapsed generator: precise but with little recall.
        let narrowPR = try metrics.precisionRecall(real: real, fake: narrow)
        #expect(narrowPR.precision > 0.95 && narrowPR.recall < 0.3, "\(narrowPR)")
    }
}

@Suite("Evaluation: checksums and the reference classifier")
struct ClassifierFileTests {
    /// The image metrics refuse a test split that is not Fashion-MNIST's (MNIST digits
    /// through the garment classifier would give numbers that mean nothing).
    @Test func anotherTestSplitIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("split-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 12)
        let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 20, 0, 0, 0, 28, 0, 0, 0, 28]
            + (0..<(20 * 784)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 20] + (0..<20).map { UInt8($0 % 10) }
        try Data(images).write(to: directory.appendingPathComponent("t10k-images-idx3-ubyte"))
        try Data(labels).write(to: directory.appendingPathComponent("t10k-labels-idx1-ubyte"))
        do {
            _ = try ImageEvaluator(backend: CPUBackend(), classifierPath: ReferenceClassifier.defaultPath(), data: directory.path)
            Issue.record("a foreign test split was accepted")
        } catch {
            #expect("\(error)".contains("not Fashion-MNIST's"), "\(error)")
        }
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func committedClassifierMatchesItsHashAndACorruptCopyIsRefused() throws {
        let path = ReferenceClassifier.defaultPath()
        let file = try ReferenceClassifier.load(path: path)
        #expect(file.tensor("classifier.layers.0.weight")?.shape == [784, 512])
        #expect(Double(file.metadata["test_accuracy"] ?? "") ?? 0 >= 0.89)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 1
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UInt64.random(in: 0...UInt64.max)).safetensors")
        try Data(bytes).write(to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        #expect(throws: GANError.self) { try ReferenceClassifier.load(path: copy.path) }
        do {
            _ = try ReferenceClassifier.load(path: copy.path)
        } catch {
            #expect("\(error)".contains("SHA-256"))
        }
    }
}
