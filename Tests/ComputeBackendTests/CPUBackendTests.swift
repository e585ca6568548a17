import CPUBackend
import ComputeBackend
import BackendConformance
import Testing

@Suite("CPU backend: optimisers and argument checks")
struct CPUBackendTests {
    let backend = CPUBackend()

    /// Adam's first step with bias correction moves every parameter by almost exactly
    /// the learning rate against its gradient's sign, whatever the gradient's size.
    @Test func adamFirstStepMovesByTheLearningRate() throws {
        var random = DoubleRandom(seed: 61)
        let p0 = random.values(50).map(Float.init)
        let g = random.values(50).map { Float($0) * 0.3 }
        let p = try backend.makeBuffer(p0), grads = try backend.makeBuffer(g)
        let m = try backend.makeBuffer(count: 50), v = try backend.makeBuffer(count: 50)
        try backend.fill(m, with: 0, count: 50)
        try backend.fill(v, with: 0, count: 50)
        let hyper = AdamHyperparameters(learningRate: 0.01, beta1: 0.5, beta2: 0.999, epsilon: 1e-8)
        try backend.adamStep(parameters: p, gradients: grads, m: m, v: v, count: 50, hyper: hyper, step: 1)
        let p1 = try backend.read(p)
        for i in 0..<50 {
            let expected = p0[i] - 0.01 * (g[i] > 0 ? 1 : -1)
            #expect(abs(p1[i] - expected) < 1e-6 + 1e-8 / abs(g[i]), "p[\(i)]")
        }
        // Moments after one step: m = (1-β1)·g, v = (1-β2)·g².
        let (m1, v1) = (try backend.read(m), try backend.read(v))
        for i in 0..<50 {
            #expect(abs(m1[i] - 0.5 * g[i]) <= abs(g[i]) * 1e-6)
            #expect(abs(v1[i] - 0.001 * g[i] * g[i]) <= g[i] * g[i] * 1e-6)
        }
    }

    @Test func adamBiasCorrectionVanishesWithSteps() {
        let hyper = AdamHyperparameters()
        let (c1, c2) = hyper.biasCorrections(step: 1)
        #expect(c1 == 0.5 && abs(c2 - 0.001) < 1e-7)
        let (late1, late2) = hyper.biasCorrections(step: 100_000)
        #expect(late1 == 1 && abs(late2 - 1) < 1e-6)
    }

    @Test func sgdWithMomentumAccumulatesVelocity() throws {
        let p = try backend.makeBuffer([1, -2]), g = try backend.makeBuffer([0.5, 0.25])
        let velocity = try backend.makeBuffer([0.1, -0.2])
        try backend.sgdStep(parameters: p, gradients: g, velocity: velocity, count: 2, learningRate: 0.1, momentum: 0.9)
        // v = 0.9·v + g = (0.59, 0.07); p -= 0.1·v
        let v = try backend.read(velocity), p1 = try backend.read(p)
        #expect(abs(v[0] - 0.59) < 1e-6 && abs(v[1] - 0.07) < 1e-6)
        #expect(abs(p1[0] - 0.941) < 1e-6 && abs(p1[1] - -2.007) < 1e-6)
    }

    @Test func gemmWithBetaZeroIgnoresNaNsInC() throws {
        let a = try backend.makeBuffer([1, 2, 3, 4]), b = try backend.makeBuffer([5, 6, 7, 8])
        let c = try backend.makeBuffer([.nan, .nan, .nan, .nan])
        try backend.gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 2, alpha: 1, a: a, b: b, beta: 0, c: c)
        #expect(try backend.read(c) == [19, 22, 43, 50])
    }

    @Test func wrongShapesAreErrorsNotCrashes() throws {
        let small = try backend.makeBuffer(count: 6)
        let other = try backend.makeBuffer(count: 6)
        #expect(throws: BackendError.self) {
            try backend.gemm(transposeA: false, transposeB: false, m: 3, n: 3, k: 2, alpha: 1, a: small, b: other, beta: 0, c: other)
        }
        #expect(throws: BackendError.self) {
            try backend.gemm(transposeA: false, transposeB: false, m: 2, n: 3, k: 3, alpha: 1, a: small, b: small, beta: 0, c: small)
        }
        #expect(throws: BackendError.self) { try backend.addBias(small, rows: 2, columns: 4, bias: other) }
        #expect(throws: BackendError.self) { try backend.read(small, offset: 4, count: 3) }
        #expect(throws: BackendError.self) { try backend.write([1, 2], to: small, offset: -1) }
        #expect(throws: BackendError.self) { try backend.makeBuffer(count: -1) }
        #expect(throws: BackendError.self) {
            try backend.activationForward(.leakyReLU(slope: 0), x: small, y: other, count: 6)
        }
        #expect(throws: BackendError.self) {
            try backend.objective(.hinge(sign: 2), logits: small, count: 6, losses: other, gradients: other, gradientScale: 1)
        }
        #expect(throws: BackendError.self) {
            try backend.adamStep(parameters: small, gradients: small, m: small, v: small, count: 6, hyper: .init(), step: 0)
        }
        #expect(throws: BackendError.self) { try backend.clamp(small, count: 6, lower: 1, upper: -1) }
    }
}

@Suite("CPU backend: blocked GEMM")
struct BlockedGEMMTests {
    /// The vectorised GEMM the CPU backend trains with agrees with the plain reference
    /// loop on every transpose pair, α and β, on shapes that do not divide its 4×16 blocks.
    @Test func blockedGEMMMatchesTheReference() throws {
        // The full catalogue's GEMM shapes up to 300 on a side (the larger ones only add time).
        let trials = ConformanceCatalogue.trials(of: "gemm", size: .full).filter { trial in
            trial.shape.split(separator: "x").allSatisfy { Int($0).map { $0 <= 300 } ?? false }
        }
        let results = try trials.map { try Conformance.check($0, on: CPUBackend()) }
        #expect(results.count >= 20)
        for result in results { #expect(result.passed, "\(result.trial.label) \(result.trial.shape): error \(result.maxError) \(result.detail)") }
        let shapes = Set(results.map(\.trial.shape))
        #expect(shapes.contains("7x13x5") && shapes.contains("129x257x65"))
    }
}
