import Foundation
import Testing

/// `--tensorboard` (on by default): TensorBoard's own event reader finds every
/// metrics.csv column as a scalar and each sample grid as an image, across a resume; each
/// record's masked CRC-32C is checked with TensorBoard's function; `--no-tensorboard`
/// writes no event file.
@Suite("gan-cl train --tensorboard", .serialized)
struct TensorBoardCLITests {
    @Test func eventFilesHoldTheMetricsAndGridsAcrossAResume() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let first = try GANCL.run(["train", "--data", data.path, "--steps", "12", "--log-every", "4", "--sample-every", "6",
                                   "--loss", "wgan-gp", "--backend", "cpu", "--out", out.path] + smallRun)
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try GANCL.run(["train", "--resume", out.path, "--steps", "18"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix("events.out.tfevents.") }
        #expect(files.count == 2, "\(files)")
        let output = try Python.run("""
            import csv, glob, os, struct
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
            run = "\(out.path)"
            records = 0
            for name in glob.glob(run + "/events.out.tfevents.*"):
                data = open(name, "rb").read()
                at = 0
                while at < len(data):
                    header = data[at:at + 8]
                    (length,) = struct.unpack("<Q", header)
                    assert struct.unpack("<I", data[at + 8:at + 12])[0] == masked_crc32c(header), "length CRC"
                    body = data[at + 12:at + 12 + length]
                    assert struct.unpack("<I", data[at + 12 + length:at + 16 + length])[0] == masked_crc32c(body), "data CRC"
                    at += 16 + length
                    records += 1
            ea = EventAccumulator(run, size_guidance={"scalars": 0, "images": 0})
            ea.Reload()
            rows = list(csv.DictReader(open(run + "/metrics.csv")))
            assert [int(r["step"]) for r in rows] == [4, 8, 12, 16, 18], [r["step"] for r in rows]
            columns = [c for c in rows[0] if c != "step" and any(r[c] for r in rows)]
            assert "gradient_penalty" in columns and "diversity" in columns, columns
            for column in columns:
                events = {e.step: e.value for e in ea.Scalars(column)}
                wanted = {int(r["step"]): float(r[column]) for r in rows if r[column]}
                assert sorted(events) == sorted(wanted), (column, sorted(events), sorted(wanted))
                for step, value in wanted.items():
                    assert abs(events[step] - value) <= 1e-3 * max(1, abs(value)), (column, step, events[step], value)
            images = ea.Images("samples")
            assert [i.step for i in images] == [6, 12, 18], [i.step for i in images]
            for i in images:
                png = open(run + "/samples/step-%06d.png" % i.step, "rb").read()
                assert i.encoded_image_string == png and i.width > 56 and i.height > 56
            print("ok", records, len(columns))
            """)
        #expect(output.hasPrefix("ok"), "\(output)")

        let quiet = try TemporaryDirectory()
        let off = try GANCL.run(["train", "--data", data.path, "--steps", "2", "--no-tensorboard", "--backend", "cpu", "--out", quiet.path] + smallRun)
        #expect(off.status == 0, "\(off.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: quiet.path).allSatisfy { !$0.contains("tfevents") })
        let config = try String(contentsOfFile: "\(quiet.path)/config.json", encoding: .utf8)
        #expect(config.contains("\"tensorboard\" : false"))
    }
}
