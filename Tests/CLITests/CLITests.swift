import Foundation
import Testing

/// The built `gan-cl` as a user runs it: its output, messages and exit codes.
@Suite("gan-cl command line", .serialized)
struct CLITests {
    @Test func devicesListsEachDevice() throws {
        let result = try GANCL.run(["devices"])
        #expect(result.status == 0, "\(result.stderr)")
        for field in ["Platform 0:", "Device 0", "vendor:", "driver:", "type:", "compute units:", "global memory:", "OpenCL C:"] {
            #expect(result.stdout.contains(field), "missing \(field)")
        }
        #expect(result.stdout.contains("(chosen)"))
    }

    @Test func checkPrintsATableAndPasses() throws {
        let result = try GANCL.run(["devices", "--check", "--quick", "--operation", "gemm", "--operation", "philox-normal"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("operation") && result.stdout.contains("max rel. error"))
        #expect(result.stdout.contains("gemm TN") && result.stdout.contains("philox normal"))
        #expect(!result.stdout.contains("FAIL"))
        #expect(result.stdout.contains("checks: 24 passed, 0 failed"))
    }

    /// PoCL runs GEMM with the CPU kernels; the tiled (GPU) kernel must stay right on it
    /// too, for devices that choose it.
    @Test func bothGEMMKernelFamiliesPass() throws {
        // The tiled kernel (with float4 loads too), the CPU kernel with PoCL's blocks, with
        // odd blocks, and with row blocks along dimension 0 (panels of B shared at every
        // size, k in chunks of 16: the quick shapes' k of 23, 33 and 44 take 2 and 3 chunks),
        // and with every NT product by dot products (the quick shapes' k are all below the
        // built-in 256), each with the fused epilogues as well.
        for environment in [["GANCL_GEMM_CPU_KERNELS": "0"], ["GANCL_GEMM_CPU_KERNELS": "0", "GANCL_GEMM_TUNABLES": "32,32,16,4,4,4"],
                            ["GANCL_GEMM_CPU_KERNELS": "1"],
                            ["GANCL_GEMM_CPU_KERNELS": "1", "GANCL_GEMM_ROWS": "3,3"],
                            ["GANCL_GEMM_CPU_KERNELS": "1", "GANCL_GEMM_SHARE_B_ABOVE": "0", "GANCL_GEMM_PANEL_BYTES": "1024"],
                            ["GANCL_GEMM_CPU_KERNELS": "1", "GANCL_GEMM_DOT_MIN_K": "0"],
                            // The packed kernel for every shape, with blocks smaller than the
                            // quick shapes (several blocks, edges, k in chunks of 8 and 7).
                            ["GANCL_GEMM_CPU_KERNELS": "1", "GANCL_GEMM_PACKED": "3,1,8,6,32"],
                            ["GANCL_GEMM_CPU_KERNELS": "1", "GANCL_GEMM_PACKED": "5,3,7,10,48"]] {
            for (operation, count) in [("gemm", 20), ("gemm-epilogue", 20)] {
                let result = try GANCL.run(["devices", "--check", "--quick", "--operation", operation], environment: environment)
                #expect(result.status == 0 && result.stdout.contains("checks: \(count) passed, 0 failed"), "\(environment): \(result.stdout)\(result.stderr)")
            }
        }
        expectOneLineError(
            try GANCL.run(["devices", "--check", "--quick"], environment: ["GANCL_GEMM_SHARE_B_ABOVE": "lots"]),
            "expected a number of bytes")
        expectOneLineError(try GANCL.run(["devices", "--check", "--quick"], environment: ["GANCL_GEMM_ROWS": "8"]), "expected ROWS,VECTORS")
        expectOneLineError(try GANCL.run(["devices", "--check", "--quick"], environment: ["GANCL_GEMM_DOT_MIN_K": "-1"]), "expected a k of 0 or more")
        expectOneLineError(
            try GANCL.run(["devices", "--check", "--quick"], environment: ["GANCL_GEMM_PANEL_BYTES": "-5"]),
            "expected a number of bytes (0: no chunks)")
        expectOneLineError(try GANCL.run(["devices", "--check", "--quick"], environment: ["GANCL_GEMM_CPU_KERNELS": "yes"]), "expected 1 or 0")
        for packed in ["3,1", "4,1,8,6,32", "3,5,8,6,80", "3,1,8,6,32,-1", "12,2,4096,96,4096"] {
            expectOneLineError(
                try GANCL.run(["devices", "--check", "--quick"], environment: ["GANCL_GEMM_PACKED": packed]),
                "expected 0, or MR,NV,KC,MC,NC[,MIN_WORK]")
        }
    }

    @Test("A device name that matches nothing is a one-line error listing the devices",
          arguments: [(["devices", "--check"], ["GANCL_DEVICE": "nonexistent"]),
                      (["devices", "--check", "--device", "nonexistent"], [:])])
    func missingDevice(arguments: [String], environment: [String: String]) throws {
        let result = try GANCL.run(arguments, environment: environment)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("gan-cl: error: no OpenCL device matches 'nonexistent'; available: 0: "))
    }

    @Test func noPlatformNamesThePackageToInstall() throws {
        let empty = try TemporaryDirectory()
        let result = try GANCL.run(["devices"], environment: ["OCL_ICD_VENDORS": empty.path, "OCL_ICD_FILENAMES": ""])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no OpenCL platform found") && result.stderr.contains("pocl-opencl-icd"))
    }

    /// `gan-cl tune` checks, times and stores a winner that later runs on the device use;
    /// a corrupt cache is a one-line error; candidates that compute wrong results are
    /// refused and leave the cache as it was.
    @Test func tuneStoresAWinnerThatLaterRunsUse() throws {
        let directory = try TemporaryDirectory()
        let cache = directory.url.appendingPathComponent("cache/tunables.json")
        let environment = ["GANCL_TUNING_CACHE": cache.path]
        let tuned = try GANCL.run(["tune", "--batches", "8", "--candidates", "2", "--rounds", "1"], environment: environment)
        #expect(tuned.status == 0, "\(tuned.stdout)\(tuned.stderr)")
        #expect(tuned.stdout.contains("chosen: ") && tuned.stdout.contains("stored in \(cache.path)"), "\(tuned.stdout)")
        let stored = try String(contentsOf: cache, encoding: .utf8)
        let listing = try GANCL.run(["devices"], environment: environment)
        let driverLine = listing.stdout.split(separator: "\n").first { $0.contains("driver:") }
        let driver = driverLine.map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) } ?? "?"
        #expect(stored.contains("\"driver\" : \"\(driver)\"") && stored.contains("\"gemm\""), "\(stored)")

        let check = try GANCL.run(["devices", "--check", "--quick", "--operation", "gemm"], environment: environment)
        #expect(check.status == 0 && check.stdout.contains("; tuned "), "\(check.stdout)\(check.stderr)")

        // Kernels that compute wrong sums: no candidate passes, and the cache is kept.
        let kernels = try TemporaryDirectory(copying: GANCL.kernelsDirectory)
        let gemm = kernels.url.appendingPathComponent("gemm.cl")
        let source = try String(contentsOf: gemm, encoding: .utf8)
        try source.replacingOccurrences(of: "float16 result = alpha * sum;", with: "float16 result = alpha * sum * 1.01f;")
            .replacingOccurrences(of: "float v = beta == 0.0f ? alpha * sum", with: "float v = beta == 0.0f ? 1.01f * alpha * sum")
            .write(to: gemm, atomically: true, encoding: .utf8)
        let refused = try GANCL.run(
            ["tune", "--batches", "8", "--candidates", "2", "--rounds", "1"],
            environment: environment.merging(["GANCL_KERNELS_DIR": kernels.path]) { $1 })
        expectOneLineError(refused, "no candidate passed the check against the CPU reference")
        #expect(try String(contentsOf: cache, encoding: .utf8) == stored)

        try "{\"format\": 1}".write(to: cache, atomically: true, encoding: .utf8)
        expectOneLineError(
            try GANCL.run(["devices", "--check", "--quick", "--operation", "gemm"], environment: environment),
            "is not a gan-cl tuning cache")
    }

    /// With `GANCL_GEMM_CPU_KERNELS=0`, `tune` searches the tiled kernel's candidates (a
    /// GPU's family) on any device: each tile shape with scalar and with float4 loads,
    /// and the winner is stored with its family, which later runs use without the variable.
    @Test func tuneSearchesTheTiledKernelOnRequest() throws {
        let directory = try TemporaryDirectory()
        let cache = directory.url.appendingPathComponent("tunables.json")
        let tuned = try GANCL.run(
            ["tune", "--batches", "8", "--candidates", "2", "--rounds", "1"],
            environment: ["GANCL_TUNING_CACHE": cache.path, "GANCL_GEMM_CPU_KERNELS": "0"])
        #expect(tuned.status == 0, "\(tuned.stdout)\(tuned.stderr)")
        let rows = tuned.stdout.split(separator: "\n").filter { $0.hasPrefix("tiled, 64x64x16 tiles, 4x4 a work-item") }
        #expect(rows.count == 2 && rows.contains { $0.contains("float4 loads") }, "\(tuned.stdout)")
        let stored = try String(contentsOf: cache, encoding: .utf8)
        #expect(stored.contains("\"cpuKernels\" : false") && stored.contains("\"vectorWidth\""), "\(stored)")
        let check = try GANCL.run(
            ["devices", "--check", "--quick", "--operation", "gemm-epilogue"], environment: ["GANCL_TUNING_CACHE": cache.path])
        #expect(check.status == 0 && check.stdout.contains("checks: 20 passed, 0 failed"), "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("64x64x16 tiles, 4x4 per work-item") && check.stdout.contains("tiled kernel; tuned "), "\(check.stdout)")
        // A vector width the kernel cannot build with makes the cache corrupt, not a crash.
        try stored.replacingOccurrences(of: "\"vectorWidth\" : 1", with: "\"vectorWidth\" : 3")
            .replacingOccurrences(of: "\"vectorWidth\" : 4", with: "\"vectorWidth\" : 3")
            .write(to: cache, atomically: true, encoding: .utf8)
        expectOneLineError(
            try GANCL.run(["devices", "--check", "--quick", "--operation", "gemm"], environment: ["GANCL_TUNING_CACHE": cache.path]),
            "is not a gan-cl tuning cache")
    }

    /// `bench gemm --shapes` times the shapes it is given (a GPU's 4096³) in place of the
    /// reference ones, beside CLBlast, and writes them to the JSON; a malformed list is a
    /// one-line error.
    @Test func benchGEMMTimesRequestedShapes() throws {
        let directory = try TemporaryDirectory()
        let json = directory.url.appendingPathComponent("gemm.json")
        let result = try GANCL.run(
            ["bench", "gemm", "--shapes", "96x80x72,33x17x5", "--batches", "2", "--seconds", "0", "--cpu-limit", "0",
             "--json", json.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("NN 96x80x72") && result.stdout.contains("requested"), "\(result.stdout)")
        #expect(!result.stdout.contains("reference"), "\(result.stdout)")
        struct Report: Decodable {
            struct Row: Decodable {
                struct Shape: Decodable { let name: String; let m, n, k: Int }
                let shape: Shape
                let openCLGFLOPS: Double
            }
            let rows: [Row]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: json))
        // The two requested shapes, then 3 GEMMs of each of the 10 layers at batch 2.
        #expect(report.rows.count == 2 + 30)
        #expect(report.rows.prefix(2).map { [$0.shape.m, $0.shape.n, $0.shape.k] } == [[96, 80, 72], [33, 17, 5]])
        #expect(report.rows.allSatisfy { $0.openCLGFLOPS > 0 && $0.openCLGFLOPS.isFinite })
        for bad in ["96x80", "0x4x4", "4096x4096x4096,", "axbxc", "96x80x72xz", "96xx80x72"] {
            expectOneLineError(try GANCL.run(["bench", "gemm", "--shapes", bad]), "--shapes takes MxNxK sizes")
        }
        // No batch sizes: the requested shapes alone.
        let alone = try GANCL.run(
            ["bench", "gemm", "--shapes", "96x80x72", "--batches", "", "--seconds", "0", "--cpu-limit", "0", "--json", json.path])
        #expect(alone.status == 0, "\(alone.stdout)\(alone.stderr)")
        #expect(try JSONDecoder().decode(Report.self, from: Data(contentsOf: json)).rows.count == 1)
    }

    /// `bench step --profile` gives each CPU GEMM kernel's GFLOP/s from the case and shape
    /// in its label (beside OpenBLAS's where it is installed).
    @Test func stepProfileGivesGEMMRates() throws {
        let result = try GANCL.run(["bench", "step", "--model", "mlp", "--backend", "opencl", "--batches", "8", "--seconds", "0.2", "--profile"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("gemm_") }
        #expect(!rows.isEmpty, "\(result.stdout)")
        for row in rows {
            let fields = row.split(separator: " ", omittingEmptySubsequences: true)
            let rate = Double(fields[fields.count - 2]) ?? Double(fields[fields.count - 1])
            #expect(rate.map { $0 > 0 && $0.isFinite } == true, "\(row)")
        }
    }

    @Test func kernelsCanBeReadFromDisk() throws {
        let kernels = try TemporaryDirectory(copying: GANCL.kernelsDirectory)
        let result = try GANCL.run(
            ["devices", "--check", "--quick", "--operation", "scale"], environment: ["GANCL_KERNELS_DIR": kernels.path])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func aKernelBuildFailureShowsDeviceOptionsAndLog() throws {
        let kernels = try TemporaryDirectory(copying: GANCL.kernelsDirectory)
        let gemm = kernels.url.appendingPathComponent("gemm.cl")
        let source = try String(contentsOf: gemm, encoding: .utf8)
        try source.replacingOccurrences(of: "acc[i][j] = fma(", with: "acc[i][j] = undeclared_function(")
            .write(to: gemm, atomically: true, encoding: .utf8)
        let result = try GANCL.run(
            ["devices", "--check", "--quick", "--operation", "gemm"], environment: ["GANCL_KERNELS_DIR": kernels.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("building gemm.cl for "))
        #expect(result.stderr.contains("-D TILE_M="))
        #expect(result.stderr.contains("undeclared_function"))
    }

    @Test func gemmTunablesCanBeOverridden() throws {
        let other = try GANCL.run(["devices", "--check", "--quick", "--operation", "gemm"], environment: ["GANCL_GEMM_TUNABLES": "32,64,8,4,8"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.contains("GEMM tunables: 32x64x8 tiles, 4x8 per work-item"))
        // The CPU kernels' choices (PoCL's groups of 4) stay as they were.
        // (4×64 blocks with AVX-512, 4×16 without: the built-in choice follows the vector width.)
        #expect(other.stdout.contains("CPU blocks 4x64, groups of 4, ") || other.stdout.contains("CPU blocks 4x16, groups of 4, "),
                "\(other.stdout)")
        let bad = try GANCL.run(["devices", "--check", "--operation", "gemm"], environment: ["GANCL_GEMM_TUNABLES": "64,64,16,7,8"])
        #expect(bad.status == 1)
        let expected = "expected TILE_M,TILE_N,TILE_K,WPT_M,WPT_N[,VW] with WPT_M dividing TILE_M, WPT_N dividing TILE_N, and VW 1 or 4 (4: WPT_M, WPT_N and TILE_K multiples of 4)"
        #expect(bad.stderr == "gan-cl: error: GANCL_GEMM_TUNABLES=64,64,16,7,8: \(expected)\n")
        let vectors = try GANCL.run(["devices", "--check", "--quick", "--operation", "gemm"], environment: ["GANCL_GEMM_TUNABLES": "32,64,8,4,8,4"])
        #expect(vectors.status == 0, "\(vectors.stderr)")
        #expect(vectors.stdout.contains("GEMM tunables: 32x64x8 tiles, 4x8 per work-item, float4 loads"))
        for text in ["32,32,16,2,4,4", "32,32,6,4,4,4", "32,32,16,4,4,2", "32,32,16,4,4,x", "32,32,16,4,4,"] {
            let badWidth = try GANCL.run(["devices", "--check", "--operation", "gemm"], environment: ["GANCL_GEMM_TUNABLES": text])
            #expect(badWidth.status == 1)
            #expect(badWidth.stderr == "gan-cl: error: GANCL_GEMM_TUNABLES=\(text): \(expected)\n")
        }
    }

    @Test func unknownOperationIsAUsageError() throws {
        let result = try GANCL.run(["devices", "--check", "--operation", "nope"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("unknown operation 'nope'"))
    }
}

// MARK: - Running the executable

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum GANCL {
    /// The `gan-cl` beside this test bundle in the build folder.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("gan-cl")
    }

    /// Kernels/ of this checkout.
    static var kernelsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Kernels")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw CLITestError("\(executable.path) is not built: run `swift build` with the same configuration first")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged.removeValue(forKey: "GANCL_DEVICE")
        merged.removeValue(forKey: "GANCL_KERNELS_DIR")
        merged.removeValue(forKey: "GANCL_GEMM_TUNABLES")
        // A tuning cache left by the user's own `gan-cl tune` must not change what the tests see:
        // unless a test names one, the runs read a cache that does not exist.
        merged["GANCL_TUNING_CACHE"] = FileManager.default.temporaryDirectory
            .appendingPathComponent("gan-cl-tests-untuned-\(ProcessInfo.processInfo.processIdentifier)/tunables.json").path
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        let out = Pipe()
        let errFile = try TemporaryFile()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errFile.url)
        try process.run()
        // Standard error goes to a file, so neither pipe can fill and stall the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errData = try Data(contentsOf: errFile.url)
        return ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }
}

struct CLITestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fresh directory, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init(copying source: URL? = nil) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gan-cl-test-\(UUID().uuidString)")
        if let source {
            try FileManager.default.copyItem(at: source, to: url)
        } else {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// An empty file, removed when the value goes away.
final class TemporaryFile {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gan-cl-test-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CLITestError("cannot create \(url.path)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
