import ComputeBackend
import RealModule

/// Every image metric of one set of samples (eval.json's fields).
public struct ImageEvaluation: Codable, Equatable, Sendable {
    public var samples: Int
    /// The real set the metrics compare with.
    public var split: String
    public var classifierSHA256: String
    public var seed: UInt64
    /// Fréchet distance in the reference classifier's features. Not Inception FID.
    public var fdFMNIST: Double
    public var kidMean: Double
    public var kidSD: Double
    public var kidSubsets: Int
    public var kidSubsetSize: Int
    public var precision: Double
    public var recall: Double
    public var density: Double
    public var coverage: Double
    /// Classes predicted for at least 1% of the samples (a tenth of a uniform share).
    public var classesCovered: Int
    /// KL divergence (nats) of the predicted-class histogram to uniform.
    public var classKL: Double
    public var classHistogram: [Int]
    /// Median distance from a sample to its nearest training image over the same for
    /// test images: about 1 for a generator that does not copy, 0 for a copier.
    public var memorisationRatio: Double
    /// Fraction of samples nearer to a training image than 99% of test images are.
    public var nearCopies: Double
    /// nearCopies above `ImageEvaluator.nearCopyLimit`: the samples look copied.
    public var memorised: Bool
    /// For samples of requested classes (a conditional generator's): how well they are
    /// what was asked for.
    public var conditional: ClassAgreement?

    enum CodingKeys: String, CodingKey {
        case samples, split, seed, precision, recall, density, coverage
        case classifierSHA256 = "classifier_sha256", fdFMNIST = "fd_fmnist", kidMean = "kid_mean", kidSD = "kid_sd"
        case kidSubsets = "kid_subsets", kidSubsetSize = "kid_subset_size", classesCovered = "classes_covered"
        case classKL = "class_kl", classHistogram = "class_histogram", memorisationRatio = "memorisation_ratio"
        case nearCopies = "near_copies", memorised, conditional
    }
}

/// A conditional generator's samples against the classes requested: the reference
/// classifier's agreement with the requested class, overall and per class, and each
/// class's FD-FMNIST against the test images of that class.
public struct ClassAgreement: Codable, Equatable, Sendable {
    /// The share of samples the classifier assigns to their requested class.
    public var agreement: Double
    /// Per requested class (0 to 9): its samples, their agreement, their FD-FMNIST against
    /// the class's test images (nil with fewer than `ImageEvaluator.minimumClassSamples`).
    public var samplesPerClass: [Int]
    public var agreementPerClass: [Double?]
    public var fdPerClass: [Double?]

    enum CodingKeys: String, CodingKey {
        case agreement
        case samplesPerClass = "samples_per_class", agreementPerClass = "agreement_per_class", fdPerClass = "fd_fmnist_per_class"
    }
}

/// Measures images (N × 784 in [-1, 1]) against Fashion-MNIST's test split in the
/// reference classifier's features. The real side — test features, their k-NN radii,
/// training features — is computed once per evaluator.
public final class ImageEvaluator<B: ComputeBackend> {
    /// Fraction of near copies above which samples are flagged as memorised: five times
    /// what test images score by construction (1%).
    public static var nearCopyLimit: Double { 0.05 }
    /// SHA-256 of Fashion-MNIST's 10,000 test images (the IDX payload): the metrics are
    /// defined against this set only.
    public static var testSplitSHA256: String { "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a" }
    /// Samples and test images compared with the whole training split for memorisation.
    public static var memorisationSubset: Int { 1000 }

    public let backend: B
    public let classifierSHA256: String
    public let extractor: FeatureExtractor<B>
    public let metrics: FeatureMetrics<B>
    public let testFeatures: FeatureSet
    public let trainFeatures: FeatureSet
    /// Every feature is multiplied by this, fixed by the test split so that its features
    /// have a mean square of 1: KID's cubic kernel (x·y/width + 1)³ then works with
    /// terms near 1, as it does with Inception features.
    public let featureScale: Float
    private let radii3: [Float]
    private let radii5: [Float]
    private let testNearest: [Float]
    /// The test images' labels (for per-class FD).
    private let testLabels: [UInt8]
    /// Fewer samples of a class than this get no per-class FD.
    public static var minimumClassSamples: Int { 50 }

    /// Loads the classifier (checking its hash) and both splits from `data`.
    public init(backend: B, classifierPath: String, data: String, expectedSHA256: String = ReferenceClassifier.sha256) throws {
        self.backend = backend
        let file = try ReferenceClassifier.load(path: classifierPath, expected: expectedSHA256)
        classifierSHA256 = expectedSHA256
        extractor = try FeatureExtractor(backend: backend, file: file, path: classifierPath)
        metrics = FeatureMetrics(backend: backend)
        let test = try ImageDataset.load(directory: data, split: .test)
        guard SHA256.hex(test.pixels) == Self.testSplitSHA256 else {
            throw GANError("\(data): its test images are not Fashion-MNIST's; the image metrics are defined against Fashion-MNIST's test split only (--data DIR for eval)")
        }
        let train = try ImageDataset.load(directory: data, split: .train)
        guard test.pixelsPerImage == 784, train.pixelsPerImage == 784 else {
            throw GANError("\(data): the reference classifier needs 28×28 images, found \(test.rows)×\(test.columns)")
        }
        testLabels = test.labels
        let rawTest = try extractor.run(test.pixels.map { Float($0) / 127.5 - 1 }).features
        let meanSquare = rawTest.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(rawTest.count)
        let scale = Float(1 / max(meanSquare, 1e-30).squareRoot())
        featureScale = scale
        testFeatures = FeatureSet(values: rawTest.map { $0 * scale }, width: ReferenceClassifier.featureWidth)
        trainFeatures = try Self.features(extractor, train.pixels, scale: scale)
        let radii = try metrics.kthNeighbourRadii(testFeatures, ks: [3, 5])
        radii3 = radii[0]
        radii5 = radii[1]
        let probe = testFeatures.rows(Array(0..<min(Self.memorisationSubset, testFeatures.count)))
        testNearest = try metrics.nearestDistances(probe, to: trainFeatures)
    }

    private static func features(_ extractor: FeatureExtractor<B>, _ pixels: [UInt8], scale: Float) throws -> FeatureSet {
        let raw = try extractor.run(pixels.map { Float($0) / 127.5 - 1 }).features
        return FeatureSet(values: raw.map { $0 * scale }, width: ReferenceClassifier.featureWidth)
    }

    /// Images from a file: float32 in [-1, 1] as they are, bytes 0–255 scaled to [-1, 1].
    public static func scaled(_ file: NPYFile) -> [Float] {
        file.elementType == .uint8 ? file.values.map { $0 / 127.5 - 1 } : file.values
    }

    /// Every metric of `images` (count × 784, in [-1, 1]).
    /// `kidSubsets` below 100 trades KID's precision for time (tests).
    /// With `labels` (the class each image was asked to be, 0 to 9), also how well they
    /// are (`ClassAgreement`).
    public func evaluate(_ images: [Float], seed: UInt64, kidSubsets: Int = 100, labels: [Int]? = nil) throws -> ImageEvaluation {
        guard images.count % 784 == 0, images.count >= 784 * 10 else {
            throw GANError("evaluation needs at least 10 images of 784 values, got \(images.count) values")
        }
        if let labels {
            guard labels.count == images.count / 784 else {
                throw GANError("\(labels.count) labels for \(images.count / 784) samples: give one label per sample")
            }
            if let bad = labels.first(where: { !(0..<ReferenceClassifier.classes).contains($0) }) {
                throw GANError("label \(bad) is not a Fashion-MNIST class (0 to \(ReferenceClassifier.classes - 1))")
            }
        }
        guard images.allSatisfy(\.isFinite) else { throw GANError("the samples contain NaN or infinite values") }
        let (values, classes) = try extractor.run(images)
        let fake = FeatureSet(values: values.map { $0 * featureScale }, width: ReferenceClassifier.featureWidth)
        let fd = try metrics.frechetDistance(fake, testFeatures)
        let kid = try metrics.kernelInceptionDistance(fake, testFeatures, subsets: kidSubsets, seed: seed)
        let (precision, recall) = try metrics.precisionRecall(real: testFeatures, fake: fake, k: 3, realRadii: radii3)
        let (density, coverage) = try metrics.densityCoverage(real: testFeatures, fake: fake, k: 5, realRadii: radii5)
        var histogram = [Int](repeating: 0, count: ReferenceClassifier.classes)
        for c in classes { histogram[c] += 1 }
        let n = Double(fake.count)
        let kl = histogram.reduce(0.0) { sum, h in
            h == 0 ? sum : sum + Double(h) / n * Double.log(Double(h) / n * Double(histogram.count))
        }
        let probe = fake.rows(Array(0..<min(Self.memorisationSubset, fake.count)))
        let sampleNearest = try metrics.nearestDistances(probe, to: trainFeatures)
        let threshold = Self.quantile(testNearest, 0.01)
        let nearCopies = Double(sampleNearest.filter { $0 < threshold }.count) / Double(sampleNearest.count)
        let testMedian = Double(Self.quantile(testNearest, 0.5)).squareRoot()
        var agreement: ClassAgreement?
        if let labels {
            let k = ReferenceClassifier.classes
            var hits = [Int](repeating: 0, count: k), counts = [Int](repeating: 0, count: k)
            for (label, predicted) in zip(labels, classes) {
                counts[label] += 1
                if label == predicted { hits[label] += 1 }
            }
            let fds: [Double?] = try (0..<k).map { c in
                let mine = labels.indices.filter { labels[$0] == c }
                let theirs = testLabels.indices.filter { Int(testLabels[$0]) == c }
                guard mine.count >= Self.minimumClassSamples, theirs.count >= Self.minimumClassSamples else { return nil }
                return try metrics.frechetDistance(fake.rows(mine), testFeatures.rows(theirs))
            }
            agreement = ClassAgreement(
                agreement: Double(hits.reduce(0, +)) / Double(labels.count), samplesPerClass: counts,
                agreementPerClass: (0..<k).map { counts[$0] == 0 ? nil : Double(hits[$0]) / Double(counts[$0]) },
                fdPerClass: fds)
        }
        return ImageEvaluation(
            samples: fake.count, split: "test", classifierSHA256: classifierSHA256, seed: seed, fdFMNIST: fd,
            kidMean: kid.mean, kidSD: kid.sd, kidSubsets: kidSubsets, kidSubsetSize: min(1000, fake.count, testFeatures.count),
            precision: precision, recall: recall, density: density, coverage: coverage,
            classesCovered: histogram.filter { Double($0) >= 0.01 * n }.count, classKL: kl, classHistogram: histogram,
            memorisationRatio: Double(Self.quantile(sampleNearest, 0.5)).squareRoot() / max(testMedian, 1e-12),
            nearCopies: nearCopies, memorised: nearCopies > Self.nearCopyLimit, conditional: agreement)
    }

    static func quantile(_ values: [Float], _ q: Double) -> Float {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
    }
}
