import ComputeBackend

/// A float32 array in host memory.
public final class CPUBuffer: BackendBuffer {
    public let count: Int
    let storage: UnsafeMutableBufferPointer<Float>

    init(count: Int) {
        self.count = count
        storage = .allocate(capacity: count)
    }

    deinit { storage.deallocate() }

    var readOnly: UnsafeBufferPointer<Float> { UnsafeBufferPointer(storage) }

    /// The first `count` elements.
    func prefix(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: storage[0..<count])
    }
}

/// The plain-Swift backend: every operation runs at once on the calling thread, so there
/// is no queue to wait for. Every operation is `CPUReference` in float32, except GEMM,
/// which by default is `BlockedGEMM` (vectorised, on both cores; tested against the
/// reference) and with `referenceGEMM` the plain loop, as the conformance checks use.
public final class CPUBackend: ComputeBackend {
    public typealias Buffer = CPUBuffer

    public let name: String
    public private(set) var statistics = BackendStatistics()
    /// GEMM is `CPUReference.gemm`, not `BlockedGEMM`.
    public let referenceGEMM: Bool

    /// BlockedGEMM's copy of a transposed B, kept between calls.
    private var gemmScratch = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    public init(referenceGEMM: Bool = false) {
        self.referenceGEMM = referenceGEMM
        name = referenceGEMM ? "cpu (reference)" : "cpu"
    }

    deinit { gemmScratch.deallocate() }

    // MARK: Memory

    public func makeBuffer(count: Int) throws -> CPUBuffer {
        try ArgumentChecks.size(count, "buffer size")
        statistics.buffersAllocated += 1
        return CPUBuffer(count: count)
    }

    public func write(_ values: [Float], to buffer: CPUBuffer, offset: Int) throws {
        try ArgumentChecks.range(buffer, offset: offset, count: values.count, "the buffer")
        statistics.writes += 1
        for (i, value) in values.enumerated() { buffer.storage[offset + i] = value }
    }

    public func read(_ buffer: CPUBuffer, offset: Int, count: Int) throws -> [Float] {
        try ArgumentChecks.range(buffer, offset: offset, count: count, "the buffer")
        statistics.reads += 1
        return Array(buffer.storage[offset..<(offset + count)])
    }

    public func copy(_ source: CPUBuffer, to destination: CPUBuffer, count: Int) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(source, holds: count, "source")
        try ArgumentChecks.buffer(destination, holds: count, "destination")
        for i in 0..<count { destination.storage[i] = source.storage[i] }
    }

    public func copy(
        _ source: CPUBuffer, offset sourceOffset: Int, to destination: CPUBuffer, offset destinationOffset: Int, count: Int
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.copyRange(source, offset: sourceOffset, to: destination, offset: destinationOffset, count: count)
        for i in 0..<count { destination.storage[destinationOffset + i] = source.storage[sourceOffset + i] }
    }

    public func fill(_ buffer: CPUBuffer, with value: Float, count: Int) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(buffer, holds: count, "the buffer")
        for i in 0..<count { buffer.storage[i] = value }
    }

    public func finish() throws {}

    // MARK: Linear algebra

    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: CPUBuffer, b: CPUBuffer, beta: Float, c: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.gemm(m: m, n: n, k: k, a: a, b: b, c: c)
        if referenceGEMM {
            CPUReference.gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                alpha: alpha, a: a.readOnly, b: b.readOnly, beta: beta, c: c.storage)
        } else {
            BlockedGEMM.gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                alpha: alpha, a: a.readOnly, b: b.readOnly, beta: beta, c: c.storage, scratch: &gemmScratch)
        }
    }

    public func transpose(_ x: CPUBuffer, rows: Int, columns: Int, into out: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.transpose(x, rows: rows, columns: columns, out: out)
        CPUReference.transpose(x.readOnly, rows: rows, columns: columns, into: out.storage)
    }

    public func addBias(_ x: CPUBuffer, rows: Int, columns: Int, bias: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.matrix(x, rows: rows, columns: columns, vector: bias, vectorLength: columns, "bias")
        CPUReference.addBias(x.storage, rows: rows, columns: columns, bias: bias.readOnly)
    }

    public func sumColumns(_ x: CPUBuffer, rows: Int, columns: Int, into out: CPUBuffer, accumulate: Bool) throws {
        statistics.operations += 1
        try ArgumentChecks.matrix(x, rows: rows, columns: columns, vector: out, vectorLength: columns, "out")
        CPUReference.sumColumns(x.readOnly, rows: rows, columns: columns, into: out.storage, accumulate: accumulate)
    }

    public func sumRows(_ x: CPUBuffer, rows: Int, columns: Int, into out: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.matrix(x, rows: rows, columns: columns, vector: out, vectorLength: rows, "out")
        CPUReference.sumRows(x.readOnly, rows: rows, columns: columns, into: out.storage)
    }

    public func mean(_ x: CPUBuffer, count: Int, into out: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        try ArgumentChecks.buffer(out, holds: 1, "out")
        out.storage[0] = CPUReference.mean(UnsafeBufferPointer(x.prefix(count)))
    }

    // MARK: Elementwise

    public func scale(_ x: CPUBuffer, count: Int, by factor: Float) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        for i in 0..<count { x.storage[i] *= factor }
    }

    public func minibatchStdValue(_ variance: CPUBuffer, groups: Int, columns: Int, epsilon: Float, into value: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.minibatchStdValue(variance: variance, groups: groups, columns: columns, value: value)
        let values = CPUReference.minibatchStdValue(variance.readOnly, groups: groups, columns: columns, epsilon: epsilon)
        for g in 0..<groups { value.storage[g] = values[g] }
    }

    public func appendChannel(
        _ x: CPUBuffer, rows: Int, spatial: Int, channels: Int, groups: Int, value: CPUBuffer, into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.minibatchStd(
            rows: rows, spatial: spatial, channels: channels, groups: groups, perGroup: [value], statistics: [], inputs: [x],
            outputs: [y])
        let per = rows / groups
        for r in 0..<rows {
            for s in 0..<spatial {
                for c in 0...channels {
                    y.storage[(r * spatial + s) * (channels + 1) + c] =
                        c < channels ? x.storage[(r * spatial + s) * channels + c] : value.storage[r / per]
                }
            }
        }
    }

    public func minibatchStdBackward(
        _ x: CPUBuffer, outputGradient dy: CPUBuffer, rows: Int, spatial: Int, channels: Int, groups: Int, mean: CPUBuffer,
        variance: CPUBuffer, epsilon: Float, totals: CPUBuffer, inputGradient dx: CPUBuffer, below: Activation
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.minibatchStdBackward(
            x: x, dy: dy, rows: rows, spatial: spatial, channels: channels, groups: groups, mean: mean, variance: variance,
            totals: totals, dx: dx, below: below)
        CPUReference.minibatchStdBackward(
            x.readOnly, outputGradient: dy.readOnly, rows: rows, spatial: spatial, channels: channels, groups: groups,
            mean: mean.readOnly, variance: variance.readOnly, epsilon: epsilon, totals: totals.storage,
            inputGradient: dx.storage, below: below)
    }

    public func pack(
        _ x: CPUBuffer, examples: Int, group m: Int, spatial: Int, channels: Int, inverse: Bool, into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.pack(x: x, examples: examples, group: m, spatial: spatial, channels: channels, y: y)
        for i in 0..<(examples * spatial * channels) {
            let j = CPUReference.packedIndex(i, group: m, spatial: spatial, channels: channels)
            if inverse { y.storage[i] = x.storage[j] } else { y.storage[j] = x.storage[i] }
        }
    }

    public func spanActivation(
        _ x: CPUBuffer, rows: Int, columns: Int, spans: CPUBuffer, spanCount: Int, temperature: Float, into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.spanActivation(x: x, rows: rows, columns: columns, spans: spans, spanCount: spanCount, temperature: temperature, y: y)
        let table = CPUReference.spans(spans.readOnly, count: spanCount, columns: columns)
        for r in 0..<rows {
            CPUReference.spanActivation(
                UnsafeBufferPointer(rebasing: x.readOnly[(r * columns)..<((r + 1) * columns)]), spans: table,
                temperature: temperature, into: UnsafeMutableBufferPointer(rebasing: y.storage[(r * columns)..<((r + 1) * columns)]))
        }
    }

    public func spanActivationBackward(
        _ y: CPUBuffer, outputGradient dy: CPUBuffer, rows: Int, columns: Int, spans: CPUBuffer, spanCount: Int,
        temperature: Float, into dx: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.spanActivation(
            x: y, rows: rows, columns: columns, spans: spans, spanCount: spanCount, temperature: temperature, y: dx, extra: dy)
        let table = CPUReference.spans(spans.readOnly, count: spanCount, columns: columns)
        for r in 0..<rows {
            let range = (r * columns)..<((r + 1) * columns)
            CPUReference.spanActivationBackward(
                UnsafeBufferPointer(rebasing: y.readOnly[range]), dy: UnsafeBufferPointer(rebasing: dy.readOnly[range]),
                spans: table, temperature: temperature, into: UnsafeMutableBufferPointer(rebasing: dx.storage[range]))
        }
    }

    public func multiply(
        _ x: CPUBuffer, rows: Int, columns: Int, by factors: CPUBuffer, perRow: Bool, into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.multiply(x: x, rows: rows, columns: columns, factors: factors, perRow: perRow, y: y)
        for i in 0..<(rows * columns) { y.storage[i] = x.storage[i] * factors.storage[perRow ? i / columns : i] }
    }

    public func appendChannels(
        _ x: CPUBuffer, rows: Int, spatial: Int, channels: Int, values: CPUBuffer, extra: Int, inverse: Bool,
        into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.appendChannels(
            x: x, rows: rows, spatial: spatial, channels: channels, values: values, extra: extra, inverse: inverse, y: y)
        let wide = channels + extra
        for r in 0..<rows {
            for s in 0..<spatial {
                let narrow = (r * spatial + s) * channels, broad = (r * spatial + s) * wide
                if inverse {
                    for c in 0..<channels { y.storage[narrow + c] = x.storage[broad + c] }
                } else {
                    for c in 0..<channels { y.storage[broad + c] = x.storage[narrow + c] }
                    for c in 0..<extra { y.storage[broad + channels + c] = values.storage[r * extra + c] }
                }
            }
        }
    }

    public func addScaled(_ x: CPUBuffer, _ y: CPUBuffer, count: Int, scale: Float) throws {
        statistics.operations += 1
        try ArgumentChecks.addScaled(x: x, y: y, count: count)
        for i in 0..<count { x.storage[i] += scale * y.storage[i] }
    }

    public func movingAverage(_ average: CPUBuffer, toward value: CPUBuffer, count: Int, decay: Float) throws {
        statistics.operations += 1
        try ArgumentChecks.movingAverage(average: average, value: value, count: count, decay: decay)
        for i in 0..<count {
            average.storage[i] = CPUReference.movingAverage(average.storage[i], toward: value.storage[i], decay: decay)
        }
    }

    public func clamp(_ x: CPUBuffer, count: Int, lower: Float, upper: Float) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        try ArgumentChecks.clampBounds(lower: lower, upper: upper)
        for i in 0..<count { x.storage[i] = min(max(x.storage[i], lower), upper) }
    }

    public func activationForward(_ activation: Activation, x: CPUBuffer, y: CPUBuffer, count: Int) throws {
        statistics.operations += 1
        try activation.validate()
        try ArgumentChecks.buffers(["x": x, "y": y], hold: count)
        for i in 0..<count { y.storage[i] = CPUReference.activate(activation, x.storage[i]) }
    }

    public func activationBackward(
        _ activation: Activation, y: CPUBuffer, dy: CPUBuffer, dx: CPUBuffer, count: Int
    ) throws {
        statistics.operations += 1
        try activation.validate()
        try ArgumentChecks.buffers(["y": y, "dy": dy, "dx": dx], hold: count)
        for i in 0..<count {
            dx.storage[i] = dy.storage[i] * CPUReference.derivative(activation, output: y.storage[i])
        }
    }

    // MARK: Objectives

    public func objective(
        _ objective: LogitObjective, logits: CPUBuffer, offset: Int, count: Int,
        losses: CPUBuffer, gradients: CPUBuffer, gradientScale: Float
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.objectiveRange(
            objective, logits: logits, offset: offset, count: count, losses: losses, gradients: gradients)
        for i in offset..<(offset + count) {
            let (loss, gradient) = CPUReference.objective(objective, logits.storage[i])
            losses.storage[i] = loss
            gradients.storage[i] = gradient * gradientScale
        }
    }

    public func softmaxCrossEntropy(
        logits: CPUBuffer, labels: CPUBuffer, rows: Int, classes: Int,
        losses: CPUBuffer, gradients: CPUBuffer, gradientScale: Float
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.softmax(logits: logits, labels: labels, rows: rows, classes: classes, losses: losses, gradients: gradients)
        for r in 0..<rows {
            let row = UnsafeBufferPointer(rebasing: logits.readOnly[(r * classes)..<((r + 1) * classes)])
            let gradient = UnsafeMutableBufferPointer(rebasing: gradients.storage[(r * classes)..<((r + 1) * classes)])
            let label = labels.storage[r]
            let index = label >= 0 && label < Float(classes) ? Int(label) : -1
            losses.storage[r] = CPUReference.softmaxCrossEntropy(row, label: index, gradient: gradient)
            for c in 0..<classes { gradient[c] *= gradientScale }
        }
    }

    // MARK: Optimisers

    public func adamStep(
        parameters: CPUBuffer, gradients: CPUBuffer, m: CPUBuffer, v: CPUBuffer, count: Int,
        hyper: AdamHyperparameters, step: Int
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.adam(parameters: parameters, gradients: gradients, m: m, v: v, count: count, step: step)
        let (c1, c2) = hyper.biasCorrections(step: step)
        for i in 0..<count {
            (parameters.storage[i], m.storage[i], v.storage[i]) = CPUReference.adam(
                parameter: parameters.storage[i], gradient: gradients.storage[i],
                m: m.storage[i], v: v.storage[i], hyper: hyper, biasCorrection1: c1, biasCorrection2: c2)
        }
    }

    public func sgdStep(
        parameters: CPUBuffer, gradients: CPUBuffer, velocity: CPUBuffer, count: Int,
        learningRate: Float, momentum: Float
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.buffers(["parameters": parameters, "gradients": gradients, "velocity": velocity], hold: count)
        for i in 0..<count {
            let v = momentum * velocity.storage[i] + gradients.storage[i]
            velocity.storage[i] = v
            parameters.storage[i] -= learningRate * v
        }
    }

    public func rmspropStep(
        parameters: CPUBuffer, gradients: CPUBuffer, squareAverage: CPUBuffer, count: Int, hyper: RMSPropHyperparameters
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.buffers(["parameters": parameters, "gradients": gradients, "squareAverage": squareAverage], hold: count)
        try ArgumentChecks.rmsprop(hyper)
        for i in 0..<count {
            (parameters.storage[i], squareAverage.storage[i]) = CPUReference.rmsprop(
                parameter: parameters.storage[i], gradient: gradients.storage[i],
                squareAverage: squareAverage.storage[i], hyper: hyper)
        }
    }

    // MARK: Spectral normalisation

    public func normalize(_ x: CPUBuffer, count: Int, norm: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        try ArgumentChecks.buffer(norm, holds: 1, "norm")
        norm.storage[0] = CPUReference.normalize(x.prefix(count))
    }

    public func divide(_ x: CPUBuffer, count: Int, by divisor: CPUBuffer, into out: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.divide(x, count: count, divisor: divisor, out: out)
        for i in 0..<count { out.storage[i] = x.storage[i] / divisor.storage[0] }
    }

    public func spectralNormGradient(
        _ gradient: CPUBuffer, normalizedWeight: CPUBuffer, rows: Int, columns: Int, left v: CPUBuffer, right u: CPUBuffer,
        sigma: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.spectralNormGradient(
            gradient, normalizedWeight: normalizedWeight, rows: rows, columns: columns, v: v, u: u, sigma: sigma)
        CPUReference.spectralNormGradient(
            gradient.prefix(rows * columns), normalizedWeight: normalizedWeight.readOnly, v: UnsafeBufferPointer(v.prefix(rows)),
            u: UnsafeBufferPointer(u.prefix(columns)), sigma: sigma.storage[0])
    }

    // MARK: Layer normalisation

    public func layerNormForward(
        _ x: CPUBuffer, rows: Int, columns: Int, epsilon: Float, gamma: CPUBuffer, beta: CPUBuffer, activation: Activation,
        mean: CPUBuffer, variance: CPUBuffer, into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.layerNormForward(
            x: x, rows: rows, columns: columns, gamma: gamma, beta: beta, activation: activation, mean: mean,
            variance: variance, y: y)
        // x may be y: the reference has a row's statistics before it writes the row, and
        // reads each element before it overwrites it.
        CPUReference.layerNormForward(
            x.readOnly, rows: rows, columns: columns, epsilon: epsilon, gamma: gamma.readOnly, beta: beta.readOnly,
            activation: activation, mean: mean.storage, variance: variance.storage, into: y.storage)
    }

    public func layerNormBackward(
        _ x: CPUBuffer, outputGradient dz: CPUBuffer, rows: Int, columns: Int, mean: CPUBuffer, variance: CPUBuffer,
        epsilon: Float, gamma: CPUBuffer, gammaGradient: CPUBuffer, betaGradient: CPUBuffer, inputGradient dx: CPUBuffer,
        below: Activation
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.layerNormBackward(
            x: x, dz: dz, rows: rows, columns: columns, mean: mean, variance: variance, gamma: gamma,
            gammaGradient: gammaGradient, betaGradient: betaGradient, dx: dx, below: below)
        CPUReference.layerNormBackward(
            x.readOnly, outputGradient: dz.readOnly, rows: rows, columns: columns, mean: mean.readOnly,
            variance: variance.readOnly, epsilon: epsilon, gamma: gamma.readOnly, gammaGradient: gammaGradient.storage,
            betaGradient: betaGradient.storage, inputGradient: dx.storage, below: below)
    }

    // MARK: Dropout

    public func dropout(_ x: CPUBuffer, uniforms: CPUBuffer, count: Int, rate: Float, into y: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.dropout(x: x, uniforms: uniforms, count: count, rate: rate, y: y)
        for i in 0..<count { y.storage[i] = CPUReference.dropout(x.storage[i], uniform: uniforms.storage[i], rate: rate) }
    }

    // MARK: Gradient penalty

    public func interpolateRows(
        real: CPUBuffer, fake: CPUBuffer, epsilon: CPUBuffer, rows: Int, columns: Int, into out: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.interpolateRows(real: real, fake: fake, epsilon: epsilon, rows: rows, columns: columns, out: out)
        for r in 0..<rows {
            for c in 0..<columns {
                let i = r * columns + c
                out.storage[i] = CPUReference.interpolate(real: real.storage[i], fake: fake.storage[i], epsilon: epsilon.storage[r])
            }
        }
    }

    public func gradientPenalty(
        gradients: CPUBuffer, rows: Int, columns: Int, weight: Float, scale: Float,
        norms: CPUBuffer, losses: CPUBuffer, directions: CPUBuffer
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.gradientPenalty(
            gradients: gradients, rows: rows, columns: columns, norms: norms, losses: losses, directions: directions)
        for r in 0..<rows {
            let span = (r * columns)..<((r + 1) * columns)
            (norms.storage[r], losses.storage[r]) = CPUReference.gradientPenalty(
                UnsafeBufferPointer(rebasing: gradients.readOnly[span]), weight: weight, scale: scale,
                direction: UnsafeMutableBufferPointer(rebasing: directions.storage[span]))
        }
    }

    // MARK: Convolution

    public func im2col(_ x: CPUBuffer, geometry: ConvolutionGeometry, into columns: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.im2col(images: x, columns: columns, geometry: geometry)
        CPUReference.im2col(x.readOnly, geometry: geometry, into: columns.storage)
    }

    public func col2im(_ columns: CPUBuffer, geometry: ConvolutionGeometry, into x: CPUBuffer) throws {
        statistics.operations += 1
        try ArgumentChecks.im2col(images: x, columns: columns, geometry: geometry)
        CPUReference.col2im(columns.readOnly, geometry: geometry, into: x.storage)
    }

    // MARK: Normalisation

    public func batchNormStatistics(
        _ x: CPUBuffer, rows: Int, columns: Int, groups: Int, mean: CPUBuffer, variance: CPUBuffer,
        running: (mean: CPUBuffer, variance: CPUBuffer, momentum: Float)?
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.batchNormStatistics(
            x: x, rows: rows, columns: columns, groups: groups, mean: mean, variance: variance, running: running)
        let (m, v) = CPUReference.batchNormStatistics(x.readOnly, rows: rows, columns: columns, groups: groups)
        for i in m.indices {
            mean.storage[i] = m[i]
            variance.storage[i] = v[i]
        }
        if let running {
            for c in 0..<columns {
                CPUReference.updateRunning(
                    &running.mean.storage[c], &running.variance.storage[c], mean: m[c], variance: v[c], rows: rows,
                    momentum: running.momentum)
            }
        }
    }

    public func batchNormForward(
        _ x: CPUBuffer, rows: Int, columns: Int, groups: Int, mean: CPUBuffer, variance: CPUBuffer, epsilon: Float,
        gamma: CPUBuffer, beta: CPUBuffer, activation: Activation, into y: CPUBuffer
    ) throws {
        statistics.operations += 1
        try activation.validate()
        try ArgumentChecks.batchNorm(
            x: x, rows: rows, columns: columns, groups: groups, statistics: [mean, variance], vectors: [gamma, beta],
            matrices: [y])
        CPUReference.batchNormForward(
            x.readOnly, rows: rows, columns: columns, groups: groups, mean: mean.readOnly, variance: variance.readOnly,
            epsilon: epsilon, gamma: gamma.readOnly, beta: beta.readOnly, activation: activation, into: y.storage)
    }

    public func batchNormBackward(
        _ x: CPUBuffer, outputGradient dz: CPUBuffer, rows: Int, columns: Int, groups: Int, mean: CPUBuffer,
        variance: CPUBuffer, epsilon: Float, gamma: CPUBuffer, gammaGradient: CPUBuffer, betaGradient: CPUBuffer,
        inputGradient dx: CPUBuffer, below: Activation
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.batchNormBackward(
            x: x, dz: dz, rows: rows, columns: columns, groups: groups, mean: mean, variance: variance, gamma: gamma,
            gammaGradient: gammaGradient, betaGradient: betaGradient, dx: dx, below: below)
        CPUReference.batchNormBackward(
            x.readOnly, outputGradient: dz.readOnly, rows: rows, columns: columns, groups: groups, mean: mean.readOnly,
            variance: variance.readOnly, epsilon: epsilon, gamma: gamma.readOnly, gammaGradient: gammaGradient.storage,
            betaGradient: betaGradient.storage, inputGradient: dx.storage, below: below)
    }

    // MARK: Random numbers

    public func uniform(_ x: CPUBuffer, count: Int, seed: UInt64, counter: UInt64) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        Philox.fillUniform(x.prefix(count), seed: seed, counter: counter)
    }

    public func normal(
        _ x: CPUBuffer, count: Int, seed: UInt64, counter: UInt64, mean: Float, std: Float
    ) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        Philox.fillNormal(x.prefix(count), seed: seed, counter: counter, mean: mean, std: std)
    }

    public func gumbel(_ x: CPUBuffer, count: Int, seed: UInt64, counter: UInt64) throws {
        statistics.operations += 1
        try ArgumentChecks.buffer(x, holds: count, "x")
        Philox.fillGumbel(x.prefix(count), seed: seed, counter: counter)
    }
}
