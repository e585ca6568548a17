// MARK: - Argument checks shared by every backend

/// The checks every backend makes before it queues an operation, so a wrong shape is a
/// Swift error on every backend alike and never an out-of-bounds access on a device.
public enum ArgumentChecks {
    /// Throws unless `count` ≥ 0.
    public static func size(_ count: Int, _ name: String) throws {
        guard count >= 0 else { throw BackendError.invalidArgument("\(name) must be ≥ 0, got \(count)") }
    }

    /// Throws unless `buffer` holds at least `count` elements (and `count` ≥ 0).
    public static func buffer(_ buffer: some BackendBuffer, holds count: Int, _ name: String) throws {
        try size(count, "element count of \(name)")
        guard buffer.count >= count else {
            throw BackendError.invalidArgument(
                "\(name) holds \(buffer.count) elements, the operation needs \(count)")
        }
    }

    /// Throws unless every named buffer holds at least `count` elements.
    public static func buffers<B: BackendBuffer>(_ named: KeyValuePairs<String, B>, hold count: Int) throws {
        for (name, b) in named { try buffer(b, holds: count, name) }
    }

    /// The checks of `ComputeBackend.adamStep`.
    public static func adam<B: BackendBuffer>(parameters: B, gradients: B, m: B, v: B, count: Int, step: Int) throws {
        try buffers(["parameters": parameters, "gradients": gradients, "m": m, "v": v], hold: count)
        guard step >= 1 else { throw BackendError.invalidArgument("Adam's step counts from 1, got \(step)") }
    }

    /// The checks of `ComputeBackend.softmaxCrossEntropy`.
    public static func softmax<B: BackendBuffer>(
        logits: B, labels: B, rows: Int, classes: Int, losses: B, gradients: B
    ) throws {
        try size(rows, "rows")
        try size(classes, "classes")
        guard rows.multipliedReportingOverflow(by: classes).overflow == false else {
            throw BackendError.invalidArgument("rows × classes overflows")
        }
        try buffers(["logits": logits, "gradients": gradients], hold: rows * classes)
        try buffers(["labels": labels, "losses": losses], hold: rows)
    }

    /// The checks of `ComputeBackend.layerNormForward`.
    public static func layerNormForward<B: BackendBuffer>(
        x: B, rows: Int, columns: Int, gamma: B, beta: B, activation: Activation, mean: B, variance: B, y: B
    ) throws {
        try activation.validate()
        try layerNorm(x: x, rows: rows, columns: columns, statistics: [mean, variance], vectors: [gamma, beta], matrices: [y])
        guard rows * columns == 0 || (y !== mean && y !== variance && mean !== variance) else {
            throw BackendError.invalidArgument("layerNormForward's statistics and y must be buffers of their own")
        }
    }

    /// The checks of `ComputeBackend.layerNormBackward`.
    public static func layerNormBackward<B: BackendBuffer>(
        x: B, dz: B, rows: Int, columns: Int, mean: B, variance: B, gamma: B, gammaGradient: B, betaGradient: B, dx: B,
        below: Activation
    ) throws {
        try below.validate()
        try layerNorm(
            x: x, rows: rows, columns: columns, statistics: [mean, variance], vectors: [gamma, gammaGradient, betaGradient],
            matrices: [dz, dx])
        guard rows * columns == 0 || (dx !== x && dx !== dz) else {
            throw BackendError.invalidArgument("layerNormBackward's dx must be a buffer of its own")
        }
    }

    static func layerNorm<B: BackendBuffer>(x: B, rows: Int, columns: Int, statistics: [B], vectors: [B], matrices: [B]) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        guard rows.multipliedReportingOverflow(by: columns).overflow == false else {
            throw BackendError.invalidArgument("rows × columns overflows")
        }
        try buffer(x, holds: rows * columns, "x")
        for (i, m) in matrices.enumerated() { try buffer(m, holds: rows * columns, "matrix \(i + 1)") }
        for (i, s) in statistics.enumerated() { try buffer(s, holds: rows, "statistics \(i + 1)") }
        for (i, v) in vectors.enumerated() { try buffer(v, holds: columns, "vector \(i + 1)") }
    }

    /// The checks of the minibatch standard deviation's operations: sizes that multiply
    /// within Int32, rows in equal groups, and buffers of their sizes.
    public static func minibatchStd<B: BackendBuffer>(
        rows: Int, spatial: Int, channels: Int, groups: Int, perGroup: [B], statistics: [B], inputs: [B], outputs: [B]
    ) throws {
        try size(rows, "rows")
        guard spatial >= 1, channels >= 1 else { throw BackendError.invalidArgument("needs positions and channels") }
        guard groups >= 1, rows % groups == 0 else {
            throw BackendError.invalidArgument("\(rows) rows do not split into \(groups) equal groups")
        }
        let (e, o1) = spatial.multipliedReportingOverflow(by: channels + 1)
        let (all, o2) = rows.multipliedReportingOverflow(by: e)
        guard !o1, !o2, all <= Int(Int32.max) else { throw BackendError.invalidArgument("too many elements") }
        for (i, b) in perGroup.enumerated() { try buffer(b, holds: groups, "group vector \(i + 1)") }
        for (i, b) in statistics.enumerated() { try buffer(b, holds: groups * spatial * channels, "statistics \(i + 1)") }
        for (i, b) in inputs.enumerated() { try buffer(b, holds: rows * spatial * channels, "input \(i + 1)") }
        for (i, b) in outputs.enumerated() { try buffer(b, holds: rows * spatial * (channels + 1), "output \(i + 1)") }
    }

    /// The checks of `ComputeBackend.minibatchStdValue`.
    public static func minibatchStdValue<B: BackendBuffer>(variance: B, groups: Int, columns: Int, value: B) throws {
        try minibatchStd(
            rows: groups, spatial: columns, channels: 1, groups: groups, perGroup: [value], statistics: [variance], inputs: [],
            outputs: [])
    }

    /// The checks of `ComputeBackend.minibatchStdBackward`.
    public static func minibatchStdBackward<B: BackendBuffer>(
        x: B, dy: B, rows: Int, spatial: Int, channels: Int, groups: Int, mean: B, variance: B, totals: B, dx: B,
        below: Activation
    ) throws {
        try below.validate()
        try minibatchStd(
            rows: rows, spatial: spatial, channels: channels, groups: groups, perGroup: [totals],
            statistics: [mean, variance], inputs: [x, dx], outputs: [dy])
        guard rows == 0 || (dx !== x && dx !== dy) else {
            throw BackendError.invalidArgument("minibatchStdBackward's dx must be a buffer of its own")
        }
    }

    /// The checks of `ComputeBackend.pack`.
    public static func pack<B: BackendBuffer>(x: B, examples: Int, group: Int, spatial: Int, channels: Int, y: B) throws {
        try size(examples, "examples")
        guard group >= 1, examples % group == 0 else {
            throw BackendError.invalidArgument("\(examples) examples do not make packs of \(group)")
        }
        guard spatial >= 1, channels >= 1 else { throw BackendError.invalidArgument("packing needs positions and channels") }
        let (perExample, overflowA) = spatial.multipliedReportingOverflow(by: channels)
        let (count, overflowB) = examples.multipliedReportingOverflow(by: perExample)
        guard !overflowA, !overflowB, count <= Int(Int32.max) else { throw BackendError.invalidArgument("too many elements to pack") }
        try buffers(["x": x, "y": y], hold: count)
        guard count == 0 || x !== y else { throw BackendError.invalidArgument("pack's y must not be x") }
    }

    /// The checks of `ComputeBackend.spanActivation` and its backward.
    public static func spanActivation<B: BackendBuffer>(
        x: B, rows: Int, columns: Int, spans: B, spanCount: Int, temperature: Float, y: B, extra: B? = nil
    ) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        try size(spanCount, "spans")
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count <= Int(Int32.max), spanCount <= Int(Int32.max) / 3 else {
            throw BackendError.invalidArgument("too many elements for a span activation")
        }
        guard temperature > 0, temperature.isFinite else {
            throw BackendError.invalidArgument("a span activation's temperature must be positive, got \(temperature)")
        }
        try buffers(["x": x, "y": y], hold: count)
        if let extra { try buffer(extra, holds: count, "dy") }
        try buffer(spans, holds: 3 * spanCount, "spans")
    }

    /// The checks of `ComputeBackend.multiply`.
    public static func multiply<B: BackendBuffer>(x: B, rows: Int, columns: Int, factors: B, perRow: Bool, y: B) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count <= Int(Int32.max) else { throw BackendError.invalidArgument("too many elements to multiply") }
        try buffers(["x": x, "y": y], hold: count)
        try buffer(factors, holds: perRow ? rows : count, "factors")
    }

    /// The checks of `ComputeBackend.appendChannels`.
    public static func appendChannels<B: BackendBuffer>(
        x: B, rows: Int, spatial: Int, channels: Int, values: B, extra: Int, inverse: Bool, y: B
    ) throws {
        try size(rows, "rows")
        guard spatial >= 1, channels >= 1, extra >= 1 else {
            throw BackendError.invalidArgument("appending channels needs positions, channels and extra channels")
        }
        let (wide, o1) = channels.addingReportingOverflow(extra)
        let (e, o2) = spatial.multipliedReportingOverflow(by: wide)
        let (all, o3) = rows.multipliedReportingOverflow(by: e)
        guard !o1, !o2, !o3, all <= Int(Int32.max) else { throw BackendError.invalidArgument("too many elements") }
        try buffer(x, holds: rows * spatial * (inverse ? wide : channels), "x")
        try buffer(y, holds: rows * spatial * (inverse ? channels : wide), "y")
        if !inverse { try buffer(values, holds: rows * extra, "values") }
        guard rows == 0 || x !== y else { throw BackendError.invalidArgument("appendChannels' y must not be x") }
    }

    /// The checks of `ComputeBackend.addScaled`.
    public static func addScaled<B: BackendBuffer>(x: B, y: B, count: Int) throws {
        try buffers(["x": x, "y": y], hold: count)
        guard count == 0 || x !== y else { throw BackendError.invalidArgument("addScaled's y must not be x") }
    }

    /// The checks of `ComputeBackend.movingAverage`.
    public static func movingAverage<B: BackendBuffer>(average: B, value: B, count: Int, decay: Float) throws {
        try buffers(["average": average, "value": value], hold: count)
        guard decay >= 0, decay <= 1 else { throw BackendError.invalidArgument("a decay must be in [0, 1], got \(decay)") }
    }

    /// The checks of `ComputeBackend.dropout`.
    public static func dropout<B: BackendBuffer>(x: B, uniforms: B, count: Int, rate: Float, y: B) throws {
        try buffers(["x": x, "uniforms": uniforms, "y": y], hold: count)
        guard rate >= 0, rate < 1 else { throw BackendError.invalidArgument("a dropout rate must be in [0, 1), got \(rate)") }
        guard count == 0 || y !== uniforms else {
            throw BackendError.invalidArgument("dropout's y must not be its uniforms")
        }
    }

    /// The checks of `ComputeBackend.interpolateRows`.
    public static func interpolateRows<B: BackendBuffer>(
        real: B, fake: B, epsilon: B, rows: Int, columns: Int, out: B
    ) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        try buffers(["real": real, "fake": fake, "out": out], hold: rows * columns)
        try buffer(epsilon, holds: rows, "epsilon")
        guard rows * columns == 0 || (out !== real && out !== fake && out !== epsilon) else {
            throw BackendError.invalidArgument("interpolateRows' out must be a buffer of its own")
        }
    }

    /// The checks of `ComputeBackend.gradientPenalty`.
    public static func gradientPenalty<B: BackendBuffer>(
        gradients: B, rows: Int, columns: Int, norms: B, losses: B, directions: B
    ) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        try buffers(["gradients": gradients, "directions": directions], hold: rows * columns)
        try buffers(["norms": norms, "losses": losses], hold: rows)
        let all = [gradients, norms, losses, directions]
        for (i, x) in all.enumerated() where all[(i + 1)...].contains(where: { $0 === x }) {
            guard rows * columns == 0 else {
                throw BackendError.invalidArgument("the gradient penalty needs four different buffers")
            }
        }
    }

    /// The checks of `ComputeBackend.divide`.
    public static func divide<B: BackendBuffer>(_ x: B, count: Int, divisor: B, out: B) throws {
        try buffers(["x": x, "out": out], hold: count)
        try buffer(divisor, holds: 1, "the divisor")
        guard count == 0 || (out !== x && out !== divisor) else {
            throw BackendError.invalidArgument("divide's out must be a buffer of its own")
        }
    }

    /// The checks of `ComputeBackend.spectralNormGradient`.
    public static func spectralNormGradient<B: BackendBuffer>(
        _ gradient: B, normalizedWeight: B, rows: Int, columns: Int, v: B, u: B, sigma: B
    ) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        try buffers(["the gradient": gradient, "the normalised weight": normalizedWeight], hold: rows * columns)
        try buffer(v, holds: rows, "v")
        try buffer(u, holds: columns, "u")
        try buffer(sigma, holds: 1, "sigma")
        guard rows * columns == 0 || ![normalizedWeight, v, u, sigma].contains(where: { $0 === gradient }) else {
            throw BackendError.invalidArgument("the spectral-norm gradient needs a buffer of its own")
        }
    }

    /// Throws unless RMSProp's hyperparameters are in range.
    public static func rmsprop(_ hyper: RMSPropHyperparameters) throws {
        guard hyper.decay >= 0, hyper.decay < 1, hyper.epsilon > 0 else {
            throw BackendError.invalidArgument("RMSProp needs 0 ≤ decay < 1 and epsilon > 0, got \(hyper.decay) and \(hyper.epsilon)")
        }
    }

    /// Throws unless `lower` ≤ `upper`.
    public static func clampBounds(lower: Float, upper: Float) throws {
        guard lower <= upper else { throw BackendError.invalidArgument("clamp needs lower ≤ upper, got \(lower) > \(upper)") }
    }

    /// Throws unless `offset..<offset+count` lies inside `buffer`.
    public static func range(_ buffer: some BackendBuffer, offset: Int, count: Int, _ name: String) throws {
        guard offset >= 0, count >= 0, offset <= buffer.count - count else {
            throw BackendError.invalidArgument(
                "range \(offset)..<\(offset + count) is outside \(name) of \(buffer.count) elements")
        }
    }

    /// The checks of `ComputeBackend.gemm`.
    public static func gemm(
        m: Int, n: Int, k: Int, a: some BackendBuffer, b: some BackendBuffer, c: some BackendBuffer
    ) throws {
        try size(m, "m")
        try size(n, "n")
        try size(k, "k")
        try buffer(a, holds: m * k, "A")
        try buffer(b, holds: k * n, "B")
        try buffer(c, holds: m * n, "C")
        guard m * n == 0 || (c !== a && c !== b) else {
            throw BackendError.invalidArgument("gemm's C must not alias A or B")
        }
    }

    /// The checks of a GEMM epilogue's buffers (after those of the GEMM).
    public static func gemmEpilogue<Buffer: BackendBuffer>(
        _ epilogue: GEMMEpilogue<Buffer>, m: Int, n: Int, a: Buffer, b: Buffer, c: Buffer
    ) throws {
        switch epilogue {
        case .none:
            break
        case .biasActivation(let bias, let activation):
            try activation.validate()
            try buffer(bias, holds: n, "the bias")
            guard m * n == 0 || bias !== c else { throw BackendError.invalidArgument("the bias must not be C") }
        case .activationGradient(let output, let activation):
            try activation.validate()
            try buffer(output, holds: m * n, "the activation's output")
            guard m * n == 0 || output !== c else {
                throw BackendError.invalidArgument("the activation's output must not be C")
            }
        case .columnSums(let out):
            try buffer(out, holds: n, "the column sums")
            guard n == 0 || (out !== c && out !== a && out !== b) else {
                throw BackendError.invalidArgument("the column sums need a buffer of their own")
            }
        case .adamStep(let step):
            guard step.step >= 1 else { throw BackendError.invalidArgument("Adam's step must be 1 or more, got \(step.step)") }
            for (weightLike, name) in [(step.weight, "Adam's weight"), (step.weightM, "Adam's weight m"), (step.weightV, "Adam's weight v")] {
                try buffer(weightLike, holds: m * n, name)
            }
            for (biasLike, name) in [(step.bias, "Adam's bias"), (step.biasGradient, "Adam's bias gradient"),
                                     (step.biasM, "Adam's bias m"), (step.biasV, "Adam's bias v")] {
                try buffer(biasLike, holds: n, name)
            }
            let all = step.buffers + [a, b, c]
            for (i, x) in all.enumerated() where all[(i + 1)...].contains(where: { $0 === x }) {
                guard m * n == 0 else { throw BackendError.invalidArgument("the Adam epilogue needs buffers of their own") }
            }
        }
    }

    /// The checks of the ranged `ComputeBackend.copy`.
    public static func copyRange<Buffer: BackendBuffer>(
        _ source: Buffer, offset sourceOffset: Int, to destination: Buffer, offset destinationOffset: Int, count: Int
    ) throws {
        try range(source, offset: sourceOffset, count: count, "the source")
        try range(destination, offset: destinationOffset, count: count, "the destination")
        guard count == 0 || source !== destination else {
            throw BackendError.invalidArgument("a ranged copy needs two different buffers")
        }
    }

    /// The checks of the ranged `ComputeBackend.objective`.
    public static func objectiveRange<Buffer: BackendBuffer>(
        _ objective: LogitObjective, logits: Buffer, offset: Int, count: Int, losses: Buffer, gradients: Buffer
    ) throws {
        try objective.validate()
        for (name, buffer) in [("logits", logits), ("losses", losses), ("gradients", gradients)] {
            try range(buffer, offset: offset, count: count, name)
        }
    }

    /// The checks of `ComputeBackend.transpose`.
    public static func transpose(_ x: some BackendBuffer, rows: Int, columns: Int, out: some BackendBuffer) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        try buffer(x, holds: rows * columns, "x")
        try buffer(out, holds: rows * columns, "out")
        guard rows * columns == 0 || x !== out else { throw BackendError.invalidArgument("transpose's out must not be x") }
    }

    /// The checks of an operation on an x of rows×columns and a vector of `vectorLength`.
    public static func matrix(
        _ x: some BackendBuffer, rows: Int, columns: Int,
        vector: some BackendBuffer, vectorLength: Int, _ vectorName: String
    ) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        try buffer(x, holds: rows * columns, "x")
        try buffer(vector, holds: vectorLength, vectorName)
    }

    // MARK: Convolution and normalisation

    /// The checks of `ComputeBackend.im2col` and `col2im`.
    public static func im2col(
        images: some BackendBuffer, columns: some BackendBuffer, geometry g: ConvolutionGeometry
    ) throws {
        if let problem = g.problem { throw BackendError.invalidArgument("a convolution over \(problem)") }
        try buffer(images, holds: g.imageElements, "the images")
        try buffer(columns, holds: g.positions * g.patchSize, "the column matrix")
        guard g.batch == 0 || images !== columns else {
            throw BackendError.invalidArgument("im2col and col2im need two different buffers")
        }
    }

    /// The checks of the batch-normalisation operations: x of rows × columns in `groups`
    /// equal runs, statistics of groups × columns, per-column vectors of `columns`.
    public static func batchNorm<B: BackendBuffer>(
        x: B, rows: Int, columns: Int, groups: Int, statistics: [B], vectors: [B], matrices: [B]
    ) throws {
        try size(rows, "rows")
        try size(columns, "columns")
        guard groups >= 1, rows % groups == 0 else {
            throw BackendError.invalidArgument("\(rows) rows do not split into \(groups) equal groups")
        }
        try buffer(x, holds: rows * columns, "x")
        for (i, m) in matrices.enumerated() { try buffer(m, holds: rows * columns, "matrix \(i + 1)") }
        for (i, s) in statistics.enumerated() { try buffer(s, holds: groups * columns, "statistics \(i + 1)") }
        for (i, v) in vectors.enumerated() { try buffer(v, holds: columns, "vector \(i + 1)") }
    }

    /// The checks of `ComputeBackend.batchNormStatistics`.
    public static func batchNormStatistics<B: BackendBuffer>(
        x: B, rows: Int, columns: Int, groups: Int, mean: B, variance: B, running: (mean: B, variance: B, momentum: Float)?
    ) throws {
        try batchNorm(
            x: x, rows: rows, columns: columns, groups: groups, statistics: [mean, variance],
            vectors: running.map { [$0.mean, $0.variance] } ?? [], matrices: [])
        if running != nil, groups != 1 {
            throw BackendError.invalidArgument("running averages need the statistics of one group")
        }
    }

    /// The checks of `ComputeBackend.batchNormBackward`.
    public static func batchNormBackward<B: BackendBuffer>(
        x: B, dz: B, rows: Int, columns: Int, groups: Int, mean: B, variance: B, gamma: B, gammaGradient: B,
        betaGradient: B, dx: B, below: Activation
    ) throws {
        try below.validate()
        try batchNorm(
            x: x, rows: rows, columns: columns, groups: groups, statistics: [mean, variance],
            vectors: [gamma, gammaGradient, betaGradient], matrices: [dz, dx])
        guard rows * columns == 0 || (dx !== x && dx !== dz) else {
            throw BackendError.invalidArgument("batchNormBackward's dx must be a buffer of its own")
        }
    }
}
