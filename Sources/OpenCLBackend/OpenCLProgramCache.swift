import COpenCL

/// The kernel programs of one context, each built on first use and then kept for the
/// life of the backend, so a process builds every program once. PoCL and most drivers
/// also keep compiled binaries on disk (PoCL: ~/.cache/pocl) across processes.
final class OpenCLProgramCache {
    private let context: cl_context
    private let device: OpenCLDevice
    private let optionsByFamily: [String: String]
    private var programs: [String: cl_program] = [:]
    private var kernels: [String: cl_kernel] = [:]

    /// `optionsByFamily` gives the build options of each family (Kernels/<family>.cl).
    init(context: cl_context, device: OpenCLDevice, optionsByFamily: [String: String]) {
        self.context = context
        self.device = device
        self.optionsByFamily = optionsByFamily
    }

    deinit {
        for kernel in kernels.values { clReleaseKernel(kernel) }
        for program in programs.values { clReleaseProgram(program) }
    }

    /// The kernel `name` of family `family`, building the family's program if needed.
    func kernel(_ name: String, in family: String) throws -> cl_kernel {
        let key = "\(family).\(name)"
        if let kernel = kernels[key] { return kernel }
        let program = try self.program(family)
        var status: cl_int = CL_SUCCESS
        guard let kernel = clCreateKernel(program, name, &status), status == CL_SUCCESS else {
            throw OpenCLError.call("clCreateKernel(\(name))", status)
        }
        kernels[key] = kernel
        return kernel
    }

    /// Builds every family now, so that a build error surfaces before any work starts.
    func buildAll() throws {
        for family in optionsByFamily.keys.sorted() { _ = try program(family) }
    }

    func options(of family: String) -> String { optionsByFamily[family] ?? "" }

    private func program(_ family: String) throws -> cl_program {
        if let program = programs[family] { return program }
        let source = try KernelSource.text(of: family)
        var status: cl_int = CL_SUCCESS
        let created: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = source.utf8.count
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program = created, status == CL_SUCCESS else {
            throw OpenCLError.call("clCreateProgramWithSource(\(family).cl)", status)
        }
        let options = options(of: family)
        var deviceID: cl_device_id? = device.id
        let buildStatus = clBuildProgram(program, 1, &deviceID, options, nil, nil)
        if buildStatus != CL_SUCCESS {
            let log = (try? buildLog(program)) ?? ""
            clReleaseProgram(program)
            if buildStatus == CL_BUILD_PROGRAM_FAILURE || buildStatus == CL_INVALID_BUILD_OPTIONS {
                throw OpenCLError.buildFailed(program: family, device: device.name, options: options, log: log)
            }
            throw OpenCLError.call("clBuildProgram(\(family).cl)", buildStatus)
        }
        programs[family] = program
        return program
    }

    private func buildLog(_ program: cl_program) throws -> String {
        try OpenCLDevice.infoString("clGetProgramBuildInfo") {
            clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
        }
    }
}
