import BackendConformance
import CPUBackend
import ComputeBackend
import OpenCLBackend
import Foundation
import Testing

/// Every backend operation on the OpenCL device against the CPU reference: random inputs
/// (never zeros), outputs poisoned with NaN, at least 20 shapes per operation from 1×1×1
/// through primes to sizes past every tile (ConformanceCatalogue).
/// The OpenCL suites run one test at a time: the memory test reads the process's
/// resident size, which concurrent tests on the same backend would disturb.
@Suite("OpenCL backend", .serialized)
struct OpenCLTests {}

extension OpenCLTests {
@Suite("OpenCL conformance against the CPU reference")
struct ConformanceTests {
    @Test("Operation matches the CPU reference on every shape", arguments: ConformanceCatalogue.operations)
    func operation(_ operation: String) throws {
        let backend = try SharedBackend.get()
        let trials = ConformanceCatalogue.trials(of: operation, size: .full)
        let shapes = Set(trials.map(\.shape))
        #expect(shapes.count >= 20, "\(operation) is checked on \(shapes.count) shapes")
        for trial in trials {
            let result = try Conformance.check(trial, on: backend)
            #expect(result.passed, "\(trial.label) \(trial.shape): error \(result.maxError) > \(result.toleranceText); \(result.detail)")
        }
    }

    /// The packed kernel on every GEMM shape and transpose case of the full catalogue (up
    /// to 1000³: its 12 × 32 tiles and 96 × 512 blocks cross every edge, and k goes in
    /// chunks of 256), on a CPU device, the kind that runs it; the default choice sends
    /// only some shapes there.
    @Test func packedKernelMatchesTheReference() throws {
        let device = try OpenCLDevice.chosen(by: OpenCLTestEnvironment.deviceSpec)
        guard !device.isGPU else { return }
        var tunables = try OpenCLTunables.defaults(for: device)
        tunables.cpuGEMM = true
        tunables.gemm.packed = PackedGEMMBlocks()
        tunables.gemm.packedMinimumWork = 0
        let backend = try OpenCLBackend(device: device, tunables: tunables)
        for trial in ConformanceCatalogue.trials(of: "gemm", size: .full) {
            let result = try Conformance.check(trial, on: backend)
            #expect(result.passed, "\(trial.label) \(trial.shape): error \(result.maxError) > \(result.toleranceText); \(result.detail)")
        }
    }

    @Test func catalogueCoversTheRequiredShapes() {
        let gemmShapes = Set(ConformanceCatalogue.trials(of: "gemm", size: .full).map(\.shape))
        for required in ["1x1x1", "7x13x5", "129x257x65", "64x1024x784", "1000x1000x1000"] {
            #expect(gemmShapes.contains(required))
        }
        let labels = Set(ConformanceCatalogue.trials(of: "gemm", size: .full).map { String($0.label.prefix(7)) })
        #expect(labels == ["gemm NN", "gemm NT", "gemm TN", "gemm TT"])
        for operation in ConformanceCatalogue.operations {
            #expect(!ConformanceCatalogue.trials(of: operation, size: .quick).isEmpty, "\(operation) has quick trials")
        }
    }

    /// The comparison can fail: a result off by more than the tolerance, or an output
    /// left unwritten (NaN), is reported as a failure.
    @Test func comparisonDetectsWrongAndUnwrittenOutputs() throws {
        let trial = ConformanceCatalogue.trials(of: "scale", size: .quick)[1]
        let reference = try trial.run(on: CPUBackend())
        let wrong = [reference[0].enumerated().map { $0.offset == 3 ? $0.element * (1 + 1e-4) : $0.element }]
        #expect(!Conformance.compare(trial, outputs: wrong, reference: reference).passed)
        let unwritten = [reference[0].enumerated().map { $0.offset == 5 ? Float.nan : $0.element }]
        #expect(!Conformance.compare(trial, outputs: unwritten, reference: reference).passed)
        #expect(Conformance.compare(trial, outputs: reference, reference: reference).passed)
    }
}

@Suite("OpenCL backend behaviour")
struct BehaviourTests {
    /// Reductions have a fixed order: the same inputs give the same bits every time.
    @Test func reductionsAreDeterministic() throws {
        let backend = try SharedBackend.get()
        var values: [Float] = []
        var state: UInt32 = 12345
        for _ in 0..<100_003 {
            state = state &* 1_664_525 &+ 1_013_904_223
            values.append(Float(state >> 8) * 0x1p-24 - 0.5)
        }
        let x = try backend.makeBuffer(values)
        let out = try backend.makeBuffer(count: 1)
        let columns = try backend.makeBuffer(count: 7)
        var means: Set<UInt32> = [], sums: Set<[UInt32]> = []
        for _ in 0..<5 {
            try backend.mean(x, count: values.count, into: out)
            means.insert(try backend.read(out)[0].bitPattern)
            try backend.sumColumns(x, rows: 14_286, columns: 7, into: columns, accumulate: false)
            sums.insert(try backend.read(columns).map(\.bitPattern))
        }
        #expect(means.count == 1 && sums.count == 1)
    }

    /// Buffers, and the kernel arguments that name them, are released: 10,000 rounds of
    /// allocate, write, compute, read do not grow the process.
    @Test func repeatedOperationsDoNotGrowMemory() throws {
        let backend = try SharedBackend.get()
        let values = (0..<4096).map { Float($0 % 97) * 0.01 + 0.5 }
        func round() throws {
            let x = try backend.makeBuffer(values)
            let y = try backend.makeBuffer(count: values.count)
            try backend.activationForward(.tanh, x: x, y: y, count: values.count)
            try backend.scale(y, count: values.count, by: 2)
            _ = try backend.read(y, offset: 0, count: 16)
        }
        for _ in 0..<1000 { try round() }
        // A leak of the two 16 KiB buffers per round would be over 300 MiB in every
        // attempt; tests running beside this one (the evaluation's feature sets) can
        // grow the process meanwhile, so the smallest growth of three attempts counts.
        var growths: [Int] = []
        for _ in 0..<3 {
            let before = residentBytes()
            for _ in 0..<10_000 { try round() }
            growths.append(residentBytes() - before)
            if growths.last! < 48 << 20 { break }
        }
        #expect(growths.min()! < 48 << 20, "resident memory grew by \(growths) bytes")
    }

    @Test func statusCodesHaveTheirNames() {
        #expect(OpenCLError.name(of: -5) == "CL_OUT_OF_RESOURCES")
        #expect(OpenCLError.name(of: -4) == "CL_MEM_OBJECT_ALLOCATION_FAILURE")
        #expect(OpenCLError.name(of: -54) == "CL_INVALID_WORK_GROUP_SIZE")
        let error = OpenCLError.call("clEnqueueNDRangeKernel(gemm)", -5)
        #expect(error.description == "OpenCL call clEnqueueNDRangeKernel(gemm) failed with CL_OUT_OF_RESOURCES (-5)")
    }

    @Test func deviceSelection() throws {
        let devices = try OpenCLDevice.all()
        #expect(!devices.isEmpty)
        #expect(try OpenCLDevice.select("0").index == 0)
        #expect(try OpenCLDevice.select("0:0").index == devices.first { $0.platformIndex == 0 }!.index)
        #expect(try OpenCLDevice.select(String(devices[0].name.prefix(6)).uppercased()).index == 0)
        #expect(throws: OpenCLError.self) { try OpenCLDevice.select("no-such-device") }
        #expect(throws: OpenCLError.self) { try OpenCLDevice.select("\(devices.count)") }
        do {
            _ = try OpenCLDevice.select("no-such-device")
        } catch let error as OpenCLError {
            #expect(error.description.contains(devices[0].name))
        }
    }

    @Test func oversizedAllocationNamesTheLimit() throws {
        let backend = try SharedBackend.get()
        let elements = backend.device.maxAllocationBytes / 4 + 1
        guard elements <= Int(Int32.max) else { return }
        #expect {
            _ = try backend.makeBuffer(count: elements)
        } throws: { error in
            "\(error)".contains("\(backend.device.maxAllocationBytes)") && "\(error)".contains("smaller batch size")
        }
    }

    @Test func wrongShapesAreErrorsBeforeAnyLaunch() throws {
        let backend = try SharedBackend.get()
        let a = try backend.makeBuffer(count: 10)
        #expect(throws: BackendError.self) {
            try backend.gemm(transposeA: false, transposeB: false, m: 4, n: 4, k: 4, alpha: 1, a: a, b: a, beta: 0, c: a)
        }
        #expect(throws: BackendError.self) { try backend.sumRows(a, rows: 6, columns: 2, into: a) }
        #expect(throws: BackendError.self) { try backend.normal(a, count: 11, seed: 1, counter: 0, mean: 0, std: 1) }
    }
}

}

/// Resident set size of this process, from /proc/self/statm.
func residentBytes() -> Int {
    let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

extension OpenCLTests.BehaviourTests {
    /// Buffers that together pass the device's global memory fail at allocation, with
    /// the figures, rather than at some later launch.
    @Test func allocationsPastGlobalMemoryNameTheLimit() throws {
        let backend = try SharedBackend.get()
        let device = backend.device
        let elements = min(device.maxAllocationBytes, 256 << 20) / 4
        var held: [OpenCLBuffer] = []
        #expect {
            for _ in 0...(device.globalMemoryBytes / (elements * 4) + 1) { held.append(try backend.makeBuffer(count: elements)) }
        } throws: { error in
            "\(error)".contains("past its \(device.globalMemoryBytes) bytes of global memory")
        }
        let count = held.count
        held.removeAll()
        // Released buffers give their bytes back.
        held = try (0..<count).map { _ in try backend.makeBuffer(count: elements) }
        #expect(held.count == count)
    }
}

extension OpenCLTests.BehaviourTests {
    /// `bench gemm` compares with CLBlast: the call must compute the same GEMM (its
    /// leading dimensions and transposes), checked like a kernel against the CPU reference.
    @Test func clblastComputesTheSameGEMM() throws {
        let backend = try SharedBackend.get()
        let clblast = try #require(CLBlastGEMM(), "CLBlast is not installed (scripts/setup.sh installs libclblast-dev)")
        let trials = ConformanceCatalogue.trials(of: "gemm", size: .quick)
        #expect(Set(trials.map { String($0.label.prefix(7)) }) == ["gemm NN", "gemm NT", "gemm TN", "gemm TT"])
        for trial in trials {
            guard case .gemm(let ta, let tb, let m, let n, let k, let alpha, let beta) = trial.call else { continue }
            let reference = try trial.run(on: CPUBackend(referenceGEMM: true))
            let a = try backend.makeBuffer(trial.inputs[0]), b = try backend.makeBuffer(trial.inputs[1])
            let c = try backend.makeBuffer(trial.inputs[2])
            try clblast.gemm(on: backend, transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c)
            let result = Conformance.compare(trial, outputs: [try backend.read(c)], reference: reference)
            #expect(result.passed, "CLBlast \(trial.label) \(trial.shape): \(result.detail)")
        }
    }

    /// CLBlast's Convgemm as `bench conv` calls it (NCHW images, kernels of (outputs,
    /// channels, k, k)) computes the implicit-convolution trials' outputs: the binding's
    /// argument order is right, so its column times the same convolution.
    @Test func clblastConvgemmComputesTheSameConvolution() throws {
        let backend = try SharedBackend.get()
        let clblast = try #require(CLBlastGEMM(), "CLBlast is not installed (scripts/setup.sh installs libclblast-dev)")
        try #require(clblast.hasConvgemm, "this CLBlast has no Convgemm")
        var checked = 0
        for trial in ConformanceCatalogue.trials(of: "conv-implicit", size: .quick) {
            guard case .convolutionImplicit(let g, let n, nil) = trial.call else { continue }
            let reference = try trial.run(on: CPUBackend(referenceGEMM: true))
            let (h, w, c, k, oh, ow) = (g.height, g.width, g.channels, g.kernel, g.outputHeight, g.outputWidth)
            var images = [Float](repeating: 0, count: g.imageElements)
            for b in 0..<g.batch { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                images[((b * c + ch) * h + y) * w + x] = trial.inputs[0][((b * h + y) * w + x) * c + ch]
            } } } }
            var kernels = [Float](repeating: 0, count: g.patchSize * n)
            for o in 0..<n { for ky in 0..<k { for kx in 0..<k { for ch in 0..<c {
                kernels[((o * c + ch) * k + ky) * k + kx] = trial.inputs[1][((ky * k + kx) * c + ch) * n + o]
            } } } }
            let y = try backend.makeBuffer(count: g.positions * n)
            try clblast.convgemm(
                on: backend, geometry: g, outputChannels: n, x: try backend.makeBuffer(images),
                kernels: try backend.makeBuffer(kernels), y: y)
            let nchw = try backend.read(y)
            var nhwc = [Float](repeating: 0, count: nchw.count)
            for b in 0..<g.batch { for o in 0..<n { for p in 0..<(oh * ow) {
                nhwc[(b * oh * ow + p) * n + o] = nchw[(b * n + o) * oh * ow + p]
            } } }
            let result = Conformance.compare(trial, outputs: [nhwc], reference: reference)
            #expect(result.passed, "Convgemm \(trial.shape): \(result.detail)")
            checked += 1
        }
        #expect(checked >= 2)
    }
}
