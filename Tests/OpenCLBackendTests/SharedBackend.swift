import Foundation
import OpenCLBackend

/// One OpenCL backend for the whole test process, so each kernel program is built once.
/// The suites that use it are serialized: a backend serves one thread at a time.
enum SharedBackend {
    nonisolated(unsafe) private static var cached: OpenCLBackend?

    static func get() throws -> OpenCLBackend {
        if let cached { return cached }
        let backend = try OpenCLBackend(deviceSpec: OpenCLTestEnvironment.deviceSpec)
        cached = backend
        return backend
    }
}

enum OpenCLTestEnvironment {
    /// GANCL_DEVICE, as the command-line tool reads it.
    static var deviceSpec: String? {
        getenv(OpenCLDevice.environmentVariable).map { String(cString: $0) }
    }
}
