import ComputeBackend
import Foundation

/// What a table's columns are, inferred from their text or forced, and the transform of
/// rows into the vectors a tabular GAN trains on and back (CTGAN's ideas, Xu et al. 2019):
///
/// - A numeric column gets mode-specific normalisation: a Gaussian mixture fitted by EM
///   (`GaussianMixture1D`, up to 10 modes as the BIC chooses, any under 0.5 % weight pruned); a value
///   becomes the one-hot of a mode k (drawn from its posterior over the modes, with Philox,
///   so the same seed encodes alike) and the scalar α = (x − μₖ)/(4σₖ) in [−1, 1]. A numeric
///   column with missing values also gets a 2-wide one-hot: present or missing.
/// - A categorical column becomes a one-hot over its categories; a missing value (empty, or
///   NA) is a category of its own.
///
/// Decoding takes the argmax of each one-hot span and inverts α; integers are rounded,
/// numbers kept inside the column's observed range, reals written with the column's
/// decimals, and a missing value written as an empty field.
public struct TableTransform: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case integer, real, categorical }

    public struct Column: Codable, Equatable, Sendable {
        public let name: String
        public let kind: Kind
        /// Categorical: the categories in order of first appearance ("" for missing).
        public var categories: [String] = []
        /// Categorical: each category's rows in the fitted table (sampling draws a generator's
        /// condition by them).
        public var counts: [Int] = []
        /// Numeric: the mixture's modes, the observed range and the decimals to write.
        public var modes: [GaussianMixture1D.Component] = []
        public var minimum = 0.0, maximum = 0.0
        public var decimals = 0
        /// Numeric: whether some values are missing (the column then has a missing one-hot).
        public var hasMissing = false

        /// The encoded width: α and the modes, the missing pair; or the categories.
        public var width: Int { kind == .categorical ? categories.count : 1 + modes.count + (hasMissing ? 2 : 0) }
    }

    /// A span of the encoded vector and how a generator's head outputs it.
    public enum Span: Equatable, Sendable {
        case tanh(start: Int)
        case softmax(start: Int, count: Int)
    }

    public let columns: [Column]

    /// The text the tables use for a missing value: empty, or NA.
    public static func isMissing(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty || trimmed == "NA"
    }

    /// The most categories a column may have, and the distinct integers that make an
    /// integer column categorical unless forced numeric.
    public static let maximumCategories = 500, categoricalIntegerLimit = 10
    /// The largest magnitude a numeric column's values may have.
    public static let largestNumber = 1e100

    /// Infers each column's kind (numeric when every present value is a finite number —
    /// integer when each is an integer —, categorical otherwise, and integers with at most
    /// 10 distinct values categorical), honours `categorical` and `numeric` (column names),
    /// and fits the numeric columns' mixtures. Refuses a column with one value only and a
    /// categorical column of more than `maximumCategories` categories.
    public init(fitting table: Table, categorical: Set<String> = [], numeric: Set<String> = [], path: String = "the table") throws {
        for name in categorical.union(numeric) where !table.header.contains(name) {
            throw GANError("\(path) has no column '\(name)' (columns: \(table.header.joined(separator: ", ")))")
        }
        if let both = categorical.intersection(numeric).first {
            throw GANError("column '\(both)' cannot be both --categorical and --numeric")
        }
        columns = try table.header.enumerated().map { index, name in
            let texts = table.rows.map { $0[index] }
            let present = texts.filter { !Self.isMissing($0) }
            let distinct = Set(present)
            guard distinct.count + (present.count < texts.count ? 1 : 0) >= 2 else {
                throw GANError("\(path): column '\(name)' has one value only (\(distinct.first.map { "'\($0)'" } ?? "missing")); drop it")
            }
            let numbers = present.map { Double($0.trimmingCharacters(in: .whitespaces)) }
            let allNumbers = !present.isEmpty && numbers.allSatisfy { $0?.isFinite == true }
            let allIntegers = allNumbers && present.allSatisfy { Int($0.trimmingCharacters(in: .whitespaces)) != nil }
            var kind: Kind = allIntegers ? .integer : allNumbers ? .real : .categorical
            if numeric.contains(name) {
                guard allNumbers else {
                    let bad = present.first { Double($0.trimmingCharacters(in: .whitespaces))?.isFinite != true } ?? ""
                    throw GANError("\(path): --numeric \(name): '\(bad)' is not a number")
                }
            } else if categorical.contains(name) || (kind == .integer && distinct.count <= Self.categoricalIntegerLimit) {
                kind = .categorical
            }
            if kind == .categorical {
                var order: [String] = []
                var known: [String: Int] = [:]
                var counts: [Int] = []
                for text in texts {
                    let category = Self.isMissing(text) ? "" : text
                    if let k = known[category] {
                        counts[k] += 1
                    } else {
                        known[category] = order.count
                        order.append(category)
                        counts.append(1)
                    }
                }
                guard order.count <= Self.maximumCategories else {
                    throw GANError("\(path): column '\(name)' has \(order.count) categories, more than \(Self.maximumCategories) (give --numeric \(name) if it is a number, or drop it)")
                }
                return Column(name: name, kind: .categorical, categories: order, counts: counts)
            }
            let values = numbers.map { $0! }
            // The mixture's sums of squares stay finite (libFuzzer found 5.6e147 overflowing EM).
            if let huge = values.first(where: { abs($0) > Self.largestNumber }) {
                throw GANError("\(path): column '\(name)' has the number \(huge), beyond ±1e100 (rescale it, or give --categorical \(name))")
            }
            let decimals = kind == .integer ? 0 : present.map { text -> Int in
                guard let dot = text.firstIndex(of: "."), !text.lowercased().contains("e") else { return 0 }
                return text.distance(from: dot, to: text.endIndex) - 1
            }.max() ?? 0
            return Column(
                name: name, kind: kind, modes: GaussianMixture1D.fit(values).components,
                minimum: values.min()!, maximum: values.max()!, decimals: min(decimals, 12),
                hasMissing: present.count < texts.count)
        }
    }

    /// The encoded width of a row.
    public var width: Int { columns.reduce(0) { $0 + $1.width } }

    /// The spans of the encoded vector, in order: each numeric column's α (tanh), its modes
    /// (softmax) and its missing pair (softmax); each categorical column's one-hot (softmax).
    public var spans: [Span] {
        var spans: [Span] = []
        var at = 0
        for column in columns {
            if column.kind == .categorical {
                spans.append(.softmax(start: at, count: column.categories.count))
            } else {
                spans.append(.tanh(start: at))
                spans.append(.softmax(start: at + 1, count: column.modes.count))
                if column.hasMissing { spans.append(.softmax(start: at + 1 + column.modes.count, count: 2)) }
            }
            at += column.width
        }
        return spans
    }

    /// Each categorical column's one-hot span, in column order: a conditional tabular
    /// generator's classes are these spans' categories one after another (CTGAN's
    /// conditional vector), class `first + k` being category k of `column`.
    public var categoricalSpans: [(column: Int, start: Int, count: Int, first: Int)] {
        var spans: [(column: Int, start: Int, count: Int, first: Int)] = []
        var at = 0, first = 0
        for (c, column) in columns.enumerated() {
            if column.kind == .categorical {
                spans.append((c, at, column.categories.count, first))
                first += column.categories.count
            }
            at += column.width
        }
        return spans
    }

    /// The classes of a conditional tabular generator: every categorical column's
    /// categories (0 without categorical columns).
    public var conditionClasses: Int { categoricalSpans.reduce(0) { $0 + $1.count } }

    /// The class of category `value` of column `name`, as `--condition name=value` gives it.
    public func conditionClass(column name: String, value: String) throws -> Int {
        guard let c = columns.firstIndex(where: { $0.name == name }) else {
            throw GANError("--condition: no column '\(name)' (columns: \(columns.map(\.name).joined(separator: ", ")))")
        }
        guard let span = categoricalSpans.first(where: { $0.column == c }) else {
            throw GANError("--condition: column '\(name)' is numeric; only categorical columns can be conditioned on")
        }
        let category = Self.isMissing(value) ? "" : value
        guard let k = columns[c].categories.firstIndex(of: category) else {
            let shown = columns[c].categories.prefix(20).map { $0.isEmpty ? "(missing)" : $0 }.joined(separator: ", ")
            throw GANError("--condition: '\(value)' is not a category of '\(name)' (categories: \(shown)\(columns[c].categories.count > 20 ? ", …" : ""))")
        }
        return span.first + k
    }

    /// The rows of `table` (with this transform's columns) as rows × width floats; each
    /// value's mode drawn from its posterior with Philox `seed`.
    public func encode(_ table: Table, seed: UInt64, path: String = "the table") throws -> [Float] {
        guard table.header == columns.map(\.name) else {
            throw GANError("\(path): the columns \(table.header) are not the fitted ones \(columns.map(\.name))")
        }
        var out = [Float](repeating: 0, count: table.rows.count * width)
        var uniforms = [Float](repeating: 0, count: table.rows.count)
        var offset = 0
        for (c, column) in columns.enumerated() {
            uniforms.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: seed, counter: UInt64(c) << 40) }
            for (r, row) in table.rows.enumerated() {
                let text = row[c]
                let base = r * width + offset
                switch column.kind {
                case .categorical:
                    let category = Self.isMissing(text) ? "" : text
                    guard let k = column.categories.firstIndex(of: category) else {
                        throw GANError("\(path): row \(r + 1), column '\(column.name)': '\(text)' is not one of its categories")
                    }
                    out[base + k] = 1
                case .integer, .real:
                    let missingAt = base + 1 + column.modes.count
                    if Self.isMissing(text) {
                        guard column.hasMissing else { throw GANError("\(path): row \(r + 1), column '\(column.name)' is missing") }
                        out[base + 1 + column.largestMode] = 1
                        out[missingAt + 1] = 1
                        continue
                    }
                    guard let x = Double(text.trimmingCharacters(in: .whitespaces)), x.isFinite else {
                        throw GANError("\(path): row \(r + 1), column '\(column.name)': '\(text)' is not a number")
                    }
                    let k = GaussianMixture1D(components: column.modes).drawMode(x, uniform: Double(uniforms[r]))
                    let mode = column.modes[k]
                    out[base] = Float(min(max((x - mode.mean) / (4 * mode.deviation), -1), 1))
                    out[base + 1 + k] = 1
                    if column.hasMissing { out[missingAt] = 1 }
                }
            }
            offset += column.width
        }
        return out
    }

    /// Rows × width encoded vectors (a generator's output) back to a table in the original
    /// format; numbers kept inside each column's observed range unless `clamp` is false.
    public func decode(_ vectors: [Float], rows: Int, clamp: Bool = true) -> Table {
        precondition(vectors.count == rows * width)
        func argmax(_ start: Int, _ count: Int) -> Int {
            var best = 0
            for i in 1..<max(count, 1) where vectors[start + i] > vectors[start + best] { best = i }
            return best
        }
        var table: [[String]] = []
        table.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String] = []
            var at = r * width
            for column in columns {
                defer { at += column.width }
                if column.kind == .categorical {
                    row.append(column.categories[argmax(at, column.categories.count)])
                    continue
                }
                if column.hasMissing, argmax(at + 1 + column.modes.count, 2) == 1 {
                    row.append("")
                    continue
                }
                let mode = column.modes[argmax(at + 1, column.modes.count)]
                let alpha = min(max(Double(vectors[at]), -1), 1)
                let value = alpha * 4 * mode.deviation + mode.mean
                let x = clamp ? min(max(value, column.minimum), column.maximum) : value
                row.append(column.kind == .integer ? String(Int(x.rounded())) : column.text(of: x, inRange: clamp))
            }
            table.append(row)
        }
        return Table(header: columns.map(\.name), rows: table)
    }
}

extension TableTransform.Column {
    /// A real value as text with the column's decimals. A value kept `inRange` that sits on
    /// a bound (it was clamped) or that the rounding would carry out of [minimum,
    /// maximum] is written as that bound's shortest round-trip text instead (a float32
    /// pipeline's 1.7999999523162842 would otherwise print as 1.799999952316, below the
    /// minimum), never longer than the text the bound was read from.
    func text(of x: Double, inRange: Bool) -> String {
        let rounded = String(format: "%.\(decimals)f", x)
        guard inRange, let back = Double(rounded) else { return rounded }
        if back < minimum || (x == minimum && back != x) { return "\(minimum)" }
        if back > maximum || (x == maximum && back != x) { return "\(maximum)" }
        return rounded
    }

    /// The index of the heaviest mode (a missing value's placeholder mode).
    var largestMode: Int { modes.indices.max { modes[$0].weight < modes[$1].weight } ?? 0 }
}

/// A one-dimensional Gaussian mixture fitted by expectation-maximisation (in Double), its
/// number of modes chosen by the Bayesian information criterion: mixtures of 1, 2, …
/// components are fitted (each started at the data's quantiles with equal weights and
/// iterated until the mean log-likelihood gains less than 1e-7, at most 200 times) until
/// two more components in a row fail to lower the BIC, up to `maximumModes`; components
/// under `pruneWeight` are dropped. (CTGAN's variational Dirichlet-process mixture serves
/// the same end: as many modes as the data shows.) At most `fitSample` values are used,
/// evenly spaced in the sorted data.
public struct GaussianMixture1D: Equatable, Sendable {
    public struct Component: Codable, Equatable, Sendable {
        public let weight, mean, deviation: Double
    }

    public let components: [Component]

    public static let maximumModes = 10, pruneWeight = 0.005, fitSample = 20_000
    /// The smallest deviation a mode keeps, relative to the data's range (a column of few
    /// distinct values would otherwise collapse a mode onto a point).
    static let deviationFloor = 1e-3

    public init(components: [Component]) { self.components = components }

    public static func fit(_ all: [Double], maximumModes: Int = maximumModes) -> GaussianMixture1D {
        precondition(!all.isEmpty)
        let everything = all.sorted()
        let sorted = everything.count <= fitSample ? everything : (0..<fitSample).map { everything[$0 * everything.count / fitSample] }
        let range = max(sorted.last! - sorted.first!, 1e-12)
        let floor = deviationFloor * range
        let n = Double(sorted.count)
        let mean = sorted.reduce(0, +) / n
        let spread = max((sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot(), floor)
        var best: (bic: Double, modes: [Component])?
        var worse = 0
        for k in 1...min(maximumModes, Set(sorted).count) {
            let start = (0..<k).map { i in
                Component(weight: 1 / Double(k), mean: sorted[min(sorted.count - 1, (2 * i + 1) * sorted.count / (2 * k))], deviation: spread / Double(k))
            }
            let (modes, logLikelihood) = em(sorted, start, floor: floor)
            let bic = -2 * logLikelihood + Double(3 * k - 1) * log(n)
            if best == nil || bic < best!.bic {
                best = (bic, modes)
                worse = 0
            } else {
                worse += 1
                if worse == 2 { break }
            }
        }
        var kept = best!.modes.filter { $0.weight >= pruneWeight && $0.mean.isFinite && $0.deviation.isFinite }
        // Never no mode: the data's own mean and spread.
        if kept.isEmpty { kept = [Component(weight: 1, mean: mean, deviation: spread)] }
        let total = kept.reduce(0) { $0 + $1.weight }
        return GaussianMixture1D(components: kept.map { Component(weight: $0.weight / total, mean: $0.mean, deviation: $0.deviation) }
            .sorted { $0.mean < $1.mean })
    }

    /// EM from `start`: the components and the total log-likelihood.
    private static func em(_ values: [Double], _ start: [Component], floor: Double) -> ([Component], Double) {
        var modes = start
        var previous = -Double.infinity
        let n = Double(values.count)
        var responsibility = [Double](repeating: 0, count: values.count * modes.count)
        for _ in 0..<200 {
            // E: each value's posterior over the modes (log-sum-exp for stability).
            var logLikelihood = 0.0
            for (i, x) in values.enumerated() {
                var logs = modes.map { log($0.weight) + logDensity(x, $0) }
                let top = logs.max()!
                var sum = 0.0
                for j in logs.indices { logs[j] = exp(logs[j] - top); sum += logs[j] }
                logLikelihood += top + log(sum)
                for j in logs.indices { responsibility[i * modes.count + j] = logs[j] / sum }
            }
            // M: weights, means and deviations from the posteriors.
            modes = modes.indices.map { j in
                var mass = 0.0, total = 0.0
                for i in values.indices { mass += responsibility[i * modes.count + j]; total += responsibility[i * modes.count + j] * values[i] }
                guard mass > 1e-12 else { return Component(weight: 0, mean: modes[j].mean, deviation: modes[j].deviation) }
                let mean = total / mass
                var variance = 0.0
                for i in values.indices { variance += responsibility[i * modes.count + j] * (values[i] - mean) * (values[i] - mean) }
                return Component(weight: mass / n, mean: mean, deviation: max((variance / mass).squareRoot(), floor))
            }
            let gain = logLikelihood / n - previous
            previous = logLikelihood / n
            if gain.magnitude < 1e-7 { break }
        }
        return (modes, previous * n)
    }

    static func logDensity(_ x: Double, _ c: Component) -> Double {
        let z = (x - c.mean) / c.deviation
        return -0.5 * z * z - log(c.deviation) - 0.5 * log(2 * Double.pi)
    }

    /// The posterior over the modes of `x`.
    public func posterior(_ x: Double) -> [Double] {
        var logs = components.map { log(max($0.weight, 1e-300)) + Self.logDensity(x, $0) }
        let top = logs.max()!
        var sum = 0.0
        for j in logs.indices { logs[j] = exp(logs[j] - top); sum += logs[j] }
        return logs.map { $0 / sum }
    }

    /// A mode for `x` drawn from its posterior with a uniform in [0, 1).
    public func drawMode(_ x: Double, uniform: Double) -> Int {
        var cumulative = 0.0
        let p = posterior(x)
        for (j, q) in p.enumerated() {
            cumulative += q
            if uniform < cumulative { return j }
        }
        return p.count - 1
    }
}
