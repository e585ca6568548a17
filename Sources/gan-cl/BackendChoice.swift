import ComputeBackend
import CPUBackend
import Foundation
import GANCore
import OpenCLBackend

/// Runs `body` on the backend a run asks for: the CPU for "cpu"; OpenCL for "opencl";
/// with no choice, OpenCL when a platform exists and the CPU (with a one-line note)
/// when none does.
func withBackend(_ kind: BackendKind?, device: String?, _ body: (any ComputeBackend) throws -> Void) throws {
    if kind == .cpu { return try body(CPUBackend()) }
    let chosen: OpenCLDevice
    do {
        chosen = try OpenCLDevice.chosen(by: device)
    } catch OpenCLError.noPlatform where kind == nil {
        note("no OpenCL platform found (install pocl-opencl-icd for one on the CPU); training on the CPU backend")
        return try body(CPUBackend())
    }
    try body(try OpenCLBackend(device: chosen))
}

/// A line for the user on standard error, apart from results on standard output.
func note(_ text: String) {
    FileHandle.standardError.write(Data("gan-cl: \(text)\n".utf8))
}
