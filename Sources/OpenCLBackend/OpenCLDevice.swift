#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenCL
import Synchronization

/// One OpenCL device and the facts about it that users and tunables need.
public struct OpenCLDevice: CustomStringConvertible {
    /// Position among all devices of all platforms, in enumeration order.
    public let index: Int
    public let platformIndex: Int
    public let platformName: String
    public let name: String
    public let vendor: String
    public let driverVersion: String
    public let openCLCVersion: String
    public let isGPU: Bool
    public let typeName: String
    public let computeUnits: Int
    public let globalMemoryBytes: Int
    public let maxAllocationBytes: Int
    public let maxWorkGroupSize: Int
    public let localMemoryBytes: Int
    /// Floats in the device's native vector (CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT): on a
    /// CPU, 16 with AVX-512 and 8 with AVX2, whatever name PoCL gives the core.
    public let nativeFloatVectorWidth: Int
    let platformID: cl_platform_id
    let id: cl_device_id

    public var description: String { "\(index): \(name) (\(platformName))" }

    /// PoCL (Portable Computing Language), whose kernel compiler is clang for the host CPU.
    public var isPoCL: Bool {
        platformName.lowercased().contains("portable computing language") || vendor.lowercased().contains("pocl")
    }

    // MARK: - Enumeration

    /// Serialises enumeration: the ICD loader reads its vendor files on the first
    /// clGetPlatformIDs, and two threads' first calls at once (tests that start together)
    /// were seen to report no platform to one of them.
    private static let enumeration = Mutex(())

    /// Every device of every platform. Throws `.noPlatform` when the ICD loader finds none.
    public static func all() throws -> [OpenCLDevice] {
        try enumeration.withLock { _ in try enumerate() }
    }

    private static func enumerate() throws -> [OpenCLDevice] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        if status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (status == CL_SUCCESS && platformCount == 0) {
            throw OpenCLError.noPlatform
        }
        try OpenCLError.check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try OpenCLError.check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        var devices: [OpenCLDevice] = []
        for (platformIndex, platform) in platforms.enumerated() {
            guard let platform else { continue }
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            var deviceCount: cl_uint = 0
            let countStatus = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if countStatus == CL_DEVICE_NOT_FOUND { continue }
            try OpenCLError.check(countStatus, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try OpenCLError.check(
                clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &ids, nil),
                "clGetDeviceIDs")
            for id in ids.compactMap({ $0 }) {
                devices.append(try OpenCLDevice(
                    index: devices.count, platformIndex: platformIndex, platformName: platformName,
                    platformID: platform, id: id))
            }
        }
        return devices
    }

    /// The variable that names a device when no `--device` flag does.
    public static let environmentVariable = "GANCL_DEVICE"

    /// The device a run uses: the one `flag` names, else the one `GANCL_DEVICE` names,
    /// else the default (see `select`).
    public static func chosen(by flag: String?) throws -> OpenCLDevice {
        try select(flag ?? getenv(environmentVariable).map { String(cString: $0) })
    }

    /// The device a run uses: the one `spec` names, else the first GPU, else the first
    /// device. `spec` is a device index ("1"), a platform:device pair ("0:1") or a
    /// case-insensitive part of the device's or platform's name ("pthread", "nvidia").
    public static func select(_ spec: String?) throws -> OpenCLDevice {
        let devices = try all()
        guard let first = devices.first else { throw OpenCLError.noPlatform }
        guard let spec = spec?.trimmingWhitespace(), !spec.isEmpty else {
            return devices.first(where: \.isGPU) ?? first
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let p = Int(parts[0]), let d = Int(parts[1]) {
            let onPlatform = devices.filter { $0.platformIndex == p }
            if d >= 0, d < onPlatform.count { return onPlatform[d] }
        } else if let index = Int(spec) {
            if index >= 0, index < devices.count { return devices[index] }
        } else if let match = devices.first(where: {
            $0.name.lowercased().contains(spec.lowercased())
                || $0.platformName.lowercased().contains(spec.lowercased())
        }) {
            return match
        }
        throw OpenCLError.noMatchingDevice(requested: spec, available: devices.map(\.description))
    }

    // MARK: - Queries

    private init(
        index: Int, platformIndex: Int, platformName: String, platformID: cl_platform_id, id: cl_device_id
    ) throws {
        self.index = index
        self.platformIndex = platformIndex
        self.platformName = platformName
        self.platformID = platformID
        self.id = id
        name = try Self.deviceString(id, cl_device_info(CL_DEVICE_NAME))
        vendor = try Self.deviceString(id, cl_device_info(CL_DEVICE_VENDOR))
        driverVersion = try Self.deviceString(id, cl_device_info(CL_DRIVER_VERSION))
        openCLCVersion = try Self.deviceString(id, cl_device_info(CL_DEVICE_OPENCL_C_VERSION))
        let type: cl_device_type = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_TYPE))
        isGPU = type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0
        typeName =
            if isGPU { "GPU" }
            else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { "CPU" }
            else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { "accelerator" }
            else { "other" }
        let units: cl_uint = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS))
        computeUnits = Int(units)
        let memory: cl_ulong = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE))
        globalMemoryBytes = Int(memory)
        let allocation: cl_ulong = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE))
        maxAllocationBytes = Int(allocation)
        let workGroup: Int = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE))
        maxWorkGroupSize = workGroup
        let local: cl_ulong = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE))
        localMemoryBytes = Int(local)
        let vector: cl_uint = try Self.deviceScalar(id, cl_device_info(CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT))
        nativeFloatVectorWidth = Int(vector)
    }

    static func platformString(_ platform: cl_platform_id, _ parameter: cl_platform_info) throws -> String {
        try infoString("clGetPlatformInfo") { clGetPlatformInfo(platform, parameter, $0, $1, $2) }
    }

    static func deviceString(_ device: cl_device_id, _ parameter: cl_device_info) throws -> String {
        try infoString("clGetDeviceInfo") { clGetDeviceInfo(device, parameter, $0, $1, $2) }
    }

    /// A string-valued clGet*Info: ask for the size, then for the bytes.
    static func infoString(
        _ call: String, _ query: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int
    ) throws -> String {
        var size = 0
        try OpenCLError.check(query(0, nil, &size), call)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        try OpenCLError.check(bytes.withUnsafeMutableBytes { query(size, $0.baseAddress, nil) }, call)
        return String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self).trimmingWhitespace()
    }

    static func deviceScalar<T: FixedWidthInteger>(_ device: cl_device_id, _ parameter: cl_device_info) throws -> T {
        var value: T = 0
        try OpenCLError.check(
            clGetDeviceInfo(device, parameter, MemoryLayout<T>.size, &value, nil), "clGetDeviceInfo")
        return value
    }
}
