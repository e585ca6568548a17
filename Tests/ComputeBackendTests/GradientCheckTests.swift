import CPUBackend
import ComputeBackend
import Testing

/// Gradient checks of every differentiable operation on the CPU reference, in Double:
/// the analytic gradient (what a layer's backward pass computes with the backend's
/// operations) against central finite differences of the forward function.
@Suite("Gradient checks (CPU reference, Double)")
struct GradientCheckTests {
    /// Central difference step and agreement bound for Double arithmetic.
    static let step = 1e-6
    static let tolerance = 1e-6

    /// |analytic − numeric| / max(1, |analytic|, |numeric|)
    static func discrepancy(_ analytic: Double, _ numeric: Double) -> Double {
        abs(analytic - numeric) / max(1, abs(analytic), abs(numeric))
    }

    /// dL/dx[i] by central differences, for every i.
    static func numericGradient(_ x: [Double], _ loss: ([Double]) -> Double) -> [Double] {
        x.indices.map { i in
            var plus = x, minus = x
            plus[i] += step
            minus[i] -= step
            return (loss(plus) - loss(minus)) / (2 * step)
        }
    }

    static func gemm(
        _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
        _ a: [Double], _ b: [Double], beta: Double = 0, c: [Double]? = nil
    ) -> [Double] {
        var out = c ?? [Double](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { cp in
                    CPUReference.gemm(
                        transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a: ap, b: bp, beta: beta, c: cp)
                }
            }
        }
        return out
    }

    static func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }

    // MARK: - GEMM in every transpose pair

    /// L = Σ R ⊙ (α·op(A)·op(B)). The gradients are GEMMs themselves, in the transpose
    /// pair a layer's backward pass uses for that forward pair.
    @Test("GEMM gradients w.r.t. A and B", arguments: [(false, false), (false, true), (true, false), (true, true)])
    func gemmGradients(transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        let (m, n, k) = (5, 7, 3)
        let alpha = 0.75
        var random = DoubleRandom(seed: 11)
        let a = random.values(m * k), b = random.values(k * n), r = random.values(m * n)
        let loss = { (a: [Double], b: [Double]) in Self.dot(r, Self.gemm(ta, tb, m, n, k, alpha, a, b)) }

        // dA: (m,k) = α·R·op(B)ᵀ, or stored (k,m) = α·op(B)·Rᵀ when A is transposed.
        let dA = ta ? Self.gemm(tb, true, k, m, n, alpha, b, r) : Self.gemm(false, !tb, m, k, n, alpha, r, b)
        // dB: (k,n) = α·op(A)ᵀ·R, or stored (n,k) = α·Rᵀ·op(A) when B is transposed.
        let dB = tb ? Self.gemm(true, ta, n, k, m, alpha, r, a) : Self.gemm(!ta, false, k, n, m, alpha, a, r)

        let numericA = Self.numericGradient(a) { loss($0, b) }
        let numericB = Self.numericGradient(b) { loss(a, $0) }
        for i in a.indices { #expect(Self.discrepancy(dA[i], numericA[i]) < Self.tolerance, "dA[\(i)]") }
        for i in b.indices { #expect(Self.discrepancy(dB[i], numericB[i]) < Self.tolerance, "dB[\(i)]") }
    }

    /// GEMM with beta: dL/dC_in = β·R.
    @Test func gemmBetaGradient() {
        var random = DoubleRandom(seed: 12)
        let (m, n, k) = (4, 3, 6)
        let a = random.values(m * k), b = random.values(k * n), c = random.values(m * n), r = random.values(m * n)
        let numeric = Self.numericGradient(c) { Self.dot(r, Self.gemm(false, false, m, n, k, 1.3, a, b, beta: -0.4, c: $0)) }
        for i in c.indices { #expect(Self.discrepancy(-0.4 * r[i], numeric[i]) < Self.tolerance) }
    }

    // MARK: - A dense layer: y = f(x·W + b)

    @Test("Dense layer backward: dW = xᵀ·dz, dx = dz·Wᵀ, db = column sums of dz",
          arguments: [Activation.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid])
    func denseLayer(activation: Activation) {
        let (batch, inputs, outputs) = (4, 6, 5)
        var random = DoubleRandom(seed: 21)
        let x = random.values(batch * inputs), w = random.values(inputs * outputs), b = random.values(outputs)
        let r = random.values(batch * outputs)

        func forward(_ x: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            var z = Self.gemm(false, false, batch, outputs, inputs, 1, x, w)
            z.withUnsafeMutableBufferPointer { zp in
                b.withUnsafeBufferPointer { CPUReference.addBias(zp, rows: batch, columns: outputs, bias: $0) }
            }
            return z.map { CPUReference.activate(activation, $0) }
        }
        let y = forward(x, w, b)
        let dz = zip(r, y).map { $0 * CPUReference.derivative(activation, output: $1) }
        let dW = Self.gemm(true, false, inputs, outputs, batch, 1, x, dz)
        let dx = Self.gemm(false, true, batch, inputs, outputs, 1, dz, w)
        var db = [Double](repeating: .nan, count: outputs)
        dz.withUnsafeBufferPointer { zp in
            db.withUnsafeMutableBufferPointer { CPUReference.sumColumns(zp, rows: batch, columns: outputs, into: $0) }
        }

        let loss = { (x: [Double], w: [Double], b: [Double]) in Self.dot(r, forward(x, w, b)) }
        let numericW = Self.numericGradient(w) { loss(x, $0, b) }
        let numericX = Self.numericGradient(x) { loss($0, w, b) }
        let numericB = Self.numericGradient(b) { loss(x, w, $0) }
        // ReLU-type kinks: pre-activations within the step of 0 would make differences
        // meaningless; the seed keeps them away, which this guards.
        let z = Self.gemm(false, false, batch, outputs, inputs, 1, x, w)
        #expect(z.indices.allSatisfy { abs(z[$0] + b[$0 % outputs]) > 1e-3 })
        for i in w.indices { #expect(Self.discrepancy(dW[i], numericW[i]) < Self.tolerance, "dW[\(i)]") }
        for i in x.indices { #expect(Self.discrepancy(dx[i], numericX[i]) < Self.tolerance, "dx[\(i)]") }
        for i in b.indices { #expect(Self.discrepancy(db[i], numericB[i]) < Self.tolerance, "db[\(i)]") }
    }

    // MARK: - Activations

    @Test("Activation derivative from the output equals d f/dx",
          arguments: [Activation.identity, .relu, .leakyReLU(slope: 0.2), .leakyReLU(slope: 0.01), .tanh, .sigmoid])
    func activationDerivative(activation: Activation) {
        var random = DoubleRandom(seed: 31)
        let xs = random.values(200).map { $0 * 6 }.filter { abs($0) > 1e-3 } + [-40, 40]
        for x in xs {
            let numeric =
                (CPUReference.activate(activation, x + Self.step) - CPUReference.activate(activation, x - Self.step))
                / (2 * Self.step)
            let analytic = CPUReference.derivative(activation, output: CPUReference.activate(activation, x))
            #expect(Self.discrepancy(analytic, numeric) < Self.tolerance, "\(activation) at \(x)")
        }
    }

    // MARK: - Objectives

    static let objectives: [LogitObjective] = [
        .crossEntropy(target: 1), .crossEntropy(target: 0), .crossEntropy(target: 0.9),
        .wasserstein(sign: 1), .wasserstein(sign: -1), .hinge(sign: 1), .hinge(sign: -1),
        .leastSquares(target: 1), .leastSquares(target: 0),
    ]

    @Test("Objective gradient equals dℓ/dx", arguments: objectives)
    func objectiveGradient(objective: LogitObjective) {
        var random = DoubleRandom(seed: 41)
        // Away from hinge's kinks at ±1; out to the ±100 the kernels must survive.
        let xs = (random.values(200).map { $0 * 10 } + [-100, -60, 60, 100]).filter { abs(abs($0) - 1) > 1e-3 }
        for x in xs {
            let numeric =
                (CPUReference.objective(objective, x + Self.step).0 - CPUReference.objective(objective, x - Self.step).0)
                / (2 * Self.step)
            let (loss, gradient) = CPUReference.objective(objective, x)
            #expect(loss.isFinite && gradient.isFinite)
            #expect(Self.discrepancy(gradient, numeric) < Self.tolerance, "\(objective) at \(x)")
        }
    }

    /// Cross-entropy at large logits in float32: finite, and exact where it should be.
    @Test func crossEntropyIsStableAtHundred() {
        let real = CPUReference.objective(LogitObjective.crossEntropy(target: 1), Float(-100))
        #expect(real.0 == 100 && real.1 == -1)
        let fake = CPUReference.objective(LogitObjective.crossEntropy(target: 0), Float(100))
        #expect(fake.0 == 100 && fake.1 == 1)
        let confident = CPUReference.objective(LogitObjective.crossEntropy(target: 1), Float(100))
        #expect(confident.0 >= 0 && confident.0 < 1e-40 && confident.1 == 0)
        #expect(CPUReference.sigmoid(Float(-100)) > 0)
    }

    // MARK: - Reductions

    @Test func meanGradientIsUniform() {
        var random = DoubleRandom(seed: 51)
        let x = random.values(9)
        let numeric = Self.numericGradient(x) { v in v.withUnsafeBufferPointer { CPUReference.mean($0) } }
        for g in numeric { #expect(Self.discrepancy(1.0 / 9, g) < Self.tolerance) }
    }

    @Test func rowAndColumnSumsAreGradientsOfTheirSums() {
        var random = DoubleRandom(seed: 52)
        let (rows, columns) = (3, 4)
        let x = random.values(rows * columns), rc = random.values(columns), rr = random.values(rows)
        func sums(_ x: [Double], byColumn: Bool) -> [Double] {
            var out = [Double](repeating: 0, count: byColumn ? columns : rows)
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer {
                    if byColumn { CPUReference.sumColumns(xp, rows: rows, columns: columns, into: $0) }
                    else { CPUReference.sumRows(xp, rows: rows, columns: columns, into: $0) }
                }
            }
            return out
        }
        let numericColumns = Self.numericGradient(x) { Self.dot(rc, sums($0, byColumn: true)) }
        let numericRows = Self.numericGradient(x) { Self.dot(rr, sums($0, byColumn: false)) }
        for i in x.indices {
            #expect(Self.discrepancy(rc[i % columns], numericColumns[i]) < Self.tolerance)
            #expect(Self.discrepancy(rr[i / columns], numericRows[i]) < Self.tolerance)
        }
    }
}

/// Seeded inputs in [-1, 1) for Double checks.
struct DoubleRandom {
    var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func values(_ count: Int) -> [Double] {
        (0..<count).map { _ in generator.unitDouble() * 2 - 1 }
    }
}
