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
    /// Discriminator (critic) loss: the mean of its real term plus the mean of its fake
    /// term, plus the gradient penalty where there is one.
    public var discriminatorLoss: Double
    /// Generator loss: the mean of its term (for bce the non-saturating −log D(G(z))).
    public var generatorLoss: Double
    /// Mean D(x) on the real batch: a probability for bce, the raw score otherwise.
    public var realScore: Double
    /// Mean D(G(z)) on the fake batch of the last discriminator update, likewise.
    public var fakeScore: Double
    /// The critic's Wasserstein estimate E[D(x)] − E[D(G(z))] (wgan, wgan-gp).
    public var wasserstein: Double? = nil
    /// The mean gradient penalty λ·(‖∇ₓD(x̂)‖ − 1)² and the mean ‖∇ₓD(x̂)‖ (wgan-gp).
    public var gradientPenalty: Double? = nil
    public var gradientNorm: Double? = nil
    /// The collapse watchdog's diversity (set by the training session).
    public var diversity: Double? = nil
}

/// Independent Philox keys derived from the run's seed, one per purpose.
public enum RandomStream: UInt64 {
    case initialization = 1
    case noise = 2
    case sampleGrid = 3
    case sampling = 4
    case data = 5
    case evaluation = 6
    case diversity = 7
    case averageStatistics = 8

    public func key(seed: UInt64) -> UInt64 {
        var generator = SplitMix64(seed: seed ^ (rawValue &* 0xA076_1D64_78BD_642F))
        return generator.next()
    }
}

/// The GAN training loop: per step, `d-steps` discriminator (critic) updates on a real
/// and a fake batch, then one generator update, with the run's objective (`--loss`) and
/// optimizer. Every buffer is made in `init`; a step allocates nothing and reads nothing
/// back unless it is asked for metrics.
///
/// A discriminator update runs D once on 2·batch rows, the real batch then the fake one,
/// with the real objective on the first half and the fake objective on the second: the
/// gradient is the sum of the two batches' gradients (each the mean over its batch), in
/// one pass of larger GEMMs and half the launches. Under a gradient penalty the penalty's
/// pass runs first and stores its weight gradients, which the main pass adds to.
public final class Trainer<B: ComputeBackend> {
    public let backend: B
    public private(set) var config: RunConfig
    public let data: any Dataset
    public let order: BatchOrder
    public let generator: Sequential<B>
    /// The discriminators (`--discriminators N`, GMAN): each trains on its own batches; G
    /// trains against their mean. Most runs have one.
    public let discriminators: [Sequential<B>]
    public var discriminator: Sequential<B> { discriminators[0] }
    /// The exponential moving average of G's parameters (`--ema`); nil without EMA. Its
    /// batch normalisation's running averages are its own, recomputed for its weights
    /// before it samples or is saved (`refreshAverageStatistics`).
    public let averageGenerator: Sequential<B>?
    /// Runs noise through the EMA generator to recompute its running averages; nil
    /// without EMA or batch normalisation in G.
    private let averageStatisticsSampler: ImageSampler<B>?
    /// Whether the EMA generator's running averages are those of its current weights.
    private var averageStatisticsCurrent = false
    public let objective: any GANObjective
    public private(set) var state = TrainingState()

    private let batch: Int
    private let generatorWorkspace: Workspace<B>
    private let discriminatorWorkspace: Workspace<B>
    /// D's input in a discriminator update: the real batch, then the generated one.
    private let discriminatorBatch: B.Buffer
    private let noise: B.Buffer
    /// Per-example losses of the discriminator update (real, then fake) and of the
    /// generator update.
    private let discriminatorLosses, generatorLosses: B.Buffer
    /// D's logits of the last discriminator update (real, then fake), for metrics.
    private let discriminatorLogits: B.Buffer
    private let penalty: PenaltyBuffers?
    /// Instance noise's draws (2·batch examples) and D's noisy input in the generator
    /// update (G's output must stay as it is for G's backward); nil without it.
    private let instanceNoise: (draws: B.Buffer, fakes: B.Buffer)?
    /// Packing (`--pack m`): D's packed input (2·batch examples' worth), the packed fake
    /// batch for the penalty's points, and D's input gradient on packs; nil for m = 1.
    private let packing: (examples: B.Buffer, fakes: B.Buffer, gradient: B.Buffer)?
    /// With several discriminators: one D's input gradient (packed when packing), and it
    /// unpacked, before it is added to G's output gradient.
    private let gradientSum: (each: B.Buffer, unpacked: B.Buffer)?
    /// The examples D judges per half of its batch: batch / pack.
    private var packedBatch: Int { batch / config.pack }
    private let noiseKey: UInt64
    private let healthProbe: B.Buffer
    private var permutation: [Int]
    private var hostBatch: [Float]
    /// Training-by-sampling's draws (3 uniforms a row) and the rows they chose, kept
    /// between steps so a step allocates nothing on the host either.
    private var hostUniforms: [Float] = []
    private var hostRows: [Int] = []
    /// A conditional run's classes; nil otherwise.
    public let classes: Int?
    /// Conditional: the classes of D's rows, one-hot (2·batch × classes: the real batch's,
    /// then the fake batch's, which are the same), G's being the first half; and the same
    /// on the host.
    private let conditions: B.Buffer?
    private var hostConditions: [Float]

    /// What the gradient penalty needs: the interpolated points, one ε per row, the
    /// critic's workspace on them (with tangents), the direction u, per-row norms and
    /// penalties.
    private struct PenaltyBuffers {
        let weight: Float
        let points, epsilon, directions, norms, losses: B.Buffer
        let workspace: Workspace<B>
    }

    public init(backend: B, config: RunConfig, data: any Dataset) throws {
        self.backend = backend
        self.config = config
        self.data = data
        objective = config.objective
        order = try BatchOrder(count: data.count, batchSize: config.batchSize, seed: config.seed)
        batch = config.batchSize
        let pixels = data.features
        let classes: Int?
        if config.conditional {
            guard data.classes >= 2 else {
                throw GANError("--conditional needs labelled data with at least 2 classes; \(data.summary) has none")
            }
            guard data.classes <= maximumConditionClasses else {
                throw GANError("--conditional takes at most \(maximumConditionClasses) classes; the data has \(data.classes)")
            }
            classes = data.classes
        } else {
            classes = nil
        }
        self.classes = classes
        generator = try config.makeGenerator(backend: backend, data: data.shape, classes: classes, table: data.tableTransform)
        guard (1...8).contains(config.discriminators) else {
            throw GANError("--discriminators must be from 1 to 8, got \(config.discriminators)")
        }
        discriminators = try (0..<config.discriminators).map { _ in
            try config.makeDiscriminator(backend: backend, data: data.shape, classes: classes)
        }
        let discriminator = discriminators[0]
        averageGenerator = config.ema > 0
            ? try config.makeGenerator(backend: backend, data: data.shape, classes: classes, table: data.tableTransform) : nil
        // A table's generator samples with batch statistics: its averages are never used.
        averageStatisticsSampler = try averageGenerator.flatMap { average in
            average.layers.contains { $0 is BatchNorm<B> } && !average.layers.contains { $0 is SpanHead<B> }
                ? try ImageSampler(generator: average, chunk: Self.averageStatisticsRows) : nil
        }
        let rows = 2 * config.batchSize
        conditions = try classes.map { try backend.makeBuffer(count: rows * $0) }
        hostConditions = [Float](repeating: 0, count: rows * (classes ?? 0))
        if let conditions {
            // Once: the layers read the buffer each batch's classes are written to (samplers
            // that borrow G hand it back).
            for network in [generator] + discriminators { network.setConditions(conditions) }
        }
        try generator.attach(config.makeOptimizer(learningRate: config.gLr))
        for d in discriminators { try d.attach(config.makeOptimizer(learningRate: config.dLr)) }
        generatorWorkspace = try Workspace(for: generator, capacity: batch)
        guard config.pack >= 1, batch % config.pack == 0 else {
            throw GANError("--pack \(config.pack) does not divide --batch-size \(batch) into whole packs")
        }
        packing = config.pack > 1
            ? (try backend.makeBuffer(count: 2 * batch * pixels), try backend.makeBuffer(count: batch * pixels),
               try backend.makeBuffer(count: batch * pixels))
            : nil
        let judged = batch / config.pack
        // D runs on both batches at once; in the generator update, on the fake one,
        // writing dL/d(input) into G's output gradient (packed, into the packs' gradient).
        // Several discriminators' input gradients land in a scratch buffer and are added up.
        gradientSum = config.discriminators > 1
            ? (try backend.makeBuffer(count: batch * pixels), try backend.makeBuffer(count: batch * pixels)) : nil
        discriminatorWorkspace = try Workspace(
            for: discriminator, capacity: 2 * judged,
            inputGradient: gradientSum?.each ?? packing?.gradient ?? generatorWorkspace.outputGradient)
        // The other discriminators share the workspace; their layers' own scratch is made here.
        for d in discriminators.dropFirst() {
            for layer in d.layers { try layer.reserve(rows: 2 * judged) }
        }
        discriminatorBatch = try backend.makeBuffer(count: 2 * batch * pixels)
        noise = try backend.makeBuffer(count: batch * config.noiseDim)
        discriminatorLosses = try backend.makeBuffer(count: 2 * batch)
        generatorLosses = try backend.makeBuffer(count: batch)
        discriminatorLogits = try backend.makeBuffer(count: 2 * batch)
        if let weight = objective.penaltyWeight {
            if let refusal = discriminator.gradientPenaltyRefusal { throw GANError("--loss wgan-gp: \(refusal)") }
            penalty = PenaltyBuffers(
                weight: weight, points: try backend.makeBuffer(count: batch * pixels),
                epsilon: try backend.makeBuffer(count: judged), directions: try backend.makeBuffer(count: batch * pixels),
                norms: try backend.makeBuffer(count: judged), losses: try backend.makeBuffer(count: judged),
                workspace: try Workspace(for: discriminator, capacity: judged, tangents: true))
        } else {
            penalty = nil
        }
        instanceNoise = config.instanceNoise > 0
            ? (try backend.makeBuffer(count: 2 * batch * pixels), try backend.makeBuffer(count: batch * pixels)) : nil
        noiseKey = RandomStream.noise.key(seed: config.seed)
        healthProbe = try backend.makeBuffer(count: 1)
        permutation = order.permutation(epoch: 0)
        hostBatch = [Float](repeating: 0, count: batch * pixels)
        let initKey = RandomStream.initialization.key(seed: config.seed)
        try generator.initialize(seed: initKey)
        try copyIntoAverage(decay: nil)
        for (i, d) in discriminators.enumerated() {
            try d.initialize(seed: initKey ^ 0xD15C ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
            if let bound = objective.clip { try clip(d, to: bound) }
            try d.refreshDerivedState(iterate: true)
        }
    }

    /// The generator that samples, evaluations and grids use: the average with EMA.
    public var samplingGenerator: Sequential<B> { averageGenerator ?? generator }

    /// One step of the average toward G's parameters at `decay` (nil: a copy of them),
    /// and G's buffers copied (batch normalisation's running averages, until
    /// `refreshAverageStatistics` recomputes them).
    private func copyIntoAverage(decay: Float?) throws {
        guard let averageGenerator else { return }
        for (average, current) in zip(averageGenerator.parameters, generator.parameters) {
            if let decay {
                try backend.movingAverage(average.value, toward: current.value, count: current.count, decay: decay)
            } else {
                try backend.copy(current.value, to: average.value, count: current.count)
            }
        }
        for (average, current) in zip(averageGenerator.layers, generator.layers) {
            for (a, c) in zip(average.buffers, current.buffers) { try backend.copy(c.buffer, to: a.buffer, count: c.shape.reduce(1, *)) }
        }
        averageStatisticsCurrent = false
    }

    /// Noise for recomputing the EMA generator's running averages: batches × rows.
    static var averageStatisticsBatches: Int { 16 }
    static var averageStatisticsRows: Int { 256 }

    /// Makes the EMA generator's batch-normalisation running averages those of its own
    /// weights, if they are not already: the mean statistics of 16 batches of 256 noise
    /// vectors (a fixed draw, so the result is a function of the weights alone, and a
    /// resumed run's checkpoints stay bit-identical). G's own running averages, which the
    /// EMA once copied, belong to G's current weights and mismatch the average's: the
    /// dcgan preset, seed 1, 5 epochs, sampled from the EMA at 0.999 with G's averages
    /// gave FD-FMNIST 3.02, with each 512 samples' own statistics 1.00, and G's raw weights
    /// 2.52 (benchmarks/README.md, 2026-11-29, seventh session). Called before the EMA
    /// generator samples (evaluations, grids) and before a checkpoint is written.
    public func refreshAverageStatistics() throws {
        guard let averageStatisticsSampler, !averageStatisticsCurrent else { return }
        try averageStatisticsSampler.averageStatistics(
            batches: Self.averageStatisticsBatches, key: RandomStream.averageStatistics.key(seed: config.seed))
        averageStatisticsCurrent = true
    }

    /// The EMA's decay after `step` generator updates: `ema`, ramped up from 0 over the
    /// first updates as (1 + step)/(10 + step) (TensorFlow's num_updates rule), so early
    /// samples are not dominated by the initial weights.
    public static func averageDecay(ema: Float, step: Int) -> Float {
        min(ema, Float(1 + step) / Float(10 + step))
    }

    /// Generator updates in the whole run.
    public var totalSteps: Int { config.totalSteps(batchesPerEpoch: order.batchesPerEpoch) }

    /// Continues from a checkpoint's state (its tensors are written first).
    public func restore(_ restored: TrainingState) throws {
        state = restored
        permutation = order.permutation(epoch: restored.epoch)
        for d in discriminators { try d.refreshDerivedState(iterate: false) }
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
            for (network, prefix) in [(generator, "generator")] + discriminators.enumerated().map({ ($1, Self.discriminatorPrefix($0)) }) {
                for (i, layer) in network.layers.enumerated() {
                    for parameter in layer.parameters {
                        try backend.mean(gradients ? parameter.gradient : parameter.value, count: parameter.count, into: healthProbe)
                        if !(try backend.read(healthProbe)[0]).isFinite {
                            return "the \(prefix)'s layer \(i) \(parameter.name)\(gradients ? " gradient" : "")"
                        }
                    }
                }
            }
        }
        return nil
    }

    /// The checkpoint prefix of discriminator i: "discriminator", then "discriminator2", ...
    public static func discriminatorPrefix(_ i: Int) -> String { i == 0 ? "discriminator" : "discriminator\(i + 1)" }

    // MARK: - One step

    /// One training step: `d-steps` discriminator updates, then a generator update.
    /// With `metrics`, reads this step's losses and scores back and returns them.
    @discardableResult
    public func step(metrics: Bool) throws -> StepMetrics? {
        for _ in 0..<config.dSteps {
            // One Adam step count for all of them: every D is updated once a round.
            state.discriminatorUpdates += 1
            for (i, d) in discriminators.enumerated() {
                // On a log step every D keeps its gradients (the health check reads them all;
                // a fused step leaves them unwritten otherwise), the last one its logits.
                try discriminatorUpdate(d, logStep: metrics, keepLogits: metrics && i == discriminators.count - 1)
            }
        }
        try generatorUpdate(logStep: metrics)
        return metrics ? try readMetrics() : nil
    }

    /// One update of D on its own real and fake batch: with `logStep` its gradients kept
    /// (for `firstNonFiniteTensor`), with `keepLogits` its logits (for the metrics).
    private func discriminatorUpdate(_ discriminator: Sequential<B>, logStep: Bool, keepLogits: Bool) throws {
        try loadRealBatch()
        try drawNoise()
        drawLayerNoise(generator, rows: batch)
        try generator.forward(noise, rows: batch, into: generatorWorkspace)
        let pixels = data.features
        try backend.copy(
            generatorWorkspace.output, offset: 0, to: discriminatorBatch, offset: batch * pixels, count: batch * pixels)
        try addInstanceNoise(to: discriminatorBatch, count: 2 * batch * pixels)
        if let penalty {
            // x̂ = fake + ε·(real − fake), ε uniform per row (per pack) from the noise
            // stream; the real batch is the first half of D's batch. Packed, the points lie
            // between real and fake packs.
            let judged = packedBatch
            var real = discriminatorBatch, fake = generatorWorkspace.output
            if let packing {
                try pack(discriminatorBatch, examples: batch, into: packing.examples)
                try pack(generatorWorkspace.output, examples: batch, into: packing.fakes)
                real = packing.examples
                fake = packing.fakes
            }
            try backend.uniform(penalty.epsilon, count: judged, seed: noiseKey, counter: state.noiseCounter)
            state.noiseCounter += Philox.blocks(judged)
            try backend.interpolateRows(
                real: real, fake: fake, epsilon: penalty.epsilon, rows: judged, columns: pixels * config.pack,
                into: penalty.points)
            drawLayerNoise(discriminator, rows: judged)
            try discriminator.penaltyGradients(
                at: penalty.points, rows: judged, weight: penalty.weight, workspace: penalty.workspace,
                directions: penalty.directions, norms: penalty.norms, losses: penalty.losses)
        }
        let d = discriminatorWorkspace
        let judged = packedBatch
        let scale = 1 / Float(judged)
        // Packed: D judges packs of `pack` examples, the real packs then the fake ones.
        var input = discriminatorBatch
        if let packing {
            try pack(discriminatorBatch, examples: 2 * batch, into: packing.examples)
            input = packing.examples
        }
        // Batch statistics of the real and the fake half each on their own, as two calls
        // of D would have them (the generator update sees a fake batch alone).
        discriminator.setMode(.training(groups: 2))
        drawLayerNoise(discriminator, rows: 2 * judged)
        try discriminator.forward(input, rows: 2 * judged, into: d)
        try backend.objective(
            objective.real, logits: d.output, offset: 0, count: judged,
            losses: discriminatorLosses, gradients: d.outputGradient, gradientScale: scale)
        try backend.objective(
            objective.fake, logits: d.output, offset: judged, count: judged,
            losses: discriminatorLosses, gradients: d.outputGradient, gradientScale: scale)
        if keepLogits { try backend.copy(d.output, to: discriminatorLogits, count: 2 * judged) }
        // The optimizer steps inside the backward pass; log steps keep the gradients for
        // `firstNonFiniteTensor`.
        try discriminator.backward(
            input, rows: 2 * judged, workspace: d,
            parameterGradients: .step(
                config.makeOptimizer(learningRate: config.dLr * learningRateFactor), step: state.discriminatorUpdates,
                addToStored: penalty != nil, keepGradients: logStep),
            inputGradient: false)
        if let bound = objective.clip { try clip(discriminator, to: bound) }
        // One power iteration per update (spectral normalisation), for the next use of D.
        try discriminator.refreshDerivedState(iterate: true)
    }

    private func generatorUpdate(logStep: Bool) throws {
        // Reusing: G's workspace still holds the forward of the last D update (G has not
        // changed since), so its fakes, activations and dropout masks are the batch D judged.
        if config.generatorNoise == .fresh {
            try drawNoise()
            drawLayerNoise(generator, rows: batch)
            try generator.forward(noise, rows: batch, into: generatorWorkspace)
        }
        let d = discriminatorWorkspace
        let judged = packedBatch
        var fakes = generatorWorkspace.output
        if let instanceNoise, currentInstanceNoise > 0 {
            let count = batch * data.features
            try backend.copy(fakes, to: instanceNoise.fakes, count: count)
            try addInstanceNoise(to: instanceNoise.fakes, count: count)
            fakes = instanceNoise.fakes
        }
        if let packing {
            try pack(fakes, examples: batch, into: packing.examples)
            fakes = packing.examples
        }
        // G's loss is the mean over the discriminators (GMAN's mean): each one's gradient
        // scaled by 1/N and summed into G's output gradient.
        let count = discriminators.count
        let scale = 1 / Float(judged * count)
        for (i, discriminator) in discriminators.enumerated() {
            discriminator.setMode(.training(groups: 1))
            drawLayerNoise(discriminator, rows: judged)
            try discriminator.forward(fakes, rows: judged, into: d)
            try backend.objective(
                objective.generator, logits: d.output, count: judged,
                losses: generatorLosses, gradients: d.outputGradient, gradientScale: scale)
            // D's input gradient buffer is G's output gradient buffer (the noise's derivative
            // is 1); packed, it is the packs' gradient, unpacked into G's; with several Ds, a
            // scratch buffer added to G's.
            try discriminator.backward(
                fakes, rows: judged, workspace: d, parameterGradients: .none, inputGradient: true)
            // With several Ds, this D's gradient to add up (unpacked first when packing).
            var gradient = gradientSum?.each
            if let packing {
                let target = gradientSum?.unpacked ?? generatorWorkspace.outputGradient
                try backend.pack(
                    gradientSum?.each ?? packing.gradient, examples: batch, group: config.pack,
                    spatial: data.shape.height * data.shape.width, channels: data.shape.channels, inverse: true,
                    into: target)
                if gradientSum != nil { gradient = target }
            }
            if let gradient {
                if i == 0 {
                    try backend.copy(gradient, to: generatorWorkspace.outputGradient, count: batch * data.features)
                } else {
                    try backend.addScaled(generatorWorkspace.outputGradient, gradient, count: batch * data.features, scale: 1)
                }
            }
        }
        let learningRate = config.gLr * learningRateFactor
        state.step += 1
        try generator.backward(
            noise, rows: batch, workspace: generatorWorkspace,
            parameterGradients: .step(
                config.makeOptimizer(learningRate: learningRate), step: state.step, addToStored: false,
                keepGradients: logStep),
            inputGradient: false)
        try copyIntoAverage(decay: Self.averageDecay(ema: config.ema, step: state.step))
    }

    /// WGAN's clipping: every critic parameter into [−clip, clip].
    private func clip(_ discriminator: Sequential<B>, to clip: Float) throws {
        for parameter in discriminator.parameters {
            try backend.clamp(parameter.value, count: parameter.count, lower: -clip, upper: clip)
        }
    }

    /// Packs the first `examples` examples of `x` in groups of `pack` (see `ComputeBackend.pack`).
    private func pack(_ x: B.Buffer, examples: Int, into y: B.Buffer) throws {
        let shape = data.shape
        try backend.pack(
            x, examples: examples, group: config.pack, spatial: shape.height * shape.width, channels: shape.channels,
            inverse: false, into: y)
    }

    /// The learning rates' factor for the generator update being made (and the
    /// discriminator updates before it): 1, or with `lr-decay` F, falling linearly over
    /// the last F of the run, (total − step) / (F · total) — positive at the last step.
    public var learningRateFactor: Float {
        guard config.lrDecay > 0 else { return 1 }
        let total = max(totalSteps, 1)
        return min(1, Float(max(0, total - state.step)) / (config.lrDecay * Float(total)))
    }

    /// Instance noise's standard deviation at this step: `instance-noise`, falling
    /// linearly to 0 at the last step.
    public var currentInstanceNoise: Float {
        guard config.instanceNoise > 0 else { return 0 }
        let total = max(totalSteps, 1)
        return config.instanceNoise * Float(max(0, total - state.step)) / Float(total)
    }

    /// Adds N(0, σ²) at this step's σ to the first `count` elements of `x`, from the
    /// noise stream (nothing at σ = 0).
    private func addInstanceNoise(to x: B.Buffer, count: Int) throws {
        let sigma = currentInstanceNoise
        guard let instanceNoise, sigma > 0 else { return }
        try backend.normal(instanceNoise.draws, count: count, seed: noiseKey, counter: state.noiseCounter, mean: 0, std: 1)
        state.noiseCounter += Philox.blocks(count)
        try backend.addScaled(x, instanceNoise.draws, count: count, scale: sigma)
    }

    /// Places the next forward's dropout masks in the noise stream (nothing for models
    /// without dropout, whose streams stay as they were).
    private func drawLayerNoise(_ network: Sequential<B>, rows: Int) {
        state.noiseCounter += network.setRandomStream(key: noiseKey, counter: state.noiseCounter, rows: rows)
    }

    private func drawNoise() throws {
        let count = batch * config.noiseDim
        try backend.normal(noise, count: count, seed: noiseKey, counter: state.noiseCounter, mean: 0, std: 1)
        state.noiseCounter += Philox.blocks(count)
    }

    /// Writes the next batch of the epoch's permutation to the device (see
    /// `Dataset.fill`), starting the next epoch (and its permutation) when this one
    /// has no full batch left.
    private func loadRealBatch() throws {
        if state.batchInEpoch >= order.batchesPerEpoch {
            state.epoch += 1
            state.batchInEpoch = 0
            permutation = order.permutation(epoch: state.epoch)
        }
        let first = state.batchInEpoch * batch
        if let classes, let conditions, data.conditionedSampling {
            // Training-by-sampling (a table's): each row's class first, then a row of it, from
            // the noise stream; the epochs count batches as the shuffled order would.
            if hostUniforms.count != 3 * batch {
                hostUniforms = [Float](repeating: 0, count: 3 * batch)
                hostRows = [Int](repeating: 0, count: batch)
            }
            hostUniforms.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: noiseKey, counter: state.noiseCounter) }
            state.noiseCounter += Philox.blocks(3 * batch)
            for i in hostConditions.indices { hostConditions[i] = 0 }
            for row in 0..<batch {
                let pick = data.drawConditioned(hostUniforms[3 * row], hostUniforms[3 * row + 1], hostUniforms[3 * row + 2])
                hostRows[row] = pick.index
                hostConditions[row * classes + pick.label] = 1
                hostConditions[(batch + row) * classes + pick.label] = 1
            }
            hostBatch.withUnsafeMutableBufferPointer { data.fill(hostRows[...], into: $0) }
            try backend.write(hostBatch, to: discriminatorBatch, offset: 0)
            try backend.write(hostConditions, to: conditions, offset: 0)
            state.batchInEpoch += 1
            return
        }
        hostBatch.withUnsafeMutableBufferPointer { data.fill(permutation[first..<first + batch], into: $0) }
        try backend.write(hostBatch, to: discriminatorBatch, offset: 0)
        if let classes, let conditions {
            // The fake batch is drawn with the real batch's classes: the data's class
            // frequencies, and the penalty's points between a real and a fake of one class.
            for i in hostConditions.indices { hostConditions[i] = 0 }
            for (row, index) in permutation[first..<first + batch].enumerated() {
                hostConditions[row * classes + data.label(index)] = 1
                hostConditions[(batch + row) * classes + data.label(index)] = 1
            }
            try backend.write(hostConditions, to: conditions, offset: 0)
        }
        state.batchInEpoch += 1
    }

    private func readMetrics() throws -> StepMetrics {
        func mean(_ values: ArraySlice<Float>) -> Double { values.reduce(0.0) { $0 + Double($1) } / Double(values.count) }
        let judged = packedBatch
        let losses = try backend.read(discriminatorLosses, offset: 0, count: 2 * judged)
        let logits = try backend.read(discriminatorLogits, offset: 0, count: 2 * judged)
        let real = logits[..<judged], fake = logits[judged...]
        let score: (ArraySlice<Float>) -> Double =
            objective.outputIsLogit
            ? { mean(ArraySlice($0.map { $0 >= 0 ? 1 / (1 + (-$0).exp) : $0.exp / (1 + $0.exp) })) }
            : { mean($0) }
        var metrics = StepMetrics(
            discriminatorLoss: mean(losses[..<judged]) + mean(losses[judged...]),
            generatorLoss: mean(try backend.read(generatorLosses, offset: 0, count: judged)[...]),
            realScore: score(real), fakeScore: score(fake))
        if objective.estimatesWasserstein { metrics.wasserstein = mean(real) - mean(fake) }
        if let penalty {
            let value = mean(try backend.read(penalty.losses, offset: 0, count: judged)[...])
            metrics.gradientPenalty = value
            metrics.gradientNorm = mean(try backend.read(penalty.norms, offset: 0, count: judged)[...])
            metrics.discriminatorLoss += value
        }
        return metrics
    }
}

extension Float {
    var exp: Float { Float(Double.exp(Double(self))) }
}
