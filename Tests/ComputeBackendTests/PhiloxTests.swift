import CPUBackend
import ComputeBackend
import Foundation
import Testing

@Suite("Philox4x32-10 and deterministic math")
struct PhiloxTests {
    /// Random123's published known-answer vectors (tests/kat_vectors).
    @Test func knownAnswerVectors() {
        let zero = Philox.block(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        let ones = Philox.block(
            counter: (0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), key: (0xFFFF_FFFF, 0xFFFF_FFFF))
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        let pi = Philox.block(
            counter: (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    /// Element i of a draw at counter c is element i − 4 of the draw at c + 1: draws
    /// can be split at block boundaries and give the same stream.
    @Test func streamsAreCounterAddressed() throws {
        let backend = CPUBackend()
        let whole = try backend.makeBuffer(count: 40)
        let tail = try backend.makeBuffer(count: 36)
        try backend.normal(whole, count: 40, seed: 99, counter: 7, mean: 0, std: 1)
        try backend.normal(tail, count: 36, seed: 99, counter: 8, mean: 0, std: 1)
        #expect(Array(try backend.read(whole)[4...]) == (try backend.read(tail)))
        let other = try backend.makeBuffer(count: 40)
        try backend.normal(other, count: 40, seed: 100, counter: 7, mean: 0, std: 1)
        #expect(try backend.read(other) != (try backend.read(whole)))
    }

    @Test func uniformsAreUniform() throws {
        let backend = CPUBackend()
        let count = 200_000
        let x = try backend.makeBuffer(count: count)
        try backend.uniform(x, count: count, seed: 5, counter: 0)
        let values = try backend.read(x)
        #expect(values.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
        // Standard errors: mean ±0.00065, variance ±0.00015 at this count.
        #expect(abs(mean - 0.5) < 0.004)
        #expect(abs(variance - 1.0 / 12) < 0.001)
        var histogram = [Int](repeating: 0, count: 10)
        for v in values { histogram[Int(v * 10)] += 1 }
        #expect(histogram.allSatisfy { abs($0 - count / 10) < 600 })
    }

    @Test func normalsHaveTheRequestedMoments() throws {
        let backend = CPUBackend()
        let count = 200_000
        let x = try backend.makeBuffer(count: count)
        try backend.normal(x, count: count, seed: 6, counter: 123, mean: 0.5, std: 2)
        let values = try backend.read(x).map { (Double($0) - 0.5) / 2 }
        let mean = values.reduce(0, +) / Double(count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
        let fourth = values.reduce(0) { $0 + pow($1 - mean, 4) } / Double(count)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.015)
        #expect(abs(fourth / (variance * variance) - 3) < 0.1)
        // Tail mass beyond 2σ: 4.55 %.
        let tail = Double(values.filter { abs($0) > 2 }.count) / Double(count)
        #expect(abs(tail - 0.0455) < 0.003)
    }

    @Test func gumbelDrawsHaveTheGumbelDistribution() throws {
        let backend = CPUBackend()
        let count = 200_000
        let x = try backend.makeBuffer(count: count)
        try backend.gumbel(x, count: count, seed: 9, counter: 77)
        let values = try backend.read(x).map(Double.init)
        #expect(values.allSatisfy { $0.isFinite })
        let mean = values.reduce(0, +) / Double(count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
        // The standard Gumbel: mean γ (Euler–Mascheroni), variance π²/6, P(g ≤ 0) = e⁻¹.
        #expect(abs(mean - 0.577_215_66) < 0.01)
        #expect(abs(variance - Double.pi * Double.pi / 6) < 0.03)
        #expect(abs(Double(values.filter { $0 <= 0 }.count) / Double(count) - exp(-1)) < 0.004)
        // The extreme words give finite values: u = 2⁻²⁴ and 1 − 2⁻²⁴.
        #expect(Philox.gumbel(0).isFinite && Philox.gumbel(.max).isFinite && Philox.gumbel(0) < Philox.gumbel(.max))
    }

    @Test func deterministicLogarithmIsAccurate() {
        var u: Float = 0x1p-24
        while u <= 1 {
            for scale: Float in [1, 1.1, 1.3, 1.49, 1.51, 1.7, 1.99] where u * scale <= 1 {
                let x = u * scale
                #expect(abs(Double(DeterministicMath.logarithm(x)) - log(Double(x))) < 2e-7 * max(1, abs(log(Double(x)))))
            }
            u *= 2
        }
    }

    @Test func deterministicSquareRootIsAccurate() {
        var random = DoubleRandom(seed: 3)
        let xs = random.values(2000).map { Float(abs($0) * 40) } + [0, 1e-10, 33.27, 1, 4]
        for x in xs {
            let s = DeterministicMath.squareRoot(x)
            #expect(abs(Double(s) - sqrt(Double(x))) <= 2 * Double(Float(sqrt(Double(x))).ulp), "sqrt(\(x))")
        }
    }

    @Test func deterministicSineAndCosineAreAccurate() {
        for i in 0..<4096 {
            let u = Float(i) / 4096
            let (c, s) = DeterministicMath.cosineSineOfTurn(u)
            #expect(abs(Double(c) - cos(2 * .pi * Double(u))) < 5e-7, "cos at \(u)")
            #expect(abs(Double(s) - sin(2 * .pi * Double(u))) < 5e-7, "sin at \(u)")
        }
    }
}
