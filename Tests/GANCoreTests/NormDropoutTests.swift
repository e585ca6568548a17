import CPUBackend
import ComputeBackend
import GANCore
import OpenCLBackend
import Testing

@Suite("LayerNorm, Dropout and Flatten")
struct NormDropoutTests {
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        LayerGradientTests.randomValues(count, seed: seed, scale: scale)
    }

    /// A small critic-shaped net on 5×6×2 images, built from layer lines: Conv2D (k3 s2
    /// p1) → LayerNorm over the 3×3×3 image → Dropout → Flatten → Dense → LayerNorm over
    /// features → Dropout → Dense; odd sizes, every activation in turn.
    static func model<B: ComputeBackend>(_ backend: B, activation: Activation) throws -> Sequential<B> {
        let name: String
        switch activation {
        case .relu: name = "relu"
        case .leakyReLU: name = "leaky-relu"
        case .tanh: name = "tanh"
        case .sigmoid: name = "sigmoid"
        case .identity: name = "identity"
        }
        let lines = ["conv 3 k3 s2 p1", "layer-norm \(name)", "dropout 0.3", "flatten", "dense 7", "layer-norm \(name)",
                     "dropout 0.5", "dense 3 tanh"]
        let model = try Architecture(lines, network: "test").build(
            backend: backend, input: ImageShape(height: 5, width: 6, channels: 2), outputs: 3, network: "test",
            leakySlope: 0.2)
        try model.initialize(seed: 23)
        // γ and β away from 1 and 0, so their gradients are checked at a general point.
        for case let norm as LayerNorm<B> in model.layers {
            try backend.write(random(norm.gamma.count, seed: 41, scale: 0.5).map { $0 + 1 }, to: norm.gamma.value, offset: 0)
            try backend.write(random(norm.beta.count, seed: 42, scale: 0.3), to: norm.beta.value, offset: 0)
        }
        return model
    }

    @Test func architectureBuildsTheLayers() throws {
        let model = try Self.model(CPUBackend(), activation: .relu)
        #expect(model.layers.count == 7, "flatten is a reading, not a layer")
        #expect(model.layers[1] is LayerNorm<CPUBackend> && model.layers[2] is Dropout<CPUBackend>)
        #expect((model.layers[2] as! Dropout<CPUBackend>).rate == 0.3)
        #expect(model.summary.contains("layer-norm relu") && model.summary.contains("dropout 0.5"))
        // The layer-norm's γ covers the whole 3×3×3 image.
        #expect((model.layers[1] as! LayerNorm<CPUBackend>).gamma.count == 27)
    }

    @Test(arguments: ["dropout", "dropout 1", "dropout -0.1", "dropout x", "dropout 0.5 relu", "flatten 3", "layer-norm k3"])
    func badLinesAreRefused(line: String) {
        #expect(throws: GANError.self) { try Architecture(["dense 4", line, "dense 1"], network: "discriminator") }
    }

    /// A random stream per forward, as the trainer hands it out.
    static func forward<B: ComputeBackend>(_ model: Sequential<B>, _ input: B.Buffer, rows: Int, workspace: Workspace<B>, counter: UInt64) throws -> UInt64 {
        let used = model.setRandomStream(key: 77, counter: counter, rows: rows)
        try model.forward(input, rows: rows, into: workspace)
        return used
    }

    /// dL/d(every parameter) and dL/dx of L = Σ c ⊙ y against central differences of the
    /// Double model with the same dropout masks (the forward's uniforms), on the CPU.
    @Test(arguments: [Activation.relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid])
    func backwardMatchesDifferences(activation: Activation) throws {
        let backend = CPUBackend(referenceGEMM: true)
        let model = try Self.model(backend, activation: activation)
        let rows = 4
        let x = Self.random(rows * model.inputs, seed: 1)
        let c = Self.random(rows * model.outputs, seed: 2)
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows)
        let used = try Self.forward(model, input, rows: rows, workspace: workspace, counter: 1000)
        #expect(used == Philox.blocks(rows * 27) + Philox.blocks(rows * 7))
        try backend.write(c, to: workspace.outputGradient, offset: 0)
        try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)

        let reference = try DoubleNet(model, groups: 1)
        let xs = x.map(Double.init), cs = c.map(Double.init)
        func loss(_ net: DoubleNet, _ xs: [Double]) -> Double {
            zip(net.forward(xs, rows: rows), cs).reduce(0.0) { $0 + $1.0 * $1.1 }
        }
        let y = try backend.read(workspace.output)
        #expect(zip(y, reference.forward(xs, rows: rows)).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        // The masks dropped something and kept something.
        let kept = try backend.read(workspace.outputs[2], offset: 0, count: rows * 27).filter { $0 != 0 }.count
        #expect(kept > 0 && kept < rows * 27)
        let (worst, place) = try ConvLayerTests.worstDiscrepancy(
            model, reference: reference, xs: xs, workspace: workspace, loss: loss)
        #expect(worst < 1e-2, "largest discrepancy \(worst) at \(place)")
    }

    /// OpenCL drops the same elements as the CPU (the same Philox bits) and agrees on the
    /// outputs and every gradient; inference mode is the identity for dropout.
    @Test func backendsAgree() throws {
        func run<B: ComputeBackend>(_ backend: B) throws -> [[Float]] {
            let model = try Self.model(backend, activation: .leakyReLU(slope: 0.2))
            let rows = 10
            let input = try backend.makeBuffer(Self.random(rows * model.inputs, seed: 5))
            let workspace = try Workspace(for: model, capacity: rows)
            _ = try Self.forward(model, input, rows: rows, workspace: workspace, counter: 12)
            try backend.write(Self.random(rows * model.outputs, seed: 6), to: workspace.outputGradient, offset: 0)
            try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
            var out = [try backend.read(workspace.output), try backend.read(workspace.inputGradient)]
            out += try model.parameters.map { try backend.read($0.gradient) }
            out.append(try backend.read(workspace.outputs[2], offset: 0, count: rows * 27).map { $0 == 0 ? 0 : 1 })
            model.setMode(.inference)
            try model.forward(input, rows: rows, into: workspace)
            out.append(try backend.read(workspace.output))
            return out
        }
        let cpu = try run(CPUBackend(referenceGEMM: true))
        let openCL = try run(try OpenCLBackend(deviceSpec: nil))
        #expect(cpu[cpu.count - 2] == openCL[openCL.count - 2], "the same elements dropped")
        ConvLayerTests.expectClose(cpu, openCL)
    }

    /// Dropout keeps about 1 − rate of a large draw, scaled by 1/(1 − rate); another
    /// counter draws another mask; inference copies; a forward without a stream is refused.
    @Test func dropoutKeepsItsShareAndNeedsAStream() throws {
        let backend = CPUBackend()
        let rows = 50, features = 400
        let layer = try Dropout(backend: backend, features: features, rate: 0.3)
        try layer.reserve(rows: rows)
        let x = Self.random(rows * features, seed: 9).map { $0 + 2 }  // all positive
        let input = try backend.makeBuffer(x), y = try backend.makeBuffer(count: rows * features)
        #expect(throws: GANError.self) { try layer.forward(input, rows: rows, into: y) }
        layer.setRandomStream(key: 3, counter: 0)
        try layer.forward(input, rows: rows, into: y)
        let first = try backend.read(y)
        let kept = first.filter { $0 != 0 }.count
        #expect(abs(Double(kept) / Double(first.count) - 0.7) < 0.02)
        for (a, b) in zip(first, x) where a != 0 { #expect(a == b * (1 / (1 - Float(0.3)))) }
        #expect(throws: GANError.self) { try layer.forward(input, rows: rows, into: y) }
        layer.setRandomStream(key: 3, counter: layer.randomBlocks(rows: rows))
        try layer.forward(input, rows: rows, into: y)
        #expect(try backend.read(y).map { $0 == 0 } != first.map { $0 == 0 })
        layer.setMode(.inference)
        #expect(layer.randomBlocks(rows: rows) == 0)
        try layer.forward(input, rows: rows, into: y)
        #expect(try backend.read(y) == x)
    }

    /// WGAN-GP's exact penalty pass goes through dropout (linear for its mask) but
    /// refuses layer normalisation, in one line.
    @Test func gradientPenaltyTakesDropoutAndRefusesLayerNorm() throws {
        let backend = CPUBackend()
        let image = ImageShape(height: 5, width: 6, channels: 2)
        let withDropout = try Architecture(["conv 3 k3 s2 p1 leaky-relu", "dropout 0.3", "dense 1"], network: "critic")
            .build(backend: backend, input: image, outputs: 1, network: "critic", leakySlope: 0.2)
        #expect(withDropout.gradientPenaltyRefusal == nil)
        let withNorm = try Architecture(["conv 3 k3 s2 p1", "layer-norm leaky-relu", "dense 1"], network: "critic")
            .build(backend: backend, input: image, outputs: 1, network: "critic", leakySlope: 0.2)
        #expect(withNorm.gradientPenaltyRefusal?.contains("LayerNorm") == true)
    }
}

@Suite("Minibatch standard deviation")
struct MinibatchStdTests {
    /// Conv2D → minibatch-std (an extra channel) → BatchNorm → flatten → Dense →
    /// minibatch-std (an extra feature) → Dense, from layer lines.
    static func model<B: ComputeBackend>(_ backend: B) throws -> Sequential<B> {
        let lines = ["conv 3 k3 s2 p1 leaky-relu", "minibatch-std", "batch-norm tanh", "flatten", "dense 5 leaky-relu",
                     "minibatch-std", "dense 2"]
        let model = try Architecture(lines, network: "test").build(
            backend: backend, input: ImageShape(height: 5, width: 6, channels: 2), outputs: 2, network: "test",
            leakySlope: 0.2)
        try model.initialize(seed: 29)
        return model
    }

    /// Every gradient against central differences of the Double model, with the batch's
    /// statistics in one group and in two; the extra channel holds the mean standard
    /// deviation, the same at every position of a group.
    @Test(arguments: [1, 2])
    func backwardMatchesDifferences(groups: Int) throws {
        let backend = CPUBackend(referenceGEMM: true)
        let model = try Self.model(backend)
        model.setMode(.training(groups: groups))
        let rows = 6
        let x = NormDropoutTests.random(rows * model.inputs, seed: 3), c = NormDropoutTests.random(rows * model.outputs, seed: 4)
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows)
        try model.forward(input, rows: rows, into: workspace)
        try backend.write(c, to: workspace.outputGradient, offset: 0)
        try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
        let reference = try DoubleNet(model, groups: groups)
        let xs = x.map(Double.init), cs = c.map(Double.init)
        func loss(_ net: DoubleNet, _ xs: [Double]) -> Double {
            zip(net.forward(xs, rows: rows), cs).reduce(0.0) { $0 + $1.0 * $1.1 }
        }
        #expect(zip(try backend.read(workspace.output), reference.forward(xs, rows: rows)).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        // The first minibatch-std's extra channel (the 4th of 4 at each of 3×3 positions).
        let extended = try backend.read(workspace.outputs[1], offset: 0, count: rows * 36)
        let extra = stride(from: 3, to: extended.count, by: 4).map { extended[$0] }
        let per = rows / groups
        for g in 0..<groups { #expect(Set(extra[(g * per * 9)..<((g + 1) * per * 9)]).count == 1) }
        #expect(extra.allSatisfy { $0 > 0 })
        let (worst, place) = try ConvLayerTests.worstDiscrepancy(model, reference: reference, xs: xs, workspace: workspace, loss: loss)
        #expect(worst < 1e-2, "largest discrepancy \(worst) at \(place)")
    }

    @Test func backendsAgree() throws {
        func run<B: ComputeBackend>(_ backend: B) throws -> [[Float]] {
            let model = try Self.model(backend)
            model.setMode(.training(groups: 2))
            let rows = 10
            let input = try backend.makeBuffer(NormDropoutTests.random(rows * model.inputs, seed: 5))
            let workspace = try Workspace(for: model, capacity: rows)
            try model.forward(input, rows: rows, into: workspace)
            try backend.write(NormDropoutTests.random(rows * model.outputs, seed: 6), to: workspace.outputGradient, offset: 0)
            try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
            return [try backend.read(workspace.output), try backend.read(workspace.inputGradient)]
                + (try model.parameters.map { try backend.read($0.gradient) })
        }
        ConvLayerTests.expectClose(try run(CPUBackend(referenceGEMM: true)), try run(try OpenCLBackend(deviceSpec: nil)))
    }

    /// `--minibatch-std` puts the layer before D's last layer, for the MLP and for layer
    /// lines; a WGAN-GP critic refuses it.
    @Test func theFlagPlacesTheLayer() throws {
        var config = RunConfig()
        config.minibatchStd = true
        let mlp = try config.makeDiscriminator(backend: CPUBackend(), data: ImageShape(height: 28, width: 28, channels: 1))
        let hidden = ModelPreset.mlp.discriminatorHidden
        #expect(mlp.layers.count == hidden.count + 2 && mlp.layers[hidden.count] is MinibatchStd<CPUBackend>
            && mlp.layers[hidden.count + 1].inputs == hidden.last! + 1)
        config.discriminator = ["conv 4 k4 s2 p1 leaky-relu", "flatten", "dense 8 leaky-relu", "dense 1"]
        #expect(try config.discriminatorLines(classes: nil) == ["conv 4 k4 s2 p1 leaky-relu", "flatten", "dense 8 leaky-relu", "minibatch-std", "dense 1"])
        config.loss = .wganGP
        #expect(throws: GANError.self) { try config.checkArchitecture(data: ImageShape(height: 28, width: 28, channels: 1)) }
    }

    /// A batch-norm line takes its running-average momentum and epsilon (the Keras-GAN
    /// recipe's 0.2 and 1e-3); the built layer has them, the summary shows them, and
    /// out-of-range values are refused naming the layer.
    @Test func batchNormLineOptions() throws {
        let architecture = try Architecture(["dense 16", "batch-norm m0.2 e0.001 leaky-relu", "dense 4", "batch-norm", "dense 1"], network: "generator")
        let model: Sequential<CPUBackend> = try architecture.build(
            backend: CPUBackend(), input: ImageShape(features: 8), outputs: 1, network: "generator", leakySlope: 0.2)
        let first = try #require(model.layers[1] as? BatchNorm<CPUBackend>)
        let second = try #require(model.layers[3] as? BatchNorm<CPUBackend>)
        #expect(first.momentum == 0.2 && first.epsilon == 0.001 && first.activation == .leakyReLU(slope: 0.2))
        #expect(second.momentum == 0.1 && second.epsilon == 1e-5)
        #expect(model.summary.contains("batch-norm m0.2 e0.001 leaky-relu"), "\(model.summary)")
        for bad in ["batch-norm m0", "batch-norm m1.5", "batch-norm e1", "batch-norm e-1", "dense 4 m0.2"] {
            #expect(throws: GANError.self, "\(bad)") { try Architecture(["dense 16", bad, "dense 1"], network: "generator") }
        }
    }
}
