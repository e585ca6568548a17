import CPUBackend
import ComputeBackend
import GANCore
import OpenCLBackend
import Testing

@Suite("Conditional GANs", .serialized)
struct ConditionalTests {
    /// A critic that takes classes: a condition layer (6 features + 3 classes) under dense
    /// layers, with random one-hot classes per row.
    static func conditionalCritic<B: ComputeBackend>(
        _ backend: B, rows: Int, hidden: Activation = .leakyReLU(slope: 0.2)
    ) throws -> (model: Sequential<B>, dense: Sequential<B>, classes: [Int]) {
        let condition = try Condition(backend: backend, input: ImageShape(features: 6), classes: 3)
        let dense = try Sequential(backend: backend, shape: MLPShape(widths: [9, 8, 7, 1], hidden: hidden, output: .identity))
        try dense.initialize(seed: 21)
        let model = try Sequential(backend: backend, layers: [condition] + dense.layers)
        var random = SplitMix64(seed: 9)
        let classes = (0..<rows).map { _ in Int(random.next() % 3) }
        let buffer = try backend.makeBuffer(oneHot(classes, classes: 3))
        model.setConditions(buffer)
        return (model, dense, classes)
    }

    /// Runs `model` forward and backward on random rows (rows × 6) with L = Σ c·D for random
    /// c, and checks its output against `score(m, row, r)` of the Double model of `dense`
    /// (D of row r's features) and every weight's, bias's and input feature's gradient
    /// against finite differences of L in Double.
    static func expectBackward(
        _ model: Sequential<CPUBackend>, dense: Sequential<CPUBackend>, rows: Int, seed: UInt64,
        score: @escaping (DoubleMLP, [Double], Int) -> Double
    ) throws {
        let backend = model.backend
        let x = LayerGradientTests.randomValues(rows * 6, seed: seed)
        let c = LayerGradientTests.randomValues(rows, seed: seed + 1)
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows)
        try model.forward(input, rows: rows, into: workspace)
        try backend.write(c, to: workspace.outputGradient, offset: 0)
        try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
        let reference = try DoubleMLP(dense)
        func row(_ xs: [Double], _ r: Int) -> [Double] { Array(xs[(r * 6)..<((r + 1) * 6)]) }
        func loss(_ m: DoubleMLP, _ xs: [Double]) -> Double {
            (0..<rows).reduce(0.0) { $0 + Double(c[$1]) * score(m, row(xs, $1), $1) }
        }
        let xs = x.map(Double.init)
        let outputs = try backend.read(workspace.output, offset: 0, count: rows)
        for r in 0..<rows { #expect(abs(Double(outputs[r]) - score(reference, row(xs, r), r)) < 1e-5) }
        var worst = 0.0
        for l in 0..<dense.layers.count {
            let layer = dense.layers[l] as! Dense<CPUBackend>
            let dw = reference.differences(layer: l, biases: false) { loss($0, xs) }
            let db = reference.differences(layer: l, biases: true) { loss($0, xs) }
            for (a, n) in zip(try backend.read(layer.weight.gradient), dw) { worst = max(worst, discrepancy(Double(a), n)) }
            for (a, n) in zip(try backend.read(layer.bias.gradient), db) { worst = max(worst, discrepancy(Double(a), n)) }
        }
        let dx = centralDifferences(xs) { loss(reference, $0) }
        let analytic = try backend.read(workspace.inputGradient, offset: 0, count: rows * 6)
        for (a, n) in zip(analytic, dx) { worst = max(worst, discrepancy(Double(a), n)) }
        #expect(worst < 2e-3, "largest discrepancy \(worst)")
    }

    /// The condition layer's backward: dL/dW, dL/db of the dense layers above it and dL/dx
    /// of the features (not the classes) match finite differences of the Double model on
    /// the rows with their one-hot classes appended; its forward is the dense layers on
    /// [x | one-hot].
    @Test func conditionLayerBackwardMatchesFiniteDifferences() throws {
        let rows = 5
        let (model, dense, classes) = try Self.conditionalCritic(CPUBackend(referenceGEMM: true), rows: rows)
        try Self.expectBackward(model, dense: dense, rows: rows, seed: 4) { m, features, r in
            let hot: [Double] = (0..<3).map { (k: Int) -> Double in k == classes[r] ? 1 : 0 }
            return m.forward(features + hot).y.last![0]
        }
    }

    /// Runs the penalty's pass of `model` at random points (rows × 6) and checks the mean
    /// penalty and every weight gradient of `dense` (the Double model's layers) against
    /// `penalty(model, points)` and its finite differences.
    static func expectPenaltyGradients(
        _ model: Sequential<CPUBackend>, dense: Sequential<CPUBackend>, rows: Int, seed: UInt64,
        penalty: @escaping (DoubleMLP, [Float]) -> Double
    ) throws {
        let backend = model.backend, weight: Float = 10
        #expect(model.gradientPenaltyRefusal == nil)
        let x = LayerGradientTests.randomValues(rows * 6, seed: seed, scale: 2)
        let points = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows, tangents: true)
        let directions = try backend.makeBuffer(count: rows * 6)
        let norms = try backend.makeBuffer(count: rows), losses = try backend.makeBuffer(count: rows)
        for parameter in model.parameters { try backend.fill(parameter.gradient, with: .nan, count: parameter.count) }
        try model.penaltyGradients(
            at: points, rows: rows, weight: weight, workspace: workspace, directions: directions, norms: norms, losses: losses)
        let reference = try DoubleMLP(dense)
        let measured = try backend.read(losses).reduce(0.0) { $0 + Double($1) } / Double(rows)
        #expect(discrepancy(measured, penalty(reference, x), floor: 1e-6) < 1e-4)
        var worst = 0.0
        for l in 0..<dense.layers.count {
            let layer = dense.layers[l] as! Dense<CPUBackend>
            let dw = reference.differences(layer: l, biases: false) { penalty($0, x) }
            for (a, n) in zip(try backend.read(layer.weight.gradient), dw) { worst = max(worst, discrepancy(Double(a), n)) }
        }
        #expect(worst < 2e-3, "largest discrepancy \(worst)")
    }

    /// λ(‖g‖ − 1)² averaged over rows, g a row's gradient.
    static func meanPenalty(_ gradients: [[Double]]) -> Double {
        gradients.reduce(0.0) { total, g in
            let norm = g.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            return total + 10 * (norm - 1) * (norm - 1)
        } / Double(gradients.count)
    }

    /// Under WGAN-GP the penalty is on ∇ₓD of the example only (the classes do not move):
    /// the second-order pass through the condition layer gives the weights' gradient of
    /// the mean penalty as finite differences of the Double penalty over x's part.
    @Test func conditionLayerPenaltyMatchesFiniteDifferences() throws {
        let rows = 4
        let (model, dense, classes) = try Self.conditionalCritic(CPUBackend(referenceGEMM: true), rows: rows, hidden: .relu)
        try Self.expectPenaltyGradients(model, dense: dense, rows: rows, seed: 6) { m, x in
            Self.meanPenalty((0..<rows).map { (r: Int) -> [Double] in
                let features: [Double] = x[(r * 6)..<((r + 1) * 6)].map { Double($0) }
                let hot: [Double] = (0..<3).map { (k: Int) -> Double in k == classes[r] ? 1 : 0 }
                return Array(m.inputGradient(features + hot).prefix(6))
            })
        }
    }

    /// A projection critic: a dense layer (6 → 8) under a projection over 3 classes, with
    /// random classes per row; its dense part as a model of two dense layers for the Double
    /// reference (whose outputs are Z = (ψ, e_0, e_1, e_2)·h + b: D = Z_0 + Z_{1+y}).
    static func projectionCritic<B: ComputeBackend>(
        _ backend: B, rows: Int, hidden: Activation
    ) throws -> (model: Sequential<B>, dense: Sequential<B>, classes: [Int]) {
        let first = try Dense(backend: backend, inputs: 6, outputs: 8, activation: hidden)
        let projection = try Projection(backend: backend, inputs: 8, classes: 3)
        let model = try Sequential(backend: backend, layers: [first, projection])
        try model.initialize(seed: 31)
        let dense = try Sequential(backend: backend, layers: [first, projection.dense])
        var random = SplitMix64(seed: 12)
        let classes = (0..<rows).map { _ in Int(random.next() % 3) }
        model.setConditions(try backend.makeBuffer(oneHot(classes, classes: 3)))
        return (model, dense, classes)
    }

    /// The projection's forward is ψ(h) + ⟨e_y, h⟩ + b_0 + b_{1+y}; its backward gives every
    /// weight's, bias's and the input's gradient of L = Σ c·D as finite differences of the
    /// Double model do.
    @Test func projectionMatchesTheDoubleModel() throws {
        let rows = 5
        let (model, dense, classes) = try Self.projectionCritic(
            CPUBackend(referenceGEMM: true), rows: rows, hidden: .leakyReLU(slope: 0.2))
        try Self.expectBackward(model, dense: dense, rows: rows, seed: 14) { m, features, r in
            let z = m.forward(features).y.last!
            return z[0] + z[1 + classes[r]]
        }
    }

    /// A WGAN-GP critic may end in a projection: the second-order pass gives the weights'
    /// gradient of the mean penalty λ(‖∇ₓD‖ − 1)², D's gradient taken for each row's class.
    @Test func projectionPenaltyMatchesFiniteDifferences() throws {
        let rows = 4
        let (model, dense, classes) = try Self.projectionCritic(CPUBackend(referenceGEMM: true), rows: rows, hidden: .relu)
        try Self.expectPenaltyGradients(model, dense: dense, rows: rows, seed: 16) { m, x in
            Self.meanPenalty((0..<rows).map { (r: Int) -> [Double] in
                let picks: [Double] = (0..<4).map { (k: Int) -> Double in k == 0 || k == 1 + classes[r] ? 1 : 0 }
                return m.inputGradient(x[(r * 6)..<((r + 1) * 6)].map { Double($0) }, outputWeights: picks)
            })
        }
    }

    /// On ring8 with each mode a class, 400 steps of the toy recipe on the CPU backend:
    /// the samples drawn for class c land nearest mode c (≥ 90 % of them, every class).
    @Test func samplesOfAClassLandInItsMode() throws {
        var config = RunConfig()
        config.data = "ring8"
        config.conditional = true
        config.steps = 400
        try config.applyPresets(except: [])
        let data = try loadDataset("ring8", seed: config.seed)
        #expect(data.classes == 8)
        let trainer = try Trainer(backend: CPUBackend(), config: config, data: data)
        #expect(trainer.generator.isConditional && trainer.discriminator.isConditional)
        #expect(trainer.generator.inputs == config.noiseDim && trainer.discriminator.inputs == 2)
        for _ in 0..<400 { try trainer.step(metrics: false) }
        let sampler = try ImageSampler(generator: trainer.samplingGenerator, chunk: 200)
        let mixture = Mixture2D.ring8
        var shares: [Double] = []
        for c in 0..<8 {
            let points = try sampler.sample(count: 200, key: 77, classes: Array(repeating: c, count: 200))
            let hits = (0..<200).filter { mixture.nearestMode(x: Double(points[2 * $0]), y: Double(points[2 * $0 + 1])).mode == c }
            shares.append(Double(hits.count) / 200)
        }
        #expect(shares.allSatisfy { $0 >= 0.9 }, "share of each class's samples in its mode: \(shares)")
        // Unconditional samplers refuse classes; a conditional one refuses a class it lacks.
        #expect(throws: GANError.self) { try sampler.sample(count: 4, key: 1, classes: [0, 1, 2, 8]) }
    }

    /// Resume is bit-identical with classes in both networks: the MLP with packing, two
    /// discriminators and EMA on the CPU; a conv G and D under bce with packing (classes
    /// as channels) and without (a projection D) on the CPU, and a projection critic under
    /// wgan-gp on OpenCL.
    @Test func conditionalResumeIsBitIdentical() throws {
        var mlp = smallConfig()
        mlp.conditional = true
        mlp.pack = 2
        mlp.discriminators = 2
        mlp.ema = 0.9
        try Self.resumeIsBitIdentical(mlp) { CPUBackend() }
        // Unpacked, the MLP D of images ends in a projection; a 2-D mixture's gets the
        // condition line (Mirza & Osindero).
        mlp.pack = 1
        #expect(try mlp.discriminatorLines(classes: 10) == ["flatten", "dense 40 leaky-relu", "projection"])
        try Self.resumeIsBitIdentical(mlp) { CPUBackend() }
        var mixture = mlp
        mixture.data = "ring8"
        #expect(try mixture.discriminatorLines(classes: 8) == ["flatten", "condition", "dense 40 leaky-relu", "dense 1"])
        var conv = try TrainerTests.smallConvConfig(loss: .bce)
        conv.conditional = true
        conv.pack = 2
        #expect(try conv.discriminatorLines(classes: 10)?.first == "condition", "packed: classes as channels")
        try Self.resumeIsBitIdentical(conv) { CPUBackend() }
        conv.pack = 1
        #expect(try conv.discriminatorLines(classes: 10)?.last == "projection", "a conv D ends in a projection")
        try Self.resumeIsBitIdentical(conv) { CPUBackend() }
        var critic = try TrainerTests.smallConvConfig(loss: .wganGP)
        critic.conditional = true
        try Self.resumeIsBitIdentical(critic) { try OpenCLBackend(deviceSpec: nil) }
    }

    static func resumeIsBitIdentical<B: ComputeBackend>(_ config: RunConfig, on makeBackend: () throws -> B) throws {
        let dataset = syntheticDataset()
        let k = 7
        let straight = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        #expect(straight.classes == 10)
        for _ in 0..<(2 * k) { try straight.step(metrics: false) }
        let first = try Trainer(backend: try makeBackend(), config: config, data: dataset)
        for _ in 0..<k { try first.step(metrics: false) }
        let loaded = try Checkpoint.load(try temporaryFile(try Checkpoint.encode(first)))
        #expect(loaded.classes == 10 && loaded.classNames.count == 10)
        let resumed = try Trainer(backend: try makeBackend(), config: loaded.config, data: dataset)
        try Checkpoint.restore(resumed, from: loaded)
        for _ in 0..<k { try resumed.step(metrics: false) }
        let a = try SafetensorsFile.decode(try Checkpoint.encode(straight), path: "straight")
        let b = try SafetensorsFile.decode(try Checkpoint.encode(resumed), path: "resumed")
        #expect(a.tensors.count == b.tensors.count)
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.name == y.name)
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name) differs")
        }
        // The classes reach G: one noise vector drawn as two classes gives two images.
        let generator = try Checkpoint.generator(from: Checkpoint.load(try temporaryFile(try Checkpoint.encode(resumed))), on: try makeBackend())
        let sampler = try ImageSampler(generator: generator, chunk: 4)
        let noise = LayerGradientTests.randomValues(config.noiseDim, seed: 3)
        let one = try sampler.sample(noise: noise, classes: [1]), other = try sampler.sample(noise: noise, classes: [6])
        #expect(one != other && one.allSatisfy(\.isFinite))
    }

    /// CPU and OpenCL stay close with classes (packed, too); a conditional step allocates
    /// nothing and writes one real batch and its classes per D update.
    @Test func conditionalBackendsAgreeAndStepsAllocateNothing() throws {
        var config = smallConfig()
        config.conditional = true
        config.pack = 2
        try TrainerTests.expectBackendsAgree(config)
        var conv = try TrainerTests.smallConvConfig(loss: .hinge)
        conv.conditional = true
        try TrainerTests.expectBackendsAgree(conv)
        conv.spectralNorm = true
        try TrainerTests.expectBackendsAgree(conv)
        for openCL in [false, true] {
            let backend: any ComputeBackend = openCL ? try OpenCLBackend(deviceSpec: nil) : CPUBackend()
            try Self.stepsAllocateNothing(backend, conv)
        }
    }

    static func stepsAllocateNothing<B: ComputeBackend>(_ backend: B, _ config: RunConfig) throws {
        let trainer = try Trainer(backend: backend, config: config, data: syntheticDataset())
        try trainer.step(metrics: true)
        let before = backend.statistics
        for _ in 0..<5 { try trainer.step(metrics: false) }
        let after = backend.statistics
        #expect(after.buffersAllocated == before.buffersAllocated)
        #expect(after.reads == before.reads)
        #expect(after.writes - before.writes == 5 * 2, "a real batch and its classes per D update")
    }

    /// Conditional training needs classes; a condition line needs conditional training;
    /// an unconditional config builds no condition layer (the run is the plain one).
    @Test func refusalsAndTheUnconditionalPath() throws {
        var config = smallConfig()
        config.conditional = true
        let oneClass = ImageDataset(
            count: 40, rows: 28, columns: 28, pixels: [UInt8](repeating: 9, count: 40 * 784),
            labels: [UInt8](repeating: 0, count: 40))
        #expect(oneClass.classes == 0)
        #expect(throws: GANError.self) { try Trainer(backend: CPUBackend(), config: config, data: oneClass) }
        var lines = smallConfig()
        lines.discriminator = ["condition", "dense 8 leaky-relu", "dense 1"]
        do {
            try lines.checkArchitecture(data: syntheticDataset().shape)
            Issue.record("a condition line without conditional training was accepted")
        } catch let error as GANError {
            #expect(error.description.contains("discriminator layer 1 ('condition')"), "\(error)")
        }
        let plain = try Trainer(backend: CPUBackend(), config: smallConfig(), data: syntheticDataset())
        #expect(plain.classes == nil && !plain.generator.isConditional && !plain.discriminator.isConditional)
        #expect(try smallConfig().generatorLines(data: syntheticDataset().shape, classes: 10) == nil)
    }

    /// `g-batch-norm`: the MLP G's hidden layers but the first get batch normalisation with
    /// the activation after it, as layer lines; conditional ones start with the condition.
    @Test func batchNormedMLPGenerator() throws {
        var config = smallConfig()
        config.gBatchNorm = true
        config.gHidden = [6, 8, 10]
        let data = syntheticDataset().shape
        let expected = ["dense 6 leaky-relu", "dense 8", "batch-norm m0.2 e0.001 leaky-relu", "dense 10",
                        "batch-norm m0.2 e0.001 leaky-relu", "dense \(data.elements) tanh"]
        #expect(try config.generatorLines(data: data, classes: nil) == expected)
        config.conditional = true
        #expect(try config.generatorLines(data: data, classes: 10) == ["condition"] + expected)
        config.conditional = false
        config.gActivation = .relu
        #expect(try config.generatorLines(data: data, classes: nil)?[2] == "batch-norm m0.2 e0.001 relu")
        // The trainer builds it: two batch norms in G, and a step runs.
        let trainer = try Trainer(backend: CPUBackend(), config: config, data: syntheticDataset())
        #expect(trainer.generator.layers.filter { $0 is BatchNorm<CPUBackend> }.count == 2)
        #expect(try trainer.step(metrics: true).map { $0.generatorLoss.isFinite } == true)
        // Lines given by the user win.
        config.generator = ["dense 12 relu", "dense \(data.elements) tanh"]
        #expect(try config.generatorLines(data: data, classes: nil) == config.generator)
    }
}
