import Foundation
import Testing

/// `gan-cl eval` on tables: the report and eval.json for a synthetic table beside the
/// real one and a holdout, and one-line errors for bad tables and flags.
@Suite("gan-cl eval on tables", .serialized)
struct TableCLITests {
    private func write(_ rows: [[String]], to path: String) throws {
        try (["age,city,income"] + rows.map { $0.joined(separator: ",") }).joined(separator: "\n").appending("\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func rows(_ n: Int, _ random: inout SystemRandomNumberGenerator) -> [[String]] {
        (0..<n).map { _ in
            let age = Int.random(in: 18...90, using: &random)
            let city = ["Lyon", "\"Nice, FR\"", "Paris"][Int.random(in: 0...2, using: &random)]
            return [String(age), city, String(format: "%.2f", Double(age) * 900 + Double.random(in: 0...5000, using: &random))]
        }
    }

    @Test func evaluatesASyntheticTable() throws {
        let directory = try TemporaryDirectory()
        var random = SystemRandomNumberGenerator()
        let (real, synthetic, holdout) = ("\(directory.path)/real.csv", "\(directory.path)/synthetic.csv", "\(directory.path)/holdout.csv")
        try write(rows(300, &random), to: real)
        try write(rows(300, &random), to: synthetic)
        try write(rows(150, &random), to: holdout)
        let out = "\(directory.path)/eval.json"
        let run = try GANCL.run(["eval", "--data", real, "--samples", synthetic, "--holdout", holdout, "--target", "city", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        for line in ["fidelity: age (1 − KS)", "fidelity: city (1 − TVD)", "pairs, mean (3 pairs)", "privacy: exact copies of training rows", "usefulness: ratio"] {
            #expect(run.stdout.contains(line), "missing \(line): \(run.stdout)")
        }
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        #expect((report["fidelity"] as? Double).map { $0 > 0.8 && $0 <= 1 } == true, "\(report)")
        #expect((report["privacy"] as? [String: Any])?["exactCopies"] as? Int == 0)

        let ragged = "\(directory.path)/ragged.csv"
        try "age,city,income\n1,Lyon,2\n3,Paris\n".write(toFile: ragged, atomically: true, encoding: .utf8)
        let latin1 = "\(directory.path)/latin1.csv"
        try Data(Array("age,city,income\n1,".utf8) + [0x4E, 0xEE, 0x6D, 0x65, 0x73] + Array(",2\n".utf8)).write(to: URL(fileURLWithPath: latin1))
        expectOneLineError(try GANCL.run(["eval", "--data", real, "--samples", ragged]), "ragged.csv: row 2 has 2 fields, the header 3 (a ragged table)")
        expectOneLineError(try GANCL.run(["eval", "--data", real, "--samples", latin1]), "latin1.csv: not UTF-8 text (line 2)")
        expectOneLineError(try GANCL.run(["eval", "--samples", synthetic]), "give the real one with --data real.csv")
        expectOneLineError(try GANCL.run(["eval", "--data", real, "--samples", synthetic, "--target", "city"]), "--target needs --holdout")
        expectOneLineError(try GANCL.run(["eval", "--data", real, "--samples", synthetic, "--holdout", holdout, "--target", "age"]),
                           "--target age: the target must be a categorical column (it is integer)")
        expectOneLineError(try GANCL.run(["eval", "--data", real, "--samples", "\(directory.path)/missing.csv"]), "missing.csv: cannot be read")
        expectOneLineError(try GANCL.run(["eval", "--samples", "x.npy", "--holdout", holdout]), "are for tables")
    }
}
