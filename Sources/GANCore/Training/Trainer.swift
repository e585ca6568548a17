import ComputeBackend
import RealModule

/// Where a run is: everything besides the tensors that a checkpoint must hold for a
/// resumed run to continue bit for bit.
public struct TrainingState: Equatable, Sendable {
    /// Generator updates done.
    public var step = 0
    /// Discriminator updates done (Adam's step count for D).
    public var discriminatorUpdates = 0
    /// The epoch the next real batch comes from, from 0.
    public var epoch = 0
    /// The next batch's index within that epoch.
    public var batchInEpoch = 0
    /// The next Philox counter of the training noise stream.
    public var noiseCounter: UInt64 = 0

    public init() {}
}

/// The figures of one logged step, computed on the host from what the step left on the
/// device (read back only on log steps).
public struct StepMetrics: Equatable, Sendable {
    /// Discriminator loss: mean BCE on real plus mean BCE on fake.
    public var discriminatorLoss: Double
    /// Generator loss: mean −log D(G(z)) (non-saturating).
    public var generatorLoss: Double
    /// Mean D(x) on the real batch, as a probability.
    public var realScore: Double
    /// Mean D(G(z)) on the fake batch of the last discriminator update.
    public var fakeScore: Double
}

/// Independent Philox keys derived from the run's seed, one per purpose.
public enum RandomStream: UInt64 {
    case initialization = 1
    case noise = 2
    case sampleGrid = 3
    case sampling = 4
    case data = 5
    case evaluation = 6

    public func key(seed: UInt64) -> UInt64 {
        var generator = SplitMix64(seed: seed ^ (rawValue &* 0xA076_1D64_78BD_642F))
        return generator.next()
    }
}

/// The classic GAN training loop (Goodfellow et al. 2014) with the non-saturating
/// generator loss: per step, `d-steps` discriminator updates on a real and a fake batch,
/// then one generator update, each with Adam. Every buffer is made in `init`; a step
/// allocates nothing and reads nothing back unless it is asked for metrics.
///
/// A discriminator update runs D once on 2·batch rows, the real batch then the fake one,
/// with the real objective on the first half and the fake objective on the second: the
/// gradient is the sum of the two batches' gradients (each the mean over its batch), in
/// one pass of larger GEMMs and half the launches.
public final class Trainer<B: ComputeBackend> {
    public let backend: B
    public private(set) var config: RunConfig
    public let data: TrainingData
    public let order: BatchOrder
    public let generator: MLP<B>
    public let discriminator: MLP<B>
    public private(set) var state = TrainingState()

    private let batch: Int
    private let generatorActivations: MLPActivations<B>
    private let discriminatorActivations: MLPActivations<B>
    /// D's input in a discriminator update: the real batch, then the generated one.
    private let discriminatorBatch: B.Buffer
    private let noise: B.Buffer
    /// Per-example losses of the discriminator update (real, then fake) and of the
    /// generator update.
    private let discriminatorLosses, generatorLosses: B.Buffer
    /// D's logits of the last discriminator update (real, then fake), for metrics.
    private let discriminatorLogits: B.Buffer
    private let noiseKey: UInt64
    private let healthProbe: B.Buffer
    private var permutation: [Int]
    private var hostBatch: [Float]

    public init(backend: B, config: RunConfig, data: TrainingData) throws {
        self.backend = backend
        self.config = config
        self.data = data
        order = try BatchOrder(count: data.count, batchSize: config.batchSize, seed: config.seed)
        batch = config.batchSize
        let pixels = data.features
        generator = try MLP(backend: backend, shape: config.generatorShape(pixels: pixels))
        discriminator = try MLP(backend: backend, shape: config.discriminatorShape(pixels: pixels))
        generatorActivations = try MLPActivations(backend: backend, shape: generator.shape, capacity: batch)
        // D runs on both batches at once; in the generator update, on the fake one,
        // writing dL/d(input) into G's output gradient.
        discriminatorActivations = try MLPActivations(
            backend: backend, shape: discriminator.shape, capacity: 2 * batch,
            inputGradient: generatorActivations.outputGradient)
        discriminatorBatch = try backend.makeBuffer(count: 2 * batch * pixels)
        noise = try backend.makeBuffer(count: batch * config.noiseDim)
        discriminatorLosses = try backend.makeBuffer(count: 2 * batch)
        generatorLosses = try backend.makeBuffer(count: batch)
        discriminatorLogits = try backend.makeBuffer(count: 2 * batch)
        noiseKey = RandomStream.noise.key(seed: config.seed)
        healthProbe = try backend.makeBuffer(count: 1)
        permutation = order.permutation(epoch: 0)
        hostBatch = [Float](repeating: 0, count: batch * pixels)
        let initKey = RandomStream.initialization.key(seed: config.seed)
        try generator.initialize(seed: initKey)
        try discriminator.initialize(seed: initKey ^ 0xD15C)
    }

    /// Generator updates in the whole run.
    public var totalSteps: Int { config.totalSteps(batchesPerEpoch: order.batchesPerEpoch) }

    /// Continues from a checkpoint's state (its tensors are written separately).
    public func restore(_ restored: TrainingState) {
        state = restored
        permutation = order.permutation(epoch: restored.epoch)
    }

    /// Multiplies both learning rates by `factor` (after a rollback).
    public func scaleLearningRates(by factor: Float) {
        config.gLr *= factor
        config.dLr *= factor
    }

    /// The first parameter or gradient tensor holding a NaN or an infinity, by name;
    /// nil when all are finite. Reads one float per tensor (a mean, which any
    /// non-finite element makes non-finite): for log steps only.
    /// Parameters of both networks come before gradients, which a bad parameter spoils.
    public func firstNonFiniteTensor() throws -> String? {
        for gradients in [false, true] {
            for (network, prefix) in [(generator, "generator"), (discriminator, "discriminator")] {
                for (i, layer) in network.layers.enumerated() {
                    let tensors = gradients
                        ? [("weight gradient", layer.weightGradient, layer.inputs * layer.outputs),
                           ("bias gradient", layer.biasGradient, layer.outputs)]
                        : [("weight", layer.weight, layer.inputs * layer.outputs), ("bias", layer.bias, layer.outputs)]
                    for (what, buffer, count) in tensors {
                        try backend.mean(buffer, count: count, into: healthProbe)
                        if !(try backend.read(healthProbe)[0]).isFinite { return "the \(prefix)'s layer \(i) \(what)" }
                    }
                }
            }
        }
        return nil
    }

    // MARK: - One step

    /// One training step: `d-steps` discriminator updates, then a generator update.
    /// With `metrics`, reads this step's losses and scores back and returns them.
    @discardableResult
    public func step(metrics: Bool) throws -> StepMetrics? {
        for _ in 0..<config.dSteps { try discriminatorUpdate(logStep: metrics) }
        try generatorUpdate(logStep: metrics)
        return metrics ? try readMetrics() : nil
    }

    private func discriminatorUpdate(logStep: Bool) throws {
        try loadRealBatch()
        try drawNoise()
        try generator.forward(noise, rows: batch, into: generatorActivations)
        let pixels = data.features
        try backend.copy(
            generatorActivations.output, offset: 0, to: discriminatorBatch, offset: batch * pixels, count: batch * pixels)
        let d = discriminatorActivations
        let scale = 1 / Float(batch)

        try discriminator.forward(discriminatorBatch, rows: 2 * batch, into: d)
        try backend.objective(
            .crossEntropy(target: config.realLabel), logits: d.output, offset: 0, count: batch,
            losses: discriminatorLosses, gradients: d.outputGradient, gradientScale: scale)
        try backend.objective(
            .crossEntropy(target: 0), logits: d.output, offset: batch, count: batch,
            losses: discriminatorLosses, gradients: d.outputGradient, gradientScale: scale)
        if logStep { try backend.copy(d.output, to: discriminatorLogits, count: 2 * batch) }
        // Adam steps inside the backward pass; log steps keep the gradients for
        // `firstNonFiniteTensor`.
        state.discriminatorUpdates += 1
        try discriminator.backward(
            discriminatorBatch, rows: 2 * batch, activations: d, parameterGradients: true, accumulate: false,
            inputGradient: false,
            adam: .init(hyper: config.adamD, step: state.discriminatorUpdates, keepGradients: logStep))
    }

    private func generatorUpdate(logStep: Bool) throws {
        try drawNoise()
        try generator.forward(noise, rows: batch, into: generatorActivations)
        let d = discriminatorActivations
        try discriminator.forward(generatorActivations.output, rows: batch, into: d)
        // Non-saturating: the generator maximises log D(G(z)), i.e. BCE with target 1.
        try backend.objective(
            .crossEntropy(target: 1), logits: d.output, count: batch,
            losses: generatorLosses, gradients: d.outputGradient, gradientScale: 1 / Float(batch))
        // D's input gradient buffer is G's output gradient buffer.
        try discriminator.backward(
            generatorActivations.output, rows: batch, activations: d,
            parameterGradients: false, accumulate: false, inputGradient: true)
        state.step += 1
        try generator.backward(
            noise, rows: batch, activations: generatorActivations,
            parameterGradients: true, accumulate: false, inputGradient: false,
            adam: .init(hyper: config.adamG, step: state.step, keepGradients: logStep))
    }

    private func drawNoise() throws {
        let count = batch * config.noiseDim
        try backend.normal(noise, count: count, seed: noiseKey, counter: state.noiseCounter, mean: 0, std: 1)
        state.noiseCounter += Philox.blocks(count)
    }

    /// Writes the next batch of the epoch's permutation to the device (see
    /// `TrainingData.fill`), starting the next epoch (and its permutation) when this one
    /// has no full batch left.
    private func loadRealBatch() throws {
        if state.batchInEpoch >= order.batchesPerEpoch {
            state.epoch += 1
            state.batchInEpoch = 0
            permutation = order.permutation(epoch: state.epoch)
        }
        let first = state.batchInEpoch * batch
        hostBatch.withUnsafeMutableBufferPointer { data.fill(permutation[first..<first + batch], into: $0) }
        try backend.write(hostBatch, to: discriminatorBatch, offset: 0)
        state.batchInEpoch += 1
    }

    private func readMetrics() throws -> StepMetrics {
        func mean(_ values: [Float]) -> Double { values.reduce(0.0) { $0 + Double($1) } / Double(values.count) }
        func meanProbability(_ logits: [Float]) -> Double {
            mean(logits.map { $0 >= 0 ? 1 / (1 + (-$0).exp) : $0.exp / (1 + $0.exp) })
        }
        let losses = try backend.read(discriminatorLosses), logits = try backend.read(discriminatorLogits)
        return StepMetrics(
            discriminatorLoss: mean(Array(losses[..<batch])) + mean(Array(losses[batch...])),
            generatorLoss: mean(try backend.read(generatorLosses)),
            realScore: meanProbability(Array(logits[..<batch])),
            fakeScore: meanProbability(Array(logits[batch...])))
    }
}

extension Float {
    var exp: Float { Float(Double.exp(Double(self))) }
}
