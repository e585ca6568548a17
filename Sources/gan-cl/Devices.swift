import ArgumentParser
import BackendConformance
import OpenCLBackend

/// `gan-cl devices`: lists OpenCL platforms and devices, or checks one against the CPU.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List OpenCL devices, or check every backend operation on one against the CPU reference.",
        discussion: """
            A device is chosen by --device or the GANCL_DEVICE variable: an index from this \
            list ("1"), a platform:device pair ("0:1"), or part of a device or platform name \
            ("nvidia", "pthread"). Without either, gan-cl uses the first GPU, else the first device.
            """)

    @Flag(help: "Run every operation on the chosen device against the CPU reference on random inputs.")
    var check = false

    @OptionGroup var target: DeviceOptions

    @Flag(help: "With --check: only a few small shapes (for simulators such as oclgrind).")
    var quick = false

    @Option(name: .customLong("operation"), help: "With --check: only this operation (repeatable).")
    var operations: [String] = []

    func validate() throws {
        for operation in operations where !ConformanceCatalogue.operations.contains(operation) {
            throw ValidationError(
                "unknown operation '\(operation)'; one of: \(ConformanceCatalogue.operations.joined(separator: ", "))")
        }
    }

    func run() throws {
        try reportingErrors {
            if check { try runCheck() } else { try list() }
        }
    }

    private func list() throws {
        let devices = try OpenCLDevice.all()
        let chosen = try OpenCLDevice.chosen(by: target.device)
        var platform = -1
        for d in devices {
            if d.platformIndex != platform {
                platform = d.platformIndex
                print("Platform \(platform): \(d.platformName)")
            }
            print("  Device \(d.index) [\(d.platformIndex):\(d.index - devices.firstIndex { $0.platformIndex == platform }!)]: \(d.name)\(d.index == chosen.index ? "  (chosen)" : "")")
            print("    vendor:         \(d.vendor)")
            print("    driver:         \(d.driverVersion)")
            print("    type:           \(d.typeName)")
            print("    compute units:  \(d.computeUnits)")
            print("    global memory:  \(formatBytes(d.globalMemoryBytes)) (largest buffer \(formatBytes(d.maxAllocationBytes)))")
            print("    local memory:   \(d.localMemoryBytes / 1024) KiB; work-groups up to \(d.maxWorkGroupSize); native float vectors of \(d.nativeFloatVectorWidth)")
            print("    OpenCL C:       \(d.openCLCVersion)")
        }
    }

    private func runCheck() throws {
        let backend = try OpenCLBackend(device: try OpenCLDevice.chosen(by: target.device))
        print("Checking \(backend.device.name) (\(backend.device.platformName), driver \(backend.device.driverVersion)) against the CPU reference")
        print("GEMM tunables: \(backend.tunables.gemm), \(backend.tunables.cpuGEMM ? "CPU kernels" : "tiled kernel"); \(backend.tunables.source)")
        try backend.buildAllPrograms()
        let table = TablePrinter(columns: [("operation", 34), ("shape", 16), ("max rel. error", 15), ("tolerance", 10), ("result", 6)])
        table.printHeader()
        var failed = 0
        let results = try Conformance.run(
            on: backend, size: quick ? .quick : .full,
            operations: operations.isEmpty ? ConformanceCatalogue.operations : operations
        ) { result in
            if !result.passed { failed += 1 }
            let error: String
            switch result.trial.comparison {
            case .bitExact: error = result.passed ? "0 (equal)" : "\(Int(result.maxError)) differ"
            case .relative: error = formatScientific(result.maxError)
            }
            table.printRow([result.trial.label, result.trial.shape, error, result.toleranceText, result.passed ? "pass" : "FAIL"])
            if !result.passed { print("    \(result.detail)") }
        }
        print("checks: \(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}
