import CPUBackend
import ComputeBackend
import GANCore
import OpenCLBackend
import Testing

/// A small random image set: enough for epochs to turn over within a few steps.
func syntheticDataset(count: Int = 200, seed: UInt64 = 7) -> ImageDataset {
    var random = SplitMix64(seed: seed)
    let pixels = (0..<(count * 28 * 28)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    let labels = (0..<count).map { _ in UInt8(random.next() % 10) }
    return ImageDataset(count: count, rows: 28, columns: 28, pixels: pixels, labels: labels)
}

/// A small model so tests run in seconds: 12 full batches of 16 per epoch.
func smallConfig(seed: UInt64 = 3) -> RunConfig {
    var config = RunConfig()
    config.batchSize = 16
    config.gHidden = [32, 48]
    config.dHidden = [40]
    config.noiseDim = 10
    config.seed = seed
    config.evalEvery = 0  // the synthetic images are not Fashion-MNIST
    return config
}

@Suite("Trainer", .serialized)
struct TrainerTests {
    /// k steps, a checkpoint through its bytes, a new trainer restored from it, k more
    /// steps: the same bits as 2k steps straight. 2k crosses two epoch boundaries.
    func resumeIsBitIdentical<B: ComputeBackend>(
        loss: LossKind = .bce, spectralNorm: Bool = false, on makeBackend: () throws -> B
    ) throws {
        let dataset = syntheticDataset()
        let k = 13
        var config = smallConfig()
        config.loss = loss
        config.spectralNorm = spectralNorm
        try config.applyLossPreset(except: [])
        config.dSteps = 2

        let straight = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        for _ in 0..<(2 * k) { try straight.step(metrics: false) }

        let first = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        for _ in 0..<k { try first.step(metrics: false) }
        let bytes = try Checkpoint.encode(first)
        let path = try temporaryFile(bytes)
        let loaded = try Checkpoint.load(path)
        #expect(loaded.state == first.state)
        let resumed = try Trainer(backend: try makeBackend(), config: loaded.config, data: dataset)
        try Checkpoint.restore(resumed, from: loaded)
        for _ in 0..<k { try resumed.step(metrics: false) }

        #expect(resumed.state == straight.state)
        #expect(straight.state.epoch == 4, "2k steps with 2 D updates each cross epochs")
        let a = try SafetensorsFile.decode(try Checkpoint.encode(straight), path: "straight")
        let b = try SafetensorsFile.decode(try Checkpoint.encode(resumed), path: "resumed")
        let perParameter = 1 + config.makeOptimizer(learningRate: 1).stateNames.count
        #expect(a.tensors.count == (3 + 2) * 2 * perParameter + (spectralNorm ? 2 * 2 : 0),
                "3 G layers and 2 D layers, weight and bias, optimizer state, and D's power-iteration vectors")
        if spectralNorm { #expect(a.tensor("discriminator.layers.1.spectral_norm.u")?.shape == [1]) }
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.name == y.name)
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name) differs")
        }
        // And training changed the weights at all (the comparison is not of two copies
        // of the initial state).
        let initial = try SafetensorsFile.decode(
            try Checkpoint.encode(try Trainer(backend: try makeBackend(), config: config, data: dataset)), path: "initial")
        #expect(initial.tensor("generator.layers.0.weight")!.values != a.tensor("generator.layers.0.weight")!.values)
        #expect(initial.tensor("discriminator.layers.0.weight")!.values != a.tensor("discriminator.layers.0.weight")!.values)
    }

    @Test(arguments: LossKind.allCases)
    func resumeIsBitIdenticalOnTheCPU(loss: LossKind) throws {
        try resumeIsBitIdentical(loss: loss) { CPUBackend() }
    }

    @Test(arguments: [LossKind.bce, .wganGP])
    func resumeIsBitIdenticalOnOpenCL(loss: LossKind) throws {
        try resumeIsBitIdentical(loss: loss) { try OpenCLBackend(deviceSpec: nil) }
    }

    /// A small conv GAN shaped like the dcgan preset (dense, batch norm, reshape,
    /// transposed convolutions; convolutions, batch norm over channels and features),
    /// narrow enough for tests; its WGAN-GP critic has no batch normalisation. With
    /// `normDropout`, D has layer normalisation (not under WGAN-GP), flatten and dropout.
    static func smallConvConfig(loss: LossKind, normDropout: Bool = false) throws -> RunConfig {
        var config = smallConfig()
        config.loss = loss
        try config.applyLossPreset(except: [])
        config.generator = [
            "dense 32", "batch-norm relu", "dense 392", "batch-norm relu", "reshape 7x7x8", "conv-transpose 4 k4 s2 p1",
            "batch-norm relu", "conv-transpose 1 k4 s2 p1 tanh",
        ]
        config.discriminator = loss == .wganGP
            ? ["conv 4 k4 s2 p1 leaky-relu", "conv 8 k4 s2 p1 leaky-relu", "dense 16 leaky-relu", "dense 1"]
            : ["conv 4 k4 s2 p1 leaky-relu", "conv 8 k4 s2 p1", "batch-norm leaky-relu", "dense 16", "batch-norm leaky-relu", "dense 1"]
        if normDropout {
            config.discriminator = loss == .wganGP
                ? ["conv 4 k4 s2 p1 leaky-relu", "dropout 0.2", "conv 8 k4 s2 p1 leaky-relu", "flatten", "dense 16 leaky-relu",
                   "dropout 0.4", "dense 1"]
                : ["conv 4 k4 s2 p1", "layer-norm leaky-relu", "dropout 0.2", "conv 8 k4 s2 p1", "layer-norm leaky-relu",
                   "flatten", "dense 16 leaky-relu", "dropout 0.4", "dense 1"]
        }
        return config
    }

    /// Conv layers and batch normalisation resume bit for bit too: the running averages
    /// are in the checkpoint, the batch statistics recomputed by every forward; dropout's
    /// masks come from the checkpointed noise counter.
    func convResumeIsBitIdentical<B: ComputeBackend>(
        loss: LossKind, normDropout: Bool = false, ema: Float = 0, instanceNoise: Float = 0, pack: Int = 1,
        minibatchStd: Bool = false, discriminators: Int = 1, lrDecay: Float = 0, on makeBackend: () throws -> B
    ) throws {
        let dataset = syntheticDataset()
        var config = try Self.smallConvConfig(loss: loss, normDropout: normDropout)
        if lrDecay > 0 {
            config.lrDecay = lrDecay
            config.steps = 16  // the decay under way in both halves
        }
        config.minibatchStd = minibatchStd
        config.discriminators = discriminators
        config.ema = ema
        config.instanceNoise = instanceNoise
        config.pack = pack
        let k = 7
        let straight = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        for _ in 0..<(2 * k) { try straight.step(metrics: false) }
        let first = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        for _ in 0..<k { try first.step(metrics: false) }
        let loaded = try Checkpoint.load(try temporaryFile(try Checkpoint.encode(first)))
        let resumed = try Trainer(backend: try makeBackend(), config: loaded.config, data: dataset)
        try Checkpoint.restore(resumed, from: loaded)
        for _ in 0..<k { try resumed.step(metrics: false) }
        let a = try SafetensorsFile.decode(try Checkpoint.encode(straight), path: "straight")
        let b = try SafetensorsFile.decode(try Checkpoint.encode(resumed), path: "resumed")
        #expect(a.tensor("generator.layers.1.running_var") != nil && a.tensor("generator.layers.5.running_mean") != nil)
        #expect((a.tensor("generator_ema.layers.5.running_mean") != nil) == (ema > 0))
        #expect(a.tensors.count == b.tensors.count)
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.name == y.name)
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name) differs")
        }
        // Training moved the running averages and the conv weights.
        let initial = try SafetensorsFile.decode(
            try Checkpoint.encode(try Trainer(backend: try makeBackend(), config: config, data: dataset)), path: "initial")
        for name in ["generator.layers.1.running_mean", "generator.layers.5.weight", "discriminator.layers.0.weight"] {
            #expect(initial.tensor(name)!.values != a.tensor(name)!.values, "\(name) did not change")
        }
        // A sampler draws the same images from the straight and the resumed generator,
        // from the running averages (a batch of 1 would have no statistics of its own).
        let one = try ImageSampler(generator: straight.generator, chunk: 4).sample(count: 1, key: 5)
        let other = try ImageSampler(generator: resumed.generator, chunk: 4).sample(count: 1, key: 5)
        #expect(one == other && one.allSatisfy { $0.isFinite && abs($0) <= 1 })
        #expect(straight.generator.mode == .training(groups: 1), "sampling restores the mode")
    }

    @Test(arguments: [LossKind.bce, .wganGP, .hinge])
    func convResumeIsBitIdenticalOnTheCPU(loss: LossKind) throws {
        try convResumeIsBitIdentical(loss: loss) { CPUBackend() }
    }

    @Test(arguments: [LossKind.bce, .wganGP])
    func convResumeIsBitIdenticalOnOpenCL(loss: LossKind) throws {
        try convResumeIsBitIdentical(loss: loss) { try OpenCLBackend(deviceSpec: nil) }
    }

    /// The EMA generator: after each G update, average ← average + (1 − d)·(G − average)
    /// with d = min(ema, (1 + step)/(10 + step)), from a copy of G's initial weights; its
    /// running averages are G's until `refreshAverageStatistics` makes them its own: then
    /// its samples in inference mode are those of its weights with a large batch's own
    /// statistics, which they were not with G's averages. Bit for bit on the CPU, and
    /// resumed bit for bit (checkpoints hold the refreshed averages).
    @Test func emaFollowsItsRuleAndResumes() throws {
        let dataset = syntheticDataset()
        var config = try Self.smallConvConfig(loss: .bce)
        config.ema = 0.95
        config.generatorNoise = .reuse
        let trainer = try Trainer(backend: CPUBackend(), config: config, data: dataset)
        let backend = trainer.backend
        let average = try #require(trainer.averageGenerator)
        #expect(trainer.samplingGenerator === average)
        var expected = try trainer.generator.parameters.map { try backend.read($0.value) }
        #expect(try average.parameters.map { try backend.read($0.value) } == expected)
        for _ in 0..<12 {
            try trainer.step(metrics: false)
            let decay = Trainer<CPUBackend>.averageDecay(ema: 0.95, step: trainer.state.step)
            let current = try trainer.generator.parameters.map { try backend.read($0.value) }
            expected = zip(expected, current).map { a, v in zip(a, v).map { $0 + (1 - decay) * ($1 - $0) } }
        }
        #expect(Trainer<CPUBackend>.averageDecay(ema: 0.95, step: 12) == Float(13) / 22)
        #expect(Trainer<CPUBackend>.averageDecay(ema: 0.95, step: 1000) == 0.95)
        let got = try average.parameters.map { try backend.read($0.value) }
        #expect(got == expected)
        #expect(got != (try trainer.generator.parameters.map { try backend.read($0.value) }))
        func runningAverages() throws -> [[Float]] {
            try average.layers.flatMap { try $0.buffers.map { try backend.read($0.buffer) } }
        }
        let copied = try runningAverages()
        #expect(copied == (try trainer.generator.layers.flatMap { try $0.buffers.map { try backend.read($0.buffer) } }))
        // How far inference-mode samples are from the same noise with the batch's own
        // statistics (1,024 rows: the statistics of the average's own weights).
        func inferenceGap() throws -> Float {
            let sampler = try ImageSampler(generator: average, chunk: 1024)
            let inference = try sampler.sample(count: 1024, key: 77)
            let mode = average.mode
            defer { average.setMode(mode) }
            average.setMode(.batchStatistics)
            let workspace = try Workspace(for: average, capacity: 1024)
            let noise = try backend.makeBuffer(count: 1024 * average.inputs)
            try backend.normal(noise, count: 1024 * average.inputs, seed: 77, counter: 0, mean: 0, std: 1)
            try average.forward(noise, rows: 1024, into: workspace)
            let own = try backend.read(workspace.output, offset: 0, count: 1024 * average.outputs)
            return zip(inference, own).map { abs($0 - $1) }.reduce(0, +) / Float(own.count)
        }
        let before = try inferenceGap()
        try trainer.refreshAverageStatistics()
        let refreshed = try runningAverages()
        #expect(refreshed != copied, "the averages are recomputed")
        #expect(try inferenceGap() < before / 3, "inference with the recomputed averages is close to the batch's own statistics")
        try trainer.refreshAverageStatistics()
        #expect(try runningAverages() == refreshed, "a second refresh without a step changes nothing")
        try trainer.step(metrics: false)
        #expect(try runningAverages() == (try trainer.generator.layers.flatMap { try $0.buffers.map { try backend.read($0.buffer) } }))
        try convResumeIsBitIdentical(loss: .bce, ema: 0.99) { CPUBackend() }
    }

    /// Instance noise: σ falls linearly from `instance-noise` to 0 over the run; it changes
    /// what D sees (the first step's losses differ from a run without it, the rest of the
    /// setup alike); a resumed run draws the same noise (both backends).
    @Test func instanceNoiseAnnealsChangesDAndResumes() throws {
        let dataset = syntheticDataset()
        var config = try Self.smallConvConfig(loss: .bce)
        config.steps = 40
        config.instanceNoise = 0.5
        let noisy = try Trainer(backend: CPUBackend(), config: config, data: dataset)
        #expect(noisy.currentInstanceNoise == 0.5)
        config.instanceNoise = 0
        let plain = try Trainer(backend: CPUBackend(), config: config, data: dataset)
        #expect(plain.currentInstanceNoise == 0)
        let a = try #require(try noisy.step(metrics: true)), b = try #require(try plain.step(metrics: true))
        #expect(a.discriminatorLoss != b.discriminatorLoss && a.generatorLoss != b.generatorLoss)
        #expect(noisy.state.noiseCounter > plain.state.noiseCounter, "the noise comes from the noise stream")
        for _ in 1..<20 { try noisy.step(metrics: false) }
        #expect(noisy.currentInstanceNoise == 0.25)
        try convResumeIsBitIdentical(loss: .hinge, instanceNoise: 0.2) { CPUBackend() }
        try convResumeIsBitIdentical(loss: .wganGP, instanceNoise: 0.2) { try OpenCLBackend(deviceSpec: nil) }
    }

    /// Learning-rate decay: the factor is 1 until the last `lr-decay` of the run, then
    /// (total − step)/(F·total); with SGD a step's change of D's weights is the factor
    /// times the undecayed run's (same state, same batch), the first steps are bit-identical
    /// to a run without decay, and a run resumed in the decay is bit-identical (both backends).
    @Test func learningRateDecayScalesStepsAndResumes() throws {
        let dataset = syntheticDataset()
        var config = smallConfig()
        config.optimizer = .sgd
        config.momentum = 0
        config.gLr = 0.05
        config.dLr = 0.05
        config.steps = 8
        var decaying = config
        decaying.lrDecay = 0.5
        let plain = try Trainer(backend: CPUBackend(), config: config, data: dataset)
        let decayed = try Trainer(backend: CPUBackend(), config: decaying, data: dataset)
        #expect(plain.learningRateFactor == 1)
        let backend = decayed.backend
        func weights(_ t: Trainer<CPUBackend>) throws -> [[Float]] {
            try (t.generator.parameters + t.discriminator.parameters).map { try t.backend.read($0.value) }
        }
        var factors: [Float] = []
        for step in 0..<8 {
            factors.append(decayed.learningRateFactor)
            let before = try weights(decayed)
            #expect(before == (try weights(plain)), "step \(step) starts from the same weights")
            try plain.step(metrics: false)
            try decayed.step(metrics: false)
            // D's update comes first, from the same weights and batch: its change is the
            // factor times the plain run's (G's gradient then passes through a different D).
            let d = (try weights(plain)).count - plain.discriminator.parameters.count
            let full = zip(try weights(plain), before).dropFirst(d).map { zip($0, $1).map { Double($0 - $1) } }
            let scaled = zip(try weights(decayed), before).dropFirst(d).map { zip($0, $1).map { Double($0 - $1) } }
            if factors.last == 1 {
                #expect(full == scaled, "undecayed steps are bit-identical")
            } else {
                let f = Double(factors.last!)
                let error = zip(full.joined(), scaled.joined()).map { abs($0 * f - $1) }.max()!
                let size = full.joined().map(abs).max()!
                #expect(size > 1e-4 && error < 1e-3 * size, "step \(step): changes scaled by \(f) (error \(error) of \(size))")
                // G's change: near the factor times the plain run's (through a slightly different D).
                func change(_ t: Trainer<CPUBackend>) throws -> Double {
                    var sum = 0.0
                    for (now, was) in zip(try weights(t), before).prefix(d) {
                        for (x, y) in zip(now, was) { sum += abs(Double(x - y)) }
                    }
                    return sum
                }
                let ratio = try change(decayed) / change(plain)
                #expect(abs(ratio - f) < 0.1 * f, "step \(step): G's change ×\(ratio), expected ×\(f)")
            }
            // Continue both from the decayed run's weights: copy them into the plain run.
            for (p, q) in zip(plain.generator.parameters + plain.discriminator.parameters,
                              decayed.generator.parameters + decayed.discriminator.parameters) {
                try plain.backend.write(try backend.read(q.value), to: p.value, offset: 0)
            }
        }
        #expect(factors == [1, 1, 1, 1, 1, 0.75, 0.5, 0.25])
        try convResumeIsBitIdentical(loss: .bce, lrDecay: 0.75) { CPUBackend() }
        try convResumeIsBitIdentical(loss: .wganGP, lrDecay: 0.75) { try OpenCLBackend(deviceSpec: nil) }
    }

    /// PacGAN's packing: D's input is `pack` examples wide (channels × pack for a conv D,
    /// features × pack for the MLP), it judges batch/pack packs per half; runs train under
    /// bce and wgan-gp (the penalty's points between packs), resume bit for bit, agree
    /// between backends, and a pack that does not divide the batch is refused.
    @Test func packingTrainsResumesAndAgrees() throws {
        let dataset = syntheticDataset()
        var mlp = smallConfig()
        mlp.pack = 4
        let packed = try Trainer(backend: CPUBackend(), config: mlp, data: dataset)
        #expect(packed.discriminator.inputs == 4 * 784)
        let metrics = try #require(try packed.step(metrics: true))
        #expect(metrics.discriminatorLoss.isFinite && metrics.realScore > 0 && metrics.realScore < 1)
        var conv = try Self.smallConvConfig(loss: .wganGP)
        conv.pack = 2
        let critic = try conv.makeDiscriminator(backend: CPUBackend(), data: dataset.shape)
        #expect(critic.inputs == 2 * 784 && (critic.layers[0] as? Conv2D<CPUBackend>)?.input.channels == 2)
        for (loss, pack) in [(LossKind.bce, 2), (.wganGP, 4)] {
            try convResumeIsBitIdentical(loss: loss, pack: pack) { CPUBackend() }
        }
        // Minibatch-std (with packing too) resumes bit for bit on both backends.
        try convResumeIsBitIdentical(loss: .hinge, pack: 2, minibatchStd: true) { CPUBackend() }
        try convResumeIsBitIdentical(loss: .bce, minibatchStd: true) { try OpenCLBackend(deviceSpec: nil) }
        // CPU and OpenCL stay close with packing.
        var config = smallConfig()
        config.pack = 2
        try Self.expectBackendsAgree(config)
        mlp.pack = 3
        #expect(throws: GANError.self) { try Trainer(backend: CPUBackend(), config: mlp, data: dataset) }
        #expect(throws: GANError.self) { try mlp.checkArchitecture(data: dataset.shape) }
    }

    /// Several discriminators (GMAN): each has its own weights (drawn apart), optimizer
    /// state and checkpoint tensors (`discriminator2.…`), each sees its own real batches
    /// (the data runs N batches a round); runs resume bit for bit (with packing and under
    /// wgan-gp too) and agree between backends; more than 8 are refused.
    @Test func severalDiscriminatorsTrainResumeAndAgree() throws {
        let dataset = syntheticDataset()
        var config = smallConfig()
        config.discriminators = 3
        let trainer = try Trainer(backend: CPUBackend(), config: config, data: dataset)
        #expect(trainer.discriminators.count == 3)
        let first = try trainer.backend.read(trainer.discriminators[0].parameters[0].value)
        #expect(first != (try trainer.backend.read(trainer.discriminators[1].parameters[0].value)))
        let metrics = try #require(try trainer.step(metrics: true))
        #expect(metrics.discriminatorLoss.isFinite && metrics.generatorLoss.isFinite)
        #expect(trainer.state.batchInEpoch == 3 && trainer.state.discriminatorUpdates == 1)
        let file = try SafetensorsFile.decode(try Checkpoint.encode(trainer), path: "three")
        #expect(file.tensor("discriminator3.layers.0.weight") != nil && file.tensor("optimizer.discriminator2.layers.0.weight.m") != nil)
        try convResumeIsBitIdentical(loss: .bce, pack: 2, discriminators: 2) { CPUBackend() }
        try convResumeIsBitIdentical(loss: .wganGP, discriminators: 2) { try OpenCLBackend(deviceSpec: nil) }
        config.discriminators = 2
        config.pack = 2
        try Self.expectBackendsAgree(config)
        config.discriminators = 9
        #expect(throws: GANError.self) { try Trainer(backend: CPUBackend(), config: config, data: dataset) }
    }

    /// Packing puts example p·m + j's channel c at position s into pack p's channel
    /// j·C + c; unpacking inverts it.
    @Test func packLaysExamplesAlongChannels() throws {
        let backend = CPUBackend()
        let (examples, m, spatial, channels) = (6, 3, 2, 2)
        let x = (0..<(examples * spatial * channels)).map(Float.init)
        let input = try backend.makeBuffer(x), packed = try backend.makeBuffer(count: x.count), back = try backend.makeBuffer(count: x.count)
        try backend.pack(input, examples: examples, group: m, spatial: spatial, channels: channels, inverse: false, into: packed)
        let y = try backend.read(packed)
        // Pack 0, position 0: examples 0, 1, 2 at position 0, two channels each.
        #expect(Array(y[0..<6]) == [0, 1, 4, 5, 8, 9])
        // Pack 1, position 1: examples 3, 4, 5 at position 1.
        #expect(Array(y[18..<24]) == [14, 15, 18, 19, 22, 23])
        try backend.pack(packed, examples: examples, group: m, spatial: spatial, channels: channels, inverse: true, into: back)
        #expect(try backend.read(back) == x)
    }

    /// Layer normalisation, flatten and dropout in D, on both backends.
    @Test(arguments: [(LossKind.hinge, false), (.wganGP, false), (.bce, true), (.wganGP, true)])
    func normDropoutResumeIsBitIdentical(loss: LossKind, openCL: Bool) throws {
        if openCL {
            try convResumeIsBitIdentical(loss: loss, normDropout: true) { try OpenCLBackend(deviceSpec: nil) }
        } else {
            try convResumeIsBitIdentical(loss: loss, normDropout: true) { CPUBackend() }
        }
    }

    /// Spectral normalisation's vectors are checkpointed and σ is recomputed from them on
    /// resume without another power iteration.
    @Test(arguments: [LossKind.hinge, .wganGP])
    func resumeWithSpectralNormIsBitIdentical(loss: LossKind) throws {
        try resumeIsBitIdentical(loss: loss, spectralNorm: true) { CPUBackend() }
        try resumeIsBitIdentical(loss: loss, spectralNorm: true) { try OpenCLBackend(deviceSpec: nil) }
    }

    /// A log step writes the gradients (for `firstNonFiniteTensor`) and otherwise trains as
    /// any step: with Adam fused into the weight-gradient GEMMs on OpenCL, the gradients
    /// are stored only then. Same bits with a log step every other step as with none; the
    /// gradients, poisoned with NaN, are all rewritten by a log step and left alone (and
    /// not read) by the others — every discriminator's, with three of them (a log step once
    /// kept only the last one's, and a run of three on ring8 stopped as diverged on the
    /// first one's unwritten buffers).
    func logStepsTrainAsOtherSteps<B: ComputeBackend>(discriminators: Int = 1, on makeBackend: () throws -> B) throws {
        let dataset = syntheticDataset()
        var config = smallConfig()
        config.discriminators = discriminators
        let quiet = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        let logged = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        for i in 0..<9 {
            try quiet.step(metrics: false)
            try logged.step(metrics: i % 2 == 0)
        }
        let a = try SafetensorsFile.decode(try Checkpoint.encode(quiet), path: "quiet")
        let b = try SafetensorsFile.decode(try Checkpoint.encode(logged), path: "logged")
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name) differs")
        }

        let backend = logged.backend
        let gradients = ([logged.generator] + logged.discriminators).flatMap { $0.parameters }.map { ($0.gradient, $0.count) }
        func poison() throws { for (buffer, count) in gradients { try backend.fill(buffer, with: .nan, count: count) } }
        try poison()
        try logged.step(metrics: true)
        #expect(try logged.firstNonFiniteTensor() == nil, "a log step writes every gradient")
        try poison()
        try logged.step(metrics: false)
        let still = try gradients.map { try backend.read($0.0, offset: 0, count: $0.1) }
        if let openCL = backend as? OpenCLBackend, openCL.tunables.cpuGEMM {
            // (Only the CPU kernels fuse the step; elsewhere it is composed.)
            #expect(still.allSatisfy { $0.allSatisfy(\.isNaN) }, "the fused step does not store gradients")
        }
        let parameters = try SafetensorsFile.decode(try Checkpoint.encode(logged), path: "after")
        #expect(parameters.tensors.allSatisfy { $0.values.allSatisfy(\.isFinite) }, "no parameter read a poisoned gradient")
    }

    @Test func logStepsTrainAsOtherStepsOnTheCPU() throws {
        try logStepsTrainAsOtherSteps { CPUBackend() }
        try logStepsTrainAsOtherSteps(discriminators: 3) { CPUBackend() }
    }

    @Test func logStepsTrainAsOtherStepsOnOpenCL() throws {
        try logStepsTrainAsOtherSteps { try OpenCLBackend(deviceSpec: nil) }
        try logStepsTrainAsOtherSteps(discriminators: 3) { try OpenCLBackend(deviceSpec: nil) }
    }

    /// A step allocates no buffers and reads nothing back unless asked for metrics, with
    /// every loss, on images (a small mlp) and, with `toy`, on ring8 with the toy preset.
    func stepsAllocateAndReadNothing<B: ComputeBackend>(
        _ backend: B, loss: LossKind, toy: Bool = false, dcgan: Bool = false, normDropout: Bool = false, steps: Int = 50
    ) throws {
        var config = smallConfig()
        config.loss = loss
        config.spectralNorm = loss == .hinge
        if normDropout {
            config = try Self.smallConvConfig(loss: loss, normDropout: true)
            config.instanceNoise = 0.1
            config.discriminators = 2
        }
        if dcgan {
            config = RunConfig()
            config.model = .dcgan
            config.loss = loss
            try config.applyPresets(except: ["model", "loss"])
            config.batchSize = 8
            config.evalEvery = 0
        }
        if toy {
            config = RunConfig()
            config.data = "ring8"
            config.loss = loss
            try config.applyPresets(except: [])
            config.batchSize = 32
        }
        try config.applyLossPreset(except: [])
        let data: any Dataset = toy ? try loadDataset("ring8", seed: 1) : syntheticDataset()
        let trainer = try Trainer(backend: backend, config: config, data: data)
        try trainer.step(metrics: true)
        let before = backend.statistics
        for _ in 0..<steps { try trainer.step(metrics: false) }
        let after = backend.statistics
        #expect(after.buffersAllocated == before.buffersAllocated)
        #expect(after.reads == before.reads)
        #expect(after.writes - before.writes == steps * config.dSteps * config.discriminators, "one real batch written per D update")
        #expect(after.operations > before.operations)
        let logged = try #require(try trainer.step(metrics: true))
        #expect(backend.statistics.buffersAllocated == before.buffersAllocated)
        #expect(logged.discriminatorLoss.isFinite && logged.generatorLoss.isFinite)
        if loss == .bce {
            #expect(logged.realScore > 0 && logged.realScore < 1 && logged.fakeScore > 0 && logged.fakeScore < 1)
        }
        #expect((logged.wasserstein != nil) == (loss == .wgan || loss == .wganGP))
        #expect((logged.gradientPenalty != nil) == (loss == .wganGP) && (logged.gradientNorm != nil) == (loss == .wganGP))
        if let norm = logged.gradientNorm { #expect(norm > 0 && norm.isFinite) }
        if loss == .wgan {
            // Clipping holds every critic parameter inside ±clip.
            let largest = try trainer.discriminator.parameters.map { try backend.read($0.value).map { abs($0) }.max()! }.max()!
            #expect(largest <= config.clip)
        }
    }

    @Test(arguments: LossKind.allCases)
    func stepsAllocateAndReadNothingOnTheCPU(loss: LossKind) throws {
        try stepsAllocateAndReadNothing(CPUBackend(), loss: loss)
    }

    @Test(arguments: LossKind.allCases)
    func stepsAllocateAndReadNothingOnOpenCL(loss: LossKind) throws {
        try stepsAllocateAndReadNothing(try OpenCLBackend(deviceSpec: nil), loss: loss)
    }

    /// The dcgan preset (conv layers, batch norm; for wgan-gp its critic without) too.
    @Test(arguments: [LossKind.bce, .wganGP])
    func dcganStepsAllocateAndReadNothing(loss: LossKind) throws {
        try stepsAllocateAndReadNothing(CPUBackend(), loss: loss, dcgan: true, steps: 5)
        try stepsAllocateAndReadNothing(try OpenCLBackend(deviceSpec: nil), loss: loss, dcgan: true, steps: 10)
    }

    /// Layer normalisation, dropout and instance noise draw their statistics, masks and
    /// noise on the device; two discriminators share the workspace.
    @Test(arguments: [LossKind.hinge, .wganGP])
    func normDropoutStepsAllocateAndReadNothing(loss: LossKind) throws {
        try stepsAllocateAndReadNothing(CPUBackend(), loss: loss, normDropout: true, steps: 5)
        try stepsAllocateAndReadNothing(try OpenCLBackend(deviceSpec: nil), loss: loss, normDropout: true, steps: 10)
    }

    @Test(arguments: LossKind.allCases)
    func toyPresetStepsAllocateAndReadNothing(loss: LossKind) throws {
        try stepsAllocateAndReadNothing(CPUBackend(), loss: loss, toy: true)
        try stepsAllocateAndReadNothing(try OpenCLBackend(deviceSpec: nil), loss: loss, toy: true)
    }

    /// The same run on the CPU backend and on OpenCL stays close (not bit for bit: the
    /// GEMMs sum in other orders) under every loss: the objective, the clipping and the
    /// penalty's pass do the same on both. With SGD, whose step is linear in the gradient
    /// (Adam's and RMSProp's first steps turn a gradient near zero into a full step
    /// whose sign rounding decides).
    @Test(arguments: LossKind.allCases)
    func backendsAgreeOnEveryLoss(loss: LossKind) throws {
        var config = smallConfig()
        config.loss = loss
        config.spectralNorm = loss == .hinge || loss == .lsgan
        try config.applyLossPreset(except: [])
        try Self.expectBackendsAgree(config)
    }

    /// Three SGD steps (learning rate 0.01) of `config` on the CPU backend and on OpenCL
    /// leave every tensor within 1e-3 of its scale.
    static func expectBackendsAgree(_ original: RunConfig) throws {
        var config = original
        config.optimizer = .sgd
        config.gLr = 0.01
        config.dLr = 0.01
        let dataset = syntheticDataset()
        let cpu = try Trainer(backend: CPUBackend(), config: config, data: dataset)
        let openCL = try Trainer(backend: try OpenCLBackend(deviceSpec: nil), config: config, data: dataset)
        for _ in 0..<3 {
            try cpu.step(metrics: false)
            try openCL.step(metrics: false)
        }
        let a = try SafetensorsFile.decode(try Checkpoint.encode(cpu), path: "cpu")
        let b = try SafetensorsFile.decode(try Checkpoint.encode(openCL), path: "opencl")
        for (x, y) in zip(a.tensors, b.tensors) where !x.name.hasPrefix("optimizer.") {
            let scale = x.values.map { abs($0) }.max()!
            let worst = zip(x.values, y.values).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-3 * max(scale, 1e-3), "\(x.name): \(worst) apart (scale \(scale))")
        }
    }

    @Test func batchOrderIsASeededPermutationPerEpoch() throws {
        let order = try BatchOrder(count: 100, batchSize: 16, seed: 5)
        #expect(order.batchesPerEpoch == 6)
        let e0 = order.permutation(epoch: 0), e1 = order.permutation(epoch: 1)
        #expect(e0.sorted() == Array(0..<100) && e1.sorted() == Array(0..<100))
        #expect(e0 != e1)
        #expect(e0 == order.permutation(epoch: 0))
        #expect(try BatchOrder(count: 100, batchSize: 16, seed: 6).permutation(epoch: 0) != e0)
        #expect(throws: GANError.self) { try BatchOrder(count: 100, batchSize: 0, seed: 5) }
        #expect(throws: GANError.self) { try BatchOrder(count: 10, batchSize: 16, seed: 5) }
    }

    @Test func samplerIsDeterministicAndInRange() throws {
        let backend = CPUBackend()
        let trainer = try Trainer(backend: backend, config: smallConfig(), data: syntheticDataset())
        let sampler = try ImageSampler(generator: trainer.generator, chunk: 7)
        let a = try sampler.sample(count: 20, key: 9), b = try sampler.sample(count: 20, key: 9)
        #expect(a.count == 20 * 784 && zip(a, b).allSatisfy { $0 == $1 })
        #expect(a.allSatisfy { $0 >= -1 && $0 <= 1 })
        #expect(try sampler.sample(count: 20, key: 10) != a)
        // Chunking does not change the images.
        let whole = try ImageSampler(generator: trainer.generator, chunk: 20).sample(count: 20, key: 9)
        #expect(zip(whole, a).filter { $0 != $1 }.count == 0)
    }
}

func temporaryFile(_ bytes: [UInt8]) throws -> String {
    let path = "/tmp/gan-cl-test-\(UInt64.random(in: 0...UInt64.max)).bin"
    try writeAtomically(bytes, to: path)
    return path
}
