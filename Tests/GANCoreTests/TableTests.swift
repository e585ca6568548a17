import CPUBackend
import ComputeBackend
import Foundation
import GANCore
import OpenCLBackend
import Testing

/// CSV tables and their transform: reading and its refusals, column kinds, the Gaussian
/// mixture of mode-specific normalisation, and encode → decode round trips.
@Suite("Tables")
struct TableTests {
    /// A table with known columns: a bimodal real (70 % near −5, 30 % near 5), an integer
    /// of many values, an integer of 3 values (categorical), a text column with a comma and
    /// quotes in its categories, and a real with missing values.
    private func table(rows: Int, seed: UInt64) -> Table {
        var random = SplitMix64(seed: seed)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        func normal() -> Double { (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * .pi * uniform()) }
        let header = ["income", "age", "rooms", "city", "score"]
        let cities = ["Paris", "São Paulo", "Washington, D.C.", "the \"Big\" Apple"]
        let body = (0..<rows).map { _ -> [String] in
            let income = uniform() < 0.7 ? -5 + normal() : 5 + 0.5 * normal()
            let age = 18 + Int(uniform() * 60)
            return [String(format: "%.3f", income), String(age), String(1 + Int(uniform() * 3)),
                    cities[Int(uniform() * 4)], uniform() < 0.2 ? (uniform() < 0.5 ? "" : "NA") : String(format: "%.2f", normal())]
        }
        return Table(header: header, rows: body)
    }

    @Test func readsQuotedFieldsAndRefusesBadTables() throws {
        let text = "name,note,value\n\"Smith, J.\",\"said \"\"hi\"\"\nthen left\",1.5\nLee,,2\n\n"
        let parsed = try Table.parse(Array(text.utf8), path: "t.csv")
        #expect(parsed.header == ["name", "note", "value"])
        #expect(parsed.rows == [["Smith, J.", "said \"hi\"\nthen left", "1.5"], ["Lee", "", "2"]])
        #expect(try Table.parse(Array(parsed.csv().utf8), path: "again.csv") == parsed)
        let bad: [([UInt8], String)] = [
            (Array("".utf8), "t.csv: an empty file (a CSV table needs a header row and rows)"),
            (Array("a,b\n".utf8), "t.csv: a header and no rows"),
            (Array("a,b\n1,2\n3\n".utf8), "t.csv: row 2 has 1 fields, the header 2 (a ragged table)"),
            (Array("a,b\n1,2\n".utf8) + [0xFF, 0xFE, 0x2C, 0x33, 0x0A], "t.csv: not UTF-8 text (line 3); save the table as UTF-8"),
            (Array("a,a\n1,2\n".utf8), "t.csv: the header names column 'a' twice"),
            (Array("a,,c\n1,2,3\n".utf8), "t.csv: column 2 of the header has no name"),
        ]
        for (bytes, message) in bad {
            #expect(throws: GANError(message)) { try Table.parse(bytes, path: "t.csv") }
        }
        let oneValue = Table(header: ["a", "b"], rows: [["x", "1"], ["x", "2"], ["x", "3"]])
        #expect(throws: GANError("t.csv: column 'a' has one value only ('x'); drop it")) {
            try TableTransform(fitting: oneValue, path: "t.csv")
        }
        let many = Table(header: ["id", "v"], rows: (0..<600).map { ["id\($0)", "\($0 % 7)"] })
        #expect(throws: GANError("t.csv: column 'id' has 600 categories, more than 500 (give --numeric id if it is a number, or drop it)")) {
            try TableTransform(fitting: many, path: "t.csv")
        }
        #expect(throws: GANError("t.csv: --numeric id: 'id0' is not a number")) {
            try TableTransform(fitting: many, numeric: ["id"], path: "t.csv")
        }
        #expect(throws: GANError.self) { try TableTransform(fitting: many, categorical: ["nope"], path: "t.csv") }
    }

    @Test func columnKindsAreInferredAndCanBeForced() throws {
        let data = table(rows: 400, seed: 1)
        let transform = try TableTransform(fitting: data)
        #expect(transform.columns.map(\.kind) == [.real, .integer, .categorical, .categorical, .real])
        #expect(transform.columns[3].categories.count == 4 && transform.columns[2].categories.sorted() == ["1", "2", "3"])
        #expect(transform.columns[4].hasMissing && !transform.columns[0].hasMissing)
        #expect(transform.columns[0].decimals == 3 && transform.columns[4].decimals == 2)
        let forced = try TableTransform(fitting: data, categorical: ["age"], numeric: ["rooms"])
        #expect(forced.columns[1].kind == .categorical && forced.columns[2].kind == .integer)
        // Spans: α, modes (and a missing pair) per numeric column; a one-hot per categorical.
        let spans = transform.spans
        #expect(spans.count == 2 + 2 + 1 + 1 + 3)  // income, age: α and modes; rooms, city; score: α, modes, missing
        #expect(transform.width == transform.columns.reduce(0) { $0 + $1.width })
        // The transform is Codable (it goes into checkpoints) and comes back equal.
        let json = try JSONEncoder().encode(transform)
        #expect(try JSONDecoder().decode(TableTransform.self, from: json) == transform)
    }

    /// EM on a 70/30 mixture of N(−5, 1) and N(5, 0.5) finds both, and nothing else of weight.
    @Test func mixtureFindsTheModes() throws {
        let data = table(rows: 4000, seed: 2)
        let values = data.rows.map { Double($0[0])! }
        let mixture = GaussianMixture1D.fit(values)
        let heavy = mixture.components.filter { $0.weight > 0.05 }.sorted { $0.mean < $1.mean }
        #expect(heavy.count == 2, "\(mixture.components)")
        #expect(abs(heavy[0].mean + 5) < 0.15 && abs(heavy[1].mean - 5) < 0.15, "\(heavy)")
        #expect(abs(heavy[0].weight - 0.7) < 0.04 && abs(heavy[1].weight - 0.3) < 0.04, "\(heavy)")
        #expect(abs(heavy[0].deviation - 1) < 0.1 && abs(heavy[1].deviation - 0.5) < 0.08, "\(heavy)")
        #expect(mixture.components.allSatisfy { $0.weight >= GaussianMixture1D.pruneWeight })
    }

    /// Encoding then decoding gives the table back: categories, integers and missing values
    /// exactly, reals to their decimals; each row's spans are one-hot with α in [−1, 1].
    /// A number beyond ±1e100 is refused in one line (libFuzzer's crash: 5.6e147 overflowed
    /// the mixture's sums of squares, every mode was pruned and the posterior had none);
    /// numbers up to it fit and encode.
    @Test func hugeNumbersAreRefusedAndLargeOnesFit() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/table/huge-number.csv")
        let crash = try Table.parse(Array(try Data(contentsOf: url)), path: "huge.csv")
        #expect(throws: GANError.self) { try TableTransform(fitting: crash, path: "huge.csv") }
        do {
            _ = try TableTransform(fitting: crash, path: "huge.csv")
        } catch let error as GANError {
            #expect(error.description.hasPrefix("huge.csv: column 'v.2' has the number 5.55"), "\(error)")
            #expect(error.description.hasSuffix("beyond ±1e100 (rescale it, or give --categorical v.2)"))
        }
        let large = Table(header: ["x"], rows: (0..<200).map { ["\(Double($0 % 7 - 3) * 1e99 + Double($0))"] })
        let transform = try TableTransform(fitting: large)
        #expect(!transform.columns[0].modes.isEmpty && transform.columns[0].modes.allSatisfy { $0.mean.isFinite && $0.deviation.isFinite })
        let encoded = try transform.encode(large, seed: 2)
        #expect(encoded.allSatisfy { $0.isFinite })
    }

    /// Decoding clamps numbers to the observed range unless told not to.
    @Test func decodingClampsUnlessAsked() throws {
        let data = table(rows: 500, seed: 4)
        let transform = try TableTransform(fitting: data)
        let income = transform.columns[0]
        // α = 1 in the highest mode: μ + 4σ, beyond the largest income seen.
        var vector = [Float](repeating: 0, count: transform.width)
        vector[0] = 1
        vector[1 + income.modes.indices.max { income.modes[$0].mean < income.modes[$1].mean }!] = 1
        for case .softmax(let start, _) in transform.spans.dropFirst(2) { vector[start] = 1 }
        let top = income.modes.max { $0.mean < $1.mean }!
        #expect(top.mean + 4 * top.deviation > income.maximum)
        #expect(Double(transform.decode(vector, rows: 1).rows[0][0]) == Double(String(format: "%.3f", income.maximum)))
        let free = try #require(Double(transform.decode(vector, rows: 1, clamp: false).rows[0][0]))
        #expect(abs(free - (top.mean + 4 * top.deviation)) < 1e-3)
    }

    /// Numbers a float32 pipeline wrote (1.7999999523162842 and the like, at many decimal
    /// lengths): rows decoded at both clamps of every column parse back inside the column's
    /// range, the clamped bounds exactly, all rows valid for the evaluation; unclamped rows
    /// leave the range.
    @Test func clampedNumbersParseBackInsideTheRange() throws {
        var random = SplitMix64(seed: 9)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        let rows = (0..<400).map { _ -> [String] in
            [String(Double(Float(1.8 + 3 * uniform()))), String(Double(Float(0.001 + 0.01 * uniform()))),
             String(Double(Float(-20 + 40 * uniform()))), String(format: "%.2f", 7 + uniform()),
             ["x", "y"][Int(uniform() * 2)]]
        }
        let data = Table(header: ["gauge", "tiny", "signed", "short", "kind"], rows: rows)
        let transform = try TableTransform(fitting: data)
        func vector(atTop top: Bool) -> [Float] {
            var v = [Float](repeating: 0, count: transform.width)
            var offset = 0
            for column in transform.columns {
                defer { offset += column.width }
                if column.kind == .categorical { v[offset] = 1; continue }
                let order = column.modes.indices.sorted { column.modes[$0].mean < column.modes[$1].mean }
                v[offset] = top ? 1 : -1
                v[offset + 1 + (top ? order.last! : order.first!)] = 1
                if column.hasMissing { v[offset + 1 + column.modes.count] = 1 }
            }
            return v
        }
        var clampedRows: [[String]] = [], freeRows: [[String]] = []
        for top in [false, true] {
            let clamped = transform.decode(vector(atTop: top), rows: 1).rows[0]
            let free = transform.decode(vector(atTop: top), rows: 1, clamp: false).rows[0]
            for (c, column) in transform.columns.enumerated() where column.kind != .categorical {
                let value = try #require(Double(clamped[c]), "\(column.name): '\(clamped[c])'")
                #expect(value >= column.minimum && value <= column.maximum, "\(column.name): \(clamped[c]) outside [\(column.minimum), \(column.maximum)]")
                let bound = top ? column.maximum : column.minimum
                let mode = column.modes.max { top ? $0.mean < $1.mean : $0.mean > $1.mean }!
                if top ? mode.mean + 4 * mode.deviation > bound : mode.mean - 4 * mode.deviation < bound {
                    #expect(value == bound, "\(column.name): the clamp \(bound) written as \(clamped[c])")
                    #expect(clamped[c].count <= data.rows.map { $0[c] }.map(\.count).max()!)
                }
            }
            clampedRows.append(clamped)
            freeRows.append(free)
        }
        let valid = try TableEvaluation(real: data, synthetic: Table(header: data.header, rows: clampedRows), transform: transform)
        #expect(valid.validRowShare == 1)
        let free = try TableEvaluation(real: data, synthetic: Table(header: data.header, rows: freeRows), transform: transform)
        #expect(free.validRowShare < 1)
    }

    @Test func encodeDecodeRoundTrip() throws {
        let data = table(rows: 500, seed: 3)
        let transform = try TableTransform(fitting: data)
        let encoded = try transform.encode(data, seed: 9)
        #expect(encoded.count == 500 * transform.width)
        #expect(try transform.encode(data, seed: 9) == encoded)
        for r in 0..<500 {
            for span in transform.spans {
                switch span {
                case .tanh(let start): #expect(abs(encoded[r * transform.width + start]) <= 1)
                case .softmax(let start, let count):
                    let slice = encoded[(r * transform.width + start)..<(r * transform.width + start + count)]
                    #expect(slice.filter { $0 == 1 }.count == 1 && slice.filter { $0 == 0 }.count == count - 1)
                }
            }
        }
        let decoded = transform.decode(encoded, rows: 500)
        #expect(decoded.header == data.header)
        for (original, back) in zip(data.rows, decoded.rows) {
            #expect(back[1] == original[1] && back[2] == original[2] && back[3] == original[3])
            #expect(abs(Double(back[0])! - Double(original[0])!) <= 0.0011, "\(original) → \(back)")
            if TableTransform.isMissing(original[4]) {
                #expect(back[4] == "")
            } else {
                #expect(abs(Double(back[4])! - Double(original[4])!) <= 0.011, "\(original) → \(back)")
            }
        }
        // Random generator outputs decode to values inside each column's range and categories.
        var random = SplitMix64(seed: 4)
        let noise = (0..<(50 * transform.width)).map { _ in Float(Double(random.next() >> 11) / Double(1 << 53)) * 2 - 1 }
        let generated = transform.decode(noise, rows: 50)
        for row in generated.rows {
            let income = Double(row[0])!
            #expect(income >= transform.columns[0].minimum && income <= transform.columns[0].maximum)
            #expect(transform.columns[3].categories.contains(row[3]))
        }
    }
}

/// The table evaluation on tables with known structure: x ~ N(0, 1), y = 2x + noise, a
/// level that follows x, and an independent k.
@Suite("Table evaluation")
struct TableEvaluationTests {
    private func table(rows: Int, seed: UInt64, shuffled: Bool = false) -> Table {
        var random = SplitMix64(seed: seed)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        func normal() -> Double { (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * .pi * uniform()) }
        var body = (0..<rows).map { _ -> [String] in
            let x = normal()
            return [String(format: "%.3f", x), String(format: "%.3f", 2 * x + 0.3 * normal()), x + 0.5 * normal() > 0 ? "high" : "low",
                    ["a", "b", "c"][Int(uniform() * 3)]]
        }
        if shuffled {
            // Each column shuffled on its own: the same margins, no dependencies.
            for c in 0..<4 {
                var column = body.map { $0[c] }
                for i in stride(from: column.count - 1, to: 0, by: -1) { column.swapAt(i, Int(random.next() % UInt64(i + 1))) }
                for r in body.indices { body[r][c] = column[r] }
            }
        }
        return Table(header: ["x", "y", "level", "k"], rows: body)
    }

    @Test func scoresFollowTheStructure() throws {
        let train = table(rows: 1500, seed: 1), holdout = table(rows: 800, seed: 2)
        let fresh = try TableEvaluation(real: train, synthetic: table(rows: 1500, seed: 3), holdout: holdout, target: "level")
        #expect(fresh.fidelity > 0.93 && fresh.pairFidelity > 0.93, "\(fresh.fidelity) \(fresh.pairFidelity)")
        let privacy = try #require(fresh.privacy)
        #expect(abs(privacy.closerToTrainingShare - 0.5) < 0.07 && privacy.exactCopies == 0 && privacy.warning == nil, "\(privacy)")
        let useful = try #require(fresh.usefulness)
        #expect(useful.realMacroF1 > 0.75 && useful.ratio > 0.93, "\(useful)")

        let copied = Table(header: train.header, rows: Array(train.rows.prefix(800)))
        let copies = try TableEvaluation(real: train, synthetic: copied, holdout: holdout)
        let leaked = try #require(copies.privacy)
        #expect(leaked.exactCopies == 800 && leaked.exactCopyShare == 1 && leaked.closerToTrainingShare > 0.7, "\(leaked)")
        #expect(leaked.warning?.contains("800 exact copies") == true)

        let independent = try TableEvaluation(real: train, synthetic: table(rows: 1500, seed: 3, shuffled: true), holdout: holdout, target: "level")
        #expect(independent.fidelity > 0.93, "the margins are kept")
        #expect(independent.pairFidelity < fresh.pairFidelity - 0.1, "\(independent.pairFidelity) against \(fresh.pairFidelity)")
        #expect(try #require(independent.usefulness).ratio < 0.75)

        #expect(throws: GANError("--target x: the target must be a categorical column (it is real)")) {
            try TableEvaluation(real: train, synthetic: copied, holdout: holdout, target: "x")
        }
        #expect(throws: GANError("--target needs --holdout: usefulness is measured on held-out real rows")) {
            try TableEvaluation(real: train, synthetic: copied, target: "level")
        }
        let renamed = Table(header: ["x", "y", "level", "kind"], rows: copied.rows)
        #expect(throws: GANError.self) { try TableEvaluation(real: train, synthetic: renamed) }
        // The report round-trips through JSON (eval.json).
        let json = try JSONEncoder().encode(fresh)
        #expect(try JSONDecoder().decode(TableEvaluation.self, from: json) == fresh)
    }
}

/// The span head (tanh on scalars, softmax on one-hot spans) against the Double reference
/// and central differences.
@Suite("Span head")
struct SpanHeadTests {
    @Test(arguments: [Float(1), 0.2])
    func forwardAndBackwardMatchTheDoubleReference(temperature: Float) throws {
        let spans: [TableTransform.Span] = [.tanh(start: 0), .softmax(start: 1, count: 4), .softmax(start: 5, count: 1),
                                            .tanh(start: 6), .softmax(start: 7, count: 3)]
        let (rows, width) = (5, 10)
        let backend = CPUBackend()
        let head = try SpanHead(backend: backend, features: width, spans: spans, temperature: temperature)
        try head.reserve(rows: rows)
        var random = SplitMix64(seed: 11)
        func uniform() -> Float { Float(Double(random.next() >> 11) / Double(1 << 53)) * 4 - 2 }
        let x = (0..<(rows * width)).map { _ in uniform() }, w = (0..<(rows * width)).map { _ in uniform() }
        let table: [Double] = [0, 1, 0, 1, 4, 1, 5, 1, 1, 6, 1, 0, 7, 3, 1]
        let layout = table.withUnsafeBufferPointer { CPUReference.spans($0, count: 5, columns: width) }
        func reference(_ input: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: input.count)
            input.withUnsafeBufferPointer { xs in
                out.withUnsafeMutableBufferPointer { ys in
                    for r in 0..<rows {
                        CPUReference.spanActivation(
                            UnsafeBufferPointer(rebasing: xs[(r * width)..<((r + 1) * width)]), spans: layout,
                            temperature: Double(temperature), into: UnsafeMutableBufferPointer(rebasing: ys[(r * width)..<((r + 1) * width)]))
                    }
                }
            }
            return out
        }
        let y = try backend.makeBuffer(count: rows * width)
        try head.forward(try backend.makeBuffer(x), rows: rows, into: y)
        let expected = reference(x.map(Double.init))
        for (got, want) in zip(try backend.read(y), expected) { #expect(abs(Double(got) - want) < 1e-6, "\(got) vs \(want)") }
        // Each softmax span sums to 1.
        let out = try backend.read(y)
        #expect(abs(out[1..<5].reduce(0, +) - 1) < 1e-6 && out[5] == 1)
        // Backward of L = Σ w ⊙ head(x), with a leaky ReLU below (x as its output).
        let dx = try backend.makeBuffer(count: rows * width)
        try head.backward(
            try backend.makeBuffer(x), rows: rows, outputGradient: try backend.makeBuffer(w),
            inputGradient: (dx, .leakyReLU(slope: 0.2)), parameterGradients: .none)
        let analytic = try backend.read(dx)
        for i in 0..<(rows * width) {
            let h = 1e-4
            var plus = x.map(Double.init), minus = plus
            plus[i] += h
            minus[i] -= h
            let lp = zip(reference(plus), w).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            let lm = zip(reference(minus), w).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            let numeric = (lp - lm) / (2 * h) * (x[i] > 0 ? 1 : 0.2)
            #expect(abs(Double(analytic[i]) - numeric) <= 1e-3 * max(1, abs(numeric)), "element \(i): \(analytic[i]) vs \(numeric)")
        }
        #expect(throws: GANError.self) { try SpanHead(backend: backend, features: 9, spans: spans) }
        #expect(throws: GANError.self) { try SpanHead(backend: backend, features: 10, spans: [.softmax(start: 1, count: 9)]) }
    }
}

/// The conditional Gumbel span head: its forward with the stream's Gumbel noise on the
/// softmax spans, and its gradient with the cross-entropy term (CTGAN's generator
/// condition loss), on both backends, against central differences of the Double reference.
@Suite("Conditional span head")
struct ConditionalSpanHeadTests {
    @Test(arguments: [false, true])
    func crossEntropyGradientMatchesCentralDifferences(openCL: Bool) throws {
        let backend: any ComputeBackend = openCL ? try OpenCLBackend(deviceSpec: nil) : CPUBackend()
        try check(on: backend)
    }

    private func check<B: ComputeBackend>(on backend: B) throws {
        let spans: [TableTransform.Span] = [.tanh(start: 0), .softmax(start: 1, count: 4), .softmax(start: 5, count: 1),
                                            .tanh(start: 6), .softmax(start: 7, count: 3)]
        // Two categorical spans (the 1-wide one is not conditioned on): classes 0–3 and 4–6.
        let conditionSpans = [(start: 1, count: 4, first: 0), (start: 7, count: 3, first: 4)]
        let (rows, width, classes) = (6, 10, 7)
        let temperature: Float = 0.2
        let head = try SpanHead(
            backend: backend, features: width, spans: spans, temperature: temperature, gumbel: true, conditionSpans: conditionSpans)
        #expect(head.classes == classes)
        try head.reserve(rows: rows)
        var random = SplitMix64(seed: 29)
        func uniform() -> Float { Float(Double(random.next() >> 11) / Double(1 << 53)) * 4 - 2 }
        let x = (0..<(rows * width)).map { _ in uniform() }, w = (0..<(rows * width)).map { _ in uniform() }
        let labels = (0..<rows).map { _ in Int(random.next() % UInt64(classes)) }
        // The conditions buffer holds more rows than the backward reads (a trainer's 2·batch).
        head.setConditions(try backend.makeBuffer(oneHot(labels + labels, classes: classes)))
        let table: [Double] = [0, 1, 0, 1, 4, 1, 5, 1, 1, 6, 1, 0, 7, 3, 1]
        let layout = table.withUnsafeBufferPointer { CPUReference.spans($0, count: 5, columns: width) }
        // The noise: Gumbel draws at the stream's place, on the softmax columns only.
        #expect(head.randomBlocks(rows: rows) == Philox.blocks(rows * width))
        head.setRandomStream(key: 41, counter: 9)
        var noise = [Float](repeating: 0, count: rows * width)
        noise.withUnsafeMutableBufferPointer { Philox.fillGumbel($0, seed: 41, counter: 9) }
        for i in noise.indices where i % width == 0 || i % width == 6 { noise[i] = 0 }
        // L = Σ w ⊙ head(x + noise) + (1/rows) Σ_r −log softmax(x_r over the conditioned span)[category].
        func loss(_ input: [Double]) -> Double {
            var total = 0.0
            var out = [Double](repeating: 0, count: width)
            for r in 0..<rows {
                let row = Array(input[(r * width)..<((r + 1) * width)])
                let noisy = (0..<width).map { row[$0] + Double(noise[r * width + $0]) }
                noisy.withUnsafeBufferPointer { xs in
                    out.withUnsafeMutableBufferPointer { CPUReference.spanActivation(xs, spans: layout, temperature: Double(temperature), into: $0) }
                }
                for j in 0..<width { total += out[j] * Double(w[r * width + j]) }
                let span = conditionSpans.last { $0.first <= labels[r] }!
                let logits = row[span.start..<(span.start + span.count)]
                let top = logits.max()!
                let logSum = top + log(logits.reduce(0.0) { $0 + exp($1 - top) })
                total += (logSum - row[span.start + labels[r] - span.first]) / Double(rows)
            }
            return total
        }
        let xBuffer = try backend.makeBuffer(x), y = try backend.makeBuffer(count: rows * width)
        try head.forward(xBuffer, rows: rows, into: y)
        // The forward is the reference's on x + noise (the draws bit for bit the host's).
        let noisyInput = zip(x, noise).map { Double($0) + Double($1) }
        var expected = [Double](repeating: 0, count: rows * width)
        for r in 0..<rows {
            noisyInput[(r * width)..<((r + 1) * width)].withUnsafeBufferPointer { xs in
                expected.withUnsafeMutableBufferPointer {
                    CPUReference.spanActivation(xs, spans: layout, temperature: Double(temperature),
                                                into: UnsafeMutableBufferPointer(rebasing: $0[(r * width)..<((r + 1) * width)]))
                }
            }
        }
        for (got, want) in zip(try backend.read(y), expected) { #expect(abs(Double(got) - want) < 1e-5, "\(got) vs \(want)") }
        // A second forward without a new stream is refused (it would repeat the draws).
        #expect(throws: GANError.self) { try head.forward(xBuffer, rows: rows, into: y) }
        let dx = try backend.makeBuffer(count: rows * width)
        try head.backward(
            xBuffer, rows: rows, outputGradient: try backend.makeBuffer(w),
            inputGradient: (dx, .identity), parameterGradients: .none)
        let analytic = try backend.read(dx)
        for i in 0..<(rows * width) {
            let h = 1e-4
            var plus = x.map(Double.init), minus = plus
            plus[i] += h
            minus[i] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            #expect(abs(Double(analytic[i]) - numeric) <= 1e-3 * max(1, abs(numeric)), "element \(i): \(analytic[i]) vs \(numeric)")
        }
    }
}

/// A table as training data: the holdout split, training-by-sampling's draws and the
/// sampling conditions.
@Suite("Table dataset")
struct TableDatasetTests {
    /// 1,000 rows: `kind` 900 a / 100 b, `colour` 500 red / 300 green / 200 blue, and a real
    /// of distinct values.
    private func write(_ directory: TemporaryFolder) throws -> String {
        var random = SplitMix64(seed: 3)
        var lines = ["kind,colour,value"]
        for i in 0..<1000 {
            let colour = i % 10 < 5 ? "red" : i % 10 < 8 ? "green" : "blue"
            lines.append("\(i % 10 == 9 ? "b" : "a"),\(colour),\(String(format: "%.3f", Double(i) + Double(random.next() >> 11) / Double(1 << 53) * 0.5))")
        }
        let path = directory.path + "/t.csv"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func holdoutIsASeededDisjointSplit() throws {
        let folder = try TemporaryFolder()
        let path = try write(folder)
        let a = try TableDataset(path: path, options: .init(holdoutFraction: 0.25), seed: 5)
        let b = try TableDataset(path: path, options: .init(holdoutFraction: 0.25), seed: 5)
        let c = try TableDataset(path: path, options: .init(holdoutFraction: 0.25), seed: 6)
        let held = try #require(a.holdout)
        #expect(a.count == 750 && held.rows.count == 250)
        #expect(a.training == b.training && a.holdout == b.holdout && a.encoded == b.encoded)
        #expect(a.holdout != c.holdout)
        // Every row is in one part only (the values are distinct).
        let all = Set(try Table.read(path).rows.map { $0[2] })
        let training = Set(a.training.rows.map { $0[2] }), holdout = Set(held.rows.map { $0[2] })
        #expect(training.isDisjoint(with: holdout) && training.union(holdout) == all)
        #expect(throws: GANError.self) { try TableDataset(path: path, options: .init(target: "kind"), seed: 5) }
        #expect(throws: GANError.self) { try TableDataset(path: path, options: .init(holdoutFraction: 0.0001), seed: 5) }
    }

    @Test func trainingBySamplingFollowsTheLogFrequencies() throws {
        let folder = try TemporaryFolder()
        let data = try TableDataset(path: try write(folder), seed: 1)
        #expect(data.classes == 5 && data.conditionedSampling)
        #expect(data.classNames == ["kind=a", "kind=b", "colour=red", "colour=green", "colour=blue"])
        var random = SplitMix64(seed: 8)
        func uniform() -> Float { Float(Double(random.next() >> 11) / Double(1 << 53)) }
        var counts = [Int](repeating: 0, count: 5)
        let n = 40_000
        for _ in 0..<n {
            let (index, label) = data.drawConditioned(uniform(), uniform(), uniform())
            counts[label] += 1
            // The row has the category drawn.
            let row = data.training.rows[index]
            #expect(data.classNames[label] == (label < 2 ? "kind=\(row[0])" : "colour=\(row[1])"))
        }
        // A column uniformly, then a category by log(count + 1).
        let kind = [log(901.0), log(101.0)], colour = [log(501.0), log(301.0), log(201.0)]
        let expected = kind.map { 0.5 * $0 / kind.reduce(0, +) } + colour.map { 0.5 * $0 / colour.reduce(0, +) }
        for (got, want) in zip(counts, expected) {
            #expect(abs(Double(got) / Double(n) - want) < 0.01, "\(counts) vs \(expected)")
        }
        // Sampling's conditions follow the raw frequencies (b is 10 % of kind's draws).
        let drawn = try #require(data.samplingClasses(count: 20_000, key: 77))
        let kinds = drawn.filter { $0 < 2 }
        #expect(abs(Double(kinds.filter { $0 == 1 }.count) / Double(kinds.count) - 0.1) < 0.015)
        #expect(abs(Double(kinds.count) / 20_000 - 0.5) < 0.015)
        #expect(drawn == data.samplingClasses(count: 20_000, key: 77))
    }
}

/// A fresh directory for a test's files, removed when the value goes away.
final class TemporaryFolder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "gan-cl-table-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// CTGAN's residual block (`residual N`): every gradient of a net dense (leaky ReLU) →
/// residual → dense against central differences of a Double model, and PoCL against the
/// CPU backend.
@Suite("Residual block")
struct ResidualBlockTests {
    static let lines = ["dense 4 leaky-relu", "residual 5", "dense 3"]
    static let (rows, inputs) = (6, 3)

    private func model<B: ComputeBackend>(_ backend: B) throws -> Sequential<B> {
        let model = try Architecture(Self.lines, network: "generator").build(
            backend: backend, input: ImageShape(features: Self.inputs), outputs: 3, network: "generator", leakySlope: 0.2)
        try model.initialize(seed: 5)
        // Non-trivial γ and β.
        let block = model.layers[1] as! Residual<B>
        try backend.write(LayerGradientTests.randomValues(5, seed: 3).map { 1 + 0.5 * $0 }, to: block.norm.gamma.value, offset: 0)
        try backend.write(LayerGradientTests.randomValues(5, seed: 4), to: block.norm.beta.value, offset: 0)
        return model
    }

    /// Output and every gradient (input, then each parameter in order) of L = Σ c ⊙ y.
    private func run<B: ComputeBackend>(_ backend: B, x: [Float], c: [Float]) throws -> [[Float]] {
        let model = try model(backend)
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: Self.rows)
        try model.forward(input, rows: Self.rows, into: workspace)
        let output = try backend.read(workspace.output, offset: 0, count: Self.rows * 3)
        try backend.write(c, to: workspace.outputGradient, offset: 0)
        try model.backward(input, rows: Self.rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
        return [output, try backend.read(workspace.inputGradient, offset: 0, count: Self.rows * Self.inputs)]
            + (try model.parameters.map { try backend.read($0.gradient) })
    }

    @Test func gradientsMatchCentralDifferences() throws {
        let backend = CPUBackend(referenceGEMM: true)
        let x = LayerGradientTests.randomValues(Self.rows * Self.inputs, seed: 1)
        let c = LayerGradientTests.randomValues(Self.rows * 3, seed: 2)
        let model = try model(backend)
        #expect(model.layers[1].parameters.map(\.name) == ["fc.weight", "fc.bias", "bn.weight", "bn.bias"])
        #expect(model.layers[1].buffers.map(\.name) == ["bn.running_mean", "bn.running_var"])
        #expect(model.summary.contains("residual 5"))
        // The parameters in checkpoint order: W1 b1 | W2 b2 γ β | W3 b3.
        var parameters = try model.parameters.map { try backend.read($0.value).map(Double.init) }
        let analytic = try run(backend, x: x, c: c)
        func loss(_ p: [[Double]], _ xs: [Double]) -> Double {
            var total = 0.0
            // Layer 1: dense 3 → 4, leaky ReLU.
            var h1 = [[Double]](repeating: [], count: Self.rows)
            for r in 0..<Self.rows {
                h1[r] = (0..<4).map { j in
                    let z = (0..<Self.inputs).reduce(p[1][j]) { $0 + xs[r * Self.inputs + $1] * p[0][$1 * 4 + j] }
                    return z > 0 ? z : 0.2 * z
                }
            }
            // The block: a = h1·W2 + b2, batch statistics (biased variance), ReLU(γ·â + β), then [h, h1].
            let a = h1.map { row in (0..<5).map { j in (0..<4).reduce(p[3][j]) { $0 + row[$1] * p[2][$1 * 5 + j] } } }
            var out = [[Double]](repeating: [], count: Self.rows)
            for j in 0..<5 {
                let mean = a.reduce(0.0) { $0 + $1[j] } / Double(Self.rows)
                let variance = a.reduce(0.0) { $0 + ($1[j] - mean) * ($1[j] - mean) } / Double(Self.rows)
                for r in 0..<Self.rows {
                    out[r].append(max(0, p[4][j] * (a[r][j] - mean) / (variance + 1e-5).squareRoot() + p[5][j]))
                }
            }
            for r in 0..<Self.rows {
                let features = out[r] + h1[r]
                for k in 0..<3 {
                    total += Double(c[r * 3 + k]) * (0..<9).reduce(p[7][k]) { $0 + features[$1] * p[6][$1 * 3 + k] }
                }
            }
            return total
        }
        let xs = x.map(Double.init)
        var worst = 0.0
        let dx = centralDifferences(xs) { loss(parameters, $0) }
        for (a, n) in zip(analytic[1], dx) { worst = max(worst, discrepancy(Double(a), n)) }
        for t in parameters.indices {
            let numeric = centralDifferences(parameters[t]) { values in
                let saved = parameters[t]
                parameters[t] = values
                defer { parameters[t] = saved }
                return loss(parameters, xs)
            }
            for (a, n) in zip(analytic[2 + t], numeric) { worst = max(worst, discrepancy(Double(a), n)) }
        }
        #expect(worst < 2e-3, "largest discrepancy \(worst)")
    }

    @Test func openCLAgreesWithTheCPU() throws {
        let x = LayerGradientTests.randomValues(Self.rows * Self.inputs, seed: 7)
        let c = LayerGradientTests.randomValues(Self.rows * 3, seed: 8)
        let cpu = try run(CPUBackend(), x: x, c: c)
        let gpu = try run(try OpenCLBackend(deviceSpec: nil), x: x, c: c)
        for (a, b) in zip(cpu, gpu) {
            for (u, v) in zip(a, b) { #expect(abs(u - v) <= 1e-4 * max(1, abs(u)), "\(u) vs \(v)") }
        }
    }
}

/// A table's generator samples with each chunk's batch statistics, in equal chunks, and
/// leaves its running averages alone.
@Suite("Table sampling")
struct TableSamplingTests {
    @Test func chunksUseTheirOwnStatisticsAndKeepTheRunningAverages() throws {
        let backend = CPUBackend()
        let table = Table(header: ["x", "k"], rows: (0..<300).map { ["\(Double($0 % 17) * 0.5)", ["a", "b", "c"][$0 % 3]] })
        let transform = try TableTransform(fitting: table)
        let generator = try Architecture(["residual 16", "dense \(transform.width)", "span-head t0.2 gumbel"], network: "generator")
            .build(backend: backend, input: ImageShape(features: 8), outputs: transform.width, network: "generator",
                   leakySlope: 0.2, table: transform)
        try generator.initialize(seed: 3)
        let block = generator.layers[0] as! Residual<CPUBackend>
        // Running averages unlike a fresh layer's, so inference would differ from batch statistics.
        try backend.write([Float](repeating: 0.3, count: 16), to: block.norm.runningMean, offset: 0)
        let before = try backend.read(block.norm.runningMean) + backend.read(block.norm.runningVariance)
        let sampler = try ImageSampler(generator: generator, chunk: 500)
        #expect(sampler.batchStatistics)
        let a = try sampler.sample(count: 501, key: 9), b = try sampler.sample(count: 504, key: 9)
        #expect(try backend.read(block.norm.runningMean) + backend.read(block.norm.runningVariance) == before)
        // 501 rows are chunks of 252 and 249; 504 are two of 252: the first chunks agree.
        let width = transform.width
        #expect(Array(a[..<(252 * width)]) == Array(b[..<(252 * width)]))
        #expect(Array(a[(252 * width)...]) != Array(b[(252 * width)..<(501 * width)]))
        #expect(try sampler.sample(count: 501, key: 9) == a)
        // Each chunk is normalised by its own statistics: a chunk of 8 rows alone differs from
        // the same rows inside 252.
        let small = try sampler.sample(count: 8, key: 9)
        #expect(small != Array(a[..<(8 * width)]))
        #expect(generator.mode == .training(groups: 1))
    }
}
