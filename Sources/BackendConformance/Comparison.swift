import CPUBackend
import ComputeBackend

/// The outcome of one trial: the worst element's error against the CPU reference.
public struct TrialResult: Sendable {
    public let trial: Trial
    /// Largest relative error; for bit-exact trials, the number of elements that differ.
    public let maxError: Double
    public let passed: Bool
    /// Where the worst element is and what both sides gave, for a failed trial.
    public let detail: String

    public var toleranceText: String {
        switch trial.comparison {
        case .bitExact: "bit-exact"
        case .relative(let tolerance): "\(tolerance)"
        }
    }
}

enum TrialComparer {
    /// Compares `outputs` with `reference` as the trial asks.
    static func compare(_ trial: Trial, outputs: [[Float]], reference: [[Float]]) -> TrialResult {
        switch trial.comparison {
        case .bitExact:
            var mismatches = 0
            var detail = ""
            for (o, (x, r)) in zip(outputs, reference).enumerated() {
                for i in r.indices where x[i].bitPattern != r[i].bitPattern {
                    if mismatches == 0 { detail = "output \(o)[\(i)]: \(x[i]) vs reference \(r[i])" }
                    mismatches += 1
                }
            }
            return TrialResult(trial: trial, maxError: Double(mismatches), passed: mismatches == 0, detail: detail)
        case .relative(let tolerance):
            let scales = Magnitudes.of(trial, reference: reference)
            var worst = 0.0
            var detail = ""
            var passed = true
            for (o, (x, r)) in zip(outputs, reference).enumerated() {
                for i in r.indices {
                    let error = abs(Double(x[i]) - Double(r[i])) / max(abs(Double(r[i])), scales[o][i], 1e-30)
                    let bothNaN = x[i].isNaN && r[i].isNaN
                    if bothNaN { continue }
                    // NaN compares false: an unwritten (poisoned) output fails here.
                    if !(error <= tolerance) { passed = false }
                    if !(error <= worst) {
                        worst = error.isNaN ? .infinity : error
                        detail = "output \(o)[\(i)]: \(x[i]) vs reference \(r[i])"
                    }
                }
            }
            return TrialResult(trial: trial, maxError: worst, passed: passed, detail: detail)
        }
    }
}

/// The magnitude of the terms that make up each output element. Rounding error is
/// relative to these, not to the result, which can be near zero after cancellation
/// (a dot product, or p − update in Adam); dividing by them measures how far an output
/// is from the reference in units of its own arithmetic.
enum Magnitudes {
    /// |alpha|·|op(A)|·|op(B)| + |beta|·|C|, via the reference GEMM on magnitudes.
    static func gemm(
        _ input: [[Float]], _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ beta: Float
    ) -> [Double] {
        let a = input[0].map(abs), b = input[1].map(abs)
        var c = beta == 0 ? [Float](repeating: 0, count: m * n) : input[2].map(abs)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    CPUReference.gemm(
                        transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: abs(alpha), a: ap, b: bp,
                        beta: abs(beta), c: cp)
                }
            }
        }
        return c.map { Double($0) }
    }

    /// The column sums' scales: Σ_p |op(B)[p, j]| for an op(B) of k×n.
    static func columnSums(_ b: [Float], _ tb: Bool, _ n: Int, _ k: Int) -> [Double] {
        (0..<n).map { j in (0..<k).reduce(0.0) { $0 + Double(abs(tb ? b[j * k + $1] : b[$1 * n + j])) } }
    }

    static func of(_ trial: Trial, reference: [[Float]]) -> [[Double]] {
        let input = trial.inputs
        let absolute = { (values: [Float]) in values.map { Double(abs($0)) } }
        switch trial.call {
        case .gemm(let ta, let tb, let m, let n, let k, let alpha, let beta):
            return [gemm(input, ta, tb, m, n, k, alpha, beta)]
        case .gemmEpilogue(let ta, let tb, let m, let n, let k, let alpha, let beta, let bias, let activation):
            // Every activation's slope is at most 1, so an error in the sum passes through
            // f at most as large: the scale before f (with the bias) bounds the one after.
            // The gradient form scales the sum's magnitude by |f'(y)|.
            let sums = gemm(input, ta, tb, m, n, k, alpha, beta)
            let extra = input[3]
            return [sums.indices.map { i in
                bias ? sums[i] + Double(abs(extra[i % n]))
                     : sums[i] * Double(abs(CPUReference.derivative(activation, output: extra[i])))
            }]
        case .gemmAdam(let ta, let tb, let m, let n, let k, let alpha, let beta, let hyper, _, let keep):
            // The gradients' scales are the GEMM's and the column sums'; Adam's outputs
            // scale as in the adam trials, with those in place of |g|.
            let gScale = gemm(input, ta, tb, m, n, k, alpha, beta)
            let sumScale = columnSums(input[1], tb, n, k)
            func stepped(_ p: [Float], _ mo: [Float], _ v: [Float], _ scale: [Double], _ out: [Float]) -> [[Double]] {
                let b1 = Double(hyper.beta1), b2 = Double(hyper.beta2)
                return [
                    p.indices.map { Double(abs(p[$0])) + Double(abs(p[$0] - out[$0])) },
                    mo.indices.map { b1 * Double(abs(mo[$0])) + (1 - b1) * scale[$0] },
                    v.indices.map { b2 * Double(abs(v[$0])) + (1 - b2) * scale[$0] * scale[$0] },
                ]
            }
            return stepped(input[3], input[4], input[5], gScale, reference[0])
                + stepped(input[6], input[7], input[8], sumScale, reference[3])
                + (keep ? [gScale, sumScale] : [])
        case .gemmColumnSums(let ta, let tb, let m, let n, let k, let alpha, let beta):
            return [gemm(input, ta, tb, m, n, k, alpha, beta), columnSums(input[1], tb, n, k)]
        case .transpose:
            return reference.map(absolute)
        case .addBias(let rows, let columns):
            return [(0..<(rows * columns)).map { Double(abs(input[0][$0])) + Double(abs(input[1][$0 % columns])) }]
        case .sumColumns(let rows, let columns, let accumulate):
            return [(0..<columns).map { c in
                (0..<rows).reduce(accumulate ? Double(abs(input[1][c])) : 0) { $0 + Double(abs(input[0][$1 * columns + c])) }
            }]
        case .sumRows(let rows, let columns):
            return [(0..<rows).map { r in (0..<columns).reduce(0.0) { $0 + Double(abs(input[0][r * columns + $1])) } }]
        case .mean:
            return [[input[0].reduce(0.0) { $0 + Double(abs($1)) } / Double(max(input[0].count, 1))]]
        case .objective(let objective, let gradientScale):
            // Cross-entropy and hinge subtract terms of the size of |x| and of the
            // target; the others are as large as their result.
            let logits = input[0]
            let losses = reference[0].indices.map { i -> Double in
                switch objective {
                case .crossEntropy, .hinge: Double(abs(reference[0][i])) + Double(abs(logits[i])) + 1
                default: Double(abs(reference[0][i]))
                }
            }
            let gradients = reference[1].indices.map { i -> Double in
                switch objective {
                case .crossEntropy(let t): (1 + Double(t)) * Double(abs(gradientScale))
                default: Double(abs(reference[1][i]))
                }
            }
            return [losses, gradients]
        case .softmaxCrossEntropy(let rows, let classes, let gradientScale):
            // The loss subtracts a logit from the log-sum-exp; a gradient subtracts 1
            // from a probability.
            let logits = input[0]
            let losses = (0..<rows).map { r in
                Double(abs(reference[0][r])) + (0..<classes).map { Double(abs(logits[r * classes + $0])) }.max()! + 1
            }
            return [losses, reference[1].map { _ in 2 * Double(abs(gradientScale)) }]
        case .adam(let hyper, _):
            let (p, g, m, v) = (input[0], input[1], input[2], input[3])
            return [
                p.indices.map { Double(abs(p[$0])) + Double(abs(p[$0] - reference[0][$0])) },
                m.indices.map { Double(abs(hyper.beta1 * m[$0])) + Double(abs((1 - hyper.beta1) * g[$0])) },
                v.indices.map { Double(abs(hyper.beta2 * v[$0])) + Double(abs((1 - hyper.beta2) * g[$0] * g[$0])) },
            ]
        case .sgd(let learningRate, let momentum):
            let (p, g, velocity) = (input[0], input[1], input[2])
            return [
                p.indices.map { Double(abs(p[$0])) + Double(abs(learningRate * reference[1][$0])) },
                velocity.indices.map { Double(abs(momentum * velocity[$0])) + Double(abs(g[$0])) },
            ]
        case .rmsprop(let hyper):
            let (p, g, s) = (input[0], input[1], input[2])
            return [
                p.indices.map { Double(abs(p[$0])) + Double(abs(p[$0] - reference[0][$0])) },
                s.indices.map { Double(abs(hyper.decay * s[$0])) + Double(abs((1 - hyper.decay) * g[$0] * g[$0])) },
            ]
        case .normalize:
            // Each element is itself over the norm; the norm sums squares.
            return [reference[0].map { Double(abs($0)) }, [Double(abs(reference[1][0]))]]
        case .divide:
            return reference.map(absolute)
        case .spectralNormGradient(let rows, let columns):
            // ⟨G, W_sn⟩ sums |G|·|W_sn| terms; each output subtracts c·v·u from G.
            let (g, w, v, u, sigma) = (input[0], input[1], input[2], input[3], input[4][0])
            let c = zip(g, w).reduce(0.0) { $0 + Double(abs($1.0 * $1.1)) }
            return [(0..<(rows * columns)).map { i in
                (Double(abs(g[i])) + c * Double(abs(v[i / columns] * u[i % columns]))) / Double(abs(sigma))
            }]
        case .interpolateRows(_, let columns):
            let (real, fake, epsilon) = (input[0], input[1], input[2])
            return [real.indices.map { i in
                Double(abs(fake[i])) + Double(abs(epsilon[i / columns])) * (Double(abs(real[i])) + Double(abs(fake[i])))
            }]
        case .gradientPenalty(let rows, let columns, let weight, let scale):
            // The norm is as large as itself; the loss and the directions subtract 1 from
            // it, so their scale is that of (‖g‖ + 1) rather than of the difference.
            let g = input[0]
            let norms = reference[0].map { Double(abs($0)) }
            let losses = norms.map { Double(abs(weight)) * ($0 + 1) * ($0 + 1) }
            let directions = (0..<(rows * columns)).map { i -> Double in
                let norm = norms[i / columns]
                return norm > 0 ? 2 * Double(abs(scale * weight)) * (norm + 1) * Double(abs(g[i])) / norm : 0
            }
            return [norms, losses, directions]
        case .objectiveHalves(let first, let second, let split, let gradientScale):
            let logits = input[0]
            return [
                reference[0].indices.map { Double(abs(reference[0][$0])) + Double(abs(logits[$0])) + 1 },
                reference[1].indices.map { i in
                    let objective = i < split ? first : second
                    return (1 + Double(abs(objective.parameter))) * Double(abs(gradientScale))
                },
            ]
        case .im2col:
            return reference.map(absolute)
        case .convolutionImplicit(let g, let n, let activation):
            // The GEMM's scales on the patches' magnitudes (im2col of |x|), with |bias|.
            var columns = [Float](repeating: 0, count: g.positions * g.patchSize)
            input[0].map(abs).withUnsafeBufferPointer { x in
                columns.withUnsafeMutableBufferPointer { CPUReference.im2col(x, geometry: g, into: $0) }
            }
            let sums = gemm([columns, input[1]], false, false, g.positions, n, g.patchSize, 1, 0)
            guard activation != nil else { return [sums] }
            return [sums.indices.map { sums[$0] + Double(abs(input[2][$0 % n])) }]
        case .col2im(let geometry):
            // Each element sums |entries|: col2im of the magnitudes.
            var sums = [Double](repeating: 0, count: geometry.imageElements)
            input[0].map { Double(abs($0)) }.withUnsafeBufferPointer { columns in
                sums.withUnsafeMutableBufferPointer { CPUReference.col2im(columns, geometry: geometry, into: $0) }
            }
            return [sums]
        case .batchNormStatistics(let rows, let columns, let groups, let momentum):
            // The mean scales as the mean of |x|; the variance as the mean of (|x| + |mean|)².
            let x = input[0], per = max(rows / groups, 1)
            var meanScale = [Double](repeating: 0, count: groups * columns), varianceScale = meanScale
            for g in 0..<groups {
                for c in 0..<columns {
                    let mu = Double(abs(reference[0][g * columns + c]))
                    for r in (g * per)..<min((g + 1) * per, rows) {
                        let v = Double(abs(x[r * columns + c]))
                        meanScale[g * columns + c] += v / Double(per)
                        varianceScale[g * columns + c] += (v + mu) * (v + mu) / Double(per)
                    }
                }
            }
            guard let momentum else { return [meanScale, varianceScale] }
            let m = Double(momentum), unbias = rows > 1 ? Double(rows) / Double(rows - 1) : 1
            return [meanScale, varianceScale,
                    (0..<columns).map { (1 - m) * Double(abs(input[1][$0])) + m * meanScale[$0] },
                    (0..<columns).map { (1 - m) * Double(abs(input[2][$0])) + m * unbias * varianceScale[$0] }]
        case .batchNormForward(let rows, let columns, let groups, let epsilon, _):
            // |γ|·(|x| + |mean|)·s + |β|, the scale before f (whose slope is at most 1).
            let (x, mean, variance, gamma, beta) = (input[0], input[1], input[2], input[3], input[4])
            let per = max(rows / groups, 1)
            return [(0..<(rows * columns)).map { i in
                let c = i % columns, g = i / columns / per
                let s = 1 / (Double(variance[g * columns + c]) + Double(epsilon)).squareRoot()
                return Double(abs(gamma[c])) * (Double(abs(x[i])) + Double(abs(mean[g * columns + c]))) * s + Double(abs(beta[c]))
            }]
        case .layerNormForward(let rows, let columns, let epsilon, _):
            // Per row the mean of |x| and of (|x| + |mean|)²; y as |γ|·(|x| + |mean|)·s + |β|.
            let (x, gamma, beta) = (input[0], input[1], input[2])
            let mean = reference[0], variance = reference[1]
            var meanScale = [Double](repeating: 0, count: rows), varianceScale = meanScale
            for r in 0..<rows {
                let mu = Double(abs(mean[r]))
                for c in 0..<columns {
                    let v = Double(abs(x[r * columns + c]))
                    meanScale[r] += v / Double(columns)
                    varianceScale[r] += (v + mu) * (v + mu) / Double(columns)
                }
            }
            return [meanScale, varianceScale, (0..<(rows * columns)).map { i in
                let r = i / columns, c = i % columns
                let s = 1 / (Double(variance[r]) + Double(epsilon)).squareRoot()
                return Double(abs(gamma[c])) * (Double(abs(x[i])) + Double(abs(mean[r]))) * s + Double(abs(beta[c]))
            }]
        case .layerNormBackward(let rows, let columns, let epsilon, let below):
            // Column sums of |dz| and |dz·x̂|; dx as |f'|·s/N·(N·|g| + Σ|g| + |x̂|·Σ|g·x̂|), g = dz·γ.
            let (x, dz, mean, variance, gamma) = (input[0], input[1], input[2], input[3], input[4])
            func s(_ r: Int) -> Double { 1 / (Double(variance[r]) + Double(epsilon)).squareRoot() }
            func xhat(_ i: Int) -> Double { abs(Double(x[i]) - Double(mean[i / columns])) * s(i / columns) }
            var sumDz = [Double](repeating: 0, count: columns), sumDzXhat = sumDz
            var sumG = [Double](repeating: 0, count: rows), sumGXhat = sumG
            for i in 0..<(rows * columns) {
                let r = i / columns, c = i % columns
                let g = Double(abs(dz[i] * gamma[c]))
                sumDz[c] += Double(abs(dz[i]))
                sumDzXhat[c] += Double(abs(dz[i])) * xhat(i)
                sumG[r] += g
                sumGXhat[r] += g * xhat(i)
            }
            let n = Double(columns)
            return [sumDzXhat, sumDz, (0..<(rows * columns)).map { i in
                let r = i / columns, c = i % columns
                return Double(abs(CPUReference.derivative(below, output: x[i]))) * s(r) / n
                    * (n * Double(abs(dz[i] * gamma[c])) + sumG[r] + xhat(i) * sumGXhat[r])
            }]
        case .batchNormBackward(let rows, let columns, let groups, let epsilon, let below):
            // The sums of |dz| and |dz·x̂|; dx as |f'|·|γ|·s/N·(N·|dz| + Σ|dz| + |x̂|·Σ|dz·x̂|).
            let (x, dz, mean, variance, gamma) = (input[0], input[1], input[2], input[3], input[4])
            let per = max(rows / groups, 1)
            var sumDz = [Double](repeating: 0, count: groups * columns), sumDzXhat = sumDz
            func xhat(_ i: Int) -> Double {
                let c = i % columns, g = i / columns / per
                let s = 1 / (Double(variance[g * columns + c]) + Double(epsilon)).squareRoot()
                return abs(Double(x[i]) - Double(mean[g * columns + c])) * s
            }
            for i in 0..<(rows * columns) {
                let j = (i / columns / per) * columns + i % columns
                sumDz[j] += Double(abs(dz[i]))
                sumDzXhat[j] += Double(abs(dz[i])) * xhat(i)
            }
            let totals = (0..<columns).map { c in (0..<groups).reduce((0.0, 0.0)) { ($0.0 + sumDzXhat[$1 * columns + c], $0.1 + sumDz[$1 * columns + c]) } }
            return [totals.map { $0.0 }, totals.map { $0.1 }, (0..<(rows * columns)).map { i in
                let c = i % columns, g = i / columns / per, j = g * columns + c
                let s = 1 / (Double(variance[j]) + Double(epsilon)).squareRoot()
                let n = Double(per)
                return Double(abs(CPUReference.derivative(below, output: x[i]))) * Double(abs(gamma[c])) * s / n
                    * (n * Double(abs(dz[i])) + sumDz[j] + xhat(i) * sumDzXhat[j])
            }]
        case .pack, .appendChannel, .appendChannels, .multiply:
            return reference.map(absolute)
        case .spanActivation:
            // tanh and probabilities: each at most 1.
            return [reference[0].map { _ in 1 }]
        case .spanActivationBackward(let rows, let columns, let spanCount, let temperature):
            // tanh: |dy|·(1 + y²); softmax: |y_i|·(|dy_i| + Σ_j |y_j·dy_j|)/τ.
            let (y, dy) = (input[0], input[1])
            let spans = input[2].withUnsafeBufferPointer { CPUReference.spans($0, count: spanCount, columns: columns) }
            var scale = [Double](repeating: 0, count: rows * columns)
            for r in 0..<rows {
                for span in spans {
                    let range = (r * columns + span.start)..<(r * columns + span.start + span.count)
                    if !span.softmax {
                        for i in range { scale[i] = Double(abs(dy[i])) * (1 + Double(y[i] * y[i])) }
                        continue
                    }
                    let total = range.reduce(0.0) { $0 + Double(abs(y[$1] * dy[$1])) }
                    for i in range { scale[i] = Double(abs(y[i])) * (Double(abs(dy[i])) + total) / Double(temperature) }
                }
            }
            return [scale]
        case .minibatchStdValue(let groups, let columns, let epsilon):
            return [(0..<groups).map { g in
                (0..<columns).reduce(0.0) { $0 + (Double(input[0][g * columns + $1]) + Double(epsilon)).squareRoot() } / Double(columns)
            }]
        case .minibatchStdBackward(let rows, let spatial, let channels, let groups, let epsilon, let below):
            // t_g as the sum of |dy| over the extra channel; dx as |f'|·(|dy| + |t|/E·(|x| + |mean|)/(N·s)).
            let (x, dy, mean, variance) = (input[0], input[1], input[2], input[3])
            let per = max(rows / groups, 1), e = spatial * channels
            var totals = [Double](repeating: 0, count: groups)
            for r in 0..<rows {
                for s in 0..<spatial { totals[r / per] += Double(abs(dy[(r * spatial + s) * (channels + 1) + channels])) }
            }
            return [totals, (0..<(rows * e)).map { i in
                let r = i / e, g = r / per, k = g * e + i % e, position = i / channels, c = i % channels
                let deviation = (Double(variance[k]) + Double(epsilon)).squareRoot()
                let spread = totals[g] / Double(e) * (Double(abs(x[i])) + Double(abs(mean[k]))) / (Double(per) * deviation)
                return Double(abs(CPUReference.derivative(below, output: x[i])))
                    * (Double(abs(dy[position * (channels + 1) + c])) + spread)
            }]
        case .addScaled(let scale):
            let factor = Double(abs(scale))
            return [zip(input[0], input[1]).map { (x: Float, y: Float) -> Double in Double(abs(x)) + factor * Double(abs(y)) }]
        case .movingAverage(let decay):
            // a + (1 − decay)·(v − a): the scale of |a| + (1 − decay)·(|v| + |a|).
            let rate = Double(1 - decay)
            return [zip(input[0], input[1]).map { (a: Float, v: Float) -> Double in
                let magnitudeA = Double(abs(a)), magnitudeV = Double(abs(v))
                return magnitudeA + rate * (magnitudeV + magnitudeA)
            }]
        case .dropout, .scale, .clamp, .activationForward, .activationBackward, .uniform, .normal, .gumbel, .copy, .copyRange, .fill:
            return reference.map(absolute)
        }
    }
}
