import ComputeBackend
import RealModule

/// The reference implementation of every backend operation: obvious loops, generic over
/// the float type so the same code serves as the float32 CPU backend and, in Double, as
/// the function that gradient checks differentiate numerically.
///
/// Reductions accumulate in Double whatever T is: the reference is the oracle the
/// OpenCL kernels are measured against, so it should be the more accurate side.
public enum CPUReference {
    // MARK: - Linear algebra

    /// C = alpha·op(A)·op(B) + beta·C.
    /// A is (m,k), or (k,m) if transposeA; B is (k,n), or (n,k) if transposeB; C is (m,n).
    public static func gemm<T: Real & BinaryFloatingPoint>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafeBufferPointer<T>, b: UnsafeBufferPointer<T>,
        beta: T, c: UnsafeMutableBufferPointer<T>
    ) {
        @inline(__always) func elementA(_ i: Int, _ p: Int) -> T {
            transposeA ? a[p * m + i] : a[i * k + p]
        }
        for i in 0..<m {
            let row = i * n
            for j in 0..<n {
                c[row + j] = beta == 0 ? 0 : beta * c[row + j]
            }
            if transposeB {
                // B is (n,k): each output is a dot product along contiguous rows of B.
                for j in 0..<n {
                    var sum: T = 0
                    for p in 0..<k { sum += elementA(i, p) * b[j * k + p] }
                    c[row + j] += alpha * sum
                }
            } else {
                // B is (k,n): accumulate scaled rows of B, contiguous in j.
                for p in 0..<k {
                    let scaled = alpha * elementA(i, p)
                    let bRow = p * n
                    for j in 0..<n { c[row + j] += scaled * b[bRow + j] }
                }
            }
        }
    }

    /// out (columns×rows) = xᵀ for x (rows×columns).
    public static func transpose<T>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<T>
    ) {
        for r in 0..<rows {
            for c in 0..<columns { out[c * rows + r] = x[r * columns + c] }
        }
    }

    /// x[r, c] += bias[c]; x is (rows, columns), bias is (columns).
    public static func addBias<T: BinaryFloatingPoint>(
        _ x: UnsafeMutableBufferPointer<T>, rows: Int, columns: Int, bias: UnsafeBufferPointer<T>
    ) {
        for r in 0..<rows {
            for c in 0..<columns { x[r * columns + c] += bias[c] }
        }
    }

    /// out[c] = Σ_r x[r, c], or out[c] += Σ_r x[r, c] when `accumulate`;
    /// x is (rows, columns), out is (columns).
    public static func sumColumns<T: BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<T>,
        accumulate: Bool = false
    ) {
        var sums = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            for c in 0..<columns { sums[c] += Double(x[r * columns + c]) }
        }
        for c in 0..<columns { out[c] = accumulate ? out[c] + T(sums[c]) : T(sums[c]) }
    }

    /// out[r] = Σ_c x[r, c]; x is (rows, columns), out is (rows).
    public static func sumRows<T: BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<T>
    ) {
        for r in 0..<rows {
            var sum = 0.0
            for c in 0..<columns { sum += Double(x[r * columns + c]) }
            out[r] = T(sum)
        }
    }

    /// (1/count)·Σ x[i]; 0 for an empty x.
    public static func mean<T: BinaryFloatingPoint>(_ x: UnsafeBufferPointer<T>) -> T {
        guard !x.isEmpty else { return 0 }
        var sum = 0.0
        for value in x { sum += Double(value) }
        return T(sum / Double(x.count))
    }

    // MARK: - Activations

    /// f(x).
    @inline(__always)
    public static func activate<T: Real & BinaryFloatingPoint>(_ activation: Activation, _ x: T) -> T {
        switch activation {
        case .identity: return x
        case .relu: return x > 0 ? x : 0
        case .leakyReLU(let slope): return x > 0 ? x : T(slope) * x
        case .tanh: return T.tanh(x)
        case .sigmoid: return sigmoid(x)
        }
    }

    /// f'(x) expressed through y = f(x).
    @inline(__always)
    public static func derivative<T: Real & BinaryFloatingPoint>(_ activation: Activation, output y: T) -> T {
        switch activation {
        case .identity: return 1
        case .relu: return y > 0 ? 1 : 0
        case .leakyReLU(let slope): return y > 0 ? 1 : T(slope)
        case .tanh: return 1 - y * y
        case .sigmoid: return y * (1 - y)
        }
    }

    /// 1 / (1 + e^-x) without overflow for any x.
    @inline(__always)
    public static func sigmoid<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }

    // MARK: - Objectives

    /// (ℓ(x), dℓ/dx) for one logit, stable for |x| up to the float range.
    @inline(__always)
    public static func objective<T: Real & BinaryFloatingPoint>(_ objective: LogitObjective, _ x: T) -> (T, T) {
        switch objective {
        case .crossEntropy(let target):
            // softplus(x) − t·x, with softplus(x) = max(x, 0) + log(1 + e^−|x|).
            let t = T(target)
            let loss = (x > 0 ? x : 0) - t * x + T.log(onePlus: T.exp(-abs(x)))
            return (loss, sigmoid(x) - t)
        case .wasserstein(let sign):
            return (T(sign) * x, T(sign))
        case .hinge(let sign):
            let margin = 1 - T(sign) * x
            return margin > 0 ? (margin, -T(sign)) : (0, 0)
        case .leastSquares(let target):
            let d = x - T(target)
            return (d * d / 2, d)
        }
    }

    /// Softmax cross-entropy of one row of logits against `label` (see
    /// `ComputeBackend.softmaxCrossEntropy`): the loss, and softmax − one-hot in `gradient`.
    /// The spans (start, count, kind) of a span activation, read from its float table and
    /// clipped to the row.
    public static func spans<T: BinaryFloatingPoint>(_ table: UnsafeBufferPointer<T>, count: Int, columns: Int) -> [(start: Int, count: Int, softmax: Bool)] {
        // As the kernel reads them: inside [0, limit] truncated, above it the limit, else 0.
        func clipped(_ value: T, _ limit: Int) -> Int {
            value >= 0 && value <= T(limit) ? Int(value) : (value > 0 ? limit : 0)
        }
        return (0..<count).map { s in
            let start = clipped(table[3 * s], columns)
            return (start, clipped(table[3 * s + 1], columns - start), table[3 * s + 2] != 0)
        }
    }

    /// One row of `ComputeBackend.spanActivation`.
    public static func spanActivation<T: Real & BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, spans: [(start: Int, count: Int, softmax: Bool)], temperature: T,
        into y: UnsafeMutableBufferPointer<T>
    ) {
        for span in spans where span.count > 0 {
            let range = span.start..<(span.start + span.count)
            guard span.softmax else {
                for c in range { y[c] = T.tanh(x[c]) }
                continue
            }
            var top = x[span.start] / temperature
            for c in range { top = max(top, x[c] / temperature) }
            var total: T = 0
            for c in range { y[c] = T.exp(x[c] / temperature - top); total += y[c] }
            for c in range { y[c] = y[c] / total }
        }
    }

    /// One row of `ComputeBackend.spanActivationBackward`.
    public static func spanActivationBackward<T: Real & BinaryFloatingPoint>(
        _ y: UnsafeBufferPointer<T>, dy: UnsafeBufferPointer<T>, spans: [(start: Int, count: Int, softmax: Bool)],
        temperature: T, into dx: UnsafeMutableBufferPointer<T>
    ) {
        for span in spans where span.count > 0 {
            let range = span.start..<(span.start + span.count)
            guard span.softmax else {
                for c in range { dx[c] = dy[c] * (1 - y[c] * y[c]) }
                continue
            }
            var dot: T = 0
            for c in range { dot += y[c] * dy[c] }
            for c in range { dx[c] = y[c] * (dy[c] - dot) / temperature }
        }
    }

    public static func softmaxCrossEntropy<T: Real & BinaryFloatingPoint>(
        _ z: UnsafeBufferPointer<T>, label: Int, gradient: UnsafeMutableBufferPointer<T>
    ) -> T {
        let top = z.max() ?? 0
        var total: T = 0
        for c in 0..<z.count { total += T.exp(z[c] - top) }
        let logSum = top + T.log(total)
        for c in 0..<z.count {
            gradient[c] = T.exp(z[c] - logSum) - (c == label ? 1 : 0)
        }
        return (0..<z.count).contains(label) ? logSum - z[label] : logSum
    }

    // MARK: - Optimisers

    /// One Adam step on one element; returns (p, m, v).
    @inline(__always)
    public static func adam(
        parameter p: Float, gradient g: Float, m: Float, v: Float,
        hyper: AdamHyperparameters, biasCorrection1: Float, biasCorrection2: Float
    ) -> (Float, Float, Float) {
        let m1 = hyper.beta1 * m + (1 - hyper.beta1) * g
        let v1 = hyper.beta2 * v + (1 - hyper.beta2) * (g * g)
        let mHat = m1 / biasCorrection1
        let vHat = v1 / biasCorrection2
        return (p - hyper.learningRate * mHat / (vHat.squareRoot() + hyper.epsilon), m1, v1)
    }

    /// One RMSProp step on one element; returns (p, s).
    @inline(__always)
    public static func rmsprop(
        parameter p: Float, gradient g: Float, squareAverage s: Float, hyper: RMSPropHyperparameters
    ) -> (Float, Float) {
        let s1 = hyper.decay * s + (1 - hyper.decay) * (g * g)
        return (p - hyper.learningRate * g / (s1.squareRoot() + hyper.epsilon), s1)
    }

    // MARK: - Gradient penalty

    /// `ComputeBackend.minibatchStdValue` in Double.
    public static func minibatchStdValue<T: BinaryFloatingPoint>(
        _ variance: UnsafeBufferPointer<T>, groups: Int, columns: Int, epsilon: T
    ) -> [T] {
        (0..<groups).map { g in
            var sum = 0.0
            for c in 0..<columns { sum += (Double(variance[g * columns + c]) + Double(epsilon)).squareRoot() }
            return T(sum / Double(columns))
        }
    }

    /// `ComputeBackend.minibatchStdBackward`, t summed in Double.
    public static func minibatchStdBackward<T: Real & BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, outputGradient dy: UnsafeBufferPointer<T>, rows: Int, spatial: Int, channels: Int,
        groups: Int, mean: UnsafeBufferPointer<T>, variance: UnsafeBufferPointer<T>, epsilon: T,
        totals: UnsafeMutableBufferPointer<T>, inputGradient dx: UnsafeMutableBufferPointer<T>, below: Activation
    ) {
        let per = rows / groups, e = spatial * channels
        for g in 0..<groups {
            var t = 0.0
            for r in (g * per)..<((g + 1) * per) {
                for s in 0..<spatial { t += Double(dy[(r * spatial + s) * (channels + 1) + channels]) }
            }
            totals[g] = T(t)
        }
        for r in 0..<rows {
            let g = r / max(per, 1)
            for s in 0..<spatial {
                for c in 0..<channels {
                    let i = (r * spatial + s) * channels + c, k = g * e + s * channels + c
                    let deviation = (variance[k] + epsilon).squareRoot()
                    let spread = totals[g] / T(e) * (x[i] - mean[k]) / (T(per) * deviation)
                    dx[i] = derivative(below, output: x[i]) * (dy[(r * spatial + s) * (channels + 1) + c] + spread)
                }
            }
        }
    }

    /// Where element `index` of `examples`·spatial·channels NHWC values goes when packed
    /// in groups of m (see `ComputeBackend.pack`).
    @inline(__always)
    public static func packedIndex(_ index: Int, group m: Int, spatial: Int, channels: Int) -> Int {
        let c = index % channels, s = (index / channels) % spatial, example = index / (channels * spatial)
        let p = example / m, j = example % m
        return ((p * spatial + s) * m + j) * channels + c
    }

    /// One element of `ComputeBackend.movingAverage`: a + (1 − decay)·(v − a).
    @inline(__always)
    public static func movingAverage<T: BinaryFloatingPoint>(_ a: T, toward v: T, decay: T) -> T {
        a + (1 - decay) * (v - a)
    }

    /// One element of `ComputeBackend.dropout`: x · (1 / (1 − rate)) where u ≥ rate, else 0
    /// (the factor rounded once, as the OpenCL kernel receives it: the same bits).
    @inline(__always)
    public static func dropout<T: BinaryFloatingPoint>(_ x: T, uniform u: T, rate: T) -> T {
        u >= rate ? x * (1 / (1 - rate)) : 0
    }

    /// fake + ε·(real − fake), one element of `ComputeBackend.interpolateRows`.
    @inline(__always)
    public static func interpolate<T: BinaryFloatingPoint>(real: T, fake: T, epsilon: T) -> T {
        fake + epsilon * (real - fake)
    }

    /// The penalty of one row g of a critic's input gradient (see
    /// `ComputeBackend.gradientPenalty`): returns (‖g‖, weight·(‖g‖ − 1)²) and writes
    /// scale·∂penalty/∂g into `direction` (zeros when g is all zeros). The sum of
    /// squares accumulates in Double.
    public static func gradientPenalty<T: Real & BinaryFloatingPoint>(
        _ g: UnsafeBufferPointer<T>, weight: T, scale: T, direction: UnsafeMutableBufferPointer<T>
    ) -> (norm: T, loss: T) {
        var squares = 0.0
        for x in g { squares += Double(x) * Double(x) }
        let norm = T(squares.squareRoot())
        let factor: T = norm > 0 ? scale * 2 * weight * (norm - 1) / norm : 0
        for c in 0..<g.count { direction[c] = factor * g[c] }
        return (norm, weight * (norm - 1) * (norm - 1))
    }

    // MARK: - Spectral normalisation

    /// Divides x by its 2-norm (unless 0) and returns the norm; sums in Double.
    public static func normalize<T: BinaryFloatingPoint>(_ x: UnsafeMutableBufferPointer<T>) -> T {
        let norm = T(x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
        if norm > 0 { for i in x.indices { x[i] /= norm } }
        return norm
    }

    /// G ← (G − ⟨G, W_sn⟩·v·uᵀ) / σ for G and W_sn of v.count × u.count (see
    /// `ComputeBackend.spectralNormGradient`); the inner product sums in Double.
    public static func spectralNormGradient<T: BinaryFloatingPoint>(
        _ g: UnsafeMutableBufferPointer<T>, normalizedWeight w: UnsafeBufferPointer<T>, v: UnsafeBufferPointer<T>,
        u: UnsafeBufferPointer<T>, sigma: T
    ) {
        var inner = 0.0
        for i in g.indices { inner += Double(g[i]) * Double(w[i]) }
        let c = T(inner)
        for r in v.indices {
            for k in u.indices { g[r * u.count + k] = (g[r * u.count + k] - c * v[r] * u[k]) / sigma }
        }
    }

    // MARK: - Convolution (NHWC)

    /// The patches of x as rows (see `ComputeBackend.im2col`).
    public static func im2col<T: BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, geometry g: ConvolutionGeometry, into columns: UnsafeMutableBufferPointer<T>
    ) {
        let (oh, ow, k, c) = (g.outputHeight, g.outputWidth, g.kernel, g.channels)
        var row = 0
        for n in 0..<g.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var column = row * g.patchSize
                    for ky in 0..<k {
                        let iy = oy * g.stride - g.padding + ky
                        for kx in 0..<k {
                            let ix = ox * g.stride - g.padding + kx
                            let inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width
                            let base = ((n * g.height + iy) * g.width + ix) * c
                            for ch in 0..<c { columns[column + ch] = inside ? x[base + ch] : 0 }
                            column += c
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// im2col's adjoint (see `ComputeBackend.col2im`): each image element gathers its
    /// entries, kernel rows then kernel columns ascending, summed in Double.
    public static func col2im<T: BinaryFloatingPoint>(
        _ columns: UnsafeBufferPointer<T>, geometry g: ConvolutionGeometry, into x: UnsafeMutableBufferPointer<T>
    ) {
        let (oh, ow, k, c) = (g.outputHeight, g.outputWidth, g.kernel, g.channels)
        for n in 0..<g.batch {
            for iy in 0..<g.height {
                for ix in 0..<g.width {
                    for ch in 0..<c {
                        var sum = 0.0
                        for ky in 0..<k {
                            let ty = iy + g.padding - ky
                            guard ty >= 0, ty % g.stride == 0, ty / g.stride < oh else { continue }
                            for kx in 0..<k {
                                let tx = ix + g.padding - kx
                                guard tx >= 0, tx % g.stride == 0, tx / g.stride < ow else { continue }
                                let row = (n * oh + ty / g.stride) * ow + tx / g.stride
                                sum += Double(columns[row * g.patchSize + (ky * k + kx) * c + ch])
                            }
                        }
                        x[((n * g.height + iy) * g.width + ix) * c + ch] = T(sum)
                    }
                }
            }
        }
    }

    // MARK: - Batch normalisation

    /// Per group and column: the mean and the biased variance (two passes, in Double).
    public static func batchNormStatistics<T: BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int, groups: Int
    ) -> (mean: [T], variance: [T]) {
        let per = rows / groups
        var mean = [T](repeating: 0, count: groups * columns), variance = mean
        for g in 0..<groups {
            for c in 0..<columns {
                var sum = 0.0
                for r in (g * per)..<((g + 1) * per) { sum += Double(x[r * columns + c]) }
                let mu = per > 0 ? sum / Double(per) : 0
                var squares = 0.0
                for r in (g * per)..<((g + 1) * per) {
                    let d = Double(x[r * columns + c]) - mu
                    squares += d * d
                }
                mean[g * columns + c] = T(mu)
                variance[g * columns + c] = T(per > 0 ? squares / Double(per) : 0)
            }
        }
        return (mean, variance)
    }

    /// PyTorch's running-average update from one group's statistics over `rows` rows:
    /// the variance enters unbiased (× rows/(rows − 1), unless rows is 1).
    public static func updateRunning<T: BinaryFloatingPoint>(
        _ runningMean: inout T, _ runningVariance: inout T, mean: T, variance: T, rows: Int, momentum: T
    ) {
        let unbiased = rows > 1 ? variance * T(rows) / T(rows - 1) : variance
        runningMean = (1 - momentum) * runningMean + momentum * mean
        runningVariance = (1 - momentum) * runningVariance + momentum * unbiased
    }

    /// 1/√(variance + epsilon), as every backend computes it.
    @inline(__always)
    public static func inverseDeviation<T: Real & BinaryFloatingPoint>(variance: T, epsilon: T) -> T {
        1 / (variance + epsilon).squareRoot()
    }

    /// y = f(γ·(x − mean)·s + β) per row and column, statistics of the row's group.
    public static func batchNormForward<T: Real & BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int, groups: Int, mean: UnsafeBufferPointer<T>,
        variance: UnsafeBufferPointer<T>, epsilon: T, gamma: UnsafeBufferPointer<T>, beta: UnsafeBufferPointer<T>,
        activation: Activation, into y: UnsafeMutableBufferPointer<T>
    ) {
        let per = max(rows / groups, 1)
        for r in 0..<rows {
            let g = r / per
            for c in 0..<columns {
                let s = inverseDeviation(variance: variance[g * columns + c], epsilon: epsilon)
                let normalized = (x[r * columns + c] - mean[g * columns + c]) * s
                y[r * columns + c] = activate(activation, gamma[c] * normalized + beta[c])
            }
        }
    }

    // MARK: - Layer normalisation

    /// Per row: the mean and the biased variance of its columns (two passes, in Double),
    /// and y = f(γ·(x − mean)·s + β) (see `ComputeBackend.layerNormForward`).
    public static func layerNormForward<T: Real & BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int, epsilon: T, gamma: UnsafeBufferPointer<T>,
        beta: UnsafeBufferPointer<T>, activation: Activation, mean: UnsafeMutableBufferPointer<T>,
        variance: UnsafeMutableBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>
    ) {
        for r in 0..<rows {
            let row = (r * columns)..<((r + 1) * columns)
            let mu = columns > 0 ? row.reduce(0.0) { $0 + Double(x[$1]) } / Double(columns) : 0
            let squares = row.reduce(0.0) { let d = Double(x[$1]) - mu; return $0 + d * d }
            let m = T(mu), v = T(columns > 0 ? squares / Double(columns) : 0)
            let s = inverseDeviation(variance: v, epsilon: epsilon)
            for i in row { y[i] = activate(activation, gamma[i - row.lowerBound] * ((x[i] - m) * s) + beta[i - row.lowerBound]) }
            mean[r] = m
            variance[r] = v
        }
    }

    /// The backward of `layerNormForward` (see `ComputeBackend.layerNormBackward`); sums
    /// in Double.
    public static func layerNormBackward<T: Real & BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, outputGradient dz: UnsafeBufferPointer<T>, rows: Int, columns: Int,
        mean: UnsafeBufferPointer<T>, variance: UnsafeBufferPointer<T>, epsilon: T, gamma: UnsafeBufferPointer<T>,
        gammaGradient: UnsafeMutableBufferPointer<T>, betaGradient: UnsafeMutableBufferPointer<T>,
        inputGradient dx: UnsafeMutableBufferPointer<T>, below: Activation
    ) {
        var sumBeta = [Double](repeating: 0, count: columns), sumGamma = sumBeta
        for r in 0..<rows {
            let s = inverseDeviation(variance: variance[r], epsilon: epsilon), mu = mean[r]
            var sumG = 0.0, sumGXhat = 0.0
            for c in 0..<columns {
                let i = r * columns + c
                let xhat = (x[i] - mu) * s
                sumBeta[c] += Double(dz[i])
                sumGamma[c] += Double(dz[i]) * Double(xhat)
                sumG += Double(dz[i] * gamma[c])
                sumGXhat += Double(dz[i] * gamma[c]) * Double(xhat)
            }
            let n = T(columns), a = T(sumG), b = T(sumGXhat)
            for c in 0..<columns {
                let i = r * columns + c
                let xhat = (x[i] - mu) * s
                dx[i] = derivative(below, output: x[i]) * (s / n * (n * (dz[i] * gamma[c]) - a - xhat * b))
            }
        }
        for c in 0..<columns {
            betaGradient[c] = T(sumBeta[c])
            gammaGradient[c] = T(sumGamma[c])
        }
    }

    /// The training-mode backward (see `ComputeBackend.batchNormBackward`); sums in Double.
    public static func batchNormBackward<T: Real & BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, outputGradient dz: UnsafeBufferPointer<T>, rows: Int, columns: Int, groups: Int,
        mean: UnsafeBufferPointer<T>, variance: UnsafeBufferPointer<T>, epsilon: T, gamma: UnsafeBufferPointer<T>,
        gammaGradient: UnsafeMutableBufferPointer<T>, betaGradient: UnsafeMutableBufferPointer<T>,
        inputGradient dx: UnsafeMutableBufferPointer<T>, below: Activation
    ) {
        let per = rows / groups
        for c in 0..<columns {
            var totalBeta = 0.0, totalGamma = 0.0
            for g in 0..<groups {
                let s = inverseDeviation(variance: variance[g * columns + c], epsilon: epsilon)
                let mu = mean[g * columns + c]
                var sumDz = 0.0, sumDzXhat = 0.0
                for r in (g * per)..<((g + 1) * per) {
                    let i = r * columns + c
                    sumDz += Double(dz[i])
                    sumDzXhat += Double(dz[i]) * Double((x[i] - mu) * s)
                }
                totalBeta += sumDz
                totalGamma += sumDzXhat
                let n = T(per), a = T(sumDz), b = T(sumDzXhat)
                for r in (g * per)..<((g + 1) * per) {
                    let i = r * columns + c
                    let xhat = (x[i] - mu) * s
                    dx[i] = derivative(below, output: x[i]) * (gamma[c] * s / n * (n * dz[i] - a - xhat * b))
                }
            }
            betaGradient[c] = T(totalBeta)
            gammaGradient[c] = T(totalGamma)
        }
    }
}
