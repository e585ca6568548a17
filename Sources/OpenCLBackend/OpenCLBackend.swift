import COpenCL
import ComputeBackend
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A float32 buffer in an OpenCL device's global memory, released with its owner.
public final class OpenCLBuffer: BackendBuffer {
    public let count: Int
    let memory: cl_mem
    private let bytes: Int
    private let ledger: DeviceMemoryLedger

    init(count: Int, memory: cl_mem, bytes: Int, ledger: DeviceMemoryLedger) {
        self.count = count
        self.memory = memory
        self.bytes = bytes
        self.ledger = ledger
    }

    deinit {
        clReleaseMemObject(memory)
        ledger.release(bytes)
    }
}

/// The bytes a backend's live buffers hold on the device. Drivers allocate lazily, so
/// without this an oversized run would fail at some later launch with a bare
/// CL_MEM_OBJECT_ALLOCATION_FAILURE instead of at allocation with the figures.
final class DeviceMemoryLedger: Sendable {
    private let held = Mutex(0)

    /// Reserves `bytes`, or throws when that would pass `limit`.
    func reserve(_ bytes: Int, limit: Int, device: String) throws {
        try held.withLock { total in
            guard total + bytes <= limit else {
                throw OpenCLError.deviceMemoryExhausted(bytes: bytes, held: total, limit: limit, device: device)
            }
            total += bytes
        }
    }

    func release(_ bytes: Int) {
        held.withLock { $0 -= bytes }
    }
}

/// The OpenCL backend: one device, one context, one in-order queue, and the kernel
/// programs of Kernels/ built on first use with this device's tunables.
///
/// Operations may be called from several threads: setting a kernel's arguments and
/// queueing it happen under one lock, and the queue runs commands in the order queued.
public final class OpenCLBackend: ComputeBackend {
    public typealias Buffer = OpenCLBuffer

    public let device: OpenCLDevice
    public let tunables: OpenCLTunables
    public var name: String { device.name }

    let context: cl_context
    let queue: cl_command_queue
    let programs: OpenCLProgramCache
    /// Whether the queue records profiling events.
    public let profiling: Bool
    /// Launches not yet collected into `profile` (profiling only; under `launchLock`).
    private var pendingEvents: [(name: String, event: cl_event)] = []
    private var profile: [String: KernelTime] = [:]
    /// Held from a kernel's first argument to its enqueue (kernel objects are shared).
    private let launchLock = Mutex(())
    /// The CPU GEMM's transposed copies of B and of a deep A (see `gemm`), and the lock
    /// held across the launches that use them.
    var gemmScratch: OpenCLBuffer?
    var gemmScratchA: OpenCLBuffer?
    let gemmScratchLock = Mutex(())
    /// Batch normalisation's partial sums over blocks of rows (see `batchNormStatistics`),
    /// grown to the largest layer and kept, and the lock held across the launches that use it.
    var normScratch: OpenCLBuffer?
    /// The backward's per-group sums (2 · groups · columns), grown and kept like `normScratch`.
    var normSums: OpenCLBuffer?
    let normScratchLock = Mutex(())
    private let counters = Mutex(BackendStatistics())
    /// Host copies of recent writes, so that `write` returns without waiting for the queue.
    private let staging = StagingRing()
    private let stagingLock = Mutex(())
    private let ledger = DeviceMemoryLedger()

    public var statistics: BackendStatistics { counters.withLock { $0 } }

    private func count(_ update: (inout BackendStatistics) -> Void) {
        counters.withLock { update(&$0) }
    }

    /// A backend on the device `spec` selects (see `OpenCLDevice.select`), or on the
    /// default device when `spec` is nil.
    public convenience init(deviceSpec: String?, tunables: OpenCLTunables? = nil) throws {
        try self.init(device: try OpenCLDevice.select(deviceSpec), tunables: tunables)
    }

    /// With `profiling`, the queue records OpenCL profiling events: every kernel launch's
    /// device time is kept by kernel name (see `kernelProfile()`), and `timed(_:)` can time
    /// a block of work between two markers. Off for training (events cost a little).
    public init(device: OpenCLDevice, tunables: OpenCLTunables? = nil, profiling: Bool = false) throws {
        self.device = device
        let tunables = try tunables ?? OpenCLTunables.defaults(for: device)
        self.tunables = tunables
        var status: cl_int = CL_SUCCESS
        var deviceID: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &deviceID, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError.call("clCreateContext", status)
        }
        let properties = cl_command_queue_properties(profiling ? CL_QUEUE_PROFILING_ENABLE : 0)
        guard let queue = clCreateCommandQueue(context, device.id, properties, &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw OpenCLError.call("clCreateCommandQueue", status)
        }
        self.context = context
        self.queue = queue
        self.profiling = profiling
        programs = OpenCLProgramCache(
            context: context, device: device,
            optionsByFamily: [
                // PoCL compiles with clang for the CPU: gemm.cl may use its x86 prefetch.
                "gemm": tunables.gemm.buildOptions + (device.isPoCL ? " -D CLANG_PREFETCH" : "")
                    // The packed kernel's local blocks exceed a GPU's local memory: built for CPU kernels only.
                    + (tunables.cpuGEMM && tunables.gemm.packedMinimumWork != Int.max ? " " + tunables.gemm.packed.buildOptions : ""),
                "reduce": "-D REDUCE_WG=\(tunables.reduceWorkGroup)",
                "elementwise": "",
                "loss": "",
                "optim": "",
                "conv": "",
                // No fast-math or mad here: Philox normals must round exactly as the CPU's.
                "random": "",
            ])
    }

    deinit {
        clFinish(queue)
        staging.release()
        for pending in pendingEvents { clReleaseEvent(pending.event) }
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Builds every kernel program now rather than on first use.
    public func buildAllPrograms() throws {
        try launchLock.withLock { _ in try programs.buildAll() }
    }

    // MARK: - Memory

    public func makeBuffer(count: Int) throws -> OpenCLBuffer {
        try ArgumentChecks.size(count, "buffer size")
        guard count <= Int(Int32.max) else {
            throw BackendError.invalidArgument("a buffer holds at most \(Int32.max) elements, asked for \(count)")
        }
        // A zero-sized cl_mem is invalid; an empty buffer still owns one element.
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard bytes <= device.maxAllocationBytes else {
            throw OpenCLError.allocationTooLarge(bytes: bytes, limit: device.maxAllocationBytes, device: device.name)
        }
        try ledger.reserve(bytes, limit: device.globalMemoryBytes, device: device.name)
        var status: cl_int = CL_SUCCESS
        guard let memory = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status),
              status == CL_SUCCESS
        else {
            ledger.release(bytes)
            if status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES || status == CL_OUT_OF_HOST_MEMORY {
                throw OpenCLError.allocationFailed(bytes: bytes, device: device.name, status: status)
            }
            throw OpenCLError.call("clCreateBuffer(\(bytes) bytes)", status)
        }
        self.count { $0.buffersAllocated += 1 }
        return OpenCLBuffer(count: count, memory: memory, bytes: bytes, ledger: ledger)
    }

    /// Writes up to `StagingRing.largest` bytes are copied to a host staging buffer and
    /// queued without waiting: a training step's batch upload does not drain the queue.
    /// Larger ones wait for the copy to finish.
    public func write(_ values: [Float], to buffer: OpenCLBuffer, offset: Int) throws {
        try ArgumentChecks.range(buffer, offset: offset, count: values.count, "the buffer")
        guard !values.isEmpty else { return }
        count { $0.writes += 1 }
        let stride = MemoryLayout<Float>.stride
        if values.count * stride <= StagingRing.largest {
            try stagingLock.withLock { _ in
                try values.withUnsafeBytes { bytes in
                    let (slot, memory) = try staging.claim(bytes.count)
                    memory.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                    var event: cl_event?
                    try OpenCLError.check(
                        clEnqueueWriteBuffer(
                            queue, buffer.memory, cl_bool(CL_FALSE), offset * stride, bytes.count, memory, 0, nil, &event),
                        "clEnqueueWriteBuffer")
                    staging.queued(slot, event)
                }
            }
            return
        }
        try values.withUnsafeBytes { bytes in
            try OpenCLError.check(
                clEnqueueWriteBuffer(
                    queue, buffer.memory, cl_bool(CL_TRUE), offset * stride, bytes.count, bytes.baseAddress,
                    0, nil, nil),
                "clEnqueueWriteBuffer")
        }
    }

    public func read(_ buffer: OpenCLBuffer, offset: Int, count: Int) throws -> [Float] {
        try ArgumentChecks.range(buffer, offset: offset, count: count, "the buffer")
        var values = [Float](repeating: 0, count: count)
        guard count > 0 else { return values }
        self.count { $0.reads += 1 }
        let stride = MemoryLayout<Float>.stride
        try values.withUnsafeMutableBytes { bytes in
            try OpenCLError.check(
                clEnqueueReadBuffer(
                    queue, buffer.memory, cl_bool(CL_TRUE), offset * stride, bytes.count, bytes.baseAddress,
                    0, nil, nil),
                "clEnqueueReadBuffer")
        }
        return values
    }

    public func copy(_ source: OpenCLBuffer, to destination: OpenCLBuffer, count: Int) throws {
        try ArgumentChecks.buffer(source, holds: count, "source")
        try ArgumentChecks.buffer(destination, holds: count, "destination")
        guard count > 0, source !== destination else { return }
        self.count { $0.operations += 1 }
        try OpenCLError.check(
            clEnqueueCopyBuffer(
                queue, source.memory, destination.memory, 0, 0, count * MemoryLayout<Float>.stride, 0, nil, nil),
            "clEnqueueCopyBuffer")
    }

    public func copy(
        _ source: OpenCLBuffer, offset sourceOffset: Int, to destination: OpenCLBuffer, offset destinationOffset: Int,
        count: Int
    ) throws {
        try ArgumentChecks.copyRange(source, offset: sourceOffset, to: destination, offset: destinationOffset, count: count)
        guard count > 0 else { return }
        self.count { $0.operations += 1 }
        let stride = MemoryLayout<Float>.stride
        try OpenCLError.check(
            clEnqueueCopyBuffer(
                queue, source.memory, destination.memory, sourceOffset * stride, destinationOffset * stride,
                count * stride, 0, nil, nil),
            "clEnqueueCopyBuffer")
    }

    public func fill(_ buffer: OpenCLBuffer, with value: Float, count: Int) throws {
        try ArgumentChecks.buffer(buffer, holds: count, "the buffer")
        guard count > 0 else { return }
        self.count { $0.operations += 1 }
        var pattern = value
        try OpenCLError.check(
            clEnqueueFillBuffer(
                queue, buffer.memory, &pattern, MemoryLayout<Float>.stride, 0, count * MemoryLayout<Float>.stride,
                0, nil, nil),
            "clEnqueueFillBuffer")
    }

    public func finish() throws {
        try OpenCLError.check(clFinish(queue), "clFinish")
    }

    // MARK: - Launching kernels

    /// A value for one kernel argument.
    enum KernelArgument {
        case buffer(OpenCLBuffer)
        case int(Int)
        case uint(UInt32)
        case float(Float)
    }

    /// Queues kernel `name` of `family` over `global` work-items (rounded up to a multiple
    /// of `local` when given). Nothing is queued when any extent is zero.
    /// `label`, when given, names the launch in the kernel profile instead of `name`.
    func launch(
        _ family: String, _ name: String, global: [Int], local: [Int]? = nil, label: String? = nil,
        _ arguments: [KernelArgument]
    ) throws {
        guard !global.contains(0) else { return }
        try launchLock.withLock { _ in
            try enqueue(family, name, global: global, local: local, label: label ?? name, arguments)
        }
    }

    private func enqueue(
        _ family: String, _ name: String, global: [Int], local: [Int]?, label: String, _ arguments: [KernelArgument]
    ) throws {
        let kernel = try programs.kernel(name, in: family)
        for (index, argument) in arguments.enumerated() {
            let status: cl_int
            switch argument {
            case .buffer(let buffer):
                var memory: cl_mem? = buffer.memory
                status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.stride, &memory)
            case .int(let value):
                guard let narrow = Int32(exactly: value) else {
                    throw BackendError.invalidArgument("\(name): argument \(index) = \(value) exceeds 32 bits")
                }
                var v = narrow
                status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<Int32>.stride, &v)
            case .uint(let value):
                var v = value
                status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<UInt32>.stride, &v)
            case .float(let value):
                var v = value
                status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<Float>.stride, &v)
            }
            try OpenCLError.check(status, "clSetKernelArg(\(name), \(index))")
        }
        var globalSize = global
        if let local {
            for d in globalSize.indices { globalSize[d] = (globalSize[d] + local[d] - 1) / local[d] * local[d] }
        }
        var event: cl_event?
        let status: cl_int = withEventPointer(&event) { eventPointer in
            if var localSize = local {
                clEnqueueNDRangeKernel(queue, kernel, cl_uint(globalSize.count), nil, &globalSize, &localSize, 0, nil, eventPointer)
            } else {
                clEnqueueNDRangeKernel(queue, kernel, cl_uint(globalSize.count), nil, &globalSize, nil, 0, nil, eventPointer)
            }
        }
        try OpenCLError.check(status, "clEnqueueNDRangeKernel(\(name))")
        if let event { pendingEvents.append((label, event)) }
        count { $0.operations += 1 }
    }
}

// MARK: - Profiling

/// One kernel's launches and their summed device time.
public struct KernelTime: Sendable, Equatable {
    public var launches = 0
    public var seconds = 0.0
}

extension OpenCLBackend {
    /// Passes an event pointer to `body` when profiling, nil otherwise.
    fileprivate func withEventPointer(
        _ event: inout cl_event?, _ body: (UnsafeMutablePointer<cl_event?>?) -> cl_int
    ) -> cl_int {
        profiling ? body(&event) : body(nil)
    }

    /// Device seconds between an event's start and end.
    static func duration(of event: cl_event) throws -> Double {
        try time(event, CL_PROFILING_COMMAND_END) - time(event, CL_PROFILING_COMMAND_START)
    }

    static func time(_ event: cl_event, _ what: Int32) throws -> Double {
        var nanoseconds: cl_ulong = 0
        try OpenCLError.check(
            clGetEventProfilingInfo(event, cl_profiling_info(what), MemoryLayout<cl_ulong>.stride, &nanoseconds, nil),
            "clGetEventProfilingInfo")
        return Double(nanoseconds) * 1e-9
    }

    /// Every kernel's launches and device time since the last `resetKernelProfile()`,
    /// after waiting for the queue. Empty unless the backend was made with `profiling`.
    public func kernelProfile() throws -> [String: KernelTime] {
        try finish()
        return try launchLock.withLock { _ in
            defer {
                for pending in pendingEvents { clReleaseEvent(pending.event) }
                pendingEvents.removeAll(keepingCapacity: true)
            }
            for pending in pendingEvents {
                profile[pending.name, default: KernelTime()].launches += 1
                profile[pending.name, default: KernelTime()].seconds += try Self.duration(of: pending.event)
            }
            return profile
        }
    }

    /// Forgets the launches recorded so far.
    public func resetKernelProfile() throws {
        try finish()
        launchLock.withLock { _ in
            for pending in pendingEvents { clReleaseEvent(pending.event) }
            pendingEvents.removeAll(keepingCapacity: true)
            profile.removeAll()
        }
    }

    /// The device seconds from the start of the first command `work` queues to the end of
    /// its last, measured by profiling events on markers queued before and after it (so
    /// that work queued by a library, such as CLBlast, on this queue is timed the same way).
    /// Needs `profiling`.
    public func timed(_ work: () throws -> Void) throws -> Double {
        guard profiling else { throw OpenCLError.call("timed: the backend was made without profiling", CL_INVALID_QUEUE_PROPERTIES) }
        try finish()
        var before: cl_event?, after: cl_event?
        try OpenCLError.check(clEnqueueMarkerWithWaitList(queue, 0, nil, &before), "clEnqueueMarkerWithWaitList")
        defer { if let before { clReleaseEvent(before) } }
        try work()
        try OpenCLError.check(clEnqueueMarkerWithWaitList(queue, 0, nil, &after), "clEnqueueMarkerWithWaitList")
        defer { if let after { clReleaseEvent(after) } }
        try finish()
        guard let before, let after else { throw OpenCLError.call("clEnqueueMarkerWithWaitList", CL_INVALID_EVENT) }
        return try Self.time(after, CL_PROFILING_COMMAND_END) - Self.time(before, CL_PROFILING_COMMAND_START)
    }
}

// MARK: - Staging of writes

/// A few host buffers that hold the data of queued, not yet finished writes. A slot is
/// reused only after its last write has finished (waiting for it if need be: that write
/// was queued `slots.count` writes earlier, so the wait is rare and short).
final class StagingRing {
    /// Writes larger than this wait for the device instead.
    static let largest = 16 << 20
    private var slots: [(memory: UnsafeMutableRawPointer?, bytes: Int, event: cl_event?)] =
        Array(repeating: (nil, 0, nil), count: 3)
    private var next = 0

    /// A slot of at least `bytes`, free to overwrite.
    func claim(_ bytes: Int) throws -> (Int, UnsafeMutableRawPointer) {
        let slot = next
        next = (next + 1) % slots.count
        if let event = slots[slot].event {
            var waiting: cl_event? = event
            try OpenCLError.check(clWaitForEvents(1, &waiting), "clWaitForEvents")
            clReleaseEvent(event)
            slots[slot].event = nil
        }
        if slots[slot].bytes < bytes {
            free(slots[slot].memory)
            guard let memory = malloc(bytes) else { throw OpenCLError.call("malloc(\(bytes))", CL_OUT_OF_HOST_MEMORY) }
            slots[slot] = (memory, bytes, nil)
        }
        return (slot, slots[slot].memory!)
    }

    func queued(_ slot: Int, _ event: cl_event?) {
        slots[slot].event = event
    }

    /// Frees every slot; the queue must have finished.
    func release() {
        for slot in slots.indices {
            if let event = slots[slot].event { clReleaseEvent(event) }
            free(slots[slot].memory)
            slots[slot] = (nil, 0, nil)
        }
    }
}
