import ArgumentParser
import GANCore

/// `--device`, declared once for every command that runs on an OpenCL device.
struct DeviceOptions: ParsableArguments {
    @Option(help: "OpenCL device: index, platform:device, or part of a name (or GANCL_DEVICE).")
    var device: String?
}

/// `--backend` and `--device`, declared once for every command that runs on either backend.
struct BackendOptions: ParsableArguments {
    @Option(help: "opencl or cpu (default: OpenCL when a device exists, else the CPU).")
    var backend: BackendKind?

    @OptionGroup var target: DeviceOptions
    var device: String? { target.device }
}

extension BackendKind: ExpressibleByArgument {}
extension HiddenActivation: ExpressibleByArgument {}
extension DivergencePolicy: ExpressibleByArgument {}
extension GeneratorNoise: ExpressibleByArgument {}
extension CollapsePolicy: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ModelPreset: ExpressibleByArgument {}
