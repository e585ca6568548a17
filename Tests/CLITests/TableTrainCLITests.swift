import Foundation
import ComputeBackend
import GANCore
import Testing

/// `gan-cl train --data table.csv` and `gan-cl sample` of a table's checkpoint: the run's
/// files, the evaluation with a holdout, rows in the table's own format, conditions, a
/// bit-exact resume, and one-line errors.
@Suite("gan-cl train on tables", .serialized)
struct TableTrainCLITests {
    /// 600 rows: an integer of many values, a categorical text column (quoted values
    /// among them), a real, a categorical column with missing values and a real with
    /// missing values (NA).
    private func writeTable(_ directory: TemporaryDirectory) throws -> String {
        var random = SplitMix64(seed: 17)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        let cities = ["Lyon", "\"Nice, FR\"", "Paris"]
        var lines = ["age,city,income,plan,score"]
        for _ in 0..<600 {
            let age = 18 + Int(uniform() * 60)
            let city = cities[uniform() < 0.6 ? 0 : uniform() < 0.5 ? 1 : 2]
            let plan = uniform() < 0.1 ? "" : uniform() < 0.7 ? "basic" : "pro"
            let score = uniform() < 0.15 ? "NA" : String(format: "%.2f", uniform() * 10)
            lines.append("\(age),\(city),\(String(format: "%.1f", Double(age) * 900 + uniform() * 5000)),\(plan),\(score)")
        }
        let path = directory.path + "/people.csv"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private let small = ["--batch-size", "100", "--log-every", "4", "--checkpoint-every", "6", "--sample-every", "6"]

    @Test func trainsEvaluatesAndSamplesRowsInTheTablesFormat() throws {
        let directory = try TemporaryDirectory()
        let table = try writeTable(directory)
        let out = directory.path + "/run"
        let run = try GANCL.run(
            ["train", "--data", table, "--steps", "12", "--holdout-fraction", "0.2", "--target", "city", "--out", out, "--backend", "cpu"]
                + small)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("480 rows of \(table) (3 numeric, 2 categorical columns → 24 features)"), "\(run.stdout)")
        #expect(run.stdout.contains(", 120 held out"))
        #expect(run.stdout.contains("loss wgan-gp"))
        #expect(run.stdout.contains("conditional on 6 classes: 0 city=Lyon, 1 city=Nice, FR, 2 city=Paris, 3 plan=basic, 4 plan=pro, 5 plan=(missing)"), "\(run.stdout)")
        #expect(run.stdout.contains("span-head t0.2 gumbel (conditional)"))
        // The evaluation after the last step: fidelity, privacy against the holdout (as many
        // training rows as held-out ones), usefulness.
        #expect(run.stderr.contains("evaluation at step 12 (480 samples): fidelity "), "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/eval.json"))) as? [String: Any])
        #expect((report["fidelity"] as? Double).map { $0 > 0 && $0 <= 1 } == true)
        #expect((report["privacy"] as? [String: Any])?["referenceRows"] as? Int == 120)
        #expect((report["usefulness"] as? [String: Any])?["target"] as? String == "city")
        let metrics = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8).split(separator: "\n")
        let header = metrics[0].split(separator: ",", omittingEmptySubsequences: false)
        let last = metrics.last!.split(separator: ",", omittingEmptySubsequences: false)
        #expect(Double(last[header.firstIndex(of: "fidelity")!]) != nil && Double(last[header.firstIndex(of: "dcr_share")!]) != nil)
        // The preview is rows of the table.
        let preview = try Table.read(out + "/samples/step-000012.csv")
        #expect(preview.header == ["age", "city", "income", "plan", "score"] && preview.rows.count == 1000)

        let checkpoint = out + "/checkpoints/step-000012.safetensors"
        // The checkpoint in Python's safetensors: the tensors, and the transform as JSON.
        let python = try Python.run("""
            import json
            from safetensors import safe_open
            with safe_open("\(checkpoint)", framework="numpy") as f:
                meta = f.metadata()
                names = list(f.keys())
                w = f.get_tensor("generator.layers.1.fc.weight")
            t = json.loads(meta["table_transform"])
            assert [c["name"] for c in t["columns"]] == ["age", "city", "income", "plan", "score"], t
            assert [c["kind"] for c in t["columns"]] == ["integer", "categorical", "real", "categorical", "real"]
            assert t["columns"][1]["categories"] == ["Lyon", "Nice, FR", "Paris"] or sorted(t["columns"][1]["categories"]) == ["Lyon", "Nice, FR", "Paris"]
            assert t["columns"][4]["hasMissing"] is True
            assert w.shape == (134, 256), w.shape
            assert "generator.layers.1.bn.running_mean" in names and "discriminator.layers.1.weight" in names
            print("ok")
            """)
        #expect(python == "ok\n")
        // eval on the checkpoint: its rows against the run's own training rows and holdout.
        let evaluated = try GANCL.run(["eval", "--checkpoint", checkpoint, "--target", "city", "--out", directory.path + "/e.json", "--backend", "cpu"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        for line in ["rows (real, synthetic)                        480, 480", "privacy: nearer a training row than holdout", "usefulness: ratio"] {
            #expect(evaluated.stdout.contains(line), "missing \(line): \(evaluated.stdout)")
        }
        let sampled = directory.path + "/synthetic.csv"
        let sample = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "300", "--out", sampled, "--backend", "cpu"])
        #expect(sample.status == 0, "\(sample.stderr)")
        let rows = try Table.read(sampled)
        #expect(rows.header == ["age", "city", "income", "plan", "score"] && rows.rows.count == 300)
        for row in rows.rows {
            #expect(Int(row[0]).map { (18...77).contains($0) } == true, "age \(row[0])")
            #expect(["Lyon", "Nice, FR", "Paris"].contains(row[1]), "city \(row[1])")
            #expect(Double(row[2]).map { $0 >= 16200 } == true && row[2].split(separator: ".").last?.count == 1, "income \(row[2])")
            #expect(["", "basic", "pro"].contains(row[3]))
            #expect(row[4].isEmpty || Double(row[4]) != nil)
        }
        // The same seed, the same rows.
        let again = directory.path + "/again.csv"
        #expect(try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "300", "--out", again, "--backend", "cpu"]).status == 0)
        #expect(try Table.read(again) == rows)
        let conditioned = directory.path + "/paris.csv"
        let paris = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "40", "--out", conditioned, "--condition", "city=Paris", "--backend", "cpu"])
        #expect(paris.status == 0, "\(paris.stderr)")
        let parisRows = try Table.read(conditioned).rows
        #expect(parisRows.count == 40 && parisRows.allSatisfy { $0[1] == "Paris" })

        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", sampled, "--condition", "city=Rome"]),
                           "--condition: 'Rome' is not a category of 'city'")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", sampled, "--condition", "age=30"]),
                           "--condition: column 'age' is numeric")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", sampled, "--condition", "Paris"]),
                           "give it as column=value")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", directory.path + "/x.png"]),
                           "a table's checkpoint writes .csv rows")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", sampled, "--class", "1"]),
                           "a table's checkpoint takes --condition column=value")
    }

    @Test(arguments: ["cpu", "opencl"])
    func resumeContinuesBitForBit(backend: String) throws {
        let directory = try TemporaryDirectory()
        let table = try writeTable(directory)
        let straight = directory.path + "/straight", split = directory.path + "/split"
        let common = ["train", "--data", table, "--backend", backend, "--eval-every", "0", "--holdout-fraction", "0.1"] + small
        #expect(try GANCL.run(common + ["--steps", "12", "--out", straight]).status == 0)
        #expect(try GANCL.run(common + ["--steps", "6", "--out", split]).status == 0)
        let resumed = try GANCL.run(["train", "--resume", split, "--steps", "12"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Resuming \(split) at step 6"))
        let a = try SafetensorsFile.read(straight + "/checkpoints/step-000012.safetensors")
        let b = try SafetensorsFile.read(split + "/checkpoints/step-000012.safetensors")
        #expect(a.tensors.count > 10 && a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name)")
        }
        #expect(a.metadata["table_transform"] == b.metadata["table_transform"] && a.metadata["table_transform"] != nil)
    }

    @Test func badTablesAndFlagsAreOneLine() throws {
        let directory = try TemporaryDirectory()
        let table = try writeTable(directory)
        let out = directory.path + "/run"
        expectOneLineError(try GANCL.run(["train", "--data", table, "--holdout-fraction", "0.95", "--out", out]),
                           "holdout-fraction must be a number in [0.0, 0.9]")
        expectOneLineError(try GANCL.run(["train", "--data", table, "--target", "nope", "--holdout-fraction", "0.2", "--out", out]),
                           "--target: \(table) has no column 'nope'")
        expectOneLineError(try GANCL.run(["train", "--data", table, "--target", "city", "--out", out]),
                           "--target measures usefulness on held-out rows")
        expectOneLineError(try GANCL.run(["train", "--data", table, "--categorical", "zip", "--out", out]),
                           "has no column 'zip'")
        expectOneLineError(try GANCL.run(["train", "--data", directory.path + "/none.csv", "--out", out]), "none.csv: cannot be read")
        let single = directory.path + "/single.csv"
        try "a,b\n1,x\n2,x\n3,x\n".write(toFile: single, atomically: true, encoding: .utf8)
        expectOneLineError(try GANCL.run(["train", "--data", single, "--out", out]), "column 'b' has one value only")
        expectOneLineError(try GANCL.run(["train", "--data", "ring8", "--model", "tabular", "--out", out]), "a span head is for table data")
        #expect(!FileManager.default.fileExists(atPath: out))
        // Without conditions: no condition layers, and sampling takes none.
        let plain = try GANCL.run(["train", "--data", table, "--no-conditional", "--steps", "2", "--eval-every", "0", "--out", out] + small)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!plain.stdout.contains("condition") && plain.stdout.contains("span-head t0.2 gumbel →"), "\(plain.stdout)")
        let checkpoint = out + "/checkpoints/step-000002.safetensors"
        #expect(try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "5", "--out", out + "/s.csv"]).status == 0)
        #expect(try Table.read(out + "/s.csv").rows.count == 5)
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", out + "/s.csv", "--condition", "city=Paris"]),
                           "was trained without conditions (--no-conditional)")
    }
}
