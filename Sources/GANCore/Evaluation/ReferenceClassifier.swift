import ComputeBackend
import Foundation
import RealModule

/// gan-cl's reference Fashion-MNIST classifier, whose penultimate features stand in for
/// Inception's in FID-like metrics (no Inception weights can be downloaded here, and
/// Inception features do not suit 28×28 grey images anyway). An MLP 784→512→256→10
/// with ReLU, trained by `gan-cl classifier` with a fixed seed; the weights are
/// committed in models/ and checked against `sha256` before every use.
public enum ReferenceClassifier {
    public static let shape = ModelPreset.classifier
    /// Width of the penultimate layer: the features the metrics use.
    public static let featureWidth = 256
    public static let classes = 10
    public static let format = "gan-cl-classifier-1"
    /// Where the committed weights live in the source tree.
    public static let relativePath = "models/fmnist-classifier.safetensors"
    /// SHA-256 of the committed weights.
    public static let sha256 = "d36658875a920742aca5fd14a718e0329c36a8f9124c95172d2f190c498315f7"

    /// GANCL_CLASSIFIER if set; else the file in the source tree gan-cl was built from;
    /// else models/ under the working directory.
    public static func defaultPath() -> String {
        if let path = ProcessInfo.processInfo.environment["GANCL_CLASSIFIER"], !path.isEmpty { return path }
        // This file is Sources/GANCore/Evaluation/ReferenceClassifier.swift.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let inTree = root.appendingPathComponent(relativePath).path
        return FileManager.default.fileExists(atPath: inTree) ? inTree : relativePath
    }

    /// Reads the classifier at `path`, refusing a file whose SHA-256 is not `expected`.
    public static func load(path: String, expected: String = sha256) throws -> SafetensorsFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GANError("reference classifier \(path): cannot read (missing or unreadable; pass --classifier FILE or set GANCL_CLASSIFIER)")
        }
        let bytes = Array(data)
        let hash = SHA256.hex(bytes)
        guard hash == expected else {
            throw GANError("reference classifier \(path) has SHA-256 \(hash), gan-cl expects \(expected): metrics from other weights would not be comparable")
        }
        let file = try SafetensorsFile.decode(bytes, path: path)
        guard file.metadata["format"] == format else {
            throw GANError("\(path) is not a gan-cl classifier (its metadata has no format \(format))")
        }
        return file
    }

}

/// The classifier on a backend: penultimate features and predicted classes of images.
public final class FeatureExtractor<B: ComputeBackend> {
    public let network: Sequential<B>
    public let chunk: Int
    private let activations: Workspace<B>
    private let input: B.Buffer

    /// A classifier network from a file's tensors (checked for shape).
    public init(backend: B, file: SafetensorsFile, path: String, chunk: Int = 1000) throws {
        network = try Sequential(backend: backend, shape: ReferenceClassifier.shape)
        for tensor in network.namedTensors(prefix: "classifier") where !tensor.name.hasPrefix("optimizer.") {
            guard let stored = file.tensor(tensor.name), stored.shape == tensor.shape else {
                throw GANError("\(path) has no tensor \(tensor.name) of shape \(tensor.shape)")
            }
            try backend.write(stored.values, to: tensor.buffer, offset: 0)
        }
        self.chunk = chunk
        activations = try Workspace(for: network, capacity: chunk)
        input = try backend.makeBuffer(count: chunk * network.inputs)
    }

    /// Wraps a network being trained.
    init(network: Sequential<B>, chunk: Int) throws {
        self.network = network
        self.chunk = chunk
        activations = try Workspace(for: network, capacity: chunk)
        input = try network.backend.makeBuffer(count: chunk * network.inputs)
    }

    /// Features (count × 256) and predicted classes of `images` (count × 784, in [-1, 1]).
    public func run(_ images: [Float]) throws -> (features: [Float], classes: [Int]) {
        let width = network.inputs
        guard images.count % width == 0 else {
            throw GANError("images must have \(width) values each, got \(images.count) values")
        }
        let count = images.count / width
        let backend = network.backend
        let featureLayer = network.layers.count - 2
        let featureWidth = network.layers[featureLayer].outputs
        let classes = network.outputs
        var features: [Float] = []
        features.reserveCapacity(count * featureWidth)
        var predicted: [Int] = []
        predicted.reserveCapacity(count)
        var done = 0
        while done < count {
            let rows = min(chunk, count - done)
            try backend.write(Array(images[(done * width)..<((done + rows) * width)]), to: input, offset: 0)
            try network.forward(input, rows: rows, into: activations)
            features += try backend.read(activations.outputs[featureLayer], offset: 0, count: rows * featureWidth)
            let logits = try backend.read(activations.output, offset: 0, count: rows * classes)
            for r in 0..<rows {
                var best = 0
                for c in 1..<classes where logits[r * classes + c] > logits[r * classes + best] { best = c }
                predicted.append(best)
            }
            done += rows
        }
        return (features, predicted)
    }
}

/// Trains the reference classifier: Adam (learning rate 1e-3, β 0.9/0.999) with a cosine
/// decay to zero, batches of 128, random horizontal flips, softmax cross-entropy.
public enum ClassifierTraining {
    public struct Epoch: Sendable {
        public let epoch: Int
        public let trainLoss: Double
        public let testAccuracy: Double
        public let seconds: Double
    }

    public static func train<B: ComputeBackend>(
        backend: B, train: ImageDataset, test: ImageDataset, epochs: Int, batchSize: Int = 128, seed: UInt64,
        learningRate: Float = 1e-3, report: (Epoch) -> Void
    ) throws -> (file: SafetensorsFile, accuracy: Double) {
        guard train.pixelsPerImage == 784, test.pixelsPerImage == 784 else {
            throw GANError("the reference classifier needs 28×28 images, got \(train.rows)×\(train.columns)")
        }
        let network = try Sequential(backend: backend, shape: ReferenceClassifier.shape)
        let adam = { (rate: Float) in Adam(AdamHyperparameters(learningRate: rate, beta1: 0.9, beta2: 0.999)) }
        try network.attach(adam(learningRate))
        try network.initialize(seed: RandomStream.initialization.key(seed: seed))
        let activations = try Workspace(for: network, capacity: batchSize)
        let images = try backend.makeBuffer(count: batchSize * 784)
        let labels = try backend.makeBuffer(count: batchSize)
        let losses = try backend.makeBuffer(count: batchSize)
        let order = try BatchOrder(count: train.count, batchSize: batchSize, seed: seed)
        let totalSteps = epochs * order.batchesPerEpoch
        var flips = SplitMix64(seed: RandomStream.data.key(seed: seed))
        var hostImages = [Float](repeating: 0, count: batchSize * 784)
        var hostLabels = [Float](repeating: 0, count: batchSize)
        let extractor = try FeatureExtractor(network: network, chunk: 1000)
        let testImages = test.pixels.map { Float($0) / 127.5 - 1 }
        var step = 0
        var accuracy = 0.0
        for epoch in 0..<epochs {
            let start = Date()
            let permutation = order.permutation(epoch: epoch)
            var lossSum = 0.0
            for batch in 0..<order.batchesPerEpoch {
                for row in 0..<batchSize {
                    let image = permutation[batch * batchSize + row]
                    let flip = flips.next() & 1 == 1
                    for y in 0..<28 {
                        for x in 0..<28 {
                            let source = image * 784 + y * 28 + (flip ? 27 - x : x)
                            hostImages[row * 784 + y * 28 + x] = Float(train.pixels[source]) / 127.5 - 1
                        }
                    }
                    hostLabels[row] = Float(train.labels[image])
                }
                try backend.write(hostImages, to: images, offset: 0)
                try backend.write(hostLabels, to: labels, offset: 0)
                try network.forward(images, rows: batchSize, into: activations)
                try backend.softmaxCrossEntropy(
                    logits: activations.output, labels: labels, rows: batchSize, classes: ReferenceClassifier.classes,
                    losses: losses, gradients: activations.outputGradient, gradientScale: 1 / Float(batchSize))
                step += 1
                let rate = learningRate * Float(0.5 * (1 + Double.cos(Double.pi * Double(step) / Double(totalSteps))))
                try network.backward(
                    images, rows: batchSize, workspace: activations,
                    parameterGradients: .step(adam(rate), step: step, addToStored: false, keepGradients: false),
                    inputGradient: false)
                if batch % 50 == 0 { lossSum += try backend.read(losses).reduce(0.0) { $0 + Double($1) } / Double(batchSize) }
            }
            let predicted = try extractor.run(testImages).classes
            accuracy = Double(zip(predicted, test.labels).filter { $0 == Int($1) }.count) / Double(test.count)
            report(Epoch(epoch: epoch + 1, trainLoss: lossSum / Double((order.batchesPerEpoch + 49) / 50),
                         testAccuracy: accuracy, seconds: Date().timeIntervalSince(start)))
        }
        let tensors = try network.namedTensors(prefix: "classifier").filter { !$0.name.hasPrefix("optimizer.") }.map {
            SafetensorsFile.Tensor(name: $0.name, shape: $0.shape, values: try backend.read($0.buffer))
        }
        let metadata = [
            "format": ReferenceClassifier.format,
            "architecture": ReferenceClassifier.shape.description,
            "test_accuracy": String(format: "%.4f", accuracy),
            "epochs": "\(epochs)", "batch_size": "\(batchSize)", "seed": "\(seed)",
            "recipe": "Adam lr \(learningRate) cosine to 0, beta 0.9/0.999, random horizontal flips, softmax cross-entropy",
        ]
        return (SafetensorsFile(tensors: tensors, metadata: metadata), accuracy)
    }
}
