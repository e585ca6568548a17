import Foundation

/// How well a synthetic table stands in for a real one, and how private it is: what
/// `gan-cl eval --data real.csv --samples synthetic.csv [--holdout holdout.csv]` reports.
/// Column kinds come from the real table (`TableTransform`); missing values are a value of
/// their own throughout.
///
/// - Fidelity, per column: 1 − the two-sample Kolmogorov–Smirnov statistic (numeric, on
///   the present values, with 1 − the missing rates' difference folded in as a minimum) or
///   1 − the total-variation distance of the category frequencies (categorical); and their
///   mean.
/// - Validity: the share of synthetic rows whose every number parses and lies inside the
///   real column's range, whose every missing value is in a column that has missing values
///   in the real table, and whose every category is one of the real column's.
/// - Pairs: for two numeric columns 1 − |ρ_real − ρ_synthetic| / 2 (Pearson's ρ on rows
///   where both are present); for any other pair 1 − the total-variation distance of the
///   two columns' joint frequencies, numbers binned at the real column's deciles; and
///   their mean.
/// - Privacy (with a holdout): distances between rows, each numeric column scaled by the
///   real column's range and each categorical one 0 when equal and 1 otherwise (missing
///   against present: 1), Euclidean over the columns. The share of synthetic rows nearer
///   to a training row than to any holdout row (ties count half; training rows are
///   subsampled to the holdout's count, so 0.5 means no memorisation), the synthetic rows
///   that are exact copies of any training row (by their text), and the mean
///   nearest-neighbour distance ratio
///   (nearest over second-nearest training row; near 0 means hugging single records).
/// - Usefulness (with a holdout and a categorical `target`): a multinomial logistic
///   regression of the target on the other columns (one-hot categories, standardised
///   numbers), trained once on the synthetic rows and once on the training rows (at most
///   10,000 of each) and tested on the holdout: each one's macro-F1 and their ratio.
public struct TableEvaluation: Codable, Equatable, Sendable {
    public struct ColumnScore: Codable, Equatable, Sendable {
        public let column: String
        public let kind: String
        public let score: Double
    }

    public struct PairScore: Codable, Equatable, Sendable {
        public let columns: [String]
        public let metric: String
        public let score: Double
    }

    public struct Privacy: Codable, Equatable, Sendable {
        public let closerToTrainingShare: Double
        public let exactCopies: Int
        public let exactCopyShare: Double
        public let meanNearestNeighbourRatio: Double
        public let syntheticRowsCompared: Int
        public let referenceRows: Int
        public let warning: String?
    }

    public struct Usefulness: Codable, Equatable, Sendable {
        public let target: String
        public let syntheticMacroF1: Double
        public let realMacroF1: Double
        public let ratio: Double
    }

    public let realRows: Int
    public let syntheticRows: Int
    public let columns: [ColumnScore]
    public let validRowShare: Double
    public let fidelity: Double
    public let pairs: [PairScore]
    public let pairFidelity: Double
    public let privacy: Privacy?
    public let usefulness: Usefulness?

    /// The share of synthetic rows that are valid (see Validity above).
    private static func validRowShare(real: Columns, synthetic: Columns) -> Double {
        guard synthetic.rows > 0 else { return 1 }
        var valid = [Bool](repeating: true, count: synthetic.rows)
        for c in real.kinds.indices {
            if real.kinds[c] == .categorical {
                let seen = Set(real.text[c])
                for r in 0..<synthetic.rows where !seen.contains(synthetic.text[c][r]) { valid[r] = false }
                continue
            }
            let realHasMissing = real.text[c].contains("")
            let present = real.present(c)
            let low = present.min() ?? 0, high = present.max() ?? 0
            for r in 0..<synthetic.rows {
                if synthetic.text[c][r].isEmpty {
                    if !realHasMissing { valid[r] = false }
                } else if let x = synthetic.numbers[c][r], x >= low, x <= high {
                    continue
                } else {
                    valid[r] = false
                }
            }
        }
        return Double(valid.filter { $0 }.count) / Double(synthetic.rows)
    }

    /// Most synthetic rows the privacy distances use (evenly spaced), and the most
    /// training and holdout rows.
    public static let privacySyntheticRows = 5000, privacyReferenceRows = 20_000

    public init(real: Table, synthetic: Table, holdout: Table? = nil, target: String? = nil, transform given: TableTransform? = nil) throws {
        guard synthetic.header == real.header else {
            throw GANError("the synthetic table's columns (\(synthetic.header.joined(separator: ", "))) are not the real table's (\(real.header.joined(separator: ", ")))")
        }
        if let holdout, holdout.header != real.header {
            throw GANError("the holdout table's columns (\(holdout.header.joined(separator: ", "))) are not the real table's")
        }
        let transform = try given ?? TableTransform(fitting: real)
        let kinds = transform.columns.map(\.kind)
        let real = Columns(real, kinds: kinds), synthetic = Columns(synthetic, kinds: kinds)
        realRows = real.rows
        syntheticRows = synthetic.rows
        columns = transform.columns.indices.map { c in
            let column = transform.columns[c]
            if column.kind == .categorical {
                return ColumnScore(column: column.name, kind: "categorical", score: 1 - totalVariation(real.text[c], synthetic.text[c]))
            }
            let ks = kolmogorovSmirnov(real.present(c), synthetic.present(c))
            let missing = abs(real.missingRate(c) - synthetic.missingRate(c))
            return ColumnScore(column: column.name, kind: column.kind.rawValue, score: min(1 - ks, 1 - missing))
        }
        validRowShare = Self.validRowShare(real: real, synthetic: synthetic)
        fidelity = columns.map(\.score).reduce(0, +) / Double(columns.count)
        var pairs: [PairScore] = []
        let binnedReal = transform.columns.indices.map { real.binned($0, edges: real.deciles($0)) }
        let binnedSynthetic = transform.columns.indices.map { synthetic.binned($0, edges: real.deciles($0)) }
        for a in transform.columns.indices {
            for b in (a + 1)..<transform.columns.count {
                let names = [transform.columns[a].name, transform.columns[b].name]
                if kinds[a] != .categorical, kinds[b] != .categorical {
                    let similarity = 1 - abs(real.correlation(a, b) - synthetic.correlation(a, b)) / 2
                    pairs.append(PairScore(columns: names, metric: "correlation", score: similarity))
                } else {
                    let joint = totalVariation(zip(binnedReal[a], binnedReal[b]).map { $0 + "\u{1F}" + $1 },
                                               zip(binnedSynthetic[a], binnedSynthetic[b]).map { $0 + "\u{1F}" + $1 })
                    pairs.append(PairScore(columns: names, metric: "contingency", score: 1 - joint))
                }
            }
        }
        self.pairs = pairs
        pairFidelity = pairs.isEmpty ? 1 : pairs.map(\.score).reduce(0, +) / Double(pairs.count)
        if let holdout {
            let held = Columns(holdout, kinds: kinds)
            privacy = Self.privacy(real: real, synthetic: synthetic, holdout: held, transform: transform)
            if let target {
                guard let t = transform.columns.firstIndex(where: { $0.name == target }) else {
                    throw GANError("--target \(target): no such column (columns: \(real.names.joined(separator: ", ")))")
                }
                guard kinds[t] == .categorical else {
                    throw GANError("--target \(target): the target must be a categorical column (it is \(kinds[t].rawValue))")
                }
                let fromSynthetic = LogisticRegression.macroF1(train: synthetic, test: held, target: t, reference: real)
                let fromReal = LogisticRegression.macroF1(train: real, test: held, target: t, reference: real)
                usefulness = Usefulness(
                    target: target, syntheticMacroF1: fromSynthetic, realMacroF1: fromReal,
                    ratio: fromReal > 0 ? fromSynthetic / fromReal : 0)
            } else {
                usefulness = nil
            }
        } else {
            if target != nil { throw GANError("--target needs --holdout: usefulness is measured on held-out real rows") }
            privacy = nil
            usefulness = nil
        }
    }

    private static func privacy(real: Columns, synthetic: Columns, holdout: Columns, transform: TableTransform) -> Privacy {
        let reference = min(holdout.rows, real.rows, privacyReferenceRows)
        let training = evenly(real.rows, reference), held = evenly(holdout.rows, reference)
        let compared = evenly(synthetic.rows, min(synthetic.rows, privacySyntheticRows))
        let ranges = transform.columns.indices.map { c in (real.present(c).max() ?? 0) - (real.present(c).min() ?? 0) }
        func distance(_ x: Columns, _ i: Int, _ y: Columns, _ j: Int) -> Double {
            var sum = 0.0
            for c in ranges.indices {
                let d: Double
                if x.kinds[c] == .categorical {
                    d = x.text[c][i] == y.text[c][j] ? 0 : 1
                } else {
                    switch (x.numbers[c][i], y.numbers[c][j]) {
                    case (nil, nil): d = 0
                    case (nil, _), (_, nil): d = 1
                    case let (a?, b?): d = ranges[c] > 0 ? (a - b) / ranges[c] : 0
                    }
                }
                sum += d * d
            }
            return sum.squareRoot()
        }
        // Exact copies against every training row, by their text (missing values alike).
        let trainingRows = Set((0..<real.rows).map { r in real.text.map { $0[r] } })
        let copies = (0..<synthetic.rows).filter { r in trainingRows.contains(synthetic.text.map { $0[r] }) }.count
        var closer = 0.0, ratios = 0.0
        for s in compared {
            var first = Double.infinity, second = Double.infinity, nearestHeld = Double.infinity
            for t in training {
                let d = distance(synthetic, s, real, t)
                if d < first { second = first; first = d } else if d < second { second = d }
            }
            for h in held { nearestHeld = min(nearestHeld, distance(synthetic, s, holdout, h)) }
            closer += first < nearestHeld ? 1 : first == nearestHeld ? 0.5 : 0
            ratios += second > 0 && second.isFinite ? first / second : (first == 0 ? 0 : 1)
        }
        let n = Double(compared.count)
        let share = closer / n, copyShare = Double(copies) / Double(synthetic.rows)
        var warning: String?
        if share > 0.6 || copyShare > 0.01 {
            warning = String(format: "the synthetic rows look memorised: %.1f%% are nearer to a training row than to any holdout row (0.5 is none), %d exact copies", share * 100, copies)
        }
        return Privacy(
            closerToTrainingShare: share, exactCopies: copies, exactCopyShare: copyShare,
            meanNearestNeighbourRatio: ratios / n, syntheticRowsCompared: compared.count, referenceRows: reference,
            warning: warning)
    }
}

/// `count` indices evenly spaced in 0..<total.
func evenly(_ total: Int, _ count: Int) -> [Int] {
    count >= total ? Array(0..<total) : (0..<count).map { $0 * total / count }
}

/// A table's columns as numbers (nil: missing) or category codes.
struct Columns {
    let names: [String]
    let kinds: [TableTransform.Kind]
    let rows: Int
    /// Per column: the text (missing as ""), and the numbers of a numeric column (nil: missing).
    let text: [[String]]
    let numbers: [[Double?]]

    init(_ table: Table, kinds: [TableTransform.Kind]) {
        names = table.header
        self.kinds = kinds
        rows = table.rows.count
        text = kinds.indices.map { c in table.rows.map { TableTransform.isMissing($0[c]) ? "" : $0[c] } }
        numbers = kinds.indices.map { c in
            kinds[c] == .categorical ? [] : table.rows.map { TableTransform.isMissing($0[c]) ? nil : Double($0[c].trimmingCharacters(in: .whitespaces)) }
        }
    }

    func present(_ c: Int) -> [Double] { numbers[c].compactMap { $0 } }
    func missingRate(_ c: Int) -> Double { Double(numbers[c].filter { $0 == nil }.count) / Double(max(rows, 1)) }

    /// The real column's deciles (numeric), for binning; empty for categorical.
    func deciles(_ c: Int) -> [Double] {
        guard kinds[c] != .categorical else { return [] }
        let sorted = present(c).sorted()
        guard !sorted.isEmpty else { return [] }
        return Array(Set((1..<10).map { sorted[$0 * sorted.count / 10] })).sorted()
    }

    /// Each row's bin: its category, or its number's decile bin (missing a bin of its own).
    func binned(_ c: Int, edges: [Double]) -> [String] {
        if kinds[c] == .categorical { return text[c] }
        return numbers[c].map { value in
            guard let value else { return "missing" }
            return "bin \(edges.firstIndex { value < $0 } ?? edges.count)"
        }
    }

    func correlation(_ a: Int, _ b: Int) -> Double {
        let both = zip(numbers[a], numbers[b]).compactMap { x, y -> (Double, Double)? in
            guard let x, let y else { return nil }
            return (x, y)
        }
        guard both.count >= 2 else { return 0 }
        let n = Double(both.count)
        let mx = both.reduce(0) { $0 + $1.0 } / n, my = both.reduce(0) { $0 + $1.1 } / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (x, y) in both { sxy += (x - mx) * (y - my); sxx += (x - mx) * (x - mx); syy += (y - my) * (y - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }
}

/// Total-variation distance between the value frequencies of two samples.
func totalVariation<T: Hashable>(_ a: [T], _ b: [T]) -> Double {
    guard !a.isEmpty, !b.isEmpty else { return a.isEmpty == b.isEmpty ? 0 : 1 }
    var fa: [T: Double] = [:], fb: [T: Double] = [:]
    for x in a { fa[x, default: 0] += 1 / Double(a.count) }
    for x in b { fb[x, default: 0] += 1 / Double(b.count) }
    return Set(fa.keys).union(fb.keys).reduce(0) { $0 + abs(fa[$1, default: 0] - fb[$1, default: 0]) } / 2
}

/// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs.
func kolmogorovSmirnov(_ a: [Double], _ b: [Double]) -> Double {
    guard !a.isEmpty, !b.isEmpty else { return a.isEmpty == b.isEmpty ? 0 : 1 }
    let x = a.sorted(), y = b.sorted()
    var i = 0, j = 0, gap = 0.0
    while i < x.count, j < y.count {
        let v = min(x[i], y[j])
        while i < x.count, x[i] == v { i += 1 }
        while j < y.count, y[j] == v { j += 1 }
        gap = max(gap, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
    }
    return gap
}

/// Multinomial logistic regression in Double: features one-hot (categories of the
/// reference table) and standardised numbers (by the reference's mean and deviation,
/// missing as 0 with a missing flag), full-batch gradient descent with Adam (0.05, 300
/// steps) and L2 1e-3 from zeros, on at most `trainingRows` rows evenly spaced —
/// deterministic.
enum LogisticRegression {
    static let trainingRows = 10_000

    static func features(_ table: Columns, row: Int, target: Int, reference: Columns, categories: [[String]], scale: [(Double, Double)]) -> [Double] {
        var f: [Double] = []
        for c in table.kinds.indices where c != target {
            if table.kinds[c] == .categorical {
                f += categories[c].map { table.text[c][row] == $0 ? 1 : 0 }
            } else if let value = table.numbers[c][row] {
                f += [(value - scale[c].0) / scale[c].1, 0]
            } else {
                f += [0, 1]
            }
        }
        return f + [1]
    }

    static func macroF1(train: Columns, test: Columns, target: Int, reference: Columns) -> Double {
        let categories = reference.kinds.indices.map { c in reference.kinds[c] == .categorical ? Array(Set(reference.text[c])).sorted() : [] }
        let scale = reference.kinds.indices.map { c -> (Double, Double) in
            let values = reference.kinds[c] == .categorical ? [] : reference.present(c)
            guard !values.isEmpty else { return (0, 1) }
            let mean = values.reduce(0, +) / Double(values.count)
            let deviation = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
            return (mean, deviation > 0 ? deviation : 1)
        }
        let classes = categories[target]
        let k = classes.count
        let used = evenly(train.rows, min(train.rows, trainingRows))
        let x = used.map { features(train, row: $0, target: target, reference: reference, categories: categories, scale: scale) }
        let y = used.map { classes.firstIndex(of: train.text[target][$0]) ?? -1 }
        let d = x.first?.count ?? 1
        var w = [Double](repeating: 0, count: d * k), m = w, v = w
        for step in 1...300 {
            var gradient = [Double](repeating: 0, count: d * k)
            for (row, label) in zip(x, y) where label >= 0 {
                var logits = (0..<k).map { j in (0..<d).reduce(0.0) { $0 + row[$1] * w[$1 * k + j] } }
                let top = logits.max() ?? 0
                var sum = 0.0
                for j in 0..<k { logits[j] = exp(logits[j] - top); sum += logits[j] }
                for j in 0..<k {
                    let error = logits[j] / sum - (j == label ? 1 : 0)
                    for i in 0..<d { gradient[i * k + j] += error * row[i] }
                }
            }
            let n = Double(max(y.filter { $0 >= 0 }.count, 1))
            for i in w.indices {
                let g = gradient[i] / n + 1e-3 * w[i]
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.999, Double(step)))
                w[i] -= 0.05 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        // Macro-F1 on the test rows over the reference's classes that occur in the test.
        var truePositive = [Double](repeating: 0, count: k), predicted = truePositive, actual = truePositive
        for row in 0..<test.rows {
            let f = features(test, row: row, target: target, reference: reference, categories: categories, scale: scale)
            let logits = (0..<k).map { j in (0..<d).reduce(0.0) { $0 + f[$1] * w[$1 * k + j] } }
            let guess = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            predicted[guess] += 1
            if let truth = classes.firstIndex(of: test.text[target][row]) {
                actual[truth] += 1
                if truth == guess { truePositive[truth] += 1 }
            }
        }
        let present = (0..<k).filter { actual[$0] > 0 }
        guard !present.isEmpty else { return 0 }
        return present.reduce(0.0) { total, j in
            let denominator = predicted[j] + actual[j]
            return total + (denominator > 0 ? 2 * truePositive[j] / denominator : 0)
        } / Double(present.count)
    }
}
