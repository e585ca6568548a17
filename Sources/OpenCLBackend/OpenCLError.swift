import COpenCL

/// A failure of the OpenCL host layer, worded for a one-line message to a user.
public enum OpenCLError: Error, Equatable, CustomStringConvertible {
    /// An OpenCL call returned a non-zero status.
    case call(String, Int32)
    /// The ICD loader found no platform: no OpenCL driver is installed.
    case noPlatform
    /// `--device` / `GANCL_DEVICE` matched none of the devices.
    case noMatchingDevice(requested: String, available: [String])
    /// clBuildProgram failed; the compiler's log says why.
    case buildFailed(program: String, device: String, options: String, log: String)
    /// A buffer larger than the device allows in one allocation.
    case allocationTooLarge(bytes: Int, limit: Int, device: String)
    /// The live buffers plus a new one would pass the device's global memory.
    case deviceMemoryExhausted(bytes: Int, held: Int, limit: Int, device: String)
    /// The driver refused an allocation.
    case allocationFailed(bytes: Int, device: String, status: Int32)
    /// Tunables that the kernels cannot be built with.
    case badTunables(String)
    /// A kernel source is missing from the binary or from `GANCL_KERNELS_DIR`.
    case missingKernelSource(String)

    public var description: String {
        switch self {
        case .call(let name, let code):
            return "OpenCL call \(name) failed with \(OpenCLError.name(of: code)) (\(code))"
        case .noPlatform:
            return "no OpenCL platform found: install an OpenCL driver (on Debian: apt-get install pocl-opencl-icd), or use --backend cpu"
        case .noMatchingDevice(let requested, let available):
            return "no OpenCL device matches '\(requested)'; available: "
                + (available.isEmpty ? "none" : available.joined(separator: "; "))
        case .buildFailed(let program, let device, let options, let log):
            let trimmed = log.trimmingWhitespace()
            return "building \(program).cl for \(device) with options '\(options)' failed:\n\(trimmed.isEmpty ? "(the compiler gave no log)" : trimmed)"
        case .allocationTooLarge(let bytes, let limit, let device):
            return "a buffer of \(bytes) bytes exceeds \(device)'s largest allocation of \(limit) bytes; try a smaller batch size or narrower layers"
        case .deviceMemoryExhausted(let bytes, let held, let limit, let device):
            return "a buffer of \(bytes) bytes would bring gan-cl's buffers on \(device) to \(held + bytes) bytes, past its \(limit) bytes of global memory; try a smaller batch size or narrower layers"
        case .allocationFailed(let bytes, let device, let status):
            return "\(device) could not allocate a buffer of \(bytes) bytes (\(OpenCLError.name(of: status))); try a smaller batch size or narrower layers"
        case .badTunables(let message):
            return message
        case .missingKernelSource(let name):
            return "kernel source \(name).cl not found"
        }
    }

    /// Throws `.call` unless `status` is CL_SUCCESS.
    static func check(_ status: cl_int, _ name: @autoclosure () -> String) throws {
        if status != CL_SUCCESS { throw OpenCLError.call(name(), status) }
    }

    /// The symbolic name of an OpenCL status code, e.g. "CL_OUT_OF_RESOURCES".
    public static func name(of code: Int32) -> String {
        statusNames[code] ?? "unknown OpenCL status"
    }

    static let statusNames: [Int32: String] = [
        0: "CL_SUCCESS", -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE",
        -3: "CL_COMPILER_NOT_AVAILABLE", -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE",
        -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
        -7: "CL_PROFILING_INFO_NOT_AVAILABLE", -8: "CL_MEM_COPY_OVERLAP", -9: "CL_IMAGE_FORMAT_MISMATCH",
        -10: "CL_IMAGE_FORMAT_NOT_SUPPORTED", -11: "CL_BUILD_PROGRAM_FAILURE", -12: "CL_MAP_FAILURE",
        -13: "CL_MISALIGNED_SUB_BUFFER_OFFSET", -14: "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
        -15: "CL_COMPILE_PROGRAM_FAILURE", -16: "CL_LINKER_NOT_AVAILABLE", -17: "CL_LINK_PROGRAM_FAILURE",
        -18: "CL_DEVICE_PARTITION_FAILED", -19: "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
        -30: "CL_INVALID_VALUE", -31: "CL_INVALID_DEVICE_TYPE", -32: "CL_INVALID_PLATFORM",
        -33: "CL_INVALID_DEVICE", -34: "CL_INVALID_CONTEXT", -35: "CL_INVALID_QUEUE_PROPERTIES",
        -36: "CL_INVALID_COMMAND_QUEUE", -37: "CL_INVALID_HOST_PTR", -38: "CL_INVALID_MEM_OBJECT",
        -39: "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR", -40: "CL_INVALID_IMAGE_SIZE", -41: "CL_INVALID_SAMPLER",
        -42: "CL_INVALID_BINARY", -43: "CL_INVALID_BUILD_OPTIONS", -44: "CL_INVALID_PROGRAM",
        -45: "CL_INVALID_PROGRAM_EXECUTABLE", -46: "CL_INVALID_KERNEL_NAME",
        -47: "CL_INVALID_KERNEL_DEFINITION", -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX",
        -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS",
        -53: "CL_INVALID_WORK_DIMENSION", -54: "CL_INVALID_WORK_GROUP_SIZE",
        -55: "CL_INVALID_WORK_ITEM_SIZE", -56: "CL_INVALID_GLOBAL_OFFSET",
        -57: "CL_INVALID_EVENT_WAIT_LIST", -58: "CL_INVALID_EVENT", -59: "CL_INVALID_OPERATION",
        -60: "CL_INVALID_GL_OBJECT", -61: "CL_INVALID_BUFFER_SIZE", -62: "CL_INVALID_MIP_LEVEL",
        -63: "CL_INVALID_GLOBAL_WORK_SIZE", -64: "CL_INVALID_PROPERTY",
        -65: "CL_INVALID_IMAGE_DESCRIPTOR", -66: "CL_INVALID_COMPILER_OPTIONS",
        -67: "CL_INVALID_LINKER_OPTIONS", -68: "CL_INVALID_DEVICE_PARTITION_COUNT",
        -1001: "CL_PLATFORM_NOT_FOUND_KHR",
    ]
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace || first == "\0" { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace || last == "\0" { scalars.removeLast() }
        return String(scalars)
    }
}
