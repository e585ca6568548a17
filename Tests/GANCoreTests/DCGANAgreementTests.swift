import CPUBackend
import ComputeBackend
import GANCore
import OpenCLBackend
import Testing

@Suite("dcgan on both backends")
struct DCGANAgreementTests {
    /// Two SGD steps of the full dcgan preset at batch 16 on the CPU backend and on OpenCL,
    /// from the same initial bits: every tensor of the state stays close. The GEMMs of
    /// its convolutions have k in the thousands (batch·H·W), so the OpenCL kernels' k
    /// chunking with fused epilogues runs here as it does in training.
    @Test func twoStepsAgree() throws {
        var config = RunConfig()
        config.model = .dcgan
        try config.applyPresets(except: ["model"])
        config.batchSize = 16
        config.evalEvery = 0
        // SGD, whose step is linear in the gradient: Adam's first steps turn a gradient
        // near zero (a bias before batch normalisation has exactly zero) into a full step
        // whose sign the rounding decides.
        config.optimizer = .sgd
        config.gLr = 0.05
        config.dLr = 0.05
        let data = syntheticDataset()
        func run<B: ComputeBackend>(_ backend: B) throws -> [(String, [Float])] {
            let trainer = try Trainer(backend: backend, config: config, data: data)
            for _ in 0..<2 { try trainer.step(metrics: false) }
            let file = try SafetensorsFile.decode(try Checkpoint.encode(trainer), path: "state")
            return file.tensors.map { ($0.name, $0.values) }
        }
        let cpu = try run(CPUBackend())
        let openCL = try run(try OpenCLBackend(deviceSpec: nil))
        for ((name, a), (_, b)) in zip(cpu, openCL) {
            let scale = max(a.map { abs($0) }.max() ?? 0, 1e-3)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 2e-3 * scale, "\(name): \(worst) apart at scale \(scale)")
        }
    }
}
