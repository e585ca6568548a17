import ComputeBackend
import RealModule

/// Rows of features (count × width, row-major).
public struct FeatureSet: Sendable {
    public let values: [Float]
    public let width: Int
    public var count: Int { values.count / width }

    public init(values: [Float], width: Int) {
        precondition(width > 0 && values.count % width == 0, "features must be whole rows")
        self.values = values
        self.width = width
    }

    /// The rows `indices`, in that order.
    public func rows(_ indices: [Int]) -> FeatureSet {
        var out = [Float]()
        out.reserveCapacity(indices.count * width)
        for i in indices { out += values[(i * width)..<((i + 1) * width)] }
        return FeatureSet(values: out, width: width)
    }
}

/// Sample-quality metrics in a feature space, each against a set of real features:
/// Fréchet distance (Heusel et al. 2017), KID (Bińkowski et al. 2018), improved
/// precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al.
/// 2020), and a nearest-neighbour memorisation check. The heavy arithmetic — covariances,
/// kernel matrices, pairwise distances — runs as GEMMs on the backend.
public struct FeatureMetrics<B: ComputeBackend> {
    public let backend: B

    public init(backend: B) { self.backend = backend }

    // MARK: - Fréchet distance

    /// ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½), with unbiased covariances.
    public func frechetDistance(_ a: FeatureSet, _ b: FeatureSet) throws -> Double {
        let (meanA, covA) = try moments(a)
        let (meanB, covB) = try moments(b)
        let n = a.width
        var distance = zip(meanA, meanB).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let rootA = SymmetricEigen.squareRoot(covA, n: n)
        var middle = SymmetricEigen.multiply(SymmetricEigen.multiply(rootA, covB, n: n), rootA, n: n)
        for i in 0..<n {  // symmetrise away rounding
            for j in (i + 1)..<n {
                let s = (middle[i * n + j] + middle[j * n + i]) / 2
                middle[i * n + j] = s
                middle[j * n + i] = s
            }
        }
        let traceRoot = SymmetricEigen.decompose(middle, n: n).values.reduce(0.0) { $0 + ($1 > 0 ? $1.squareRoot() : 0) }
        for i in 0..<n { distance += covA[i * n + i] + covB[i * n + i] }
        return max(0, distance - 2 * traceRoot)
    }

    /// Mean and unbiased covariance; the covariance as a GEMM of the centred features.
    func moments(_ x: FeatureSet) throws -> (mean: [Double], covariance: [Double]) {
        let n = x.count, d = x.width
        guard n >= 2 else { throw GANError("a covariance needs at least 2 samples, got \(n)") }
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for c in 0..<d { mean[c] += Double(x.values[r * d + c]) } }
        for c in 0..<d { mean[c] /= Double(n) }
        var centred = x.values
        for r in 0..<n { for c in 0..<d { centred[r * d + c] -= Float(mean[c]) } }
        let buffer = try backend.makeBuffer(centred)
        let product = try backend.makeBuffer(count: d * d)
        try backend.gemm(
            transposeA: true, transposeB: false, m: d, n: d, k: n, alpha: 1 / Float(n - 1), a: buffer, b: buffer,
            beta: 0, c: product)
        return (mean, try backend.read(product).map(Double.init))
    }

    // MARK: - KID

    /// Unbiased MMD² with the kernel (x·y/width + 1)³ on `subsets` random subsets of
    /// `subsetSize` rows of each set (drawn without replacement, seeded): mean and
    /// standard deviation over the subsets.
    public func kernelInceptionDistance(
        _ a: FeatureSet, _ b: FeatureSet, subsets: Int = 100, subsetSize: Int = 1000, seed: UInt64
    ) throws -> (mean: Double, sd: Double) {
        let size = min(subsetSize, a.count, b.count)
        guard size >= 2 else { throw GANError("KID needs at least 2 samples in each set") }
        var random = SplitMix64(seed: seed)
        let d = a.width
        let x = try backend.makeBuffer(count: size * d), y = try backend.makeBuffer(count: size * d)
        let kernel = try backend.makeBuffer(count: size * size)
        func kernelSum(_ p: B.Buffer, _ q: B.Buffer, excludeDiagonal: Bool) throws -> Double {
            try backend.gemm(transposeA: false, transposeB: true, m: size, n: size, k: d, alpha: 1 / Float(d), a: p, b: q, beta: 0, c: kernel)
            let values = try backend.read(kernel)
            var sum = 0.0
            for i in 0..<size {
                for j in 0..<size where !(excludeDiagonal && i == j) {
                    let t = Double(values[i * size + j]) + 1
                    sum += t * t * t
                }
            }
            return sum
        }
        var estimates: [Double] = []
        for _ in 0..<subsets {
            try backend.write(a.rows(Self.choose(size, from: a.count, &random)).values, to: x, offset: 0)
            try backend.write(b.rows(Self.choose(size, from: b.count, &random)).values, to: y, offset: 0)
            let m = Double(size)
            let kxx = try kernelSum(x, x, excludeDiagonal: true) / (m * (m - 1))
            let kyy = try kernelSum(y, y, excludeDiagonal: true) / (m * (m - 1))
            let kxy = try kernelSum(x, y, excludeDiagonal: false) / (m * m)
            estimates.append(kxx + kyy - 2 * kxy)
        }
        let mean = estimates.reduce(0, +) / Double(estimates.count)
        let variance = estimates.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(estimates.count - 1, 1))
        return (mean, variance.squareRoot())
    }

    /// `count` distinct indices below `total` (a partial Fisher–Yates shuffle).
    static func choose(_ count: Int, from total: Int, _ random: inout SplitMix64) -> [Int] {
        var pool = Array(0..<total)
        for i in 0..<count {
            let j = i + Int(random.next() % UInt64(total - i))
            pool.swapAt(i, j)
        }
        return Array(pool[0..<count])
    }

    // MARK: - Nearest neighbours

    /// For every row of `x`, the squared Euclidean distances to every row of `y`, a block
    /// of rows at a time: `body(firstRow, rows, distances)` with distances rows × y.count.
    func forEachDistanceBlock(
        _ x: FeatureSet, _ y: FeatureSet, _ body: (Int, Int, UnsafeBufferPointer<Float>) throws -> Void
    ) throws {
        let d = x.width, m = y.count
        let blockRows = max(1, min(x.count, 4_000_000 / max(m, 1)))
        let yBuffer = try backend.makeBuffer(y.values)
        let xBuffer = try backend.makeBuffer(count: blockRows * d)
        let products = try backend.makeBuffer(count: blockRows * m)
        let yNorms = Self.squaredNorms(y)
        let xNorms = Self.squaredNorms(x)
        var first = 0
        var distances = [Float](repeating: 0, count: blockRows * m)
        while first < x.count {
            let rows = min(blockRows, x.count - first)
            try backend.write(Array(x.values[(first * d)..<((first + rows) * d)]), to: xBuffer, offset: 0)
            try backend.gemm(transposeA: false, transposeB: true, m: rows, n: m, k: d, alpha: -2, a: xBuffer, b: yBuffer, beta: 0, c: products)
            let dots = try backend.read(products, offset: 0, count: rows * m)
            for r in 0..<rows {
                let xn = xNorms[first + r]
                for j in 0..<m { distances[r * m + j] = max(0, xn + yNorms[j] + dots[r * m + j]) }
            }
            try distances.withUnsafeBufferPointer { try body(first, rows, UnsafeBufferPointer(rebasing: $0[0..<(rows * m)])) }
            first += rows
        }
    }

    static func squaredNorms(_ x: FeatureSet) -> [Float] {
        (0..<x.count).map { r in
            var sum: Float = 0
            for c in 0..<x.width { sum += x.values[r * x.width + c] * x.values[r * x.width + c] }
            return sum
        }
    }

    /// The squared distance from each row of `x` to its k-th nearest other row of `x`.
    public func kthNeighbourRadii(_ x: FeatureSet, k: Int) throws -> [Float] {
        try kthNeighbourRadii(x, ks: [k])[0]
    }

    /// The radii for several k from one pass over the distances.
    public func kthNeighbourRadii(_ x: FeatureSet, ks: [Int]) throws -> [[Float]] {
        let k = ks.max() ?? 1
        guard x.count > k, ks.allSatisfy({ $0 >= 1 }) else {
            throw GANError("k-NN radii with k = \(k) need more than \(k) samples, got \(x.count)")
        }
        var radii = [[Float]](repeating: [Float](repeating: 0, count: x.count), count: ks.count)
        try forEachDistanceBlock(x, x) { first, rows, distances in
            let m = x.count
            for r in 0..<rows {
                var nearest = [Float](repeating: .infinity, count: k)  // ascending
                for j in 0..<m where j != first + r {
                    let value = distances[r * m + j]
                    if value < nearest[k - 1] {
                        var slot = k - 1
                        while slot > 0 && nearest[slot - 1] > value { nearest[slot] = nearest[slot - 1]; slot -= 1 }
                        nearest[slot] = value
                    }
                }
                for (i, kk) in ks.enumerated() { radii[i][first + r] = nearest[kk - 1] }
            }
        }
        return radii
    }

    /// Improved precision and recall with k = `k`: precision is the fraction of fake
    /// rows inside some real row's k-NN ball, recall the fraction of real rows inside
    /// some fake row's. `realRadii`, when given, are the real rows' k-NN radii.
    public func precisionRecall(
        real: FeatureSet, fake: FeatureSet, k: Int = 3, realRadii: [Float]? = nil
    ) throws -> (precision: Double, recall: Double) {
        let realRadii = try realRadii ?? kthNeighbourRadii(real, k: k)
        let fakeRadii = try kthNeighbourRadii(fake, k: k)
        return (try fractionInsideBalls(fake, of: real, radii: realRadii), try fractionInsideBalls(real, of: fake, radii: fakeRadii))
    }

    /// The fraction of rows of `x` within `radii[j]` of some row j of `centres`.
    func fractionInsideBalls(_ x: FeatureSet, of centres: FeatureSet, radii: [Float]) throws -> Double {
        var inside = 0
        try forEachDistanceBlock(x, centres) { _, rows, distances in
            let m = centres.count
            for r in 0..<rows where (0..<m).contains(where: { distances[r * m + $0] <= radii[$0] }) { inside += 1 }
        }
        return Double(inside) / Double(x.count)
    }

    /// Density and coverage with k = `k`: density is the mean number of real k-NN balls
    /// holding a fake row, over k; coverage the fraction of real rows whose ball holds
    /// at least one fake row. `realRadii`, when given, are the real rows' k-NN radii.
    public func densityCoverage(
        real: FeatureSet, fake: FeatureSet, k: Int = 5, realRadii: [Float]? = nil
    ) throws -> (density: Double, coverage: Double) {
        let radii = try realRadii ?? kthNeighbourRadii(real, k: k)
        var inBalls = 0
        var covered = [Bool](repeating: false, count: real.count)
        try forEachDistanceBlock(fake, real) { _, rows, distances in
            let m = real.count
            for r in 0..<rows {
                for j in 0..<m where distances[r * m + j] <= radii[j] {
                    inBalls += 1
                    covered[j] = true
                }
            }
        }
        return (Double(inBalls) / Double(k * fake.count), Double(covered.filter { $0 }.count) / Double(real.count))
    }

    /// Each row's squared distance to its nearest row of `reference`.
    public func nearestDistances(_ x: FeatureSet, to reference: FeatureSet) throws -> [Float] {
        var nearest = [Float](repeating: .infinity, count: x.count)
        try forEachDistanceBlock(x, reference) { first, rows, distances in
            let m = reference.count
            for r in 0..<rows {
                var best = Float.infinity
                for j in 0..<m where distances[r * m + j] < best { best = distances[r * m + j] }
                nearest[first + r] = best
            }
        }
        return nearest
    }
}
